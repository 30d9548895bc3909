/* Cost of the business-day table and the calendar rules:
 *   - building a 10-year table (every day listed, as an ETL exports it) from
 *     CSV: median microseconds of whole builds;
 *   - calendar_is_business_day, calendar_is_nth_business_day,
 *     calendar_nth_business_day, calendar_next_business_day: nanoseconds
 *     per query over seeded random days (a loop of many, so the timer's
 *     cost is spread);
 *   - calsched_next for a few schedules in Asia/Seoul and America/New_York:
 *     nanoseconds per call, walking forward fire by fire.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "calendar/calendar.h"
#include "calendar/calsched.h"
#include "cron/cron.h"
#include "tz/civil.h"
#include "tz/tz.h"

#define QUERIES 4000000
#define BUILDS	200

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint32_t xs = 2463534242u;
static uint32_t rnd(void)
{
	xs ^= xs << 13;
	xs ^= xs >> 17;
	xs ^= xs << 5;
	return xs;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static struct calendar *build_ten_years(struct buf *csv)
{
	struct calendar_builder b;
	struct calendar *c;
	char err[256];
	calendar_builder_init(&b);
	if (calendar_builder_add_csv(&b, "table.csv", csv->data, csv->len, err, sizeof(err)) ||
	    calendar_builder_build(&b, &c, err, sizeof(err))) {
		fprintf(stderr, "bench_calendar: %s\n", err);
		exit(1);
	}
	calendar_builder_release(&b);
	return c;
}

/* Keeps the compiler from dropping the query loops. */
static volatile int64_t sink;

int main(void)
{
	int64_t from = civil_days_from_ymd(2026, 1, 1), until = civil_days_from_ymd(2035, 12, 31);
	struct buf csv;
	buf_init(&csv, CALENDAR_CSV_MAX);
	buf_adds(&csv, "date,business,description\n");
	for (int64_t d = from; d <= until; d++) {
		char s[16];
		civil_format_date(d, s, sizeof(s));
		int wd = civil_weekday(d);
		int business = wd != 0 && wd != 6 && rnd() % 25 != 0;
		buf_addf(&csv, "%s,%s,%s\n", s, business ? "Y" : "N",
			 business ? "" : "\"holiday, closed\"");
	}

	double t[BUILDS];
	for (int i = 0; i < BUILDS; i++) {
		double t0 = now_ns();
		struct calendar *c = build_ten_years(&csv);
		t[i] = now_ns() - t0;
		calendar_free(c);
	}
	qsort(t, BUILDS, sizeof(t[0]), cmp_double);
	printf("build 10-year table from CSV (%zu bytes, %lld rows): median %.1f us, p99 %.1f "
	       "us\n",
	       csv.len, (long long)(until - from + 1), t[BUILDS / 2] / 1e3,
	       t[BUILDS * 99 / 100] / 1e3);

	struct calendar *c = build_ten_years(&csv);
	int64_t span = until - from + 1;
	int64_t *days = malloc(sizeof(int64_t) * 4096);
	for (int i = 0; i < 4096; i++)
		days[i] = from + (int64_t)(rnd() % (uint32_t)span);

	double t0 = now_ns();
	int64_t acc = 0;
	for (int i = 0; i < QUERIES; i++)
		acc += calendar_is_business_day(c, days[i & 4095]);
	double per = (now_ns() - t0) / QUERIES;
	sink = acc;
	printf("calendar_is_business_day:        %6.1f ns/query\n", per);

	t0 = now_ns();
	for (int i = 0; i < QUERIES; i++)
		acc += calendar_is_nth_business_day(c, days[i & 4095], (i & 1) ? 1 : -1);
	per = (now_ns() - t0) / QUERIES;
	sink = acc;
	printf("calendar_is_nth_business_day:    %6.1f ns/query\n", per);

	t0 = now_ns();
	for (int i = 0; i < QUERIES; i++) {
		int64_t out = 0;
		calendar_nth_business_day(c, 2026 + (i & 7), 1 + (i % 12), (i & 1) ? 5 : -3, &out);
		acc += out;
	}
	per = (now_ns() - t0) / QUERIES;
	sink = acc;
	printf("calendar_nth_business_day:       %6.1f ns/query\n", per);

	t0 = now_ns();
	for (int i = 0; i < QUERIES; i++) {
		int64_t out = 0;
		calendar_next_business_day(c, days[i & 4095], &out);
		acc += out;
	}
	per = (now_ns() - t0) / QUERIES;
	sink = acc;
	printf("calendar_next_business_day:      %6.1f ns/query\n", per);

	static const struct {
		const char *expr, *zone, *bdom;
		enum calsched_shift shift;
	} sched[] = {
	    {"0 9 * * *", "Asia/Seoul", NULL, CALSCHED_SKIP},
	    {"*/5 * 9-15 * * *", "Asia/Seoul", NULL, CALSCHED_SKIP},
	    {"0 9 * * SAT", "Asia/Seoul", NULL, CALSCHED_NEXT_BUSINESS_DAY},
	    {"0 18 L * *", "Asia/Seoul", NULL, CALSCHED_PREVIOUS_BUSINESS_DAY},
	    {"30 2 * * *", "America/New_York", "1,-1", CALSCHED_NEXT_BUSINESS_DAY},
	    {"*/10 * * * * *", "America/New_York", NULL, CALSCHED_NEXT_BUSINESS_DAY},
	};
	for (size_t s = 0; s < sizeof(sched) / sizeof(sched[0]); s++) {
		struct cron_expr *e;
		struct tz *z;
		char err[256];
		if (cron_parse(sched[s].expr, &e, err, sizeof(err)) ||
		    tz_load(sched[s].zone, &z, err, sizeof(err))) {
			fprintf(stderr, "bench_calendar: %s\n", err);
			return 1;
		}
		struct calsched_rules r;
		calsched_rules_init(&r);
		r.shift = sched[s].shift;
		if (sched[s].bdom)
			calsched_parse_bdom_list(sched[s].bdom, &r, err, sizeof(err));
		int64_t after = from * 86400;
		int calls = 0;
		t0 = now_ns();
		while (calls < 20000) {
			struct calsched_result res;
			if (calsched_next(e, z, c, &r, after, &res) != 0)
				after = from * 86400; /* coverage end: start over */
			else
				after = res.at;
			calls++;
		}
		per = (now_ns() - t0) / calls;
		printf("calsched_next %-18s %-17s %-5s %-20s %8.1f ns/call\n", sched[s].expr,
		       sched[s].zone, sched[s].bdom ? sched[s].bdom : "-",
		       sched[s].shift == CALSCHED_SKIP		      ? "Skip"
		       : sched[s].shift == CALSCHED_NEXT_BUSINESS_DAY ? "NextBusinessDay"
								      : "PreviousBusinessDay",
		       per);
		cron_free(e);
		tz_free(z);
	}
	free(days);
	calendar_free(c);
	buf_release(&csv);
	return 0;
}
