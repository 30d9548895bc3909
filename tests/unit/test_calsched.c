/* Unit tests for pkg/calendar/calsched: calendar rules on cron schedules. */
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
#include "cron/cron.h"
#include "tz/civil.h"
#include "tz/tz.h"

static int64_t D(int y, int m, int d)
{
	return civil_days_from_ymd(y, m, d);
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

static struct calendar *cal_json(const char *json)
{
	cJSON *spec = cJSON_Parse(json);
	assert_non_null(spec);
	struct calendar *c;
	char err[256];
	if (calendar_from_spec_json(spec, NULL, 0, &c, err, sizeof(err)))
		fail_msg("calendar: %s", err);
	cJSON_Delete(spec);
	return c;
}

/* KRX-like 2026..2027, partial (the holidays the tests lean on). */
static struct calendar *krx(const char *until)
{
	char json[1024];
	snprintf(json, sizeof(json),
		 "{\"timeZone\":\"Asia/Seoul\",\"validFrom\":\"2026-01-01\",\"validUntil\":\"%s\","
		 "\"holidays\":[\"2026-01-01\",\"2026-02-16\",\"2026-02-17\",\"2026-02-18\","
		 "\"2026-03-02\",\"2026-05-05\",\"2026-05-25\",\"2026-09-24\",\"2026-09-25\","
		 "\"2026-09-28\",\"2026-12-25\",\"2026-12-31\",\"2027-01-01\"]}",
		 until);
	return cal_json(json);
}

static int64_t T(const char *rfc3339)
{
	int64_t ms;
	if (rfc3339_parse(rfc3339, &ms))
		fail_msg("bad time %s", rfc3339);
	return ms / 1000;
}

/* calsched_next as one comparable line. */
static const char *nx(const struct cron_expr *e, const struct tz *z, const struct calendar *c,
		      const struct calsched_rules *r, const char *after)
{
	static char out[160];
	struct calsched_result res;
	int rc = calsched_next(e, z, c, r, T(after), &res);
	char at[32], date[16], miss[16];
	if (rc != 0 && rc != -ENODATA) {
		snprintf(out, sizeof(out), "error %d", rc);
		return out;
	}
	rfc3339_format(res.at * 1000, false, at, sizeof(at));
	civil_format_date(res.date, date, sizeof(date));
	if (rc == 0) {
		snprintf(out, sizeof(out), "%s %s", at, date);
	} else {
		civil_format_date(res.missing_day, miss, sizeof(miss));
		snprintf(out, sizeof(out), "ENODATA %s %s missing %s", at, date, miss);
	}
	return out;
}

static struct calsched_rules rules(enum calsched_days days, enum calsched_shift shift,
				   const char *bdom)
{
	struct calsched_rules r;
	char err[200];
	calsched_rules_init(&r);
	r.days = days;
	r.shift = shift;
	if (bdom && calsched_parse_bdom_list(bdom, &r, err, sizeof(err)))
		fail_msg("%s", err);
	return r;
}

static void test_skip_business_days(void **state)
{
	struct tz *z = zone("Asia/Seoul");
	struct cron_expr *e = cron("0 9 * * *");
	struct calendar *c = krx("2026-12-31");
	struct calsched_rules r = rules(CALSCHED_BUSINESS_DAYS, CALSCHED_SKIP, NULL);
	/* Friday before Seollal: the weekend and 16..18 are skipped. */
	assert_string_equal(nx(e, z, c, &r, "2026-02-13T00:00:00Z"),
			    "2026-02-19T00:00:00Z 2026-02-19");
	assert_string_equal(nx(e, z, c, &r, "2026-02-12T23:59:59Z"),
			    "2026-02-13T00:00:00Z 2026-02-13");
	/* The local date decides, not the UTC date (09:00 KST is 00:00Z). */
	assert_string_equal(nx(e, z, c, &r, "2026-01-01T00:00:00Z"),
			    "2026-01-02T00:00:00Z 2026-01-02");
	calendar_free(c);
	cron_free(e);
	tz_free(z);
}

static void test_non_business_days(void **state)
{
	struct tz *z = zone("Asia/Seoul");
	struct cron_expr *e = cron("0 10 * * *");
	struct calendar *c = krx("2026-12-31");
	struct calsched_rules r = rules(CALSCHED_NON_BUSINESS_DAYS, CALSCHED_SKIP, NULL);
	assert_string_equal(nx(e, z, c, &r, "2026-02-12T00:00:00Z"),
			    "2026-02-14T01:00:00Z 2026-02-14");
	assert_string_equal(nx(e, z, c, &r, "2026-02-15T01:00:00Z"),
			    "2026-02-16T01:00:00Z 2026-02-16");
	assert_string_equal(nx(e, z, c, &r, "2026-02-18T01:00:00Z"),
			    "2026-02-21T01:00:00Z 2026-02-21");
	calendar_free(c);
	cron_free(e);
	tz_free(z);
}

static void test_next_business_day_dedups_and_reaches_back(void **state)
{
	struct tz *z = zone("Asia/Seoul");
	struct cron_expr *daily = cron("0 9 * * *");
	struct cron_expr *sat = cron("0 9 * * SAT");
	struct calendar *c = krx("2026-12-31");
	struct calsched_rules r = rules(CALSCHED_BUSINESS_DAYS, CALSCHED_NEXT_BUSINESS_DAY, NULL);
	/* Sat, Sun, Mon..Wed all move to Thursday 19th: one fire. */
	assert_string_equal(nx(daily, z, c, &r, "2026-02-13T00:00:00Z"),
			    "2026-02-19T00:00:00Z 2026-02-19");
	assert_string_equal(nx(daily, z, c, &r, "2026-02-19T00:00:00Z"),
			    "2026-02-20T00:00:00Z 2026-02-20");
	/* Saturday's slot (its own time long past) still fires on Thursday. */
	assert_string_equal(nx(sat, z, c, &r, "2026-02-15T03:00:00Z"),
			    "2026-02-19T00:00:00Z 2026-02-19");
	assert_string_equal(nx(sat, z, c, &r, "2026-02-18T23:59:59Z"),
			    "2026-02-19T00:00:00Z 2026-02-19");
	/* Ordinary weeks: Saturday's slot fires on Monday. */
	assert_string_equal(nx(sat, z, c, &r, "2026-02-19T00:00:00Z"),
			    "2026-02-23T00:00:00Z 2026-02-23");
	/* Across the month: Sat 28 Feb -> Mon 2 Mar (holiday) -> Tue 3 Mar. */
	assert_string_equal(nx(sat, z, c, &r, "2026-02-23T00:00:00Z"),
			    "2026-03-03T00:00:00Z 2026-03-03");
	calendar_free(c);
	cron_free(daily);
	cron_free(sat);
	tz_free(z);
}

static void test_previous_business_day(void **state)
{
	struct tz *z = zone("Asia/Seoul");
	struct cron_expr *eom = cron("0 18 L * *");
	struct cron_expr *sun = cron("0 9 * * SUN");
	struct calendar *c = krx("2027-12-31");
	struct calsched_rules r =
	    rules(CALSCHED_BUSINESS_DAYS, CALSCHED_PREVIOUS_BUSINESS_DAY, NULL);
	/* Sat 31 Jan -> Fri 30 Jan 18:00 KST. */
	assert_string_equal(nx(eom, z, c, &r, "2026-01-01T00:00:00Z"),
			    "2026-01-30T09:00:00Z 2026-01-30");
	/* Moved before `after`: gone; the next is Sat 28 Feb -> Fri 27 Feb. */
	assert_string_equal(nx(eom, z, c, &r, "2026-01-30T09:00:00Z"),
			    "2026-02-27T09:00:00Z 2026-02-27");
	/* Tue 31 Mar is a business day: unmoved. Sun 31 May -> Fri 29 May. */
	assert_string_equal(nx(eom, z, c, &r, "2026-02-27T09:00:00Z"),
			    "2026-03-31T09:00:00Z 2026-03-31");
	assert_string_equal(nx(eom, z, c, &r, "2026-04-30T09:00:00Z"),
			    "2026-05-29T09:00:00Z 2026-05-29");
	/* Across the year: Thu 31 Dec 2026 (closing day) -> Wed 30 Dec. */
	assert_string_equal(nx(eom, z, c, &r, "2026-11-30T09:00:00Z"),
			    "2026-12-30T09:00:00Z 2026-12-30");
	/* Sundays move to Friday, a day the pattern itself never matches, and
	 * Fri 25 Dec is a holiday too: Thu 24 Dec. */
	assert_string_equal(nx(sun, z, c, &r, "2026-12-20T00:00:00Z"),
			    "2026-12-24T00:00:00Z 2026-12-24");
	/* Sun 3 Jan 2027 -> Fri 1 Jan (holiday) -> Thu 31 Dec (closing) -> Wed
	 * 30 Dec 2026: back across the year. */
	assert_string_equal(nx(sun, z, c, &r, "2026-12-27T00:00:00Z"),
			    "2026-12-30T00:00:00Z 2026-12-30");
	assert_string_equal(nx(sun, z, c, &r, "2026-12-30T00:00:00Z"),
			    "2027-01-08T00:00:00Z 2027-01-08");
	calendar_free(c);
	cron_free(eom);
	cron_free(sun);
	tz_free(z);
}

static void test_next_business_day_across_year(void **state)
{
	struct tz *z = zone("Asia/Seoul");
	struct cron_expr *e = cron("30 8 * * *");
	struct calendar *c = krx("2027-12-31");
	struct calsched_rules r = rules(CALSCHED_BUSINESS_DAYS, CALSCHED_NEXT_BUSINESS_DAY, NULL);
	/* 31 Dec, 1 Jan, 2-3 Jan all land on Mon 4 Jan 2027 08:30 KST. */
	assert_string_equal(nx(e, z, c, &r, "2026-12-29T23:30:00Z"),
			    "2027-01-03T23:30:00Z 2027-01-04");
	calendar_free(c);
	cron_free(e);
	tz_free(z);
}

static void test_business_day_of_month(void **state)
{
	struct tz *z = zone("Asia/Seoul");
	struct cron_expr *e = cron("0 9 * * *");
	struct cron_expr *first = cron("0 9 1 * *");
	struct calendar *c = krx("2026-12-31");
	struct calsched_rules r = rules(CALSCHED_BUSINESS_DAYS, CALSCHED_SKIP, "1,-1");
	assert_string_equal(nx(e, z, c, &r, "2026-01-31T00:00:00Z"),
			    "2026-02-02T00:00:00Z 2026-02-02");
	assert_string_equal(nx(e, z, c, &r, "2026-02-02T00:00:00Z"),
			    "2026-02-27T00:00:00Z 2026-02-27");
	/* 1 Mar is a Sunday, 2 Mar the substitute holiday. */
	assert_string_equal(nx(e, z, c, &r, "2026-02-27T00:00:00Z"),
			    "2026-03-03T00:00:00Z 2026-03-03");
	/* The 11th business day of February, past the Seollal span. */
	r = rules(CALSCHED_BUSINESS_DAYS, CALSCHED_SKIP, "11");
	assert_string_equal(nx(e, z, c, &r, "2026-02-01T00:00:00Z"),
			    "2026-02-19T00:00:00Z 2026-02-19");
	/* Rank beyond the month's count: that month does not fire at all. */
	r = rules(CALSCHED_BUSINESS_DAYS, CALSCHED_SKIP, "-22");
	assert_string_equal(nx(e, z, c, &r, "2026-02-01T00:00:00Z"),
			    "2026-04-01T00:00:00Z 2026-04-01");
	/* "The 1st, or the next business day": the rank holds where it lands. */
	r = rules(CALSCHED_BUSINESS_DAYS, CALSCHED_NEXT_BUSINESS_DAY, "1");
	assert_string_equal(nx(first, z, c, &r, "2026-01-05T00:00:00Z"),
			    "2026-02-02T00:00:00Z 2026-02-02");
	assert_string_equal(nx(first, z, c, &r, "2026-02-02T00:00:00Z"),
			    "2026-03-03T00:00:00Z 2026-03-03");
	calendar_free(c);
	cron_free(e);
	cron_free(first);
	tz_free(z);
}

static void test_fail_closed_outside_coverage(void **state)
{
	struct tz *z = zone("Asia/Seoul");
	struct cron_expr *e = cron("0 9 * * *");
	struct calendar *c = krx("2026-12-31");
	struct calsched_rules skip = rules(CALSCHED_BUSINESS_DAYS, CALSCHED_SKIP, NULL);
	struct calsched_rules next =
	    rules(CALSCHED_BUSINESS_DAYS, CALSCHED_NEXT_BUSINESS_DAY, NULL);
	struct calsched_rules prev =
	    rules(CALSCHED_BUSINESS_DAYS, CALSCHED_PREVIOUS_BUSINESS_DAY, NULL);
	struct calsched_rules first = rules(CALSCHED_BUSINESS_DAYS, CALSCHED_SKIP, "1");
	/* 31 Dec is the closing day; 1 Jan 2027 is not covered. */
	assert_string_equal(nx(e, z, c, &skip, "2026-12-30T00:00:00Z"),
			    "ENODATA 2027-01-01T00:00:00Z 2027-01-01 missing 2027-01-01");
	/* Continuing past it keeps reporting, one slot at a time. */
	assert_string_equal(nx(e, z, c, &skip, "2027-01-01T00:00:00Z"),
			    "ENODATA 2027-01-02T00:00:00Z 2027-01-02 missing 2027-01-02");
	/* NextBusinessDay: 31 Dec's own slot cannot be placed. */
	assert_string_equal(nx(e, z, c, &next, "2026-12-30T00:00:00Z"),
			    "ENODATA 2026-12-31T00:00:00Z 2026-12-31 missing 2027-01-01");
	/* PreviousBusinessDay: 31 Dec lands on 30 Dec, already past. */
	assert_string_equal(nx(e, z, c, &prev, "2026-12-29T00:00:00Z"),
			    "2026-12-30T00:00:00Z 2026-12-30");
	assert_string_equal(nx(e, z, c, &prev, "2026-12-30T00:00:00Z"),
			    "ENODATA 2027-01-01T00:00:00Z 2027-01-01 missing 2027-01-01");
	/* Before the coverage. */
	assert_string_equal(nx(e, z, c, &skip, "2025-12-25T00:00:00Z"),
			    "ENODATA 2025-12-26T00:00:00Z 2025-12-26 missing 2025-12-26");
	/* A month rank the coverage cannot decide. */
	struct calendar *half = cal_json("{\"validFrom\":\"2026-01-15\",\"validUntil\":"
					 "\"2026-12-31\"}");
	assert_string_equal(nx(e, z, half, &first, "2026-01-15T00:00:00Z"),
			    "ENODATA 2026-01-16T00:00:00Z 2026-01-16 missing 2026-01-14");
	assert_string_equal(nx(e, z, half, &first, "2026-01-30T00:00:00Z"),
			    "2026-02-02T00:00:00Z 2026-02-02");
	/* The one-line reason for conditions and the CLI. */
	struct calsched_result res;
	char line[200];
	assert_int_equal(calsched_next(e, z, c, &next, T("2026-12-30T00:00:00Z"), &res), -ENODATA);
	calsched_format_nodata(&res, c, line, sizeof(line));
	assert_string_equal(line,
			    "the slot at 2026-12-31T00:00:00Z (local date 2026-12-31) needs "
			    "2027-01-01, outside the calendar's coverage 2026-01-01..2026-12-31");
	/* A fire that comes first wins over a later unknown slot. */
	assert_string_equal(nx(e, z, c, &skip, "2026-12-29T00:00:00Z"),
			    "2026-12-30T00:00:00Z 2026-12-30");
	calendar_free(half);
	calendar_free(c);
	cron_free(e);
	tz_free(z);
}

static struct calendar *ny(const char *extra)
{
	char json[512];
	snprintf(json, sizeof(json),
		 "{\"timeZone\":\"America/New_York\",\"validFrom\":\"2026-01-01\","
		 "\"validUntil\":\"2026-12-31\",\"extraBusinessDays\":[%s]}",
		 extra);
	return cal_json(json);
}

static void test_shift_onto_spring_forward(void **state)
{
	struct tz *z = zone("America/New_York");
	struct cron_expr *fixed = cron("30 2 * * *");
	struct cron_expr *sat_fixed = cron("30 2 * * SAT");
	struct cron_expr *sat_interval = cron("0,30 2 * * SAT");
	struct calendar *open_sunday = ny("\"2026-03-08\"");
	struct calendar *plain = ny("");
	struct calsched_rules r = rules(CALSCHED_BUSINESS_DAYS, CALSCHED_NEXT_BUSINESS_DAY, NULL);
	/* Sat 7 Mar 02:30 moves to Sun 8 Mar 02:30, which does not exist: a
	 * fixed-time pattern fires at 03:00 EDT (07:00Z). */
	assert_string_equal(nx(sat_fixed, z, open_sunday, &r, "2026-03-07T12:00:00Z"),
			    "2026-03-08T07:00:00Z 2026-03-08");
	/* The daily pattern's own 8 Mar slot is the same instant: one fire. */
	assert_string_equal(nx(fixed, z, open_sunday, &r, "2026-03-07T07:30:00Z"),
			    "2026-03-08T07:00:00Z 2026-03-08");
	assert_string_equal(nx(fixed, z, open_sunday, &r, "2026-03-08T07:00:00Z"),
			    "2026-03-09T06:30:00Z 2026-03-09");
	/* Not fixed-time: nothing fires inside the gap, so 7 Mar's slots are
	 * dropped and the next are 14 Mar's, moved to Mon 16 Mar (EDT). */
	assert_string_equal(nx(sat_interval, z, open_sunday, &r, "2026-03-07T12:00:00Z"),
			    "2026-03-16T06:00:00Z 2026-03-16");
	/* Moved FROM the gap day: the slot keeps its nominal 02:30, not the
	 * 03:00 it would have fired at on Sunday. */
	assert_string_equal(nx(fixed, z, plain, &r, "2026-03-06T07:30:00Z"),
			    "2026-03-09T06:30:00Z 2026-03-09");
	calendar_free(open_sunday);
	calendar_free(plain);
	cron_free(fixed);
	cron_free(sat_fixed);
	cron_free(sat_interval);
	tz_free(z);
}

static void test_shift_onto_fall_back(void **state)
{
	struct tz *z = zone("America/New_York");
	struct cron_expr *fixed = cron("30 1 * * SAT");
	struct cron_expr *interval = cron("0,30 1 * * SAT");
	struct calendar *c = ny("\"2026-11-01\"");
	struct calsched_rules r = rules(CALSCHED_BUSINESS_DAYS, CALSCHED_NEXT_BUSINESS_DAY, NULL);
	/* Fixed-time: the first occurrence of 01:30 on Sun 1 Nov (EDT). */
	assert_string_equal(nx(fixed, z, c, &r, "2026-10-31T12:00:00Z"),
			    "2026-11-01T05:30:00Z 2026-11-01");
	assert_string_equal(nx(fixed, z, c, &r, "2026-11-01T05:30:00Z"),
			    "2026-11-09T06:30:00Z 2026-11-09");
	/* Otherwise both occurrences, in time order. */
	const char *want[] = {
	    "2026-11-01T05:00:00Z 2026-11-01", "2026-11-01T05:30:00Z 2026-11-01",
	    "2026-11-01T06:00:00Z 2026-11-01", "2026-11-01T06:30:00Z 2026-11-01",
	    "2026-11-09T06:00:00Z 2026-11-09",
	};
	char after[32] = "2026-10-31T12:00:00Z";
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *got = nx(interval, z, c, &r, after);
		assert_string_equal(got, want[i]);
		memcpy(after, got, 20);
		after[20] = '\0';
	}
	/* From inside the repeated hour: 01:40 EDT (first pass) -> 01:00 EST;
	 * 01:10 EST (second pass) -> 01:30 EST. */
	assert_string_equal(nx(interval, z, c, &r, "2026-11-01T05:40:00Z"),
			    "2026-11-01T06:00:00Z 2026-11-01");
	assert_string_equal(nx(interval, z, c, &r, "2026-11-01T06:10:00Z"),
			    "2026-11-01T06:30:00Z 2026-11-01");
	calendar_free(c);
	cron_free(fixed);
	cron_free(interval);
	tz_free(z);
}

