/* The BatchSchedule planner: what to do now, as a pure function of
 * (schedule, its runs, calendar, now). No I/O, no clock, no globals: the
 * reconciler gathers the inputs, calls plan_compute, carries out the actions
 * and writes plan.status through the status subresource. The semantics are in
 * docs/api.md and docs/semantics.md.
 *
 * Ownership: every pointer in struct plan_input is borrowed for the duration
 * of the call. struct plan is the caller's: plan_init allocates nothing,
 * plan_release frees what plan_compute put in it (and leaves it reusable).
 * Instants are Unix milliseconds; SPEC_TIME_UNSET means none.
 *
 * One reconcile of a BatchSchedule:
 *   1. spec_parse the object (cache it per uid+generation+annotations) and
 *      spec_status_parse its status;
 *   2. gather the runs (Jobs whose controller ownerReference is the
 *      schedule's uid), their pods, the orphan pods, the expectations, and,
 *      when spec.has_calendar, the calendar: its state, the built calendar
 *      and its zone loaded with tz_load (a calendar whose zone does not load
 *      is PLAN_CALENDAR_INVALID);
 *   3. plan_compute at the wall-clock now;
 *   4. send the CREATE_JOB actions first (body: spec_build_job(spec,
 *      plan.zone, slot, trigger, request_id), for a retry spec_build_retry
 *      (see struct plan_action); AlreadyExists is success;
 *      keep an expectation per create until the watch shows the Job), then
 *      the DELETE_JOBs (NotFound is success) and the EVENTs; a create that
 *      failed leaves the status unwritten (the plan counted its run as
 *      started) and is fed to the next plan_compute
 *      (plan_input.create_failures), which decides what it means;
 *   5. write plan.status (spec_status_to_json) through the status
 *      subresource when it differs from the persisted one — between slots
 *      it does not, so an idle schedule causes no writes;
 *   6. arm a timer at plan.wake (and pre-build the Job for plan.next_slot).
 * Watch events on the schedule, its Jobs and pods, and its calendar start a
 * new reconcile; nothing else is needed. For a failed attempt whose record
 * in status.recentRuns is still Active, the gatherer also reads its exit
 * code (plan_run.exit_pending until it has it; exits.h).
 */
#ifndef TAKT_CONTROLLER_PLANNER_H
#define TAKT_CONTROLLER_PLANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/spec.h"

struct calendar;
struct tz;

/* A Job owned by the schedule, as seen in the watch. */
struct plan_run {
	const char *name;
	const char *uid;
	int64_t slot; /* takt.io/scheduled-time, ms; SPEC_TIME_UNSET if absent */
	enum spec_trigger trigger;
	int64_t creation;   /* metadata.creationTimestamp, ms (orders history) */
	bool finished;	    /* Complete or Failed condition True */
	bool succeeded;	    /* when finished: Complete (else Failed) */
	int64_t completion; /* ms; SPEC_TIME_UNSET if unknown */
	/* Pods of this Job not yet gone, terminating ones included: a run is
	 * active until its Job has finished AND this is 0. */
	size_t pods_present;
	bool deleting;	 /* metadata.deletionTimestamp is set */
	bool killed;	 /* ended by a kill request (counted by the kill path) */
	int32_t attempt; /* takt.io/attempt; 0 or 1: a first attempt */
	/* A failed attempt's first failed container, read from its pods by the
	 * controller (the pod watch does not keep container statuses).
	 * exit_pending: that read is still under way; the attempt's record
	 * stays Active, and its Job is not trimmed, until it is answered. */
	bool exit_pending;
	bool has_exit_code;
	int32_t exit_code;
	const char *exit_reason; /* NULL: none known */
};

/* A Job created by us and not yet seen in the watch: it counts as active. */
struct plan_expectation {
	const char *name;
	int64_t slot;
	enum spec_trigger trigger;
	const char *uid; /* from the POST's answer; NULL until it came */
};

