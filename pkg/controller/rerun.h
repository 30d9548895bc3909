/* Reruns and backfill (the takt.io/rerun request, docs/api.md "External
 * control by annotation"; docs/runs.md): which slots of a business-date range
 * to run again. Pure: no I/O, no clock, no globals. The controller (acting
 * on the request) and `kubectl takt rerun --dry-run` (showing what it would
 * do) call the same rerun_select, so the dry run lists exactly what the
 * controller will start.
 *
 * A slot's business date is the local date of its instant in the schedule's
 * zone, the TAKT_BUSINESS_DATE its Job gets (spec_build_job); with
 * onNonBusinessDay Next/PreviousBusinessDay that is the day the slot landed
 * on. The slots of a range are the schedule's own (cron + calendar rules,
 * calsched_next), in slot order; slots after `now` are not selected (they
 * have not come yet: the schedule itself will run them).
 *
 * Selection (`only`), from the record of each slot: the entries of
 * status.recentRuns and the Jobs still there, merged; a slot's last attempt
 * is its record with the latest start (ties: the higher attempt):
 *   missing  slots with no record;
 *   failed   those, and the slots whose last attempt failed or was killed
 *            (the default);
 *   all      every slot.
 * More than RERUN_MAX_SLOTS selected slots is refused with the reason, and so
 * is a range the calendar does not cover (fail closed, as for slots).
 *
 * Ownership: every pointer in struct rerun_input is borrowed for the call.
 * struct rerun_selection is the caller's: zero it (or rerun_selection_init),
 * rerun_select fills it, rerun_selection_release frees it.
 */
#ifndef TAKT_CONTROLLER_RERUN_H
#define TAKT_CONTROLLER_RERUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "calendar/calsched.h"
#include "controller/spec.h"

struct calendar;
struct cron_expr;
struct tz;

#define RERUN_MAX_SLOTS 1000

enum rerun_only { RERUN_ONLY_MISSING, RERUN_ONLY_FAILED, RERUN_ONLY_ALL };

/* "missing", "failed", "all". */
const char *rerun_only_name(enum rerun_only o);
/* NULL or "" is the default, failed. Returns 0, or -EINVAL with
 *   takt.io/rerun-only: "some" is not one of missing, failed, all */
int rerun_only_parse(const char *s, enum rerun_only *out, char *err, size_t errlen);

/* "YYYY-MM-DD" or "YYYY-MM-DD..YYYY-MM-DD" (real dates, the end not before
 * the start) into day numbers (civil.h). Returns 0, or -EINVAL with e.g.
 *   takt.io/rerun-dates: "2026-12-05..2026-12-01": the end is before the start
 * (`what` names the source in messages: the annotation, or --dates). */
int rerun_dates_parse(const char *what, const char *s, int64_t *from_day, int64_t *to_day,
		      char *err, size_t errlen);

/* The outcome of one recorded attempt. */
enum rerun_result { RERUN_ACTIVE, RERUN_SUCCEEDED, RERUN_FAILED, RERUN_KILLED };

/* "Active", "Succeeded", "Failed", "Killed" (status.recentRuns[].result). */
const char *rerun_result_name(enum rerun_result r);
/* Returns 0 and *out, or -1 for an unknown value. */
int rerun_result_parse(const char *s, enum rerun_result *out);

/* One recorded attempt of a slot. */
struct rerun_record {
	int64_t slot;  /* its TAKT_SCHEDULED_TIME, ms */
	int64_t start; /* ms; SPEC_TIME_UNSET when unknown (orders before any) */
	int attempt;   /* 1 when unknown */
	enum rerun_result result;
};

/* Appends the records of status.recentRuns (an array; NULL or not an array:
 * none) to *recs (realloc'd; *n, *cap updated). Entries without a readable
 * scheduledTime or result are passed over: they cannot name a slot. Returns
 * the number appended. */
size_t rerun_records_from_history(const cJSON *recent_runs, struct rerun_record **recs, size_t *n,
				  size_t *cap);

/* The record of a Job of the schedule as the apiserver serves it (its
 * takt.io/scheduled-time, takt.io/attempt and takt.io/killed annotations,
 * creationTimestamp, Complete/Failed conditions). Returns 0, or -1 when the
 * Job names no slot. */
int rerun_record_from_job(const cJSON *job, struct rerun_record *out);

