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
#include "controller/rerun.h"
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
