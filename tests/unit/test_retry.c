/* Unit tests for retries and the run history (issue 14): spec.retry's
 * grammar, the retry Job, and the planner's rules as scenarios. A small
 * world: the spec, the persisted status (always through JSON, as a restart
 * reads it), the Jobs; `step` plans at an instant, `apply` carries out the
 * creates as the API would. */
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

#include "controller/planner.h"
#include "controller/spec.h"
#include "tz/civil.h"
#include "tz/tz.h"

#define MAXRUNS 32

struct fx {
	struct spec spec;
	char spec_err[256];
	bool invalid;
	struct spec_status status;
	struct plan_run runs[MAXRUNS];
	char names[MAXRUNS][SPEC_JOB_NAME_MAX + 1];
	size_t n_runs;
	struct plan_create_failure fails[2];
	size_t n_fails;
	const char *kill;	/* plan_input.kill of the next step only */
	bool claim_gate;	/* plan_input.claim_gate */
	const char *retry_mine; /* plan_input.retry_claim_mine */
	struct plan plan;
};

static int64_t at(const char *rfc3339)
{
	int64_t ms;
	if (rfc3339_parse(rfc3339, &ms))
		fail_msg("bad time %s", rfc3339);
	return ms;
}

static struct fx *fx_new(const char *spec_fields)
{
	struct fx *f = calloc(1, sizeof(*f));
	char text[4096];
	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"name\":\"bs\",\"namespace\":\"ns\",\"uid\":\"u\","
		 "\"generation\":1},\"spec\":{%s,\"jobTemplate\":{\"spec\":{\"template\":{"
		 "\"spec\":{\"containers\":[{\"name\":\"c\"}]}}}}}}",
		 spec_fields);
	cJSON *o = cJSON_Parse(text);
	assert_non_null(o);
	f->invalid = spec_parse(o, &f->spec, f->spec_err, sizeof(f->spec_err)) != 0;
	if (f->invalid)
		fail_msg("spec invalid: %s", f->spec_err);
	cJSON_Delete(o);
	spec_status_init(&f->status);
	plan_init(&f->plan);
	return f;
}

static void fx_free(struct fx *f)
{
	spec_release(&f->spec);
	spec_status_release(&f->status);
	plan_release(&f->plan);
	free(f);
}

static struct plan_run *find(struct fx *f, const char *name)
{
	for (size_t i = 0; i < f->n_runs; i++)
		if (strcmp(f->names[i], name) == 0)
			return &f->runs[i];
	return NULL;
}

static struct plan_run *add_run(struct fx *f, const char *name, int64_t slot, int64_t created)
{
	assert_true(f->n_runs < MAXRUNS);
	size_t i = f->n_runs++;
	snprintf(f->names[i], sizeof(f->names[i]), "%s", name);
	struct plan_run *r = &f->runs[i];
	memset(r, 0, sizeof(*r));
	r->name = f->names[i];
	r->slot = slot;
	r->creation = created;
	r->completion = SPEC_TIME_UNSET;
	r->pods_present = 1;
	return r;
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

/* The Job ends: succeeded, or failed with `code` (< 0: no exit code). */
static void end_run(struct fx *f, const char *name, bool ok, int code, int64_t when)
{
	struct plan_run *r = find(f, name);
	if (!r)
		fail_msg("no run %s", name);
	r->finished = true;
	r->succeeded = ok;
	r->completion = when;
	r->pods_present = 0;
	if (!ok && code >= 0) {
		r->has_exit_code = true;
		r->exit_code = code;
		r->exit_reason = "Error";
	}
}

static struct plan *step(struct fx *f, int64_t now)
{
	struct plan_input in = {
	    .spec = &f->spec,
	    .status = &f->status,
	    .runs = f->runs,
	    .n_runs = f->n_runs,
	    .create_failures = f->fails,
	    .n_create_failures = f->n_fails,
	    .kill = f->kill,
	    .claim_gate = f->claim_gate,
	    .claim_landed = SPEC_TIME_UNSET,
	    .retry_claim_mine = f->retry_mine,
	    .now = now,
	};
	assert_int_equal(plan_compute(&in, &f->plan), 0);
	f->n_fails = 0;
	f->kill = NULL;
	spec_status_copy(&f->status, &f->plan.status);
	cJSON *json = spec_status_to_json(&f->status);
	cJSON *obj = cJSON_CreateObject();
	cJSON_AddItemToObject(obj, "status", json);
	spec_status_release(&f->status);
	spec_status_parse(obj, &f->status);
	cJSON_Delete(obj);
	return &f->plan;
}

/* Creates become running Jobs (created at `now`), attempt and trigger as
 * the Job's annotations say. */
static void apply(struct fx *f, int64_t now)
{
	for (size_t i = 0; i < f->plan.n_actions; i++) {
		const struct plan_action *a = &f->plan.actions[i];
		if (a->kind == PLAN_CREATE_JOB && !find(f, a->job_name)) {
			struct plan_run *r = add_run(f, a->job_name, a->slot, now);
			r->trigger = a->trigger;
			r->attempt = a->attempt;
		} else if (a->kind == PLAN_DELETE_JOB) {
			remove_run(f, a->job_name);
		}
	}
}

static size_t creates(const struct plan *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_actions; i++)
		n += p->actions[i].kind == PLAN_CREATE_JOB;
	return n;
}

