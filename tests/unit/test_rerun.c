/* Unit tests for pkg/controller/rerun: the slots a takt.io/rerun request
 * selects (a business-date range over the schedule and its calendar, missing
 * / failed / all from the record, the 1,000 bound) and the parsing of its
 * annotations and of the record. */
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
#include "calendar/calsched.h"
#include "base/intern.h"
#include "controller/planner.h"
#include "controller/rerun.h"
#include "controller/spec.h"
#include "cron/cron.h"
#include "tz/civil.h"
#include "tz/tz.h"

static int64_t D(int y, int m, int d)
{
	return civil_days_from_ymd(y, m, d);
}

static int64_t MS(const char *rfc3339)
{
	int64_t ms;
	if (rfc3339_parse(rfc3339, &ms))
		fail_msg("bad time %s", rfc3339);
	return ms;
}

static struct tz *zone(const char *name)
{
	struct tz *z;
	char err[200];
	if (tz_load(name, &z, err, sizeof(err)))
		fail_msg("tz_load %s: %s", name, err);
	return z;
}

static struct cron_expr *cron(const char *text)
{
	struct cron_expr *e;
	char err[200];
	if (cron_parse(text, &e, err, sizeof(err)))
		fail_msg("cron_parse %s: %s", text, err);
	return e;
}

/* KRX-like 2026 (Seoul): the Lunar New Year holidays 2026-02-16..18. */
static struct calendar *krx(void)
{
	cJSON *spec =
	    cJSON_Parse("{\"timeZone\":\"Asia/"
			"Seoul\",\"validFrom\":\"2026-01-01\",\"validUntil\":\"2026-12-31\","
			"\"holidays\":[\"2026-01-01\",\"2026-02-16\",\"2026-02-17\",\"2026-02-18\","
			"\"2026-03-02\",\"2026-12-25\",\"2026-12-31\"]}");
	assert_non_null(spec);
	struct calendar *c;
	char err[256];
	if (calendar_from_spec_json(spec, NULL, 0, &c, err, sizeof(err)))
		fail_msg("calendar: %s", err);
	cJSON_Delete(spec);
	return c;
}

/* The selection as "YYYY-MM-DDTHH:MM:SSZ ..." (UTC), for readable asserts. */
static const char *slots_text(const struct rerun_selection *s)
{
	static char buf[8192];
	size_t off = 0;
	buf[0] = 0;
	for (size_t i = 0; i < s->n && off + 32 < sizeof(buf); i++) {
		char t[40];
		rfc3339_format(s->slots[i], false, t, sizeof(t));
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? " " : "", t);
	}
	return buf;
}

struct fixture {
	struct cron_expr *cron;
	struct tz *zone;
	struct calendar *cal;
	struct calsched_rules rules;
	struct rerun_input in;
	struct rerun_selection sel;
	char err[512];
};

static void fx_init(struct fixture *f, const char *expr, const char *zname, bool with_cal)
{
	memset(f, 0, sizeof(*f));
	f->cron = cron(expr);
	f->zone = zone(zname);
	calsched_rules_init(&f->rules);
	f->cal = with_cal ? krx() : NULL;
	f->in.cron = f->cron;
	f->in.zone = f->zone;
	f->in.calendar = f->cal;
	f->in.rules = &f->rules;
	f->in.only = RERUN_ONLY_FAILED;
	f->in.now = MS("2027-06-01T00:00:00Z");
	rerun_selection_init(&f->sel);
}

static void fx_release(struct fixture *f)
{
	rerun_selection_release(&f->sel);
	calendar_free(f->cal);
	tz_free(f->zone);
	cron_free(f->cron);
}

static int fx_select(struct fixture *f, const char *dates)
{
	char err[256];
	if (rerun_dates_parse("dates", dates, &f->in.from_day, &f->in.to_day, err, sizeof(err)))
		fail_msg("dates %s: %s", dates, err);
	f->err[0] = 0;
	return rerun_select(&f->in, &f->sel, f->err, sizeof(f->err));
}

static void test_dates_parse(void **state)
{
	(void)state;
	int64_t a, b;
	char err[256];
	assert_int_equal(rerun_dates_parse("d", "2026-12-01", &a, &b, err, sizeof(err)), 0);
	assert_int_equal(a, D(2026, 12, 1));
	assert_int_equal(b, D(2026, 12, 1));
	assert_int_equal(rerun_dates_parse("d", "2026-12-01..2026-12-05", &a, &b, err, sizeof(err)),
			 0);
	assert_int_equal(a, D(2026, 12, 1));
	assert_int_equal(b, D(2026, 12, 5));
	assert_int_equal(rerun_dates_parse("d", "2024-02-29..2024-02-29", &a, &b, err, sizeof(err)),
			 0);

	static const struct {
		const char *in, *msg;
	} bad[] = {
	    {"", "d: missing"},
	    {"2026-02-30", "\"2026-02-30\" is not a real date"},
	    {"2025-02-29", "\"2025-02-29\" is not a real date"},
	    {"2026-13-01", "is not a real date"},
	    {"20261201", "is not a date range"},
	    {"2026-12-1", "is not a date range"},
	    {"2026-12-01..", "(\"\" is not a real date)"},
	    {"..2026-12-01", "is not a date range"},
	    {"2026-12-01...2026-12-02", "\".2026-12-02\" is not a real date"},
	    {"2026-12-01..2026-12-05 ", "is not a real date"},
	    {"2026-12-01..2026-12-05..2026-12-06", "is not a real date"},
	    {"2026-12-05..2026-12-01", "the end is before the start"},
	    {"yesterday", "is not a date range"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (rerun_dates_parse("d", bad[i].in, &a, &b, err, sizeof(err)) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i].in);
		if (!strstr(err, bad[i].msg))
			fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].in, err, bad[i].msg);
		assert_non_null(strstr(err, "d: "));
	}
	assert_int_equal(rerun_dates_parse("d", NULL, &a, &b, err, sizeof(err)), -EINVAL);
}

