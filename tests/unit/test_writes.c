/* Unit tests for pkg/controller/writes: the controller's one write path,
 * alone, on the real event loop with the fake transport
 * (tests/unit/fake_transport.h). What they pin down: routine writes wait
 * behind Job POSTs (and for at most WRITES_HOLD_MAX_MS), in the order they
 * were decided; POSTs and kills are rate-limit exempt and never wait; a
 * status writer has one write in flight and only the newest waiting;
 * forgetting and freeing call nothing and leak nothing; the Event
 * recorder's bodies and its count of Events recorded. */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "base/log.h"
#include "controller/writes.h"
#include "kube/event.h"
#include "kube/http.h"
#include "loop/loop.h"
#include "tz/civil.h"

#include "fake_transport.h"

/* What one done callback heard. */
struct heard {
	char tag[64];
	int status, err;
	double ms;
	void *ud;
	size_t sent_before; /* requests the fake had seen when it ran */
};

struct world {
	struct loop *loop;
	struct fake_tr *f;
	struct writes *w;
	struct heard heard[16];
	size_t n_heard;
};

static void on_done(void *ud, const char *tag, const struct kube_result *res, double ms);

/* done's ud is a struct owner, so tests can tell owners apart. */
struct owner {
	struct world *wd;
	int id;
};

static void on_done(void *ud, const char *tag, const struct kube_result *res, double ms)
{
	struct owner *o = ud;
	struct world *wd = o->wd;
	assert_true(wd->n_heard < sizeof(wd->heard) / sizeof(wd->heard[0]));
	struct heard *h = &wd->heard[wd->n_heard++];
	snprintf(h->tag, sizeof(h->tag), "%s", tag);
	h->status = res->status;
	h->err = res->err;
	h->ms = ms;
	h->ud = ud;
	h->sent_before = wd->f->n;
}

static struct world *world_new(void)
{
	struct world *wd = calloc(1, sizeof(*wd));
	assert_int_equal(loop_new(&wd->loop), 0);
	wd->f = fake_tr_new(wd->loop);
	wd->w = writes_new(wd->loop, &wd->f->tr, "inst-1");
	assert_non_null(wd->w);
	return wd;
}

static void world_free(struct world *wd)
{
	writes_free(wd->w);
	/* The hold timer is the module's only timer: gone with it. */
	assert_int_equal(loop_timer_count(wd->loop), 0);
	fake_tr_free(wd->f);
	loop_free(wd->loop);
	free(wd);
}

static int send(struct world *wd, enum write_kind kind, enum kube_method m, const char *path,
		const char *body, const char *tag, struct owner *o)
{
	struct write w = {.kind = kind,
			  .method = m,
			  .path = path,
			  .body = body,
			  .tag = tag,
			  .done = o ? on_done : NULL,
			  .ud = o};
	return writes_send(wd->w, &w);
}

static struct writes_stats stats(const struct world *wd)
{
	struct writes_stats st;
	writes_get_stats(wd->w, &st);
	return st;
}

#define JOBS "/apis/batch/v1/namespaces/ns/jobs"
#define ST_A "/apis/takt.io/v1alpha1/namespaces/ns/batchschedules/a/status"

/* Routine writes decided while a Job POST is in flight leave when it is
 * answered, in the order they were decided, before the POST's own done
 * runs (its answer may decide more writes, which must come after). */
static void test_writes_routine_held_behind_post_in_order(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner post = {wd, 1}, a = {wd, 2}, b = {wd, 3}, c = {wd, 4};
	assert_int_equal(send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{\"job\":1}", "a-1", &post), 0);
	assert_int_equal(wd->f->n, 1);
	assert_int_equal(send(wd, WRITE_ROUTINE, KUBE_PATCH_MERGE, ST_A, "{\"s\":1}", "st", &a), 0);
	assert_int_equal(send(wd, WRITE_ROUTINE, KUBE_DELETE, JOBS "/old", NULL, "old", &b), 0);
	assert_int_equal(
	    send(wd, WRITE_ROUTINE, KUBE_POST, "/api/v1/namespaces/ns/events", "{}", "ev", &c), 0);
	/* Held: nothing but the POST has reached the transport, on any turn.
	 * Turns that do not wait: the hold ends WRITES_HOLD_MAX_MS after the
	 * POST left, and a loaded machine must not reach that here (this
	 * test is about the order at the answer, not the hold's end). */
	for (int i = 0; i < 5; i++)
		assert_true(loop_run_once(wd->loop, 0) >= 0);
	assert_int_equal(wd->f->n, 1);
	struct writes_stats st = stats(wd);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.held, 3);
	assert_int_equal(st.posts_inflight, 1);

	fake_answer(wd->f->reqs[0], 201, "{}");
	assert_int_equal(wd->f->n, 4);
	assert_int_equal(wd->f->reqs[1]->method, KUBE_PATCH_MERGE);
	assert_string_equal(wd->f->reqs[1]->path, ST_A);
	assert_string_equal(wd->f->reqs[1]->body, "{\"s\":1}");
	assert_int_equal(wd->f->reqs[2]->method, KUBE_DELETE);
	assert_string_equal(wd->f->reqs[2]->path, JOBS "/old");
	assert_null(wd->f->reqs[2]->body);
	assert_int_equal(wd->f->reqs[3]->method, KUBE_POST);
	/* The POST's done ran after the held writes were handed over. */
	assert_int_equal(wd->n_heard, 1);
	assert_ptr_equal(wd->heard[0].ud, &post);
	assert_string_equal(wd->heard[0].tag, "a-1");
	assert_int_equal(wd->heard[0].status, 201);
	assert_int_equal(wd->heard[0].sent_before, 4);
	st = stats(wd);
	assert_int_equal(st.sent, 4);
	assert_int_equal(st.posts_inflight, 0);

	/* Nothing is in flight now: a routine write leaves at once. */
	assert_int_equal(send(wd, WRITE_ROUTINE, KUBE_DELETE, JOBS "/x", NULL, "x", &a), 0);
	assert_int_equal(wd->f->n, 5);
	for (size_t i = 1; i < 5; i++)
		fake_answer(wd->f->reqs[i], 200, "{}");
	assert_int_equal(wd->n_heard, 5);
	assert_int_equal(stats(wd).answered, 5);
	world_free(wd);
}