/* A scheduled slot's Job this process POSTed, kept until a status that
 * records the slot (lastSlotConsidered at or past it) has landed: until
 * then the persisted status may still show the slot as due, and if its Job
 * is gone (ttlSecondsAfterFinished, a history trim, a user's delete) the
 * name is no lock any more. Such a slot is never created again. */
struct plan_attempt {
	const char *name;
	int64_t slot;
	/* The apiserver created it (201, AlreadyExists, or the Job was seen):
	 * the run started. False: the create had no certain answer (a
	 * timeout, a 5xx) and the Job is not there; the slot is lost. */
	bool created;
};

/* A Job POST that failed, as the apiserver answered it: fed into the next
 * decision of its schedule, which decides what it means
 * (plan_create_failure_permanent) and what the user sees. */
struct plan_create_failure {
	const char *job_name;
	int64_t slot;
	enum spec_trigger trigger;
	int code;	     /* HTTP status; 0: no answer (a transport error, a timeout) */
	const char *reason;  /* the apiserver's Status.reason ("Invalid"), or "" */
	const char *message; /* its Status.message, or the transport's error */
};

/* Whether a create answered so is refused for good: sent again, the same
 * body gets the same answer — 400, 403 (RBAC, a ResourceQuota, an
 * admission webhook's or policy's denial), 404, 422 and the other 4xx.
 * Everything else may pass on a retry: no answer, 401 (credentials being
 * rotated), 408, 409 other than AlreadyExists (a conflict inside
 * admission, e.g. a ResourceQuota update), 429, 5xx (also a webhook that
 * could not be called). A 409 AlreadyExists is success, never a failure. */
bool plan_create_failure_permanent(const struct plan_create_failure *f);

enum plan_calendar_state {
	PLAN_CALENDAR_OK,      /* `calendar` is loaded and valid */
	PLAN_CALENDAR_MISSING, /* no BusinessCalendar of that name */
	PLAN_CALENDAR_INVALID, /* exists but does not load: calendar_error says why */
};

struct plan_input {
	const struct spec *spec;	  /* identity always; the rest only when valid */
	const char *spec_error;		  /* non-NULL: spec_parse failed with this message */
	const struct spec_status *status; /* as persisted (spec_status_parse) */
	const struct plan_run *runs;
	size_t n_runs;
	const struct plan_expectation *expectations;
	size_t n_expectations;
	/* Pods labelled takt.io/schedule=<name> whose Job is gone (a Job deleted
	 * with background propagation): they still block Forbid and Replace. */
	size_t orphan_pods;
	/* Looked at only when spec->has_calendar. */
	enum plan_calendar_state calendar_state;
	const char *calendar_error;
	const struct calendar *calendar;
	const struct tz *calendar_zone;
	/* The id of a takt.io/run-now request not yet handled (NULL: none):
	 * plan one run now, under the concurrency policy (plan.run_now says
	 * what happened). The run is named after the id, not the clock, so
	 * every replica and every retry answers it with the same Job. */
	const char *run_now;
	/* The id of the schedule's takt.io/kill request when it was acted on in
	 * this pass (control_before_plan recorded it in `status`), else NULL:
	 * the runs with a retry still to come end for good, their retries
	 * cancelled (the newest attempt's entry turns Killed, reason
	 * RetryCancelled; RunFailed; lastKill.retriesCancelled). */
	const char *kill;
	/* The Job POSTs of earlier decisions that failed since (at most one
	 * per run; see struct plan_create_failure). A run refused for good is
	 * not created again: a slot then counts as missed, a run-now is
	 * refused; Ready turns False (reason FailedCreate, the apiserver's
	 * answer as message) until a create succeeds or the spec is edited;
	 * a Warning Event FailedCreate says the same. A run that failed
	 * otherwise is created again while its slot is due (within its
	 * deadline), with a Warning Event FailedCreate. */
	const struct plan_create_failure *create_failures;
	size_t n_create_failures;
	/* Never twice (docs/semantics.md): the slots this process attempted
	 * whose decision has not landed yet (struct plan_attempt) ... */
	const struct plan_attempt *attempts;
	size_t n_attempts;
	/* ... and the instant from which this process alone decides (it
	 * started, or became the leader): a due slot before it and at or
	 * before status.lastSlotClaimed may have been POSTed by the process
	 * before, so one whose Job is not there is counted missed, never
	 * created. 0: no predecessor to fear (the planner's unit tests). */
	int64_t deciding_since;
	/* When claim_gate is set, a scheduled slot is POSTed only when a
	 * status that claims it (lastSlotClaimed at or past it) has landed:
	 * claim_landed, SPEC_TIME_UNSET for none. Otherwise the plan claims
	 * it first: the slot waits as status.pendingSlot, plan.claim_first is
	 * set, and once that status write lands the next decision creates it.
	 * Every status write claims the next slot, so at a slot the claim has
	 * normally landed and firing stays one POST. */
	bool claim_gate;
	int64_t claim_landed;
	/* Under claim_gate a run-now is POSTed only once its claim
	 * (status.lastRunNow naming the request, "claimed": true) has landed,
	 * written by this process, and this process has not POSTed it yet:
	 * then this is that request's id (NULL otherwise). A claim found
	 * without it is a predecessor's, or already POSTed: never again. */
	const char *run_now_claim_mine;
	/* Likewise for a retry: a due attempt is first recorded in
	 * status.recentRuns as claimed (plan.retry_claim_job, claim_first),
	 * and POSTed only when that write has landed, written by this
	 * process, not POSTed yet: then this is its Job name (NULL
	 * otherwise). A claimed attempt found with no Job and without it is
	 * recorded Failed, reason PLAN_RETRY_LOST (Warning Event of that
	 * reason), and its run ends: never twice. */
	const char *retry_claim_mine;
	int64_t now; /* ms */
};

