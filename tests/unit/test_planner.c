/* Unit tests for pkg/controller/planner: the scheduling semantics, as
 * scenarios. A fixture holds the world (spec, persisted status, the Jobs and
 * their pods, the calendar); `step` runs the planner at an instant and
 * `apply` carries out its actions the way the API would. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "calendar/calendar.h"
#include "controller/control.h"
#include "controller/planner.h"
#include "controller/spec.h"
#include "tz/civil.h"
#include "tz/tz.h"

#define MAXRUNS 64

struct fx {
	struct spec spec;
	char spec_err[256];
	bool invalid;
	struct spec_status status;
	struct plan_run runs[MAXRUNS];
	char names[MAXRUNS][SPEC_JOB_NAME_MAX + 1];
	size_t n_runs;
	struct plan_expectation exp[8];
	size_t n_exp;
	size_t orphan_pods;
	enum plan_calendar_state cal_state;
	const char *cal_error;
	struct calendar *cal;
	struct tz *cal_zone;
	const char *run_now;		     /* a takt.io/run-now request id, NULL: none */
	struct plan_create_failure fails[4]; /* the POSTs of the last step that failed */
	char fail_names[4][SPEC_JOB_NAME_MAX + 1];
	size_t n_fails;
	struct plan_attempt attempts[4]; /* the rim's: slots POSTed, not yet recorded */
	size_t n_attempts;
	int64_t deciding_since;
	bool claim_gate;
	int64_t claim_landed;
	struct plan plan;
};

static int64_t at(const char *rfc3339)
{
	int64_t ms;
	if (rfc3339_parse(rfc3339, &ms))
		fail_msg("bad time %s", rfc3339);
	return ms;
}

/* Monday 2026-03-02 00:00:00 UTC. */
#define T0 INT64_C(1772409600000)

static struct fx *fx_new(const char *spec_fields, int64_t generation)
{
	struct fx *f = calloc(1, sizeof(*f));
	char text[4096];
	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"name\":\"bs\",\"namespace\":\"ns\",\"uid\":\"u\","
		 "\"generation\":%lld},\"spec\":{%s,\"jobTemplate\":{\"spec\":{}}}}",
		 (long long)generation, spec_fields);
	cJSON *o = cJSON_Parse(text);
	assert_non_null(o);
	f->invalid = spec_parse(o, &f->spec, f->spec_err, sizeof(f->spec_err)) != 0;
	cJSON_Delete(o);
	spec_status_init(&f->status);
	plan_init(&f->plan);
	return f;
}

/* An edit: the new spec, a new generation; status and runs stay. */
static void fx_edit(struct fx *f, const char *spec_fields, int64_t generation)
{
	struct fx *g = fx_new(spec_fields, generation);
	spec_release(&f->spec);
	f->spec = g->spec;
	f->invalid = g->invalid;
	memcpy(f->spec_err, g->spec_err, sizeof(f->spec_err));
	spec_status_release(&g->status);
	plan_release(&g->plan);
	free(g);
}

static void fx_free(struct fx *f)
{
	spec_release(&f->spec);
	spec_status_release(&f->status);
	plan_release(&f->plan);
	if (f->cal)
		calendar_free(f->cal);
	if (f->cal_zone)
		tz_free(f->cal_zone);
	free(f);
}

static struct plan_run *add_run(struct fx *f, const char *name, int64_t slot)
{
	assert_true(f->n_runs < MAXRUNS);
	size_t i = f->n_runs++;
	snprintf(f->names[i], sizeof(f->names[i]), "%s", name);
	struct plan_run *r = &f->runs[i];
	memset(r, 0, sizeof(*r));
	r->name = f->names[i];
	r->slot = slot;
	r->creation = slot;
	r->completion = SPEC_TIME_UNSET;
	r->pods_present = 1;
	return r;
}

static struct plan_run *find(struct fx *f, const char *name)
{
	for (size_t i = 0; i < f->n_runs; i++)
		if (strcmp(f->names[i], name) == 0)
			return &f->runs[i];
	return NULL;
}

static void remove_run(struct fx *f, const char *name)
{
	for (size_t i = 0; i < f->n_runs; i++) {
		if (strcmp(f->names[i], name) == 0) {
			f->n_runs--;
			for (size_t j = i; j < f->n_runs; j++) {
				f->runs[j] = f->runs[j + 1];
				memcpy(f->names[j], f->names[j + 1], sizeof(f->names[j]));
			}
			for (size_t j = 0; j < f->n_runs; j++)
				f->runs[j].name = f->names[j];
			return;
		}
	}
}

static void finish(struct fx *f, const char *name, bool ok, int64_t when, size_t pods_left)
{
	struct plan_run *r = find(f, name);
	assert_non_null(r);
	r->finished = true;
	r->succeeded = ok;
	r->completion = when;
	r->pods_present = pods_left;
}

/* Runs the planner at `now` and persists its status (as the status write
 * would). Actions are not carried out: see apply. */
static struct plan *step(struct fx *f, int64_t now)
{
	struct plan_input in = {
	    .spec = &f->spec,
	    .spec_error = f->invalid ? f->spec_err : NULL,
	    .status = &f->status,
	    .runs = f->runs,
	    .n_runs = f->n_runs,
	    .expectations = f->exp,
	    .n_expectations = f->n_exp,
	    .orphan_pods = f->orphan_pods,
	    .calendar_state = f->cal_state,
	    .calendar_error = f->cal_error,
	    .calendar = f->cal,
	    .calendar_zone = f->cal_zone,
	    .run_now = f->run_now,
	    .create_failures = f->fails,
	    .n_create_failures = f->n_fails,
	    .attempts = f->attempts,
	    .n_attempts = f->n_attempts,
	    .deciding_since = f->deciding_since,
	    .claim_gate = f->claim_gate,
	    .claim_landed = f->claim_landed,
	    .now = now,
	};
	assert_int_equal(plan_compute(&in, &f->plan), 0);
	/* The controller records the answer to a run-now in the same write
	 * (control_after_plan). */
	if (f->run_now && f->plan.run_now != PLAN_RUN_NOW_NONE)
		control_record_run_now(
		    &f->plan.status, f->run_now, now,
		    f->plan.run_now == PLAN_RUN_NOW_CREATED ? f->plan.run_now_job : NULL,
		    f->plan.run_now == PLAN_RUN_NOW_REFUSED ? f->plan.run_now_refused : NULL, NULL,
		    0);
	spec_status_copy(&f->status, &f->plan.status);
	/* The status survives a restart only through JSON: go through it. */
	cJSON *json = spec_status_to_json(&f->status);
	cJSON *obj = cJSON_CreateObject();
	cJSON_AddItemToObject(obj, "status", json);
	spec_status_release(&f->status);
	spec_status_parse(obj, &f->status);
	cJSON_Delete(obj);
	return &f->plan;
}

/* Carries out the actions: creates become running Jobs with one pod;
 * foreground deletes mark the Job deleting; background deletes remove it. */
static void apply(struct fx *f)
{
	for (size_t i = 0; i < f->plan.n_actions; i++) {
		const struct plan_action *a = &f->plan.actions[i];
		if (a->kind == PLAN_CREATE_JOB) {
			if (!find(f, a->job_name))
				add_run(f, a->job_name, a->slot)->trigger = a->trigger;
		} else if (a->kind == PLAN_DELETE_JOB) {
			if (a->propagation == PLAN_PROPAGATION_FOREGROUND) {
				struct plan_run *r = find(f, a->job_name);
				if (r)
					r->deleting = true;
			} else {
				remove_run(f, a->job_name);
			}
		}
	}
}

static size_t count_kind(const struct plan *p, enum plan_action_kind k)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_actions; i++)
		n += p->actions[i].kind == k;
	return n;
}

static const struct plan_action *the_create(const struct plan *p)
{
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 1);
	for (size_t i = 0; i < p->n_actions; i++)
		if (p->actions[i].kind == PLAN_CREATE_JOB)
			return &p->actions[i];
	return NULL;
}

static const struct plan_action *event(const struct plan *p, const char *reason)
{
	for (size_t i = 0; i < p->n_actions; i++)
		if (p->actions[i].kind == PLAN_EVENT && strcmp(p->actions[i].reason, reason) == 0)
			return &p->actions[i];
	return NULL;
}

static void assert_condition(const struct spec_status *st, const char *type, const char *status,
			     const char *reason)
{
	const struct spec_condition *c = spec_status_condition(st, type);
	if (!c)
		fail_msg("no %s condition", type);
	if (strcmp(c->status, status) != 0 || strcmp(c->reason, reason) != 0)
		fail_msg("%s is %s/%s (%s), want %s/%s", type, c->status, c->reason, c->message,
			 status, reason);
}

static char *job(int64_t slot_ms)
{
	static char name[SPEC_JOB_NAME_MAX + 1];
	assert_int_equal(spec_job_name("bs", slot_ms, name, sizeof(name)), 0);
	return name;
}

/* The run that answers run-now request `id`. */
static char *rn_job(const char *id)
{
	static char name[SPEC_JOB_NAME_MAX + 1];
	assert_int_equal(spec_request_job_name("bs", id, name, sizeof(name)), 0);
	return name;
}

#define EVERY_SECOND "\"schedule\":\"* * * * * *\""

/* ---- first sight, firing, the cursor ------------------------------------- */

static void test_first_sight_never_fires_retroactively(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	struct plan *p = step(f, T0 + 500);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.cursor, T0 + 500);
	assert_int_equal(f->status.observed_generation, 1);
	assert_int_equal(f->status.next_schedule_time, T0 + 1000);
	assert_int_equal(p->wake, T0 + 1000);
	assert_int_equal(p->next_slot, T0 + 1000);
	assert_condition(&f->status, "Ready", "True", "Valid");
	assert_condition(&f->status, "Suspended", "False", "Active");
	assert_condition(&f->status, "CalendarReady", "True", "NoCalendar");
	assert_string_equal(f->status.time_zone, "UTC");
	assert_int_equal(f->status.counters.missed, 0);
	fx_free(f);
}

