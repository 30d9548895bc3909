/* External control by annotation: the pure rules (docs/external-control.md).
 *
 *   takt.io/kill=<id>                on a BatchSchedule: kill every active run;
 *                                    on a Pod: kill the run it belongs to.
 *   takt.io/kill-grace-seconds=<n>   on the Pod or the schedule: the grace
 *                                    period of the pod deletes.
 *   takt.io/run-now=<id>             on a BatchSchedule: one run now.
 *
 * What is decided here, without I/O or clock: whether a request id is well
 * formed, whether it was already acted on, which grace period applies,
 * whether a pod belongs to a BatchSchedule run (through the owner chain), and
 * how a handled request is written into the status. The I/O is
 * control_io.[ch].
 *
 * Exactly once: a request is identified by its kind and id. Once acted on,
 * "<kind>:<id>" is added to status.handledRequests (kept to
 * CONTROL_HANDLED_MAX entries, oldest dropped first, except entries a caller
 * says are still requested by an annotation), and lastKill / lastRunNow carry
 * the id. Both are persisted through the status subresource, in the same
 * write as the rest of the decision, so a restarted controller finds them.
 * A run-now Job also carries its request id (TAKT_ANN_REQUEST) and a
 * killed Job the id that killed it (TAKT_ANN_KILLED).
 *
 * Ownership: every cJSON and spec_status argument is borrowed; the status
 * mutators change only the fields they name, and own what they put there.
 * Strings returned are borrowed from the object passed in.
 */
#ifndef TAKT_CONTROLLER_CONTROL_H
#define TAKT_CONTROLLER_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "controller/names.h"
#include "controller/spec.h"

/* A request id is a label-value-like token: 1 to 63 characters of
 * [A-Za-z0-9._-]. It ends up in Event names, status and logs, so nothing
 * that needs quoting is allowed. */
#define CONTROL_REQUEST_ID_MAX SPEC_REQUEST_ID_MAX
/* status.handledRequests: the CRD's maxItems. */
#define CONTROL_HANDLED_MAX 32
/* The largest grace period accepted (int32, as the pod field in practice). */
#define CONTROL_GRACE_MAX 2147483647L

enum control_kind { CONTROL_KILL, CONTROL_RUN_NOW };

/* "kill" / "run-now". */
const char *control_kind_name(enum control_kind k);

/* Returns 0 when id is a valid request id, else -EINVAL with one line in
 * err (e.g. `takt.io/kill: "a b" has a character other than [A-Za-z0-9._-]`).
 * `what` names the annotation in the message. */
int control_request_id_check(const char *what, const char *id, char *err, size_t errlen);

/* Parses a takt.io/kill-grace-seconds value: decimal digits only (no sign,
 * no spaces), 0..CONTROL_GRACE_MAX. Returns 0 and *out, or -EINVAL with err. */
int control_grace_parse(const char *s, long *out, char *err, size_t errlen);

/* The grace period of a kill: pod_value, else schedule_value, else none
 * (the controller passes the value of the object that carries the request
 * only: a pod's request never inherits a schedule's value; *set false:
 * omit gracePeriodSeconds, so each pod's own terminationGracePeriodSeconds
 * applies). A malformed value that applies is an error (-EINVAL, err): a
 * destructive request is acted on only when it says exactly what it wants. */
int control_grace_choose(const char *pod_value, const char *schedule_value, bool *set, long *out,
			 char *err, size_t errlen);

/* "<kind>:<id>" into out; 0, or -ERANGE when it does not fit. */
int control_handled_entry(enum control_kind k, const char *id, char *out, size_t n);

/* The request was acted on: its entry is in status.handledRequests, or it
 * is the id in lastKill (kill) / lastRunNow (run-now). */
bool control_handled(const struct spec_status *st, enum control_kind k, const char *id);

/* Appends "<kind>:<id>" to status.handledRequests (once), then drops the
 * oldest entries beyond CONTROL_HANDLED_MAX, never one listed in keep[]
 * (full entries: the requests still present in annotations, whose record
 * must not be forgotten while the annotation stays). */
void control_mark_handled(struct spec_status *st, enum control_kind k, const char *id,
			  const char *const *keep, size_t n_keep);

/* The controller ownerReference of obj (controller: true), or NULL. */
const cJSON *control_controller_ref(const cJSON *obj);

/* Does `job` belong to `schedule`? Same namespace, and the Job's controller
 * ownerReference is apiVersion takt.io/v1alpha1, kind BatchSchedule, with
 * the schedule's name and uid. Returns 0, or -ENOENT with the reason in why. */
int control_job_of_schedule(const cJSON *job, const cJSON *schedule, char *why, size_t n);
/* Does `pod` belong to `job`? Same namespace, and the pod's controller
 * ownerReference is batch/v1 Job with the Job's name and uid. 0 or -ENOENT. */
int control_pod_of_job(const cJSON *pod, const cJSON *job, char *why, size_t n);
/* The whole chain Pod -> Job -> BatchSchedule; job or schedule NULL (not
 * found) fails with the reason. 0 or -ENOENT. */
int control_pod_of_run(const cJSON *pod, const cJSON *job, const cJSON *schedule, char *why,
		       size_t n);

/* The id in a Job's TAKT_ANN_KILLED annotation, or NULL. */
const char *control_job_killed(const cJSON *job);

/* One kill as status.lastKill records it. */
struct control_kill_record {
	const char *id;
	int64_t now_ms;
	const char *const *jobs; /* every run it killed */
	size_t n_jobs;
	size_t jobs_new; /* of those, the runs no earlier request had killed */
	int64_t pods_deleted;
	/* NULL, or why the kill failed for good (a delete the apiserver
	 * refused, e.g. 403 without the pods delete rule): it is handled,
	 * not retried, and lastKill says so. */
	const char *failed;
};
/* Records a kill as the apiserver answered it: lastKill = {requestId, time
 * (RFC 3339 ms), jobs (the runs whose Job DELETE succeeded), podsDeleted
 * (the pod DELETEs answered 2xx), failed (only when set)}, killed +=
 * jobs_new (each run is counted once), and the handled entry (keep as
 * control_mark_handled). */
void control_record_kill(struct spec_status *st, const struct control_kill_record *r,
			 const char *const *keep, size_t n_keep);
/* Claims a run-now before its POST: lastRunNow = {requestId, time,
 * jobName, claimed: true}, with no handled entry (control_handled is false
 * for it), so the request is decided again once the claim lands. */
void control_claim_run_now(struct spec_status *st, const char *id, int64_t now_ms,
			   const char *job_name);
/* Records a run-now: lastRunNow = {requestId, time, jobName} or
 * {requestId, time, refused}, and the handled entry. */
void control_record_run_now(struct spec_status *st, const char *id, int64_t now_ms,
			    const char *job_name, const char *refused, const char *const *keep,
			    size_t n_keep);

/* The id of the schedule's takt.io/kill request when this pass acted on
 * it: handled in `after` (the status after control_before_plan) and not in
 * `before` (the status the pass started from). NULL otherwise. The planner
 * then cancels the pending retries of the schedule's runs
 * (plan_input.kill): once, since a handled request is not acted on
 * again. */
const char *control_kill_acted(const struct spec *sp, const struct spec_status *before,
			       const struct spec_status *after);

/* The id of the spec's takt.io/run-now request when it is well formed (the
 * Job that answers it carries it: spec_build_job's request_id), else NULL. */
const char *control_run_now_id(const struct spec *sp);

#endif
