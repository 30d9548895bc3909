/* Unit tests for pkg/leader: leader election on a Lease, on the real event
 * loop with the fake transport (tests/unit/fake_transport.h), which the
 * tests answer as the apiserver would. Durations are short (lease 1 s,
 * renew deadline 600 ms, retry 200 ms) so that expiry and deadlines happen
 * in real time within a second or two.
 *
 * Timing: a loaded machine (CI shares its cores) runs timers late, by any
 * amount. So no test asserts how soon something happened: the elector's
 * decisions are read from leader_get_stats (the delay it chose, the
 * instant its next attempt is due, its renew deadline) and checked
 * exactly; what the loop did with them is checked by lower bounds only (a
 * timer never fires early); waits for a request (WAIT_MS) bound the
 * waiting, never the assertion. What they pin down: a missing Lease
 * is created; an expired one is taken with a PUT carrying its
 * resourceVersion, and not before it ran out by our own clock; one renewed
 * by another is never taken; a released one (no holder) is taken at once;
 * the leader renews every retry period with the version of its last write;
 * it stops exactly once, at the deadline, when renewals fail, and at once
 * when another holder shows up or a 409 says someone else wrote; release
 * clears the holder as client-go does; the option rules and the duration
 * and identity helpers. */
#include <errno.h>
#include <regex.h>
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
#include "kube/http.h"
#include "leader/leader.h"
#include "loop/loop.h"

#include "fake_transport.h"

#define LEASE_MS 1000
#define RENEW_MS 600
#define RETRY_MS 200
#define ID	 "me_0001"
#define OTHER	 "other_0002"
#define LEASES	 "/apis/coordination.k8s.io/v1/namespaces/ns/leases"
#define LEASE	 LEASES "/takt"
/* How long a test waits for a request it expects: a bound on waiting
 * only, far beyond any load, so that a slow machine only makes the test
 * slower; a missing request still fails it. */
#define WAIT_MS 5000
/* A candidate's wait: retry * [1, 1 + 1.2) (client-go's JitterFactor). */
#define JITTER_MIN RETRY_MS
#define JITTER_MAX ((int64_t)(RETRY_MS * (1 + LEADER_JITTER_FACTOR)) - 1)

struct world {
	struct loop *loop;
	struct fake_tr *f;
	struct leader *le;
	size_t seen; /* requests looked at so far */
	int started, stopped, released, released_ok;
	int64_t started_at, stopped_at;
	int64_t won_at;	   /* acquire(): just before the winning answer */
	int64_t sent_from; /* acquire(): before the POST was decided */
	char new_leaders[8][64];
	int n_new;
	/* For the callback that releases from inside `started`. */
	bool release_in_started;
};

static void on_started(void *ud)
{
	struct world *w = ud;
	w->started++;
	w->started_at = loop_now_monotonic_ms();
	assert_true(leader_is_leader(w->le));
	if (w->release_in_started)
		leader_release(w->le, NULL, NULL);
}

static void on_stopped(void *ud)
{
	struct world *w = ud;
	w->stopped++;
	w->stopped_at = loop_now_monotonic_ms();
	assert_false(leader_is_leader(w->le));
}

static void on_new_leader(void *ud, const char *id)
{
	struct world *w = ud;
	assert_true(w->n_new < 8);
	snprintf(w->new_leaders[w->n_new++], sizeof(w->new_leaders[0]), "%s", id);
}

static void on_released(void *ud, bool ok)
{
	struct world *w = ud;
	w->released++;
	w->released_ok = ok;
}

static struct leader_opts opts(struct world *w)
{
	return (struct leader_opts){.name = "takt",
				    .namespace = "ns",
				    .identity = ID,
				    .lease_ms = LEASE_MS,
				    .renew_deadline_ms = RENEW_MS,
				    .retry_ms = RETRY_MS,
				    .started = on_started,
				    .stopped = on_stopped,
				    .new_leader = on_new_leader,
				    .ud = w};
}

static struct world *world_new(void)
{
	struct world *w = calloc(1, sizeof(*w));
	char err[256];
	assert_int_equal(loop_new(&w->loop), 0);
	w->f = fake_tr_new(w->loop);
	struct leader_opts o = opts(w);
	assert_int_equal(leader_new(w->loop, &w->f->tr, &o, &w->le, err, sizeof(err)), 0);
	return w;
}

static void world_free(struct world *w)
{
	leader_free(w->le);
	/* Every timer of the elector is gone with it. */
	assert_int_equal(loop_timer_count(w->loop), 0);
	assert_int_equal(fake_open(w->f), 0);
	fake_tr_free(w->f);
	loop_free(w->loop);
	free(w);
}

