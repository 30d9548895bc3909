/* Unit tests for pkg/kube/workqueue, with a hand-driven clock, and once on
 * the real event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/workqueue.h"
#include "loop/loop.h"

struct fake_clock {
	int64_t now;
	int64_t armed;
	int kicks;
};

static int64_t fake_now(void *ctx)
{
	return ((struct fake_clock *)ctx)->now;
}

static void fake_arm(void *ctx, int64_t deadline)
{
	((struct fake_clock *)ctx)->armed = deadline;
}

static void fake_kick(void *ctx)
{
	((struct fake_clock *)ctx)->kicks++;
}

static struct wq *fake_queue(struct fake_clock *c, int64_t base, int64_t max)
{
	memset(c, 0, sizeof(*c));
	c->now = 1000;
	c->armed = INT64_MAX;
	struct wq_clock clk = {fake_now, fake_arm, fake_kick, c};
	struct wq_opts o = {base, max};
	return wq_new(&o, &clk);
}

/* Advances the fake clock and runs the tick the queue asked for, as a loop
 * timer would. */
static void advance(struct wq *q, struct fake_clock *c, int64_t ms)
{
	c->now += ms;
	if (c->armed <= c->now)
		wq_tick(q);
}

static void test_wq_dedup_and_fifo(void **state)
{
	struct fake_clock c;
	struct wq *q = fake_queue(&c, 10, 1000);
	wq_add(q, "ns/a");
	wq_add(q, "ns/b");
	wq_add(q, "ns/a");
	assert_int_equal(wq_len(q), 2);
	assert_int_equal(c.kicks, 1); /* empty -> non-empty only */
	assert_string_equal(wq_get(q), "ns/a");
	assert_string_equal(wq_get(q), "ns/b");
	assert_null(wq_get(q));
	wq_done(q, "ns/a");
	wq_done(q, "ns/b");
	assert_null(wq_get(q));
	wq_free(q);
}

static void test_wq_add_while_processing_requeues_after_done(void **state)
{
	struct fake_clock c;
	struct wq *q = fake_queue(&c, 10, 1000);
	wq_add(q, "k");
	const char *k = wq_get(q);
	assert_string_equal(k, "k");
	assert_true(wq_is_processing(q, "k"));
	wq_add(q, "k");
	wq_add(q, "k");
	/* Never handed out twice at once. */
	assert_int_equal(wq_len(q), 0);
	assert_null(wq_get(q));
	wq_done(q, k);
	assert_int_equal(wq_len(q), 1);
	assert_string_equal(wq_get(q), "k");
	wq_done(q, "k");
	assert_false(wq_is_processing(q, "k"));
	assert_null(wq_get(q));
	wq_free(q);
}

/* wq_take: a due slot's key jumps the FIFO, the others keep their order,
 * and a key being processed is never handed out twice. */
static void test_wq_take_jumps_the_queue(void **state)
{
	struct fake_clock c;
	struct wq *q = fake_queue(&c, 10, 1000);
	wq_add(q, "a");
	wq_add(q, "b");
	wq_add(q, "c");
	/* Queued in the middle: taken out of the FIFO. */
	const char *k = wq_take(q, "b");
	assert_non_null(k);
	assert_string_equal(k, "b");
	assert_true(wq_is_processing(q, "b"));
	assert_int_equal(wq_len(q), 2);
	/* Not queued at all: taken as well. */
	assert_string_equal(wq_take(q, "d"), "d");
	/* Being processed: refused, and queued again at done. */
	assert_null(wq_take(q, "b"));
	assert_null(wq_take(q, "d"));
	assert_int_equal(wq_len(q), 2);
	assert_string_equal(wq_get(q), "a");
	assert_string_equal(wq_get(q), "c");
	assert_null(wq_get(q));
	wq_done(q, "b");
	wq_done(q, "d");
	assert_int_equal(wq_len(q), 2);
	assert_string_equal(wq_get(q), "b");
	assert_string_equal(wq_get(q), "d");
	wq_done(q, "a");
	wq_done(q, "b");
	wq_done(q, "c");
	wq_done(q, "d");
	/* The last queued key and the first: the ring's ends. */
	wq_add(q, "x");
	wq_add(q, "y");
	assert_string_equal(wq_take(q, "y"), "y");
	assert_string_equal(wq_take(q, "x"), "x");
	assert_int_equal(wq_len(q), 0);
	assert_null(wq_get(q));
	wq_done(q, "x");
	wq_done(q, "y");
	/* A pending delayed add survives a take and fires later. */
	wq_add_after(q, "z", 100);
	assert_string_equal(wq_take(q, "z"), "z");
	wq_done(q, "z");
	assert_int_equal(wq_delayed(q), 1);
	advance(q, &c, 100);
	assert_string_equal(wq_get(q), "z");
	wq_done(q, "z");
	wq_free(q);
}