enum plan_action_kind { PLAN_CREATE_JOB, PLAN_DELETE_JOB, PLAN_EVENT };
enum plan_propagation { PLAN_PROPAGATION_BACKGROUND, PLAN_PROPAGATION_FOREGROUND };
enum plan_event_type { PLAN_EVENT_NORMAL, PLAN_EVENT_WARNING };

struct plan_action {
	enum plan_action_kind kind;
	/* CREATE_JOB: build the body with spec_build_job(spec, plan.zone, slot,
	 * trigger, request_id or NULL when ""); AlreadyExists counts as
	 * success (the name is the lock).
	 * DELETE_JOB: job_name with `propagation`; NotFound counts as success. */
	char job_name[SPEC_JOB_NAME_MAX + 1];
	int64_t slot;
	enum spec_trigger trigger;
	char request_id[SPEC_REQUEST_ID_MAX + 1]; /* a run-now's request; "" otherwise */
	/* A retry (trigger SPEC_TRIGGER_RETRY): build the body with
	 * spec_build_retry(spec, plan.zone, slot, job_name, business_date,
	 * attempt). 1 for a first attempt. */
	int32_t attempt;
	char business_date[SPEC_BUSINESS_DATE_SZ];
	enum plan_propagation propagation;
	/* EVENT: on the BatchSchedule; `count` slots were concerned. */
	enum plan_event_type event_type;
	char reason[32];
	char message[1024]; /* the Event API's own limit for a message */
	int64_t count;
};

/* CLAIMED: the request is recorded in status.lastRunNow as claimed (its
 * Job name, "claimed": true) and waits for that write to land before its
 * POST (plan.claim_first). LOST: a claim found with no Job and no POST of
 * this process to stand for it: the Job may have been created and deleted
 * already, so the request ends without a run (never twice). */
enum plan_run_now_result {
	PLAN_RUN_NOW_NONE,
	PLAN_RUN_NOW_CREATED,
	PLAN_RUN_NOW_REFUSED,
	PLAN_RUN_NOW_CLAIMED,
	PLAN_RUN_NOW_LOST,
};