static const struct plan_action *the_create(const struct plan *p)
{
	assert_int_equal(creates(p), 1);
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

static const struct spec_run_record *record(const struct fx *f, const char *job)
{
	for (size_t i = 0; i < f->status.n_recent; i++)
		if (!strcmp(f->status.recent[i].job, job))
			return &f->status.recent[i];
	fail_msg("no record of %s", job);
	return NULL;
}

/* Starts the schedule and fires its first slot at `slot`; returns the
 * first attempt's name. */
static const char *fire(struct fx *f, int64_t slot)
{
	static char name[SPEC_JOB_NAME_MAX + 1];
	step(f, slot - 500);
	struct plan *p = step(f, slot + 5);
	snprintf(name, sizeof(name), "%s", the_create(p)->job_name);
	apply(f, slot + 10);
	return name;
}

/* ---- the grammar ---------------------------------------------------------------- */

static void spec_error_of(const char *fields, char *err, size_t n)
{
	char text[2048];
	struct spec s;
	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"name\":\"bs\"},\"spec\":{\"schedule\":\"* * * * *\",%s,"
		 "\"jobTemplate\":{\"spec\":{}}}}",
		 fields);
	cJSON *o = cJSON_Parse(text);
	assert_non_null(o);
	int rc = spec_parse(o, &s, err, n);
	if (rc == 0)
		err[0] = '\0';
	spec_release(&s);
	cJSON_Delete(o);
}

static void test_retry_grammar(void **state)
{
	char err[512];
	struct fx *f = fx_new("\"schedule\":\"* * * * *\",\"retry\":{\"after\":[\"30m\",\"90s\","
			      "\"1h30m\",\"10:00\",\"23:59:59\"],\"notAfter\":\"11:00\","
			      "\"onExitCodes\":[1,75]},\"runHistoryLimit\":7");
	const struct spec_retry *r = spec_retry(&f->spec);
	assert_int_equal(r->n_after, 5);
	assert_int_equal(r->limit, 5); /* default: len(after) */
	assert_false(r->after[0].local);
	assert_int_equal(r->after[0].seconds, 1800);
	assert_int_equal(r->after[1].seconds, 90);
	assert_int_equal(r->after[2].seconds, 5400);
	assert_true(r->after[3].local);
	assert_int_equal(r->after[3].seconds, 36000);
	assert_int_equal(r->after[4].seconds, 86399);
	assert_true(r->has_not_after);
	assert_int_equal(r->not_after, 39600);
	assert_int_equal(r->n_exit_codes, 2);
	assert_int_equal(f->spec.run_history_limit, 7);
	assert_true(spec_retry_exit_code_matches(r, true, 75));
	assert_false(spec_retry_exit_code_matches(r, true, 3));
	assert_false(spec_retry_exit_code_matches(r, false, 0));
	fx_free(f);

	f = fx_new("\"schedule\":\"* * * * *\"");
	assert_int_equal(spec_retry(&f->spec)->limit, 0);
	assert_int_equal(f->spec.run_history_limit, 20);
	fx_free(f);

	static const struct {
		const char *fields, *want;
	} bad[] = {
	    {"\"retry\":{\"after\":[\"25:00\"]}", "spec.retry.after[0]: \"25:00\" is not a local"},
	    {"\"retry\":{\"after\":[\"10:60\"]}", "spec.retry.after[0]"},
	    {"\"retry\":{\"after\":[\"5m\",\"soon\"]}", "spec.retry.after[1]: \"soon\" is neither"},
	    {"\"retry\":{\"after\":[\"30s1m\"]}", "spec.retry.after[0]"},
	    {"\"retry\":{\"after\":[\"8d\"]}", "spec.retry.after[0]"},
	    {"\"retry\":{\"after\":[30]}", "spec.retry.after[0]: a non-string"},
	    {"\"retry\":{\"after\":\"30m\"}", "spec.retry.after: must be a list"},
	    {"\"retry\":{\"after\":[\"1m\"],\"limit\":-1}", "spec.retry.limit: -1 must be >= 0"},
	    {"\"retry\":{\"after\":[\"1m\"],\"limit\":101}",
	     "spec.retry.limit: 101 must be <= 100"},
	    {"\"retry\":{\"limit\":2}", "spec.retry.after: at least one entry"},
	    {"\"retry\":{\"after\":[\"1m\"],\"notAfter\":\"9\"}", "spec.retry.notAfter"},
	    {"\"retry\":{\"after\":[\"1m\"],\"onExitCodes\":[-1]}",
	     "spec.retry.onExitCodes[0]: must be an exit code 0-255"},
	    {"\"retry\":{\"after\":[\"1m\"],\"onExitCodes\":[1,256]}", "spec.retry.onExitCodes[1]"},
	    {"\"retry\":[]", "spec.retry: must be an object"},
	    {"\"runHistoryLimit\":101", "spec.runHistoryLimit: 101 must be <= 100"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		spec_error_of(bad[i].fields, err, sizeof(err));
		if (!strstr(err, bad[i].want))
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i].fields, err, bad[i].want);
	}
}

static const char *env_of(const cJSON *job, const char *name)
{
	const cJSON *c = cJSON_GetArrayItem(
	    cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(job, "spec"),
						     "template"),
		    "spec"),
		"containers"),
	    0);
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(c, "env"))
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
		if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
			return cJSON_GetObjectItemCaseSensitive(e, "value")->valuestring;
	}
	return NULL;
}

