/* Unit tests for pkg/calendar/calendar: building, CSV, spec JSON, queries. */
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

#include "base/buf.h"
#include "calendar/calendar.h"
#include "kube/yaml.h"
#include "tz/civil.h"

static int64_t D(int y, int m, int d)
{
	return civil_days_from_ymd(y, m, d);
}

/* Builds from a spec given as JSON text; returns the rc and fills err. */
static int from_json(const char *json, const char *csv, struct calendar **out, char *err,
		     size_t errlen)
{
	cJSON *spec = cJSON_Parse(json);
	assert_non_null(spec);
	*out = NULL;
	int rc = calendar_from_spec_json(spec, csv, csv ? strlen(csv) : 0, out, err, errlen);
	cJSON_Delete(spec);
	return rc;
}

static struct calendar *must_json(const char *json, const char *csv)
{
	char err[256] = "";
	struct calendar *c;
	int rc = from_json(json, csv, &c, err, sizeof(err));
	if (rc != 0)
		fail_msg("unexpected error: %s", err);
	return c;
}

static void expect_json_error(const char *json, const char *csv, const char *want)
{
	char err[256] = "";
	struct calendar *c = NULL;
	assert_int_equal(from_json(json, csv, &c, err, sizeof(err)), -EINVAL);
	assert_null(c);
	assert_string_equal(err, want);
}

static void expect_csv_error(const char *csv, const char *want)
{
	struct calendar_builder b;
	char err[256] = "";
	calendar_builder_init(&b);
	assert_int_equal(
	    calendar_builder_add_csv(&b, "table.csv", csv, strlen(csv), err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want);
	calendar_builder_release(&b);
}

static void test_default_weekend_and_counts(void **state)
{
	struct calendar *c =
	    must_json("{\"timeZone\":\"Asia/"
		      "Seoul\",\"validFrom\":\"2026-01-01\",\"validUntil\":\"2026-12-31\"}",
		      NULL);
	assert_string_equal(calendar_zone(c), "Asia/Seoul");
	assert_int_equal(calendar_weekend_mask(c), CALENDAR_WEEKEND_DEFAULT);
	assert_int_equal(calendar_first_day(c), D(2026, 1, 1));
	assert_int_equal(calendar_last_day(c), D(2026, 12, 31));
	assert_int_equal(calendar_day_count(c), 365);
	/* 2026 starts on a Thursday: 52 whole weeks plus one Thursday. */
	assert_int_equal(calendar_business_day_count(c), 261);
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 2)), 1);   /* Fri */
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 3)), 0);   /* Sat */
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 4)), 0);   /* Sun */
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 5)), 1);   /* Mon */
	assert_int_equal(calendar_is_business_day(c, D(2026, 12, 31)), 1); /* Thu */
	calendar_free(c);
}

static void test_custom_weekend_fri_sat(void **state)
{
	struct calendar *c = must_json("{\"weekendDays\":[\"fri\",\"SAT\"],\"validFrom\":"
				       "\"2026-01-01\",\"validUntil\":\"2026-01-31\"}",
				       NULL);
	assert_null(calendar_zone(c));
	assert_int_equal(calendar_weekend_mask(c), (1u << 5) | (1u << 6));
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 2)), 0); /* Fri */
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 3)), 0); /* Sat */
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 4)), 1); /* Sun */
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 8)), 1); /* Thu */
	/* January 2026: five Fridays and five Saturdays. */
	assert_int_equal(calendar_business_days_in_month(c, 2026, 1), 21);
	calendar_free(c);

	/* No weekend at all: every unlisted day is a business day. */
	c = must_json("{\"weekendDays\":[],\"holidays\":[\"2026-01-01\"],\"validFrom\":"
		      "\"2026-01-01\",\"validUntil\":\"2026-01-31\"}",
		      NULL);
	assert_int_equal(calendar_business_days_in_month(c, 2026, 1), 30);
	assert_int_equal(calendar_nth_business_day(c, 2026, 1, 30, &(int64_t){0}), 0);
	assert_int_equal(calendar_is_nth_business_day(c, D(2026, 1, 31), 30), 1);
	calendar_free(c);
}