struct rerun_input {
	const struct cron_expr *cron;
	const struct tz *zone;		    /* the schedule's zone (spec_zone); NULL: UTC */
	const struct calendar *calendar;    /* NULL: no calendar (every slot fires) */
	const struct calsched_rules *rules; /* with a calendar */
	int64_t from_day, to_day;	    /* the range (rerun_dates_parse) */
	enum rerun_only only;
	const struct rerun_record *records; /* any order, duplicates allowed */
	size_t n_records;
	int64_t now; /* ms: slots after it are not selected */
};

struct rerun_selection {
	int64_t *slots; /* ms, ascending */
	size_t n, cap;
	size_t in_range; /* slots of the range up to now, selected or not */
};

void rerun_selection_init(struct rerun_selection *s);
void rerun_selection_release(struct rerun_selection *s);

/* Fills *out with the slots to run. Returns 0 (possibly none selected), or
 * -E2BIG with "the range has more than 1000 slots to run (...); narrow
 * --dates", -ENODATA when the calendar does not cover a slot of the range
 * (the calsched_format_nodata line), -EINVAL for a bad input. out is
 * emptied on error. */
int rerun_select(const struct rerun_input *in, struct rerun_selection *out, char *err,
		 size_t errlen);

/* ---- Acting on a request (the controller's rerun step) ------------------
 *
 * status.lastRerun is the request's whole state, so a restart or another
 * replica carries on where the last status write left off:
 *   requestId, time, dates, only   the request as accepted
 *   slots                          the selected slots (RFC 3339), slot order
 *   progress                       one character per slot: '-' not started,
 *                                  'A' started, 'S' succeeded, 'F' failed,
 *                                  'K' killed, 'G' its Job was deleted
 *                                  before it ended
 *   selected, started, succeeded, failed (F, K and G), pending ('-')
 *   completionTime                 when the last one ended
 *   refused                        instead of slots: why nothing runs
 * The run of slot i is the Job spec_rerun_job_name(schedule, slot i,
 * requestId): its name is the lock, so a slot is never started twice.
 *
 * Forbid (and Replace): one at a time in slot order, each once no run of
 * the schedule is active; the started Job is handed to the planner as an
 * expectation, so the schedule's own slots that come meanwhile are skipped
 * and counted (and under Replace, replace it as they replace any run).
 * Allow: every selected slot starts at once.
 * A new request id replaces the previous request: its slots not started
 * yet are dropped (the Event says how many). */

struct plan_run;
struct plan_expectation;

struct rerun_step_input {
	const struct spec *spec;
	const struct tz *zone; /* the slots' zone (spec_zone); NULL: not known */
	/* With spec->has_calendar: the built calendar, NULL when it is not
	 * ready (calendar_error then says why). */
	const struct calendar *calendar;
	const char *calendar_error;
	/* The request's annotations (NULL: absent). */
	const char *request, *dates, *only;
	const cJSON *last;    /* status.lastRerun as persisted, or NULL */
	const cJSON *handled; /* status.handledRequests */
	const cJSON *history; /* status.recentRuns */
	const struct plan_run *runs;
	size_t n_runs;
	const struct plan_expectation *exps;
	size_t n_exps;
	size_t orphan_pods;
	/* The schedule's runs with a retry still to come
	 * (plan_pending_retries): under Forbid each is an active run, and the
	 * next rerun slot waits for it. */
	size_t pending_retries;
	/* Jobs whose create the apiserver refused for good (an invalid
	 * jobTemplate, a quota): such a slot is not started again, it counts
	 * as failed. */
	const char *const *refused_jobs;
	size_t n_refused_jobs;
	int64_t now; /* ms */
};

struct rerun_start {
	int64_t slot; /* ms */
	char job_name[SPEC_JOB_NAME_MAX + 1];
};

struct rerun_event {
	bool warning;
	char reason[32];
	char message[512];
};

struct rerun_step {
	cJSON *last; /* the new status.lastRerun (owned); NULL: unchanged */
	/* A new request was answered (accepted or refused): record
	 * "rerun:<id>" in handledRequests. */
	bool handled_new;
	char request_id[SPEC_REQUEST_ID_MAX + 1]; /* of the Jobs to start */
	struct rerun_start *starts;		  /* the Jobs to create now, slot order */
	size_t n_starts, cap_starts;
	struct rerun_event events[3];
	size_t n_events;
};

void rerun_step_init(struct rerun_step *s);
void rerun_step_release(struct rerun_step *s);
/* Decides the step. Pure. Returns 0 (out filled; possibly nothing to do). */
int rerun_step_compute(const struct rerun_step_input *in, struct rerun_step *out);

/* Appends "rerun:<id>" to *handled (an array, created when needed) unless
 * present, dropping the oldest entries beyond `max`. */
void rerun_mark_handled(cJSON **handled, const char *id, size_t max);

#endif