static void test_due_slot_fires_once(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0 + 500);
	struct plan *p = step(f, T0 + 1003);
	const struct plan_action *c = the_create(p);
	assert_string_equal(c->job_name, "bs-1772409601");
	assert_int_equal(c->slot, T0 + 1000);
	assert_int_equal(c->trigger, SPEC_TRIGGER_SCHEDULE);
	assert_int_equal(f->status.counters.runs_started, 1);
	assert_int_equal(f->status.last_schedule_time, T0 + 1000);
	assert_int_equal(f->status.n_active, 1);
	assert_string_equal(f->status.active[0].name, "bs-1772409601");
	assert_int_equal(f->status.next_schedule_time, T0 + 2000);
	/* The same instant again (a second reconcile): nothing more. */
	apply(f);
	p = step(f, T0 + 1003);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.runs_started, 1);
	/* The slot exactly at now fires (slot <= now). */
	finish(f, "bs-1772409601", true, T0 + 1500, 0);
	p = step(f, T0 + 2000);
	assert_int_equal(the_create(p)->slot, T0 + 2000);
	fx_free(f);
}

static void test_deadline_boundary(void **state)
{
	/* now - slot == deadline fires; one millisecond more is missed. */
	const int64_t offsets[] = {0, 4999, 5000, 5001, 59999};
	const bool fires[] = {true, true, true, false, false};
	for (size_t i = 0; i < 5; i++) {
		struct fx *f =
		    fx_new("\"schedule\":\"0 * * * * *\",\"startingDeadlineSeconds\":5", 1);
		step(f, T0 + 1);
		struct plan *p = step(f, T0 + 60000 + offsets[i]);
		if (fires[i]) {
			assert_int_equal(the_create(p)->slot, T0 + 60000);
			assert_int_equal(f->status.counters.missed, 0);
		} else {
			assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
			assert_int_equal(f->status.counters.missed, 1);
			assert_non_null(event(p, "Missed"));
			assert_int_equal(event(p, "Missed")->event_type, PLAN_EVENT_WARNING);
		}
		fx_free(f);
	}
}

static void test_deadline_zero(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 * * * * *\",\"startingDeadlineSeconds\":0", 1);
	step(f, T0 + 1);
	assert_int_equal(the_create(step(f, T0 + 60000))->slot, T0 + 60000);
	fx_free(f);
	f = fx_new("\"schedule\":\"0 * * * * *\",\"startingDeadlineSeconds\":0", 1);
	step(f, T0 + 1);
	assert_int_equal(count_kind(step(f, T0 + 60001), PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.missed, 1);
	fx_free(f);
}

/* ---- missed slots ----------------------------------------------------------- */

struct missed_case {
	const char *spec;
	int64_t now;	 /* after a first sight at T0 */
	int64_t created; /* slot created, or -1 */
	int64_t missed;
};

static const struct missed_case missed_cases[] = {
    /* Latest without a deadline: the most recent, however late. */
    {EVERY_SECOND, T0 + 5200, T0 + 5000, 4},
    {"\"schedule\":\"0 0 * * * *\"", T0 + 3 * 3600000 + 1800000, T0 + 3 * 3600000, 2},
    /* Latest with a deadline: the most recent only if within it. */
    {EVERY_SECOND ",\"startingDeadlineSeconds\":2", T0 + 5200, T0 + 5000, 4},
    {"\"schedule\":\"*/10 * * * * *\",\"startingDeadlineSeconds\":1", T0 + 32000, -1, 3},
    {"\"schedule\":\"*/10 * * * * *\",\"startingDeadlineSeconds\":2", T0 + 32000, T0 + 30000, 2},
    /* None: several due slots are all missed. */
    {EVERY_SECOND ",\"missedRunPolicy\":\"None\"", T0 + 5200, -1, 5},
    {EVERY_SECOND ",\"missedRunPolicy\":\"None\"", T0 + 1200, T0 + 1000, 0},
    /* None, one slot: on time within the deadline, else 60 s. */
    {"\"schedule\":\"0 */5 * * * *\",\"missedRunPolicy\":\"None\"", T0 + 300000 + 59000,
     T0 + 300000, 0},
    {"\"schedule\":\"0 */5 * * * *\",\"missedRunPolicy\":\"None\"", T0 + 300000 + 61000, -1, 1},
    {"\"schedule\":\"0 */5 * * * *\",\"missedRunPolicy\":\"None\",\"startingDeadlineSeconds\":120",
     T0 + 300000 + 119000, T0 + 300000, 0},
    {"\"schedule\":\"0 */5 * * * *\",\"missedRunPolicy\":\"None\",\"startingDeadlineSeconds\":3",
     T0 + 300000 + 3001, -1, 1},
};

static void test_missed_slots_table(void **state)
{
	for (size_t i = 0; i < sizeof(missed_cases) / sizeof(missed_cases[0]); i++) {
		const struct missed_case *c = &missed_cases[i];
		struct fx *f = fx_new(c->spec, 1);
		step(f, T0);
		struct plan *p = step(f, c->now);
		size_t creates = count_kind(p, PLAN_CREATE_JOB);
		if (c->created < 0 ? creates != 0
				   : creates != 1 || the_create(p)->slot != c->created)
			fail_msg("case %zu: %zu creates (first slot %lld), want %lld", i, creates,
				 creates ? (long long)p->actions[0].slot : -1LL,
				 (long long)c->created);
		if (f->status.counters.missed != c->missed)
			fail_msg("case %zu: missed %lld, want %lld", i,
				 (long long)f->status.counters.missed, (long long)c->missed);
		if (c->missed > 0) {
			int64_t sum = 0;
			for (size_t k = 0; k < p->n_actions; k++)
				if (p->actions[k].kind == PLAN_EVENT &&
				    strcmp(p->actions[k].reason, "Missed") == 0)
					sum += p->actions[k].count;
			assert_int_equal(sum, c->missed);
		}
		/* The cursor is the latest slot passed. */
		assert_true(f->status.cursor <= c->now && f->status.cursor > c->now - 3600000);
		assert_int_equal(f->status.cursor % 1000, 0);
		fx_free(f);
	}
}

/* Downtime longer than the scan window: bounded work, the latest fires. */
static void test_long_downtime_is_bounded(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0);
	int64_t now = T0 + 3 * 86400000LL + 250;
	struct plan *p = step(f, now);
	assert_int_equal(the_create(p)->slot, now - 250);
	/* 259200 slots: the walk stops at PLAN_SCAN_MAX, the count is a
	 * lower bound. */
	assert_true(f->status.counters.missed >= PLAN_SCAN_MAX - 1);
	assert_true(f->status.counters.missed < 3 * 86400);
	assert_int_equal(f->status.cursor, now - 250);
	fx_free(f);
}

/* ---- the clock ---------------------------------------------------------------- */

static void test_clock_steps_back(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0 + 100);
	assert_int_equal(the_create(step(f, T0 + 1000))->slot, T0 + 1000);
	apply(f);
	finish(f, job(T0 + 1000), true, T0 + 1100, 0);
	/* Back by 900 ms, then forward again through the slot: no refire. */
	struct plan *p = step(f, T0 + 100);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(p->wake, T0 + 2000);
	assert_int_equal(f->status.next_schedule_time, T0 + 2000);
	p = step(f, T0 + 1000);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	p = step(f, T0 + 1999);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	p = step(f, T0 + 2000);
	assert_int_equal(the_create(p)->slot, T0 + 2000);
	assert_int_equal(f->status.counters.runs_started, 2);
	fx_free(f);
}

static void test_clock_steps_forward(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"*/10 * * * * *\"", 1);
	step(f, T0 + 100);
	/* A jump of an hour: the slots in between are missed, the latest runs. */
	struct plan *p = step(f, T0 + 3600000 + 100);
	assert_int_equal(the_create(p)->slot, T0 + 3600000);
	assert_int_equal(f->status.counters.missed, 359);
	assert_int_equal(p->wake, T0 + 3610000);
	fx_free(f);
}

/* A forward excursion: the clock runs a day ahead, a slot is decided there
 * (the cursor a day ahead is persisted), then the clock comes back. The
 * cursor is not trusted: a ClockSkew Warning naming both instants, the
 * cursor written back to now, the next slot at its real time — not a day
 * of silence. Nothing is counted for the slots the excursion passed. */
static void test_clock_excursion_forward_replans_from_now(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"*/10 * * * * *\"", 1);
	step(f, T0 + 100);
	const int64_t day = INT64_C(86400000);
	struct plan *p = step(f, T0 + day + 100);
	assert_int_equal(the_create(p)->slot, T0 + day);
	apply(f);
	finish(f, job(T0 + day), true, T0 + day + 500, 0);
	assert_int_equal(f->status.cursor, T0 + day);
	struct spec_counters before = f->status.counters;

	p = step(f, T0 + 20100);
	const struct plan_action *e = event(p, "ClockSkew");
	assert_non_null(e);
	assert_int_equal(e->event_type, PLAN_EVENT_WARNING);
	assert_non_null(strstr(e->message, "2026-03-03T00:00:00Z")); /* the cursor */
	assert_non_null(strstr(e->message, "2026-03-02T00:00:20Z")); /* now */
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.cursor, T0 + 20100);
	assert_int_equal(f->status.next_schedule_time, T0 + 30000);
	assert_int_equal(p->wake, T0 + 30000);
	assert_int_equal(f->status.counters.runs_started, before.runs_started);
	assert_int_equal(f->status.counters.missed, before.missed);
	assert_int_equal(f->status.counters.skipped_overlap, before.skipped_overlap);
	assert_int_equal(f->status.counters.skipped_calendar, before.skipped_calendar);

	/* The next slot fires at its own time; the Warning is not repeated. */
	p = step(f, T0 + 30000);
	assert_int_equal(the_create(p)->slot, T0 + 30000);
	assert_null(event(p, "ClockSkew"));
	assert_int_equal(f->status.counters.missed, before.missed);
	fx_free(f);
}

/* Within PLAN_CURSOR_SKEW_MS the cursor is trusted (a clock stepped back,
 * replicas' clocks that differ): nothing at or before it fires again; one
 * millisecond beyond, it is replanned. */
static void test_clock_skew_tolerance_boundary(void **state)
{
	for (int beyond = 0; beyond <= 1; beyond++) {
		struct fx *f = fx_new(EVERY_SECOND ",\"concurrencyPolicy\":\"Allow\"", 1);
		step(f, T0);
		int64_t ahead = T0 + PLAN_CURSOR_SKEW_MS + 10000;
		assert_int_equal(the_create(step(f, ahead))->slot, ahead);
		int64_t now = ahead - PLAN_CURSOR_SKEW_MS - beyond;
		struct plan *p = step(f, now);
		if (beyond) {
			assert_non_null(event(p, "ClockSkew"));
			assert_int_equal(f->status.cursor, now);
			assert_int_equal(p->wake, now - now % 1000 + 1000);
		} else {
			assert_null(event(p, "ClockSkew"));
			assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
			assert_int_equal(f->status.cursor, ahead);
			assert_int_equal(p->wake, ahead + 1000);
		}
		fx_free(f);
	}
}

