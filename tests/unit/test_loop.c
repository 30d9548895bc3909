/* Unit tests for pkg/loop: timer order, cancel/add while firing, fds,
 * signals, wall-clock timers. Nothing asserts latency: only order and that
 * things fired (a loaded CI machine must not make them flaky). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "loop/loop.h"

struct rec {
	int order[64];
	int n;
	struct loop *l;
	loop_timer_id ids[16];
};

static struct rec *g_rec;

static void rec_push(struct rec *r, int v)
{
	assert_true(r->n < 64);
	r->order[r->n++] = v;
}

/* The timer's index is recovered from its id so one callback serves all. */
static void on_timer_rec(struct loop *l, loop_timer_id id, void *ud)
{
	struct rec *r = g_rec;
	rec_push(r, (int)(intptr_t)ud);
}

static void on_timer_stop(struct loop *l, loop_timer_id id, void *ud)
{
	rec_push(g_rec, (int)(intptr_t)ud);
	loop_stop(l);
}

static int setup(void **state)
{
	struct loop *l;
	assert_int_equal(loop_new(&l), 0);
	g_rec = calloc(1, sizeof(*g_rec));
	g_rec->l = l;
	*state = l;
	return 0;
}

static int teardown(void **state)
{
	loop_free(*state);
	free(g_rec);
	g_rec = NULL;
	return 0;
}

static void test_equal_deadlines_fire_in_insertion_order(void **state)
{
	struct loop *l = *state;
	int64_t at = loop_now_monotonic_ms() + 5;
	for (int i = 0; i < 10; i++)
		loop_timer_at_monotonic(l, at, on_timer_rec, (void *)(intptr_t)i);
	loop_timer_at_monotonic(l, at - 3, on_timer_rec, (void *)(intptr_t)100);
	loop_timer_at_monotonic(l, at + 1, on_timer_stop, (void *)(intptr_t)200);
	assert_int_equal(loop_timer_count(l), 12);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(g_rec->n, 12);
	assert_int_equal(g_rec->order[0], 100);
	for (int i = 0; i < 10; i++)
		assert_int_equal(g_rec->order[i + 1], i);
	assert_int_equal(g_rec->order[11], 200);
	assert_int_equal(loop_timer_count(l), 0);
}

static void test_deadlines_sorted(void **state)
{
	struct loop *l = *state;
	int64_t base = loop_now_monotonic_ms();
	/* Inserted out of order; must come out sorted (exercises the heap). */
	static const int offs[] = {9, 3, 7, 1, 8, 2, 6, 4, 5, 0};
	for (int i = 0; i < 10; i++)
		loop_timer_at_monotonic(l, base + offs[i], on_timer_rec, (void *)(intptr_t)offs[i]);
	loop_timer_at_monotonic(l, base + 20, on_timer_stop, (void *)(intptr_t)99);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(g_rec->n, 11);
	for (int i = 0; i < 10; i++)
		assert_int_equal(g_rec->order[i], i);
}

static void on_timer_cancel_others(struct loop *l, loop_timer_id id, void *ud)
{
	rec_push(g_rec, 1);
	/* Cancel a timer due at the same instant (later in sequence) and one
	 * later; cancelling ourselves (already fired) reports -ENOENT. */
	assert_int_equal(loop_timer_cancel(l, g_rec->ids[1]), 0);
	assert_int_equal(loop_timer_cancel(l, g_rec->ids[2]), 0);
	assert_int_equal(loop_timer_cancel(l, id), -ENOENT);
	assert_int_equal(loop_timer_cancel(l, g_rec->ids[2]), -ENOENT);
	/* Added while firing, already due: must wait for the next pass but
	 * still fire. */
	loop_timer_after(l, 0, on_timer_stop, (void *)(intptr_t)4);
}

static void test_cancel_and_add_while_firing(void **state)
{
	struct loop *l = *state;
	int64_t at = loop_now_monotonic_ms() + 2;
	g_rec->ids[0] = loop_timer_at_monotonic(l, at, on_timer_cancel_others, NULL);
	g_rec->ids[1] = loop_timer_at_monotonic(l, at, on_timer_rec, (void *)(intptr_t)2);
	g_rec->ids[2] = loop_timer_at_monotonic(l, at + 3, on_timer_rec, (void *)(intptr_t)3);
	loop_timer_at_monotonic(l, at, on_timer_rec, (void *)(intptr_t)5);
	assert_int_equal(loop_run(l), 0);
	/* 1 fires, cancels 2 and 3; 5 (same deadline, earlier seq than 4)
	 * fires in the same pass; 4 (which stops the loop) in the next. No
	 * other timer exists, so no stall of this machine can change that. */
	assert_int_equal(g_rec->n, 3);
	assert_int_equal(g_rec->order[0], 1);
	assert_int_equal(g_rec->order[1], 5);
	assert_int_equal(g_rec->order[2], 4);
	assert_int_equal(loop_timer_count(l), 0);
}