static void test_holidays_and_extra_business_days(void **state)
{
	struct calendar *c =
	    must_json("{\"validFrom\":\"2026-05-01\",\"validUntil\":\"2026-05-31\","
		      "\"holidays\":[\"2026-05-05\",\"2026-05-24\",\"2026-05-25\",\"2026-05-05\"],"
		      "\"extraBusinessDays\":[\"2026-05-09\",\"2026-05-13\"]}",
		      NULL);
	assert_int_equal(calendar_is_business_day(c, D(2026, 5, 5)), 0);
	/* A holiday on a Sunday changes nothing; listing twice is harmless. */
	assert_int_equal(calendar_is_business_day(c, D(2026, 5, 24)), 0);
	assert_int_equal(calendar_is_business_day(c, D(2026, 5, 25)), 0);
	/* An extra business day on a Saturday; on a Wednesday it is redundant. */
	assert_int_equal(calendar_is_business_day(c, D(2026, 5, 9)), 1);
	assert_int_equal(calendar_is_business_day(c, D(2026, 5, 13)), 1);
	assert_int_equal(calendar_is_business_day(c, D(2026, 5, 10)), 0);
	/* May 2026: 21 weekdays, minus 5th and 25th, plus Saturday 9th. */
	assert_int_equal(calendar_business_days_in_month(c, 2026, 5), 20);
	calendar_free(c);
}

static void test_coverage_edges_fail_closed(void **state)
{
	struct calendar *c =
	    must_json("{\"validFrom\":\"2026-01-15\",\"validUntil\":\"2026-03-10\"}", NULL);
	int64_t out = 0;
	assert_false(calendar_covers(c, D(2026, 1, 14)));
	assert_true(calendar_covers(c, D(2026, 1, 15)));
	assert_true(calendar_covers(c, D(2026, 3, 10)));
	assert_false(calendar_covers(c, D(2026, 3, 11)));
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 14)), -ENODATA);
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 15)), 1);
	assert_int_equal(calendar_is_business_day(c, D(2026, 3, 10)), 1);
	assert_int_equal(calendar_is_business_day(c, D(2026, 3, 11)), -ENODATA);
	assert_int_equal(calendar_is_business_day(c, INT64_MIN / 2), -ENODATA);
	assert_int_equal(calendar_is_business_day(c, INT64_MAX / 2), -ENODATA);
	/* Partly covered months: only what the covered days decide. */
	assert_int_equal(calendar_nth_business_day(c, 2026, 1, 1, &out), -ENODATA);
	assert_int_equal(calendar_nth_business_day(c, 2026, 3, -1, &out), -ENODATA);
	assert_int_equal(calendar_nth_business_day(c, 2026, 2, 1, &out), 0);
	assert_int_equal(out, D(2026, 2, 2));
	assert_int_equal(calendar_business_days_in_month(c, 2026, 1), -ENODATA);
	assert_int_equal(calendar_business_days_in_month(c, 2025, 12), -ENODATA);
	assert_int_equal(calendar_is_nth_business_day(c, D(2026, 1, 20), 1), -ENODATA);
	assert_int_equal(calendar_is_nth_business_day(c, D(2026, 1, 30), -1), 1);
	assert_int_equal(calendar_is_nth_business_day(c, D(2026, 1, 29), -1), 0);
	assert_int_equal(calendar_is_nth_business_day(c, D(2026, 3, 2), 1), 1);
	assert_int_equal(calendar_is_nth_business_day(c, D(2026, 3, 2), -1), -ENODATA);
	/* Next/previous stop at the coverage. */
	assert_int_equal(calendar_next_business_day(c, D(2026, 3, 9), &out), 0);
	assert_int_equal(out, D(2026, 3, 10));
	assert_int_equal(calendar_next_business_day(c, D(2026, 3, 10), &out), -ENODATA);
	assert_int_equal(calendar_next_business_day(c, D(2026, 1, 10), &out), -ENODATA);
	assert_int_equal(calendar_next_business_day(c, D(2026, 1, 14), &out), 0);
	assert_int_equal(out, D(2026, 1, 15));
	assert_int_equal(calendar_prev_business_day(c, D(2026, 1, 15), &out), -ENODATA);
	assert_int_equal(calendar_prev_business_day(c, D(2026, 1, 16), &out), 0);
	assert_int_equal(out, D(2026, 1, 15));
	assert_int_equal(calendar_prev_business_day(c, D(2026, 3, 11), &out), 0);
	assert_int_equal(out, D(2026, 3, 10));
	assert_int_equal(calendar_prev_business_day(c, D(2026, 3, 12), &out), -ENODATA);
	calendar_free(c);
}