/* The next request made, within timeout_ms, or NULL. */
static struct kube_req *next_req(struct world *w, int64_t timeout_ms)
{
	struct kube_req *r = fake_run_until_req(w->f, w->seen, FAKE_ANY, NULL, timeout_ms);
	if (r)
		w->seen = r->index + 1;
	return r;
}

static struct kube_req *expect_req(struct world *w, enum kube_method m, const char *path,
				   int64_t timeout_ms)
{
	struct kube_req *r = next_req(w, timeout_ms);
	if (!r)
		fail_msg("no request within %lld ms", (long long)timeout_ms);
	assert_int_equal(r->method, m);
	assert_string_equal(r->path, path);
	/* Lease requests never wait for a rate-limit token. */
	assert_true(r->exempt);
	return r;
}

static void lease_json(char *out, size_t n, const char *rv, const char *holder, int dur,
		       const char *acquire, const char *renew, int transitions)
{
	snprintf(out, n,
		 "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
		 "\"metadata\":{\"name\":\"takt\",\"namespace\":\"ns\",\"resourceVersion\":\"%s\","
		 "\"labels\":{\"keep\":\"me\"}},"
		 "\"spec\":{\"holderIdentity\":\"%s\",\"leaseDurationSeconds\":%d,"
		 "\"acquireTime\":\"%s\",\"renewTime\":\"%s\",\"leaseTransitions\":%d}}",
		 rv, holder, dur, acquire, renew, transitions);
}

/* The Lease a write asked for, as the apiserver answers it: the body with
 * a new resourceVersion. */
static void answer_write(struct kube_req *r, int status, const char *rv)
{
	cJSON *o = cJSON_Parse(r->body);
	assert_non_null(o);
	cJSON *md = cJSON_GetObjectItem(o, "metadata");
	cJSON_DeleteItemFromObject(md, "resourceVersion");
	cJSON_AddStringToObject(md, "resourceVersion", rv);
	char *s = cJSON_PrintUnformatted(o);
	fake_answer(r, status, s);
	free(s);
	cJSON_Delete(o);
}

struct spec {
	char holder[64], acquire[64], renew[64], rv[32];
	int dur, transitions;
	bool labels_kept;
};

static void body_spec(const struct kube_req *r, struct spec *s)
{
	cJSON *o = cJSON_Parse(r->body);
	assert_non_null(o);
	const cJSON *md = cJSON_GetObjectItem(o, "metadata");
	const cJSON *sp = cJSON_GetObjectItem(o, "spec");
	assert_non_null(sp);
	memset(s, 0, sizeof(*s));
	const cJSON *v = cJSON_GetObjectItem(sp, "holderIdentity");
	assert_true(cJSON_IsString(v));
	snprintf(s->holder, sizeof(s->holder), "%s", v->valuestring);
	snprintf(s->acquire, sizeof(s->acquire), "%s",
		 cJSON_GetStringValue(cJSON_GetObjectItem(sp, "acquireTime")));
	snprintf(s->renew, sizeof(s->renew), "%s",
		 cJSON_GetStringValue(cJSON_GetObjectItem(sp, "renewTime")));
	s->dur = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(sp, "leaseDurationSeconds"));
	s->transitions = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(sp, "leaseTransitions"));
	const char *rv = cJSON_GetStringValue(cJSON_GetObjectItem(md, "resourceVersion"));
	snprintf(s->rv, sizeof(s->rv), "%s", rv ? rv : "");
	s->labels_kept = cJSON_GetObjectItem(md, "labels") != NULL;
	cJSON_Delete(o);
}

