/* Per-call cost of the pkg/tz queries the cron engine runs in its loops.
 * Prints one line per (zone, query, era): nanoseconds per call. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tz/civil.h"
#include "tz/tz.h"

#define CALLS 4000000

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile int64_t sink;

static void bench_zone(const char *name)
{
	struct tz *z;
	char err[256];
	if (tz_load(name, &z, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	static const struct {
		const char *label;
		int year;
	} eras[] = {{"2026", 2026}, {"2100", 2100}, {"3000", 3000}};
	for (size_t e = 0; e < sizeof(eras) / sizeof(eras[0]); e++) {
		struct civil_time t0 = {eras[e].year, 1, 1, 0, 0, 0};
		int64_t base = civil_to_seconds(&t0);
		/* A stride through the whole year so the search is not always
		 * answered from the same cache lines. */
		const int64_t stride = 7919;
		int64_t acc = 0;

		double t = now_ns();
		for (int64_t i = 0; i < CALLS; i++)
			acc += tz_utc_to_local(z, base + (i * stride) % 31536000);
		double utc_to_local = (now_ns() - t) / CALLS;

		t = now_ns();
		for (int64_t i = 0; i < CALLS; i++) {
			struct tz_mapping m;
			tz_local_to_utc(z, base + (i * stride) % 31536000, &m);
			acc += m.utc[0] + m.kind;
		}
		double local_to_utc = (now_ns() - t) / CALLS;

		t = now_ns();
		for (int64_t i = 0; i < CALLS; i++)
			acc += tz_next_transition(z, base + (i * stride) % 31536000);
		double next = (now_ns() - t) / CALLS;
		sink = acc;
		printf("tz %-20s %s  utc_to_local %5.1f ns  local_to_utc %5.1f ns  "
		       "next_transition %5.1f ns\n",
		       name, eras[e].label, utc_to_local, local_to_utc, next);
	}
	tz_free(z);
}

int main(void)
{
	const char *zones[] = {"UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Seoul"};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		bench_zone(zones[i]);

	double t = now_ns();
	struct tz *z;
	char err[256];
	for (int i = 0; i < 2000; i++) {
		if (tz_load("America/New_York", &z, err, sizeof(err)) != 0)
			return 1;
		tz_free(z);
	}
	printf("tz_load America/New_York %.1f us\n", (now_ns() - t) / 2000 / 1000);
	return 0;
}