static void test_next_prev_across_year_and_long_runs(void **state)
{
	/* A closed stretch longer than a 64-day bitmap word. */
	struct buf j;
	buf_init(&j, BUF_UNLIMITED);
	buf_adds(&j, "{\"validFrom\":\"2025-10-01\",\"validUntil\":\"2026-06-30\",\"holidays\":[");
	for (int64_t d = D(2025, 11, 20); d <= D(2026, 2, 10); d++) {
		char s[16];
		civil_format_date(d, s, sizeof(s));
		buf_addf(&j, "%s\"%s\"", d == D(2025, 11, 20) ? "" : ",", s);
	}
	buf_adds(&j, "]}");
	struct calendar *c = must_json(buf_str(&j), NULL);
	buf_release(&j);
	int64_t out;
	assert_int_equal(calendar_next_business_day(c, D(2025, 11, 19), &out), 0);
	assert_int_equal(out, D(2026, 2, 11));
	assert_int_equal(calendar_prev_business_day(c, D(2026, 2, 11), &out), 0);
	assert_int_equal(out, D(2025, 11, 19));
	assert_int_equal(calendar_nth_business_day(c, 2025, 12, 1, &out), -ENOENT);
	assert_int_equal(calendar_business_days_in_month(c, 2025, 12), 0);
	assert_int_equal(calendar_nth_business_day(c, 2026, 2, 1, &out), 0);
	assert_int_equal(out, D(2026, 2, 11));
	calendar_free(c);
}