/* ---- concurrency --------------------------------------------------------------- */

static void test_forbid_skips_while_active(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0);
	step(f, T0 + 1000);
	apply(f);
	struct plan *p = step(f, T0 + 2000);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.skipped_overlap, 1);
	const struct plan_action *e = event(p, "SkippedOverlap");
	assert_non_null(e);
	assert_int_equal(e->count, 1);
	assert_int_equal(e->event_type, PLAN_EVENT_NORMAL);
	assert_int_equal(f->status.cursor, T0 + 2000);
	fx_free(f);
}

/* The Job finished but a pod is still terminating: still active. */
static void test_forbid_with_terminating_pod(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0);
	step(f, T0 + 1000);
	apply(f);
	finish(f, job(T0 + 1000), true, T0 + 1500, 1);
	struct plan *p = step(f, T0 + 2000);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.skipped_overlap, 1);
	assert_int_equal(f->status.n_active, 1);
	assert_int_equal(f->status.counters.runs_succeeded, 0);
	/* The pod is gone: the run leaves active, counted once. */
	find(f, job(T0 + 1000))->pods_present = 0;
	p = step(f, T0 + 3000);
	assert_int_equal(the_create(p)->slot, T0 + 3000);
	assert_int_equal(f->status.counters.runs_succeeded, 1);
	assert_int_equal(f->status.last_successful_time, T0 + 1500);
	apply(f);
	p = step(f, T0 + 3500);
	assert_int_equal(f->status.counters.runs_succeeded, 1);
	fx_free(f);
}

/* Pods whose Job is already gone still block. */
static void test_forbid_with_orphan_pods(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0);
	f->orphan_pods = 1;
	struct plan *p = step(f, T0 + 1000);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.skipped_overlap, 1);
	f->orphan_pods = 0;
	assert_int_equal(the_create(step(f, T0 + 2000))->slot, T0 + 2000);
	fx_free(f);
}

/* A Job we created but have not seen yet counts as active. */
static void test_expectation_blocks_one_second_schedule(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0);
	struct plan *p = step(f, T0 + 1000);
	const struct plan_action *c = the_create(p);
	static char name[SPEC_JOB_NAME_MAX + 1];
	snprintf(name, sizeof(name), "%s", c->job_name);
	f->exp[0] = (struct plan_expectation){name, c->slot, SPEC_TRIGGER_SCHEDULE, NULL};
	f->n_exp = 1;
	/* The status write of the first plan was lost: only the expectation
	 * remembers the Job. */
	for (size_t i = 0; i < f->status.n_active; i++) {
		free(f->status.active[i].name);
		free(f->status.active[i].uid);
	}
	f->status.n_active = 0;
	p = step(f, T0 + 2000);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.skipped_overlap, 1);
	assert_int_equal(f->status.n_active, 1);
	assert_string_equal(f->status.active[0].name, name);
	assert_null(f->status.active[0].uid);
	/* Seen, finished, gone: the next slot runs. */
	f->n_exp = 0;
	add_run(f, name, T0 + 1000);
	finish(f, name, false, T0 + 2500, 0);
	p = step(f, T0 + 3000);
	assert_int_equal(the_create(p)->slot, T0 + 3000);
	fx_free(f);
}

/* The POST's answer gives the Job's uid before the watch shows the Job: the
 * active entry carries it, and the watched Job then changes nothing. */
static void test_expectation_uid_carried(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"*/10 * * * * *\"", 1);
	step(f, T0);
	struct plan *p = step(f, T0 + 10000);
	static char name[SPEC_JOB_NAME_MAX + 1];
	snprintf(name, sizeof(name), "%s", the_create(p)->job_name);
	f->exp[0] = (struct plan_expectation){name, T0 + 10000, SPEC_TRIGGER_SCHEDULE, "uid-1"};
	f->n_exp = 1;
	step(f, T0 + 10100);
	assert_int_equal(f->status.n_active, 1);
	assert_string_equal(f->status.active[0].uid, "uid-1");
	cJSON *before = spec_status_to_json(&f->status);
	/* Seen in the watch: the expectation goes, the run has the same uid. */
	f->n_exp = 0;
	add_run(f, name, T0 + 10000)->uid = "uid-1";
	step(f, T0 + 10200);
	cJSON *after = spec_status_to_json(&f->status);
	assert_true(cJSON_Compare(before, after, 1));
	cJSON_Delete(before);
	cJSON_Delete(after);
	fx_free(f);
}

static void test_allow_overlaps(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND ",\"concurrencyPolicy\":\"Allow\"", 1);
	step(f, T0);
	step(f, T0 + 1000);
	apply(f);
	struct plan *p = step(f, T0 + 2000);
	assert_int_equal(the_create(p)->slot, T0 + 2000);
	apply(f);
	assert_int_equal(f->status.n_active, 2);
	assert_int_equal(f->status.counters.skipped_overlap, 0);
	fx_free(f);
}

static void test_replace_deletes_then_creates(void **state)
{
	struct fx *f =
	    fx_new("\"schedule\":\"*/10 * * * * *\",\"concurrencyPolicy\":\"Replace\"", 1);
	step(f, T0 + 1);
	step(f, T0 + 10000);
	apply(f);
	/* Next slot: the old run is deleted (foreground), the new one waits. */
	struct plan *p = step(f, T0 + 20000);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(count_kind(p, PLAN_DELETE_JOB), 1);
	assert_string_equal(p->actions[0].job_name, job(T0 + 10000));
	assert_int_equal(p->actions[0].propagation, PLAN_PROPAGATION_FOREGROUND);
	assert_non_null(event(p, "Replacing"));
	assert_int_equal(f->status.pending_slot, T0 + 20000);
	apply(f);
	/* Being deleted, pods terminating: no second delete, still waiting. */
	p = step(f, T0 + 20500);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(count_kind(p, PLAN_DELETE_JOB), 0);
	assert_int_equal(f->status.pending_slot, T0 + 20000);
	/* Gone: the waiting slot runs now, under its own name. */
	remove_run(f, job(T0 + 10000));
	p = step(f, T0 + 21000);
	const struct plan_action *c = the_create(p);
	assert_int_equal(c->slot, T0 + 20000);
	assert_string_equal(c->job_name, job(T0 + 20000));
	assert_int_equal(f->status.pending_slot, SPEC_TIME_UNSET);
	assert_int_equal(f->status.counters.runs_started, 2);
	/* The deleted run was neither a success nor a failure. */
	assert_int_equal(f->status.counters.runs_failed, 0);
	fx_free(f);
}

static void test_replace_pending_past_deadline_is_missed(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 * * * * *\",\"concurrencyPolicy\":\"Replace\","
			      "\"startingDeadlineSeconds\":5",
			      1);
	step(f, T0 + 1);
	step(f, T0 + 60000);
	apply(f);
	struct plan *p = step(f, T0 + 120000);
	apply(f);
	assert_int_equal(f->status.pending_slot, T0 + 120000);
	/* Woken when the deadline passes, even without an event. */
	assert_int_equal(p->wake, T0 + 125001);
	p = step(f, T0 + 125001);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.missed, 1);
	assert_int_equal(f->status.pending_slot, SPEC_TIME_UNSET);
	fx_free(f);
}

/* A newer slot supersedes one still waiting for Replace. */
static void test_replace_pending_superseded(void **state)
{
	struct fx *f =
	    fx_new("\"schedule\":\"*/10 * * * * *\",\"concurrencyPolicy\":\"Replace\"", 1);
	step(f, T0 + 1);
	step(f, T0 + 10000);
	apply(f);
	step(f, T0 + 20000);
	apply(f);
	struct plan *p = step(f, T0 + 30000);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.pending_slot, T0 + 30000);
	assert_int_equal(f->status.counters.missed, 1);
	fx_free(f);
}

/* ---- runs: counted once, deleted by hand, killed ------------------------------------ */

static void test_runs_counted_once(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND ",\"concurrencyPolicy\":\"Allow\"", 1);
	step(f, T0);
	step(f, T0 + 1000);
	apply(f);
	step(f, T0 + 2000);
	apply(f);
	finish(f, job(T0 + 1000), false, T0 + 2100, 0);
	finish(f, job(T0 + 2000), true, T0 + 2200, 0);
	step(f, T0 + 2300);
	assert_int_equal(f->status.counters.runs_failed, 1);
	assert_int_equal(f->status.counters.runs_succeeded, 1);
	assert_int_equal(f->status.n_active, 0);
	step(f, T0 + 2400);
	step(f, T0 + 2500);
	assert_int_equal(f->status.counters.runs_failed, 1);
	assert_int_equal(f->status.counters.runs_succeeded, 1);
	assert_int_equal(f->status.last_successful_time, T0 + 2200);
	fx_free(f);
}

static void test_job_deleted_by_hand(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0);
	step(f, T0 + 1000);
	apply(f);
	assert_int_equal(f->status.n_active, 1);
	remove_run(f, job(T0 + 1000));
	struct plan *p = step(f, T0 + 2000);
	assert_int_equal(the_create(p)->slot, T0 + 2000);
	assert_int_equal(f->status.n_active, 1);
	assert_string_equal(f->status.active[0].name, job(T0 + 2000));
	assert_int_equal(f->status.counters.runs_failed, 0);
	assert_int_equal(f->status.counters.runs_succeeded, 0);
	fx_free(f);
}

static void test_killed_run_not_counted_failed(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0);
	step(f, T0 + 1000);
	apply(f);
	finish(f, job(T0 + 1000), false, T0 + 1400, 0);
	find(f, job(T0 + 1000))->killed = true;
	struct plan *p = step(f, T0 + 2000);
	assert_int_equal(the_create(p)->slot, T0 + 2000);
	assert_int_equal(f->status.counters.runs_failed, 0);
	fx_free(f);
}

/* ---- edits and suspend ------------------------------------------------------------ */

static void test_edit_during_run(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0);
	step(f, T0 + 1000);
	apply(f);
	/* Edited at T0+5500 (generation 2): the cursor restarts, the slots
	 * before the edit are neither run nor missed. */
	fx_edit(f, "\"schedule\":\"*/2 * * * * *\"", 2);
	struct plan *p = step(f, T0 + 5500);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.missed, 0);
	assert_int_equal(f->status.counters.skipped_overlap, 0);
	assert_int_equal(f->status.cursor, T0 + 5500);
	assert_int_equal(f->status.observed_generation, 2);
	assert_int_equal(f->status.next_schedule_time, T0 + 6000);
	/* The old run is still active and still blocks (Forbid). */
	assert_int_equal(f->status.n_active, 1);
	p = step(f, T0 + 6000);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.skipped_overlap, 1);
	finish(f, job(T0 + 1000), true, T0 + 6500, 0);
	p = step(f, T0 + 8000);
	assert_int_equal(the_create(p)->slot, T0 + 8000);
	fx_free(f);
}