static void test_wq_add_after_earliest_deadline_wins(void **state)
{
	struct fake_clock c;
	struct wq *q = fake_queue(&c, 10, 1000);
	wq_add_after(q, "k", 500);
	assert_int_equal(c.armed, 1500);
	wq_add_after(q, "k", 100);
	assert_int_equal(c.armed, 1100);
	wq_add_after(q, "k", 300); /* later than pending: ignored */
	assert_int_equal(c.armed, 1100);
	assert_int_equal(wq_delayed(q), 1);
	wq_add_after(q, "other", 200);
	advance(q, &c, 99);
	assert_null(wq_get(q));
	advance(q, &c, 1);
	assert_int_equal(wq_delayed(q), 1);
	assert_int_equal(c.armed, 1200);
	assert_string_equal(wq_get(q), "k");
	wq_done(q, "k");
	advance(q, &c, 100);
	assert_string_equal(wq_get(q), "other");
	wq_done(q, "other");
	assert_int_equal(c.armed, INT64_MAX);
	assert_int_equal(wq_delayed(q), 0);
	/* A zero delay is an immediate add. */
	wq_add_after(q, "now", 0);
	assert_string_equal(wq_get(q), "now");
	wq_done(q, "now");
	wq_free(q);
}

static void test_wq_delayed_add_dedups_with_immediate(void **state)
{
	struct fake_clock c;
	struct wq *q = fake_queue(&c, 10, 1000);
	wq_add_after(q, "k", 50);
	wq_add(q, "k");
	advance(q, &c, 50);
	assert_int_equal(wq_len(q), 1);
	assert_string_equal(wq_get(q), "k");
	assert_null(wq_get(q));
	wq_done(q, "k");
	assert_null(wq_get(q));
	wq_free(q);
}

static void test_wq_backoff_doubles_caps_and_resets(void **state)
{
	struct fake_clock c;
	struct wq *q = fake_queue(&c, 10, 70);
	int64_t expect[] = {10, 20, 40, 70, 70};
	for (size_t i = 0; i < 5; i++) {
		int64_t start = c.now;
		wq_add_rate_limited(q, "k");
		assert_int_equal(wq_requeues(q, "k"), i + 1);
		assert_int_equal(c.armed - start, expect[i]);
		advance(q, &c, expect[i] - 1);
		assert_null(wq_get(q));
		advance(q, &c, 1);
		assert_string_equal(wq_get(q), "k");
		wq_done(q, "k");
	}
	wq_forget(q, "k");
	assert_int_equal(wq_requeues(q, "k"), 0);
	int64_t start = c.now;
	wq_add_rate_limited(q, "k");
	assert_int_equal(c.armed - start, 10);
	wq_free(q); /* frees the pending delayed key */
}

struct drain {
	struct wq *q;
	char seen[8][16];
	int n;
	struct loop *l;
	int stop_after;
};

static void on_ready(struct wq *q, void *ud)
{
	struct drain *d = ud;
	const char *k;
	while ((k = wq_get(q)) != NULL) {
		if (d->n < 8)
			snprintf(d->seen[d->n++], sizeof(d->seen[0]), "%s", k);
		wq_done(q, k);
	}
	if (d->n >= d->stop_after)
		loop_stop(d->l);
}

static void test_wq_on_real_loop(void **state)
{
	struct loop *l;
	assert_int_equal(loop_new(&l), 0);
	struct drain d = {.l = l, .stop_after = 3};
	struct wq *q = wq_new_loop(l, NULL, on_ready, &d);
	d.q = q;
	int64_t t0 = loop_now_monotonic_ms();
	wq_add_after(q, "late", 30);
	wq_add(q, "a");
	wq_add(q, "a");
	wq_add(q, "b");
	/* Nothing runs inside wq_add: the drain comes from the loop. */
	assert_int_equal(d.n, 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(d.n, 3);
	assert_string_equal(d.seen[0], "a");
	assert_string_equal(d.seen[1], "b");
	assert_string_equal(d.seen[2], "late");
	assert_true(loop_now_monotonic_ms() - t0 >= 30);
	wq_add_after(q, "pending", 10000);
	wq_free(q); /* cancels its timer */
	assert_int_equal(loop_timer_count(l), 0);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wq_dedup_and_fifo),
	    cmocka_unit_test(test_wq_add_while_processing_requeues_after_done),
	    cmocka_unit_test(test_wq_take_jumps_the_queue),
	    cmocka_unit_test(test_wq_add_after_earliest_deadline_wins),
	    cmocka_unit_test(test_wq_delayed_add_dedups_with_immediate),
	    cmocka_unit_test(test_wq_backoff_doubles_caps_and_resets),
	    cmocka_unit_test(test_wq_on_real_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