/* metav1.MicroTime as the apiserver writes it. */
static void assert_micro_time(const char *s)
{
	regex_t re;
	assert_int_equal(regcomp(&re,
				 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\."
				 "[0-9]{6}Z$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	int rc = regexec(&re, s, 0, NULL, 0);
	regfree(&re);
	if (rc)
		fail_msg("not a MicroTime: \"%s\"", s);
}

/* The elector's decisions so far. */
static struct leader_stats stats(const struct world *w)
{
	struct leader_stats st;
	leader_get_stats(w->le, &st);
	return st;
}

/* Takes the lease through the missing-Lease path: GET 404, POST 201 (rv 1).
 * The POST's clock is read between sent_from and its at_mono_ms. */
static void acquire(struct world *w)
{
	leader_start(w->le);
	struct kube_req *get = expect_req(w, KUBE_GET, LEASE, WAIT_MS);
	w->sent_from = loop_now_monotonic_ms();
	fake_answer(get, 404, "{}");
	struct kube_req *post = expect_req(w, KUBE_POST, LEASES, WAIT_MS);
	w->won_at = loop_now_monotonic_ms();
	answer_write(post, 201, "1");
	assert_int_equal(w->started, 1);
	assert_true(leader_is_leader(w->le));
}

/* ---- acquiring ------------------------------------------------------------------------ */

static void test_leader_creates_missing_lease(void **state)
{
	(void)state;
	struct world *w = world_new();
	struct spec s;
	leader_start(w->le);
	assert_false(leader_is_leader(w->le));
	fake_answer(expect_req(w, KUBE_GET, LEASE, WAIT_MS), 404, "{}");
	/* From the 404's answer itself, not a later attempt. */
	assert_int_equal(fake_count(w->f, w->seen, FAKE_ANY, NULL), 1);
	struct kube_req *post = expect_req(w, KUBE_POST, LEASES, WAIT_MS);
	body_spec(post, &s);
	assert_string_equal(s.holder, ID);
	assert_int_equal(s.dur, LEASE_MS / 1000);
	assert_int_equal(s.transitions, 0);
	assert_micro_time(s.acquire);
	assert_string_equal(s.acquire, s.renew);
	assert_int_equal(w->started, 0); /* not before the answer */
	answer_write(post, 201, "1");
	assert_int_equal(w->started, 1);
	assert_true(leader_is_leader(w->le));
	assert_int_equal(w->n_new, 1);
	assert_string_equal(w->new_leaders[0], ID);
	assert_string_equal(leader_holder(w->le), ID);
	world_free(w);
}

/* A Lease nobody renews is taken once it ran out by our clock: its
 * leaseDurationSeconds after we first saw that record, not earlier, with
 * a PUT carrying the resourceVersion read and one more transition. The
 * elector reads the clock when a GET is answered: an answer that ends
 * before the lease can have run out must not write, one that starts after
 * it surely ran out must write at once (between the two, either is
 * right). Between attempts it waits retry + jitter. */
static void test_leader_takes_expired_lease(void **state)
{
	(void)state;
	struct world *w = world_new();
	char body[1024];
	struct spec s;
	lease_json(body, sizeof(body), "7", OTHER, 1, "2026-01-01T00:00:00.000000Z",
		   "2026-01-01T00:00:05.000000Z", 3);
	leader_start(w->le);
	struct kube_req *r = expect_req(w, KUBE_GET, LEASE, WAIT_MS);
	/* The elector observes the record between these two readings. */
	int64_t seen_from = loop_now_monotonic_ms();
	fake_answer(r, 200, body);
	int64_t seen_by = loop_now_monotonic_ms();
	assert_int_equal(w->n_new, 1);
	assert_string_equal(w->new_leaders[0], OTHER);
	/* The same record every time: it runs out LEASE_MS after it was
	 * observed. */
	struct kube_req *put = NULL;
	for (int attempts = 1; !put; attempts++) {
		if (attempts > 100)
			fail_msg("the lease was never taken");
		struct leader_stats st = stats(w);
		assert_in_range(st.next_wait_ms, JITTER_MIN, JITTER_MAX);
		r = expect_req(w, KUBE_GET, LEASE, WAIT_MS);
		assert_true(r->at_mono_ms >= st.next_at_ms); /* never early */
		int64_t before = loop_now_monotonic_ms();
		fake_answer(r, 200, body);
		int64_t after = loop_now_monotonic_ms();
		bool wrote = fake_count(w->f, w->seen, FAKE_ANY, NULL) > 0;
		if (after < seen_from + LEASE_MS && wrote)
			fail_msg("the lease was taken %lld ms after it was seen, before it ran out",
				 (long long)(after - seen_from));
		if (before >= seen_by + LEASE_MS && !wrote)
			fail_msg("the lease was not taken %lld ms after it was seen",
				 (long long)(before - seen_by));
		if (wrote)
			put = expect_req(w, KUBE_PUT, LEASE, WAIT_MS);
	}
	assert_true(put->at_mono_ms - seen_from >= LEASE_MS);
	body_spec(put, &s);
	assert_string_equal(s.rv, "7");
	assert_string_equal(s.holder, ID);
	assert_int_equal(s.transitions, 4);
	assert_int_equal(s.dur, 1);
	assert_micro_time(s.renew);
	assert_string_equal(s.acquire, s.renew);
	assert_true(s.labels_kept); /* the object as read, only the spec new */
	assert_int_equal(w->started, 0);
	answer_write(put, 200, "8");
	assert_int_equal(w->started, 1);
	assert_int_equal(w->n_new, 2);
	assert_string_equal(w->new_leaders[1], ID);
	world_free(w);
}

/* A holder that keeps renewing keeps the lease: for three lease durations
 * (and at least four attempts, however slow the machine) nothing is
 * written and every attempt is a GET, each a retry period plus a jitter
 * after the previous one, the jitter spread (candidates do not march in
 * step). */
static void test_leader_leaves_renewed_lease_alone(void **state)
{
	(void)state;
	struct world *w = world_new();
	char body[1024], renew[64], rv[16];
	leader_start(w->le);
	int64_t end = loop_now_monotonic_ms() + 3 * LEASE_MS;
	int64_t min_wait = INT64_MAX, max_wait = 0;
	int gets = 0;
	while (gets < 4 || loop_now_monotonic_ms() < end) {
		struct leader_stats st = stats(w);
		struct kube_req *r = expect_req(w, KUBE_GET, LEASE, WAIT_MS);
		if (gets > 0) {
			assert_true(r->at_mono_ms >= st.next_at_ms);
			assert_in_range(st.next_wait_ms, JITTER_MIN, JITTER_MAX);
			min_wait = st.next_wait_ms < min_wait ? st.next_wait_ms : min_wait;
			max_wait = st.next_wait_ms > max_wait ? st.next_wait_ms : max_wait;
		}
		gets++;
		snprintf(renew, sizeof(renew), "2026-01-01T00:00:%02d.000000Z", gets % 60);
		snprintf(rv, sizeof(rv), "%d", 10 + gets);
		lease_json(body, sizeof(body), rv, OTHER, 1, "2026-01-01T00:00:00.000000Z", renew,
			   0);
		fake_answer(r, 200, body);
		/* A read of a valid lease held by another never writes. */
		assert_int_equal(fake_count(w->f, w->seen, FAKE_ANY, NULL), 0);
	}
	/* Three or more waits drawn from 240 values: all equal means no
	 * jitter (a chance of 1 in 57600 at worst). */
	assert_true(max_wait > min_wait);
	assert_int_equal(fake_count(w->f, 0, FAKE_ANY_WRITE, NULL), 0);
	assert_int_equal(w->started, 0);
	assert_false(leader_is_leader(w->le));
	assert_int_equal(w->n_new, 1); /* the same holder, reported once */
	assert_string_equal(w->new_leaders[0], OTHER);
	world_free(w);
}

/* A released Lease (no holder, client-go's 1 s lease) is taken at the
 * first attempt, without waiting for it to run out: a rolling update hands
 * over at once. */
static void test_leader_takes_released_lease_at_once(void **state)
{
	(void)state;
	struct world *w = world_new();
	char body[1024];
	struct spec s;
	lease_json(body, sizeof(body), "20", "", 1, "2026-01-01T00:00:00.000000Z",
		   "2026-01-01T00:00:00.000000Z", 5);
	leader_start(w->le);
	fake_answer(expect_req(w, KUBE_GET, LEASE, WAIT_MS), 200, body);
	/* The PUT leaves from the GET's answer itself, not a later attempt. */
	assert_int_equal(fake_count(w->f, w->seen, FAKE_ANY, NULL), 1);
	struct kube_req *put = expect_req(w, KUBE_PUT, LEASE, WAIT_MS);
	body_spec(put, &s);
	assert_string_equal(s.rv, "20");
	assert_int_equal(s.transitions, 6);
	answer_write(put, 200, "21");
	assert_int_equal(w->started, 1);
	assert_int_equal(w->n_new, 1); /* "" is not a leader */
	world_free(w);
}

/* ---- leading ------------------------------------------------------------------------------ */

/* The leader renews every retry period with one PUT of its last write
 * (its resourceVersion the precondition), acquireTime and transitions
 * kept, renewTime moving on. The period is the elector's decision, read
 * from its stats: exactly the retry period, no candidate's jitter; the
 * loop is only checked never to run it early. Each renewal moves the
 * deadline to retry + renew deadline after that renewal left. */
static void test_leader_renews(void **state)
{
	(void)state;
	struct world *w = world_new();
	struct spec first, s;
	acquire(w);
	body_spec(w->f->reqs[1], &first);
	char prev_rv[16] = "1", prev_renew[64];
	snprintf(prev_renew, sizeof(prev_renew), "%s", first.renew);
	for (int i = 0; i < 6; i++) {
		struct leader_stats st = stats(w);
		assert_int_equal(st.next_wait_ms, RETRY_MS);
		struct kube_req *r = expect_req(w, KUBE_PUT, LEASE, WAIT_MS);
		assert_true(r->at_mono_ms >= st.next_at_ms);
		/* The renewal's clock is read between the timer's due time and
		 * the request's record. */
		int64_t sent_from = st.next_at_ms, sent_by = r->at_mono_ms;
		body_spec(r, &s);
		assert_string_equal(s.rv, prev_rv);
		assert_string_equal(s.holder, ID);
		assert_string_equal(s.acquire, first.acquire);
		assert_int_equal(s.transitions, 0);
		assert_true(strcmp(s.renew, prev_renew) > 0);
		snprintf(prev_rv, sizeof(prev_rv), "%d", 2 + i);
		snprintf(prev_renew, sizeof(prev_renew), "%s", s.renew);
		answer_write(r, 200, prev_rv);
		st = stats(w);
		assert_in_range(st.deadline_ms, sent_from + RETRY_MS + RENEW_MS,
				sent_by + RETRY_MS + RENEW_MS);
	}
	assert_int_equal(w->stopped, 0);
	assert_int_equal(w->started, 1);
	assert_true(leader_is_leader(w->le));
	struct leader_stats st;
	leader_get_stats(w->le, &st);
	assert_int_equal(st.renewals, 7);
	assert_int_equal(st.transitions, 1);
	world_free(w);
}

/* Renewals that fail: the leader stops once, at retry + renew deadline
 * after its last successful write left (not after its answer, which comes
 * 100 ms later here), even with a request still on its way (cancelled),
 * and tries nothing after. Failed attempts are tried again a retry period
 * later and leave the deadline where it was.
 *
 * The deadline is the elector's decision, checked exactly; the instant
 * `stopped` ran is checked never to be before it, and not absurdly after:
 * 5 s late is no load but a timer never armed (the loop gives up there). */
static void test_leader_stops_at_renew_deadline(void **state)
{
	(void)state;
	struct world *w = world_new();
	leader_start(w->le);
	struct kube_req *get = expect_req(w, KUBE_GET, LEASE, WAIT_MS);
	int64_t sent_from = loop_now_monotonic_ms();
	fake_answer(get, 404, "{}");
	struct kube_req *post = expect_req(w, KUBE_POST, LEASES, WAIT_MS);
	/* No timer is armed while the write is on its way. */
	fake_run_for(w->f, 100);
	answer_write(post, 201, "1");
	assert_int_equal(w->started, 1);
	int64_t deadline = stats(w).deadline_ms;
	assert_in_range(deadline, sent_from + RETRY_MS + RENEW_MS,
			post->at_mono_ms + RETRY_MS + RENEW_MS);

	/* The first attempt fails: its PUT, then the GET it falls back to. */
	struct kube_req *r = expect_req(w, KUBE_PUT, LEASE, WAIT_MS);
	fake_answer(r, 500, "{\"kind\":\"Status\"}");
	r = expect_req(w, KUBE_GET, LEASE, WAIT_MS);
	fake_fail(r, -ETIMEDOUT);
	struct leader_stats st = stats(w);
	assert_int_equal(st.next_wait_ms, RETRY_MS); /* leading: no jitter */
	assert_int_equal(st.deadline_ms, deadline);  /* a failure moves nothing */
	assert_int_equal(w->stopped, 0);

	/* The second attempt's request hangs until the deadline. It is due
	 * 300 ms before the deadline (the write left 100 ms before its
	 * answer, then two retry periods): unless the loop ran that late, in
	 * which case the elector rightly stops without sending it, and there
	 * is no request on its way to check. */
	struct kube_req *hung = NULL;
	int64_t give_up = loop_now_monotonic_ms() + WAIT_MS;
	while (!w->stopped && loop_now_monotonic_ms() < give_up) {
		fake_run_for(w->f, 20);
		if (!hung && w->f->n > w->seen)
			hung = next_req(w, 0);
	}
	assert_int_equal(w->stopped, 1);
	assert_true(w->stopped_at >= deadline);
	assert_true(w->stopped_at < deadline + WAIT_MS);
	if (hung) {
		assert_string_equal(hung->path, LEASE);
		assert_true(hung->method == KUBE_PUT || hung->method == KUBE_GET);
		assert_int_equal(hung->state, FAKE_CANCELLED);
	}
	assert_false(leader_is_leader(w->le));
	size_t n = w->f->n;
	fake_run_for(w->f, 3 * RETRY_MS);
	assert_int_equal(w->f->n, n);
	assert_int_equal(w->stopped, 1);
	assert_int_equal(w->started, 1);
	world_free(w);
}

/* The fast path's PUT refused (our copy stale), the read shows another
 * holder: the leader stops at once, from that answer, not at the deadline
 * (whose timer runs only from the loop, which the answers do not run). */
static void test_leader_stops_when_another_holds(void **state)
{
	(void)state;
	struct world *w = world_new();
	char body[1024];
	acquire(w);
	struct kube_req *put = expect_req(w, KUBE_PUT, LEASE, WAIT_MS);
	fake_answer(put, 409, "{}");
	struct kube_req *get = expect_req(w, KUBE_GET, LEASE, WAIT_MS);
	lease_json(body, sizeof(body), "9", OTHER, 15, "2026-01-01T00:00:00.000000Z",
		   "2026-01-01T00:00:00.000000Z", 1);
	assert_int_equal(w->stopped, 0);
	fake_answer(get, 200, body);
	assert_int_equal(w->stopped, 1);
	assert_false(leader_is_leader(w->le));
	assert_int_equal(fake_count(w->f, w->seen, FAKE_ANY, NULL), 0);
	world_free(w);
}

/* A 409 on the PUT after a read means someone wrote between the two: as a
 * candidate that is someone else winning (no start, tried again later); as
 * the leader it stops at once. */
static void test_leader_conflict_means_another_won(void **state)
{
	(void)state;
	struct world *w = world_new();
	char body[1024];
	lease_json(body, sizeof(body), "30", "", 1, "2026-01-01T00:00:00.000000Z",
		   "2026-01-01T00:00:00.000000Z", 2);
	leader_start(w->le);
	fake_answer(expect_req(w, KUBE_GET, LEASE, WAIT_MS), 200, body);
	fake_answer(expect_req(w, KUBE_PUT, LEASE, WAIT_MS), 409, "{}");
	assert_int_equal(w->started, 0);
	assert_false(leader_is_leader(w->le));
	/* The next attempt reads again, after a jittered retry period. */
	struct leader_stats st = stats(w);
	assert_in_range(st.next_wait_ms, JITTER_MIN, JITTER_MAX);
	struct kube_req *get = expect_req(w, KUBE_GET, LEASE, WAIT_MS);
	assert_true(get->at_mono_ms >= st.next_at_ms);
	fake_answer(get, 200, body);
	answer_write(expect_req(w, KUBE_PUT, LEASE, WAIT_MS), 200, "31");
	assert_int_equal(w->started, 1);

	/* Leading: the fast path fails, the read shows our own record (a
	 * write of ours committed late), the PUT after it is answered 409. */
	struct kube_req *put = expect_req(w, KUBE_PUT, LEASE, WAIT_MS);
	fake_answer(put, 500, "{}");
	get = expect_req(w, KUBE_GET, LEASE, WAIT_MS);
	struct spec s;
	body_spec(put, &s);
	lease_json(body, sizeof(body), "33", ID, 1, s.acquire, s.renew, s.transitions);
	fake_answer(get, 200, body);
	put = expect_req(w, KUBE_PUT, LEASE, WAIT_MS);
	body_spec(put, &s);
	assert_string_equal(s.rv, "33");
	assert_int_equal(s.transitions, 3); /* ours already: not one more */
	assert_int_equal(w->stopped, 0);
	fake_answer(put, 409, "{}");
	assert_int_equal(w->stopped, 1);
	assert_false(leader_is_leader(w->le));
	world_free(w);
}

/* A process paused past its renew deadline is not the leader the moment it
 * runs again, before the timer that stops it has fired: leader_is_leader
 * reads the clock (the write path asks it before every write). */
static void test_leader_is_leader_reads_the_clock(void **state)
{
	(void)state;
	struct world *w = world_new();
	acquire(w);
	int64_t deadline = stats(w).deadline_ms;
	assert_in_range(deadline, w->sent_from + RETRY_MS + RENEW_MS,
			w->f->reqs[1]->at_mono_ms + RETRY_MS + RENEW_MS);
	/* The loop does not run: no timer can fire. Whenever the answer is
	 * surely before the deadline it is true, whenever surely after it
	 * false; however the machine stalls between readings. */
	for (;;) {
		int64_t before = loop_now_monotonic_ms();
		bool lead = leader_is_leader(w->le);
		int64_t after = loop_now_monotonic_ms();
		if (!lead && after < deadline)
			fail_msg("not the leader %lld ms before the deadline",
				 (long long)(deadline - after));
		if (lead && before >= deadline)
			fail_msg("still the leader %lld ms past the deadline",
				 (long long)(before - deadline));
		if (!lead)
			break;
	}
	assert_false(leader_is_leader(w->le));
	assert_int_equal(w->stopped, 0);
	/* The loop runs: the renewal timer, due first, and the deadline. No
	 * renewal leaves after the deadline. */
	size_t n = w->f->n;
	fake_run_for(w->f, 50);
	assert_int_equal(w->stopped, 1);
	assert_int_equal(w->f->n, n);
	world_free(w);
}

/* ---- release ------------------------------------------------------------------------------- */

/* client-go's ReleaseOnCancel: read, then PUT no holder, a 1 s lease,
 * renewTime now, transitions kept; nothing after. */
static void test_leader_release(void **state)
{
	(void)state;
	struct world *w = world_new();
	char body[1024];
	struct spec mine, s;
	acquire(w);
	body_spec(w->f->reqs[1], &mine);
	assert_int_equal(leader_release(w->le, on_released, w), 1);
	assert_false(leader_is_leader(w->le));
	struct kube_req *get = expect_req(w, KUBE_GET, LEASE, WAIT_MS);
	lease_json(body, sizeof(body), "4", ID, 1, mine.acquire, mine.renew, 0);
	fake_answer(get, 200, body);
	struct kube_req *put = expect_req(w, KUBE_PUT, LEASE, WAIT_MS);
	body_spec(put, &s);
	assert_string_equal(s.rv, "4");
	assert_string_equal(s.holder, "");
	assert_int_equal(s.dur, 1);
	assert_int_equal(s.transitions, 0);
	assert_micro_time(s.renew);
	assert_true(strcmp(s.renew, mine.renew) >= 0);
	assert_int_equal(w->released, 0);
	answer_write(put, 200, "5");
	assert_int_equal(w->released, 1);
	assert_true(w->released_ok);
	fake_run_for(w->f, 2 * RETRY_MS);
	assert_int_equal(fake_count(w->f, w->seen, FAKE_ANY, NULL), 0);
	assert_int_equal(w->stopped, 0); /* asked for: not "stopped" */
	world_free(w);
}

/* Released while a renewal is on its way: that one is cancelled. A Lease
 * that is no longer ours is left alone (done hears false). Not leading:
 * nothing to release, nothing sent. */
static void test_leader_release_edges(void **state)
{
	(void)state;
	struct world *w = world_new();
	char body[1024];
	acquire(w);
	struct kube_req *renew = expect_req(w, KUBE_PUT, LEASE, WAIT_MS);
	assert_int_equal(leader_release(w->le, on_released, w), 1);
	assert_int_equal(renew->state, FAKE_CANCELLED);
	/* Asked twice: the first release goes on. */
	assert_int_equal(leader_release(w->le, on_released, w), 0);
	struct kube_req *get = expect_req(w, KUBE_GET, LEASE, WAIT_MS);
	lease_json(body, sizeof(body), "9", OTHER, 15, "2026-01-01T00:00:00.000000Z",
		   "2026-01-01T00:00:00.000000Z", 1);
	fake_answer(get, 200, body);
	assert_int_equal(w->released, 1);
	assert_false(w->released_ok);
	assert_int_equal(fake_count(w->f, w->seen, FAKE_ANY, NULL), 0);
	world_free(w);

	w = world_new();
	leader_start(w->le);
	struct kube_req *r = expect_req(w, KUBE_GET, LEASE, WAIT_MS);
	assert_int_equal(leader_release(w->le, on_released, w), 0);
	assert_int_equal(r->state, FAKE_CANCELLED);
	fake_run_for(w->f, 3 * RETRY_MS);
	assert_int_equal(w->f->n, 1);
	assert_int_equal(w->released, 0);
	world_free(w);

	/* From inside `started`: the callback may give the lease up. */
	w = world_new();
	w->release_in_started = true;
	leader_start(w->le);
	fake_answer(expect_req(w, KUBE_GET, LEASE, WAIT_MS), 404, "{}");
	answer_write(expect_req(w, KUBE_POST, LEASES, WAIT_MS), 201, "1");
	assert_int_equal(w->started, 1);
	assert_false(leader_is_leader(w->le));
	fake_run_for(w->f, 2 * RETRY_MS);
	/* The release's GET, and no renewal. */
	fake_answer(expect_req(w, KUBE_GET, LEASE, WAIT_MS), 404, "{}");
	assert_int_equal(fake_count(w->f, w->seen, FAKE_ANY, NULL), 0);
	world_free(w);
}

/* A transport that refuses a request: answered as a failure from the
 * loop, and tried again. */
static void test_leader_transport_refusal(void **state)
{
	(void)state;
	struct world *w = world_new();
	w->f->refuse = 1;
	leader_start(w->le);
	assert_int_equal(w->f->n, 0);
	fake_answer(expect_req(w, KUBE_GET, LEASE, WAIT_MS), 404, "{}");
	answer_write(expect_req(w, KUBE_POST, LEASES, WAIT_MS), 201, "1");
	assert_int_equal(w->started, 1);
	world_free(w);
}

/* ---- options and helpers ----------------------------------------------------------------------
 */

static void test_leader_opts_validate(void **state)
{
	(void)state;
	struct world w = {0};
	char err[256];
	struct leader_opts o = opts(&w);
	o.lease_ms = LEADER_DEFAULT_LEASE_MS;
	o.renew_deadline_ms = LEADER_DEFAULT_RENEW_DEADLINE_MS;
	o.retry_ms = LEADER_DEFAULT_RETRY_MS;
	assert_int_equal(leader_opts_validate(&o, err, sizeof(err)), 0);

	struct leader_opts b = o;
	b.renew_deadline_ms = b.lease_ms; /* lease must be greater */
	assert_int_equal(leader_opts_validate(&b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "lease duration must be greater than the renew deadline"));
	b = o;
	b.renew_deadline_ms = 2400; /* = 1.2 x 2000: must be greater */
	assert_int_equal(leader_opts_validate(&b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "1.2"));
	b.renew_deadline_ms = 2401;
	assert_int_equal(leader_opts_validate(&b, err, sizeof(err)), 0);
	b = o;
	b.retry_ms = 0;
	assert_int_equal(leader_opts_validate(&b, err, sizeof(err)), -1);
	b = o;
	b.lease_ms = 999;
	b.renew_deadline_ms = 500;
	b.retry_ms = 100;
	assert_int_equal(leader_opts_validate(&b, err, sizeof(err)), -1);
	b = o;
	b.identity = "";
	assert_int_equal(leader_opts_validate(&b, err, sizeof(err)), -1);
	b = o;
	b.namespace = NULL;
	assert_int_equal(leader_opts_validate(&b, err, sizeof(err)), -1);
	b = o;
	b.stopped = NULL;
	assert_int_equal(leader_opts_validate(&b, err, sizeof(err)), -1);

	/* leader_new refuses what validate refuses. */
	struct loop *l;
	struct leader *le = NULL;
	assert_int_equal(loop_new(&l), 0);
	struct fake_tr *f = fake_tr_new(l);
	b = o;
	b.lease_ms = b.renew_deadline_ms;
	assert_int_equal(leader_new(l, &f->tr, &b, &le, err, sizeof(err)), -EINVAL);
	assert_null(le);
	fake_tr_free(f);
	loop_free(l);
}

static void test_leader_parse_duration(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int64_t ms;
	} ok[] = {{"15s", 15000},      {"500ms", 500},	    {"1m30s", 90000},
		  {"1.5s", 1500},      {"2h", 7200000},	    {"0.25m", 15000},
		  {"1500000us", 1500}, {"10s250ms", 10250}, {"0s", 0}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t ms = -1;
		if (leader_parse_duration(ok[i].in, &ms) != 0 || ms != ok[i].ms)
			fail_msg("\"%s\": %lld", ok[i].in, (long long)ms);
	}
	static const char *const bad[] = {"",	 "15",	"-1s",	 "s",  "1x",
					  "1s ", " 1s", "1..5s", ".s", "1e3s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = 7;
		if (leader_parse_duration(bad[i], &ms) == 0)
			fail_msg("\"%s\" accepted (%lld)", bad[i], (long long)ms);
		assert_int_equal(ms, 7);
	}
}

static void test_leader_identity(void **state)
{
	(void)state;
	char a[400], b[400], tiny[8];
	assert_int_equal(leader_identity(a, sizeof(a)), 0);
	assert_int_equal(leader_identity(b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	const char *u = strrchr(a, '_');
	assert_non_null(u);
	regex_t re;
	assert_int_equal(regcomp(&re,
				 "^_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
				 "[0-9a-f]{12}$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	int rc = regexec(&re, u, 0, NULL, 0);
	regfree(&re);
	assert_int_equal(rc, 0);
	assert_int_equal(leader_identity(tiny, sizeof(tiny)), -1);
}

int main(void)
{
	/* Expected failures are logged as warnings and errors. */
	log_set_level("error");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_leader_creates_missing_lease),
	    cmocka_unit_test(test_leader_takes_expired_lease),
	    cmocka_unit_test(test_leader_leaves_renewed_lease_alone),
	    cmocka_unit_test(test_leader_takes_released_lease_at_once),
	    cmocka_unit_test(test_leader_renews),
	    cmocka_unit_test(test_leader_stops_at_renew_deadline),
	    cmocka_unit_test(test_leader_stops_when_another_holds),
	    cmocka_unit_test(test_leader_conflict_means_another_won),
	    cmocka_unit_test(test_leader_is_leader_reads_the_clock),
	    cmocka_unit_test(test_leader_release),
	    cmocka_unit_test(test_leader_release_edges),
	    cmocka_unit_test(test_leader_transport_refusal),
	    cmocka_unit_test(test_leader_opts_validate),
	    cmocka_unit_test(test_leader_parse_duration),
	    cmocka_unit_test(test_leader_identity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