static void test_only_parse(void **state)
{
	(void)state;
	enum rerun_only o = RERUN_ONLY_ALL;
	char err[256];
	assert_int_equal(rerun_only_parse(NULL, &o, err, sizeof(err)), 0);
	assert_int_equal(o, RERUN_ONLY_FAILED);
	assert_int_equal(rerun_only_parse("", &o, err, sizeof(err)), 0);
	assert_int_equal(o, RERUN_ONLY_FAILED);
	assert_int_equal(rerun_only_parse("missing", &o, err, sizeof(err)), 0);
	assert_int_equal(o, RERUN_ONLY_MISSING);
	assert_int_equal(rerun_only_parse("all", &o, err, sizeof(err)), 0);
	assert_int_equal(o, RERUN_ONLY_ALL);
	assert_int_equal(rerun_only_parse("failed", &o, err, sizeof(err)), 0);
	assert_int_equal(o, RERUN_ONLY_FAILED);
	assert_int_equal(rerun_only_parse("Failed", &o, err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "takt.io/rerun-only: \"Failed\" is not one of missing, failed, all");
	assert_string_equal(rerun_only_name(RERUN_ONLY_MISSING), "missing");
	assert_string_equal(rerun_only_name(RERUN_ONLY_ALL), "all");
}

/* A daily 07:00 Seoul schedule on KRX business days over the Lunar New Year
 * week: the weekend and the three holidays have no slots. */
static void test_range_over_calendar_with_holidays(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f, "0 0 7 * * *", "Asia/Seoul", true);
	f.in.only = RERUN_ONLY_ALL;
	assert_int_equal(fx_select(&f, "2026-02-12..2026-02-20"), 0);
	assert_string_equal(slots_text(&f.sel), "2026-02-11T22:00:00Z 2026-02-12T22:00:00Z "
						"2026-02-18T22:00:00Z 2026-02-19T22:00:00Z");
	assert_int_equal(f.sel.in_range, 4);
	/* One holiday alone: nothing, and that is no error. */
	assert_int_equal(fx_select(&f, "2026-02-17"), 0);
	assert_int_equal(f.sel.n, 0);
	/* Without the calendar every day has its slot. */
	f.in.calendar = NULL;
	assert_int_equal(fx_select(&f, "2026-02-12..2026-02-20"), 0);
	assert_int_equal(f.sel.n, 9);
	fx_release(&f);
}

/* The business date is the local date in the schedule's zone, as
 * TAKT_BUSINESS_DATE: 00:30 Seoul on the 2nd is the 1st in UTC. */
static void test_business_date_is_local(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f, "0 30 0,23 * * *", "Asia/Seoul", false);
	f.in.only = RERUN_ONLY_ALL;
	assert_int_equal(fx_select(&f, "2026-12-02"), 0);
	assert_string_equal(slots_text(&f.sel), "2026-12-01T15:30:00Z 2026-12-02T14:30:00Z");
	fx_release(&f);

	/* A zone west of UTC, across the fall-back day: an interval pattern
	 * fires at both 01:30s, both on the business date 2026-11-01. */
	fx_init(&f, "0 30 * * * *", "America/New_York", false);
	f.in.only = RERUN_ONLY_ALL;
	assert_int_equal(fx_select(&f, "2026-11-01"), 0);
	assert_int_equal(f.sel.n, 25);
	assert_int_equal(f.sel.slots[0], MS("2026-11-01T04:30:00Z"));
	assert_int_equal(f.sel.slots[24], MS("2026-11-02T04:30:00Z"));
	fx_release(&f);
}

/* onNonBusinessDay NextBusinessDay: the Saturday and Sunday slots land on
 * Monday, once; their business date is Monday's. */
static void test_shifted_slots_take_the_landing_date(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f, "0 0 9 * * *", "Asia/Seoul", true);
	f.rules.shift = CALSCHED_NEXT_BUSINESS_DAY;
	f.in.only = RERUN_ONLY_ALL;
	/* Sat 2026-03-07, Sun 03-08, Mon 03-09. */
	assert_int_equal(fx_select(&f, "2026-03-07..2026-03-08"), 0);
	assert_int_equal(f.sel.n, 0);
	assert_int_equal(fx_select(&f, "2026-03-09"), 0);
	assert_string_equal(slots_text(&f.sel), "2026-03-09T00:00:00Z");
	fx_release(&f);
}

static struct rerun_record rec(const char *slot, const char *start, int attempt,
			       enum rerun_result r)
{
	struct rerun_record x = {.slot = MS(slot),
				 .start = start ? MS(start) : INT64_MIN,
				 .attempt = attempt,
				 .result = r};
	return x;
}

