/* Unit tests for pkg/cron: grammar, next-fire, DST rules, errors.
 * Expected instants were worked out by hand from calendars and the zones'
 * published rules (and agree with croner where it has the same semantics). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cron/cron.h"
#include "tz/civil.h"
#include "tz/tz.h"

#define MAXN 6

struct next_case {
	const char *expr;
	const char *zone; /* NULL: UTC through a NULL zone */
	const char *from;
	const char *want[MAXN]; /* successive instants, NULL-terminated */
};

static int64_t at(const char *rfc3339)
{
	int64_t ms;
	if (rfc3339_parse(rfc3339, &ms))
		fail_msg("bad time in test table: %s", rfc3339);
	return civil_floor_div(ms, 1000);
}

static void fmt(int64_t t, char *out, size_t n)
{
	if (rfc3339_format(t * 1000, false, out, n) < 0)
		fail_msg("cannot format %lld", (long long)t);
}

static struct tz *zone(const char *name)
{
	struct tz *z = NULL;
	char err[256];
	if (!name)
		return NULL;
	if (tz_load(name, &z, err, sizeof(err)))
		fail_msg("tz_load %s: %s", name, err);
	return z;
}

static void run_next_cases(const struct next_case *cases, size_t n)
{
	int failures = 0;
	for (size_t i = 0; i < n; i++) {
		const struct next_case *c = &cases[i];
		struct cron_expr *e;
		char err[256] = "";
		if (cron_parse(c->expr, &e, err, sizeof(err))) {
			print_error("case %zu \"%s\": parse failed: %s\n", i, c->expr, err);
			failures++;
			continue;
		}
		struct tz *z = zone(c->zone);
		int64_t t = at(c->from);
		for (int k = 0; k < MAXN && c->want[k]; k++) {
			char got[32] = "(none)";
			int rc = cron_next(e, z, t, &t);
			if (rc == 0)
				fmt(t, got, sizeof(got));
			if (rc != 0 || strcmp(got, c->want[k])) {
				print_error(
				    "case %zu \"%s\" in %s from %s: instant %d is %s (rc %d), "
				    "want %s\n",
				    i, c->expr, c->zone ? c->zone : "UTC", c->from, k + 1, got, rc,
				    c->want[k]);
				failures++;
				break;
			}
		}
		tz_free(z);
		cron_free(e);
	}
	assert_int_equal(failures, 0);
}

#define RUN(cases) run_next_cases(cases, sizeof(cases) / sizeof(cases[0]))

/* 2026-01-01 is a Thursday. */
static void test_fields_ranges_steps_lists(void **state)
{
	static const struct next_case cases[] = {
	    {"* * * * * *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z"}},
	    {"*/15 * * * * *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-01T00:00:15Z", "2026-01-01T00:00:30Z", "2026-01-01T00:00:45Z",
	      "2026-01-01T00:01:00Z"}},
	    {"5 4 * * *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-01T04:05:00Z", "2026-01-02T04:05:00Z", "2026-01-03T04:05:00Z"}},
	    {"  5 4 * * *  ", NULL, "2026-01-01T00:00:00Z", {"2026-01-01T04:05:00Z"}},
	    {"5\t4  *\t* *", NULL, "2026-01-01T00:00:00Z", {"2026-01-01T04:05:00Z"}},
	    {"10-20/5 * * * *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-01T00:10:00Z", "2026-01-01T00:15:00Z", "2026-01-01T00:20:00Z",
	      "2026-01-01T01:10:00Z"}},
	    /* a/n runs from a to the end of the field. */
	    {"30/10 * * * *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-01T00:30:00Z", "2026-01-01T00:40:00Z", "2026-01-01T00:50:00Z",
	      "2026-01-01T01:30:00Z"}},
	    {"0 0 1,15 * *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-15T00:00:00Z", "2026-02-01T00:00:00Z", "2026-02-15T00:00:00Z"}},
	    {"0 0,12 1-2,20 * *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-01T12:00:00Z", "2026-01-02T00:00:00Z", "2026-01-02T12:00:00Z",
	      "2026-01-20T00:00:00Z"}},
	    {"59 59 23 * * *", NULL, "2026-01-01T23:59:59Z", {"2026-01-02T23:59:59Z"}},
	    {"0 0 */2 * * *",
	     NULL,
	     "2026-01-01T21:00:00Z",
	     {"2026-01-01T22:00:00Z", "2026-01-02T00:00:00Z"}},
	    {"0 0 1 */4 *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-05-01T00:00:00Z", "2026-09-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
	    /* Steps as large as the field select only the start. */
	    {"*/60 * * * * *", NULL, "2026-01-01T00:00:00Z", {"2026-01-01T00:01:00Z"}},
	};
	RUN(cases);
}