static void test_suspend_and_resume(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND ",\"suspend\":true", 1);
	struct plan *p = step(f, T0);
	assert_condition(&f->status, "Suspended", "True", "Suspended");
	assert_int_equal(p->wake, SPEC_TIME_UNSET);
	assert_int_equal(f->status.next_schedule_time, SPEC_TIME_UNSET);
	p = step(f, T0 + 5000);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.cursor, T0);
	assert_int_equal(f->status.counters.missed, 0);
	/* Resumed at T0+9300: the suspended slots never run. */
	fx_edit(f, EVERY_SECOND ",\"suspend\":false", 2);
	p = step(f, T0 + 9300);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_condition(&f->status, "Suspended", "False", "Active");
	assert_int_equal(f->status.counters.missed, 0);
	assert_int_equal(p->wake, T0 + 10000);
	assert_int_equal(the_create(step(f, T0 + 10000))->slot, T0 + 10000);
	fx_free(f);
}

/* Suspending does not touch the runs: they finish and are counted. */
static void test_suspend_keeps_tracking_runs(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0);
	step(f, T0 + 1000);
	apply(f);
	fx_edit(f, EVERY_SECOND ",\"suspend\":true", 2);
	finish(f, job(T0 + 1000), true, T0 + 1800, 0);
	struct plan *p = step(f, T0 + 2000);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(count_kind(p, PLAN_DELETE_JOB), 0);
	assert_int_equal(f->status.counters.runs_succeeded, 1);
	assert_int_equal(f->status.n_active, 0);
	fx_free(f);
}

/* ---- history ---------------------------------------------------------------------- */

static void test_history_trimming(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 * * * *\",\"successfulJobsHistoryLimit\":2,"
			      "\"failedJobsHistoryLimit\":1",
			      1);
	step(f, T0);
	char name[32];
	for (int i = 1; i <= 4; i++) { /* succeeded at slots 1..4 */
		snprintf(name, sizeof(name), "bs-%d", i);
		add_run(f, name, i * 1000);
		finish(f, name, true, i * 1000 + 10, 0);
	}
	for (int i = 5; i <= 7; i++) { /* failed at slots 5..7 */
		snprintf(name, sizeof(name), "bs-%d", i);
		add_run(f, name, i * 1000);
		finish(f, name, false, i * 1000 + 10, 0);
	}
	/* Old, but a pod is still terminating: kept for now. */
	add_run(f, "bs-0", 0);
	finish(f, "bs-0", true, 10, 1);
	/* Already being deleted: not deleted again. */
	add_run(f, "bs-8", 8000);
	finish(f, "bs-8", false, 8010, 0);
	find(f, "bs-8")->deleting = true;
	/* Active: never trimmed. */
	add_run(f, "bs-9", 9000);

	struct plan *p = step(f, T0 + 10);
	const char *want[] = {"bs-2", "bs-1", "bs-6", "bs-5"};
	size_t n = 0;
	for (size_t i = 0; i < p->n_actions; i++) {
		if (p->actions[i].kind != PLAN_DELETE_JOB)
			continue;
		assert_true(n < 4);
		assert_string_equal(p->actions[i].job_name, want[n]);
		assert_int_equal(p->actions[i].propagation, PLAN_PROPAGATION_BACKGROUND);
		n++;
	}
	assert_int_equal(n, 4);
	apply(f);
	p = step(f, T0 + 20);
	assert_int_equal(count_kind(p, PLAN_DELETE_JOB), 0);
	/* Limits of 0 keep nothing. */
	fx_edit(f,
		"\"schedule\":\"0 0 * * * *\",\"successfulJobsHistoryLimit\":0,"
		"\"failedJobsHistoryLimit\":0",
		2);
	p = step(f, T0 + 30);
	assert_int_equal(count_kind(p, PLAN_DELETE_JOB), 3); /* bs-3, bs-4, bs-7 */
	fx_free(f);
}

/* ---- failed creates ------------------------------------------------------------------ */

#define RESTART_ALWAYS                                                                             \
	"spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""

/* The step's create of `a` failed with that answer: its status is not
 * written (`before` is persisted instead), the next step is told. */
static void fail_create(struct fx *f, const struct plan_action *a, const struct spec_status *before,
			int code, const char *reason, const char *message)
{
	assert_true(f->n_fails < 4);
	size_t i = f->n_fails++;
	snprintf(f->fail_names[i], sizeof(f->fail_names[i]), "%s", a->job_name);
	f->fails[i] = (struct plan_create_failure){.job_name = f->fail_names[i],
						   .slot = a->slot,
						   .trigger = a->trigger,
						   .code = code,
						   .reason = reason,
						   .message = message};
	spec_status_copy(&f->status, before);
}

/* A create the apiserver refuses for good (422: restartPolicy Always).
 * The next decision, told, does not create it again: the slot counts as
 * missed (not started), the cursor is past it, a Warning Event and
 * Ready=False carry the apiserver's answer, and the next slot is woken at
 * its own time. Ready stays False between slots, and the next create that
 * succeeds (its status is written only then) makes it True again. */
static void test_create_refused_for_good(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"*/10 * * * * *\"", 1);
	step(f, T0 + 100);
	struct spec_status before;
	spec_status_init(&before);
	spec_status_copy(&before, &f->status);
	struct plan *p = step(f, T0 + 10000);
	fail_create(f, the_create(p), &before, 422, "Invalid", RESTART_ALWAYS);

	p = step(f, T0 + 10060);
	f->n_fails = 0;
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.missed, 1);
	assert_int_equal(f->status.counters.runs_started, 0);
	assert_int_equal(f->status.n_active, 0);
	assert_int_equal(f->status.last_schedule_time, SPEC_TIME_UNSET);
	assert_int_equal(f->status.cursor, T0 + 10000);
	assert_int_equal(p->wake, T0 + 20000);
	const struct plan_action *e = event(p, "FailedCreate");
	assert_non_null(e);
	assert_int_equal(e->event_type, PLAN_EVENT_WARNING);
	char want[512];
	snprintf(want, sizeof(want),
		 "Job %s (slot 2026-03-02T00:00:10Z) was refused by the apiserver: 422 Invalid: "
		 "%s; not retried",
		 job(T0 + 10000), RESTART_ALWAYS);
	assert_string_equal(e->message, want);
	assert_null(event(p, "Missed"));
	assert_condition(&f->status, "Ready", "False", "FailedCreate");
	const struct spec_condition *c = spec_status_condition(&f->status, "Ready");
	assert_string_equal(c->message, want);
	assert_int_equal(c->last_transition, T0 + 10060);

	/* Between slots (a watch event): nothing changes, Ready stays. */
	cJSON *a = spec_status_to_json(&f->status);
	p = step(f, T0 + 15000);
	cJSON *b = spec_status_to_json(&f->status);
	assert_true(cJSON_Compare(a, b, 1));
	cJSON_Delete(a);
	cJSON_Delete(b);
	assert_int_equal(p->n_actions, 0);

	/* Refused again at the next slot: the new answer, the same
	 * transition time. */
	spec_status_copy(&before, &f->status);
	p = step(f, T0 + 20000);
	assert_condition(&p->status, "Ready", "True", "Valid");
	fail_create(f, the_create(p), &before, 422, "Invalid", RESTART_ALWAYS);
	p = step(f, T0 + 20050);
	f->n_fails = 0;
	assert_int_equal(f->status.counters.missed, 2);
	assert_condition(&f->status, "Ready", "False", "FailedCreate");
	c = spec_status_condition(&f->status, "Ready");
	assert_non_null(strstr(c->message, job(T0 + 20000)));
	assert_int_equal(c->last_transition, T0 + 10060);

	/* The template is fixed outside the spec's view (say an admission
	 * policy was lifted): the next create succeeds and is written. */
	p = step(f, T0 + 30000);
	assert_int_equal(the_create(p)->slot, T0 + 30000);
	apply(f);
	assert_condition(&f->status, "Ready", "True", "Valid");
	assert_int_equal(f->status.counters.runs_started, 1);
	spec_status_release(&before);
	fx_free(f);
}

/* The decision told of a refusal comes only after the next slot is due
 * (the retry waited): the refused slot is missed, the Event still says
 * why, the new slot is created — and Ready stays True, since that plan is
 * written only if its create succeeds. */
static void test_create_refused_told_after_next_slot(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"*/10 * * * * *\"", 1);
	step(f, T0 + 100);
	struct spec_status before;
	spec_status_init(&before);
	spec_status_copy(&before, &f->status);
	fail_create(f, the_create(step(f, T0 + 10000)), &before, 422, "Invalid", RESTART_ALWAYS);
	struct plan *p = step(f, T0 + 20100);
	f->n_fails = 0;
	assert_int_equal(the_create(p)->slot, T0 + 20000);
	assert_non_null(event(p, "FailedCreate"));
	assert_int_equal(f->status.counters.missed, 1);
	assert_condition(&f->status, "Ready", "True", "Valid");
	spec_status_release(&before);
	fx_free(f);
}

/* Editing the spec (fixing the template) clears FailedCreate at once: the
 * condition described the spec that was refused. */
static void test_create_refused_edit_recovers(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"*/10 * * * * *\"", 1);
	step(f, T0 + 100);
	struct spec_status before;
	spec_status_init(&before);
	spec_status_copy(&before, &f->status);
	fail_create(f, the_create(step(f, T0 + 10000)), &before, 403, "Forbidden",
		    "jobs.batch is forbidden: exceeded quota: q, requested: count/jobs.batch=1");
	step(f, T0 + 10060);
	f->n_fails = 0;
	assert_condition(&f->status, "Ready", "False", "FailedCreate");
	fx_edit(f, "\"schedule\":\"*/10 * * * * *\",\"suspend\":false", 2);
	struct plan *p = step(f, T0 + 12000);
	assert_condition(&f->status, "Ready", "True", "Valid");
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	spec_status_release(&before);
	fx_free(f);
}

/* A create that failed otherwise (no answer, 5xx, 429, a conflict) is
 * created again while its slot is due, with a Warning Event; Ready stays
 * True. Past startingDeadlineSeconds it is missed like any late slot. */