/* Daily 12:00 UTC, 2026-12-01..07, with a record for most days. */
static void test_only_missing_failed_all(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f, "0 0 12 * * *", "UTC", false);
	const struct rerun_record recs[] = {
	    /* 12-01 succeeded */
	    rec("2026-12-01T12:00:00Z", "2026-12-01T12:00:01Z", 1, RERUN_SUCCEEDED),
	    /* 12-02 failed */
	    rec("2026-12-02T12:00:00Z", "2026-12-02T12:00:01Z", 1, RERUN_FAILED),
	    /* 12-03 killed */
	    rec("2026-12-03T12:00:00Z", "2026-12-03T12:00:01Z", 1, RERUN_KILLED),
	    /* 12-04: none */
	    /* 12-05 failed, then its retry succeeded (listed newest first, as
	     * status.recentRuns is) */
	    rec("2026-12-05T12:30:00Z", "2026-12-05T12:30:00Z", 1, RERUN_SUCCEEDED),
	    rec("2026-12-05T12:00:00Z", "2026-12-05T12:31:00Z", 2, RERUN_SUCCEEDED),
	    rec("2026-12-05T12:00:00Z", "2026-12-05T12:00:01Z", 1, RERUN_FAILED),
	    /* 12-06 succeeded, then a rerun of it failed */
	    rec("2026-12-06T12:00:00Z", "2026-12-08T09:00:00Z", 1, RERUN_FAILED),
	    rec("2026-12-06T12:00:00Z", "2026-12-06T12:00:01Z", 1, RERUN_SUCCEEDED),
	    /* 12-07 still running, known only from its Job */
	    rec("2026-12-07T12:00:00Z", NULL, 1, RERUN_ACTIVE),
	};
	f.in.records = recs;
	f.in.n_records = sizeof(recs) / sizeof(recs[0]);

	f.in.only = RERUN_ONLY_MISSING;
	assert_int_equal(fx_select(&f, "2026-12-01..2026-12-07"), 0);
	assert_string_equal(slots_text(&f.sel), "2026-12-04T12:00:00Z");
	assert_int_equal(f.sel.in_range, 7);

	f.in.only = RERUN_ONLY_FAILED;
	assert_int_equal(fx_select(&f, "2026-12-01..2026-12-07"), 0);
	assert_string_equal(slots_text(&f.sel), "2026-12-02T12:00:00Z 2026-12-03T12:00:00Z "
						"2026-12-04T12:00:00Z 2026-12-06T12:00:00Z");

	f.in.only = RERUN_ONLY_ALL;
	assert_int_equal(fx_select(&f, "2026-12-01..2026-12-07"), 0);
	assert_int_equal(f.sel.n, 7);
	assert_int_equal(f.sel.slots[0], MS("2026-12-01T12:00:00Z"));
	assert_int_equal(f.sel.slots[6], MS("2026-12-07T12:00:00Z"));

	/* Attempts with the same start: the higher attempt is the last. */
	const struct rerun_record tie[] = {
	    rec("2026-12-02T12:00:00Z", "2026-12-02T12:00:01Z", 2, RERUN_SUCCEEDED),
	    rec("2026-12-02T12:00:00Z", "2026-12-02T12:00:01Z", 1, RERUN_FAILED),
	};
	f.in.records = tie;
	f.in.n_records = 2;
	f.in.only = RERUN_ONLY_FAILED;
	assert_int_equal(fx_select(&f, "2026-12-02"), 0);
	assert_int_equal(f.sel.n, 0);
	fx_release(&f);
}

/* Slots after now have not come: the schedule runs them itself. */
static void test_future_slots_not_selected(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f, "0 0 12 * * *", "UTC", false);
	f.in.now = MS("2026-12-03T12:00:00Z"); /* the 3rd's slot is due: included */
	assert_int_equal(fx_select(&f, "2026-12-01..2026-12-10"), 0);
	assert_int_equal(f.sel.n, 3);
	assert_int_equal(f.sel.in_range, 3);
	f.in.now = MS("2026-12-03T11:59:59.999Z");
	assert_int_equal(fx_select(&f, "2026-12-01..2026-12-10"), 0);
	assert_int_equal(f.sel.n, 2);
	f.in.now = MS("2026-01-01T00:00:00Z");
	assert_int_equal(fx_select(&f, "2026-12-01..2026-12-10"), 0);
	assert_int_equal(f.sel.n, 0);
	fx_release(&f);
}

/* At most 1,000 slots: 1,000 days of a daily schedule pass, 1,001 do not;
 * a minutely schedule over one day (1,440) does not either. */
static void test_bound_of_1000(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f, "0 0 12 * * *", "UTC", false);
	f.in.only = RERUN_ONLY_MISSING;
	char range[64], last[16];
	civil_format_date(D(2024, 1, 1) + 999, last, sizeof(last));
	snprintf(range, sizeof(range), "2024-01-01..%s", last);
	assert_int_equal(fx_select(&f, range), 0);
	assert_int_equal(f.sel.n, 1000);
	civil_format_date(D(2024, 1, 1) + 1000, last, sizeof(last));
	snprintf(range, sizeof(range), "2024-01-01..%s", last);
	assert_int_equal(fx_select(&f, range), -E2BIG);
	assert_int_equal(f.sel.n, 0);
	assert_null(f.sel.slots);
	assert_string_equal(f.err, "more than 1000 slots to run (only=missing); a rerun is "
				   "refused past 1000: narrow the dates");
	/* Recorded slots do not count: with 1 of the 1,001 succeeded, it passes. */
	const struct rerun_record one = rec("2024-01-01T12:00:00Z", NULL, 1, RERUN_SUCCEEDED);
	f.in.records = &one;
	f.in.n_records = 1;
	assert_int_equal(fx_select(&f, range), 0);
	assert_int_equal(f.sel.n, 1000);
	assert_int_equal(f.sel.in_range, 1001);
	fx_release(&f);

	fx_init(&f, "* * * * *", "UTC", false);
	assert_int_equal(fx_select(&f, "2026-12-01"), -E2BIG);
	fx_release(&f);
	/* A 1-second pattern over a whole year is refused
	 * quickly (the walk stops at the 1,001st). */
	fx_init(&f, "* * * * * *", "UTC", false);
	assert_int_equal(fx_select(&f, "2026-01-01..2026-12-31"), -E2BIG);
	fx_release(&f);
}

/* A range the calendar does not cover is refused (fail closed), naming the
 * day; the same range stopping inside the coverage passes. */
static void test_outside_coverage_refused(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f, "0 0 7 * * *", "Asia/Seoul", true);
	assert_int_equal(fx_select(&f, "2026-12-28..2027-01-05"), -ENODATA);
	assert_non_null(strstr(f.err, "the calendar does not cover the range"));
	assert_non_null(strstr(f.err, "2027-01-01"));
	assert_int_equal(f.sel.n, 0);
	assert_int_equal(fx_select(&f, "2026-12-28..2026-12-31"), 0);
	assert_int_equal(f.sel.n, 3); /* 28, 29, 30; the 31st is a holiday */
	fx_release(&f);
}

static void test_bad_input(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f, "0 0 12 * * *", "UTC", false);
	f.in.from_day = D(2026, 12, 5);
	f.in.to_day = D(2026, 12, 1);
	assert_int_equal(rerun_select(&f.in, &f.sel, f.err, sizeof(f.err)), -EINVAL);
	assert_string_equal(f.err, "rerun: the end of the range is before its start");
	f.in.to_day = D(2026, 12, 5);
	f.in.cron = NULL;
	assert_int_equal(rerun_select(&f.in, &f.sel, f.err, sizeof(f.err)), -EINVAL);
	assert_int_equal(rerun_select(NULL, &f.sel, NULL, 0), -EINVAL);
	f.in.cron = f.cron;
	/* Years outside what cron handles. */
	f.in.from_day = D(10000, 1, 1);
	f.in.to_day = D(10000, 1, 2);
	f.in.now = INT64_MAX / 2;
	int rc = rerun_select(&f.in, &f.sel, f.err, sizeof(f.err));
	assert_true(rc == 0 || rc == -EINVAL);
	assert_int_equal(f.sel.n, 0);
	fx_release(&f);
}