static const char *annotation(const cJSON *job, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(job, "metadata"),
					     "annotations"),
	    key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_retry_job(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 50 23 * * *\",\"timeZone\":\"Asia/Seoul\"");
	char name[SPEC_JOB_NAME_MAX + 1], err[256];
	int64_t slot = at("2026-03-02T14:50:00Z"); /* 23:50 in Seoul, 2026-03-02 */
	assert_int_equal(spec_attempt_job_name("bs-1772463000", 2, name, sizeof(name)), 0);
	assert_string_equal(name, "bs-1772463000-2");
	assert_int_equal(spec_attempt_job_name("bs-1772463000", 1, name, sizeof(name)), -ERANGE);
	char longname[64];
	memset(longname, 'a', 62);
	longname[62] = 0;
	assert_int_equal(spec_attempt_job_name(longname, 2, name, sizeof(name)), -ERANGE);

	cJSON *first = NULL, *retry = NULL;
	assert_int_equal(spec_build_job(&f->spec, f->spec.zone, slot, SPEC_TRIGGER_SCHEDULE, NULL,
					&first, err, sizeof(err)),
			 0);
	assert_null(env_of(first, "TAKT_ATTEMPT"));
	assert_null(annotation(first, "takt.io/attempt"));
	/* The retry runs the next day, with the run's own date. */
	assert_int_equal(spec_build_retry(&f->spec, f->spec.zone, slot, "bs-1772463000-3",
					  "2026-03-02", 3, &retry, err, sizeof(err)),
			 0);
	assert_string_equal(env_of(retry, "TAKT_SCHEDULED_TIME"),
			    env_of(first, "TAKT_SCHEDULED_TIME"));
	assert_string_equal(env_of(retry, "TAKT_BUSINESS_DATE"), "2026-03-02");
	assert_string_equal(env_of(first, "TAKT_BUSINESS_DATE"), "2026-03-02");
	assert_string_equal(env_of(retry, "TAKT_ATTEMPT"), "3");
	assert_string_equal(env_of(retry, "TAKT_RUN_ID"), "bs-1772463000-3");
	assert_string_equal(annotation(retry, "takt.io/trigger"), "retry");
	assert_string_equal(annotation(retry, "takt.io/attempt"), "3");
	assert_string_equal(annotation(retry, "takt.io/scheduled-time"),
			    annotation(first, "takt.io/scheduled-time"));
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(retry, "metadata"), "name")
				->valuestring,
			    "bs-1772463000-3");
	cJSON_Delete(first);
	cJSON_Delete(retry);
	assert_int_not_equal(
	    spec_build_retry(&f->spec, f->spec.zone, slot, "x", NULL, 1, &retry, err, sizeof(err)),
	    0);
	assert_null(retry);
	fx_free(f);
}

/* ---- the planner -------------------------------------------------------------- */

#define T1 "2026-03-02T09:00:00Z"

/* Exit code 3, retried twice (the last step repeats), then a success: the
 * history holds the three attempts, newest first. */
static void test_retry_twice_then_success(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 9 * * *\",\"retry\":{\"after\":[\"10s\"],"
			      "\"limit\":2}");
	int64_t slot = at(T1);
	char first[SPEC_JOB_NAME_MAX + 1];
	snprintf(first, sizeof(first), "%s", fire(f, slot));
	assert_string_equal(first, "bs-1772442000");
	assert_int_equal(record(f, first)->result, SPEC_RESULT_ACTIVE);
	assert_string_equal(record(f, first)->business_date, "2026-03-02");

	end_run(f, first, false, 3, slot + 2000);
	struct plan *p = step(f, slot + 2100);
	assert_int_equal(creates(p), 0);
	assert_null(event(p, "RunFailed"));
	assert_int_equal(p->wake, slot + 12000);
	assert_int_equal(record(f, first)->result, SPEC_RESULT_FAILED);
	assert_int_equal(record(f, first)->exit_code, 3);
	assert_string_equal(record(f, first)->reason, "Error");
	/* A millisecond early: nothing. */
	p = step(f, slot + 11999);
	assert_int_equal(creates(p), 0);
	p = step(f, slot + 12000);
	const struct plan_action *c = the_create(p);
	assert_string_equal(c->job_name, "bs-1772442000-2");
	assert_int_equal(c->trigger, SPEC_TRIGGER_RETRY);
	assert_int_equal(c->attempt, 2);
	assert_int_equal(c->slot, slot);
	assert_string_equal(c->business_date, "2026-03-02");
	assert_non_null(event(p, "Retry"));
	assert_non_null(strstr(event(p, "Retry")->message, "exit code 3"));
	assert_int_equal(f->status.n_active, 1);
	apply(f, slot + 12010);
	/* Planned again at once (a second reconcile): nothing twice. */
	assert_int_equal(creates(step(f, slot + 12020)), 0);

	end_run(f, "bs-1772442000-2", false, 3, slot + 14000);
	p = step(f, slot + 14000);
	assert_int_equal(p->wake, slot + 24000); /* the last step repeats */
	p = step(f, slot + 24000);
	assert_string_equal(the_create(p)->job_name, "bs-1772442000-3");
	assert_int_equal(the_create(p)->attempt, 3);
	apply(f, slot + 24010);
	end_run(f, "bs-1772442000-3", true, 0, slot + 25000);
	p = step(f, slot + 25000);
	assert_int_equal(creates(p), 0);
	assert_null(event(p, "RunFailed"));

	assert_int_equal(f->status.n_recent, 3);
	const struct spec_run_record *r = f->status.recent;
	assert_string_equal(r[0].job, "bs-1772442000-3");
	assert_int_equal(r[0].result, SPEC_RESULT_SUCCEEDED);
	assert_int_equal(r[0].attempt, 3);
	assert_int_equal(r[0].trigger, SPEC_TRIGGER_RETRY);
	assert_int_equal(r[0].scheduled, slot);
	assert_string_equal(r[1].job, "bs-1772442000-2");
	assert_int_equal(r[1].exit_code, 3);
	assert_int_equal(r[1].result, SPEC_RESULT_FAILED);
	assert_string_equal(r[2].job, first);
	assert_int_equal(r[2].trigger, SPEC_TRIGGER_SCHEDULE);
	assert_int_equal(r[2].completion, slot + 2000);
	assert_int_equal(f->status.counters.runs_started, 3);
	assert_int_equal(f->status.counters.runs_failed, 2);
	assert_int_equal(f->status.counters.runs_succeeded, 1);
	fx_free(f);
}

/* The limit reached: the run ends for good, with RunFailed naming the exit
 * code, once. */
static void test_limit_reached_run_failed(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 9 * * *\",\"retry\":{\"after\":[\"0s\"]}");
	int64_t slot = at(T1);
	const char *first = fire(f, slot);
	end_run(f, first, false, 3, slot + 1000);
	struct plan *p = step(f, slot + 1000);
	assert_string_equal(the_create(p)->job_name, "bs-1772442000-2");
	apply(f, slot + 1010);
	end_run(f, "bs-1772442000-2", false, 4, slot + 2000);
	p = step(f, slot + 2000);
	assert_int_equal(creates(p), 0);
	const struct plan_action *e = event(p, "RunFailed");
	assert_non_null(e);
	assert_int_equal(e->event_type, PLAN_EVENT_WARNING);
	assert_non_null(strstr(e->message, "exit code 4"));
	assert_non_null(strstr(e->message, "spec.retry.limit 1 reached"));
	p = step(f, slot + 3000);
	assert_null(event(p, "RunFailed"));
	assert_int_equal(creates(p), 0);
	fx_free(f);
}

