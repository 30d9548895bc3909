/* A BatchSchedule as the controller sees it: the validated spec, the
 * persisted status, and the Job built for one slot (docs/api.md; the choices
 * api.md leaves open are in docs/semantics.md).
 *
 * Everything here is pure except spec_parse, which loads the time zone
 * (tz_load reads the zone database) — the only file access.
 *
 * Instants are Unix milliseconds (int64_t) throughout; "unset" is
 * SPEC_TIME_UNSET. Slots are whole seconds (their ms part is 0).
 *
 * Ownership:
 *   struct spec / struct spec_status are the caller's (usually on the stack
 *   or embedded). spec_init / spec_status_init allocate nothing;
 *   spec_release / spec_status_release free the contents and leave an empty
 *   struct that may be reused. Every char * and cJSON * inside is owned by the
 *   struct. Input cJSON objects are borrowed and never modified.
 *   spec_build_job returns a new cJSON tree owned by the caller (cJSON_Delete).
 */
#ifndef TAKT_CONTROLLER_SPEC_H
#define TAKT_CONTROLLER_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "calendar/calsched.h"

struct cron_expr;
struct tz;

#define SPEC_TIME_UNSET INT64_MIN

/* Job names must fit a label value (Kubernetes puts the Job name in the
 * pods' job-name label). A slot's run is "<schedule-name>-<unix-seconds>"
 * (10 digits until the year 2286); a run-now's is
 * "<schedule-name>-r-<8 characters>" (spec_request_job_name). Both suffixes
 * are 11 characters, so names of up to 52 characters fit. */
#define SPEC_JOB_NAME_MAX      63
#define SPEC_SCHEDULE_NAME_MAX (SPEC_JOB_NAME_MAX - 11)
/* A takt.io/run-now (or kill) request id: 1 to 63 characters (control.h
 * checks the grammar). */
#define SPEC_REQUEST_ID_MAX 63

enum spec_concurrency { SPEC_CONCURRENCY_FORBID, SPEC_CONCURRENCY_ALLOW, SPEC_CONCURRENCY_REPLACE };
enum spec_missed_policy { SPEC_MISSED_LATEST, SPEC_MISSED_NONE };
enum spec_trigger {
	SPEC_TRIGGER_SCHEDULE,
	SPEC_TRIGGER_RUN_NOW,
	SPEC_TRIGGER_RETRY,
	SPEC_TRIGGER_RERUN,
};

/* spec.retry (docs/api.md, "Retries of failed runs"). Bounds keep a spec's
 * parse and the planner's walk small; the CRD schema says the same. */
#define SPEC_RETRY_STEPS_MAX  100
#define SPEC_RETRY_LIMIT_MAX  100
#define SPEC_EXIT_CODES_MAX   256
#define SPEC_HISTORY_DEFAULT  20
#define SPEC_HISTORY_MAX      100
#define SPEC_BUSINESS_DATE_SZ 11 /* "YYYY-MM-DD" and its NUL */

/* One entry of spec.retry.after: a duration after the failed attempt
 * ended, or a local time of day on the run's business date. */
struct spec_retry_step {
	bool local;	 /* HH:MM[:SS] */
	int64_t seconds; /* the duration, or seconds since local midnight */
};

struct spec_retry {
	struct spec_retry_step after[SPEC_RETRY_STEPS_MAX];
	size_t n_after;
	int32_t limit; /* retries after the first attempt; 0: none */
	bool has_not_after;
	int64_t not_after; /* seconds since local midnight on the business date */
	int32_t exit_codes[SPEC_EXIT_CODES_MAX];
	size_t n_exit_codes; /* 0: any failure is retried */
};

/* "schedule", "run-now", "retry", "rerun" (the takt.io/trigger annotation
 * values). */
const char *spec_trigger_name(enum spec_trigger t);
/* Returns 0 and *out, or -1 for an unknown value. */
int spec_trigger_parse(const char *s, enum spec_trigger *out);

struct spec_calendar {
	const char *name;	     /* interned (base/intern.h) */
	struct calsched_rules rules; /* days, businessDayOfMonth, onNonBusinessDay */
};