static void test_records_from_history_and_jobs(void **state)
{
	(void)state;
	cJSON *h = cJSON_Parse(
	    "[{\"job\":\"a-1\",\"scheduledTime\":\"2026-12-02T12:00:00.000Z\",\"attempt\":2,"
	    "\"startTime\":\"2026-12-02T12:31:00Z\",\"result\":\"Succeeded\"},"
	    "{\"job\":\"a-0\",\"scheduledTime\":\"2026-12-01T12:00:00Z\",\"result\":\"Killed\"},"
	    "{\"job\":\"bad-time\",\"scheduledTime\":\"yesterday\",\"result\":\"Failed\"},"
	    "{\"job\":\"bad-result\",\"scheduledTime\":\"2026-12-01T12:00:00Z\",\"result\":\"Meh\"}"
	    ","
	    "{\"job\":\"no-result\",\"scheduledTime\":\"2026-12-01T12:00:00Z\"},"
	    "\"not an object\"]");
	assert_non_null(h);
	struct rerun_record *recs = NULL;
	size_t n = 0, cap = 0;
	assert_int_equal(rerun_records_from_history(h, &recs, &n, &cap), 2);
	assert_int_equal(n, 2);
	assert_int_equal(recs[0].slot, MS("2026-12-02T12:00:00Z"));
	assert_int_equal(recs[0].attempt, 2);
	assert_int_equal(recs[0].start, MS("2026-12-02T12:31:00Z"));
	assert_int_equal(recs[0].result, RERUN_SUCCEEDED);
	assert_int_equal(recs[1].attempt, 1);
	assert_true(recs[1].start == INT64_MIN);
	assert_int_equal(recs[1].result, RERUN_KILLED);
	assert_int_equal(rerun_records_from_history(NULL, &recs, &n, &cap), 0);
	assert_int_equal(rerun_records_from_history(h->child, &recs, &n, &cap), 0);
	cJSON_Delete(h);
	free(recs);

	static const struct {
		const char *json;
		int rc;
		enum rerun_result result;
		int attempt;
	} jobs[] = {
	    {"{\"metadata\":{\"annotations\":{\"takt.io/"
	     "scheduled-time\":\"2026-12-01T12:00:00.000Z\"},"
	     "\"creationTimestamp\":\"2026-12-01T12:00:01Z\"},"
	     "\"status\":{\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\"}]}}",
	     0, RERUN_SUCCEEDED, 1},
	    {"{\"metadata\":{\"annotations\":{\"takt.io/scheduled-time\":\"2026-12-01T12:00:00Z\","
	     "\"takt.io/attempt\":\"3\"}},"
	     "\"status\":{\"conditions\":[{\"type\":\"Failed\",\"status\":\"True\"}]}}",
	     0, RERUN_FAILED, 3},
	    {"{\"metadata\":{\"annotations\":{\"takt.io/scheduled-time\":\"2026-12-01T12:00:00Z\","
	     "\"takt.io/killed\":\"k1\",\"takt.io/attempt\":\"x\"}},"
	     "\"status\":{\"conditions\":[{\"type\":\"Failed\",\"status\":\"True\"}]}}",
	     0, RERUN_KILLED, 1},
	    {"{\"metadata\":{\"annotations\":{\"takt.io/"
	     "scheduled-time\":\"2026-12-01T12:00:00Z\"}},"
	     "\"status\":{\"conditions\":[{\"type\":\"Failed\",\"status\":\"False\"}]}}",
	     0, RERUN_ACTIVE, 1},
	    {"{\"metadata\":{\"name\":\"foreign\"}}", -1, RERUN_ACTIVE, 1},
	    {"{\"metadata\":{\"annotations\":{\"takt.io/scheduled-time\":\"soon\"}}}", -1,
	     RERUN_ACTIVE, 1},
	};
	for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
		cJSON *j = cJSON_Parse(jobs[i].json);
		assert_non_null(j);
		struct rerun_record r;
		assert_int_equal(rerun_record_from_job(j, &r), jobs[i].rc);
		if (jobs[i].rc == 0) {
			assert_int_equal(r.slot, MS("2026-12-01T12:00:00Z"));
			assert_int_equal(r.result, jobs[i].result);
			assert_int_equal(r.attempt, jobs[i].attempt);
		}
		cJSON_Delete(j);
	}
	enum rerun_result rr;
	assert_int_equal(rerun_result_parse("Killed", &rr), 0);
	assert_int_equal(rr, RERUN_KILLED);
	assert_int_equal(rerun_result_parse(NULL, &rr), -1);
	assert_string_equal(rerun_result_name(RERUN_ACTIVE), "Active");
}

/* ---- the controller's step ---------------------------------------------------- */

/* A daily 12:00 UTC schedule named "daily" with that concurrency policy. */
static void spec_daily(struct spec *sp, const char *policy, const char *name)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"uid\":\"u1\"},"
		 "\"spec\":{\"schedule\":\"0 0 12 * * *\",\"timeZone\":\"UTC\","
		 "\"concurrencyPolicy\":\"%s\",\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":"
		 "{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}}}",
		 name, policy);
	cJSON *o = cJSON_Parse(text);
	assert_non_null(o);
	char err[256];
	spec_init(sp);
	if (spec_parse(o, sp, err, sizeof(err)))
		fail_msg("spec: %s", err);
	cJSON_Delete(o);
}

struct step_fx {
	struct spec sp;
	struct rerun_step_input in;
	struct rerun_step out;
	cJSON *last;
};

static void step_init(struct step_fx *f, const char *policy)
{
	memset(f, 0, sizeof(*f));
	spec_daily(&f->sp, policy, "daily");
	f->in.spec = &f->sp;
	f->in.zone = f->sp.zone;
	f->in.request = "rr-1";
	f->in.dates = "2026-12-01..2026-12-03";
	f->in.now = MS("2026-12-10T00:00:00Z");
	rerun_step_init(&f->out);
}