/* At most WRITES_ROUTINE_MAX routine writes are in flight: the rest wait,
 * in the order decided, and leave one per answer; a Job POST is never
 * held behind them. */
static void test_writes_routine_capped_in_order(void **state)
{
	(void)state;
	struct world *wd = world_new();
	char path[128];
	int n = WRITES_ROUTINE_MAX + 3;
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), JOBS "/%d", i);
		assert_int_equal(send(wd, WRITE_ROUTINE, KUBE_DELETE, path, NULL, "d", NULL), 0);
	}
	assert_int_equal(wd->f->n, WRITES_ROUTINE_MAX);
	assert_int_equal(writes_backlog(wd->w), 3);
	assert_int_equal(stats(wd).waiting, 3);
	/* Nothing leaves on later turns: only answers make room. */
	fake_run_for(wd->f, 600);
	assert_int_equal(wd->f->n, WRITES_ROUTINE_MAX);
	struct owner post = {wd, 1};
	assert_int_equal(send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "a-1", &post), 0);
	assert_int_equal(wd->f->n, WRITES_ROUTINE_MAX + 1);
	assert_string_equal(wd->f->reqs[WRITES_ROUTINE_MAX]->path, JOBS);
	fake_answer(wd->f->reqs[WRITES_ROUTINE_MAX], 201, "{}");
	/* The POST answered: the cap still holds. */
	assert_int_equal(wd->f->n, WRITES_ROUTINE_MAX + 1);
	for (int i = 0; i < 3; i++) {
		fake_answer(wd->f->reqs[i], 200, "{}");
		assert_int_equal(wd->f->n, WRITES_ROUTINE_MAX + 2 + i);
		snprintf(path, sizeof(path), JOBS "/%d", WRITES_ROUTINE_MAX + i);
		assert_string_equal(wd->f->reqs[WRITES_ROUTINE_MAX + 1 + i]->path, path);
	}
	assert_int_equal(writes_backlog(wd->w), 0);
	for (size_t i = 3; i < wd->f->n; i++)
		if (i != WRITES_ROUTINE_MAX)
			fake_answer(wd->f->reqs[i], 200, "{}");
	assert_int_equal(stats(wd).answered, (uint64_t)n + 1);
	world_free(wd);
}

/* A full backlog of routine writes (a first start's statuses): an urgent
 * status write (one a due slot's POST waits for) leaves at the next room,
 * ahead of every non-urgent write held before it; urgent writes keep their
 * order among themselves, and the rest follow in theirs. */
static void test_writes_urgent_status_ahead_of_backlog(void **state)
{
	(void)state;
	struct world *wd = world_new();
	char path[128];
	int n = WRITES_ROUTINE_MAX + 40;
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), JOBS "/%d", i);
		assert_int_equal(send(wd, WRITE_ROUTINE, KUBE_DELETE, path, NULL, "d", NULL), 0);
	}
	assert_int_equal(wd->f->n, WRITES_ROUTINE_MAX);
	assert_int_equal(writes_backlog(wd->w), 40);
	struct owner o = {wd, 1};
	struct writes_status a, b;
	writes_status_init(&a);
	writes_status_init(&b);
	a.urgent = true;
	b.urgent = true;
	assert_int_equal(
	    writes_status_put(wd->w, &a, ST_A, cJSON_Parse("{\"a\":1}"), NULL, on_done, &o), 0);
	assert_int_equal(
	    writes_status_put(wd->w, &b,
			      "/apis/takt.io/v1alpha1/namespaces/ns/batchschedules/b/status",
			      cJSON_Parse("{\"b\":1}"), NULL, on_done, &o),
	    0);
	/* Held: the cap holds urgent writes too. */
	assert_int_equal(wd->f->n, WRITES_ROUTINE_MAX);
	assert_int_equal(writes_backlog(wd->w), 42);
	/* One answer, one room: the first urgent write, not DELETE 16. */
	fake_answer(wd->f->reqs[0], 200, "{}");
	assert_int_equal(wd->f->n, WRITES_ROUTINE_MAX + 1);
	assert_string_equal(wd->f->reqs[WRITES_ROUTINE_MAX]->body, "{\"a\":1}");
	fake_answer(wd->f->reqs[1], 200, "{}");
	assert_int_equal(wd->f->n, WRITES_ROUTINE_MAX + 2);
	assert_string_equal(wd->f->reqs[WRITES_ROUTINE_MAX + 1]->body, "{\"b\":1}");
	/* Then the backlog, in its order. */
	fake_answer(wd->f->reqs[2], 200, "{}");
	assert_int_equal(wd->f->n, WRITES_ROUTINE_MAX + 3);
	snprintf(path, sizeof(path), JOBS "/%d", WRITES_ROUTINE_MAX);
	assert_string_equal(wd->f->reqs[WRITES_ROUTINE_MAX + 2]->path, path);
	/* A status writer that is not urgent waits behind the backlog. */
	struct writes_status c;
	writes_status_init(&c);
	assert_int_equal(
	    writes_status_put(wd->w, &c,
			      "/apis/takt.io/v1alpha1/namespaces/ns/batchschedules/c/status",
			      cJSON_Parse("{\"c\":1}"), NULL, on_done, &o),
	    0);
	fake_answer(wd->f->reqs[3], 200, "{}");
	snprintf(path, sizeof(path), JOBS "/%d", WRITES_ROUTINE_MAX + 1);
	assert_string_equal(wd->f->reqs[WRITES_ROUTINE_MAX + 3]->path, path);
	/* Everything answered, in whatever order: nothing is lost. */
	for (size_t i = 4; i < wd->f->n; i++)
		fake_answer(wd->f->reqs[i], 200, "{}");
	assert_int_equal(writes_backlog(wd->w), 0);
	assert_int_equal(stats(wd).answered, (uint64_t)n + 3);
	assert_string_equal(wd->f->reqs[wd->f->n - 1]->body, "{\"c\":1}");
	writes_status_release(wd->w, &a);
	writes_status_release(wd->w, &b);
	writes_status_release(wd->w, &c);
	world_free(wd);
}