static int g_respins;
static void on_timer_respin(struct loop *l, loop_timer_id id, void *ud)
{
	if (++g_respins < 100)
		loop_timer_after(l, 0, on_timer_respin, NULL);
}

static void test_zero_timer_readded_does_not_spin_one_pass(void **state)
{
	struct loop *l = *state;
	loop_timer_after(l, 0, on_timer_respin, NULL);
	/* One iteration fires it once; its replacement waits for the next. */
	assert_int_equal(loop_run_once(l, 100), 1);
	assert_int_equal(g_respins, 1);
	while (g_respins < 100)
		assert_true(loop_run_once(l, 100) >= 0);
	assert_int_equal(loop_timer_count(l), 0);
	g_respins = 0;
}

static void test_cancel_invalid_ids(void **state)
{
	struct loop *l = *state;
	assert_int_equal(loop_timer_cancel(l, 0), -ENOENT);
	assert_int_equal(loop_timer_cancel(l, 12345), -ENOENT);
	loop_timer_id a = loop_timer_after(l, 1000, on_timer_rec, NULL);
	assert_int_not_equal(a, 0);
	assert_int_equal(loop_timer_cancel(l, a), 0);
	/* The slot is reused; the old id must not cancel the new timer. */
	loop_timer_id b = loop_timer_after(l, 1000, on_timer_rec, NULL);
	assert_int_not_equal(a, b);
	assert_int_equal(loop_timer_cancel(l, a), -ENOENT);
	assert_int_equal(loop_timer_count(l), 1);
	assert_int_equal(loop_timer_cancel(l, b), 0);
	assert_int_equal(loop_timer_count(l), 0);
}

enum { MANY = 500 };
static int g_many_order[MANY];
static int g_many_n;
static void on_timer_many(struct loop *l, loop_timer_id id, void *ud)
{
	assert_true(g_many_n < MANY);
	g_many_order[g_many_n++] = (int)(intptr_t)ud;
}

static void test_many_timers_random_cancel(void **state)
{
	struct loop *l = *state;
	enum { N = MANY };
	static loop_timer_id ids[N];
	static int64_t dl[N];
	int64_t base = loop_now_monotonic_ms() + 1;
	srand(42);
	for (int i = 0; i < N; i++) {
		dl[i] = base + rand() % 20;
		ids[i] = loop_timer_at_monotonic(l, dl[i], on_timer_many, (void *)(intptr_t)i);
	}
	int live = N;
	for (int i = 0; i < N; i += 3) {
		assert_int_equal(loop_timer_cancel(l, ids[i]), 0);
		dl[i] = -1;
		live--;
	}
	assert_int_equal(loop_timer_count(l), (unsigned)live);
	g_many_n = 0;
	while (loop_timer_count(l) > 0)
		assert_true(loop_run_once(l, 50) >= 0);
	int n = g_many_n;
	const int *order = g_many_order;
	assert_int_equal(n, live);
	for (int k = 1; k < n; k++) {
		int a = order[k - 1], b = order[k];
		assert_true(dl[a] >= 0 && dl[b] >= 0);
		assert_true(dl[a] < dl[b] || (dl[a] == dl[b] && a < b));
	}
}

static void test_realtime_timer_fires_in_order(void **state)
{
	struct loop *l = *state;
	int64_t now = loop_now_realtime_ms();
	loop_timer_at_realtime(l, now + 4, on_timer_rec, (void *)(intptr_t)2);
	loop_timer_at_realtime(l, now - 1000, on_timer_rec, (void *)(intptr_t)1);
	loop_timer_at_realtime(l, now + 4, on_timer_stop, (void *)(intptr_t)3);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(g_rec->n, 3);
	assert_int_equal(g_rec->order[0], 1);
	assert_int_equal(g_rec->order[1], 2);
	assert_int_equal(g_rec->order[2], 3);
	/* Never early: the deadline had passed when it fired. */
	assert_true(loop_now_realtime_ms() >= now + 4);
}

static void test_monotonic_timer_never_early(void **state)
{
	struct loop *l = *state;
	for (int i = 0; i < 5; i++) {
		int64_t dl = loop_now_monotonic_ms() + 3;
		g_rec->n = 0;
		loop_timer_at_monotonic(l, dl, on_timer_stop, NULL);
		assert_int_equal(loop_run(l), 0);
		assert_true(loop_now_monotonic_ms() >= dl);
	}
}

struct pipe_ctx {
	int fds[2];
	char got[32];
	int reads;
	int writes;
};

