/* Unit tests for the controller's graceful shutdown (controller_shutdown,
 * pkg/controller/controller.h) through the fake transport on the real event
 * loop, with a BatchSchedule firing every second: a shutdown while a slot's
 * Job POST is in flight lets that POST's answer send the slot's status
 * write, waits for its answer and only then reports quiet; no slot after
 * the shutdown posts a Job; and an apiserver that never answers cannot hold
 * the shutdown past its bound. The harness is tick_rig.h. */
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

#define NS	     "stop"
#define RIG_INSTANCE "stop-test"
#include "tick_rig.h"

/* A bound on waiting only: a loaded machine (CI shares its cores) makes
 * the tests slower, never failed; what is awaited and never comes still
 * fails them. */
#define WAIT_MS 10000

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

struct stopped {
	int calls;
	bool quiet;
	int64_t at_ms;
};

static void on_stopped(void *ud, bool quiet)
{
	struct stopped *s = ud;
	s->calls++;
	s->quiet = quiet;
	s->at_ms = loop_now_monotonic_ms();
}

/* Answers every open write from g->answered on but `keep`. */
static void answer_others(struct rig *g, const struct kube_req *keep)
{
	for (size_t i = g->answered; i < g->f->n; i++) {
		struct kube_req *q = g->f->reqs[i];
		if (q != keep && q->state == FAKE_OPEN && q->method != KUBE_GET)
			fake_answer(q, 200, WRITTEN);
	}
}

/* Leaves the loop running until the shutdown is reported (or ms pass). */
static void run_until_stopped(struct rig *g, const struct stopped *s, int64_t ms)
{
	int64_t end = loop_now_monotonic_ms() + ms;
	while (!s->calls && loop_now_monotonic_ms() < end)
		fake_run_for(g->f, 5);
}

/* A leader with a slot's POST in flight is told to shut down: the POST's
 * answer still sends the status it decided, the shutdown waits for that
 * write's answer, and nothing else is started, slot after slot. */
static void test_controller_shutdown_drains(void **state)
{
	(void)state;
	struct rig *g = rig_new();
	controller_start(g->c);
	/* A first slot's POST, answered, however late it comes. */
	int posts = 0;
	for (int64_t give_up = loop_now_monotonic_ms() + WAIT_MS;
	     !posts && loop_now_monotonic_ms() < give_up;)
		posts = run_answering(g, 50);
	assert_in_range(posts, 1, 2);
	struct kube_req *post = next_post(g, WAIT_MS);
	assert_non_null(post);
	answer_others(g, post);

	struct stopped s = {0};
	controller_shutdown(g->c, 5000, on_stopped, &s);
	assert_int_equal(s.calls, 0); /* from the loop, never inside */
	fake_run_for(g->f, 300);
	assert_int_equal(s.calls, 0); /* the POST is unanswered */
	size_t passes;
	uint64_t writes;
	controller_pending(g->c, &passes, &writes);
	assert_int_equal(passes, 1);
	assert_true(writes >= 1);

	size_t n = g->f->n;
	fake_answer(post, 201, post->body);
	/* The slot's status leaves although the process is stopping. */
	struct kube_req *st = fake_run_until_req(g->f, n, KUBE_PATCH_MERGE, P_STATUS, WAIT_MS);
	assert_non_null(st);
	fake_run_for(g->f, 50);
	assert_int_equal(s.calls, 0); /* its answer is waited for */
	g->answered = n;
	answer_others(g, NULL);
	run_until_stopped(g, &s, WAIT_MS);
	assert_int_equal(s.calls, 1);
	/* Quiet: drained, not ended by its 5 s bound (which says more than a
	 * time measured on a loaded machine could). */
	assert_true(s.quiet);
	controller_pending(g->c, &passes, &writes);
	assert_int_equal(passes, 0);
	assert_int_equal(writes, 0);

	/* Slots keep coming: no Job is posted, nothing is written. */
	n = g->f->n;
	fake_run_for(g->f, 2200);
	assert_int_equal(fake_count(g->f, n, FAKE_ANY_WRITE, NULL), 0);
	/* A second call changes nothing. */
	controller_shutdown(g->c, 5000, on_stopped, &s);
	fake_run_for(g->f, 50);
	assert_int_equal(s.calls, 1);
	rig_free(g);
}

/* An apiserver that never answers the POST: the shutdown is reported, not
 * quiet, at its bound. */
static void test_controller_shutdown_bounded(void **state)
{
	(void)state;
	struct rig *g = rig_new();
	controller_start(g->c);
	run_answering(g, 1200);
	struct kube_req *post = next_post(g, WAIT_MS);
	assert_non_null(post);
	answer_others(g, post);

	struct stopped s = {0};
	int64_t t0 = loop_now_monotonic_ms();
	controller_shutdown(g->c, 400, on_stopped, &s);
	run_until_stopped(g, &s, WAIT_MS);
	assert_int_equal(s.calls, 1);
	assert_false(s.quiet);
	/* Not before its bound; how late after it is the machine's load (a
	 * bound never armed fails the wait above). */
	assert_true(s.at_ms - t0 >= 400);
	assert_int_equal(post->state, FAKE_OPEN);
	rig_free(g); /* cancels the POST */
}

/* Nothing under way: quiet at once. */
static void test_controller_shutdown_idle(void **state)
{
	(void)state;
	struct rig *g = rig_new();
	controller_set_leader(g->c, false);
	controller_start(g->c);
	fake_run_for(g->f, 200);
	struct stopped s = {0};
	controller_shutdown(g->c, 5000, on_stopped, &s);
	/* At once: within turns of the loop that wait for nothing (so no
	 * timer but one already due can have run), not after a time. */
	for (int i = 0; i < 5 && !s.calls; i++)
		assert_true(loop_run_once(g->loop, 0) >= 0);
	assert_int_equal(s.calls, 1);
	assert_true(s.quiet);
	rig_free(g);
}

int main(void)
{
	log_set_level("error");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_controller_shutdown_drains),
	    cmocka_unit_test(test_controller_shutdown_bounded),
	    cmocka_unit_test(test_controller_shutdown_idle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
