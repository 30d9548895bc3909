/* External control by annotation: the I/O (the rules are control.h; the
 * choices are documented in docs/external-control.md).
 *
 * The reconciler calls two hooks around the planner for one BatchSchedule:
 *
 *   control_before_plan: handles a pending takt.io/kill on the schedule and
 *     on the schedule's pods (those labelled takt.io/schedule=<name> whose
 *     owner chain leads to it). For each run to kill:
 *       1. every pod of its Job is deleted with the chosen grace period
 *          (precondition: the pod's uid);
 *       2. once those deletes are answered, the Job is annotated
 *          takt.io/killed=<id> and deleted with Foreground propagation.
 *     Pods first, because a Job with a deletionTimestamp never creates pods
 *     (the Job controller skips manageJob) and the garbage collector leaves
 *     pods that are already terminating alone: so the pods get exactly the
 *     requested grace, and the Job object stays (active, blocking Forbid)
 *     until the last of them is gone. A Job with a pod DELETE refused is
 *     left alone. When every answer is in, each request is recorded as the
 *     apiserver answered it, in `status` (lastKill with the runs and pods
 *     actually deleted, killed, handledRequests) — the status the planner
 *     starts from, which carries it into the status written — with a
 *     Normal Event `Killed` on the schedule (and one on each Job whose
 *     DELETE succeeded), or, when a write was refused for good (403, 400,
 *     422...), lastKill.failed with the refusal and a Warning `KillFailed`:
 *     handled, not retried, and the schedule is planned. A write worth a
 *     retry (no answer, 5xx, 429...) records nothing: the reconcile fails
 *     and retries. A request with no run to kill is recorded at once. It
 *     also says whether a takt.io/run-now request is pending (pass it as
 *     plan_input.run_now).
 *   control_after_plan: records the run-now answer (lastRunNow) and posts
 *     the refusal's Event; control_run_now_posted posts the "started"
 *     Event once the plan's Job POSTs are answered.
 * A run-now Job carries its request id (control_run_now_id, given to
 * spec_build_job), so a restart between the create and the status write
 * finds the run.
 *
 * Pods that are not part of a BatchSchedule run: a watch of all pods (in
 * the controller's namespace, or all), started with control_start, looks
 * only at pods annotated takt.io/kill without the takt.io/schedule label
 * (the labelled ones are checked by their schedule's reconcile, through the
 * owner chain) and gives each such request a Warning Event on the pod and
 * nothing else. It is a reflector with an event sink and no store
 * (kube/reflector.h): each pod is looked at as it goes by, pruned to what
 * is read (project_pod), and nothing of it is kept but the requests already
 * answered. The Event's name is derived from the pod's uid and the request
 * id, so it is posted once, also across restarts and relists
 * (AlreadyExists is the answer).
 *
 * Every write (the kills' DELETEs and PATCHes, the Events) goes through
 * the controller's write path (writes.h): kills as WRITE_KILL, Events
 * through its recorder.
 *
 * Ownership: control_new borrows the loop, the write path and the three
 * stores (schedules, takt-labelled Jobs, takt-labelled Pods), which must
 * outlive it, and copies the transport (the pod watch's) and the index
 * names. control_free stops the watch, frees the kills in progress (their
 * writes finish calling nothing) and calls nothing. Loop thread only.
 */
#ifndef TAKT_CONTROLLER_CONTROL_IO_H
#define TAKT_CONTROLLER_CONTROL_IO_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "controller/planner.h"
#include "controller/spec.h"

struct loop;
struct kube_transport;
struct store;
struct writes;
struct control;

struct control_opts {
	const char *namespace; /* NULL or "": every namespace */
	/* Index names the controller put on its stores: jobs and pods by the
	 * takt.io/schedule label ("ns/name"), pods by their controller Job. */
	const char *idx_schedule;
	const char *idx_job;
};

int control_new(struct loop *l, const struct kube_transport *tr, struct writes *w,
		struct store *schedules, struct store *jobs, struct store *pods,
		const struct control_opts *o, struct control **out);
/* Starts the watch for kill requests on pods outside takt's runs (pods
 * without the takt.io/schedule label: labelled pods are the reconcile's). */
void control_start(struct control *c);
void control_free(struct control *c);

/* Completion of the asynchronous part of control_before_plan: err 0 (the
 * kills are recorded in `status`, also a kill refused for good), or
 * negative when a delete or patch got no answer or one worth a retry (the
 * status must then not be written: the request is handled again,
 * idempotently, on the retry). */
typedef void control_done_fn(void *ud, int err);

/* `schedule` is the object being reconciled, `spec` its parse (identity and
 * annotations are used even when the spec is invalid), `status` the status
 * the planner will start from: the kill records (lastKill, killed,
 * handledRequests) are written into it — those that need writes when they
 * are answered, just before done(ud, 0), so it must stay valid until done
 * runs — and the planner carries them into its plan.status. The reconciler must compare the status
 * it writes with the one it read, not with this one. Returns the number of asynchronous operations
 * started (0 or 1); each ends with one call of done(ud, err), never before this returns. Returns
 * -EIO when a kill was decided but none of its requests could be queued (nothing pending: do not
 * write the status). *run_now is set when a takt.io/run-now request is
 * pending. */
int control_before_plan(struct control *c, const cJSON *schedule, const struct spec *spec,
			struct spec_status *status, int64_t now_ms, control_done_fn *done, void *ud,
			bool *run_now);

/* After plan_compute for an input with run_now set: writes lastRunNow and
 * its handled entry into plan->status, and posts the Event of a refusal. */
void control_after_plan(struct control *c, const cJSON *schedule, const struct spec *spec,
			struct plan *plan, int64_t now_ms);
/* The plan's Job POSTs are answered, none failed (201, or 409
 * AlreadyExists): posts the RunNow Event of a run-now it started (not
 * earlier: a create the apiserver refuses makes the request refused, and a
 * "started" Event before it would tell what never happened). */
void control_run_now_posted(struct control *c, const struct spec *spec, const struct plan *plan);

struct control_stats {
	uint64_t kills;	       /* kill requests acted on */
	uint64_t pods_deleted; /* pod DELETEs answered 2xx */
	uint64_t jobs_deleted; /* Job DELETEs answered 2xx or 404 */
	uint64_t ignored;      /* requests on pods outside takt's runs */
	uint64_t watch_events; /* pod events seen by the foreign-pod watch */
};
void control_get_stats(const struct control *c, struct control_stats *st);

#endif