/* A status write held in the backlog when its object's next write is
 * urgent (a slot waits for that one, and it waits for this one) moves
 * ahead of the backlog with it. */
static void test_writes_urgent_put_promotes_held_write(void **state)
{
	(void)state;
	struct world *wd = world_new();
	char path[128];
	for (int i = 0; i < WRITES_ROUTINE_MAX + 3; i++) {
		snprintf(path, sizeof(path), JOBS "/%d", i);
		assert_int_equal(send(wd, WRITE_ROUTINE, KUBE_DELETE, path, NULL, "d", NULL), 0);
	}
	struct owner o = {wd, 1};
	struct writes_status st;
	writes_status_init(&st);
	assert_int_equal(
	    writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"a\":1}"), NULL, on_done, &o), 0);
	assert_int_equal(writes_backlog(wd->w), 4);
	st.urgent = true;
	assert_int_equal(
	    writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"a\":2}"), NULL, on_done, &o), 0);
	fake_answer(wd->f->reqs[0], 200, "{}");
	assert_int_equal(wd->f->n, WRITES_ROUTINE_MAX + 1);
	assert_string_equal(wd->f->reqs[WRITES_ROUTINE_MAX]->body, "{\"a\":1}");
	fake_answer(wd->f->reqs[WRITES_ROUTINE_MAX], 200, "{}");
	/* Its answer made room for DELETE 16, then decided {"a":2}: urgent,
	 * it leaves at the next room, ahead of DELETEs 17 and 18. */
	fake_answer(wd->f->reqs[1], 200, "{}");
	assert_string_equal(wd->f->reqs[wd->f->n - 1]->path, ST_A);
	assert_string_equal(wd->f->reqs[wd->f->n - 1]->body, "{\"a\":2}");
	for (size_t i = 2; i < wd->f->n; i++)
		if (wd->f->reqs[i]->state == FAKE_OPEN)
			fake_answer(wd->f->reqs[i], 200, "{}");
	for (size_t i = 2; i < wd->f->n; i++)
		if (wd->f->reqs[i]->state == FAKE_OPEN)
			fake_answer(wd->f->reqs[i], 200, "{}");
	assert_int_equal(writes_backlog(wd->w), 0);
	writes_status_release(wd->w, &st);
	world_free(wd);
}

/* Quiet before a slot: from WRITES_QUIET_BEFORE_MS before an announced
 * slot to WRITES_QUIET_AFTER_MS after it, routine writes wait (an urgent
 * one does not); a slot further away holds nothing. */
static void test_writes_quiet_around_announced_slot(void **state)
{
	(void)state;
	struct world *wd = world_new();
	/* Far away: nothing held now. */
	writes_slot_coming(wd->w, loop_now_realtime_ms() + 5000);
	assert_int_equal(send(wd, WRITE_ROUTINE, KUBE_DELETE, JOBS "/a", NULL, "a", NULL), 0);
	assert_int_equal(wd->f->n, 1);
	/* A past slot is ignored. */
	writes_slot_coming(wd->w, loop_now_realtime_ms() - 1000);
	assert_int_equal(send(wd, WRITE_ROUTINE, KUBE_DELETE, JOBS "/b", NULL, "b", NULL), 0);
	assert_int_equal(wd->f->n, 2);

	int64_t slot = loop_now_realtime_ms() + WRITES_QUIET_BEFORE_MS / 2;
	writes_slot_coming(wd->w, slot);
	writes_slot_coming(wd->w, slot); /* again: one slot */
	assert_int_equal(send(wd, WRITE_ROUTINE, KUBE_DELETE, JOBS "/c", NULL, "c", NULL), 0);
	assert_int_equal(wd->f->n, 2);
	assert_int_equal(writes_backlog(wd->w), 1);
	struct owner o = {wd, 1};
	struct writes_status st;
	writes_status_init(&st);
	st.urgent = true;
	assert_int_equal(
	    writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"u\":1}"), NULL, on_done, &o), 0);
	assert_int_equal(wd->f->n, 3);
	assert_string_equal(wd->f->reqs[2]->body, "{\"u\":1}");
	/* Answers make room, but the window still holds. */
	fake_answer(wd->f->reqs[0], 200, "{}");
	assert_int_equal(wd->f->n, 3);
	assert_non_null(fake_run_until_req(wd->f, 3, KUBE_DELETE, JOBS "/c", 5000));
	assert_int_equal(wd->f->n, 4);
	assert_true(wd->f->reqs[3]->at_real_ms >= slot + WRITES_QUIET_AFTER_MS);
	/* Past the window, writes flow again. */
	assert_int_equal(send(wd, WRITE_ROUTINE, KUBE_DELETE, JOBS "/d", NULL, "d", NULL), 0);
	assert_int_equal(wd->f->n, 5);
	for (size_t i = 1; i < wd->f->n; i++)
		fake_answer(wd->f->reqs[i], 200, "{}");
	writes_status_release(wd->w, &st);
	world_free(wd);
}

/* Held writes wait for the last POST in flight, not the first answered. */
static void test_writes_hold_waits_for_every_post(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 1};
	send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j1", &o);
	send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j2", &o);
	send(wd, WRITE_ROUTINE, KUBE_PATCH_MERGE, ST_A, "{}", "st", &o);
	assert_int_equal(wd->f->n, 2);
	fake_answer(wd->f->reqs[1], 201, "{}");
	assert_int_equal(wd->f->n, 2);
	/* A failed POST ends the hold as well as a successful one. */
	fake_answer(wd->f->reqs[0], 500, "{}");
	assert_int_equal(wd->f->n, 3);
	assert_string_equal(wd->f->reqs[2]->path, ST_A);
	fake_answer(wd->f->reqs[2], 200, "{}");
	assert_int_equal(wd->n_heard, 3);
	world_free(wd);
}

