/* Unit tests for pkg/tz/civil: calendar arithmetic checked against a naive
 * day-by-day walk and glibc's gmtime_r, and RFC 3339 / date parsing with
 * everything malformed refused. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "tz/civil.h"

static int64_t ms_of(int y, int mo, int d, int h, int mi, int s, int ms)
{
	struct civil_time t = {y, mo, d, h, mi, s};
	return civil_to_seconds(&t) * 1000 + ms;
}

/* Walks the calendar one day at a time from 1970 in both directions with
 * nothing but the month-length table: an independent reference. */
static void test_days_match_naive_walk(void **state)
{
	int y = 1970, m = 1, d = 1;
	for (int64_t day = 0; day <= 800 * 366; day++) {
		assert_int_equal(civil_days_from_ymd(y, m, d), day);
		int yy, mm, dd;
		civil_ymd_from_days(day, &yy, &mm, &dd);
		if (yy != y || mm != m || dd != d)
			fail_msg("day %lld: %d-%d-%d, want %d-%d-%d", (long long)day, yy, mm, dd, y,
				 m, d);
		if (++d > civil_days_in_month(y, m)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
	}
	y = 1969, m = 12, d = 31;
	for (int64_t day = -1; day >= -2500 * 366; day--) {
		int yy, mm, dd;
		civil_ymd_from_days(day, &yy, &mm, &dd);
		if (yy != y || mm != m || dd != d)
			fail_msg("day %lld: %d-%d-%d, want %d-%d-%d", (long long)day, yy, mm, dd, y,
				 m, d);
		assert_int_equal(civil_days_from_ymd(y, m, d), day);
		if (--d < 1) {
			if (--m < 1) {
				m = 12;
				y--;
			}
			d = civil_days_in_month(y, m);
		}
	}
	/* The walk went through year 0 and negative years: -0001-12-31 etc. */
	assert_int_equal(civil_days_from_ymd(0, 1, 1), -719528);
	assert_int_equal(civil_days_from_ymd(0, 3, 1) - civil_days_from_ymd(0, 2, 28), 2);
}

static void test_round_trip_wide_range(void **state)
{
	for (int64_t day = -400000000; day <= 400000000; day += 9973) {
		int y, m, d;
		civil_ymd_from_days(day, &y, &m, &d);
		assert_true(m >= 1 && m <= 12);
		assert_true(d >= 1 && d <= civil_days_in_month(y, m));
		assert_int_equal(civil_days_from_ymd(y, m, d), day);
	}
	/* Extreme years still round-trip. */
	int years[] = {INT_MAX - 1, INT_MIN + 1, -1000000, 1000000, -1, 0, 1};
	for (size_t i = 0; i < sizeof(years) / sizeof(years[0]); i++) {
		int64_t day = civil_days_from_ymd(years[i], 2, 28);
		int y, m, d;
		civil_ymd_from_days(day, &y, &m, &d);
		assert_int_equal(y, years[i]);
		assert_int_equal(m, 2);
		assert_int_equal(d, 28);
	}
	/* Out-of-range days saturate rather than overflow. */
	int y, m, d;
	civil_ymd_from_days(INT64_MAX, &y, &m, &d);
	assert_true(m >= 1 && m <= 12 && d >= 1 && d <= 31);
	civil_ymd_from_days(INT64_MIN, &y, &m, &d);
	assert_true(m >= 1 && m <= 12 && d >= 1 && d <= 31);
}

static void test_fields_roll_over(void **state)
{
	assert_int_equal(civil_days_from_ymd(2026, 13, 1), civil_days_from_ymd(2027, 1, 1));
	assert_int_equal(civil_days_from_ymd(2026, 0, 1), civil_days_from_ymd(2025, 12, 1));
	assert_int_equal(civil_days_from_ymd(2026, -11, 1), civil_days_from_ymd(2025, 1, 1));
	assert_int_equal(civil_days_from_ymd(2026, 25, 1), civil_days_from_ymd(2028, 1, 1));
	assert_int_equal(civil_days_from_ymd(2026, 3, 0), civil_days_from_ymd(2026, 2, 28));
	assert_int_equal(civil_days_from_ymd(2024, 3, 0), civil_days_from_ymd(2024, 2, 29));
	assert_int_equal(civil_days_from_ymd(2026, 1, 32), civil_days_from_ymd(2026, 2, 1));
	struct civil_time t = {2026, 12, 31, 23, 59, 60};
	assert_int_equal(civil_to_seconds(&t), ms_of(2027, 1, 1, 0, 0, 0, 0) / 1000);
	struct civil_time t2 = {2026, 3, 8, 26, 0, 0};
	assert_int_equal(civil_to_seconds(&t2), ms_of(2026, 3, 9, 2, 0, 0, 0) / 1000);
}

static void test_leap_years_and_month_lengths(void **state)
{
	assert_true(civil_is_leap(2024));
	assert_true(civil_is_leap(2000));
	assert_true(civil_is_leap(1600));
	assert_true(civil_is_leap(0));
	assert_true(civil_is_leap(-4));
	assert_true(civil_is_leap(-400));
	assert_false(civil_is_leap(1900));
	assert_false(civil_is_leap(2100));
	assert_false(civil_is_leap(2026));
	assert_false(civil_is_leap(-100));
	assert_false(civil_is_leap(-1));
	int lens[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	for (int m = 1; m <= 12; m++)
		assert_int_equal(civil_days_in_month(2026, m), lens[m - 1]);
	assert_int_equal(civil_days_in_month(2024, 2), 29);
	assert_int_equal(civil_days_in_month(2100, 2), 28);
	assert_int_equal(civil_days_in_month(2026, 0), 0);
	assert_int_equal(civil_days_in_month(2026, 13), 0);
	for (int y = -800; y <= 2800; y++) {
		int64_t len = civil_days_from_ymd(y + 1, 1, 1) - civil_days_from_ymd(y, 1, 1);
		assert_int_equal(len, civil_is_leap(y) ? 366 : 365);
	}
}

static void test_weekday(void **state)
{
	assert_int_equal(civil_weekday(0), 4);				       /* Thu 1970-01-01 */
	assert_int_equal(civil_weekday(civil_days_from_ymd(2026, 11, 22)), 0); /* Sunday */
	assert_int_equal(civil_weekday(civil_days_from_ymd(2026, 3, 8)), 0);
	assert_int_equal(civil_weekday(civil_days_from_ymd(2000, 1, 1)), 6); /* Saturday */
	assert_int_equal(civil_weekday(civil_days_from_ymd(1969, 12, 31)), 3);
	assert_int_equal(civil_weekday(civil_days_from_ymd(1, 1, 1)), 1); /* Monday */
	for (int64_t d = -100000; d < 100000; d++)
		assert_int_equal(civil_weekday(d + 1), (civil_weekday(d) + 1) % 7);
	int w = civil_weekday(INT64_MAX);
	assert_true(w >= 0 && w <= 6);
	w = civil_weekday(INT64_MIN);
	assert_true(w >= 0 && w <= 6);
}

static void test_floor_div(void **state)
{
	assert_int_equal(civil_floor_div(7, 2), 3);
	assert_int_equal(civil_floor_div(-7, 2), -4);
	assert_int_equal(civil_floor_div(-8, 2), -4);
	assert_int_equal(civil_floor_div(7, -2), -4);
	assert_int_equal(civil_floor_div(-7, -2), 3);
	assert_int_equal(civil_floor_div(0, 5), 0);
	assert_int_equal(civil_floor_div(-1, 86400), -1);
	assert_int_equal(civil_floor_div(INT64_MIN, 1), INT64_MIN);
}

/* civil_from_seconds against glibc's gmtime_r. */
static void test_seconds_match_gmtime(void **state)
{
	uint64_t x = 88172645463325252ULL;
	for (int i = 0; i < 2000000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* About years -9000 .. 12000. */
		int64_t s = (int64_t)(x % 668000000000ULL) - 346000000000LL;
		if (i < 200000)
			s = (int64_t)i * 43201 - 4320100000LL;
		struct civil_time t;
		civil_from_seconds(s, &t);
		time_t tt = (time_t)s;
		struct tm tm;
		assert_non_null(gmtime_r(&tt, &tm));
		if (t.year != tm.tm_year + 1900 || t.month != tm.tm_mon + 1 ||
		    t.day != tm.tm_mday || t.hour != tm.tm_hour || t.min != tm.tm_min ||
		    t.sec != tm.tm_sec)
			fail_msg("%lld: %d-%d-%d %d:%d:%d", (long long)s, t.year, t.month, t.day,
				 t.hour, t.min, t.sec);
		assert_int_equal(civil_to_seconds(&t), s);
	}
}

static void test_rfc3339_format(void **state)
{
	char b[32];
	assert_int_equal(rfc3339_format(ms_of(2026, 3, 8, 7, 0, 0, 0), false, b, sizeof(b)), 20);
	assert_string_equal(b, "2026-03-08T07:00:00Z");
	assert_int_equal(rfc3339_format(ms_of(2026, 3, 8, 7, 0, 0, 5), true, b, sizeof(b)), 24);
	assert_string_equal(b, "2026-03-08T07:00:00.005Z");
	assert_int_equal(rfc3339_format(0, true, b, sizeof(b)), 24);
	assert_string_equal(b, "1970-01-01T00:00:00.000Z");
	assert_int_equal(rfc3339_format(-1, true, b, sizeof(b)), 24);
	assert_string_equal(b, "1969-12-31T23:59:59.999Z");
	assert_int_equal(rfc3339_format(-1, false, b, sizeof(b)), 20);
	assert_string_equal(b, "1969-12-31T23:59:59Z"); /* floor, not rounding */
	assert_int_equal(rfc3339_format(ms_of(9999, 12, 31, 23, 59, 59, 999), true, b, 25), 24);
	assert_string_equal(b, "9999-12-31T23:59:59.999Z");
	assert_int_equal(rfc3339_format(ms_of(0, 1, 1, 0, 0, 0, 0), false, b, 21), 20);
	assert_string_equal(b, "0000-01-01T00:00:00Z");
	/* Too small, and years RFC 3339 cannot write. */
	assert_int_equal(rfc3339_format(0, true, b, 24), -1);
	assert_int_equal(rfc3339_format(0, false, b, 20), -1);
	assert_int_equal(rfc3339_format(0, false, NULL, 100), -1);
	assert_int_equal(rfc3339_format(ms_of(10000, 1, 1, 0, 0, 0, 0), false, b, sizeof(b)), -1);
	assert_int_equal(rfc3339_format(ms_of(-1, 12, 31, 0, 0, 0, 0), false, b, sizeof(b)), -1);
	assert_int_equal(rfc3339_format(INT64_MAX, true, b, sizeof(b)), -1);
	assert_int_equal(rfc3339_format(INT64_MIN, true, b, sizeof(b)), -1);
}

static void test_rfc3339_parse_accepts(void **state)
{
	struct {
		const char *s;
		int64_t ms;
	} ok[] = {
	    {"2026-03-08T07:00:00Z", ms_of(2026, 3, 8, 7, 0, 0, 0)},
	    {"2026-03-08T07:00:00.000Z", ms_of(2026, 3, 8, 7, 0, 0, 0)},
	    {"2026-03-08T07:00:00.5Z", ms_of(2026, 3, 8, 7, 0, 0, 500)},
	    {"2026-03-08T07:00:00.12Z", ms_of(2026, 3, 8, 7, 0, 0, 120)},
	    {"2026-03-08T07:00:00.123456789Z", ms_of(2026, 3, 8, 7, 0, 0, 123)},
	    {"2026-03-08t07:00:00z", ms_of(2026, 3, 8, 7, 0, 0, 0)},
	    {"2026-03-08T02:00:00-05:00", ms_of(2026, 3, 8, 7, 0, 0, 0)},
	    {"2026-03-08T16:00:00+09:00", ms_of(2026, 3, 8, 7, 0, 0, 0)},
	    {"2026-03-08T07:00:00+00:00", ms_of(2026, 3, 8, 7, 0, 0, 0)},
	    {"2026-03-08T07:00:00-00:00", ms_of(2026, 3, 8, 7, 0, 0, 0)},
	    {"2026-03-08T20:45:00+13:45", ms_of(2026, 3, 8, 7, 0, 0, 0)},
	    {"2026-01-01T00:30:00+01:00", ms_of(2025, 12, 31, 23, 30, 0, 0)},
	    {"2024-02-29T23:59:59.999Z", ms_of(2024, 2, 29, 23, 59, 59, 999)},
	    {"1969-12-31T23:59:59.999Z", -1},
	    {"1970-01-01T00:00:00Z", 0},
	    {"0000-01-01T00:00:00Z", ms_of(0, 1, 1, 0, 0, 0, 0)},
	    {"9999-12-31T23:59:59Z", ms_of(9999, 12, 31, 23, 59, 59, 0)},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t ms = 42;
		if (rfc3339_parse(ok[i].s, &ms) != 0)
			fail_msg("refused %s", ok[i].s);
		if (ms != ok[i].ms)
			fail_msg("%s: %lld, want %lld", ok[i].s, (long long)ms,
				 (long long)ok[i].ms);
	}
}

static void test_rfc3339_parse_rejects(void **state)
{
	const char *bad[] = {
	    "",
	    "2026",
	    "2026-03-08",
	    "2026-03-08T07:00Z",
	    "2026-03-08T07:00:00",	 /* no zone */
	    "2026-03-08 07:00:00Z",	 /* space */
	    "2026-13-08T07:00:00Z",	 /* month 13 */
	    "2026-00-08T07:00:00Z",	 /* month 0 */
	    "2026-02-30T07:00:00Z",	 /* 30 Feb */
	    "2026-02-29T07:00:00Z",	 /* not a leap year */
	    "2100-02-29T07:00:00Z",	 /* not a leap year */
	    "2026-04-31T07:00:00Z",	 /* 31 Apr */
	    "2026-03-00T07:00:00Z",	 /* day 0 */
	    "2026-03-32T07:00:00Z",	 /* day 32 */
	    "2026-03-08T24:00:00Z",	 /* hour 24 */
	    "2026-03-08T07:60:00Z",	 /* minute 60 */
	    "2026-03-08T07:00:60Z",	 /* second 60 */
	    "2026-03-08T07:00:00.Z",	 /* empty fraction */
	    "2026-03-08T07:00:00.12a3Z", /* garbage in fraction */
	    "2026-03-08T07:00:00+0500",	 /* offset without colon */
	    "2026-03-08T07:00:00+05",	 /* short offset */
	    "2026-03-08T07:00:00+24:00", /* offset hour */
	    "2026-03-08T07:00:00+05:60", /* offset minute */
	    "2026-03-08T07:00:00ZZ",	 /* trailing */
	    "2026-03-08T07:00:00Z ",	 /* trailing blank */
	    " 2026-03-08T07:00:00Z",	 /* leading blank */
	    "2026-3-08T07:00:00Z",	 /* short month */
	    "02026-03-08T07:00:00Z",	 /* long year */
	    "+2026-03-08T07:00:00Z",	 /* signed year */
	    "2026-03-08T7:00:00Z",	 /* short hour */
	    "2026/03/08T07:00:00Z",	 /* wrong separators */
	    "2026-03-08T07-00-00Z",	 /* wrong separators */
	    "2026-03-08T07:00:00.000+05:30x",
	    "2026-03-08T07:00:00+05:3",
	    "2026-03-08T07:00:00\xef\xbc\xba",
	    "２026-03-08T07:00:00Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = 42;
		if (rfc3339_parse(bad[i], &ms) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(ms, 42); /* no partial result */
	}
	int64_t ms;
	assert_int_equal(rfc3339_parse(NULL, &ms), -1);
	/* Every prefix of a valid timestamp but the whole is refused. */
	const char *full = "2026-03-08T07:00:00.123+05:30";
	char buf[64];
	for (size_t n = 0; n < strlen(full); n++) {
		memcpy(buf, full, n);
		buf[n] = '\0';
		assert_int_equal(rfc3339_parse(buf, &ms), -1);
	}
	assert_int_equal(rfc3339_parse(full, &ms), 0);
}

static void test_rfc3339_round_trip(void **state)
{
	char b[32];
	for (int64_t ms = ms_of(1, 1, 1, 0, 0, 0, 0); ms < ms_of(9999, 1, 1, 0, 0, 0, 0);
	     ms += 3155695200001LL / 7) {
		assert_int_equal(rfc3339_format(ms, true, b, sizeof(b)), 24);
		int64_t back;
		assert_int_equal(rfc3339_parse(b, &back), 0);
		assert_int_equal(back, ms);
		assert_int_equal(rfc3339_format(ms, false, b, sizeof(b)), 20);
		assert_int_equal(rfc3339_parse(b, &back), 0);
		assert_int_equal(back, civil_floor_div(ms, 1000) * 1000);
	}
}

static void test_dates(void **state)
{
	int64_t days;
	assert_int_equal(civil_parse_date("2026-03-08", 10, &days), 0);
	assert_int_equal(days, civil_days_from_ymd(2026, 3, 8));
	assert_int_equal(civil_parse_date("2024-02-29", 10, &days), 0);
	/* Length-delimited: the rest of the buffer is not looked at. */
	assert_int_equal(civil_parse_date("1970-01-01,2026-01-01", 10, &days), 0);
	assert_int_equal(days, 0);
	const char *bad[] = {"2026-02-29", "2026-13-01", "2026-00-01", "2026-01-00", "2026-04-31",
			     "2026-1-01",  "2026/01/01", "20260101",   "2026-01-1a", "2026-01-01 ",
			     "",	   "+026-01-01", "2026-01-01T"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		days = 42;
		if (civil_parse_date(bad[i], strlen(bad[i]), &days) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(days, 42);
	}
	assert_int_equal(civil_parse_date("2026-01-01", 9, &days), -1);
	assert_int_equal(civil_parse_date("2026-01\0001", 10, &days), -1);
	assert_int_equal(civil_parse_date(NULL, 10, &days), -1);

	char b[16];
	assert_int_equal(civil_format_date(civil_days_from_ymd(2026, 3, 8), b, sizeof(b)), 10);
	assert_string_equal(b, "2026-03-08");
	assert_int_equal(civil_format_date(-1, b, 11), 10);
	assert_string_equal(b, "1969-12-31");
	assert_int_equal(civil_format_date(0, b, 10), -1);
	assert_int_equal(civil_format_date(civil_days_from_ymd(10000, 1, 1), b, sizeof(b)), -1);
	assert_int_equal(civil_format_date(civil_days_from_ymd(-1, 1, 1), b, sizeof(b)), -1);
	for (int64_t d = civil_days_from_ymd(0, 1, 1); d <= civil_days_from_ymd(9999, 12, 31);
	     d += 37) {
		assert_int_equal(civil_format_date(d, b, sizeof(b)), 10);
		int64_t back;
		assert_int_equal(civil_parse_date(b, 10, &back), 0);
		assert_int_equal(back, d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_days_match_naive_walk),
	    cmocka_unit_test(test_round_trip_wide_range),
	    cmocka_unit_test(test_fields_roll_over),
	    cmocka_unit_test(test_leap_years_and_month_lengths),
	    cmocka_unit_test(test_weekday),
	    cmocka_unit_test(test_floor_div),
	    cmocka_unit_test(test_seconds_match_gmtime),
	    cmocka_unit_test(test_rfc3339_format),
	    cmocka_unit_test(test_rfc3339_parse_accepts),
	    cmocka_unit_test(test_rfc3339_parse_rejects),
	    cmocka_unit_test(test_rfc3339_round_trip),
	    cmocka_unit_test(test_dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