static void test_every_with_calendar(void **state)
{
	struct tz *z = zone("Asia/Seoul");
	struct cron_expr *e = cron("@every 1h");
	struct calendar *c = krx("2026-12-31");
	struct calsched_rules r = rules(CALSCHED_BUSINESS_DAYS, CALSCHED_SKIP, NULL);
	/* Fri 13 Feb 23:00 KST, then nothing until Thu 19 Feb 00:00 KST. */
	assert_string_equal(nx(e, z, c, &r, "2026-02-13T13:30:00Z"),
			    "2026-02-13T14:00:00Z 2026-02-13");
	assert_string_equal(nx(e, z, c, &r, "2026-02-13T14:00:00Z"),
			    "2026-02-18T15:00:00Z 2026-02-19");
	assert_string_equal(nx(e, z, c, &r, "2026-12-31T10:00:00Z"),
			    "ENODATA 2026-12-31T15:00:00Z 2027-01-01 missing 2027-01-01");
	struct calsched_rules next =
	    rules(CALSCHED_BUSINESS_DAYS, CALSCHED_NEXT_BUSINESS_DAY, NULL);
	assert_string_equal(nx(e, z, c, &next, "2026-02-13T13:30:00Z"), "error -22");
	struct calsched_result res;
	assert_int_equal(calsched_next(e, z, c, &r, INT64_MAX, &res), -ERANGE);
	assert_int_equal(calsched_next(e, z, c, &r, INT64_MIN, &res), -ERANGE);
	char err[200];
	assert_int_equal(calsched_validate(&next, e, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "onNonBusinessDay: NextBusinessDay cannot move @every slots, "
				 "which are not wall-clock times; use Skip");
	calendar_free(c);
	cron_free(e);
	tz_free(z);
}

static void test_fires_at(void **state)
{
	struct tz *z = zone("Asia/Seoul");
	struct cron_expr *e = cron("0 9 * * SAT");
	struct calendar *c = krx("2026-12-31");
	struct calsched_rules r = rules(CALSCHED_BUSINESS_DAYS, CALSCHED_NEXT_BUSINESS_DAY, NULL);
	int64_t date = 0;
	assert_int_equal(calsched_fires_at(e, z, c, &r, T("2026-02-19T00:00:00Z"), &date), 1);
	assert_int_equal(date, D(2026, 2, 19));
	assert_int_equal(calsched_fires_at(e, z, c, &r, T("2026-02-14T00:00:00Z"), NULL), 0);
	assert_int_equal(calsched_fires_at(e, z, c, &r, T("2026-02-20T00:00:00Z"), NULL), 0);
	assert_int_equal(calsched_fires_at(e, z, c, &r, T("2026-12-31T00:00:00Z"), NULL), 0);
	/* Sat 26 Dec: Mon 28 Dec. Sat 2 Jan 2027: unknown. */
	assert_int_equal(calsched_fires_at(e, z, c, &r, T("2026-12-28T00:00:00Z"), NULL), 1);
	assert_int_equal(calsched_fires_at(e, z, c, &r, T("2027-01-02T00:00:00Z"), NULL), -ENODATA);
	calendar_free(c);
	cron_free(e);
	tz_free(z);
}

static void test_rules_parsing_and_validation(void **state)
{
	struct calsched_rules r;
	char err[200];
	cJSON *j = cJSON_Parse("{\"name\":\"krx\",\"days\":\"BusinessDays\","
			       "\"businessDayOfMonth\":[1,-1,1],"
			       "\"onNonBusinessDay\":\"PreviousBusinessDay\"}");
	assert_int_equal(calsched_rules_from_json(j, &r, err, sizeof(err)), 0);
	cJSON_Delete(j);
	assert_int_equal(r.days, CALSCHED_BUSINESS_DAYS);
	assert_int_equal(r.shift, CALSCHED_PREVIOUS_BUSINESS_DAY);
	assert_int_equal(r.nbdom, 2);
	assert_int_equal(r.bdom[0], 1);
	assert_int_equal(r.bdom[1], -1);
	assert_int_equal(calsched_rules_from_json(NULL, &r, err, sizeof(err)), 0);
	assert_int_equal(r.shift, CALSCHED_SKIP);

	static const struct {
		const char *json, *err;
	} bad[] = {
	    {"{\"days\":\"Weekdays\"}",
	     "calendar.days: \"Weekdays\" is not one of BusinessDays NonBusinessDays"},
	    {"{\"days\":\"businessdays\"}",
	     "calendar.days: \"businessdays\" is not one of BusinessDays NonBusinessDays"},
	    {"{\"onNonBusinessDay\":\"Later\"}",
	     "calendar.onNonBusinessDay: \"Later\" is not one of Skip NextBusinessDay "
	     "PreviousBusinessDay"},
	    {"{\"businessDayOfMonth\":[0]}",
	     "calendar.businessDayOfMonth: 0 must be 1..31 (from the start) or -1..-31 "
	     "(from the end)"},
	    {"{\"businessDayOfMonth\":[-32]}",
	     "calendar.businessDayOfMonth: -32 must be 1..31 (from the start) or -1..-31 "
	     "(from the end)"},
	    {"{\"businessDayOfMonth\":[1.5]}",
	     "calendar.businessDayOfMonth: must be a list of integers"},
	    {"{\"businessDayOfMonth\":3}",
	     "calendar.businessDayOfMonth: must be a list of integers"},
	    {"{\"days\":\"NonBusinessDays\",\"onNonBusinessDay\":\"NextBusinessDay\"}",
	     "calendar.onNonBusinessDay: NextBusinessDay requires days: BusinessDays"},
	    {"{\"days\":\"NonBusinessDays\",\"businessDayOfMonth\":[1]}",
	     "calendar.businessDayOfMonth: requires days: BusinessDays"},
	    {"[]", "calendar: must be an object"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = cJSON_Parse(bad[i].json);
		assert_non_null(j);
		assert_int_equal(calsched_rules_from_json(j, &r, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, bad[i].err);
		cJSON_Delete(j);
	}

	calsched_rules_init(&r);
	assert_int_equal(calsched_parse_bdom_list("1,-1,23", &r, err, sizeof(err)), 0);
	assert_int_equal(r.nbdom, 3);
	assert_int_equal(r.bdom[2], 23);
	assert_int_equal(calsched_parse_bdom_list("1,,2", &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "businessDayOfMonth: \"1,,2\" is not a list of integers");
	assert_int_equal(calsched_parse_bdom_list("1;2", &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(calsched_parse_bdom_list("", &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(calsched_parse_bdom_list("99999999999999999999", &r, err, sizeof(err)),
			 -EINVAL);
	enum calsched_days days;
	enum calsched_shift shift;
	assert_int_equal(calsched_parse_days("NonBusinessDays", &days, err, sizeof(err)), 0);
	assert_int_equal(days, CALSCHED_NON_BUSINESS_DAYS);
	assert_int_equal(calsched_parse_shift("NextBusinessDay", &shift, err, sizeof(err)), 0);
	assert_int_equal(shift, CALSCHED_NEXT_BUSINESS_DAY);
	assert_int_equal(calsched_parse_shift(NULL, &shift, err, sizeof(err)), -EINVAL);
}

/* --- the reference: the fire set built slot by slot ----------------------- */

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Every slot of every covered date in [from, to], moved as the rules say,
 * collected, sorted and deduplicated: the definition, with no cleverness. */
static size_t reference_set(const struct cron_expr *e, const struct tz *z, const struct calendar *c,
			    const struct calsched_rules *r, int64_t from, int64_t to, int64_t **out)
{
	size_t n = 0, cap = 1024;
	int64_t *v = malloc(cap * sizeof(*v));
	for (int64_t d = from; d <= to; d++) {
		if (!cron_matches_date(e, d))
			continue;
		int b = calendar_is_business_day(c, d);
		assert_true(b >= 0);
		int64_t land = d;
		if (r->days == CALSCHED_NON_BUSINESS_DAYS) {
			if (b)
				continue;
		} else if (!b) {
			if (r->shift == CALSCHED_SKIP)
				continue;
			int step = r->shift == CALSCHED_NEXT_BUSINESS_DAY ? 1 : -1;
			do
				land += step;
			while (calendar_is_business_day(c, land) == 0);
			assert_int_equal(calendar_is_business_day(c, land), 1);
		}
		bool ok = r->nbdom == 0;
		for (int i = 0; i < r->nbdom; i++)
			ok |= calendar_is_nth_business_day(c, land, r->bdom[i]) == 1;
		if (!ok)
			continue;
		/* Every time of day of the pattern: walk date d in local space. */
		int64_t local;
		for (int64_t t = d * 86400 - 1;
		     cron_next(e, NULL, t, &local) == 0 && local < (d + 1) * 86400; t = local) {
			int64_t u[2];
			int k;
			cron_local_to_fire(e, z, land * 86400 + (local - d * 86400), u, &k);
			for (int i = 0; i < k; i++) {
				if (n == cap) {
					cap *= 2;
					v = realloc(v, cap * sizeof(*v));
				}
				v[n++] = u[i];
			}
		}
	}
	qsort(v, n, sizeof(*v), cmp64);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (m == 0 || v[m - 1] != v[i])
			v[m++] = v[i];
	*out = v;
	return m;
}

static void test_matches_reference_on_random_calendars(void **state)
{
	static const char *patterns[] = {
	    "30 2 * * *",    "0 30 1,2,9 * * *", "*/20 * 1 * * *", "15 1 * * SAT,SUN",
	    "0 0 9 L * *",   "0 45 23 * * 5",	 "0 0 0 1,15 * *", "*/15 0-3 * * MON",
	    "0 9 * * MON#1", "0 30 1 * 3,11 *",	 "30 0 * * *",	   "*/30 0 * * *",
	};
	/* Zones with an ordinary hour (New York), a "negative" one (Dublin), a
	 * half hour (Lord Howe), and changes at midnight (Santiago). */
	static const char *zones[] = {"America/New_York", "Europe/Dublin", "Australia/Lord_Howe",
				      "America/Santiago"};
	struct tz *zs[4];
	for (int i = 0; i < 4; i++)
		zs[i] = zone(zones[i]);
	int64_t lo = T("2026-03-01T00:00:00Z"), hi = T("2026-11-30T00:00:00Z");
	size_t compared = 0;
	for (int round = 0; round < 160; round++) {
		const struct tz *z = zs[round % 4];
		int64_t tr[8];
		int ntr = 0;
		for (int64_t t = tz_next_transition(z, lo - 30 * 86400); t < hi && ntr < 8;
		     t = tz_next_transition(z, t))
			tr[ntr++] = t;
		/* A calendar for 2026 with random holidays and open weekend days. */
		struct calendar_builder b;
		calendar_builder_init(&b);
		calendar_builder_set_valid_from(&b, D(2026, 1, 1));
		calendar_builder_set_valid_until(&b, D(2026, 12, 31));
		calendar_builder_set_weekend(&b, (unsigned)(rnd() % 2 ? 0x41 : 0x60));
		for (int64_t d = D(2026, 1, 1); d <= D(2026, 12, 31); d++) {
			unsigned x = (unsigned)(rnd() % 12);
			if (x == 0)
				calendar_builder_add_holiday(&b, d);
			else if (x == 1 && !(civil_weekday(d) % 6))
				calendar_builder_add_extra_business_day(&b, d);
		}
		/* The days of the changes are business days half the time. */
		if (rnd() % 2)
			for (int i = 0; i < ntr; i++)
				calendar_builder_add_extra_business_day(
				    &b, civil_floor_div(tz_utc_to_local(z, tr[i]), 86400));
		struct calendar *c;
		char err[256];
		int built = calendar_builder_build(&b, &c, err, sizeof(err));
		calendar_builder_release(&b);
		if (built) /* a random holiday hit one of the extra days: skip */
			continue;

		const char *pat = patterns[(round / 4) % (sizeof(patterns) / sizeof(patterns[0]))];
		struct cron_expr *e = cron(pat);
		struct calsched_rules r;
		calsched_rules_init(&r);
		unsigned mode = (unsigned)(rnd() % 5);
		r.days = mode == 4 ? CALSCHED_NON_BUSINESS_DAYS : CALSCHED_BUSINESS_DAYS;
		r.shift = mode < 3 ? (enum calsched_shift)mode : CALSCHED_SKIP;
		if (mode < 4 && rnd() % 3 == 0) {
			r.bdom[r.nbdom++] = 1 + (int)(rnd() % 3);
			r.bdom[r.nbdom++] = -1 - (int)(rnd() % 3);
		}
		/* Reference over Feb..Dec 20, queried over Mar..Nov: far from
		 * the coverage edges, through both DST changes. */
		int64_t *set;
		size_t n = reference_set(e, z, c, &r, D(2026, 2, 1), D(2026, 12, 20), &set);
		for (int q = 0; q < 300; q++) {
			int64_t after;
			if (q % 3 == 0 && n) /* exactly at, or just before, a fire */
				after = set[rnd() % n] - (int64_t)(rnd() % 2);
			else if (q % 3 == 1 && ntr) /* around the changes */
				after =
				    tr[rnd() % (unsigned)ntr] - 10800 + (int64_t)(rnd() % 21600);
			else
				after = lo + (int64_t)(rnd() % (uint64_t)(hi - lo));
			if (after < lo || after > hi)
				continue;
			size_t k = 0;
			while (k < n && set[k] <= after)
				k++;
			if (k == n)
				continue;
			struct calsched_result res;
			int rc = calsched_next(e, z, c, &r, after, &res);
			if (rc != 0 || res.at != set[k])
				fail_msg(
				    "%s %s mode %u bdom %d after %lld: rc %d got %lld want %lld",
				    zones[round % 4], pat, mode, r.nbdom, (long long)after, rc,
				    (long long)res.at, (long long)set[k]);
			compared++;
		}
		free(set);
		cron_free(e);
		calendar_free(c);
	}
	/* Most rounds build; most queries have an answer inside the window. */
	assert_true(compared > 25000);
	for (int i = 0; i < 4; i++)
		tz_free(zs[i]);
}

/* No calendar, or one where every day is a business day: exactly cron. */
static void test_without_calendar_is_plain_cron(void **state)
{
	static const char *patterns[] = {
	    "30 2 * * *", "*/7 * 1-2 * * *", "0 0 * * *", "@every 90s", "0 30 1 * * SUN",
	};
	struct tz *z = zone("America/New_York");
	struct calendar *all = cal_json("{\"weekendDays\":[],\"validFrom\":\"2026-01-01\","
					"\"validUntil\":\"2026-12-31\"}");
	for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
		struct cron_expr *e = cron(patterns[p]);
		int64_t starts[] = {T("2026-03-07T12:00:00Z"), T("2026-10-31T12:00:00Z")};
		for (int s = 0; s < 2; s++) {
			int64_t t = starts[s], u = starts[s], v = starts[s];
			for (int i = 0; i < 400; i++) {
				int64_t want;
				struct calsched_result r1, r2;
				assert_int_equal(cron_next(e, z, t, &want), 0);
				if (want > T("2026-12-30T00:00:00Z"))
					break;
				assert_int_equal(calsched_next(e, z, NULL, NULL, u, &r1), 0);
				assert_int_equal(calsched_next(e, z, all, NULL, v, &r2), 0);
				assert_int_equal(r1.at, want);
				assert_int_equal(r2.at, want);
				t = u = v = want;
			}
		}
		cron_free(e);
	}
	calendar_free(all);
	tz_free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_skip_business_days),
	    cmocka_unit_test(test_non_business_days),
	    cmocka_unit_test(test_next_business_day_dedups_and_reaches_back),
	    cmocka_unit_test(test_previous_business_day),
	    cmocka_unit_test(test_next_business_day_across_year),
	    cmocka_unit_test(test_business_day_of_month),
	    cmocka_unit_test(test_fail_closed_outside_coverage),
	    cmocka_unit_test(test_shift_onto_spring_forward),
	    cmocka_unit_test(test_shift_onto_fall_back),
	    cmocka_unit_test(test_every_with_calendar),
	    cmocka_unit_test(test_fires_at),
	    cmocka_unit_test(test_rules_parsing_and_validation),
	    cmocka_unit_test(test_matches_reference_on_random_calendars),
	    cmocka_unit_test(test_without_calendar_is_plain_cron),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