static void step_release(struct step_fx *f)
{
	rerun_step_release(&f->out);
	cJSON_Delete(f->last);
	spec_release(&f->sp);
}

/* Computes a step from the persisted lastRerun `last` (JSON or NULL). */
static void step(struct step_fx *f, const char *last)
{
	cJSON_Delete(f->last);
	f->last = last ? cJSON_Parse(last) : NULL;
	f->in.last = f->last;
	rerun_step_release(&f->out);
	assert_int_equal(rerun_step_compute(&f->in, &f->out), 0);
}

static const char *last_str(const struct step_fx *f, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f->out.last, key));
}

static int last_int(const struct step_fx *f, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->out.last, key);
	return cJSON_IsNumber(v) ? v->valueint : -1;
}

static void test_rerun_job_name(void **state)
{
	(void)state;
	char a[64], b[64];
	int64_t slot = MS("2026-12-01T12:00:00Z");
	assert_int_equal(spec_rerun_job_name("daily", slot, "rr-1", a, sizeof(a)), 0);
	assert_int_equal(spec_rerun_job_name("daily", slot, "rr-1", b, sizeof(b)), 0);
	assert_string_equal(a, b);
	assert_int_equal(strncmp(a, "daily-1796126400-r", 18), 0);
	assert_int_equal(strlen(a), 24);
	assert_int_equal(spec_rerun_job_name("daily", slot, "rr-2", b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	char slotname[64];
	assert_int_equal(spec_job_name("daily", slot, slotname, sizeof(slotname)), 0);
	assert_string_not_equal(a, slotname);
	/* 44 characters fit, 45 do not. */
	char n44[64];
	memset(n44, 'a', 44);
	n44[44] = 0;
	assert_int_equal(spec_rerun_job_name(n44, slot, "rr-1", a, sizeof(a)), 0);
	assert_int_equal(strlen(a), 63);
	strcat(n44, "a");
	assert_int_equal(spec_rerun_job_name(n44, slot, "rr-1", a, sizeof(a)), -ERANGE);
	assert_int_equal(spec_rerun_job_name("daily", slot, "", a, sizeof(a)), -EINVAL);

	/* The Job: the slot's own time and business date, trigger rerun, the
	 * request id. */
	struct spec sp;
	spec_daily(&sp, "Forbid", "daily");
	cJSON *job = NULL;
	char err[256];
	assert_int_equal(
	    spec_build_job(&sp, NULL, slot, SPEC_TRIGGER_RERUN, "rr-1", &job, err, sizeof(err)), 0);
	assert_int_equal(spec_rerun_job_name("daily", slot, "rr-1", b, sizeof(b)), 0);
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(job, "metadata");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "name")), b);
	const cJSON *anns = cJSON_GetObjectItemCaseSensitive(md, "annotations");
	assert_string_equal(
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(anns, "takt.io/trigger")),
	    "rerun");
	assert_string_equal(
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(anns, "takt.io/request-id")),
	    "rr-1");
	assert_string_equal(
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(anns, "takt.io/scheduled-time")),
	    "2026-12-01T12:00:00.000Z");
	char *text = cJSON_PrintUnformatted(job);
	assert_non_null(strstr(text, "{\"name\":\"TAKT_BUSINESS_DATE\",\"value\":\"2026-12-01\"}"));
	assert_non_null(
	    strstr(text, "{\"name\":\"TAKT_SCHEDULED_TIME\",\"value\":\"2026-12-01T12:00:00Z\"}"));
	free(text);
	cJSON_Delete(job);
	assert_int_equal(
	    spec_build_job(&sp, NULL, slot, SPEC_TRIGGER_RERUN, NULL, &job, err, sizeof(err)),
	    -EINVAL);
	enum spec_trigger t;
	assert_int_equal(spec_trigger_parse("rerun", &t), 0);
	assert_int_equal(t, SPEC_TRIGGER_RERUN);
	assert_string_equal(spec_trigger_name(SPEC_TRIGGER_RERUN), "rerun");
	spec_release(&sp);
}

