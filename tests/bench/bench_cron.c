/* Cost of cron_parse and cron_next per call over a mix of expressions and
 * zones: median and p99 of individually timed calls, the timer's own cost
 * subtracted. The instants are seeded (xorshift32, the same sequence as
 * tests/bench/cron_croner.js), spread over 2020-2035.
 *   bench_cron          a table
 *   bench_cron --tsv    expr TAB zone TAB parse_med TAB next_med TAB next_p99 (ns)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron/cron.h"
#include "tz/tz.h"

#define CALLS	    20000
#define PARSE_CALLS 5000

static const struct {
	const char *expr;
	const char *zone;
} CASES[] = {
    {"* * * * * *", "UTC"},
    {"*/5 * * * * *", "America/New_York"},
    {"*/15 * 9-17 * * MON-FRI", "Europe/Berlin"},
    {"0 */5 * * * *", "Asia/Seoul"},
    {"30 2 * * *", "America/New_York"},
    {"0 0 12 * * MON-FRI", "Australia/Sydney"},
    {"0 0 9 LW * *", "Asia/Kathmandu"},
    {"0 0 0 ? * FRI#3", "Europe/London"},
    {"0 0 0 1 1 *", "UTC"},
    {"0 0 0 29 2 *", "America/New_York"},
    {"0 0 0 29 2 MON", "UTC"},
    {"0 0 0 ? 2 MON#5", "Pacific/Chatham"},
    /* Not fixed-time: walks the spans between DST transitions. */
    {"0 */30 0 29 2 *", "America/New_York"},
    {"0 0 1-2 ? 2 MON#5", "Europe/Berlin"},
    {"@hourly", "Australia/Lord_Howe"},
    {"@every 90s", "UTC"},
};

static uint32_t xs_state;
static uint32_t xorshift32(void)
{
	uint32_t x = xs_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return xs_state = x;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int64_t pct(int64_t *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	return v[(size_t)(p * (double)(n - 1))];
}

static int64_t timer_cost(int64_t *buf)
{
	for (int i = 0; i < CALLS; i++) {
		int64_t a = now_ns();
		buf[i] = now_ns() - a;
	}
	return pct(buf, CALLS, 0.5);
}

int main(int argc, char **argv)
{
	bool tsv = argc > 1 && !strcmp(argv[1], "--tsv");
	int64_t *d = malloc(sizeof(*d) * CALLS);
	int64_t *at = malloc(sizeof(*at) * CALLS);
	if (!d || !at)
		return 1;
	int64_t overhead = timer_cost(d);
	volatile int64_t sink = 0;
	if (!tsv)
		printf("%-26s %-20s %10s %10s %10s  (ns per call, timer cost %lld ns subtracted)\n",
		       "expression", "zone", "parse p50", "next p50", "next p99",
		       (long long)overhead);
	for (size_t c = 0; c < sizeof(CASES) / sizeof(CASES[0]); c++) {
		char err[256];
		struct tz *z;
		struct cron_expr *e;
		if (tz_load(CASES[c].zone, &z, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		for (int i = 0; i < PARSE_CALLS; i++) {
			int64_t a = now_ns();
			if (cron_parse(CASES[c].expr, &e, err, sizeof(err)))
				return 1;
			d[i] = now_ns() - a - overhead;
			cron_free(e);
		}
		int64_t parse_med = pct(d, PARSE_CALLS, 0.5);
		cron_parse(CASES[c].expr, &e, err, sizeof(err));
		xs_state = 2463534242u;
		for (int i = 0; i < CALLS; i++)
			at[i] = 1577836800 + (int64_t)(xorshift32() % 473040000u);
		for (int i = 0; i < CALLS; i++) {
			int64_t next = 0;
			int64_t a = now_ns();
			cron_next(e, z, at[i], &next);
			d[i] = now_ns() - a - overhead;
			sink += next;
		}
		int64_t p50 = pct(d, CALLS, 0.5), p99 = pct(d, CALLS, 0.99);
		if (tsv)
			printf("%s\t%s\t%lld\t%lld\t%lld\n", CASES[c].expr, CASES[c].zone,
			       (long long)parse_med, (long long)p50, (long long)p99);
		else
			printf("%-26s %-20s %10lld %10lld %10lld\n", CASES[c].expr, CASES[c].zone,
			       (long long)parse_med, (long long)p50, (long long)p99);
		cron_free(e);
		tz_free(z);
	}
	free(d);
	free(at);
	return sink == 42;
}