struct spec {
	/* Identity: filled whenever metadata is readable, even when the spec is
	 * invalid, so the controller can still write the Ready condition. */
	char *name;
	const char *namespace; /* interned (base/intern.h), as the other shared texts */
	char *uid;
	int64_t generation;

	/* The text of spec.schedule (interned) and its parse, shared by every
	 * spec of the same text (spec.c, "shared_cron"): both read-only. */
	const char *schedule;
	struct cron_expr *cron;
	/* spec.timeZone, or NULL when unset. `zone` is loaded from it; when
	 * spec.timeZone is unset, `zone` is UTC without a calendar and NULL with
	 * one: the zone is then the calendar's, known only once the calendar is
	 * (spec_zone). */
	const char *time_zone; /* interned */
	struct tz *zone;

	bool has_calendar;
	struct spec_calendar calendar;

	enum spec_concurrency concurrency;
	int64_t starting_deadline_seconds; /* -1: unset (no deadline) */
	enum spec_missed_policy missed_policy;
	bool suspend;
	int32_t successful_history_limit;
	int32_t failed_history_limit;

	/* NULL when spec.retry is absent (read through spec_retry): 2.6 KB
	 * inline, at 10,000 schedules it was 26 MB of mostly zeros. */
	struct spec_retry *retry;
	int32_t run_history_limit; /* spec.runHistoryLimit: status.recentRuns' bound */

	/* spec.jobTemplate, serialized (parsed only by spec_build_job: at
	 * 10,000 schedules a kept tree was 24 MB). */
	char *job_template;

	/* Raw annotation values (NULL when absent), validated by their users. */
	char *ann_kill;
	char *ann_kill_grace_seconds;
	char *ann_run_now;
};

void spec_init(struct spec *s);
/* s->retry, or a spec_retry with limit 0 (no retries) when absent.
 * Borrowed. */
const struct spec_retry *spec_retry(const struct spec *s);
void spec_release(struct spec *s);

/* Parses a BatchSchedule object (as served by the apiserver, defaults
 * applied; missing defaulted fields get the CRD defaults anyway, so a
 * manifest read from a file works too).
 * Returns 0, or -EINVAL with one line in err as the user will see it in the
 * Ready condition, naming the field and the reason, e.g.
 *   spec.schedule: minute: 60 is out of range 0-59
 *   spec.timeZone: unknown time zone "Mars/Base"
 *   metadata.name: "<name>" is too long: Job names "<name>-<unix-seconds>"
 *     must fit 63 characters
 * On error the identity fields are filled as far as they could be read; the
 * rest is unspecified (but released by spec_release). */
int spec_parse(const cJSON *obj, struct spec *out, char *err, size_t errlen);

/* The zone slots are computed in: spec.timeZone when set, else the
 * calendar's zone (may be NULL: unknown until the calendar is), else UTC
 * (spec->zone). Borrowed. */
const struct tz *spec_zone(const struct spec *s, const struct tz *calendar_zone);

/* Writes "<name>-<unix-seconds of slot_ms>" into out. Returns 0, or -ERANGE
 * when it does not fit SPEC_JOB_NAME_MAX characters or outsz. */
int spec_job_name(const char *schedule_name, int64_t slot_ms, char *out, size_t outsz);

/* Writes the name of the run that answers a run-now request,
 * "<name>-r-<8 characters of [0-9a-v]>" (40 bits of a 64-bit FNV-1a hash of
 * the request id) into out: the same for every replica and every attempt
 * that answers the request, whatever the clock says, so the name is the
 * lock (docs/api.md, "Run names"). It never equals a slot's name: a slot's
 * suffix is all digits and 10 of them, this one has "r-" and 8 characters
 * after the last '-'. Returns 0, or -ERANGE when it does not fit
 * SPEC_JOB_NAME_MAX characters or outsz, -EINVAL for an empty id. */
int spec_request_job_name(const char *schedule_name, const char *request_id, char *out,
			  size_t outsz);