/* No spec.retry: a failure is recorded and raises RunFailed. */
static void test_no_retry_spec(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 9 * * *\"");
	int64_t slot = at(T1);
	const char *first = fire(f, slot);
	end_run(f, first, false, 1, slot + 1000);
	struct plan *p = step(f, slot + 1000);
	assert_int_equal(creates(p), 0);
	assert_non_null(event(p, "RunFailed"));
	assert_int_equal(record(f, "bs-1772442000")->result, SPEC_RESULT_FAILED);
	fx_free(f);
}

/* HH:MM: local time on the business date, in the zone; already past: at
 * once. */
static void test_local_time_steps(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 8 * * *\",\"timeZone\":\"America/New_York\","
			      "\"retry\":{\"after\":[\"10:00\",\"09:00\"]}");
	int64_t slot = at("2026-03-02T13:00:00Z"); /* 08:00 EST */
	const char *first = fire(f, slot);
	end_run(f, first, false, 1, slot + 60000);
	struct plan *p = step(f, slot + 60000);
	assert_int_equal(creates(p), 0);
	assert_int_equal(p->wake, at("2026-03-02T15:00:00Z")); /* 10:00 EST */
	p = step(f, at("2026-03-02T15:00:00Z"));
	assert_string_equal(the_create(p)->job_name, "bs-1772456400-2");
	apply(f, at("2026-03-02T15:00:00.010Z"));
	/* 09:00 has passed when attempt 2 fails at 10:05: at once. */
	end_run(f, "bs-1772456400-2", false, 1, at("2026-03-02T15:05:00Z"));
	p = step(f, at("2026-03-02T15:05:00.100Z"));
	assert_string_equal(the_create(p)->job_name, "bs-1772456400-3");
	fx_free(f);
}

/* Spring forward: 02:30 does not exist in New York on 2026-03-08; the retry
 * starts at the gap's end (03:00 EDT). Fall back: 01:30 happens twice on
 * 2026-11-01; the retry starts at the first. */
static void test_local_time_dst(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 0 * * *\",\"timeZone\":\"America/New_York\","
			      "\"retry\":{\"after\":[\"02:30\"]}");
	int64_t slot = at("2026-03-08T05:00:00Z"); /* 00:00 EST */
	const char *first = fire(f, slot);
	end_run(f, first, false, 1, slot + 1000);
	struct plan *p = step(f, slot + 1000);
	assert_int_equal(p->wake, at("2026-03-08T07:00:00Z"));
	fx_free(f);

	f = fx_new("\"schedule\":\"0 0 0 * * *\",\"timeZone\":\"America/New_York\","
		   "\"retry\":{\"after\":[\"01:30\"]}");
	slot = at("2026-11-01T04:00:00Z"); /* 00:00 EDT */
	first = fire(f, slot);
	end_run(f, first, false, 1, slot + 1000);
	p = step(f, slot + 1000);
	assert_int_equal(p->wake, at("2026-11-01T05:30:00Z")); /* 01:30 EDT, the first */
	fx_free(f);
}

/* Across midnight: a duration runs into the next day, the business date
 * stays the run's; a local time is on the business date, so one that
 * passed at midnight is at once. */
static void test_midnight(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 50 23 * * *\",\"timeZone\":\"Asia/Seoul\","
			      "\"retry\":{\"after\":[\"30m\",\"23:55\"]}");
	int64_t slot = at("2026-03-02T14:50:00Z"); /* 23:50 KST */
	const char *first = fire(f, slot);
	assert_string_equal(record(f, first)->business_date, "2026-03-02");
	end_run(f, first, false, 1, slot + 60000);
	struct plan *p = step(f, slot + 60000);
	assert_int_equal(p->wake, slot + 60000 + 1800000); /* 00:21 KST, 03-03 */
	p = step(f, p->wake);
	const struct plan_action *c = the_create(p);
	assert_string_equal(c->business_date, "2026-03-02");
	apply(f, p->wake + 10);
	end_run(f, "bs-1772463000-2", false, 1, at("2026-03-02T15:25:00Z"));
	/* 23:55 on 2026-03-02 is past: at once. */
	p = step(f, at("2026-03-02T15:25:00.050Z"));
	assert_string_equal(the_create(p)->job_name, "bs-1772463000-3");
	assert_string_equal(the_create(p)->business_date, "2026-03-02");
	fx_free(f);
}

/* notAfter: no retry starts after it. */
static void test_not_after(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 9 * * *\",\"retry\":{\"after\":[\"1h\"],"
			      "\"limit\":5,\"notAfter\":\"11:00\"}");
	int64_t slot = at(T1);
	const char *first = fire(f, slot);
	end_run(f, first, false, 1, at("2026-03-02T09:30:00Z"));
	struct plan *p = step(f, at("2026-03-02T09:30:00Z"));
	assert_int_equal(p->wake, at("2026-03-02T10:30:00Z"));
	p = step(f, p->wake);
	apply(f, p->wake + 10);
	end_run(f, "bs-1772442000-2", false, 1, at("2026-03-02T10:00:01Z"));
	/* 11:00:01 would be past notAfter 11:00. */
	p = step(f, at("2026-03-02T10:00:02Z"));
	assert_int_equal(creates(p), 0);
	assert_non_null(event(p, "RunFailed"));
	assert_non_null(strstr(event(p, "RunFailed")->message, "notAfter 11:00:00"));
	assert_int_equal(p->wake, at("2026-03-03T09:00:00Z"));
	fx_free(f);
}

