/* Unit tests for pkg/kube/ratelimit with a fake clock: bucket arithmetic and
 * strict FIFO release of queued items. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kube/ratelimit.h"

static void test_burst_then_rate(void **state)
{
	struct ratelimit rl;
	ratelimit_init(&rl, 5, 3, 1000);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ratelimit_try_take(&rl, 1000), 0);
	/* Empty: the next token comes 1/5 s later. */
	assert_int_equal(ratelimit_try_take(&rl, 1000), 200);
	assert_int_equal(ratelimit_try_take(&rl, 1150), 50);
	assert_int_equal(ratelimit_try_take(&rl, 1200), 0);
	assert_int_equal(ratelimit_try_take(&rl, 1200), 200);
	/* A long idle refills only up to the burst. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(ratelimit_try_take(&rl, 100000), 0);
	assert_true(ratelimit_try_take(&rl, 100000) > 0);
}

static void test_unlimited_and_backwards_clock(void **state)
{
	struct ratelimit rl;
	ratelimit_init(&rl, 0, 1, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(ratelimit_try_take(&rl, 0), 0);
	ratelimit_init(&rl, 1, 0, 5000); /* burst 0 means 1 */
	assert_int_equal(ratelimit_try_take(&rl, 5000), 0);
	assert_int_equal(ratelimit_try_take(&rl, 4000), 1000);
	assert_int_equal(ratelimit_try_take(&rl, 6000), 0);
}

static void test_queue_fifo_order_paced(void **state)
{
	struct ratelimit_queue q;
	int items[10];
	int64_t now = 0, wait;
	ratelimit_queue_init(&q, 10, 2, now);
	for (int i = 0; i < 10; i++)
		ratelimit_queue_push(&q, &items[i]);
	assert_int_equal(ratelimit_queue_len(&q), 10);
	/* Drive the fake clock by the waits the queue asks for: items leave in
	 * push order, two at once (burst), then one per 100 ms. */
	int64_t left_at[10];
	for (int i = 0; i < 10; i++) {
		void *it;
		while ((it = ratelimit_queue_pop(&q, now, &wait)) == NULL) {
			assert_true(wait > 0);
			now += wait;
		}
		assert_ptr_equal(it, &items[i]);
		left_at[i] = now;
	}
	assert_int_equal(left_at[0], 0);
	assert_int_equal(left_at[1], 0);
	for (int i = 2; i < 10; i++)
		assert_int_equal(left_at[i], (i - 1) * 100);
	assert_null(ratelimit_queue_pop(&q, now, &wait));
	assert_int_equal(wait, -1);
	ratelimit_queue_release(&q);
}

static void test_queue_remove_and_wraparound(void **state)
{
	struct ratelimit_queue q;
	int items[40];
	int64_t wait;
	ratelimit_queue_init(&q, 0, 1, 0);
	/* Interleave pushes and pops so the ring wraps and grows. */
	int next_push = 0, next_pop = 0;
	for (int round = 0; round < 10; round++) {
		for (int k = 0; k < 3; k++)
			ratelimit_queue_push(&q, &items[next_push++]);
		assert_ptr_equal(ratelimit_queue_pop(&q, 0, &wait), &items[next_pop++]);
	}
	assert_int_equal(ratelimit_queue_len(&q), 20);
	assert_int_equal(ratelimit_queue_remove(&q, &items[next_pop + 1]), 0);
	assert_int_equal(ratelimit_queue_remove(&q, &items[next_pop + 1]), -ENOENT);
	assert_int_equal(ratelimit_queue_len(&q), 19);
	for (int i = next_pop; i < next_push; i++) {
		if (i == next_pop + 1)
			continue;
		assert_ptr_equal(ratelimit_queue_pop(&q, 0, &wait), &items[i]);
	}
	assert_int_equal(ratelimit_queue_len(&q), 0);
	ratelimit_queue_release(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_rate),
	    cmocka_unit_test(test_unlimited_and_backwards_clock),
	    cmocka_unit_test(test_queue_fifo_order_paced),
	    cmocka_unit_test(test_queue_remove_and_wraparound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
