/* core/v1 Events, built (client-go's tools/record, the part that makes the
 * object). Naming and aggregation are the caller's: the schedule's Events
 * aggregate repeats of one reason (controller.c), a request's Events have a
 * name derived from the request so a retry posts nothing new
 * (control_io.c). The one recorder that sends them is writes_event
 * (controller/writes.h).
 *
 * Ownership: every string of struct kube_event is borrowed for the call;
 * the bodies returned are the caller's to free.
 */
#ifndef TAKT_KUBE_EVENT_H
#define TAKT_KUBE_EVENT_H

#include <stdbool.h>
#include <stdint.h>

struct kube_event {
	/* The involved object. uid may be NULL. */
	const char *api_version, *kind, *ns, *name, *uid;
	const char *event_name; /* metadata.name */
	bool warning;		/* type Warning, else Normal */
	const char *reason, *message;
	int64_t count;	 /* < 1 counts as 1 */
	const char *now; /* RFC 3339: first and last timestamp */
	/* source.component and reportingComponent; reportingInstance. */
	const char *component, *instance;
};

/* The POST body of a new Event. */
char *kube_event_body(const struct kube_event *e);
/* The merge patch that folds a repeat into an existing Event: count,
 * lastTimestamp, the latest message. */
char *kube_event_update_body(int64_t count, const char *message, const char *now);

#endif