/* onExitCodes: only those codes are retried. */
static void test_on_exit_codes(void **state)
{
	const char *fields = "\"schedule\":\"0 0 9 * * *\",\"retry\":{\"after\":[\"1s\"],"
			     "\"onExitCodes\":[1,75]}";
	struct fx *f = fx_new(fields);
	int64_t slot = at(T1);
	const char *first = fire(f, slot);
	end_run(f, first, false, 3, slot + 1000);
	struct plan *p = step(f, slot + 1000);
	assert_non_null(event(p, "RunFailed"));
	assert_non_null(strstr(event(p, "RunFailed")->message, "onExitCodes"));
	p = step(f, slot + 5000);
	assert_int_equal(creates(p), 0);
	fx_free(f);

	f = fx_new(fields);
	first = fire(f, slot);
	end_run(f, first, false, 75, slot + 1000);
	p = step(f, slot + 1000);
	assert_null(event(p, "RunFailed"));
	p = step(f, slot + 2000);
	assert_string_equal(the_create(p)->job_name, "bs-1772442000-2");
	fx_free(f);

	/* The exit code is still being read: the record waits, Active, and
	 * the Job is kept. */
	f = fx_new("\"schedule\":\"0 0 9 * * *\",\"failedJobsHistoryLimit\":0,"
		   "\"retry\":{\"after\":[\"1s\"],\"onExitCodes\":[75]}");
	first = fire(f, slot);
	end_run(f, first, false, -1, slot + 1000);
	find(f, "bs-1772442000")->exit_pending = true;
	p = step(f, slot + 1000);
	assert_int_equal(p->n_actions, 0);
	assert_int_equal(record(f, "bs-1772442000")->result, SPEC_RESULT_ACTIVE);
	find(f, "bs-1772442000")->exit_pending = false;
	find(f, "bs-1772442000")->has_exit_code = true;
	find(f, "bs-1772442000")->exit_code = 75;
	p = step(f, slot + 1500);
	assert_int_equal(record(f, "bs-1772442000")->result, SPEC_RESULT_FAILED);
	assert_int_equal(record(f, "bs-1772442000")->exit_code, 75);
	apply(f, slot + 1500); /* the trim, now allowed */
	assert_null(find(f, "bs-1772442000"));
	p = step(f, slot + 2000);
	assert_string_equal(the_create(p)->job_name, "bs-1772442000-2");
	fx_free(f);
}

/* Forbid: a run with a retry to come is active; slots meanwhile are
 * skipped and counted. */
static void test_forbid_counts_pending_retry(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"*/10 * * * * *\",\"retry\":{\"after\":[\"25s\"]}");
	int64_t slot = at(T1);
	const char *first = fire(f, slot);
	end_run(f, first, false, 1, slot + 1000);
	step(f, slot + 1000);
	struct plan *p = step(f, slot + 10000);
	assert_int_equal(creates(p), 0);
	assert_non_null(event(p, "SkippedOverlap"));
	p = step(f, slot + 20000);
	assert_int_equal(creates(p), 0);
	assert_int_equal(f->status.counters.skipped_overlap, 2);
	assert_int_equal(p->wake, slot + 26000); /* the retry, before the 30 s slot */
	p = step(f, slot + 26000);
	assert_string_equal(the_create(p)->job_name, "bs-1772442000-2");
	apply(f, slot + 26010);
	p = step(f, slot + 30000); /* the retry runs: skipped */
	assert_int_equal(creates(p), 0);
	assert_int_equal(f->status.counters.skipped_overlap, 3);
	end_run(f, "bs-1772442000-2", true, 0, slot + 31000);
	p = step(f, slot + 40000);
	assert_string_equal(the_create(p)->job_name, "bs-1772442040");
	fx_free(f);
}

/* Replace: the new run drops the pending retry of the run it replaces,
 * said once by RunFailed; the retry never starts. */
static void test_replace_drops_pending_retry(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"*/10 * * * * *\",\"concurrencyPolicy\":\"Replace\","
			      "\"retry\":{\"after\":[\"25s\"]}");
	int64_t slot = at(T1);
	const char *first = fire(f, slot);
	end_run(f, first, false, 1, slot + 1000);
	step(f, slot + 1000);
	struct plan *p = step(f, slot + 10000);
	assert_string_equal(the_create(p)->job_name, "bs-1772442010");
	const struct plan_action *e = event(p, "RunFailed");
	assert_non_null(e);
	assert_non_null(strstr(e->message, "replaced"));
	apply(f, slot + 10010);
	end_run(f, "bs-1772442010", true, 0, slot + 11000);
	p = step(f, slot + 11000);
	assert_null(event(p, "RunFailed"));
	assert_int_equal(p->wake, slot + 20000);
	/* Past the dropped retry's instant (26 s): only the 20 s slot runs. */
	p = step(f, slot + 26000);
	assert_string_equal(the_create(p)->job_name, "bs-1772442020");
	apply(f, slot + 26010);
	assert_int_equal(creates(step(f, slot + 27000)), 0);
	fx_free(f);
}

/* Allow: retries and new runs go on side by side. */
static void test_allow_retry_beside_new_run(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"*/10 * * * * *\",\"concurrencyPolicy\":\"Allow\","
			      "\"retry\":{\"after\":[\"5s\"]}");
	int64_t slot = at(T1);
	const char *first = fire(f, slot);
	end_run(f, first, false, 1, slot + 6000);
	struct plan *p = step(f, slot + 6000);
	assert_int_equal(p->wake, slot + 10000);
	p = step(f, slot + 10000);
	assert_int_equal(creates(p), 1);
	apply(f, slot + 10010);
	p = step(f, slot + 11000);
	assert_string_equal(the_create(p)->job_name, "bs-1772442000-2");
	fx_free(f);
}

/* A killed attempt is never retried; neither is one whose Job vanished
 * before it was seen to end. */