static void test_nth_business_day(void **state)
{
	/* February 2026 with the Seollal span 16..18 (Mon..Wed). */
	struct calendar *c =
	    must_json("{\"validFrom\":\"2026-01-01\",\"validUntil\":\"2026-12-31\","
		      "\"holidays\":[\"2026-02-16\",\"2026-02-17\",\"2026-02-18\"]}",
		      NULL);
	int64_t out;
	assert_int_equal(calendar_business_days_in_month(c, 2026, 2), 17);
	assert_int_equal(calendar_nth_business_day(c, 2026, 2, 1, &out), 0);
	assert_int_equal(out, D(2026, 2, 2));
	assert_int_equal(calendar_nth_business_day(c, 2026, 2, 11, &out), 0);
	assert_int_equal(out, D(2026, 2, 19));
	assert_int_equal(calendar_nth_business_day(c, 2026, 2, 17, &out), 0);
	assert_int_equal(out, D(2026, 2, 27));
	assert_int_equal(calendar_nth_business_day(c, 2026, 2, -1, &out), 0);
	assert_int_equal(out, D(2026, 2, 27));
	assert_int_equal(calendar_nth_business_day(c, 2026, 2, -17, &out), 0);
	assert_int_equal(out, D(2026, 2, 2));
	assert_int_equal(calendar_nth_business_day(c, 2026, 2, 18, &out), -ENOENT);
	assert_int_equal(calendar_nth_business_day(c, 2026, 2, -18, &out), -ENOENT);
	assert_int_equal(calendar_nth_business_day(c, 2026, 2, 0, &out), -EINVAL);
	assert_int_equal(calendar_nth_business_day(c, 2026, 13, 1, &out), -EINVAL);
	assert_int_equal(calendar_is_nth_business_day(c, D(2026, 2, 19), 11), 1);
	assert_int_equal(calendar_is_nth_business_day(c, D(2026, 2, 19), -7), 1);
	assert_int_equal(calendar_is_nth_business_day(c, D(2026, 2, 19), 12), 0);
	assert_int_equal(calendar_is_nth_business_day(c, D(2026, 2, 17), 11), 0);
	assert_int_equal(calendar_is_nth_business_day(c, D(2026, 2, 19), 0), 0);
	/* A 31-day month ending on a Saturday: the last business day is Friday. */
	assert_int_equal(calendar_nth_business_day(c, 2026, 10, -1, &out), 0);
	assert_int_equal(out, D(2026, 10, 30));
	calendar_free(c);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random calendars against a plain array: every query agrees. */
static void test_queries_match_brute_force(void **state)
{
	for (int round = 0; round < 40; round++) {
		int64_t from = D(2020, 1, 1) + (int64_t)(rnd() % 800);
		int64_t n = 1 + (int64_t)(rnd() % 500);
		unsigned mask = (unsigned)(rnd() % 128);
		char *truth = calloc((size_t)n, 1);
		struct calendar_builder b;
		calendar_builder_init(&b);
		calendar_builder_set_valid_from(&b, from);
		calendar_builder_set_valid_until(&b, from + n - 1);
		calendar_builder_set_weekend(&b, mask);
		for (int64_t i = 0; i < n; i++) {
			truth[i] = !(mask & (1u << civil_weekday(from + i)));
			unsigned r = (unsigned)(rnd() % 10);
			if (r == 0 && !truth[i]) {
				calendar_builder_add_extra_business_day(&b, from + i);
				truth[i] = 1;
			} else if (r == 1 && truth[i]) {
				calendar_builder_add_holiday(&b, from + i);
				truth[i] = 0;
			}
		}
		struct calendar *c;
		char err[200];
		assert_int_equal(calendar_builder_build(&b, &c, err, sizeof(err)), 0);
		calendar_builder_release(&b);
		for (int64_t day = from - 3; day < from + n + 3; day++) {
			int64_t i = day - from;
			bool in = i >= 0 && i < n;
			assert_int_equal(calendar_is_business_day(c, day),
					 in ? truth[i] : -ENODATA);
			/* next */
			int64_t want = -1, out = 0;
			if (i + 1 >= 0)
				for (int64_t k = i + 1; k < n; k++)
					if (truth[k]) {
						want = k;
						break;
					}
			int rc = calendar_next_business_day(c, day, &out);
			assert_int_equal(rc, want >= 0 ? 0 : -ENODATA);
			if (want >= 0)
				assert_int_equal(out, from + want);
			want = -1;
			if (i - 1 < n)
				for (int64_t k = i - 1; k >= 0; k--)
					if (truth[k]) {
						want = k;
						break;
					}
			rc = calendar_prev_business_day(c, day, &out);
			assert_int_equal(rc, want >= 0 ? 0 : -ENODATA);
			if (want >= 0)
				assert_int_equal(out, from + want);
			if (!in)
				continue;
			/* ranks within the month */
			int y, m, d;
			civil_ymd_from_days(day, &y, &m, &d);
			int64_t mstart = D(y, m, 1), mend = mstart + civil_days_in_month(y, m) - 1;
			int before = 0, after = 0;
			for (int64_t k = mstart; k <= day; k++)
				before += k - from >= 0 && k - from < n && truth[k - from];
			for (int64_t k = day; k <= mend; k++)
				after += k - from >= 0 && k - from < n && truth[k - from];
			bool start_known = mstart >= from, end_known = mend <= from + n - 1;
			for (int nth = 1; nth <= 3; nth++) {
				int got = calendar_is_nth_business_day(c, day, nth);
				assert_int_equal(got, start_known ? truth[i] && before == nth
								  : -ENODATA);
				got = calendar_is_nth_business_day(c, day, -nth);
				assert_int_equal(got,
						 end_known ? truth[i] && after == nth : -ENODATA);
			}
		}
		free(truth);
		calendar_free(c);
	}
}

static void test_csv_formats(void **state)
{
	/* BOM, CRLF, header, blank lines, quoted descriptions, any-case flags,
	 * blanks around fields. */
	const char *csv = "\xef\xbb\xbf"
			  "Date,Business,Description\r\n"
			  "\r\n"
			  "2026-01-01,N,\"New Year's Day, \"\"Sinjeong\"\"\"\r\n"
			  "2026-01-02 , y ,ordinary\r\n"
			  "   \t \r\n"
			  "2026-01-03,TRUE,\"a Saturday worked,\nacross a line\"\r\n"
			  "2026-01-04,False\r\n"
			  "2026-01-05,0\n"
			  "2026-01-06,1\r"
			  "2026-01-31,n"; /* no final line end */
	struct calendar *c = must_json("{\"source\":{\"configMapRef\":{\"namespace\":\"calendars\","
				       "\"name\":\"krx-table\",\"key\":\"table.csv\"}}}",
				       csv);
	assert_int_equal(calendar_first_day(c), D(2026, 1, 1));
	assert_int_equal(calendar_last_day(c), D(2026, 1, 31));
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 1)), 0);
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 2)), 1);
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 3)), 1);
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 4)), 0);
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 5)), 0);
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 6)), 1);
	/* Unlisted days follow the weekend rule. */
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 7)), 1);
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 10)), 0);
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 31)), 0);
	calendar_free(c);

	/* No header, and a quoted date; rows outside explicit bounds ignored. */
	c = must_json("{\"validFrom\":\"2026-01-01\",\"validUntil\":\"2026-01-31\"}",
		      "\"2026-01-10\",Y\n2025-12-31,N\n2026-02-01,Y\n");
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 10)), 1);
	assert_int_equal(calendar_first_day(c), D(2026, 1, 1));
	assert_int_equal(calendar_last_day(c), D(2026, 1, 31));
	calendar_free(c);
}

static void test_csv_row_errors_are_checked_everywhere(void **state)
{
	/* Rows outside the coverage are still parsed: a broken table is broken. */
	expect_json_error("{\"validFrom\":\"2026-01-01\",\"validUntil\":\"2026-01-31\"}",
			  "2026-01-10,Y\n2025-06-06,maybe\n",
			  "table.csv row 2: flag \"maybe\" is not one of Y N 1 0 true false");
}