/* A POST never answered holds a routine write for WRITES_HOLD_MAX_MS, not
 * longer; done's ms counts the hold. */
static void test_writes_hold_ends_after_max_ms(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 1};
	send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j1", &o);
	int64_t t0 = loop_now_monotonic_ms();
	send(wd, WRITE_ROUTINE, KUBE_PATCH_MERGE, ST_A, "{}", "st", &o);
	/* The write leaves while the POST is still unanswered (a hold that
	 * waited for the POST's answer would never let it go here). */
	struct kube_req *r = fake_run_until_req(wd->f, 1, FAKE_ANY, NULL, 10 * WRITES_HOLD_MAX_MS);
	assert_non_null(r);
	/* Loop timers count whole milliseconds from a truncated now: one
	 * may fire up to 1 ms before the exact instant. Not before the hold
	 * ran out, then; how soon after it is the machine's load, not the
	 * module's rule, so the wait above is the only upper bound. */
	int64_t held = r->at_mono_ms - t0;
	assert_true(held >= WRITES_HOLD_MAX_MS - 1);
	assert_string_equal(r->path, ST_A);
	assert_int_equal(r->exempt, 0);
	/* The POST is still in flight: a write decided now is held again. */
	send(wd, WRITE_ROUTINE, KUBE_DELETE, JOBS "/y", NULL, "y", &o);
	assert_int_equal(wd->f->n, 2);
	fake_answer(r, 200, "{}");
	assert_int_equal(wd->n_heard, 1);
	assert_true(wd->heard[0].ms >= WRITES_HOLD_MAX_MS - 1);
	fake_answer(wd->f->reqs[0], 201, "{}");
	assert_int_equal(wd->f->n, 3);
	fake_answer(wd->f->reqs[2], 200, "{}");
	world_free(wd);
}

/* A Job POST skips the rate-limit queue; a kill's writes wait for tokens
 * (a failing kill must not become a request storm); neither is held, even
 * behind a POST in flight; routine writes wait for tokens. */
static void test_writes_exempt_and_never_held(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 1};
	send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j1", &o);
	send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j2", &o);
	send(wd, WRITE_KILL, KUBE_DELETE, "/api/v1/namespaces/ns/pods/p", "{}", "p", &o);
	send(wd, WRITE_KILL, KUBE_PATCH_MERGE, JOBS "/j0", "{}", "j0", &o);
	assert_int_equal(wd->f->n, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(wd->f->reqs[i]->exempt, i < 2);
	assert_int_equal(stats(wd).held, 0);
	/* A kill is not a POST: its answer releases nothing, and two POSTs
	 * are counted in flight. */
	assert_int_equal(stats(wd).posts_inflight, 2);
	fake_answer(wd->f->reqs[2], 200, "{}");
	fake_answer(wd->f->reqs[3], 200, "{}");
	fake_answer(wd->f->reqs[0], 201, "{}");
	fake_answer(wd->f->reqs[1], 201, "{}");
	assert_int_equal(stats(wd).posts_inflight, 0);
	send(wd, WRITE_ROUTINE, KUBE_PATCH_MERGE, ST_A, "{}", "st", &o);
	assert_int_equal(wd->f->n, 5);
	assert_int_equal(wd->f->reqs[4]->exempt, 0);
	fake_answer(wd->f->reqs[4], 200, "{}");
	world_free(wd);
}

/* One status write in flight per object; a put while it is in flight
 * replaces the one waiting, so the superseded body never leaves. */
static void test_writes_status_one_in_flight_newest_waits(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 7};
	struct writes_status st;
	writes_status_init(&st);
	assert_false(writes_status_busy(&st));
	assert_int_equal(
	    writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":1}"), NULL, on_done, &o), 0);
	assert_int_equal(wd->f->n, 1);
	assert_int_equal(wd->f->reqs[0]->method, KUBE_PATCH_MERGE);
	assert_int_equal(wd->f->reqs[0]->exempt, 0);
	assert_string_equal(wd->f->reqs[0]->body, "{\"v\":1}");
	assert_int_equal(
	    writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":2}"), NULL, on_done, &o), 0);
	assert_int_equal(
	    writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":3}"), NULL, on_done, &o), 0);
	fake_run_for(wd->f, 20);
	assert_int_equal(wd->f->n, 1);
	assert_true(writes_status_busy(&st));

	fake_answer(wd->f->reqs[0], 200, "{}");
	assert_int_equal(wd->f->n, 2);
	assert_string_equal(wd->f->reqs[1]->body, "{\"v\":3}");
	assert_true(writes_status_busy(&st));
	fake_answer(wd->f->reqs[1], 200, "{}");
	assert_false(writes_status_busy(&st));
	fake_run_for(wd->f, 20);
	assert_int_equal(wd->f->n, 2);
	/* One answer per write that left; none for the one replaced. */
	assert_int_equal(wd->n_heard, 2);
	writes_status_release(wd->w, &st);
	world_free(wd);
}

/* Status writes are conditional: the first on the version the caller
 * planned from, the next on the version the one before it produced; a 409
 * reaches the owner, and the version stays the last one written. */