static void test_create_failed_transiently_retried(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"*/10 * * * * *\",\"startingDeadlineSeconds\":5", 1);
	step(f, T0 + 100);
	struct spec_status before;
	spec_status_init(&before);
	spec_status_copy(&before, &f->status);
	struct plan *p = step(f, T0 + 10000);
	fail_create(f, the_create(p), &before, 503, "ServiceUnavailable",
		    "etcdserver: leader changed");
	p = step(f, T0 + 10100);
	f->n_fails = 0;
	assert_int_equal(the_create(p)->slot, T0 + 10000);
	const struct plan_action *e = event(p, "FailedCreate");
	assert_non_null(e);
	assert_string_equal(
	    e->message, "Job bs-1772409610 (slot 2026-03-02T00:00:10Z) was not created: 503 "
			"ServiceUnavailable: etcdserver: leader changed; retried while the slot "
			"is due");
	assert_condition(&p->status, "Ready", "True", "Valid");

	/* No answer at all, and the retry comes past the deadline. */
	fail_create(f, the_create(p), &before, 0, "", "Operation timed out");
	p = step(f, T0 + 15001);
	f->n_fails = 0;
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_non_null(
	    strstr(event(p, "FailedCreate")->message, "no answer: Operation timed out"));
	assert_non_null(event(p, "Missed"));
	assert_int_equal(f->status.counters.missed, 1);
	assert_condition(&f->status, "Ready", "True", "Valid");
	assert_int_equal(p->wake, T0 + 20000);
	spec_status_release(&before);
	fx_free(f);
}

/* Which answers are refusals for good. */
static void test_create_failure_classes(void **state)
{
	static const int permanent[] = {400, 403, 404, 405, 413, 415, 422};
	static const int transient[] = {0, 401, 408, 409, 429, 500, 502, 503, 504};
	struct plan_create_failure cf = {.job_name = "x"};
	for (size_t i = 0; i < sizeof(permanent) / sizeof(*permanent); i++) {
		cf.code = permanent[i];
		if (!plan_create_failure_permanent(&cf))
			fail_msg("%d should be a refusal for good", cf.code);
	}
	for (size_t i = 0; i < sizeof(transient) / sizeof(*transient); i++) {
		cf.code = transient[i];
		if (plan_create_failure_permanent(&cf))
			fail_msg("%d should be retried", cf.code);
	}
}

/* A run-now whose Job is refused for good: the request is refused with
 * the apiserver's answer (recorded in lastRunNow), nothing is created
 * again, and Ready says why. */
static void test_run_now_refused_for_good(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 * * * *\"", 1);
	step(f, T0);
	struct spec_status before;
	spec_status_init(&before);
	spec_status_copy(&before, &f->status);
	f->run_now = "req-1";
	struct plan *p = step(f, T0 + 5000);
	fail_create(f, the_create(p), &before, 422, "Invalid", RESTART_ALWAYS);
	p = step(f, T0 + 5100);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(p->run_now, PLAN_RUN_NOW_REFUSED);
	char want[512];
	snprintf(want, sizeof(want), "the apiserver refused its Job %s: 422 Invalid: %s",
		 rn_job("req-1"), RESTART_ALWAYS);
	assert_string_equal(p->run_now_refused, want);
	assert_non_null(strstr(event(p, "FailedCreate")->message, "run-now at"));
	assert_condition(&f->status, "Ready", "False", "FailedCreate");
	assert_int_equal(f->status.counters.missed, 0);
	assert_int_equal(f->status.counters.runs_started, 0);
	spec_status_release(&before);
	fx_free(f);
}

/* ---- invalid spec ------------------------------------------------------------------ */

static void test_invalid_spec_ready_false(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"60 * * * *\"", 3);
	assert_true(f->invalid);
	struct plan *p = step(f, T0);
	assert_int_equal(p->n_actions, 0);
	assert_condition(&f->status, "Ready", "False", "InvalidSpec");
	assert_string_equal(spec_status_condition(&f->status, "Ready")->message,
			    "spec.schedule: minute: 60 is out of range 0-59");
	assert_int_equal(spec_status_condition(&f->status, "Ready")->observed_generation, 3);
	assert_int_equal(f->status.observed_generation, 3);
	assert_int_equal(p->wake, SPEC_TIME_UNSET);
	assert_int_equal(f->status.next_schedule_time, SPEC_TIME_UNSET);
	/* Fixed (an edit): Ready again, from the time of the fix. */
	fx_edit(f, EVERY_SECOND, 4);
	p = step(f, T0 + 7500);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_condition(&f->status, "Ready", "True", "Valid");
	assert_int_equal(spec_status_condition(&f->status, "Ready")->last_transition, T0 + 7500);
	assert_int_equal(p->wake, T0 + 8000);
	fx_free(f);

	f = fx_new(EVERY_SECOND ",\"timeZone\":\"Mars/Base\"", 1);
	step(f, T0);
	assert_string_equal(spec_status_condition(&f->status, "Ready")->message,
			    "spec.timeZone: unknown time zone \"Mars/Base\"");
	fx_free(f);
}

/* ---- run-now ---------------------------------------------------------------------- */

static void test_run_now(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 * * * *\"", 1);
	step(f, T0);
	f->run_now = "req-1";
	struct plan *p = step(f, T0 + 42700);
	const struct plan_action *c = the_create(p);
	assert_int_equal(c->trigger, SPEC_TRIGGER_RUN_NOW);
	assert_int_equal(c->slot, T0 + 42000);
	assert_string_equal(c->job_name, rn_job("req-1"));
	assert_string_equal(c->request_id, "req-1");
	assert_int_equal(p->run_now, PLAN_RUN_NOW_CREATED);
	assert_string_equal(p->run_now_job, rn_job("req-1"));
	assert_int_equal(f->status.last_schedule_time, SPEC_TIME_UNSET);
	assert_int_equal(f->status.counters.runs_started, 1);
	apply(f);
	/* Forbid while it runs: refused, with the reason. */
	f->run_now = "req-2";
	p = step(f, T0 + 50000);
	assert_int_equal(p->run_now, PLAN_RUN_NOW_REFUSED);
	assert_string_equal(p->run_now_refused, "a run is still active (concurrencyPolicy Forbid)");
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	fx_free(f);
}

/* The create of that trigger in p (exactly one), or a failure. */
static const struct plan_action *create_of(const struct plan *p, enum spec_trigger t)
{
	const struct plan_action *found = NULL;
	for (size_t i = 0; i < p->n_actions; i++) {
		if (p->actions[i].kind != PLAN_CREATE_JOB || p->actions[i].trigger != t)
			continue;
		assert_null(found);
		found = &p->actions[i];
	}
	if (!found)
		fail_msg("no create with trigger %s", spec_trigger_name(t));
	return found;
}

/* Run names (docs/api.md): the run that answers a run-now request is
 * named after the request id, not the clock. Two replicas answering one
 * request in different seconds name the same Job (the name is the lock:
 * one run); it is never a slot's name, not even the slot of that second;
 * another request is another run. */
static void test_run_now_named_after_request(void **state)
{
	const char *spec = EVERY_SECOND ",\"concurrencyPolicy\":\"Allow\"";
	struct fx *a = fx_new(spec, 1), *b = fx_new(spec, 1);
	step(a, T0);
	step(b, T0);
	a->run_now = b->run_now = "req-1";
	struct plan *pa = step(a, T0 + 1500);
	const struct plan_action *ra = create_of(pa, SPEC_TRIGGER_RUN_NOW);
	const struct plan_action *sa = create_of(pa, SPEC_TRIGGER_SCHEDULE);
	struct plan *pb = step(b, T0 + 2700);
	const struct plan_action *rb = create_of(pb, SPEC_TRIGGER_RUN_NOW);
	assert_string_equal(ra->job_name, rb->job_name);
	assert_string_equal(ra->job_name, rn_job("req-1"));
	assert_string_equal(pa->run_now_job, pb->run_now_job);
	/* Its scheduled time is the second the request was answered in. */
	assert_int_equal(ra->slot, T0 + 1000);
	assert_int_equal(rb->slot, T0 + 2000);
	/* Not the slot's run of that second. */
	assert_int_equal(sa->slot, T0 + 1000);
	assert_string_not_equal(ra->job_name, sa->job_name);
	assert_int_equal(strncmp(ra->job_name, "bs-r-", 5), 0);
	assert_int_equal(strlen(ra->job_name), strlen("bs-r-") + 8);
	assert_int_equal(a->status.counters.runs_started, 2);
	/* Another request: another run. */
	apply(a);
	a->run_now = "req-2";
	pa = step(a, T0 + 1600);
	assert_int_equal(pa->run_now, PLAN_RUN_NOW_CREATED);
	assert_string_equal(the_create(pa)->job_name, rn_job("req-2"));
	char first[SPEC_JOB_NAME_MAX + 1];
	snprintf(first, sizeof(first), "%s", rn_job("req-1"));
	assert_string_not_equal(first, rn_job("req-2"));
	fx_free(a);
	fx_free(b);
}

/* ---- calendar ---------------------------------------------------------------------- */

static void use_calendar(struct fx *f, const char *until)
{
	char text[512], err[256];
	snprintf(text, sizeof(text),
		 "{\"timeZone\":\"UTC\",\"validFrom\":\"2026-03-01\",\"validUntil\":\"%s\","
		 "\"holidays\":[\"2026-03-04\"]}",
		 until);
	cJSON *j = cJSON_Parse(text);
	if (f->cal)
		calendar_free(f->cal);
	f->cal = NULL;
	if (calendar_from_spec_json(j, NULL, 0, &f->cal, err, sizeof(err)))
		fail_msg("calendar: %s", err);
	cJSON_Delete(j);
	if (!f->cal_zone)
		assert_int_equal(tz_load("UTC", &f->cal_zone, err, sizeof(err)), 0);
	f->cal_state = PLAN_CALENDAR_OK;
}

#define DAILY_9_CAL "\"schedule\":\"0 0 9 * * *\",\"calendar\":{\"name\":\"krx\"}"

