/* Unit tests for the controller's leadership switch (controller_set_leader,
 * pkg/controller/controller.h) through the fake transport on the real
 * event loop, with a BatchSchedule firing every second: a standby lists and
 * watches (its caches sync) but sends no write, slot after slot; becoming
 * the leader reconciles every schedule at once and its slots post Jobs;
 * losing leadership stops every write at once, a slot's POST included.
 * The harness is a small copy of test_controller_rim.c's. */
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

#include "base/log.h"
#include "controller/controller.h"
#include "kube/http.h"
#include "loop/loop.h"

#include "fake_transport.h"

#define NS	     "lead"
#define RIG_INSTANCE "lead-test"
#include "tick_rig.h"

/* Runs the loop for ms, answering every write as it comes (a Job POST
 * 201 with the body, anything else 200). Returns the Job POSTs seen. */
static int run_answering(struct rig *g, int64_t ms)
{
	int posts = 0;
	int64_t end = loop_now_monotonic_ms() + ms;
	while (loop_now_monotonic_ms() < end) {
		struct kube_req *q = fake_run_until_req(g->f, g->answered, FAKE_ANY_WRITE, NULL,
							end - loop_now_monotonic_ms());
		if (!q)
			break;
		g->answered = q->index + 1;
		if (q->state != FAKE_OPEN)
			continue;
		if (q->method == KUBE_POST && !strcmp(q->path, P_JOBS)) {
			posts++;
			fake_answer(q, 201, q->body);
		} else {
			fake_answer(q, 200, WRITTEN);
		}
	}
	return posts;
}

/* A bound on waiting only: a loaded machine (CI shares its cores) makes
 * the tests slower, never failed. */
#define WAIT_MS 10000

/* Runs the loop until the caches are synced (within WAIT_MS). */
static void run_until_synced(struct rig *g)
{
	int64_t give_up = loop_now_monotonic_ms() + WAIT_MS;
	while (!controller_synced(g->c) && loop_now_monotonic_ms() < give_up)
		fake_run_for(g->f, 10);
	assert_true(controller_synced(g->c));
}

/* Runs the loop answering every write (as run_answering) until `want` Job
 * POSTs were seen, within WAIT_MS; returns the number seen. */
static int run_answering_posts(struct rig *g, int want)
{
	int posts = 0;
	int64_t give_up = loop_now_monotonic_ms() + WAIT_MS;
	while (posts < want && loop_now_monotonic_ms() < give_up)
		posts += run_answering(g, 50);
	return posts;
}

/* The next slot's Job POST, left open; every other write meanwhile is
 * answered 200. A slot is POSTed only once the status write that claims
 * it has landed (docs/semantics.md, "Never twice"), so the writes that
 * follow the last answered POST must be answered for the next one to
 * leave. */
static struct kube_req *next_post(struct rig *g, int64_t ms)
{
	int64_t end = loop_now_monotonic_ms() + ms;
	for (;;) {
		for (size_t i = g->answered; i < g->f->n; i++) {
			struct kube_req *q = g->f->reqs[i];
			if (q->state != FAKE_OPEN || q->method == KUBE_GET)
				continue;
			if (q->method == KUBE_POST && !strcmp(q->path, P_JOBS))
				return q;
			fake_answer(q, 200, WRITTEN);
		}
		if (loop_now_monotonic_ms() >= end)
			return NULL;
		fake_run_for(g->f, 5);
	}
}

/* A standby syncs its caches and writes nothing across slots. */
static void test_controller_standby_writes_nothing(void **state)
{
	(void)state;
	struct rig *g = rig_new();
	controller_set_leader(g->c, false);
	assert_false(controller_is_leader(g->c));
	controller_start(g->c);
	fake_run_for(g->f, 2500); /* two slots at least */
	run_until_synced(g);
	assert_non_null(fake_stream(g->f, P_SCHEDULES));
	assert_int_equal(fake_count(g->f, 0, FAKE_ANY_WRITE, NULL), 0);
	struct controller_stats st;
	controller_get_stats(g->c, &st);
	assert_int_equal(st.reconciles, 0);
	assert_int_equal(st.writes_inflight, 0);
	rig_free(g);
}

/* Leader: the schedule is reconciled at once (its first status write)
 * and slots post Jobs. Standby again: nothing more leaves, though slots
 * keep coming; a Job POST in flight at that moment still gets its answer. */
static void test_controller_leader_then_standby(void **state)
{
	(void)state;
	struct rig *g = rig_new();
	controller_set_leader(g->c, false);
	controller_start(g->c);
	run_until_synced(g);
	assert_int_equal(fake_count(g->f, 0, FAKE_ANY_WRITE, NULL), 0);

	size_t before = g->f->n;
	int64_t t0 = loop_now_realtime_ms();
	controller_set_leader(g->c, true);
	assert_true(controller_is_leader(g->c));
	/* Reconciled in the call: the first-sight status write is out. */
	assert_non_null(fake_find(g->f, before, KUBE_PATCH_MERGE, P_STATUS));
	/* Slots post Jobs: two of them, however late the machine runs them
	 * (a count within a fixed time would be the machine's speed). At
	 * most one per slot, one a second: never more than the seconds
	 * begun since leading. */
	int posts = run_answering_posts(g, 2);
	assert_int_equal(posts, 2);
	assert_true(fake_count(g->f, 0, KUBE_POST, P_JOBS) <=
		    (size_t)(loop_now_realtime_ms() / 1000 - t0 / 1000 + 1));

	/* A slot's POST left and is unanswered when leadership goes. */
	struct kube_req *post = next_post(g, WAIT_MS);
	assert_non_null(post);
	/* Only that one left unanswered. */
	for (size_t i = g->answered; i < g->f->n; i++) {
		struct kube_req *q = g->f->reqs[i];
		if (q != post && q->state == FAKE_OPEN && q->method != KUBE_GET)
			fake_answer(q, 200, WRITTEN);
	}
	struct controller_stats st;
	controller_get_stats(g->c, &st);
	assert_int_equal(st.writes_inflight, 1);
	controller_set_leader(g->c, false);
	size_t n = g->f->n;
	fake_answer(post, 201, post->body);
	/* Its answer would send the status write: the gate refuses it. */
	fake_run_for(g->f, 2200);
	assert_int_equal(fake_count(g->f, n, FAKE_ANY_WRITE, NULL), 0);
	controller_get_stats(g->c, &st);
	assert_int_equal(st.writes_inflight, 0);
	/* Idempotent. */
	controller_set_leader(g->c, false);
	rig_free(g);
}

int main(void)
{
	log_set_level("error");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_controller_standby_writes_nothing),
	    cmocka_unit_test(test_controller_leader_then_standby),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