static void test_killed_not_retried(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 9 * * *\",\"retry\":{\"after\":[\"1s\"]}");
	int64_t slot = at(T1);
	const char *first = fire(f, slot);
	struct plan_run *r = find(f, first);
	r->killed = true;
	end_run(f, first, false, 137, slot + 1000);
	struct plan *p = step(f, slot + 1000);
	assert_int_equal(record(f, "bs-1772442000")->result, SPEC_RESULT_KILLED);
	assert_null(event(p, "RunFailed"));
	p = step(f, slot + 5000);
	assert_int_equal(creates(p), 0);
	fx_free(f);

	f = fx_new("\"schedule\":\"0 0 9 * * *\",\"retry\":{\"after\":[\"1s\"]}");
	first = fire(f, slot);
	remove_run(f, "bs-1772442000");
	p = step(f, slot + 1000);
	assert_int_equal(record(f, "bs-1772442000")->result, SPEC_RESULT_KILLED);
	assert_string_equal(record(f, "bs-1772442000")->reason, "JobDeleted");
	assert_int_equal(creates(step(f, slot + 5000)), 0);
	fx_free(f);
}

/* A restart while a retry is pending: the new process has the persisted
 * status and the Jobs (the failed one already deleted by the history
 * limit), nothing of the old one's memory. The retry is planned from the
 * record alone, at its own time, and started once. */
static void test_restart_pending_retry(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 9 * * *\",\"failedJobsHistoryLimit\":0,"
			      "\"retry\":{\"after\":[\"30s\"]}");
	int64_t slot = at(T1);
	const char *first = fire(f, slot);
	end_run(f, first, false, 2, slot + 1000);
	struct plan *p = step(f, slot + 1000);
	apply(f, slot + 1000); /* the failed Job is trimmed */
	assert_int_equal(f->n_runs, 0);
	assert_int_equal(p->wake, slot + 31000);

	/* The restart: only the status as JSON crosses it. */
	cJSON *json = spec_status_to_json(&f->status);
	struct fx *g = fx_new("\"schedule\":\"0 0 9 * * *\",\"failedJobsHistoryLimit\":0,"
			      "\"retry\":{\"after\":[\"30s\"]}");
	cJSON *obj = cJSON_CreateObject();
	cJSON_AddItemToObject(obj, "status", json);
	spec_status_parse(obj, &g->status);
	cJSON_Delete(obj);
	fx_free(f);

	p = step(g, slot + 20000);
	assert_int_equal(creates(p), 0);
	assert_int_equal(p->wake, slot + 31000);
	p = step(g, slot + 31000);
	assert_string_equal(the_create(p)->job_name, "bs-1772442000-2");
	/* Its create went through, its status write was lost: the Job is
	 * there, the persisted status does not know it. */
	struct spec_status before;
	spec_status_init(&before);
	spec_status_copy(&before, &g->status);
	apply(g, slot + 31010);
	spec_status_copy(&g->status, &before);
	spec_status_release(&before);
	/* Drop the record of attempt 2 the plan wrote: the lost write. */
	for (size_t i = 0; i < g->status.n_recent; i++)
		if (!strcmp(g->status.recent[i].job, "bs-1772442000-2"))
			spec_status_remove_record(&g->status, i);
	p = step(g, slot + 31500);
	assert_int_equal(creates(p), 0); /* the Job is there: never twice */
	assert_int_equal(record(g, "bs-1772442000-2")->attempt, 2);
	assert_int_equal(record(g, "bs-1772442000-2")->result, SPEC_RESULT_ACTIVE);
	fx_free(g);
}

/* The history: bounded, newest first, exact across Job deletions (a Job
 * deleted by a history limit keeps its record; a finished Job without a
 * record is not added back). */
static void test_history_bounded_and_exact(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"*/10 * * * * *\",\"runHistoryLimit\":2,"
			      "\"successfulJobsHistoryLimit\":5");
	int64_t slot = at(T1);
	char name[SPEC_JOB_NAME_MAX + 1];
	step(f, slot - 500);
	for (int i = 0; i < 4; i++) {
		int64_t s = slot + i * 10000;
		struct plan *p = step(f, s);
		snprintf(name, sizeof(name), "%s", the_create(p)->job_name);
		apply(f, s + 10);
		end_run(f, name, true, 0, s + 1000);
		step(f, s + 1000);
	}
	assert_int_equal(f->status.n_recent, 2);
	assert_string_equal(f->status.recent[0].job, "bs-1772442030");
	assert_string_equal(f->status.recent[1].job, "bs-1772442020");
	/* Four Jobs remain (limit 5): the older two are not added back. */
	assert_int_equal(f->n_runs, 4);
	step(f, slot + 35000);
	assert_int_equal(f->status.n_recent, 2);
	/* The Jobs go (a TTL): the records stay. */
	remove_run(f, "bs-1772442030");
	remove_run(f, "bs-1772442020");
	step(f, slot + 36000);
	assert_int_equal(f->status.n_recent, 2);
	assert_int_equal(record(f, "bs-1772442030")->result, SPEC_RESULT_SUCCEEDED);
	assert_int_equal(record(f, "bs-1772442020")->completion, slot + 21000);
	fx_free(f);
}

/* A retry the apiserver refuses for good is recorded as that attempt,
 * failed; the run then goes on as spec.retry says, never looping. */
static void test_retry_refused_for_good(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 9 * * *\",\"retry\":{\"after\":[\"1s\"]}");
	int64_t slot = at(T1);
	const char *first = fire(f, slot);
	end_run(f, first, false, 1, slot + 1000);
	step(f, slot + 1000);
	struct spec_status saved;
	spec_status_init(&saved);
	spec_status_copy(&saved, &f->status);
	struct plan *p = step(f, slot + 2000);
	assert_string_equal(the_create(p)->job_name, "bs-1772442000-2");
	/* The POST was refused: the plan's status is not written. */
	spec_status_copy(&f->status, &saved);
	spec_status_release(&saved);
	f->n_fails = 1;
	f->fails[0] = (struct plan_create_failure){.job_name = "bs-1772442000-2",
						   .slot = slot,
						   .trigger = SPEC_TRIGGER_RETRY,
						   .code = 403,
						   .reason = "Forbidden",
						   .message = "exceeded quota"};
	p = step(f, slot + 2500);
	assert_int_equal(creates(p), 0);
	const struct spec_run_record *r = record(f, "bs-1772442000-2");
	assert_int_equal(r->result, SPEC_RESULT_FAILED);
	assert_int_equal(r->attempt, 2);
	assert_string_equal(r->reason, "FailedCreate: 403 Forbidden: exceeded quota");
	assert_non_null(event(p, "RunFailed"));
	assert_int_equal(creates(step(f, slot + 5000)), 0);
	fx_free(f);
}

