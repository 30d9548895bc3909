/* The exit codes of failed runs: when an attempt's Job has failed, the
 * first failed container's exit code and reason are read from its pods
 * with one LIST by the Job's controller-uid label (the pod watch keeps no
 * container statuses, project.h), sent through the one write path
 * (writes.h, a routine request: it waits behind Job POSTs and for a
 * rate-limit token like the other bookkeeping). The answer is kept per
 * Job uid until the Job leaves the store; the planner reads it through
 * struct plan_run (exit_pending, has_exit_code, exit_code, exit_reason).
 *
 * The selector is batch.kubernetes.io/controller-uid (Kubernetes 1.27+);
 * when that finds no pod, the older controller-uid label is asked once.
 * The container chosen: in the newest pod that has one, the first init
 * container, else the first container, whose last termination (state, else
 * lastState) has a non-zero exit code. No pod or no such container: known,
 * without a code (reason "NoPod" / "NoFailedContainer"). A read that fails
 * is sent again on the next look, at most EXITS_TRIES times; then the code
 * is known as unknown (reason "ExitCodeUnreadable").
 *
 * Ownership: exits_new borrows the write path (it must outlive the module);
 * `changed` is called (loop thread) when an answer arrived, with the
 * schedule key given to exits_lookup, so the caller re-plans it. The
 * struct exit_info returned by exits_lookup is borrowed until
 * exits_forget of that uid or exits_free. */
#ifndef TAKT_CONTROLLER_EXITS_H
#define TAKT_CONTROLLER_EXITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct exits;
struct writes;

#define EXITS_TRIES 5

struct exit_info {
	bool pending; /* the read is under way: not known yet */
	bool has_code;
	int32_t code;
	char reason[64]; /* "" when none */
};

/* failed: the read failed and is to be sent again (the caller looks
 * again after a backoff); else the exit is known. */
typedef void exits_changed_fn(void *ud, const char *sched_key, bool failed);

struct exits *exits_new(struct writes *w, exits_changed_fn *changed, void *ud);
void exits_free(struct exits *e);

/* The exit of the failed Job `name` (uid `uid`) in `ns`; starts the read
 * when there is none yet (the answer calls changed(ud, sched_key)). Never
 * NULL. */
const struct exit_info *exits_lookup(struct exits *e, const char *ns, const char *name,
				     const char *uid, const char *sched_key);
/* The Job is gone: its entry goes (an answer still on its way is
 * dropped). */
void exits_forget(struct exits *e, const char *uid);
/* Reads sent and entries held, for tests and logs. */
void exits_counts(const struct exits *e, uint64_t *reads, size_t *held);

/* Parses a PodList answer into *out (pure; exposed for the unit tests).
 * Returns the number of pods in it, or -1 when it is not a list. */
int exits_parse_pods(const char *body, struct exit_info *out);

#endif