struct plan {
	struct plan_action *actions;
	size_t n_actions, cap_actions;
	struct spec_status status; /* the desired status, to write */
	/* The zone slots were computed in (borrowed from the input; NULL when
	 * unknown) — the zone to pass to spec_build_job. */
	const struct tz *zone;
	/* When to call plan_compute again without any event: the next slot, a
	 * deadline, or SPEC_TIME_UNSET (wait for the watch). */
	int64_t wake;
	/* The instant the next CREATE is expected (equals the next slot); the
	 * loop may pre-build that Job's body. SPEC_TIME_UNSET when none. */
	int64_t next_slot;
	enum plan_run_now_result run_now;
	/* A slot waits for its claim to land (see plan_input.claim_gate):
	 * decide again as soon as this plan's status is written. */
	bool claim_first;
	char run_now_job[SPEC_JOB_NAME_MAX + 1];
	char run_now_refused[512];
	/* The retry attempt this plan claimed (see plan_input.retry_claim_mine);
	 * "" when none. */
	char retry_claim_job[SPEC_JOB_NAME_MAX + 1];
};

/* The reason (record and Warning Event) of a claimed retry attempt found
 * with no Job: lost, never created again. */
#define PLAN_RETRY_LOST "RetryLost"

void plan_init(struct plan *p);
void plan_release(struct plan *p);

/* Computes the plan. `out` must be initialised (its old contents are
 * released). Returns 0; -EINVAL only for a programmer error in the input
 * (no spec, no status) or a spec without metadata.name (nothing can be
 * written for it). */
int plan_compute(const struct plan_input *in, struct plan *out);

/* Between slots, a reconcile woken by a Job or pod change mostly finds that
 * a run started or ended: status.active, runsSucceeded/runsFailed and
 * lastSuccessfulTime moved, nothing else. When the next slot is at most
 * PLAN_WAIT_MS away such a plan may be left undone: the slot's own
 * reconcile (which always writes: its cursor moves) decides the same again
 * from the same base status, so nothing is lost or counted twice, and a
 * schedule firing every second writes its status once per slot instead of
 * twice. True when `p` may wait: it creates no Job, raises no Event, deletes
 * only with background propagation (history trims), its wake-up is its next
 * slot and at most PLAN_WAIT_MS after `now`, and its status differs from
 * `base` (the status it was planned from) in those fields only. */
bool plan_may_wait(const struct plan *p, const struct spec_status *base, int64_t now);

/* The runs with a retry still to come, as plan_compute would count them
 * from `in` (the attempts whose Job ended since `in->status` was written
 * settled first): under Forbid each is an active run (docs/api.md,
 * "Retries of failed runs"), for the rerun step too. 0 for an invalid
 * spec. Pure. */
size_t plan_pending_retries(const struct plan_input *in);
#define PLAN_WAIT_MS 1000

/* Bounds the work of one call whatever the downtime (a 1-second schedule
 * down for a day has 86400 slots): at most this many slots are walked; the
 * latest is still found, and the counts are then lower bounds. */
#define PLAN_SCAN_MAX 100000
/* The same bound for the slots the calendar dropped (skippedCalendar): they
 * are counted in the decision that fires the next run, so their walk is kept
 * to a few milliseconds; a pattern with more slots than this in one
 * calendar gap (a 1-second pattern over a weekend) counts a lower bound. */
#define PLAN_COUNT_MAX	   20000
#define PLAN_NONE_GRACE_MS (60LL * 1000) /* None without a deadline: "late" bound */
/* A persisted cursor later than now by more than this was written by a
 * clock that ran ahead (an RTC off at boot, a clock set by hand): trusting
 * it would keep every slot silent until real time caught up with it. The
 * planner replans from now instead, with a ClockSkew Warning. Within the
 * tolerance the cursor is trusted (a clock stepped back, two replicas'
 * clocks that differ: NTP keeps those to well under a second), so those
 * never fire a slot twice. docs/semantics.md, "The cursor". */
#define PLAN_CURSOR_SKEW_MS (5LL * 60 * 1000)

#endif