/* A rerun's attempt (started by the rerun step, adopted into the history
 * while it runs) is recorded but not retried, and RunFailed is left to
 * the rerun's own RerunDone. */
static void test_rerun_attempt_not_retried(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 9 * * *\",\"retry\":{\"after\":[\"1s\"]}");
	int64_t slot = at(T1);
	step(f, slot + 3600000);
	struct plan_run *r = add_run(f, "bs-1772442000-rabcdef", slot, slot + 3600000);
	r->trigger = SPEC_TRIGGER_RERUN;
	step(f, slot + 3600100);
	assert_int_equal(record(f, "bs-1772442000-rabcdef")->result, SPEC_RESULT_ACTIVE);
	assert_int_equal(record(f, "bs-1772442000-rabcdef")->trigger, SPEC_TRIGGER_RERUN);
	end_run(f, "bs-1772442000-rabcdef", false, 1, slot + 3601000);
	struct plan *p = step(f, slot + 3601000);
	assert_int_equal(record(f, "bs-1772442000-rabcdef")->result, SPEC_RESULT_FAILED);
	assert_null(event(p, "RunFailed"));
	assert_int_equal(creates(step(f, slot + 3605000)), 0);
	fx_free(f);
}

/* A retry due before notAfter but not started by then (here: the
 * controller was down from 10:00 to past 11:00) does not start after it:
 * the run ends, said by the decision at notAfter, and silently later. */
static void test_not_after_passed_while_waiting(void **state)
{
	const char *fields = "\"schedule\":\"0 0 9 * * *\",\"retry\":{\"after\":[\"1h\"],"
			     "\"notAfter\":\"11:00\"}";
	int64_t slot = at(T1);
	for (int late = 0; late < 2; late++) {
		struct fx *f = fx_new(fields);
		const char *first = fire(f, slot);
		end_run(f, first, false, 1, at("2026-03-02T09:30:00Z"));
		struct plan *p = step(f, at("2026-03-02T09:30:00Z"));
		assert_int_equal(p->wake, at("2026-03-02T10:30:00Z"));
		int64_t back = late ? at("2026-03-02T12:00:00Z") : at("2026-03-02T11:00:00.001Z");
		p = step(f, back);
		assert_int_equal(creates(p), 0);
		if (late)
			assert_null(event(p, "RunFailed"));
		else
			assert_non_null(strstr(event(p, "RunFailed")->message,
					       "notAfter 11:00:00 passed before the retry"));
		assert_int_equal(creates(step(f, back + 5000)), 0);
		fx_free(f);
	}
}

/* The schedule's kill acted on in the next step: lastKill as
 * control_before_plan records it, and the planner told (plan_input.kill). */
static struct plan *step_kill(struct fx *f, const char *id, int64_t now)
{
	char text[128];
	snprintf(text, sizeof(text), "{\"requestId\":\"%s\",\"jobs\":[],\"podsDeleted\":0}", id);
	cJSON_Delete(f->status.last_kill);
	f->status.last_kill = cJSON_Parse(text);
	f->kill = id;
	return step(f, now);
}

static const char *cancelled(const struct fx *f, int i)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(f->status.last_kill, "retriesCancelled");
	return cJSON_GetStringValue(cJSON_GetArrayItem(a, i));
}

/* A kill on the schedule while a retry is pending (the failed attempt's
 * Job finished, the next attempt not started) cancels it: the attempt's
 * entry turns Killed (RetryCancelled, exit code kept), RunFailed says so
 * once, lastKill names it, and no retry starts, then or after a restart
 * (every step reads the status back from JSON). */
static void test_kill_cancels_pending_retry(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 9 * * *\",\"retry\":{\"after\":[\"30s\"]}");
	int64_t slot = at(T1);
	const char *first = fire(f, slot);
	end_run(f, first, false, 3, slot + 1000);
	struct plan *p = step(f, slot + 1000);
	assert_int_equal(p->wake, slot + 31000);
	p = step_kill(f, "k1", slot + 5000);
	assert_int_equal(creates(p), 0);
	const struct plan_action *e = event(p, "RunFailed");
	assert_non_null(e);
	assert_non_null(strstr(e->message, "exit code 3"));
	assert_non_null(strstr(e->message, "retry (attempt 2) was cancelled by kill request k1"));
	const struct spec_run_record *r = record(f, "bs-1772442000");
	assert_int_equal(r->result, SPEC_RESULT_KILLED);
	assert_string_equal(r->reason, "RetryCancelled");
	assert_true(r->has_exit_code);
	assert_int_equal(r->exit_code, 3);
	assert_string_equal(cancelled(f, 0), "bs-1772442000");
	assert_null(cancelled(f, 1));
	assert_true(p->wake == SPEC_TIME_UNSET || p->wake > slot + 31000);
	p = step(f, slot + 31000);
	assert_int_equal(creates(p), 0);
	assert_null(event(p, "RunFailed"));
	p = step(f, slot + 60000);
	assert_int_equal(creates(p), 0);
	assert_string_equal(cancelled(f, 0), "bs-1772442000");
	fx_free(f);
}

/* Under Forbid the pending retry held the slots back; the kill frees them:
 * the next slot fires. A run that already ended for good (limit reached)
 * is history, not touched; nor is a retry already running (the kill
 * deletes that Job: its attempt is recorded Killed from the Job). */
