/* Cost of a calendar edit for the controller: the BusinessCalendar rebuilt
 * (calendars_build: the spec parsed, the table and the zone loaded) and
 * then 1,000 schedules that use it re-planned (plan_compute, as the
 * reconciler calls it, plus the status comparison that decides whether a
 * status write is needed), with the edited calendar.
 *
 * The edit makes today (Tuesday 2026-03-03, Seoul) a holiday at 10:00
 * local, so every schedule's next fire moves. The schedules mix the
 * patterns users write: every second, every 5 s in market hours, daily
 * 09:00 with NextBusinessDay, the first and last business day, @every 10s.
 * Each has a status from a decision one second earlier with the old
 * calendar. Prints median microseconds of ROUNDS rounds: total and per
 * schedule.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "controller/calendars.h"
#include "controller/planner.h"
#include "controller/spec.h"
#include "tz/civil.h"

#define SCHEDULES 1000
#define ROUNDS	  21

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static const char *const PATTERNS[] = {
    "\"schedule\":\"* * * * * *\",\"calendar\":{\"name\":\"krx\"}",
    "\"schedule\":\"*/5 * 9-14 * * *\",\"calendar\":{\"name\":\"krx\"}",
    "\"schedule\":\"0 9 * * *\",\"calendar\":{\"name\":\"krx\","
    "\"onNonBusinessDay\":\"NextBusinessDay\"}",
    "\"schedule\":\"0 9 * * *\",\"calendar\":{\"name\":\"krx\","
    "\"businessDayOfMonth\":[1,-1]}",
    "\"schedule\":\"@every 10s\",\"calendar\":{\"name\":\"krx\"}",
};

/* The krx calendar of 2026-2027 (examples/calendars/krx-2026.yaml, in
 * short), with or without the edit. */
static cJSON *krx(bool edited)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"name\":\"krx\",\"generation\":%d},\"spec\":{"
		 "\"timeZone\":\"Asia/Seoul\",\"validFrom\":\"2026-01-01\","
		 "\"validUntil\":\"2027-12-31\",\"holidays\":[\"2026-01-01\",\"2026-02-16\","
		 "\"2026-02-17\",\"2026-02-18\",\"2026-03-02\",%s\"2026-05-01\",\"2026-05-05\","
		 "\"2026-05-25\",\"2026-06-03\",\"2026-08-17\",\"2026-09-24\",\"2026-09-25\","
		 "\"2026-09-28\",\"2026-10-05\",\"2026-10-09\",\"2026-12-25\",\"2026-12-31\"]}}",
		 edited ? 2 : 1, edited ? "\"2026-03-03\"," : "");
	return cJSON_Parse(text);
}

static struct calendars_built build(bool edited)
{
	cJSON *obj = krx(edited);
	struct calendars_built b;
	calendars_build(obj, NULL, &b);
	cJSON_Delete(obj);
	if (b.state != PLAN_CALENDAR_OK) {
		fprintf(stderr, "bench_replan: %s\n", b.error);
		exit(1);
	}
	return b;
}

struct sched {
	cJSON *obj;
	struct spec spec;
	struct spec_status status; /* persisted, before the edit */
};

static void plan_one(const struct sched *s, const struct calendars_built *b, int64_t now,
		     struct plan *p)
{
	struct plan_input in = {
	    .spec = &s->spec,
	    .status = &s->status,
	    .calendar_state = PLAN_CALENDAR_OK,
	    .calendar = b->cal,
	    .calendar_zone = b->zone,
	    .now = now,
	};
	if (plan_compute(&in, p)) {
		fprintf(stderr, "bench_replan: plan_compute failed\n");
		exit(1);
	}
}

int main(void)
{
	static struct sched scheds[SCHEDULES];
	char text[2048], err[256];
	int64_t now;
	if (rfc3339_parse("2026-03-03T01:00:00Z", &now)) /* 10:00 in Seoul */
		return 1;

	double tb[ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_us();
		struct calendars_built b = build(true);
		tb[r] = now_us() - t0;
		calendars_built_release(&b);
	}
	struct calendars_built old = build(false), edited = build(true);

	struct plan p;
	plan_init(&p);
	for (int i = 0; i < SCHEDULES; i++) {
		struct sched *s = &scheds[i];
		snprintf(text, sizeof(text),
			 "{\"metadata\":{\"name\":\"bs-%d\",\"namespace\":\"ns\",\"uid\":\"u-%d\","
			 "\"generation\":1},\"spec\":{%s,\"concurrencyPolicy\":\"Allow\","
			 "\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"containers\":"
			 "[{\"name\":\"c\",\"image\":\"x\"}]}}}}}}",
			 i, i, PATTERNS[i % (int)(sizeof(PATTERNS) / sizeof(PATTERNS[0]))]);
		s->obj = cJSON_Parse(text);
		spec_init(&s->spec);
		if (spec_parse(s->obj, &s->spec, err, sizeof(err))) {
			fprintf(stderr, "bench_replan: %s\n", err);
			return 1;
		}
		spec_status_init(&s->status);
		/* The decision one second before, with the old calendar. */
		plan_one(s, &old, now - 1000, &p);
		spec_status_copy(&s->status, &p.status);
	}

	double tp[ROUNDS], tw[ROUNDS];
	int moved = 0;
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_us();
		for (int i = 0; i < SCHEDULES; i++)
			plan_one(&scheds[i], &edited, now, &p);
		tp[r] = now_us() - t0;
		/* With what the reconciler does next: is a status write due? */
		moved = 0;
		t0 = now_us();
		for (int i = 0; i < SCHEDULES; i++) {
			plan_one(&scheds[i], &edited, now, &p);
			cJSON *a = spec_status_to_json(&scheds[i].status);
			cJSON *c = spec_status_to_json(&p.status);
			moved += !cJSON_Compare(a, c, 1);
			cJSON_Delete(a);
			cJSON_Delete(c);
		}
		tw[r] = now_us() - t0;
	}
	double mb = median(tb, ROUNDS), mp = median(tp, ROUNDS), mw = median(tw, ROUNDS);
	printf("replan: calendar rebuilt (krx 2026-2027, zone loaded)   %9.1f us\n", mb);
	printf("replan: %d schedules re-planned                       %9.1f us total, "
	       "%6.2f us per schedule\n",
	       SCHEDULES, mp, mp / SCHEDULES);
	printf("replan: %d schedules re-planned + status compared     %9.1f us total, "
	       "%6.2f us per schedule (%d statuses changed)\n",
	       SCHEDULES, mw, mw / SCHEDULES, moved);

	plan_release(&p);
	for (int i = 0; i < SCHEDULES; i++) {
		spec_status_release(&scheds[i].status);
		spec_release(&scheds[i].spec);
		cJSON_Delete(scheds[i].obj);
	}
	calendars_built_release(&old);
	calendars_built_release(&edited);
	return 0;
}
