/* How late do loop timers fire? Arms N monotonic and N wall-clock timers,
 * one at a time at a few ms ahead, and prints the lateness distribution in
 * microseconds (callback time minus deadline). The loop never fires early;
 * the target is well under 1 ms. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "loop/loop.h"

#define N 300

static int64_t g_late_us[N];
static int g_n;
static int64_t g_deadline_ns;
static int g_realtime;

static void on_fire(struct loop *l, loop_timer_id id, void *ud)
{
	int64_t now = g_realtime ? loop_now_realtime_ns() : loop_now_monotonic_ns();
	g_late_us[g_n++] = (now - g_deadline_ns) / 1000;
	loop_stop(l);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void run(struct loop *l, int realtime)
{
	g_realtime = realtime;
	g_n = 0;
	for (int i = 0; i < N; i++) {
		int64_t ahead = 1 + i % 7;
		if (realtime) {
			int64_t at = loop_now_realtime_ms() + ahead;
			g_deadline_ns = at * 1000000;
			loop_timer_at_realtime(l, at, on_fire, NULL);
		} else {
			int64_t at = loop_now_monotonic_ms() + ahead;
			g_deadline_ns = at * 1000000;
			loop_timer_at_monotonic(l, at, on_fire, NULL);
		}
		loop_run(l);
	}
	qsort(g_late_us, N, sizeof(g_late_us[0]), cmp64);
	printf("loop %s timers: n=%d lateness_us min=%lld p50=%lld p90=%lld p99=%lld max=%lld\n",
	       realtime ? "wall-clock" : "monotonic", N, (long long)g_late_us[0],
	       (long long)g_late_us[N / 2], (long long)g_late_us[N * 9 / 10],
	       (long long)g_late_us[N * 99 / 100], (long long)g_late_us[N - 1]);
}

int main(void)
{
	struct loop *l;
	if (loop_new(&l) < 0)
		return 1;
	run(l, 0);
	run(l, 1);
	loop_free(l);
	return 0;
}