/* The name of the run a rerun request starts for one slot,
 * "<name>-<slot-unix-seconds>-r<6 characters of [0-9a-v]>" (30 bits of the
 * same hash of the request id as spec_request_job_name): the same for every
 * replica and every attempt, so the name is the lock. It never equals a
 * slot's name (which ends in digits) nor a run-now's ("-r-"). Returns 0,
 * -ERANGE when it does not fit SPEC_JOB_NAME_MAX characters (schedule names
 * of up to 44 characters fit) or outsz, -EINVAL for an empty id. */
int spec_rerun_job_name(const char *schedule_name, int64_t slot_ms, const char *request_id,
			char *out, size_t outsz);

/* Builds the batch/v1 Job for one run: name spec_job_name (for a run-now,
 * spec_request_job_name of request_id; for a rerun, spec_rerun_job_name of
 * slot_ms and request_id), ownerReference to
 * the schedule (controller, blockOwnerDeletion), the jobTemplate's labels and
 * annotations plus takt.io/schedule (Job and pod template),
 * takt.io/scheduled-time (RFC 3339 ms) and takt.io/trigger, and in every
 * container and initContainer the env TAKT_SCHEDULE, TAKT_SCHEDULED_TIME,
 * TAKT_BUSINESS_DATE (the slot's local date in `zone`; NULL means UTC) and
 * TAKT_RUN_ID, replacing entries of the same name. request_id is the
 * takt.io/run-now or takt.io/rerun request the run answers (required with
 * SPEC_TRIGGER_RUN_NOW and SPEC_TRIGGER_RERUN, else ignored): it names the
 * Job (with the slot, for a rerun: slot_ms is then the slot rerun) and goes into
 * takt.io/request-id, so a restart between the create and the status
 * write finds the run. slot_ms is then the request's second, the run's
 * TAKT_SCHEDULED_TIME. Pure: may be called before the slot's instant so
 * that firing is only sending. Returns 0 and *out, or a negative code with
 * err. */
int spec_build_job(const struct spec *s, const struct tz *zone, int64_t slot_ms,
		   enum spec_trigger trigger, const char *request_id, cJSON **out, char *err,
		   size_t errlen);

/* Writes the name of attempt n (n >= 2) of the run whose first attempt is
 * `first`: "<first>-<n>" ("<schedule>-<slot-unix-seconds>-<n>" for a
 * slot). It never equals a first attempt's name: a slot's suffix has no
 * '-', a run-now's has 8 characters after "r-". Returns 0, or -ERANGE when
 * it does not fit SPEC_JOB_NAME_MAX characters or outsz. */
int spec_attempt_job_name(const char *first, int32_t attempt, char *out, size_t outsz);

/* Builds attempt `attempt` (>= 2) of a run, as spec_build_job builds the
 * first, named `job_name` (spec_attempt_job_name), with trigger retry:
 * the same takt.io/scheduled-time and TAKT_SCHEDULED_TIME (slot_ms), the
 * run's business date as recorded (business_date; NULL or "": the slot's
 * local date in zone), plus TAKT_ATTEMPT and the annotation
 * takt.io/attempt. Returns 0 and *out, or a negative code with err. */
int spec_build_retry(const struct spec *s, const struct tz *zone, int64_t slot_ms,
		     const char *job_name, const char *business_date, int32_t attempt, cJSON **out,
		     char *err, size_t errlen);

/* Whether a failed attempt's exit code is one spec.retry.onExitCodes
 * retries (any code when the list is empty; an unknown code only then). */
bool spec_retry_exit_code_matches(const struct spec_retry *r, bool known, int32_t code);

/* ---- Status ---------------------------------------------------------- */

struct spec_counters {
	int64_t runs_started;
	int64_t runs_succeeded;
	int64_t runs_failed;
	int64_t skipped_overlap;
	int64_t skipped_calendar;
	int64_t missed;
	int64_t killed;
};

struct spec_condition {
	char *type;   /* "Ready", "CalendarReady", "Suspended" */
	char *status; /* "True", "False", "Unknown" */
	char *reason;
	char *message;
	int64_t last_transition; /* ms */
	int64_t observed_generation;
};

struct spec_active {
	char *name;
	char *uid;    /* may be NULL (a Job we created but have not seen yet) */
	int64_t slot; /* ms */
	enum spec_trigger trigger;
};