static void test_writes_status_conditional_on_version(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 3};
	struct writes_status st;
	writes_status_init(&st);
	assert_int_equal(writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"status\":{\"v\":1}}"),
					   "41", on_done, &o),
			 0);
	assert_string_equal(wd->f->reqs[0]->body,
			    "{\"status\":{\"v\":1},\"metadata\":{\"resourceVersion\":\"41\"}}");
	/* Decided while the first is on its way, from an older picture: its
	 * hint is not used, the first write's result is. */
	assert_int_equal(writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"status\":{\"v\":2}}"),
					   "40", on_done, &o),
			 0);
	fake_answer(wd->f->reqs[0], 200, "{\"metadata\":{\"resourceVersion\":\"57\"}}");
	assert_string_equal(writes_status_version(&st), "57");
	assert_int_equal(wd->f->n, 2);
	assert_string_equal(wd->f->reqs[1]->body,
			    "{\"status\":{\"v\":2},\"metadata\":{\"resourceVersion\":\"57\"}}");
	/* The object changed meanwhile: 409, heard by the owner. */
	fake_answer(wd->f->reqs[1], 409, "{\"kind\":\"Status\",\"code\":409}");
	assert_int_equal(wd->n_heard, 2);
	assert_int_equal(wd->heard[1].status, 409);
	assert_string_equal(writes_status_version(&st), "57");
	assert_false(writes_status_busy(&st));
	/* Without a version: unconditional (a calendar's status). */
	assert_int_equal(
	    writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"status\":{}}"), NULL, on_done, &o),
	    0);
	assert_string_equal(wd->f->reqs[2]->body, "{\"status\":{}}");
	fake_answer(wd->f->reqs[2], 200, "{}");
	writes_status_release(wd->w, &st);
	world_free(wd);
}

/* A status write decided behind a POST is held like any routine write. */
static void test_writes_status_held_behind_post(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 1};
	struct writes_status st;
	writes_status_init(&st);
	send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j1", &o);
	assert_int_equal(
	    writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":1}"), NULL, on_done, &o), 0);
	assert_int_equal(
	    writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":2}"), NULL, on_done, &o), 0);
	assert_int_equal(wd->f->n, 1);
	fake_answer(wd->f->reqs[0], 201, "{}");
	/* The first put is the one held (in flight for its writer); the
	 * second waits for its answer. */
	assert_int_equal(wd->f->n, 2);
	assert_string_equal(wd->f->reqs[1]->body, "{\"v\":1}");
	fake_answer(wd->f->reqs[1], 200, "{}");
	assert_int_equal(wd->f->n, 3);
	assert_string_equal(wd->f->reqs[2]->body, "{\"v\":2}");
	fake_answer(wd->f->reqs[2], 200, "{}");
	writes_status_release(wd->w, &st);
	world_free(wd);
}

/* writes_status_drop drops the write waiting; the one in flight goes on. */
static void test_writes_status_drop(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 1};
	struct writes_status st;
	writes_status_init(&st);
	writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":1}"), NULL, on_done, &o);
	writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":2}"), NULL, on_done, &o);
	writes_status_drop(&st);
	assert_true(writes_status_busy(&st)); /* v1 is still on its way */
	fake_answer(wd->f->reqs[0], 500, "{}");
	assert_false(writes_status_busy(&st));
	fake_run_for(wd->f, 20);
	assert_int_equal(wd->f->n, 1);
	assert_int_equal(wd->n_heard, 1);
	assert_int_equal(wd->heard[0].status, 500);
	writes_status_release(wd->w, &st);
	world_free(wd);
}

/* The object goes while its write is in flight: the answer calls nothing
 * and touches nothing of it (valgrind sees any use of the freed writer). */
static void test_writes_status_release_in_flight(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 1};
	struct writes_status *st = malloc(sizeof(*st));
	writes_status_init(st);
	writes_status_put(wd->w, st, ST_A, cJSON_Parse("{\"v\":1}"), NULL, on_done, &o);
	writes_status_put(wd->w, st, ST_A, cJSON_Parse("{\"v\":2}"), NULL, on_done, &o);
	writes_status_release(wd->w, st);
	free(st);
	fake_answer(wd->f->reqs[0], 200, "{}");
	fake_run_for(wd->f, 20);
	assert_int_equal(wd->f->n, 1); /* v2 went with its object */
	assert_int_equal(wd->n_heard, 0);
	assert_int_equal(stats(wd).answered, 1);
	world_free(wd);
}

/* writes_forget: that owner's writes still leave and are answered, but
 * call nothing, held ones included; other owners still hear theirs. */
static void test_writes_forget_calls_nothing(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner gone = {wd, 1}, kept = {wd, 2};
	send(wd, WRITE_ROUTINE, KUBE_DELETE, JOBS "/a", NULL, "a", &gone);
	send(wd, WRITE_ROUTINE, KUBE_DELETE, JOBS "/b", NULL, "b", &kept);
	send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j", &gone);
	send(wd, WRITE_ROUTINE, KUBE_DELETE, JOBS "/c", NULL, "c", &gone);
	writes_forget(wd->w, &gone);
	fake_answer(wd->f->reqs[2], 201, "{}");
	assert_int_equal(wd->f->n, 4); /* the held one still left */
	assert_string_equal(wd->f->reqs[3]->path, JOBS "/c");
	fake_answer(wd->f->reqs[0], 200, "{}");
	fake_answer(wd->f->reqs[1], 200, "{}");
	fake_answer(wd->f->reqs[3], 404, "{}");
	assert_int_equal(wd->n_heard, 1);
	assert_ptr_equal(wd->heard[0].ud, &kept);
	assert_string_equal(wd->heard[0].tag, "b");
	assert_int_equal(stats(wd).answered, 4);
	world_free(wd);
}

/* writes_free with writes in flight and held: the ones in flight are
 * cancelled, the held ones never leave, nothing is called, nothing leaks
 * (valgrind), and the hold timer is gone. A status writer released first
 * (as the controller releases its objects before the module) leaves its
 * held write to writes_free. */
static void test_writes_free_cancels_in_flight_and_held(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 1};
	struct writes_status st;
	writes_status_init(&st);
	send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j", &o);
	send(wd, WRITE_KILL, KUBE_DELETE, "/api/v1/namespaces/ns/pods/p", "{}", "p", &o);
	send(wd, WRITE_ROUTINE, KUBE_DELETE, JOBS "/h", NULL, "h", &o);
	writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":1}"), NULL, on_done, &o);
	writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":2}"), NULL, on_done, &o);
	assert_int_equal(wd->f->n, 2);
	assert_int_equal(stats(wd).held, 2);
	assert_int_equal(loop_timer_count(wd->loop), 1);
	writes_status_release(wd->w, &st);
	writes_free(wd->w);
	wd->w = NULL;
	assert_int_equal(wd->f->cancels, 2);
	assert_int_equal(fake_open(wd->f), 0);
	fake_run_for(wd->f, 20);
	assert_int_equal(wd->f->n, 2);
	assert_int_equal(wd->n_heard, 0);
	assert_int_equal(loop_timer_count(wd->loop), 0);
	fake_tr_free(wd->f);
	loop_free(wd->loop);
	free(wd);
}