static void test_csv_errors(void **state)
{
	expect_csv_error("date,business\n2026-01-01,Y\n\n2026-01-05,N\n\n\n2026-02-30,Y\n",
			 "table.csv row 7: \"2026-02-30\" is not a valid date");
	expect_csv_error("2026-01-01,Y\n2026-01-02,N\n2026-01-05,maybe\n",
			 "table.csv row 3: flag \"maybe\" is not one of Y N 1 0 true false");
	expect_csv_error("2026-01-01\n", "table.csv row 1: missing flag; expected "
					 "date,flag[,description]");
	expect_csv_error("2026-01-01,Y,New Year, again\n",
			 "table.csv row 1: 4 fields; expected date,flag[,description] (quote a "
			 "description that holds commas)");
	expect_csv_error("2026-01-01,Y,\"open\n2026-01-02,N\n",
			 "table.csv row 1: unterminated quoted field");
	expect_csv_error("2026-01-01,Y,\"quoted\"tail\n",
			 "table.csv row 1: unexpected character after a closing quote");
	expect_csv_error("date,flag\n2026-01-01,Y\n",
			 "table.csv row 1: a header must be date,business[,description]");
	expect_csv_error("2026-01-01,Y\ndate,business\n",
			 "table.csv row 2: \"date\" is not a valid date");
	expect_csv_error("\n\n26-01-01,Y\n", "table.csv row 3: \"26-01-01\" is not a valid date");
	expect_csv_error(",Y\n", "table.csv row 1: \"\" is not a valid date");
	expect_csv_error("2026-01-01,\n", "table.csv row 1: flag \"\" is not one of Y N 1 0 "
					  "true false");
	expect_csv_error("2026-01-01,yes\n", "table.csv row 1: flag \"yes\" is not one of Y N 1 "
					     "0 true false");
	/* A row after a multi-line quoted field is numbered by its own line. */
	expect_csv_error("2026-01-01,Y,\"two\nlines\"\r\n2026-01-02,X\n",
			 "table.csv row 3: flag \"X\" is not one of Y N 1 0 true false");
	/* Hostile bytes never reach the message raw, and are bounded. */
	expect_csv_error("\x01\x1b[31m-bad,Y\n",
			 "table.csv row 1: \"??[31m-bad\" is not a valid date");
	char longrow[200];
	memset(longrow, 'x', sizeof(longrow));
	memcpy(longrow + 150, ",Y\n", 4);
	expect_csv_error(longrow,
			 "table.csv row 1: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\" "
			 "is not a valid date");
}

static void test_csv_failed_add_leaves_builder_intact(void **state)
{
	struct calendar_builder b;
	char err[200];
	calendar_builder_init(&b);
	assert_int_equal(calendar_builder_add_csv(&b, NULL, "2026-01-01,N\n2026-01-31,N\n", 26, err,
						  sizeof(err)),
			 0);
	assert_int_equal(
	    calendar_builder_add_csv(&b, NULL, "2025-01-01,N\nbad,N\n", 19, err, sizeof(err)),
	    -EINVAL);
	assert_string_equal(err, "row 2: \"bad\" is not a valid date");
	struct calendar *c;
	assert_int_equal(calendar_builder_build(&b, &c, err, sizeof(err)), 0);
	/* The failed table's 2025 row did not stretch the coverage. */
	assert_int_equal(calendar_first_day(c), D(2026, 1, 1));
	calendar_free(c);

	static char big[CALENDAR_CSV_MAX + 1];
	assert_int_equal(calendar_builder_add_csv(&b, "t.csv", big, sizeof(big), err, sizeof(err)),
			 -EFBIG);
	assert_string_equal(err, "t.csv is 2097153 bytes; at most 2097152");
	calendar_builder_release(&b);
}