static void test_step_forbid_one_at_a_time(void **state)
{
	(void)state;
	struct step_fx f;
	char n1[64], n2[64], n3[64];
	step_init(&f, "Forbid");
	spec_rerun_job_name("daily", MS("2026-12-01T12:00:00Z"), "rr-1", n1, sizeof(n1));
	spec_rerun_job_name("daily", MS("2026-12-02T12:00:00Z"), "rr-1", n2, sizeof(n2));
	spec_rerun_job_name("daily", MS("2026-12-03T12:00:00Z"), "rr-1", n3, sizeof(n3));

	/* Accepted: 3 slots (nothing recorded: failed selects them), the first
	 * started. */
	step(&f, NULL);
	assert_true(f.out.handled_new);
	assert_string_equal(last_str(&f, "requestId"), "rr-1");
	assert_string_equal(last_str(&f, "only"), "failed");
	assert_string_equal(last_str(&f, "dates"), "2026-12-01..2026-12-03");
	assert_string_equal(last_str(&f, "progress"), "A--");
	assert_int_equal(last_int(&f, "selected"), 3);
	assert_int_equal(last_int(&f, "started"), 1);
	assert_int_equal(last_int(&f, "pending"), 2);
	assert_int_equal(f.out.n_starts, 1);
	assert_string_equal(f.out.starts[0].job_name, n1);
	assert_int_equal(f.out.starts[0].slot, MS("2026-12-01T12:00:00Z"));
	assert_string_equal(f.out.request_id, "rr-1");
	assert_int_equal(f.out.n_events, 1);
	assert_string_equal(f.out.events[0].reason, "RerunAccepted");
	assert_false(f.out.events[0].warning);
	char *persisted = cJSON_PrintUnformatted(f.out.last);

	/* Acted on once: the same request id again starts nothing new. The
	 * run is not seen yet but expected: nothing changes. */
	struct plan_expectation e = {
	    .name = n1, .slot = MS("2026-12-01T12:00:00Z"), .trigger = SPEC_TRIGGER_RERUN};
	f.in.exps = &e;
	f.in.n_exps = 1;
	step(&f, persisted);
	assert_false(f.out.handled_new);
	assert_null(f.out.last);
	assert_int_equal(f.out.n_starts, 0);

	/* Running: still nothing. */
	struct plan_run runs[3] = {{.name = n1,
				    .slot = MS("2026-12-01T12:00:00Z"),
				    .trigger = SPEC_TRIGGER_RERUN,
				    .pods_present = 1}};
	f.in.exps = NULL;
	f.in.n_exps = 0;
	f.in.runs = runs;
	f.in.n_runs = 1;
	step(&f, persisted);
	assert_null(f.out.last);
	assert_int_equal(f.out.n_starts, 0);

	/* Finished but a pod is still terminating: still active. */
	runs[0].finished = true;
	runs[0].succeeded = true;
	step(&f, persisted);
	assert_int_equal(f.out.n_starts, 0);

	/* Gone: settled, and the next starts. */
	runs[0].pods_present = 0;
	step(&f, persisted);
	assert_string_equal(last_str(&f, "progress"), "SA-");
	assert_int_equal(last_int(&f, "succeeded"), 1);
	assert_int_equal(f.out.n_starts, 1);
	assert_string_equal(f.out.starts[0].job_name, n2);
	free(persisted);
	persisted = cJSON_PrintUnformatted(f.out.last);

	/* The second fails; the third starts; it is killed: done. */
	runs[1] =
	    (struct plan_run){.name = n2, .slot = MS("2026-12-02T12:00:00Z"), .finished = true};
	f.in.n_runs = 2;
	step(&f, persisted);
	assert_string_equal(last_str(&f, "progress"), "SFA");
	assert_int_equal(f.out.n_starts, 1);
	assert_string_equal(f.out.starts[0].job_name, n3);
	free(persisted);
	persisted = cJSON_PrintUnformatted(f.out.last);
	runs[2] = (struct plan_run){
	    .name = n3, .slot = MS("2026-12-03T12:00:00Z"), .finished = true, .killed = true};
	f.in.n_runs = 3;
	f.in.now = MS("2026-12-10T00:05:00Z");
	step(&f, persisted);
	assert_string_equal(last_str(&f, "progress"), "SFK");
	assert_int_equal(last_int(&f, "succeeded"), 1);
	assert_int_equal(last_int(&f, "failed"), 2);
	assert_int_equal(last_int(&f, "pending"), 0);
	assert_string_equal(last_str(&f, "completionTime"), "2026-12-10T00:05:00.000Z");
	assert_int_equal(f.out.n_events, 1);
	assert_string_equal(f.out.events[0].reason, "RerunDone");
	assert_true(f.out.events[0].warning);
	assert_string_equal(f.out.events[0].message,
			    "rerun rr-1 done: 1 of 3 slots succeeded, 2 failed");
	free(persisted);
	persisted = cJSON_PrintUnformatted(f.out.last);
	/* Done stays done. */
	step(&f, persisted);
	assert_null(f.out.last);
	assert_int_equal(f.out.n_events, 0);
	free(persisted);
	step_release(&f);
}

/* Forbid while a run of the schedule is active: accepted, nothing starts
 * until it is gone. */
static void test_step_forbid_waits_for_active(void **state)
{
	(void)state;
	struct step_fx f;
	step_init(&f, "Forbid");
	struct plan_run own = {.name = "daily-1796990400", .slot = MS("2026-12-10T12:00:00Z")};
	f.in.runs = &own;
	f.in.n_runs = 1;
	step(&f, NULL);
	assert_string_equal(last_str(&f, "progress"), "---");
	assert_int_equal(f.out.n_starts, 0);
	/* Orphan pods count too. */
	f.in.n_runs = 0;
	f.in.orphan_pods = 1;
	step(&f, NULL);
	assert_int_equal(f.out.n_starts, 0);
	f.in.orphan_pods = 0;
	step(&f, NULL);
	assert_int_equal(f.out.n_starts, 1);
	step_release(&f);
}

/* Under Forbid a run whose retry is still to come is active: the rerun
 * waits for it (the next slot does not start) as the schedule's own slots
 * do. Under Allow it does not wait. */
static void test_step_forbid_waits_for_pending_retry(void **state)
{
	(void)state;
	struct step_fx f;
	step_init(&f, "Forbid");
	f.in.pending_retries = 1;
	step(&f, NULL);
	assert_string_equal(last_str(&f, "progress"), "---");
	assert_int_equal(f.out.n_starts, 0);
	f.in.pending_retries = 0;
	step(&f, NULL);
	assert_string_equal(last_str(&f, "progress"), "A--");
	char *persisted = cJSON_PrintUnformatted(f.out.last);
	/* In progress: the first rerun succeeded, a run of the schedule
	 * failed meanwhile and its retry is to come; the next slot waits. */
	char n1[64];
	spec_rerun_job_name("daily", MS("2026-12-01T12:00:00Z"), "rr-1", n1, sizeof(n1));
	struct plan_run done = {
	    .name = n1, .slot = MS("2026-12-01T12:00:00Z"), .finished = true, .succeeded = true};
	f.in.runs = &done;
	f.in.n_runs = 1;
	f.in.pending_retries = 1;
	step(&f, persisted);
	assert_string_equal(last_str(&f, "progress"), "S--");
	assert_int_equal(f.out.n_starts, 0);
	f.in.pending_retries = 0;
	step(&f, persisted);
	assert_string_equal(last_str(&f, "progress"), "SA-");
	assert_int_equal(f.out.n_starts, 1);
	free(persisted);
	step_release(&f);

	step_init(&f, "Allow");
	f.in.pending_retries = 1;
	step(&f, NULL);
	assert_int_equal(f.out.n_starts, 3);
	step_release(&f);
}

/* Allow: together. */
static void test_step_allow_together(void **state)
{
	(void)state;
	struct step_fx f;
	step_init(&f, "Allow");
	struct plan_run own = {.name = "daily-1796990400", .slot = MS("2026-12-10T12:00:00Z")};
	f.in.runs = &own;
	f.in.n_runs = 1;
	step(&f, NULL);
	assert_string_equal(last_str(&f, "progress"), "AAA");
	assert_int_equal(f.out.n_starts, 3);
	assert_int_equal(f.out.starts[2].slot, MS("2026-12-03T12:00:00Z"));
	step_release(&f);
}

