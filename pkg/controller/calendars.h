/* BusinessCalendars as the controller sees them: watched, loaded with
 * pkg/calendar (the spec plus the CSV table of the ConfigMap it names), their
 * status written, and handed to the planner by name.
 *
 * A reflector follows the (cluster-scoped) BusinessCalendars; one more
 * follows the ConfigMaps of each namespace a calendar's source points into,
 * started when a calendar first names that namespace. Whenever what a
 * calendar is built from changes (its resourceVersion, or its ConfigMap's),
 * it is rebuilt, its status is written (observedGeneration, validFrom,
 * validUntil, businessDays, sourceResourceVersion, the Ready condition) and
 * `changed` is called with its name, so the owner re-plans the schedules
 * that use it. A calendar deleted is reported the same way.
 *
 * Ownership: calendars_new borrows the loop and the HTTP client (which must
 * outlive it). calendars_lookup returns pointers borrowed from the cache:
 * valid until the next loop turn (a rebuild frees the old calendar).
 * calendars_free cancels every watch and request and calls nothing.
 * Loop thread only.
 */
#ifndef TAKT_CONTROLLER_CALENDARS_H
#define TAKT_CONTROLLER_CALENDARS_H

#include <stdbool.h>

#include "controller/planner.h"

struct loop;
struct kube_http;
struct calendars;

/* A calendar was rebuilt or deleted; also called after a relist (name NULL:
 * any calendar may have changed). */
typedef void calendars_changed_fn(void *ud, const char *name);

struct calendars *calendars_new(struct loop *l, struct kube_http *h, calendars_changed_fn *changed,
				void *ud);
void calendars_free(struct calendars *cs);
void calendars_start(struct calendars *cs);
/* The calendars and the ConfigMaps they name have been listed. */
bool calendars_synced(const struct calendars *cs);

struct calendar_view {
	enum plan_calendar_state state;
	const struct calendar *calendar; /* OK only */
	const struct tz *zone;		 /* OK only: the calendar's zone */
	const char *error;		 /* INVALID only */
};
void calendars_lookup(struct calendars *cs, const char *name, struct calendar_view *out);

#endif