/* The transport refuses a write: writes_send says so and nothing is ever
 * called; a held write refused when its hold ends is answered as a
 * transport failure (-EIO) instead. */
static void test_writes_refused_by_transport(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 1};
	wd->f->refuse = 1;
	assert_true(send(wd, WRITE_ROUTINE, KUBE_DELETE, JOBS "/a", NULL, "a", &o) < 0);
	send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j", &o);
	assert_int_equal(send(wd, WRITE_ROUTINE, KUBE_DELETE, JOBS "/b", NULL, "b", &o), 0);
	wd->f->refuse = 1;
	fake_answer(wd->f->reqs[0], 201, "{}");
	assert_int_equal(wd->f->n, 1);
	assert_int_equal(wd->n_heard, 2);
	assert_string_equal(wd->heard[0].tag, "b");
	assert_int_equal(wd->heard[0].err, -EIO);
	assert_string_equal(wd->heard[1].tag, "j");
	world_free(wd);
}

static cJSON *body_json(const struct kube_req *r)
{
	assert_non_null(r->body);
	cJSON *j = cJSON_Parse(r->body);
	assert_non_null(j);
	return j;
}

static const char *jstr(const cJSON *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	const cJSON *it = o;
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
		it = cJSON_GetObjectItemCaseSensitive(it, k);
	const char *s = cJSON_GetStringValue(it);
	if (!s)
		fail_msg("no string at %s", path);
	return s;
}

static void assert_recent_time(const char *s)
{
	int64_t ms;
	assert_int_equal(rfc3339_parse(s, &ms), 0);
	int64_t now = loop_now_realtime_ms();
	assert_true(ms <= now && ms > now - 5000);
}

/* The recorder's POST: a core/v1 Event on the involved object, with this
 * controller's component and instance, routine (not exempt). */
static void test_writes_event_post_body(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 1};
	struct kube_event ev = {.api_version = "takt.io/v1alpha1",
				.kind = "BatchSchedule",
				.ns = "ns",
				.name = "bs",
				.uid = "uid-1",
				.event_name = "bs.17a",
				.warning = true,
				.reason = "Missed",
				.message = "2 slots missed",
				.count = 2};
	assert_int_equal(writes_event_post(wd->w, &ev, on_done, &o), 0);
	assert_int_equal(wd->f->n, 1);
	struct kube_req *r = wd->f->reqs[0];
	assert_int_equal(r->method, KUBE_POST);
	assert_string_equal(r->path, "/api/v1/namespaces/ns/events");
	assert_int_equal(r->exempt, 0);
	cJSON *j = body_json(r);
	assert_string_equal(jstr(j, "apiVersion"), "v1");
	assert_string_equal(jstr(j, "kind"), "Event");
	assert_string_equal(jstr(j, "metadata.name"), "bs.17a");
	assert_string_equal(jstr(j, "metadata.namespace"), "ns");
	assert_string_equal(jstr(j, "involvedObject.apiVersion"), "takt.io/v1alpha1");
	assert_string_equal(jstr(j, "involvedObject.kind"), "BatchSchedule");
	assert_string_equal(jstr(j, "involvedObject.namespace"), "ns");
	assert_string_equal(jstr(j, "involvedObject.name"), "bs");
	assert_string_equal(jstr(j, "involvedObject.uid"), "uid-1");
	assert_string_equal(jstr(j, "reason"), "Missed");
	assert_string_equal(jstr(j, "message"), "2 slots missed");
	assert_string_equal(jstr(j, "type"), "Warning");
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "count")), 2);
	assert_string_equal(jstr(j, "source.component"), "takt-controller");
	assert_string_equal(jstr(j, "reportingComponent"), "takt-controller");
	assert_string_equal(jstr(j, "reportingInstance"), "inst-1");
	assert_recent_time(jstr(j, "firstTimestamp"));
	assert_string_equal(jstr(j, "firstTimestamp"), jstr(j, "lastTimestamp"));
	cJSON_Delete(j);

	fake_answer(r, 201, "{}");
	assert_int_equal(wd->n_heard, 1);
	assert_string_equal(wd->heard[0].tag, "Missed"); /* the tag is the reason */
	assert_int_equal(stats(wd).events_posted, 1);

	/* A Normal one of count 0 is sent as 1. */
	ev.warning = false;
	ev.count = 0;
	writes_event_post(wd->w, &ev, NULL, NULL);
	j = body_json(wd->f->reqs[1]);
	assert_string_equal(jstr(j, "type"), "Normal");
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "count")), 1);
	cJSON_Delete(j);
	fake_answer(wd->f->reqs[1], 201, "{}");
	assert_int_equal(stats(wd).events_posted, 2);
	world_free(wd);
}

/* The recorder's update: a merge patch of count, lastTimestamp and
 * message on the named Event, and nothing else. */
static void test_writes_event_update_body(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 1};
	assert_int_equal(
	    writes_event_update(wd->w, "ns", "bs.17a", "Missed", 5, "3 slots missed", on_done, &o),
	    0);
	struct kube_req *r = wd->f->reqs[0];
	assert_int_equal(r->method, KUBE_PATCH_MERGE);
	assert_string_equal(r->path, "/api/v1/namespaces/ns/events/bs.17a");
	assert_int_equal(r->exempt, 0);
	cJSON *j = body_json(r);
	assert_int_equal(cJSON_GetArraySize(j), 3);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "count")), 5);
	assert_string_equal(jstr(j, "message"), "3 slots missed");
	assert_recent_time(jstr(j, "lastTimestamp"));
	cJSON_Delete(j);
	fake_answer(r, 200, "{}");
	assert_int_equal(stats(wd).events_posted, 1);
	assert_string_equal(wd->heard[0].tag, "Missed");
	world_free(wd);
}