/* The selection reads the record: the Jobs and status.recentRuns. */
static void test_step_selection_from_record(void **state)
{
	(void)state;
	struct step_fx f;
	step_init(&f, "Allow");
	cJSON *hist = cJSON_Parse("[{\"job\":\"daily-1796212800\",\"scheduledTime\":"
				  "\"2026-12-01T12:00:00Z\",\"result\":\"Succeeded\"}]");
	struct plan_run failed = {
	    .name = "daily-1796299200", .slot = MS("2026-12-02T12:00:00Z"), .finished = true};
	struct plan_run ok = {.name = "daily-1796385600",
			      .slot = MS("2026-12-03T12:00:00Z"),
			      .finished = true,
			      .succeeded = true};
	struct plan_run runs[2] = {failed, ok};
	f.in.history = hist;
	f.in.runs = runs;
	f.in.n_runs = 2;
	step(&f, NULL);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(f.out.last, "slots")),
			 1);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(
				cJSON_GetObjectItemCaseSensitive(f.out.last, "slots"), 0)),
			    "2026-12-02T12:00:00Z");
	f.in.only = "all";
	step(&f, NULL);
	assert_int_equal(last_int(&f, "selected"), 3);
	f.in.only = "missing";
	step(&f, NULL);
	assert_int_equal(last_int(&f, "selected"), 0);
	assert_string_equal(last_str(&f, "progress"), "");
	assert_non_null(last_str(&f, "completionTime"));
	cJSON_Delete(hist);
	step_release(&f);
}

static void test_step_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *id, *dates, *only, *why;
	} cases[] = {
	    {"rr-1", "2026-12-03..2026-12-01", NULL,
	     "takt.io/rerun-dates: \"2026-12-03..2026-12-01\": the end is before the start"},
	    {"rr-1", NULL, NULL, "takt.io/rerun-dates: missing"},
	    {"rr-1", "2026-02-30", NULL, "\"2026-02-30\" is not a real date"},
	    {"rr-1", "2026-12-01", "some", "takt.io/rerun-only: \"some\" is not one of"},
	    {"a b", "2026-12-01", NULL, "has a character other than [A-Za-z0-9._-]"},
	    {"rr-1", "2020-01-01..2026-12-01", NULL, "more than 1000 slots"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct step_fx f;
		step_init(&f, "Forbid");
		f.in.request = cases[i].id;
		f.in.dates = cases[i].dates;
		f.in.only = cases[i].only;
		step(&f, NULL);
		const char *why = last_str(&f, "refused");
		if (!why || !strstr(why, cases[i].why))
			fail_msg("case %zu: refused \"%s\", expected \"%s\"", i,
				 why ? why : "(none)", cases[i].why);
		assert_string_equal(last_str(&f, "requestId"), cases[i].id);
		assert_true(f.out.handled_new);
		assert_int_equal(f.out.n_starts, 0);
		assert_string_equal(f.out.events[0].reason, "RerunRefused");
		assert_true(f.out.events[0].warning);
		/* Refused once: the same request is not looked at again. */
		char *persisted = cJSON_PrintUnformatted(f.out.last);
		step(&f, persisted);
		assert_null(f.out.last);
		assert_int_equal(f.out.n_events, 0);
		free(persisted);
		step_release(&f);
	}
	/* A calendar that is not ready. */
	struct step_fx f;
	step_init(&f, "Forbid");
	f.sp.has_calendar = true;
	f.sp.calendar.name = intern("krx");
	f.in.calendar_error = "it does not exist";
	step(&f, NULL);
	assert_string_equal(last_str(&f, "refused"),
			    "calendar krx is not ready: it does not exist");
	step_release(&f);
	/* A name too long for rerun Job names. */
	char long_name[64];
	memset(long_name, 'a', 50);
	long_name[50] = 0;
	memset(&f, 0, sizeof(f));
	spec_daily(&f.sp, "Forbid", long_name);
	f.in.spec = &f.sp;
	f.in.request = "rr-1";
	f.in.dates = "2026-12-01";
	f.in.now = MS("2026-12-10T00:00:00Z");
	step(&f, NULL);
	assert_non_null(strstr(last_str(&f, "refused"), "too long for rerun Job names"));
	step_release(&f);
}

/* Listed in handledRequests: handled. A new request replaces one in
 * progress, dropping its slots not started. A Job deleted before it ended,
 * and a create refused for good, settle their slots. */