static void test_calendar_business_days(void **state)
{
	struct fx *f = fx_new(DAILY_9_CAL, 1);
	use_calendar(f, "2026-03-31");
	struct plan *p = step(f, at("2026-03-03T10:00:00Z")); /* Tuesday */
	assert_condition(&f->status, "CalendarReady", "True", "CalendarLoaded");
	/* Wednesday 4th is a holiday: next is Thursday. */
	assert_int_equal(p->wake, at("2026-03-05T09:00:00Z"));
	p = step(f, at("2026-03-05T09:00:00.050Z"));
	assert_int_equal(the_create(p)->slot, at("2026-03-05T09:00:00Z"));
	/* The holiday's slot was dropped by the calendar: counted, not missed. */
	assert_int_equal(f->status.counters.skipped_calendar, 1);
	assert_non_null(event(p, "SkippedCalendar"));
	assert_int_equal(f->status.counters.missed, 0);
	apply(f);
	finish(f, job(at("2026-03-05T09:00:00Z")), true, at("2026-03-05T09:01:00Z"), 0);
	step(f, at("2026-03-06T09:00:00Z")); /* Friday */
	apply(f);
	finish(f, job(at("2026-03-06T09:00:00Z")), true, at("2026-03-06T09:01:00Z"), 0);
	assert_int_equal(f->status.next_schedule_time, at("2026-03-09T09:00:00Z"));
	p = step(f, at("2026-03-09T09:00:00Z")); /* Monday, after the weekend */
	assert_int_equal(the_create(p)->slot, at("2026-03-09T09:00:00Z"));
	assert_int_equal(f->status.counters.skipped_calendar, 3);
	assert_int_equal(f->status.counters.missed, 0);
	fx_free(f);
}

static void test_calendar_missing_fails_closed_and_recovers(void **state)
{
	struct fx *f = fx_new(DAILY_9_CAL, 1);
	f->cal_state = PLAN_CALENDAR_MISSING;
	struct plan *p = step(f, at("2026-03-02T08:00:00Z"));
	assert_condition(&f->status, "CalendarReady", "False", "CalendarNotFound");
	assert_string_equal(spec_status_condition(&f->status, "CalendarReady")->message,
			    "BusinessCalendar \"krx\" not found");
	assert_condition(&f->status, "Ready", "True", "Valid");
	assert_int_equal(p->wake, SPEC_TIME_UNSET);
	assert_int_equal(f->status.next_schedule_time, SPEC_TIME_UNSET);
	assert_null(f->status.time_zone); /* the calendar's, unknown */
	p = step(f, at("2026-03-03T09:30:00Z"));
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.skipped_calendar, 2);
	assert_int_equal(event(p, "SkippedCalendar")->event_type, PLAN_EVENT_WARNING);
	/* Invalid: the reason in the message. */
	f->cal_state = PLAN_CALENDAR_INVALID;
	f->cal_error = "2026-05-05 is listed both as a holiday and as a business day";
	p = step(f, at("2026-03-03T09:40:00Z"));
	assert_condition(&f->status, "CalendarReady", "False", "CalendarInvalid");
	assert_string_equal(spec_status_condition(&f->status, "CalendarReady")->message,
			    "BusinessCalendar \"krx\" is invalid: 2026-05-05 is listed both as a "
			    "holiday and as a business day");
	/* Recovery: the slots of the outage stay unrun; the next one fires. */
	use_calendar(f, "2026-03-31");
	p = step(f, at("2026-03-03T10:00:00Z"));
	assert_condition(&f->status, "CalendarReady", "True", "CalendarLoaded");
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_string_equal(f->status.time_zone, "UTC");
	assert_int_equal(p->wake, at("2026-03-05T09:00:00Z"));
	assert_int_equal(the_create(step(f, at("2026-03-05T09:00:00Z")))->slot,
			 at("2026-03-05T09:00:00Z"));
	fx_free(f);
}

static void test_calendar_coverage_ends(void **state)
{
	struct fx *f = fx_new(DAILY_9_CAL, 1);
	use_calendar(f, "2026-03-10");
	step(f, at("2026-03-10T08:00:00Z"));
	assert_condition(&f->status, "CalendarReady", "True", "CalendarLoaded");
	struct plan *p = step(f, at("2026-03-10T09:00:00Z"));
	assert_int_equal(the_create(p)->slot, at("2026-03-10T09:00:00Z"));
	/* The next slot needs 2026-03-11: not covered, fail closed now. */
	assert_condition(&f->status, "CalendarReady", "False", "NotCovered");
	const char *msg = spec_status_condition(&f->status, "CalendarReady")->message;
	if (!strstr(msg, "does not cover 2026-03-11"))
		fail_msg("message: %s", msg);
	assert_int_equal(p->wake, SPEC_TIME_UNSET);
	assert_int_equal(f->status.next_schedule_time, SPEC_TIME_UNSET);
	apply(f);
	finish(f, job(at("2026-03-10T09:00:00Z")), true, at("2026-03-10T09:01:00Z"), 0);
	/* Woken later anyway: the uncovered slots do not run, counted. */
	p = step(f, at("2026-03-12T09:30:00Z"));
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.skipped_calendar, 2);
	assert_condition(&f->status, "CalendarReady", "False", "NotCovered");
	/* Extended: ready again, from the next slot on. */
	use_calendar(f, "2026-12-31");
	p = step(f, at("2026-03-12T10:00:00Z"));
	assert_condition(&f->status, "CalendarReady", "True", "CalendarLoaded");
	assert_int_equal(p->wake, at("2026-03-13T09:00:00Z"));
	fx_free(f);
}

/* ---- more edges ------------------------------------------------------------------ */

/* The zone reaches the slots: 02:30 New York does not exist on 2026-03-08;
 * a fixed-time pattern fires at the gap's end, 03:00 EDT = 07:00 UTC. */
static void test_dst_gap_in_zone(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 30 2 * * *\",\"timeZone\":\"America/New_York\"", 1);
	struct plan *p = step(f, at("2026-03-08T05:00:00Z"));
	assert_int_equal(p->wake, at("2026-03-08T07:00:00Z"));
	assert_string_equal(f->status.time_zone, "America/New_York");
	p = step(f, at("2026-03-08T07:00:00.020Z"));
	assert_int_equal(the_create(p)->slot, at("2026-03-08T07:00:00Z"));
	assert_int_equal(p->wake, at("2026-03-09T06:30:00Z"));
	assert_ptr_equal(p->zone, spec_zone(&f->spec, NULL));
	fx_free(f);
}

/* NextBusinessDay: the holiday's slot moves onto Thursday's, and the two
 * fire once. */
static void test_calendar_next_business_day_merges(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 9 * * *\",\"calendar\":{\"name\":\"krx\","
			      "\"onNonBusinessDay\":\"NextBusinessDay\"}",
			      1);
	use_calendar(f, "2026-03-31");
	struct plan *p = step(f, at("2026-03-03T10:00:00Z"));
	assert_int_equal(p->wake, at("2026-03-05T09:00:00Z"));
	p = step(f, at("2026-03-05T09:00:00Z"));
	assert_int_equal(the_create(p)->slot, at("2026-03-05T09:00:00Z"));
	assert_int_equal(f->status.counters.skipped_calendar, 1);
	assert_int_equal(f->status.counters.missed, 0);
	fx_free(f);
}

static void test_run_now_replace_waits_for_old_runs(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 * * * *\",\"concurrencyPolicy\":\"Replace\"", 1);
	step(f, T0 + 1);
	f->run_now = "req-1";
	step(f, T0 + 10000);
	apply(f);
	/* A second request while the first run is active. */
	f->run_now = "req-2";
	struct plan *p = step(f, T0 + 20400);
	assert_int_equal(p->run_now, PLAN_RUN_NOW_CREATED);
	assert_string_equal(p->run_now_job, rn_job("req-2"));
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(count_kind(p, PLAN_DELETE_JOB), 1);
	assert_int_equal(f->status.pending_slot, T0 + 20000);
	assert_int_equal(f->status.pending_trigger, SPEC_TRIGGER_RUN_NOW);
	apply(f);
	f->run_now = NULL;
	remove_run(f, rn_job("req-1"));
	/* Once the old run is gone the waiting request's run starts, under
	 * the name derived from its request (recorded in lastRunNow). */
	p = step(f, T0 + 21000);
	const struct plan_action *c = the_create(p);
	assert_int_equal(c->slot, T0 + 20000);
	assert_int_equal(c->trigger, SPEC_TRIGGER_RUN_NOW);
	assert_string_equal(c->job_name, rn_job("req-2"));
	assert_string_equal(c->request_id, "req-2");
	fx_free(f);
}

/* Several due slots while a run is active (Forbid, Latest): the latest is
 * the overlap skip, the older ones are missed. */
static void test_missed_and_overlap_together(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0);
	step(f, T0 + 1000);
	apply(f);
	struct plan *p = step(f, T0 + 4100);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.missed, 2);
	assert_int_equal(f->status.counters.skipped_overlap, 1);
	fx_free(f);
}

static void test_conditions_keep_transition_time(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0 + 100);
	step(f, T0 + 1000);
	apply(f);
	step(f, T0 + 2000);
	const struct spec_condition *c = spec_status_condition(&f->status, "Ready");
	assert_int_equal(c->last_transition, T0 + 100);
	assert_int_equal(c->observed_generation, 1);
	c = spec_status_condition(&f->status, "Suspended");
	assert_int_equal(c->last_transition, T0 + 100);
	fx_free(f);
}

/* Property: whatever the sequence of instants (forward, backward, jumps),
 * every slot is created at most once, never after `now`, never at or
 * before an earlier cursor. */
static void test_random_clock_never_refires(void **state)
{
	static const char *const specs[] = {
	    EVERY_SECOND,
	    "\"schedule\":\"*/7 * * * * *\",\"concurrencyPolicy\":\"Allow\"",
	    "\"schedule\":\"*/3 * * * * *\",\"concurrencyPolicy\":\"Replace\","
	    "\"startingDeadlineSeconds\":2",
	    "\"schedule\":\"@every 5s\",\"missedRunPolicy\":\"None\"",
	};
	uint64_t rng = 42;
	for (size_t si = 0; si < 4; si++) {
		struct fx *f = fx_new(specs[si], 1);
		int64_t now = T0, max_cursor = SPEC_TIME_UNSET, max_now = T0;
		int64_t created[512];
		size_t n_created = 0;
		for (int i = 0; i < 400; i++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			int64_t r = (int64_t)(rng >> 33) % 6000;
			now += (rng >> 62) == 0 ? -r : r / 2;
			if (now > max_now)
				max_now = now;
			struct plan *p = step(f, now);
			for (size_t k = 0; k < p->n_actions; k++) {
				const struct plan_action *a = &p->actions[k];
				if (a->kind != PLAN_CREATE_JOB)
					continue;
				/* A slot waiting for Replace may start after the
				 * clock stepped back: it was due when decided. */
				if (a->slot > max_now)
					fail_msg("spec %zu: slot %lld created before its time (now "
						 "%lld)",
						 si, (long long)a->slot, (long long)now);
				for (size_t j = 0; j < n_created; j++)
					if (created[j] == a->slot)
						fail_msg("spec %zu: slot %lld created twice", si,
							 (long long)a->slot);
				if (n_created < 512)
					created[n_created++] = a->slot;
			}
			if (max_cursor != SPEC_TIME_UNSET)
				assert_true(f->status.cursor >= max_cursor);
			max_cursor = f->status.cursor;
			apply(f);
			/* Runs finish quickly, so the policies get to act. */
			for (size_t k = 0; k < f->n_runs; k++)
				if (!f->runs[k].finished && (rng >> 40) % 3 == 0) {
					f->runs[k].finished = true;
					f->runs[k].succeeded = true;
					f->runs[k].completion = now;
					f->runs[k].pods_present = 0;
				}
			for (size_t k = 0; k < f->n_runs;)
				if (f->runs[k].deleting)
					remove_run(f, f->names[k]);
				else
					k++;
		}
		assert_true(n_created > 0);
		fx_free(f);
	}
}