static void on_readable(struct loop *l, int fd, unsigned ev, void *ud)
{
	struct pipe_ctx *p = ud;
	assert_true(ev & LOOP_READ);
	ssize_t n = read(fd, p->got + p->reads, sizeof(p->got) - 1 - (size_t)p->reads);
	assert_true(n > 0);
	p->reads += (int)n;
	if (p->reads >= 5)
		loop_stop(l);
}

static void on_writable(struct loop *l, int fd, unsigned ev, void *ud)
{
	struct pipe_ctx *p = ud;
	assert_true(ev & LOOP_WRITE);
	assert_int_equal(write(fd, "hello", 5), 5);
	p->writes++;
	/* Writable once is enough: stop asking, keep the watch. */
	assert_int_equal(loop_fd_watch(l, fd, 0, on_writable, ud), 0);
}

static void test_fd_callbacks_with_pipe(void **state)
{
	struct loop *l = *state;
	struct pipe_ctx p;
	memset(&p, 0, sizeof(p));
	assert_int_equal(pipe(p.fds), 0);
	assert_int_equal(loop_fd_watch(l, p.fds[0], LOOP_READ, on_readable, &p), 0);
	assert_int_equal(loop_fd_watch(l, p.fds[1], LOOP_WRITE, on_writable, &p), 0);
	assert_int_equal(loop_run(l), 0);
	assert_string_equal(p.got, "hello");
	assert_int_equal(p.writes, 1);
	assert_int_equal(loop_fd_unwatch(l, p.fds[0]), 0);
	assert_int_equal(loop_fd_unwatch(l, p.fds[0]), -ENOENT);
	assert_int_equal(loop_fd_unwatch(l, p.fds[1]), 0);
	close(p.fds[0]);
	close(p.fds[1]);
	assert_int_equal(loop_fd_watch(l, -1, LOOP_READ, on_readable, &p), -EBADF);
}

/* Two readable pipes in one batch: the first callback unwatches the second,
 * whose already-collected readiness must then be dropped. */
static int g_cb_count;
static void on_read_unwatch_other(struct loop *l, int fd, unsigned ev, void *ud)
{
	g_cb_count++;
	assert_int_equal(loop_fd_unwatch(l, *(int *)ud), 0);
}

static void test_unwatch_drops_pending_readiness(void **state)
{
	struct loop *l = *state;
	int a[2], b[2];
	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "y", 1), 1);
	/* Whichever runs first unwatches the other. */
	int other_of_a = b[0], other_of_b = a[0];
	assert_int_equal(loop_fd_watch(l, a[0], LOOP_READ, on_read_unwatch_other, &other_of_a), 0);
	assert_int_equal(loop_fd_watch(l, b[0], LOOP_READ, on_read_unwatch_other, &other_of_b), 0);
	g_cb_count = 0;
	assert_int_equal(loop_run_once(l, 100), 1);
	assert_int_equal(g_cb_count, 1);
	/* Exactly one of the two is still watched. */
	assert_int_equal((loop_fd_unwatch(l, a[0]) == 0) + (loop_fd_unwatch(l, b[0]) == 0), 1);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

static void on_read_count(struct loop *l, int fd, unsigned ev, void *ud)
{
	char c;
	if (read(fd, &c, 1) == 1)
		(*(int *)ud)++;
}

static void test_fd_closed_without_unwatch_can_be_watched_again(void **state)
{
	struct loop *l = *state;
	int a[2], b[2], n = 0;
	assert_int_equal(pipe(a), 0);
	assert_int_equal(loop_fd_watch(l, a[0], LOOP_READ, on_read_count, &n), 0);
	/* Closed behind the loop's back: epoll drops it silently. */
	int num = a[0];
	close(a[0]);
	close(a[1]);
	assert_int_equal(pipe(b), 0);
	assert_int_equal(b[0], num); /* the lowest free number comes back */
	assert_int_equal(loop_fd_watch(l, b[0], LOOP_READ, on_read_count, &n), 0);
	assert_int_equal(write(b[1], "z", 1), 1);
	assert_int_equal(loop_run_once(l, 1000), 1);
	assert_int_equal(n, 1);
	assert_int_equal(loop_fd_unwatch(l, b[0]), 0);
	close(b[0]);
	close(b[1]);
}

static int g_signals[4];
static void on_signal(struct loop *l, int signo, void *ud)
{
	int *n = ud;
	g_signals[(*n)++] = signo;
	if (*n == 2)
		loop_stop(l);
}

static void test_signals_delivered_as_callbacks(void **state)
{
	struct loop *l = *state;
	int n = 0;
	assert_int_equal(loop_signal_watch(l, SIGUSR1, on_signal, &n), 0);
	assert_int_equal(loop_signal_watch(l, SIGTERM, on_signal, &n), 0);
	assert_int_equal(loop_signal_watch(l, 0, on_signal, &n), -EINVAL);
	raise(SIGUSR1);
	raise(SIGTERM);
	/* A safety net so a lost signal fails the test instead of hanging. */
	loop_timer_after(l, 5000, on_timer_stop, (void *)(intptr_t)-1);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(n, 2);
	/* Standard signals are delivered in ascending number order. */
	assert_int_equal(g_signals[0], SIGUSR1);
	assert_int_equal(g_signals[1], SIGTERM);
	assert_int_equal(g_rec->n, 0);
}