static void test_step_handled_replaced_gone(void **state)
{
	(void)state;
	struct step_fx f;
	step_init(&f, "Forbid");
	cJSON *handled = cJSON_Parse("[\"run-now:x\",\"rerun:rr-1\"]");
	f.in.handled = handled;
	step(&f, NULL);
	assert_null(f.out.last);
	assert_false(f.out.handled_new);
	f.in.handled = NULL;

	step(&f, NULL);
	char *persisted = cJSON_PrintUnformatted(f.out.last); /* "A--" */
	f.in.request = "rr-2";
	f.in.dates = "2026-12-05";
	struct plan_expectation e = {.name = f.out.starts[0].job_name};
	char first[64];
	snprintf(first, sizeof(first), "%s", f.out.starts[0].job_name);
	e.name = first;
	f.in.exps = &e;
	f.in.n_exps = 1;
	step(&f, persisted);
	assert_string_equal(last_str(&f, "requestId"), "rr-2");
	assert_string_equal(last_str(&f, "progress"), "-"); /* the rr-1 run is active */
	assert_string_equal(f.out.events[0].reason, "RerunDropped");
	assert_string_equal(f.out.events[0].message,
			    "rerun rr-2 replaces rerun rr-1: its 2 slots not started yet are "
			    "dropped");
	free(persisted);

	/* rr-1's started Job disappears unseen: 'G', counted failed. */
	f.in.request = "rr-1";
	f.in.dates = "2026-12-01..2026-12-03";
	f.in.exps = NULL;
	f.in.n_exps = 0;
	step(&f, "{\"requestId\":\"rr-1\",\"slots\":[\"2026-12-01T12:00:00Z\","
		 "\"2026-12-02T12:00:00Z\"],\"progress\":\"A-\"}");
	assert_string_equal(last_str(&f, "progress"), "GA");
	assert_int_equal(last_int(&f, "failed"), 1);
	/* Its create refused for good: 'F', and the next one starts. */
	const char *refused[] = {f.out.starts[0].job_name};
	char second[64];
	snprintf(second, sizeof(second), "%s", f.out.starts[0].job_name);
	refused[0] = second;
	f.in.refused_jobs = refused;
	f.in.n_refused_jobs = 1;
	step(&f, "{\"requestId\":\"rr-1\",\"slots\":[\"2026-12-01T12:00:00Z\","
		 "\"2026-12-02T12:00:00Z\"],\"progress\":\"G-\"}");
	assert_string_equal(last_str(&f, "progress"), "GF");
	assert_int_equal(f.out.n_starts, 0);
	assert_non_null(last_str(&f, "completionTime"));
	/* Not ours to read (slots and progress disagree): left alone. */
	step(&f,
	     "{\"requestId\":\"rr-1\",\"slots\":[\"2026-12-01T12:00:00Z\"],\"progress\":\"--\"}");
	assert_null(f.out.last);
	assert_int_equal(f.out.n_starts, 0);
	cJSON_Delete(handled);
	step_release(&f);

	cJSON *h = NULL;
	for (int i = 0; i < 40; i++) {
		char id[16];
		snprintf(id, sizeof(id), "r%d", i);
		rerun_mark_handled(&h, id, 32);
	}
	rerun_mark_handled(&h, "r39", 32);
	assert_int_equal(cJSON_GetArraySize(h), 32);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(h, 0)), "rerun:r8");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(h, 31)), "rerun:r39");
	cJSON_Delete(h);
}

/* The runs a rerun starts are the planner's expectations: under Forbid a
 * slot of the schedule's own that comes meanwhile is skipped and counted,
 * not run (the controller hands them over so: controller.c, rerun_decide). */
static void test_step_own_slots_wait_under_forbid(void **state)
{
	(void)state;
	for (int with_rerun = 0; with_rerun < 2; with_rerun++) {
		struct spec sp;
		char err[256];
		cJSON *o = cJSON_Parse(
		    "{\"metadata\":{\"name\":\"tick\",\"namespace\":\"ns\",\"uid\":\"u1\","
		    "\"generation\":1},\"spec\":{\"schedule\":\"*/2 * * * * *\","
		    "\"concurrencyPolicy\":\"Forbid\",\"jobTemplate\":{\"spec\":{}}}}");
		spec_init(&sp);
		assert_int_equal(spec_parse(o, &sp, err, sizeof(err)), 0);
		cJSON_Delete(o);
		struct spec_status st;
		spec_status_init(&st);
		struct plan p;
		plan_init(&p);
		int64_t t0 = MS("2026-12-10T00:00:00.500Z");
		struct plan_input pin = {.spec = &sp, .status = &st, .now = t0};
		assert_int_equal(plan_compute(&pin, &p), 0); /* the cursor starts now */
		spec_status_copy(&st, &p.status);

		struct step_fx f;
		memset(&f, 0, sizeof(f));
		f.in.spec = &sp;
		f.in.request = "rr-1";
		f.in.dates = "2026-12-09";
		f.in.only = "all";
		f.in.now = t0 + 1500;
		/* A 2-second pattern over a day is more than 1000 slots: the
		 * persisted request in progress is given instead. */
		f.last = cJSON_Parse("{\"requestId\":\"rr-1\",\"slots\":[\"2026-12-09T12:00:00Z\"],"
				     "\"progress\":\"-\"}");
		f.in.last = f.last;
		assert_int_equal(rerun_step_compute(&f.in, &f.out), 0);
		assert_int_equal(f.out.n_starts, 1);
		struct plan_expectation e = {.name = f.out.starts[0].job_name,
					     .slot = f.out.starts[0].slot,
					     .trigger = SPEC_TRIGGER_RERUN};
		pin.now = t0 + 1500; /* the slot at t0 + 1.5 s is due */
		pin.status = &st;
		pin.expectations = with_rerun ? &e : NULL;
		pin.n_expectations = with_rerun ? 1 : 0;
		assert_int_equal(plan_compute(&pin, &p), 0);
		size_t creates = 0;
		for (size_t i = 0; i < p.n_actions; i++)
			creates += p.actions[i].kind == PLAN_CREATE_JOB;
		if (with_rerun) {
			assert_int_equal(creates, 0);
			assert_int_equal(p.status.counters.skipped_overlap, 1);
			assert_int_equal(p.status.n_active, 1);
			assert_int_equal(p.status.active[0].trigger, SPEC_TRIGGER_RERUN);
		} else {
			assert_int_equal(creates, 1);
			assert_int_equal(p.status.counters.skipped_overlap, 0);
		}
		rerun_step_release(&f.out);
		cJSON_Delete(f.last);
		plan_release(&p);
		spec_status_release(&st);
		spec_release(&sp);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dates_parse),
	    cmocka_unit_test(test_only_parse),
	    cmocka_unit_test(test_range_over_calendar_with_holidays),
	    cmocka_unit_test(test_business_date_is_local),
	    cmocka_unit_test(test_shifted_slots_take_the_landing_date),
	    cmocka_unit_test(test_only_missing_failed_all),
	    cmocka_unit_test(test_future_slots_not_selected),
	    cmocka_unit_test(test_bound_of_1000),
	    cmocka_unit_test(test_outside_coverage_refused),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_records_from_history_and_jobs),
	    cmocka_unit_test(test_rerun_job_name),
	    cmocka_unit_test(test_step_forbid_one_at_a_time),
	    cmocka_unit_test(test_step_forbid_waits_for_active),
	    cmocka_unit_test(test_step_forbid_waits_for_pending_retry),
	    cmocka_unit_test(test_step_allow_together),
	    cmocka_unit_test(test_step_selection_from_record),
	    cmocka_unit_test(test_step_refusals),
	    cmocka_unit_test(test_step_handled_replaced_gone),
	    cmocka_unit_test(test_step_own_slots_wait_under_forbid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