static void test_kill_frees_forbid_and_spares_history(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"*/10 * * * * *\",\"retry\":{\"after\":[\"25s\"]}");
	int64_t slot = at(T1);
	const char *first = fire(f, slot);
	end_run(f, first, false, 1, slot + 1000);
	step(f, slot + 1000);
	struct plan *p = step_kill(f, "k2", slot + 5000);
	assert_non_null(event(p, "RunFailed"));
	p = step(f, slot + 10000);
	assert_string_equal(the_create(p)->job_name, "bs-1772442010");
	fx_free(f);

	f = fx_new("\"schedule\":\"0 0 9 * * *\",\"retry\":{\"after\":[\"1s\"],\"limit\":1}");
	first = fire(f, slot);
	end_run(f, first, false, 1, slot + 1000);
	step(f, slot + 1000);
	p = step(f, slot + 2000);
	assert_string_equal(the_create(p)->job_name, "bs-1772442000-2");
	apply(f, slot + 2010);
	end_run(f, "bs-1772442000-2", false, 1, slot + 3000);
	p = step(f, slot + 3000);
	assert_non_null(event(p, "RunFailed")); /* limit reached */
	p = step_kill(f, "k3", slot + 4000);
	assert_null(event(p, "RunFailed"));
	assert_int_equal(record(f, "bs-1772442000-2")->result, SPEC_RESULT_FAILED);
	assert_null(cancelled(f, 0));
	fx_free(f);
}

/* plan_pending_retries: what the rerun step is told. A failed attempt
 * whose Job ended since the status was written counts already; a
 * cancelled one does not. */
static void test_pending_retries_count(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 9 * * *\",\"retry\":{\"after\":[\"30s\"]}");
	int64_t slot = at(T1);
	const char *first = fire(f, slot);
	struct plan_input in = {.spec = &f->spec,
				.status = &f->status,
				.runs = f->runs,
				.n_runs = f->n_runs,
				.now = slot + 2000};
	assert_int_equal(plan_pending_retries(&in), 0);
	end_run(f, first, false, 1, slot + 1000);
	assert_int_equal(plan_pending_retries(&in), 1); /* not yet settled */
	step(f, slot + 1000);
	in.status = &f->status;
	assert_int_equal(plan_pending_retries(&in), 1);
	step_kill(f, "k4", slot + 2000);
	in.status = &f->status;
	assert_int_equal(plan_pending_retries(&in), 0);
	fx_free(f);
}

/* Never twice: under claim_gate a due attempt is only claimed (recorded
 * Active, claimed, no POST); the claim's writer POSTs it once it has
 * landed; a process that finds the claim with no Job and did not write it
 * records the attempt lost (RetryLost) and the run ends, never re-created. */
static void test_retry_claimed_before_post(void **state)
{
	struct fx *f = fx_new("\"schedule\":\"0 0 9 * * *\",\"retry\":{\"after\":[\"10s\"],"
			      "\"limit\":2}");
	int64_t slot = at(T1);
	const char *first = fire(f, slot);
	end_run(f, first, false, 3, slot + 2000);
	step(f, slot + 2100);
	f->claim_gate = true;
	struct plan *p = step(f, slot + 12000);
	assert_int_equal(creates(p), 0);
	assert_true(p->claim_first);
	assert_string_equal(p->retry_claim_job, "bs-1772442000-2");
	assert_true(record(f, "bs-1772442000-2")->claimed);
	assert_int_equal(record(f, "bs-1772442000-2")->result, SPEC_RESULT_ACTIVE);
	/* Ours, landed: one POST, the claim spent. */
	f->retry_mine = "bs-1772442000-2";
	p = step(f, slot + 12100);
	assert_string_equal(the_create(p)->job_name, "bs-1772442000-2");
	assert_int_equal(the_create(p)->attempt, 2);
	assert_false(record(f, "bs-1772442000-2")->claimed);
	fx_free(f);

	/* The same claim found by a process that did not write it, no Job. */
	f = fx_new("\"schedule\":\"0 0 9 * * *\",\"retry\":{\"after\":[\"10s\"],\"limit\":2}");
	first = fire(f, slot);
	end_run(f, first, false, 3, slot + 2000);
	step(f, slot + 2100);
	f->claim_gate = true;
	step(f, slot + 12000);
	p = step(f, slot + 12100);
	assert_int_equal(creates(p), 0);
	assert_non_null(event(p, "RetryLost"));
	assert_int_equal(record(f, "bs-1772442000-2")->result, SPEC_RESULT_FAILED);
	assert_string_equal(record(f, "bs-1772442000-2")->reason, "RetryLost");
	assert_false(record(f, "bs-1772442000-2")->claimed);
	/* The run ends: no attempt 3, ever. */
	p = step(f, slot + 60000);
	assert_int_equal(creates(p), 0);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_retry_grammar),
	    cmocka_unit_test(test_retry_job),
	    cmocka_unit_test(test_retry_twice_then_success),
	    cmocka_unit_test(test_limit_reached_run_failed),
	    cmocka_unit_test(test_no_retry_spec),
	    cmocka_unit_test(test_local_time_steps),
	    cmocka_unit_test(test_local_time_dst),
	    cmocka_unit_test(test_midnight),
	    cmocka_unit_test(test_not_after),
	    cmocka_unit_test(test_on_exit_codes),
	    cmocka_unit_test(test_forbid_counts_pending_retry),
	    cmocka_unit_test(test_replace_drops_pending_retry),
	    cmocka_unit_test(test_allow_retry_beside_new_run),
	    cmocka_unit_test(test_killed_not_retried),
	    cmocka_unit_test(test_restart_pending_retry),
	    cmocka_unit_test(test_history_bounded_and_exact),
	    cmocka_unit_test(test_retry_refused_for_good),
	    cmocka_unit_test(test_rerun_attempt_not_retried),
	    cmocka_unit_test(test_not_after_passed_while_waiting),
	    cmocka_unit_test(test_retry_claimed_before_post),
	    cmocka_unit_test(test_kill_cancels_pending_retry),
	    cmocka_unit_test(test_kill_frees_forbid_and_spares_history),
	    cmocka_unit_test(test_pending_retries_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