static void test_conflicts(void **state)
{
	expect_json_error("{\"validFrom\":\"2026-05-01\",\"validUntil\":\"2026-05-31\","
			  "\"holidays\":[\"2026-05-01\",\"2026-05-05\"],"
			  "\"extraBusinessDays\":[\"2026-05-05\"]}",
			  NULL,
			  "2026-05-05 is listed both as a holiday and as a business day "
			  "(holidays[1], extraBusinessDays[0])");
	expect_json_error("{}", "2026-01-01,Y\n2026-01-02,Y\n2026-01-01,n\n",
			  "2026-01-01 is listed both as a holiday and as a business day "
			  "(table.csv row 3, table.csv row 1)");
	/* A spec holiday against a CSV business day: the spec does not win. */
	expect_json_error("{\"holidays\":[\"2026-01-02\"],\"source\":{\"configMapRef\":{"
			  "\"namespace\":\"c\",\"name\":\"t\",\"key\":\"krx.csv\"}}}",
			  "2026-01-01,N\n2026-01-02,1\n",
			  "2026-01-02 is listed both as a holiday and as a business day "
			  "(holidays[0], krx.csv row 2)");
	/* Agreeing listings are fine, and conflicts outside the coverage do not
	 * matter (those days are unknown anyway). */
	struct calendar *c =
	    must_json("{\"validFrom\":\"2026-01-01\",\"validUntil\":\"2026-01-31\","
		      "\"holidays\":[\"2026-01-02\",\"2027-01-04\"],"
		      "\"extraBusinessDays\":[\"2027-01-04\"]}",
		      "2026-01-02,N\n");
	assert_int_equal(calendar_is_business_day(c, D(2026, 1, 2)), 0);
	calendar_free(c);
}

static void test_coverage_errors(void **state)
{
	expect_json_error("{\"validFrom\":\"2027-01-01\",\"validUntil\":\"2026-12-31\"}", NULL,
			  "validFrom 2027-01-01 is after validUntil 2026-12-31");
	expect_json_error("{\"validUntil\":\"2026-12-31\"}", NULL,
			  "validFrom is required when no table gives the coverage");
	expect_json_error("{\"validFrom\":\"2026-12-31\"}", NULL,
			  "validUntil is required when no table gives the coverage");
	expect_json_error("{\"validFrom\":\"1900-01-01\",\"validUntil\":\"2100-12-31\"}", NULL,
			  "coverage 1900-01-01..2100-12-31 is 73414 days; at most 36525 (100 "
			  "years)");
	/* Exactly the cap is fine; one bound from the spec, one from the table. */
	struct calendar *c =
	    must_json("{\"validFrom\":\"2000-01-01\",\"validUntil\":\"2099-12-31\"}", NULL);
	assert_int_equal(calendar_day_count(c), 36525);
	/* Month ranks agree both ways across the whole century. */
	for (int y = 2000; y <= 2099; y++) {
		for (int m = 1; m <= 12; m++) {
			int count = calendar_business_days_in_month(c, y, m);
			assert_true(count >= 20 && count <= 23);
			for (int k = 1; k <= count; k++) {
				int64_t a;
				assert_int_equal(calendar_nth_business_day(c, y, m, k, &a), 0);
				int yy, mm, dd;
				civil_ymd_from_days(a, &yy, &mm, &dd);
				assert_true(yy == y && mm == m);
				assert_int_equal(calendar_is_nth_business_day(c, a, k), 1);
				assert_int_equal(calendar_is_nth_business_day(c, a, k - count - 1),
						 1);
				assert_int_equal(calendar_is_nth_business_day(c, a, k + 1), 0);
			}
		}
	}
	calendar_free(c);
	c = must_json("{\"validFrom\":\"2026-01-01\"}", "2026-03-01,N\n2026-02-01,N\n");
	assert_int_equal(calendar_last_day(c), D(2026, 3, 1));
	calendar_free(c);
}

static void test_spec_errors(void **state)
{
	expect_json_error("[]", NULL, "spec: must be an object");
	expect_json_error("{\"timeZone\":5}", NULL, "timeZone: must be a string");
	expect_json_error("{\"timeZone\":\"\"}", NULL,
			  "timeZone must be a non-empty name of at most 255 bytes");
	expect_json_error("{\"weekendDays\":[\"SAT\",\"SATURDAY\"]}", NULL,
			  "weekendDays[1]: \"SATURDAY\" is not one of SUN MON TUE WED THU FRI SAT");
	expect_json_error("{\"weekendDays\":[6]}", NULL,
			  "weekendDays[0]: \"\" is not one of SUN MON TUE WED THU FRI SAT");
	expect_json_error("{\"weekendDays\":\"SAT\"}", NULL,
			  "weekendDays: must be a list of day names");
	expect_json_error("{\"validFrom\":\"2026-1-1\"}", NULL,
			  "validFrom: \"2026-1-1\" is not a valid date");
	expect_json_error("{\"validFrom\":\"2026-01-01\",\"validUntil\":20261231}", NULL,
			  "validUntil: must be a date string \"YYYY-MM-DD\"");
	expect_json_error("{\"holidays\":[\"2026-01-01\",\"2026-01-02\",\"2026-13-01\"]}", NULL,
			  "holidays[2]: \"2026-13-01\" is not a valid date");
	expect_json_error("{\"extraBusinessDays\":{}}", NULL,
			  "extraBusinessDays: must be a list of dates");
	expect_json_error("{\"validFrom\":\"2026-01-01\",\"validUntil\":\"2026-12-31\","
			  "\"source\":{\"configMapRef\":{\"namespace\":\"calendars\","
			  "\"name\":\"krx-table\"}}}",
			  NULL,
			  "source: the table calendars/krx-table key table.csv was not supplied");
	expect_json_error("{\"source\":{\"configMapRef\":{\"name\":\"x\"}}}", "2026-01-01,Y\n",
			  "source.configMapRef: namespace and name are required strings (key is "
			  "optional, default table.csv)");
	expect_json_error("{\"source\":{\"secretRef\":{}}}", NULL,
			  "source: must hold configMapRef {namespace, name, key}");
	/* A CSV error inside the spec path names the source key. */
	expect_json_error("{\"source\":{\"configMapRef\":{\"namespace\":\"c\",\"name\":\"t\","
			  "\"key\":\"days.csv\"}}}",
			  "2026-01-01,Y\n2026-02-29,N\n",
			  "days.csv row 2: \"2026-02-29\" is not a valid date");
}