static void test_names_any_case_and_sunday(void **state)
{
	static const struct next_case cases[] = {
	    {"0 0 1 jan,Jul *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z", "2027-07-01T00:00:00Z"}},
	    {"0 0 1 FEB-apr *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z",
	      "2027-02-01T00:00:00Z"}},
	    {"0 0 * * sun",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
	    {"0 0 * * 0",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
	    {"0 0 * * 7",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
	    {"0 0 12 * * MON-FRI",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-01T12:00:00Z", "2026-01-02T12:00:00Z", "2026-01-05T12:00:00Z"}},
	    {"0 22 * * 1-5/2",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-02T22:00:00Z", "2026-01-05T22:00:00Z", "2026-01-07T22:00:00Z"}},
	    /* SUN ending a range is 7: the whole week. */
	    {"0 0 * * Mon-Sun",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z"}},
	    {"0 0 * * 5-7",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z",
	      "2026-01-09T00:00:00Z"}},
	    {"0 0 * * sat,SuN",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-10T00:00:00Z"}},
	};
	RUN(cases);
}

static void test_last_and_weekday_specials(void **state)
{
	static const struct next_case cases[] = {
	    {"0 0 L * *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z",
	      "2026-04-30T00:00:00Z"}},
	    {"0 0 l 2 *",
	     NULL,
	     "2028-01-01T00:00:00Z",
	     {"2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"}},
	    {"0 0 1,L * *",
	     NULL,
	     "2026-01-15T00:00:00Z",
	     {"2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z", "2026-02-28T00:00:00Z"}},
	    /* Last weekday: Jan 31 2026 is a Saturday, Feb 28 too, May 31 a Sunday. */
	    {"0 0 LW * *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z", "2026-03-31T00:00:00Z",
	      "2026-04-30T00:00:00Z", "2026-05-29T00:00:00Z"}},
	    /* 1W: Aug 1 2026 is a Saturday -> Monday the 3rd, never July 31;
	     * Nov 1 2026 is a Sunday -> Monday the 2nd. */
	    {"0 0 12 1W * *",
	     NULL,
	     "2026-07-15T00:00:00Z",
	     {"2026-08-03T12:00:00Z", "2026-09-01T12:00:00Z", "2026-10-01T12:00:00Z",
	      "2026-11-02T12:00:00Z"}},
	    /* 31W: May 31 2026 is a Sunday -> Friday the 29th, never June 1;
	     * months without a 31st do not match. */
	    {"0 0 31W * *",
	     NULL,
	     "2026-05-01T00:00:00Z",
	     {"2026-05-29T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z"}},
	    /* 15W: Feb 15 2026 is a Sunday -> Monday 16; Aug 15 a Saturday -> 14. */
	    {"0 0 15w 2,8 *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-02-16T00:00:00Z", "2026-08-14T00:00:00Z", "2027-02-15T00:00:00Z"}},
	    /* 30W in February never exists; the pattern still fires elsewhere. */
	    {"0 0 30W * *",
	     NULL,
	     "2026-01-31T00:00:00Z",
	     {"2026-03-30T00:00:00Z", "2026-04-30T00:00:00Z", "2026-05-29T00:00:00Z"}},
	    {"0 0 * * 5#3",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-16T00:00:00Z", "2026-02-20T00:00:00Z", "2026-03-20T00:00:00Z"}},
	    {"0 0 * * fri#5",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-30T00:00:00Z", "2026-05-29T00:00:00Z", "2026-07-31T00:00:00Z"}},
	    {"0 0 * * 7#1",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-04T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"}},
	    {"0 0 * * 1L",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-26T00:00:00Z", "2026-02-23T00:00:00Z", "2026-03-30T00:00:00Z"}},
	    {"0 0 ? * 0l",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-25T00:00:00Z", "2026-02-22T00:00:00Z", "2026-03-29T00:00:00Z"}},
	    {"0 0 ? * 1#1,5L",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-05T00:00:00Z", "2026-01-30T00:00:00Z", "2026-02-02T00:00:00Z",
	      "2026-02-27T00:00:00Z"}},
	    /* The fifth Monday of February is a Monday the 29th: 2100 is not a
	     * leap year, so 40 years pass between 2072 and 2112. */
	    {"0 0 0 ? 2 MON#5",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2044-02-29T00:00:00Z", "2072-02-29T00:00:00Z", "2112-02-29T00:00:00Z"}},
	};
	RUN(cases);
}

static void test_dom_dow_or_rule(void **state)
{
	static const struct next_case cases[] = {
	    /* Both restricted: the 13th OR any Friday. */
	    {"0 0 13 * FRI",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z",
	      "2026-01-16T00:00:00Z"}},
	    /* A step is a restriction too. */
	    {"0 0 */10 * FRI",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-11T00:00:00Z",
	      "2026-01-16T00:00:00Z"}},
	    /* One side `*` or `?`: the other alone decides. */
	    {"0 0 13 * ?",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"}},
	    {"0 0 13 * *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"}},
	    {"0 0 ? * FRI",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"}},
	    {"0 0 L * FRI#1",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-02T00:00:00Z", "2026-01-31T00:00:00Z", "2026-02-06T00:00:00Z",
	      "2026-02-28T00:00:00Z"}},
	    {"0 0 0 29 2 MON",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z", "2026-02-16T00:00:00Z",
	      "2026-02-23T00:00:00Z", "2027-02-01T00:00:00Z"}},
	};
	RUN(cases);
}

static void test_macros_and_every(void **state)
{
	static const struct next_case cases[] = {
	    {"@yearly", NULL, "2026-01-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
	    {"@ANNUALLY", NULL, "2026-01-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
	    {"@monthly",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"}},
	    {"@weekly",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
	    {"@daily", NULL, "2026-01-01T00:00:00Z", {"2026-01-02T00:00:00Z"}},
	    {"@Midnight", NULL, "2026-01-01T00:00:00Z", {"2026-01-02T00:00:00Z"}},
	    {"@hourly",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"}},
	    {"@daily",
	     "Asia/Tokyo",
	     "2026-01-01T00:00:00Z",
	     {"2026-01-01T15:00:00Z", "2026-01-02T15:00:00Z"}},
	    {"@every 1m30s",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-01T00:01:30Z", "2026-01-01T00:03:00Z", "2026-01-01T00:04:30Z"}},
	    {"@every 5s",
	     NULL,
	     "2026-01-01T00:00:02Z",
	     {"2026-01-01T00:00:05Z", "2026-01-01T00:00:10Z"}},
	    /* Slots are multiples of D since the epoch, whatever the zone:
	     * 1767225600 is a multiple of 7; of 25h, 1767240000 is the next. */
	    {"@every 7s",
	     "Asia/Kathmandu",
	     "2026-01-01T00:00:00Z",
	     {"2026-01-01T00:00:07Z", "2026-01-01T00:00:14Z"}},
	    {"@every 25h",
	     "America/New_York",
	     "2026-01-01T00:00:00Z",
	     {"2026-01-01T04:00:00Z", "2026-01-02T05:00:00Z"}},
	    {"@every 2h",
	     NULL,
	     "1969-12-31T21:00:00Z",
	     {"1969-12-31T22:00:00Z", "1970-01-01T00:00:00Z"}},
	    {"@every 1h1s", NULL, "1970-01-01T00:00:00Z", {"1970-01-01T01:00:01Z"}},
	    {"@every   90s", NULL, "1970-01-01T00:00:00Z", {"1970-01-01T00:01:30Z"}},
	};
	RUN(cases);
}

static void test_month_lengths_leap_years_rollover(void **state)
{
	static const struct next_case cases[] = {
	    {"0 0 31 * *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z",
	      "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z", "2026-10-31T00:00:00Z"}},
	    {"0 0 30 * *",
	     NULL,
	     "2026-01-31T00:00:00Z",
	     {"2026-03-30T00:00:00Z", "2026-04-30T00:00:00Z"}},
	    {"0 0 29 2 *",
	     NULL,
	     "2026-01-01T00:00:00Z",
	     {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
	    {"0 0 29 2 *", NULL, "2096-03-01T00:00:00Z", {"2104-02-29T00:00:00Z"}},
	    {"0 0 29 2 *", NULL, "1999-03-01T00:00:00Z", {"2000-02-29T00:00:00Z"}},
	    {"59 59 23 31 12 *", NULL, "2026-12-31T23:59:59Z", {"2027-12-31T23:59:59Z"}},
	    {"0 0 0 1 1 *",
	     NULL,
	     "2026-12-31T23:59:59Z",
	     {"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
	    {"* * * * * *", NULL, "2026-12-31T23:59:59Z", {"2027-01-01T00:00:00Z"}},
	    {"0 0 * * *", "Pacific/Kiritimati", "2026-12-31T09:59:59Z", {"2026-12-31T10:00:00Z"}},
	    {"0 0 28-31 2 *",
	     NULL,
	     "2028-02-28T12:00:00Z",
	     {"2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"}},
	};
	RUN(cases);
}

static void test_odd_offset_zones(void **state)
{
	static const struct next_case cases[] = {
	    /* Kathmandu: +05:45 all year. */
	    {"0 0 9 * * *",
	     "Asia/Kathmandu",
	     "2026-01-01T00:00:00Z",
	     {"2026-01-01T03:15:00Z", "2026-01-02T03:15:00Z"}},
	    {"0 */30 * * * *",
	     "Asia/Kathmandu",
	     "2026-01-01T00:00:00Z",
	     {"2026-01-01T00:15:00Z", "2026-01-01T00:45:00Z"}},
	    /* Lord Howe: +10:30, +11:00 in summer — a half-hour shift. On
	     * 2026-04-05 01:30-02:00 happens twice (14:30Z and 15:00Z). */
	    {"0 45 1 * * *",
	     "Australia/Lord_Howe",
	     "2026-04-04T00:00:00Z",
	     {"2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"}},
	    {"0 */15 1 * * *",
	     "Australia/Lord_Howe",
	     "2026-04-04T00:00:00Z",
	     {"2026-04-04T14:00:00Z", "2026-04-04T14:15:00Z", "2026-04-04T14:30:00Z",
	      "2026-04-04T14:45:00Z", "2026-04-04T15:00:00Z", "2026-04-04T15:15:00Z"}},
	    /* On 2026-10-04 02:00-02:30 does not exist (gap ends 15:30Z). */
	    {"0 15 2 * * *",
	     "Australia/Lord_Howe",
	     "2026-10-03T00:00:00Z",
	     {"2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"}},
	    {"0 0,15,30 2 * * *",
	     "Australia/Lord_Howe",
	     "2026-10-03T00:00:00Z",
	     {"2026-10-03T15:30:00Z", "2026-10-04T15:00:00Z"}},
	    /* Chatham: +12:45, +13:45 in summer; 02:45 -> 03:45 on 2026-09-27. */
	    {"0 0 3 * * *",
	     "Pacific/Chatham",
	     "2026-09-26T00:00:00Z",
	     {"2026-09-26T14:00:00Z", "2026-09-27T13:15:00Z"}},
	    {"0 0 12 * * *", "Pacific/Chatham", "2026-06-01T00:00:00Z", {"2026-06-01T23:15:00Z"}},
	};
	RUN(cases);
}

/* Samoa moved across the date line: 2011-12-30 never happened in Apia
 * (2011-12-29 23:59:59 -10:00 was followed by 2011-12-31 00:00:00 +14:00,
 * at 2011-12-30T10:00:00Z). A fixed-time pattern due on the missing day
 * fires once at the gap's end; an interval pattern just skips it. */
static void test_day_long_gap(void **state)
{
	static const struct next_case cases[] = {
	    {"0 0 12 * * *",
	     "Pacific/Apia",
	     "2011-12-29T00:00:00Z",
	     {"2011-12-29T22:00:00Z", "2011-12-30T10:00:00Z", "2011-12-30T22:00:00Z",
	      "2011-12-31T22:00:00Z"}},
	    {"0 0 12,13 * * *",
	     "Pacific/Apia",
	     "2011-12-29T21:00:00Z",
	     {"2011-12-29T22:00:00Z", "2011-12-29T23:00:00Z", "2011-12-30T22:00:00Z"}},
	};
	RUN(cases);
}

static void test_dst_new_york(void **state)
{
	static const struct next_case cases[] = {
	    /* 2026-03-08: 02:00 EST -> 03:00 EDT (07:00Z). */
	    {"30 2 * * *",
	     "America/New_York",
	     "2026-03-07T12:00:00Z",
	     {"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
	    {"0 0 2 * * *",
	     "America/New_York",
	     "2026-03-07T12:00:00Z",
	     {"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"}},
	    {"*/30 2 * * *",
	     "America/New_York",
	     "2026-03-07T12:00:00Z",
	     {"2026-03-09T06:00:00Z", "2026-03-09T06:30:00Z"}},
	    {"0 * * * *",
	     "America/New_York",
	     "2026-03-08T05:30:00Z",
	     {"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}},
	    {"@hourly",
	     "America/New_York",
	     "2026-03-08T05:30:00Z",
	     {"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}},
	    /* From inside the gap's end second. */
	    {"30 2 * * *", "America/New_York", "2026-03-08T06:59:59Z", {"2026-03-08T07:00:00Z"}},
	    {"30 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", {"2026-03-09T06:30:00Z"}},
	    /* 2026-11-01: 02:00 EDT -> 01:00 EST (06:00Z). */
	    {"30 1 * * *",
	     "America/New_York",
	     "2026-10-31T12:00:00Z",
	     {"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
	    {"*/30 1 * * *",
	     "America/New_York",
	     "2026-11-01T04:00:00Z",
	     {"2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z",
	      "2026-11-01T06:30:00Z", "2026-11-02T06:00:00Z"}},
	    /* Fixed time, after its first occurrence, inside the repeat. */
	    {"30 1 * * *", "America/New_York", "2026-11-01T06:10:00Z", {"2026-11-02T06:30:00Z"}},
	    /* @hourly is an interval pattern (api.md): both 01:00s fire. */
	    {"@hourly",
	     "America/New_York",
	     "2026-11-01T03:30:00Z",
	     {"2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z",
	      "2026-11-01T07:00:00Z"}},
	    {"0 * * * *",
	     "America/New_York",
	     "2026-11-01T03:30:00Z",
	     {"2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z",
	      "2026-11-01T07:00:00Z"}},
	    /* Interval pattern starting inside the second pass. */
	    {"*/20 * * * *",
	     "America/New_York",
	     "2026-11-01T06:30:00Z",
	     {"2026-11-01T06:40:00Z", "2026-11-01T07:00:00Z"}},
	};
	RUN(cases);
}

static void test_dst_berlin_sydney(void **state)
{
	static const struct next_case cases[] = {
	    /* Berlin 2026-03-29: 02:00 CET -> 03:00 CEST (01:00Z). */
	    {"0 30 2 * * *",
	     "Europe/Berlin",
	     "2026-03-28T12:00:00Z",
	     {"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
	    {"0 0,30 2 * * *",
	     "Europe/Berlin",
	     "2026-03-28T12:00:00Z",
	     {"2026-03-30T00:00:00Z", "2026-03-30T00:30:00Z"}},
	    /* Berlin 2026-10-25: 03:00 CEST -> 02:00 CET (01:00Z). */
	    {"0 30 2 * * *",
	     "Europe/Berlin",
	     "2026-10-24T12:00:00Z",
	     {"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
	    {"0 0,30 2 * * *",
	     "Europe/Berlin",
	     "2026-10-24T12:00:00Z",
	     {"2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z",
	      "2026-10-25T01:30:00Z", "2026-10-26T01:00:00Z"}},
	    /* Sydney 2026-04-05: 03:00 AEDT -> 02:00 AEST (16:00Z the 4th). */
	    {"0 30 2 * * *",
	     "Australia/Sydney",
	     "2026-04-04T00:00:00Z",
	     {"2026-04-04T15:30:00Z", "2026-04-05T16:30:00Z"}},
	    {"0 30 2 * * *", "Australia/Sydney", "2026-04-04T16:10:00Z", {"2026-04-05T16:30:00Z"}},
	    {"0 */30 2 * * *",
	     "Australia/Sydney",
	     "2026-04-04T00:00:00Z",
	     {"2026-04-04T15:00:00Z", "2026-04-04T15:30:00Z", "2026-04-04T16:00:00Z",
	      "2026-04-04T16:30:00Z", "2026-04-05T16:00:00Z"}},
	    /* Sydney 2026-10-04: 02:00 AEST -> 03:00 AEDT (16:00Z the 3rd). */
	    {"0 30 2 * * *",
	     "Australia/Sydney",
	     "2026-10-03T00:00:00Z",
	     {"2026-10-03T16:00:00Z", "2026-10-04T15:30:00Z"}},
	    {"0 */30 2 * * *",
	     "Australia/Sydney",
	     "2026-10-03T00:00:00Z",
	     {"2026-10-04T15:00:00Z", "2026-10-04T15:30:00Z"}},
	};
	RUN(cases);
}

static void test_local_to_fire(void **state)
{
	struct tz *ny = zone("America/New_York");
	struct cron_expr *fixed, *interval, *every;
	char err[256];
	int64_t utc[2];
	int n = -1;
	assert_int_equal(cron_parse("30 2 * * *", &fixed, err, sizeof(err)), 0);
	assert_int_equal(cron_parse("*/30 * * * *", &interval, err, sizeof(err)), 0);
	assert_int_equal(cron_parse("@every 1m", &every, err, sizeof(err)), 0);

	/* Gap: 2026-03-08 02:30 local. */
	int64_t gap = at("2026-03-08T02:30:00Z");
	assert_int_equal(cron_local_to_fire(fixed, ny, gap, utc, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(utc[0], at("2026-03-08T07:00:00Z"));
	assert_int_equal(cron_local_to_fire(interval, ny, gap, utc, &n), 0);
	assert_int_equal(n, 0);

	/* Overlap: 2026-11-01 01:30 local. */
	int64_t rep = at("2026-11-01T01:30:00Z");
	assert_int_equal(cron_local_to_fire(fixed, ny, rep, utc, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(utc[0], at("2026-11-01T05:30:00Z"));
	assert_int_equal(cron_local_to_fire(interval, ny, rep, utc, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(utc[0], at("2026-11-01T05:30:00Z"));
	assert_int_equal(utc[1], at("2026-11-01T06:30:00Z"));

	/* Ordinary time, and UTC through a NULL zone. */
	assert_int_equal(cron_local_to_fire(interval, ny, at("2026-06-01T12:00:00Z"), utc, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(utc[0], at("2026-06-01T16:00:00Z"));
	assert_int_equal(cron_local_to_fire(fixed, NULL, at("2026-06-01T12:00:00Z"), utc, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(utc[0], at("2026-06-01T12:00:00Z"));

	assert_int_equal(cron_local_to_fire(every, ny, gap, utc, &n), -EINVAL);
	cron_free(fixed);
	cron_free(interval);
	cron_free(every);
	tz_free(ny);
}

static void test_predicates(void **state)
{
	static const struct {
		const char *expr;
		bool fixed;
		int64_t every;
	} cases[] = {
	    {"30 2 * * *", true, 0},	     {"0 30 2 * * *", true, 0},
	    {"*/30 2 * * *", false, 0},	     {"0 30 2,3 * * *", false, 0},
	    {"0 30 1-2 * * *", false, 0},    {"* 30 2 * * *", false, 0},
	    {"0 0 2-2 * * *", true, 0},	     {"0 0 2/24 * * *", false, 0},
	    {"0 0 12 * * MON-FRI", true, 0}, {"@daily", true, 0},
	    {"@hourly", false, 0},	     {"@yearly", true, 0},
	    {"@every 1h", false, 3600},	     {"@every 1m30s", false, 90},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cron_expr *e;
		char err[256];
		int64_t period = -1;
		assert_int_equal(cron_parse(cases[i].expr, &e, err, sizeof(err)), 0);
		if (cron_is_fixed_time(e) != cases[i].fixed)
			fail_msg("%s: fixed-time should be %d", cases[i].expr, cases[i].fixed);
		assert_int_equal(cron_is_every(e, &period), cases[i].every != 0);
		if (cases[i].every)
			assert_int_equal(period, cases[i].every);
		cron_free(e);
	}

	struct cron_expr *e;
	char err[256];
	assert_int_equal(cron_parse("  0 0 L * *\n", &e, err, sizeof(err)), 0);
	assert_true(cron_matches_date(e, civil_days_from_ymd(2026, 2, 28)));
	assert_false(cron_matches_date(e, civil_days_from_ymd(2026, 2, 27)));
	assert_true(cron_matches_date(e, civil_days_from_ymd(2028, 2, 29)));
	cron_free(e);
	assert_int_equal(cron_parse("0 0 ? JAN MON#2", &e, err, sizeof(err)), 0);
	assert_true(cron_matches_date(e, civil_days_from_ymd(2026, 1, 12)));
	assert_false(cron_matches_date(e, civil_days_from_ymd(2026, 1, 5)));
	assert_false(cron_matches_date(e, civil_days_from_ymd(2026, 2, 9)));
	cron_free(e);
}

static void test_errors_are_exact(void **state)
{
	static const struct {
		const char *expr;
		const char *msg;
	} cases[] = {
	    {"", "expected 5 or 6 fields, got 0"},
	    {"* * * *", "expected 5 or 6 fields, got 4"},
	    {"* * * * * * *", "expected 5 or 6 fields, got 7"},
	    {"60 * * * *", "minute: 60 is out of range 0-59"},
	    {"60 * * * * *", "second: 60 is out of range 0-59"},
	    {"* 24 * * *", "hour: 24 is out of range 0-23"},
	    {"* * 0 * *", "day-of-month: 0 is out of range 1-31"},
	    {"* * 32 * *", "day-of-month: 32 is out of range 1-31"},
	    {"* * * 13 *", "month: 13 is out of range 1-12"},
	    {"* * * * 8", "day-of-week: 8 is out of range 0-7"},
	    {"* * * * 99999999999999", "day-of-week: 99999999999999 is out of range 0-7"},
	    {"x * * * *", "minute: \"x\" is not a number"},
	    {"* * * FOO *", "month: \"FOO\" is not a number or month name (JAN-DEC)"},
	    {"* * * * MONDAY", "day-of-week: \"MONDAY\" is not a number or day name (SUN-SAT)"},
	    {"* * * JAN-FOO *", "month: \"FOO\" is not a number or month name (JAN-DEC)"},
	    {"* * * * 6#6", "day-of-week: 6#6: occurrence \"6\" is out of range 1-5"},
	    {"* * * * 6#0", "day-of-week: 6#0: occurrence \"0\" is out of range 1-5"},
	    {"* * * * 6#", "day-of-week: 6#: occurrence \"\" is out of range 1-5"},
	    {"* * * * 9#1", "day-of-week: 9 is out of range 0-7"},
	    {"* * 32W * *", "day-of-month: 32 is out of range 1-31"},
	    {"*/0 * * * *", "minute: \"*/0\": step 0 is out of range 1-60"},
	    {"*/61 * * * *", "minute: \"*/61\": step 61 is out of range 1-60"},
	    {"* * * * */8", "day-of-week: \"*/8\": step 8 is out of range 1-7"},
	    {"*/ * * * *", "minute: \"*/\": the step is missing"},
	    {"*/x * * * *", "minute: \"*/x\": step \"x\" is not a number"},
	    {"5-1 * * * *", "minute: range 5-1 is reversed (start after end)"},
	    {"* * * * FRI-MON", "day-of-week: range FRI-MON is reversed (start after end)"},
	    {"1,,2 * * * *", "minute: empty list element"},
	    {"1, * * * *", "minute: empty list element"},
	    {"? * * * *", "minute: \"?\" is only allowed in day-of-month and day-of-week"},
	    {"* L * * *", "hour: \"L\" is not a number"},
	    {"* * * * 5W", "day-of-week: \"5W\" is not a number or day name (SUN-SAT)"},
	    {"* * 5#2 * *", "day-of-month: \"5#2\" is not valid"},
	    {"* * L-3 * *", "day-of-month: \"L\" is not a number"},
	    {"* * 1-5W * *", "day-of-month: \"1-5W\": W takes a single day (such as 15W)"},
	    {"* * * * 1-5L", "day-of-week: \"1-5L\": L takes a single day (such as 5L)"},
	    {"* * * * 1-5#2", "day-of-week: \"1-5#2\": # takes a single day (such as 5#2)"},
	    {"** * * * *", "minute: \"**\" is not valid"},
	    {"1-2-3 * * * *", "minute: \"1-2-3\" is not valid"},
	    {"-1 * * * *", "minute: a value is missing"},
	    {"@fortnightly",
	     "unknown macro \"@fortnightly\" (expected @yearly, @annually, @monthly, @weekly, "
	     "@daily, @midnight, @hourly or @every)"},
	    {"@daily 5", "macro @daily takes no argument"},
	    {"@every", "@every: a duration is missing (such as 90s, 1m30s or 2h)"},
	    {"@every 0s", "@every: \"0s\" is shorter than 1s"},
	    {"@every 500ms",
	     "@every: \"500ms\" is not a duration in whole seconds (such as 90s, 1m30s or 2h)"},
	    {"@every 1.5h",
	     "@every: \"1.5h\" is not a duration in whole seconds (such as 90s, 1m30s or 2h)"},
	    {"@every 10", "@every: \"10\" is not a duration in whole seconds (such as 90s, 1m30s "
			  "or 2h)"},
	    {"@every 87601h", "@every: \"87601h\" is longer than 87600h"},
	    {"0 0 0 30 2 *", "schedule can never fire: day-of-month 30 never occurs in month 2"},
	    {"0 0 31 4,6,9,11 *",
	     "schedule can never fire: day-of-month 31 never occurs in month 4,6,9,11"},
	    {"0 0 30,31 feb ?",
	     "schedule can never fire: day-of-month 30,31 never occurs in month feb"},
	    {"0 0 31W 2 *", "schedule can never fire: day-of-month 31W never occurs in month 2"},
	};
	int failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cron_expr *e = (struct cron_expr *)&failures;
		char err[256] = "";
		int rc = cron_parse(cases[i].expr, &e, err, sizeof(err));
		if (rc != -EINVAL || e != NULL || strcmp(err, cases[i].msg)) {
			print_error("\"%s\": rc %d, error \"%s\"\n   want \"%s\"\n", cases[i].expr,
				    rc, err, cases[i].msg);
			failures++;
			if (rc == 0)
				cron_free(e);
		}
	}
	assert_int_equal(failures, 0);

	/* A short buffer truncates; a NULL one is allowed. */
	struct cron_expr *e;
	char small[8];
	assert_int_equal(cron_parse("60 * * * *", &e, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "minute:");
	assert_int_equal(cron_parse("60 * * * *", &e, NULL, 0), -EINVAL);
}

static void test_patterns_that_fire_rarely_still_parse(void **state)
{
	static const char *const ok[] = {
	    "0 0 30 2 MON",  /* OR: any Monday in February */
	    "0 0 29 2 *",    /* leap years */
	    "0 0 ? 2 MON#5", /* Feb 29 on a Monday */
	    "0 0 L 2 *",     "0 0 31 1-12 *", "0 0 LW 2 *", "0 0 ? 2 6L",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct cron_expr *e;
		char err[256] = "";
		if (cron_parse(ok[i], &e, err, sizeof(err)))
			fail_msg("%s: %s", ok[i], err);
		cron_free(e);
	}
}

static void test_bounds(void **state)
{
	struct cron_expr *e;
	char err[256];
	int64_t next;
	assert_int_equal(cron_parse("0 0 29 2 *", &e, err, sizeof(err)), 0);
	/* No leap day is left before the end of year 9999. */
	assert_int_equal(cron_next(e, NULL, at("9996-03-01T00:00:00Z"), &next), -ENOENT);
	assert_int_equal(cron_next(e, NULL, at("9995-03-01T00:00:00Z"), &next), 0);
	assert_int_equal(next, at("9996-02-29T00:00:00Z"));
	assert_int_equal(cron_next(e, NULL, INT64_MAX, &next), -ERANGE);
	assert_int_equal(cron_next(e, NULL, INT64_MIN, &next), -ERANGE);
	assert_int_equal(cron_next(e, NULL, at("0001-01-01T00:00:00Z"), &next), 0);
	assert_int_equal(next, at("0004-02-29T00:00:00Z"));
	cron_free(e);

	assert_int_equal(cron_parse("* * * * * *", &e, err, sizeof(err)), 0);
	assert_int_equal(cron_next(e, NULL, at("9999-12-31T23:59:58Z"), &next), 0);
	assert_int_equal(next, at("9999-12-31T23:59:59Z"));
	assert_int_equal(cron_next(e, NULL, next, &next), -ENOENT);
	assert_int_equal(cron_next(e, NULL, next + 1, &next), -ERANGE);
	cron_free(e);

	assert_int_equal(cron_parse("@every 87600h", &e, err, sizeof(err)), 0);
	assert_int_equal(cron_next(e, NULL, at("9999-01-01T00:00:00Z"), &next), -ENOENT);
	cron_free(e);
}

/* Brute force against predicates written directly on the civil fields: every
 * instant in a window that satisfies the predicate is returned, in order,
 * and nothing else is. */
static bool pred_steps(const struct civil_time *c, int64_t days)
{
	return c->sec % 7 == 0 && c->min % 13 == 0;
}

static bool pred_nth(const struct civil_time *c, int64_t days)
{
	int wd = civil_weekday(days);
	int dim = civil_days_in_month(c->year, c->month);
	bool second_monday = wd == 1 && c->day >= 8 && c->day <= 14;
	bool last_friday = wd == 5 && c->day + 7 > dim;
	return c->sec == 0 && c->min == 0 && c->hour >= 3 && c->hour <= 5 &&
	       (second_monday || last_friday);
}

static bool pred_or(const struct civil_time *c, int64_t days)
{
	int wd = civil_weekday(days);
	return c->sec == 30 && c->min % 20 == 5 && c->hour == 22 &&
	       (c->day == 13 || wd == 5 || wd == 6);
}

static void brute(const char *expr, const char *zname,
		  bool (*pred)(const struct civil_time *, int64_t), const char *from, int64_t span,
		  int64_t stride)
{
	struct tz *z = zone(zname);
	struct cron_expr *e;
	char err[256];
	assert_int_equal(cron_parse(expr, &e, err, sizeof(err)), 0);
	int64_t t0 = at(from), t = t0, hits = 0;
	for (int64_t u = t0 + stride; u <= t0 + span; u += stride) {
		int64_t local = tz_utc_to_local(z, u);
		struct civil_time c;
		civil_from_seconds(local, &c);
		if (!pred(&c, civil_floor_div(local, 86400)))
			continue;
		int64_t next;
		assert_int_equal(cron_next(e, z, t, &next), 0);
		if (next != u)
			fail_msg("%s: after %lld the engine says %lld, brute force %lld", expr,
				 (long long)t, (long long)next, (long long)u);
		t = next;
		hits++;
	}
	assert_true(hits > 10);
	cron_free(e);
	tz_free(z);
}

static void test_against_brute_force(void **state)
{
	brute("*/7 */13 * * * *", "Asia/Kathmandu", pred_steps, "2026-01-01T00:00:00Z", 2 * 86400,
	      1);
	brute("0 0 3-5 * * 1#2,5L", "Asia/Kathmandu", pred_nth, "2026-01-01T00:15:00Z", 400 * 86400,
	      3600);
	brute("30 5-59/20 22 13 * FRI,sat", "Pacific/Chatham", pred_or, "2026-01-01T00:00:00Z",
	      200 * 86400, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fields_ranges_steps_lists),
	    cmocka_unit_test(test_names_any_case_and_sunday),
	    cmocka_unit_test(test_last_and_weekday_specials),
	    cmocka_unit_test(test_dom_dow_or_rule),
	    cmocka_unit_test(test_macros_and_every),
	    cmocka_unit_test(test_month_lengths_leap_years_rollover),
	    cmocka_unit_test(test_odd_offset_zones),
	    cmocka_unit_test(test_day_long_gap),
	    cmocka_unit_test(test_dst_new_york),
	    cmocka_unit_test(test_dst_berlin_sydney),
	    cmocka_unit_test(test_local_to_fire),
	    cmocka_unit_test(test_predicates),
	    cmocka_unit_test(test_errors_are_exact),
	    cmocka_unit_test(test_patterns_that_fire_rarely_still_parse),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_against_brute_force),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