static void test_signal_mask_restored_on_free(void **state)
{
	struct loop *l;
	sigset_t before, after;
	sigprocmask(SIG_SETMASK, NULL, &before);
	assert_false(sigismember(&before, SIGHUP));
	assert_int_equal(loop_new(&l), 0);
	int n = 0;
	assert_int_equal(loop_signal_watch(l, SIGHUP, on_signal, &n), 0);
	sigprocmask(SIG_SETMASK, NULL, &after);
	assert_true(sigismember(&after, SIGHUP));
	/* Pending when freed: drained, not delivered to the default handler
	 * (which would end this test program). */
	raise(SIGHUP);
	loop_free(l);
	sigprocmask(SIG_SETMASK, NULL, &after);
	assert_false(sigismember(&after, SIGHUP));
}

static int g_jumps;
static void on_jump(struct loop *l, int64_t delta, void *ud)
{
	g_jumps++;
}

static void test_clock_jump_registration_quiet_without_jump(void **state)
{
	/* Setting the system clock would disturb every other process on this
	 * machine; check only that nothing is reported when nothing happens. */
	struct loop *l = *state;
	assert_int_equal(loop_on_clock_jump(l, on_jump, NULL), 0);
	loop_timer_at_realtime(l, loop_now_realtime_ms() + 2, on_timer_stop, NULL);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(g_jumps, 0);
}

static int64_t g_jump_delta;
static unsigned g_timers_at_jump;
static void on_jump_record(struct loop *l, int64_t delta, void *ud)
{
	g_jumps++;
	g_jump_delta = delta;
	g_timers_at_jump = loop_timer_count(l);
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Sets CLOCK_REALTIME to what it already reads (carried forward by the
 * monotonic time the call takes), so the kernel reports a clock set while
 * the time itself moves by well under a microsecond. Needs CAP_SYS_TIME;
 * skipped without it. */
static void test_clock_set_is_reported(void **state)
{
	struct loop *l = *state;
	g_jumps = 0;
	assert_int_equal(loop_on_clock_jump(l, on_jump_record, NULL), 0);
	/* A registration removed again is not called (a freed owner). */
	assert_int_equal(loop_on_clock_jump(l, on_jump_record, &g_jumps), 0);
	loop_off_clock_jump(l, on_jump_record, &g_jumps);
	/* A wall-clock timer far enough ahead to be pending at the jump. */
	loop_timer_at_realtime(l, loop_now_realtime_ms() + 60000, on_timer_rec, NULL);
	assert_int_equal(loop_run_once(l, 0), 0); /* arms the timerfds */
	struct timespec r, m0, m1;
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m0);
	clock_gettime(CLOCK_MONOTONIC, &m1);
	int64_t set = ts_ns(&r) + (ts_ns(&m1) - ts_ns(&m0));
	r.tv_sec = set / 1000000000;
	r.tv_nsec = set % 1000000000;
	if (clock_settime(CLOCK_REALTIME, &r) != 0) {
		skip();
		return;
	}
	for (int i = 0; i < 50 && g_jumps == 0; i++)
		assert_true(loop_run_once(l, 100) >= 0);
	assert_int_equal(g_jumps, 1);
	assert_true(g_jump_delta > -1000 && g_jump_delta < 1000);
	/* The timer survived the jump with its absolute deadline. */
	assert_int_equal(g_timers_at_jump, 1);
	assert_int_equal(loop_timer_count(l), 1);
	assert_int_equal(g_rec->n, 0);
	/* No second report without a second set. */
	assert_int_equal(loop_run_once(l, 20), 0);
	assert_int_equal(g_jumps, 1);
}

static void test_run_once_times_out(void **state)
{
	struct loop *l = *state;
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(loop_run_once(l, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_equal_deadlines_fire_in_insertion_order, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_deadlines_sorted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_and_add_while_firing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_timer_readded_does_not_spin_one_pass, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_invalid_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_timers_random_cancel, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_realtime_timer_fires_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_monotonic_timer_never_early, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fd_callbacks_with_pipe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unwatch_drops_pending_readiness, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fd_closed_without_unwatch_can_be_watched_again,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_signals_delivered_as_callbacks, setup, teardown),
	    cmocka_unit_test(test_signal_mask_restored_on_free),
	    cmocka_unit_test_setup_teardown(test_clock_jump_registration_quiet_without_jump, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_clock_set_is_reported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_run_once_times_out, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
