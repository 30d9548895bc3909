/* takt's API vocabulary, written once: the group and version, the kinds and
 * resources, the labels, annotations and condition types, and the status
 * fields of a BatchSchedule. Every module that speaks the API (the
 * controller, the planner's status, kubectl-takt) takes its names from here
 * (docs/api.md is the contract they follow).
 *
 * The status fields are one list (TAKT_STATUS_FIELDS): spec_status_to_json
 * writes its keys by these names, the merge patch nulls every one of them
 * that a status leaves out (a merge patch keeps what it does not mention),
 * and plan_may_wait names the fields that only follow a run. A field added
 * here is cleared by the patch with no other edit; tests/unit/test_spec.c
 * checks that the JSON writes no key outside the list.
 *
 * Ownership: constants only; takt_status_field_name returns a static string.
 */
#ifndef TAKT_CONTROLLER_NAMES_H
#define TAKT_CONTROLLER_NAMES_H

#define TAKT_GROUP	 "takt.io"
#define TAKT_VERSION	 "v1alpha1"
#define TAKT_API_VERSION TAKT_GROUP "/" TAKT_VERSION
/* Labels and annotations takt owns start with this. */
#define TAKT_PREFIX TAKT_GROUP "/"

#define TAKT_KIND_SCHEDULE "BatchSchedule"
#define TAKT_RES_SCHEDULES "batchschedules"
#define TAKT_RES_CALENDARS "businesscalendars"
#define TAKT_COMPONENT	   "takt-controller"

/* On a run's Job and pods: the schedule's name. */
#define TAKT_LABEL_SCHEDULE TAKT_PREFIX "schedule"
/* On a run's Job: the slot (RFC 3339) and what started it. */
#define TAKT_ANN_SCHEDULED TAKT_PREFIX "scheduled-time"
#define TAKT_ANN_TRIGGER   TAKT_PREFIX "trigger"
/* Requests (docs/external-control.md): on a BatchSchedule or a Pod. */
#define TAKT_ANN_KILL	    TAKT_PREFIX "kill"
#define TAKT_ANN_KILL_GRACE TAKT_PREFIX "kill-grace-seconds"
#define TAKT_ANN_RUN_NOW    TAKT_PREFIX "run-now"
/* On a Job: the kill request that ended it (its run is then counted in
 * `killed`, never in runsFailed). */
#define TAKT_ANN_KILLED TAKT_PREFIX "killed"
/* On a run-now Job: the takt.io/run-now request it answers. */
#define TAKT_ANN_REQUEST TAKT_PREFIX "request-id"
/* On a retry's Job: its attempt number (2, 3, ...; absent means 1). */
#define TAKT_ANN_ATTEMPT TAKT_PREFIX "attempt"
/* A rerun request on a BatchSchedule (docs/runs.md): its id, its
 * business-date range and its selection. A rerun's Job carries the id in
 * TAKT_ANN_REQUEST. */
#define TAKT_ANN_RERUN	     TAKT_PREFIX "rerun"
#define TAKT_ANN_RERUN_DATES TAKT_PREFIX "rerun-dates"
#define TAKT_ANN_RERUN_ONLY  TAKT_PREFIX "rerun-only"

/* Condition types. */
#define TAKT_COND_READY		 "Ready"
#define TAKT_COND_CALENDAR_READY "CalendarReady"
#define TAKT_COND_SUSPENDED	 "Suspended"

/* Every status field of a BatchSchedule that the controller writes. */
#define TAKT_STATUS_FIELDS(X)                                                                      \
	X(OBSERVED_GENERATION, "observedGeneration")                                               \
	X(TIME_ZONE, "timeZone")                                                                   \
	X(CONDITIONS, "conditions")                                                                \
	X(ACTIVE, "active")                                                                        \
	X(ACTIVE_COUNT, "activeCount")                                                             \
	X(LAST_SCHEDULE_TIME, "lastScheduleTime")                                                  \
	X(LAST_SUCCESSFUL_TIME, "lastSuccessfulTime")                                              \
	X(NEXT_SCHEDULE_TIME, "nextScheduleTime")                                                  \
	X(LAST_SLOT_CONSIDERED, "lastSlotConsidered")                                              \
	X(LAST_SLOT_CLAIMED, "lastSlotClaimed")                                                    \
	X(PENDING_SLOT, "pendingSlot")                                                             \
	X(PENDING_TRIGGER, "pendingTrigger")                                                       \
	X(RUNS_STARTED, "runsStarted")                                                             \
	X(RUNS_SUCCEEDED, "runsSucceeded")                                                         \
	X(RUNS_FAILED, "runsFailed")                                                               \
	X(SKIPPED_OVERLAP, "skippedOverlap")                                                       \
	X(SKIPPED_CALENDAR, "skippedCalendar")                                                     \
	X(MISSED, "missed")                                                                        \
	X(KILLED, "killed")                                                                        \
	X(LAST_KILL, "lastKill")                                                                   \
	X(LAST_RERUN, "lastRerun")                                                                 \
	X(LAST_RUN_NOW, "lastRunNow")                                                              \
	X(HANDLED_REQUESTS, "handledRequests")                                                     \
	X(RECENT_RUNS, "recentRuns")

enum takt_status_field {
#define TAKT_X_ENUM(e, s) TAKT_ST_##e,
	TAKT_STATUS_FIELDS(TAKT_X_ENUM)
#undef TAKT_X_ENUM
	    TAKT_ST_COUNT
};

/* "observedGeneration" for TAKT_ST_OBSERVED_GENERATION, ... */
const char *takt_status_field_name(enum takt_status_field f);

#endif