/* A decision with nothing new must give the very same status: the status
 * write is skipped, and no watch event comes back to start a loop. */
static void assert_stable(struct fx *f, int64_t t1, int64_t t2)
{
	step(f, t1);
	apply(f);
	cJSON *ja = spec_status_to_json(&f->status);
	step(f, t2);
	cJSON *jb = spec_status_to_json(&f->status);
	char *sa = cJSON_PrintUnformatted(ja), *sb = cJSON_PrintUnformatted(jb);
	if (strcmp(sa, sb) != 0)
		fail_msg("status changed without a new slot:\n%s\n%s", sa, sb);
	free(sa);
	free(sb);
	cJSON_Delete(ja);
	cJSON_Delete(jb);
}

static void test_status_stable_without_new_slots(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"*/10 * * * * *\"", 1);
	step(f, T0 + 1);
	assert_stable(f, T0 + 10005, T0 + 10900);
	apply(f); /* Forbid, a run active, a slot skipped */
	assert_stable(f, T0 + 20001, T0 + 29999);
	fx_free(f);

	f = fx_new("\"schedule\":\"*/10 * * * * *\",\"suspend\":true", 1);
	assert_stable(f, T0 + 1, T0 + 45000);
	fx_free(f);

	f = fx_new("\"schedule\":\"*/10 * * * * *\",\"concurrencyPolicy\":\"Replace\"", 1);
	step(f, T0 + 1);
	step(f, T0 + 10000);
	apply(f);
	step(f, T0 + 20000); /* the old run is being deleted; the slot waits */
	apply(f);
	assert_stable(f, T0 + 20100, T0 + 25000);
	fx_free(f);

	f = fx_new(DAILY_9_CAL, 1);
	f->cal_state = PLAN_CALENDAR_MISSING;
	step(f, at("2026-03-02T08:00:00Z"));
	assert_stable(f, at("2026-03-03T10:00:00Z"), at("2026-03-03T12:00:00Z"));
	fx_free(f);

	f = fx_new(DAILY_9_CAL, 1);
	use_calendar(f, "2026-03-10");
	step(f, at("2026-03-10T08:00:00Z"));
	assert_stable(f, at("2026-03-10T09:00:00Z"), at("2026-03-10T23:00:00Z"));
	fx_free(f);

	f = fx_new("\"schedule\":\"60 * * * *\"", 1); /* invalid */
	assert_stable(f, T0, T0 + 86400000);
	fx_free(f);
}

/* The Job was created but the status write was lost: the slot is decided
 * again, finds its own run, and neither creates nor counts an overlap. */
static void test_lost_status_write_finds_own_run(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0 + 100);
	struct spec_status before;
	spec_status_init(&before);
	spec_status_copy(&before, &f->status);
	step(f, T0 + 1000);
	apply(f);
	spec_status_copy(&f->status, &before); /* the write never happened */
	struct plan *p = step(f, T0 + 1200);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.skipped_overlap, 0);
	assert_int_equal(f->status.n_active, 1);
	assert_int_equal(f->status.cursor, T0 + 1000);
	spec_status_release(&before);
	fx_free(f);

	/* The same for a run-now: its run is the answer, not a second one. */
	f = fx_new("\"schedule\":\"0 0 * * * *\",\"concurrencyPolicy\":\"Allow\"", 1);
	step(f, T0 + 100);
	spec_status_init(&before);
	spec_status_copy(&before, &f->status);
	f->run_now = "req-1";
	step(f, T0 + 1000);
	apply(f);
	spec_status_copy(&f->status, &before);
	p = step(f, T0 + 3300);
	assert_int_equal(p->run_now, PLAN_RUN_NOW_CREATED);
	assert_string_equal(p->run_now_job, rn_job("req-1"));
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	spec_status_release(&before);
	fx_free(f);
}

/* ---- waiting for the slot (plan_may_wait) -------------------------------------------- */

/* The plan at `now` from the persisted status, not persisted. */
static struct plan *peek(struct fx *f, int64_t now)
{
	struct spec_status keep;
	spec_status_init(&keep);
	spec_status_copy(&keep, &f->status);
	struct plan *p = step(f, now);
	spec_status_copy(&f->status, &keep);
	spec_status_release(&keep);
	return p;
}

static void test_wait_run_end_before_slot(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND ",\"concurrencyPolicy\":\"Allow\","
					   "\"successfulJobsHistoryLimit\":0",
			      1);
	step(f, T0);
	step(f, T0 + 1000);
	apply(f);
	/* The run ends 400 ms before the next slot: the status would change
	 * (active, runsSucceeded, lastSuccessfulTime, a trim) but may wait. */
	finish(f, job(T0 + 1000), true, T0 + 1500, 0);
	struct plan *p = peek(f, T0 + 1600);
	assert_int_equal(count_kind(p, PLAN_DELETE_JOB), 1);
	assert_int_equal(p->status.counters.runs_succeeded, 1);
	assert_true(plan_may_wait(p, &f->status, T0 + 1600));
	/* Not when the slot is more than PLAN_WAIT_MS away. */
	assert_false(plan_may_wait(p, &f->status, T0 + 1000 - 1));
	/* The slot's reconcile counts it once, trims it, writes. */
	p = step(f, T0 + 2000);
	assert_false(plan_may_wait(p, &f->status, T0 + 2000));
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 1);
	assert_int_equal(count_kind(p, PLAN_DELETE_JOB), 1);
	assert_int_equal(f->status.counters.runs_succeeded, 1);
	assert_int_equal(f->status.last_successful_time, T0 + 1500);
	apply(f);
	p = step(f, T0 + 2100);
	assert_int_equal(f->status.counters.runs_succeeded, 1);
	fx_free(f);
}

static void test_wait_refused(void **state)
{
	/* A slot far away: the status is written at once. */
	struct fx *f = fx_new("\"schedule\":\"0 * * * * *\",\"concurrencyPolicy\":\"Allow\"", 1);
	step(f, T0 - 100);
	step(f, T0);
	apply(f);
	finish(f, job(T0), true, T0 + 500, 0);
	assert_false(plan_may_wait(peek(f, T0 + 600), &f->status, T0 + 600));
	fx_free(f);

	/* A slot skipped under Forbid: an Event, a counter, the cursor. */
	f = fx_new(EVERY_SECOND, 1);
	step(f, T0);
	step(f, T0 + 1000);
	apply(f);
	struct plan *p = peek(f, T0 + 2000);
	assert_non_null(event(p, "SkippedOverlap"));
	assert_false(plan_may_wait(p, &f->status, T0 + 2000));
	/* A condition that changes (suspend is an edit): written. */
	fx_edit(f, EVERY_SECOND ",\"suspend\":true", 2);
	assert_false(plan_may_wait(peek(f, T0 + 1100), &f->status, T0 + 1100));
	fx_free(f);

	/* Replace's foreground deletes never wait. */
	f = fx_new(EVERY_SECOND ",\"concurrencyPolicy\":\"Replace\"", 1);
	step(f, T0);
	step(f, T0 + 1000);
	apply(f);
	p = peek(f, T0 + 2000);
	assert_int_equal(count_kind(p, PLAN_DELETE_JOB), 1);
	assert_false(plan_may_wait(p, &f->status, T0 + 2000));
	/* Nor does a run-now. */
	f->run_now = "req-1";
	fx_edit(f, EVERY_SECOND ",\"concurrencyPolicy\":\"Allow\"", 1);
	p = peek(f, T0 + 1500);
	assert_int_equal(p->run_now, PLAN_RUN_NOW_CREATED);
	assert_false(plan_may_wait(p, &f->status, T0 + 1500));
	fx_free(f);
}

/* Two controllers see the same runs start and end at random instants of a
 * 1-second Allow schedule: one writes every change, the other leaves what
 * may wait to the slot. After every slot their statuses are the same. */
static void test_wait_changes_nothing(void **state)
{
	const char *spec =
	    EVERY_SECOND ",\"concurrencyPolicy\":\"Allow\","
			 "\"successfulJobsHistoryLimit\":1,\"failedJobsHistoryLimit\":1";
	for (unsigned seed = 1; seed <= 20; seed++) {
		struct fx *a = fx_new(spec, 1), *b = fx_new(spec, 1);
		srand(seed);
		step(a, T0);
		step(b, T0);
		size_t waited = 0;
		for (int64_t t = T0 + 1000; t <= T0 + 30000; t += 1000) {
			step(a, t);
			apply(a);
			step(b, t);
			apply(b);
			/* Between slots: runs end at random instants, each
			 * end a reconcile in both. */
			for (int64_t u = t + 50; u < t + 1000; u += 50 + rand() % 300) {
				for (size_t i = 0; i < a->n_runs; i++) {
					if (a->runs[i].finished || rand() % 3)
						continue;
					bool ok = rand() % 4 != 0;
					char name[SPEC_JOB_NAME_MAX + 1];
					snprintf(name, sizeof(name), "%s", a->names[i]);
					finish(a, name, ok, u, 0);
					finish(b, name, ok, u, 0);
				}
				step(a, u);
				apply(a);
				struct plan *p = peek(b, u);
				if (plan_may_wait(p, &b->status, u)) {
					waited++;
					continue;
				}
				step(b, u);
				apply(b);
			}
		}
		step(a, T0 + 31000);
		step(b, T0 + 31000);
		cJSON *ja = spec_status_to_json(&a->status), *jb = spec_status_to_json(&b->status);
		assert_true(cJSON_Compare(ja, jb, 1));
		assert_true(a->status.counters.runs_succeeded + a->status.counters.runs_failed >
			    20);
		assert_true(waited > 10);
		cJSON_Delete(ja);
		cJSON_Delete(jb);
		fx_free(a);
		fx_free(b);
	}
}