/* Only Events answered 2xx are counted: AlreadyExists (409), a server
 * error and a transport failure are not; done hears each of them. */
static void test_writes_event_failures_not_counted(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 1};
	struct kube_event ev = {.api_version = "v1",
				.kind = "Pod",
				.ns = "ns",
				.name = "p",
				.event_name = "p.1",
				.reason = "KillIgnored",
				.message = "m"};
	for (int i = 0; i < 3; i++)
		writes_event_post(wd->w, &ev, on_done, &o);
	writes_event_update(wd->w, "ns", "p.1", "KillIgnored", 2, "m", on_done, &o);
	assert_int_equal(wd->f->n, 4);
	fake_answer(wd->f->reqs[0], 409, "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\"}");
	fake_answer(wd->f->reqs[1], 500, "{}");
	fake_fail(wd->f->reqs[2], -ETIMEDOUT);
	fake_answer(wd->f->reqs[3], 404, "{}");
	assert_int_equal(stats(wd).events_posted, 0);
	assert_int_equal(wd->n_heard, 4);
	assert_int_equal(wd->heard[0].status, 409);
	assert_int_equal(wd->heard[2].err, -ETIMEDOUT);
	/* Without the JSON involvedObject.uid when none is given. */
	cJSON *j = body_json(wd->f->reqs[0]);
	assert_null(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(j, "involvedObject"), "uid"));
	cJSON_Delete(j);
	world_free(wd);
}

/* Events are routine writes: held behind a Job POST like the rest. */
static void test_writes_event_held_behind_post(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct kube_event ev = {.api_version = "v1",
				.kind = "Pod",
				.ns = "ns",
				.name = "p",
				.event_name = "p.1",
				.reason = "R",
				.message = "m"};
	send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j", NULL);
	writes_event_post(wd->w, &ev, NULL, NULL);
	writes_event_update(wd->w, "ns", "p.1", "R", 2, "m", NULL, NULL);
	assert_int_equal(wd->f->n, 1);
	assert_int_equal(stats(wd).held, 2);
	fake_answer(wd->f->reqs[0], 201, "{}");
	assert_int_equal(wd->f->n, 3);
	assert_int_equal(wd->f->reqs[1]->method, KUBE_POST);
	assert_int_equal(wd->f->reqs[2]->method, KUBE_PATCH_MERGE);
	fake_answer(wd->f->reqs[1], 201, "{}");
	fake_answer(wd->f->reqs[2], 200, "{}");
	assert_int_equal(stats(wd).events_posted, 2);
	world_free(wd);
}

/* ---- the gate (leader election) ---------------------------------------------------- */

/* While disabled nothing leaves, whatever its kind, and nothing is called:
 * every entry point says -EPERM (a status body given is freed: valgrind).
 * Enabled again, writes leave as before. */
static void test_writes_gate_refuses_everything(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 1};
	struct writes_status st;
	writes_status_init(&st);
	struct kube_event ev = {.api_version = "takt.io/v1alpha1",
				.kind = "BatchSchedule",
				.ns = "ns",
				.name = "bs",
				.event_name = "bs.1",
				.reason = "Started",
				.message = "m",
				.count = 1};
	assert_true(writes_enabled(wd->w));
	writes_set_enabled(wd->w, false);
	assert_false(writes_enabled(wd->w));
	assert_int_equal(send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j1", &o), -EPERM);
	assert_int_equal(send(wd, WRITE_KILL, KUBE_DELETE, JOBS "/j0", "{}", "j0", &o), -EPERM);
	assert_int_equal(send(wd, WRITE_ROUTINE, KUBE_PATCH_MERGE, ST_A, "{}", "st", &o), -EPERM);
	assert_int_equal(
	    writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":1}"), NULL, on_done, &o),
	    -EPERM);
	assert_false(writes_status_busy(&st));
	assert_int_equal(writes_event_post(wd->w, &ev, on_done, &o), -EPERM);
	assert_int_equal(writes_event_update(wd->w, "ns", "bs.1", "Started", 2, "m", on_done, &o),
			 -EPERM);
	fake_run_for(wd->f, 2 * WRITES_HOLD_MAX_MS / 10);
	assert_int_equal(wd->f->n, 0);
	assert_int_equal(wd->n_heard, 0);
	assert_int_equal(stats(wd).sent, 0);

	writes_set_enabled(wd->w, false); /* idempotent */
	writes_set_enabled(wd->w, true);
	assert_int_equal(send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j1", &o), 0);
	assert_int_equal(
	    writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":2}"), NULL, on_done, &o), 0);
	assert_int_equal(wd->f->n, 1); /* the status is held behind the POST */
	fake_answer(wd->f->reqs[0], 201, "{}");
	assert_int_equal(wd->f->n, 2);
	assert_string_equal(wd->f->reqs[1]->body, "{\"v\":2}");
	fake_answer(wd->f->reqs[1], 200, "{}");
	assert_int_equal(wd->n_heard, 2);
	writes_status_release(wd->w, &st);
	world_free(wd);
}

/* Disabling drops the writes held behind a Job POST without sending them:
 * each owner hears -ECANCELED at once, in the order decided, and a status
 * writer is free again. The POST already sent is not recalled: its answer
 * still comes, and releases nothing. stats().inflight counts what has
 * left and is unanswered. */