enum spec_result {
	SPEC_RESULT_ACTIVE,
	SPEC_RESULT_SUCCEEDED,
	SPEC_RESULT_FAILED,
	SPEC_RESULT_KILLED
};
/* "Active", "Succeeded", "Failed", "Killed". */
const char *spec_result_name(enum spec_result r);

/* One attempt in status.recentRuns (docs/api.md, "Run history"). */
struct spec_run_record {
	char *job;
	enum spec_trigger trigger;
	int64_t scheduled; /* ms */
	char business_date[SPEC_BUSINESS_DATE_SZ];
	int32_t attempt;	   /* 1 for the first */
	int64_t start, completion; /* ms or SPEC_TIME_UNSET */
	enum spec_result result;
	bool has_exit_code;
	int32_t exit_code;
	char *reason; /* of the first container that failed; NULL: none */
	/* A retry's attempt recorded before its POST (never twice: see
	 * docs/semantics.md): its Job may not exist yet. Cleared once the
	 * POST is sent by the process that wrote the claim. */
	bool claimed;
};

struct spec_status {
	int64_t observed_generation; /* 0: never observed */
	char *time_zone;	     /* effective zone name, or NULL */
	struct spec_condition *conditions;
	size_t n_conditions, cap_conditions;
	struct spec_active *active;
	size_t n_active, cap_active;
	int64_t last_schedule_time;   /* ms or SPEC_TIME_UNSET */
	int64_t last_successful_time; /* ms or SPEC_TIME_UNSET */
	int64_t next_schedule_time;   /* ms or SPEC_TIME_UNSET */
	int64_t cursor;		      /* lastSlotConsidered; ms or SPEC_TIME_UNSET */
	/* lastSlotClaimed: every slot at or before it may have been attempted
	 * (its Job POSTed) by the controller that wrote it; ms or
	 * SPEC_TIME_UNSET (docs/semantics.md, "Never twice"). */
	int64_t claim;
	/* A slot decided to run that waits for the old runs to be gone
	 * (Replace): ms or SPEC_TIME_UNSET, and its trigger. */
	int64_t pending_slot;
	enum spec_trigger pending_trigger;
	struct spec_counters counters;
	/* Written by the kill / run-now code, carried through unchanged by the
	 * planner: copies, owned. */
	cJSON *last_kill;
	cJSON *last_run_now;
	cJSON *last_rerun; /* written by the rerun step (rerun.h) */
	cJSON *handled_requests;
	/* status.recentRuns, newest first (the planner keeps the order). */
	struct spec_run_record *recent;
	size_t n_recent, cap_recent;
};

void spec_status_init(struct spec_status *st);
void spec_status_release(struct spec_status *st);
/* Deep copy; dst must be initialised (its old contents are released). */
void spec_status_copy(struct spec_status *dst, const struct spec_status *src);

/* Reads the status of a BatchSchedule object (obj may be the whole object or
 * NULL). Lenient: the status is ours, but a field that does not parse is
 * treated as absent rather than blocking the schedule. Always succeeds. */
void spec_status_parse(const cJSON *obj, struct spec_status *out);
/* The status object as written through the status subresource. New tree,
 * owned by the caller. */
cJSON *spec_status_to_json(const struct spec_status *st);

/* Borrowed; NULL when absent. */
const struct spec_condition *spec_status_condition(const struct spec_status *st, const char *type);
/* Sets a condition, keeping lastTransitionTime when the status is unchanged
 * (metav1.Condition semantics); now is ms. */
void spec_status_set_condition(struct spec_status *st, const char *type, bool status,
			       const char *reason, const char *message, int64_t generation,
			       int64_t now);
void spec_status_add_active(struct spec_status *st, const char *name, const char *uid, int64_t slot,
			    enum spec_trigger trigger);
/* Appends a copy of *r (its strings are copied); returns the new entry. */
struct spec_run_record *spec_status_add_record(struct spec_status *st,
					       const struct spec_run_record *r);
/* Frees entry i's strings and removes it, keeping the order. */
void spec_status_remove_record(struct spec_status *st, size_t i);

#endif