/* ---- never twice (issue 12 item 1) --------------------------------------------- */

/* A slot created, its status write lost, and its Job gone before the next
 * decision (history limit 0 trimmed it, ttlSecondsAfterFinished: 0, a
 * user): the name is no lock any more. The rim remembers the attempt; the
 * slot is not created again, and the run it started is counted. */
static void test_never_twice_own_attempt_gone(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND ",\"successfulJobsHistoryLimit\":0", 1);
	step(f, T0 + 100);
	struct spec_status before;
	spec_status_init(&before);
	spec_status_copy(&before, &f->status);
	step(f, T0 + 1000);
	apply(f);
	spec_status_copy(&f->status, &before); /* the status write failed */
	finish(f, job(T0 + 1000), true, T0 + 1100, 0);
	/* History limit 0: the finished run is trimmed at once... */
	struct plan *p = step(f, T0 + 1150);
	assert_int_equal(count_kind(p, PLAN_DELETE_JOB), 1);
	apply(f);
	spec_status_copy(&f->status, &before); /* ...and that write failed too */
	assert_null(find(f, job(T0 + 1000)));
	/* Without the attempt the slot would be created again: the test's
	 * own check that it can fail. */
	p = step(f, T0 + 1200);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 1);
	spec_status_copy(&f->status, &before);
	f->attempts[0] =
	    (struct plan_attempt){.name = job(T0 + 1000), .slot = T0 + 1000, .created = true};
	f->n_attempts = 1;
	p = step(f, T0 + 1200);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.cursor, T0 + 1000);
	assert_int_equal(f->status.counters.runs_started, 1);
	assert_int_equal(f->status.counters.missed, 0);
	assert_int_equal(f->status.last_schedule_time, T0 + 1000);
	assert_int_equal(f->status.n_active, 0);
	assert_null(event(p, "Missed"));
	spec_status_release(&before);
	fx_free(f);
}

/* A create with no certain answer (a timeout, a 5xx) whose Job is not
 * there: it may have run and been deleted. Lost, counted missed with a
 * Warning, never sent again. */
static void test_never_twice_uncertain_attempt_gone(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0 + 100);
	f->attempts[0] = (struct plan_attempt){.name = job(T0 + 1000), .slot = T0 + 1000};
	f->n_attempts = 1;
	struct plan *p = step(f, T0 + 1300);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.cursor, T0 + 1000);
	assert_int_equal(f->status.counters.runs_started, 0);
	assert_int_equal(f->status.counters.missed, 1);
	const struct plan_action *e = event(p, "Missed");
	assert_non_null(e);
	assert_int_equal(e->event_type, PLAN_EVENT_WARNING);
	assert_non_null(strstr(e->message, "its create had no certain answer"));
	assert_non_null(strstr(e->message, "never run twice"));
	/* The next slot is another name: it runs. */
	f->n_attempts = 0;
	p = step(f, T0 + 2000);
	assert_int_equal(the_create(p)->slot, T0 + 2000);
	fx_free(f);
}

/* After a restart (or a handover) the process before may have POSTed a
 * slot it had claimed: a due slot before this process started deciding,
 * at or before lastSlotClaimed, with no Job, is counted missed. A slot
 * after the claim, or after the start, runs. */
static void test_never_twice_predecessor_claim(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0 + 100);
	assert_int_equal(f->status.claim, T0 + 1000);
	/* The predecessor died after POSTing slot 1 (and its Job is gone);
	 * this process started at T0 + 1500. */
	f->deciding_since = T0 + 1500;
	struct plan *p = step(f, T0 + 1600);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.missed, 1);
	assert_non_null(strstr(event(p, "Missed")->message, "the controller before this one"));
	assert_int_equal(f->status.cursor, T0 + 1000);
	/* Its Job still there: tracked, not missed. */
	fx_free(f);
	f = fx_new(EVERY_SECOND, 1);
	step(f, T0 + 100);
	add_run(f, job(T0 + 1000), T0 + 1000);
	f->deciding_since = T0 + 1500;
	p = step(f, T0 + 1600);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_int_equal(f->status.counters.missed, 0);
	assert_int_equal(f->status.n_active, 1);
	/* A slot after this process started: its own, it runs. */
	finish(f, job(T0 + 1000), true, T0 + 1700, 0);
	p = step(f, T0 + 2000);
	assert_int_equal(the_create(p)->slot, T0 + 2000);
	fx_free(f);
	/* A slot before the start but after the claim: the predecessor had
	 * not claimed it, so it cannot have POSTed it. */
	f = fx_new(EVERY_SECOND, 1);
	step(f, T0 + 100);
	f->deciding_since = T0 + 2500;
	p = step(f, T0 + 2600); /* slots 1 and 2 due; Latest runs 2 */
	assert_int_equal(the_create(p)->slot, T0 + 2000);
	fx_free(f);
}

/* Every status claims the next slot (so at the slot the claim has landed
 * and firing is one POST); the claim never moves back. */
static void test_claim_is_the_next_slot(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0 + 100);
	assert_int_equal(f->status.claim, T0 + 1000);
	step(f, T0 + 1000);
	assert_int_equal(f->status.claim, T0 + 2000);
	/* Status JSON carries it. */
	cJSON *j = spec_status_to_json(&f->status);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "lastSlotClaimed")),
			    "2026-03-02T00:00:02.000Z");
	cJSON_Delete(j);
	/* Suspended: no next slot; the claim stays. */
	fx_edit(f, EVERY_SECOND ",\"suspend\":true", 2);
	step(f, T0 + 1500);
	assert_int_equal(f->status.claim, T0 + 2000);
	fx_free(f);
}

/* With the gate on, a slot whose claim has not landed is not POSTed: the
 * plan claims it (pendingSlot, lastSlotClaimed) and says claim_first; the
 * decision after that write lands creates it, still in its window. */
static void test_claim_gate_claims_first(void **state)
{
	struct fx *f = fx_new(EVERY_SECOND, 1);
	step(f, T0 + 100);
	f->claim_gate = true;
	f->claim_landed = SPEC_TIME_UNSET; /* the first-sight write was lost */
	struct plan *p = step(f, T0 + 1002);
	assert_int_equal(count_kind(p, PLAN_CREATE_JOB), 0);
	assert_true(p->claim_first);
	assert_int_equal(f->status.pending_slot, T0 + 1000);
	assert_int_equal(f->status.claim, T0 + 2000);
	assert_int_equal(f->status.counters.runs_started, 0);
	f->claim_landed = f->status.claim; /* that write landed */
	p = step(f, T0 + 1010);
	assert_false(p->claim_first);
	assert_int_equal(the_create(p)->slot, T0 + 1000);
	assert_int_equal(f->status.pending_slot, SPEC_TIME_UNSET);
	assert_int_equal(f->status.counters.runs_started, 1);
	apply(f);
	finish(f, job(T0 + 1000), true, T0 + 1500, 0);
	f->claim_landed = f->status.claim;
	/* Landed claims: the next slot is one POST. */
	p = step(f, T0 + 2000);
	assert_false(p->claim_first);
	assert_int_equal(the_create(p)->slot, T0 + 2000);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_sight_never_fires_retroactively),
	    cmocka_unit_test(test_wait_run_end_before_slot),
	    cmocka_unit_test(test_expectation_uid_carried),
	    cmocka_unit_test(test_wait_refused),
	    cmocka_unit_test(test_wait_changes_nothing),
	    cmocka_unit_test(test_due_slot_fires_once),
	    cmocka_unit_test(test_deadline_boundary),
	    cmocka_unit_test(test_deadline_zero),
	    cmocka_unit_test(test_missed_slots_table),
	    cmocka_unit_test(test_long_downtime_is_bounded),
	    cmocka_unit_test(test_clock_steps_back),
	    cmocka_unit_test(test_clock_steps_forward),
	    cmocka_unit_test(test_clock_excursion_forward_replans_from_now),
	    cmocka_unit_test(test_clock_skew_tolerance_boundary),
	    cmocka_unit_test(test_forbid_skips_while_active),
	    cmocka_unit_test(test_forbid_with_terminating_pod),
	    cmocka_unit_test(test_forbid_with_orphan_pods),
	    cmocka_unit_test(test_expectation_blocks_one_second_schedule),
	    cmocka_unit_test(test_allow_overlaps),
	    cmocka_unit_test(test_replace_deletes_then_creates),
	    cmocka_unit_test(test_replace_pending_past_deadline_is_missed),
	    cmocka_unit_test(test_replace_pending_superseded),
	    cmocka_unit_test(test_runs_counted_once),
	    cmocka_unit_test(test_job_deleted_by_hand),
	    cmocka_unit_test(test_killed_run_not_counted_failed),
	    cmocka_unit_test(test_edit_during_run),
	    cmocka_unit_test(test_suspend_and_resume),
	    cmocka_unit_test(test_suspend_keeps_tracking_runs),
	    cmocka_unit_test(test_history_trimming),
	    cmocka_unit_test(test_invalid_spec_ready_false),
	    cmocka_unit_test(test_run_now),
	    cmocka_unit_test(test_run_now_named_after_request),
	    cmocka_unit_test(test_create_refused_for_good),
	    cmocka_unit_test(test_create_refused_edit_recovers),
	    cmocka_unit_test(test_create_refused_told_after_next_slot),
	    cmocka_unit_test(test_create_failed_transiently_retried),
	    cmocka_unit_test(test_create_failure_classes),
	    cmocka_unit_test(test_run_now_refused_for_good),
	    cmocka_unit_test(test_calendar_business_days),
	    cmocka_unit_test(test_calendar_missing_fails_closed_and_recovers),
	    cmocka_unit_test(test_calendar_coverage_ends),
	    cmocka_unit_test(test_dst_gap_in_zone),
	    cmocka_unit_test(test_calendar_next_business_day_merges),
	    cmocka_unit_test(test_run_now_replace_waits_for_old_runs),
	    cmocka_unit_test(test_missed_and_overlap_together),
	    cmocka_unit_test(test_conditions_keep_transition_time),
	    cmocka_unit_test(test_random_clock_never_refires),
	    cmocka_unit_test(test_status_stable_without_new_slots),
	    cmocka_unit_test(test_lost_status_write_finds_own_run),
	    cmocka_unit_test(test_never_twice_own_attempt_gone),
	    cmocka_unit_test(test_never_twice_uncertain_attempt_gone),
	    cmocka_unit_test(test_never_twice_predecessor_claim),
	    cmocka_unit_test(test_claim_is_the_next_slot),
	    cmocka_unit_test(test_claim_gate_claims_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