static void test_writes_gate_drops_held(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner post = {wd, 1}, a = {wd, 2}, b = {wd, 3};
	struct writes_status st;
	writes_status_init(&st);
	send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j1", &post);
	send(wd, WRITE_ROUTINE, KUBE_DELETE, JOBS "/old", NULL, "old", &a);
	writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":1}"), NULL, on_done, &b);
	writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":2}"), NULL, on_done, &b);
	assert_int_equal(wd->f->n, 1);
	assert_int_equal(stats(wd).inflight, 1);
	assert_true(writes_status_busy(&st));

	writes_set_enabled(wd->w, false);
	assert_int_equal(wd->n_heard, 3);
	assert_ptr_equal(wd->heard[0].ud, &a);
	assert_string_equal(wd->heard[0].tag, "old");
	assert_int_equal(wd->heard[0].err, -ECANCELED);
	/* The status write held; the one waiting behind it is refused. */
	assert_ptr_equal(wd->heard[1].ud, &b);
	assert_int_equal(wd->heard[1].err, -ECANCELED);
	assert_ptr_equal(wd->heard[2].ud, &b);
	assert_int_equal(wd->heard[2].err, -EPERM);
	assert_false(writes_status_busy(&st));
	assert_int_equal(wd->f->n, 1);

	/* Past the hold's end nothing leaves either. */
	fake_run_for(wd->f, WRITES_HOLD_MAX_MS + 50);
	assert_int_equal(wd->f->n, 1);
	assert_int_equal(stats(wd).inflight, 1);
	fake_answer(wd->f->reqs[0], 201, "{}");
	assert_int_equal(wd->n_heard, 4);
	assert_ptr_equal(wd->heard[3].ud, &post);
	assert_int_equal(wd->heard[3].status, 201);
	assert_int_equal(wd->f->n, 1);
	struct writes_stats s = stats(wd);
	assert_int_equal(s.inflight, 0);
	assert_int_equal(s.posts_inflight, 0);
	assert_int_equal(s.sent, 1);
	writes_status_release(wd->w, &st);
	world_free(wd);
}

/* A status write in flight when the gate closes finishes; the newer one
 * waiting behind it never leaves (its owner hears -EPERM). */
static void test_writes_gate_status_waiting_refused(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 1};
	struct writes_status st;
	writes_status_init(&st);
	writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":1}"), NULL, on_done, &o);
	writes_status_put(wd->w, &st, ST_A, cJSON_Parse("{\"v\":2}"), NULL, on_done, &o);
	assert_int_equal(wd->f->n, 1);
	writes_set_enabled(wd->w, false);
	assert_int_equal(wd->n_heard, 0);
	assert_true(writes_status_busy(&st));
	fake_answer(wd->f->reqs[0], 200, "{}");
	assert_int_equal(wd->n_heard, 2);
	assert_int_equal(wd->heard[0].status, 200);
	assert_int_equal(wd->heard[1].err, -EPERM);
	assert_false(writes_status_busy(&st));
	fake_run_for(wd->f, 20);
	assert_int_equal(wd->f->n, 1);
	writes_status_release(wd->w, &st);
	world_free(wd);
}

static bool check_flag(const void *ud)
{
	return *(const bool *)ud;
}

/* The check (leader election's clock): asked before any write leaves. A
 * write decided while it says no is refused; a held write whose turn
 * comes after it turned no is answered -EPERM and never sent. */
static void test_writes_check_asked_before_every_write(void **state)
{
	(void)state;
	struct world *wd = world_new();
	struct owner o = {wd, 1}, post = {wd, 2};
	bool ok = false;
	writes_set_check(wd->w, check_flag, &ok);
	assert_int_equal(send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j0", &o), -EPERM);
	assert_int_equal(wd->f->n, 0);
	ok = true;
	assert_int_equal(send(wd, WRITE_JOB_POST, KUBE_POST, JOBS, "{}", "j1", &post), 0);
	assert_int_equal(send(wd, WRITE_ROUTINE, KUBE_PATCH_MERGE, ST_A, "{}", "st", &o), 0);
	assert_int_equal(wd->f->n, 1); /* held */
	ok = false;
	fake_answer(wd->f->reqs[0], 201, "{}");
	assert_int_equal(wd->f->n, 1);
	assert_int_equal(wd->n_heard, 2);
	assert_ptr_equal(wd->heard[0].ud, &o);
	assert_int_equal(wd->heard[0].err, -EPERM);
	assert_ptr_equal(wd->heard[1].ud, &post);
	assert_int_equal(wd->heard[1].status, 201);
	writes_set_check(wd->w, NULL, NULL);
	assert_int_equal(send(wd, WRITE_ROUTINE, KUBE_PATCH_MERGE, ST_A, "{}", "st", &o), 0);
	assert_int_equal(wd->f->n, 2);
	fake_answer(wd->f->reqs[1], 200, "{}");
	world_free(wd);
}

int main(void)
{
	/* Expected failures are logged as errors; only those are shown. */
	log_set_level("error");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_writes_routine_held_behind_post_in_order),
	    cmocka_unit_test(test_writes_routine_capped_in_order),
	    cmocka_unit_test(test_writes_urgent_status_ahead_of_backlog),
	    cmocka_unit_test(test_writes_quiet_around_announced_slot),
	    cmocka_unit_test(test_writes_urgent_put_promotes_held_write),
	    cmocka_unit_test(test_writes_hold_waits_for_every_post),
	    cmocka_unit_test(test_writes_hold_ends_after_max_ms),
	    cmocka_unit_test(test_writes_exempt_and_never_held),
	    cmocka_unit_test(test_writes_status_one_in_flight_newest_waits),
	    cmocka_unit_test(test_writes_status_conditional_on_version),
	    cmocka_unit_test(test_writes_status_held_behind_post),
	    cmocka_unit_test(test_writes_status_drop),
	    cmocka_unit_test(test_writes_status_release_in_flight),
	    cmocka_unit_test(test_writes_forget_calls_nothing),
	    cmocka_unit_test(test_writes_free_cancels_in_flight_and_held),
	    cmocka_unit_test(test_writes_refused_by_transport),
	    cmocka_unit_test(test_writes_event_post_body),
	    cmocka_unit_test(test_writes_event_update_body),
	    cmocka_unit_test(test_writes_event_failures_not_counted),
	    cmocka_unit_test(test_writes_event_held_behind_post),
	    cmocka_unit_test(test_writes_gate_refuses_everything),
	    cmocka_unit_test(test_writes_gate_drops_held),
	    cmocka_unit_test(test_writes_gate_status_waiting_refused),
	    cmocka_unit_test(test_writes_check_asked_before_every_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