static void test_equal(void **state)
{
	const char *base = "{\"timeZone\":\"Asia/Seoul\",\"validFrom\":\"2026-01-01\","
			   "\"validUntil\":\"2026-12-31\"";
	char j[512];
	snprintf(j, sizeof(j), "%s,\"holidays\":[\"2026-05-05\"]}", base);
	struct calendar *a = must_json(j, NULL);
	/* The same days from a table: equal. */
	snprintf(j, sizeof(j), "%s}", base);
	struct calendar *b = must_json(j, "2026-05-05,N,Children's Day\n2026-05-06,Y\n");
	assert_true(calendar_equal(a, b));
	assert_true(calendar_equal(a, a));
	calendar_free(b);
	/* One day more, another zone, a longer coverage: not equal. */
	b = must_json(j, "2026-05-05,N\n2026-05-06,N\n");
	assert_false(calendar_equal(a, b));
	calendar_free(b);
	snprintf(j, sizeof(j), "%s,\"holidays\":[\"2026-05-05\"],\"timeZone\":\"UTC\"}",
		 "{\"validFrom\":\"2026-01-01\",\"validUntil\":\"2026-12-31\"");
	b = must_json(j, NULL);
	assert_false(calendar_equal(a, b));
	calendar_free(b);
	b = must_json("{\"timeZone\":\"Asia/Seoul\",\"validFrom\":\"2026-01-01\","
		      "\"validUntil\":\"2027-01-01\",\"holidays\":[\"2026-05-05\"]}",
		      NULL);
	assert_false(calendar_equal(a, b));
	assert_false(calendar_equal(a, NULL));
	calendar_free(b);
	calendar_free(a);
}

static void test_spec_source_ref(void **state)
{
	char err[200];
	struct calendar_source_ref ref;
	cJSON *spec = cJSON_Parse("{\"source\":{\"configMapRef\":{\"namespace\":\"calendars\","
				  "\"name\":\"krx-table\"}}}");
	assert_int_equal(calendar_spec_source(spec, &ref, err, sizeof(err)), 1);
	assert_string_equal(ref.namespace_, "calendars");
	assert_string_equal(ref.name, "krx-table");
	assert_string_equal(ref.key, "table.csv");
	cJSON_Delete(spec);
	spec = cJSON_Parse("{\"holidays\":[]}");
	assert_int_equal(calendar_spec_source(spec, &ref, err, sizeof(err)), 0);
	cJSON_Delete(spec);
}

/* Ten years, every day listed (as an ETL exports it): identical to the rule. */
static void test_generated_ten_year_table(void **state)
{
	struct buf csv;
	buf_init(&csv, CALENDAR_CSV_MAX);
	buf_adds(&csv, "date,business,description\n");
	int64_t from = D(2026, 1, 1), until = D(2035, 12, 31);
	for (int64_t d = from; d <= until; d++) {
		char s[16];
		civil_format_date(d, s, sizeof(s));
		int wd = civil_weekday(d);
		bool business = wd != 0 && wd != 6 && !(d % 17 == 0);
		assert_int_equal(buf_addf(&csv, "%s,%s,\"row %lld\"\r\n", s, business ? "Y" : "N",
					  (long long)(d - from)),
				 0);
	}
	struct calendar *c = must_json("{\"timeZone\":\"Asia/Seoul\"}", buf_str(&csv));
	assert_int_equal(calendar_first_day(c), from);
	assert_int_equal(calendar_last_day(c), until);
	uint32_t count = 0;
	for (int64_t d = from; d <= until; d++) {
		int wd = civil_weekday(d);
		int want = wd != 0 && wd != 6 && !(d % 17 == 0);
		count += (uint32_t)want;
		assert_int_equal(calendar_is_business_day(c, d), want);
	}
	assert_int_equal(calendar_business_day_count(c), count);
	calendar_free(c);
	buf_release(&csv);
}

/* The examples in examples/calendars/ are real inputs: they must build, and
 * give the business-day counts worked out by hand (2026: 261 weekdays less
 * 17 weekday closures; 2027: 261 less 14). Run from the repository root. */
static cJSON *load_yaml(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (run from the repository root)", path);
	static char text[65536];
	size_t n = fread(text, 1, sizeof(text), f);
	fclose(f);
	cJSON *docs;
	struct kyaml_error ke;
	if (kyaml_parse_all(text, n, &docs, &ke))
		fail_msg("%s: %s", path, ke.message);
	return docs;
}

static const cJSON *find_kind(const cJSON *docs, const char *kind)
{
	const cJSON *d;
	cJSON_ArrayForEach(d, docs)
	{
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(d, "kind");
		if (cJSON_IsString(k) && strcmp(k->valuestring, kind) == 0)
			return d;
	}
	fail_msg("no %s", kind);
	return NULL;
}

static void test_examples_build(void **state)
{
	char err[256];
	struct calendar *c;
	cJSON *docs = load_yaml("examples/calendars/krx-2026.yaml");
	const cJSON *spec =
	    cJSON_GetObjectItemCaseSensitive(find_kind(docs, "BusinessCalendar"), "spec");
	assert_int_equal(calendar_from_spec_json(spec, NULL, 0, &c, err, sizeof(err)), 0);
	assert_string_equal(calendar_zone(c), "Asia/Seoul");
	assert_int_equal(calendar_business_day_count(c), 244 + 247);
	assert_int_equal(calendar_is_business_day(c, D(2026, 9, 28)), 0);
	assert_int_equal(calendar_is_business_day(c, D(2026, 9, 29)), 1);
	int64_t day;
	assert_int_equal(calendar_nth_business_day(c, 2026, 2, -1, &day), 0);
	assert_int_equal(day, D(2026, 2, 27));
	assert_int_equal(calendar_nth_business_day(c, 2027, 1, 1, &day), 0);
	assert_int_equal(day, D(2027, 1, 4));
	calendar_free(c);
	cJSON_Delete(docs);

	docs = load_yaml("examples/calendars/krx-table.yaml");
	spec = cJSON_GetObjectItemCaseSensitive(find_kind(docs, "BusinessCalendar"), "spec");
	struct calendar_source_ref ref;
	assert_int_equal(calendar_spec_source(spec, &ref, err, sizeof(err)), 1);
	const cJSON *cm = find_kind(docs, "ConfigMap");
	const cJSON *csv =
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cm, "data"), ref.key);
	assert_true(cJSON_IsString(csv));
	assert_int_equal(calendar_from_spec_json(spec, csv->valuestring, strlen(csv->valuestring),
						 &c, err, sizeof(err)),
			 0);
	assert_int_equal(calendar_first_day(c), D(2026, 1, 1));
	assert_int_equal(calendar_last_day(c), D(2026, 12, 31));
	assert_int_equal(calendar_business_day_count(c), 244);
	calendar_free(c);
	cJSON_Delete(docs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_weekend_and_counts),
	    cmocka_unit_test(test_custom_weekend_fri_sat),
	    cmocka_unit_test(test_holidays_and_extra_business_days),
	    cmocka_unit_test(test_coverage_edges_fail_closed),
	    cmocka_unit_test(test_next_prev_across_year_and_long_runs),
	    cmocka_unit_test(test_nth_business_day),
	    cmocka_unit_test(test_queries_match_brute_force),
	    cmocka_unit_test(test_csv_formats),
	    cmocka_unit_test(test_csv_row_errors_are_checked_everywhere),
	    cmocka_unit_test(test_csv_errors),
	    cmocka_unit_test(test_csv_failed_add_leaves_builder_intact),
	    cmocka_unit_test(test_conflicts),
	    cmocka_unit_test(test_coverage_errors),
	    cmocka_unit_test(test_spec_errors),
	    cmocka_unit_test(test_spec_source_ref),
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_generated_ten_year_table),
	    cmocka_unit_test(test_examples_build),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
