/* Leader election on a Lease; see leader.h. */
#include "leader/leader.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "kube/http.h"
#include "kube/obj.h"
#include "loop/loop.h"
#include "tz/civil.h"

#include "base/banned.h"

#define LEASE_GROUP   "coordination.k8s.io"
#define LEASE_VERSION "v1"

/*   IDLE --start--> CANDIDATE --a write of ours as holder--> LEADING
 *   LEADING --deadline passed, or another holder seen--> DONE (stopped)
 *   any --leader_release--> RELEASING (when leading) --answered--> DONE
 *   any --leader_release--> DONE (when not leading)
 * DONE is final. */
enum phase { PH_IDLE, PH_CANDIDATE, PH_LEADING, PH_RELEASING, PH_DONE };

/* The request on its way (one at a time). */
enum op {
	OP_NONE,
	OP_FAST,	/* leader: PUT of the Lease last written */
	OP_GET,		/* the slow path's read */
	OP_CREATE,	/* no Lease: POST one */
	OP_UPDATE,	/* PUT after the read */
	OP_RELEASE_GET, /* release: who holds it now */
	OP_RELEASE_PUT, /* release: the empty holder */
};

/* A Lease's spec as client-go's LeaderElectionRecord. Strings never NULL. */
struct record {
	char *holder;
	int64_t duration_s;
	char *acquire, *renew; /* MicroTime text, as written */
	int64_t transitions;
};

struct leader {
	struct loop *loop;
	struct kube_transport tr;
	char *name, *ns, *identity;
	char *path_coll, *path_obj;
	int64_t lease_ms, renew_deadline_ms, retry_ms;
	leader_fn *started, *stopped;
	leader_new_fn *new_leader;
	void *ud;
	leader_released_fn *released;
	void *released_ud;

	enum phase phase;
	enum op op;
	struct kube_req *req;
	loop_timer_id try_timer;      /* the next attempt */
	loop_timer_id deadline_timer; /* leading: the renew deadline */
	loop_timer_id refused_timer;  /* a request the transport refused */

	/* The Lease as last read or written: a PUT sends it back with a new
	 * spec, so its resourceVersion is the precondition. NULL: none known
	 * (the next attempt reads). */
	cJSON *lease;
	/* The record observed last and when (monotonic): the lease is valid
	 * until observed_mono + observed.duration_s. */
	struct record observed;
	bool have_observed;
	int64_t observed_mono;
	/* The record of the write on its way, and when it left: the renew
	 * deadline counts from there, since the others count their lease
	 * from when they see the write, which is later. */
	struct record pending;
	int64_t pending_mono;
	/* Leading: the instant the renew deadline passes (monotonic). */
	int64_t deadline_mono;
	char *reported; /* the holder last given to new_leader */
	uint64_t rng;
	struct leader_stats st;
};

/* ---- records ------------------------------------------------------------------ */

static void record_release(struct record *r)
{
	free(r->holder);
	free(r->acquire);
	free(r->renew);
	memset(r, 0, sizeof(*r));
}

static void record_set(struct record *r, const char *holder, int64_t duration_s,
		       const char *acquire, const char *renew, int64_t transitions)
{
	/* The arguments may point into *r itself. */
	char *h = xstrdup(holder ? holder : "");
	char *a = xstrdup(acquire ? acquire : "");
	char *n = xstrdup(renew ? renew : "");
	record_release(r);
	r->holder = h;
	r->acquire = a;
	r->renew = n;
	r->duration_s = duration_s;
	r->transitions = transitions;
}

static bool record_equal(const struct record *a, const struct record *b)
{
	return !strcmp(a->holder, b->holder) && a->duration_s == b->duration_s &&
	       !strcmp(a->acquire, b->acquire) && !strcmp(a->renew, b->renew) &&
	       a->transitions == b->transitions;
}

static int64_t num_or(const cJSON *o, const char *key, int64_t dflt)
{
	const cJSON *v = kobj_get(o, key);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

/* client-go's LeaseSpecToLeaderElectionRecord: absent fields are zero. */
static void record_from_lease(const cJSON *lease, struct record *r)
{
	const cJSON *spec = kobj_get(lease, "spec");
	record_set(r, kobj_str(spec, "holderIdentity"), num_or(spec, "leaseDurationSeconds", 0),
		   kobj_str(spec, "acquireTime"), kobj_str(spec, "renewTime"),
		   num_or(spec, "leaseTransitions", 0));
}

/* In the order the apiserver writes them (Go's field order). */
static cJSON *record_spec(const struct record *r)
{
	cJSON *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "holderIdentity", r->holder);
	cJSON_AddNumberToObject(s, "leaseDurationSeconds", (double)r->duration_s);
	cJSON_AddStringToObject(s, "acquireTime", r->acquire);
	cJSON_AddStringToObject(s, "renewTime", r->renew);
	cJSON_AddNumberToObject(s, "leaseTransitions", (double)r->transitions);
	return s;
}

/* metav1.MicroTime: RFC 3339, UTC, six fraction digits. */
static void micro_now(char *out, size_t n)
{
	struct timespec ts;
	struct civil_time t;
	clock_gettime(CLOCK_REALTIME, &ts);
	civil_from_seconds((int64_t)ts.tv_sec, &t);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", t.year, t.month, t.day, t.hour,
		 t.min, t.sec, ts.tv_nsec / 1000L);
}

/* ---- randomness ----------------------------------------------------------------- */

static uint64_t seed(void)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s))
		s = (uint64_t)loop_now_realtime_ns() ^ ((uint64_t)getpid() << 32);
	return s ? s : 0x9e3779b97f4a7c15ULL;
}

/* xorshift64*: the jitter needs spread, not secrecy. */
static double rand_unit(struct leader *le)
{
	le->rng ^= le->rng >> 12;
	le->rng ^= le->rng << 25;
	le->rng ^= le->rng >> 27;
	return (double)((le->rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* ---- observing ---------------------------------------------------------------------- */

static bool lease_valid(const struct leader *le, int64_t now)
{
	return le->have_observed && le->observed_mono + le->observed.duration_s * 1000 > now;
}

/* client-go's IsLeader: the record observed names us. */
static bool observed_is_us(const struct leader *le)
{
	return le->have_observed && !strcmp(le->observed.holder, le->identity);
}

/* A record read: the observation time moves only when it changed (a holder
 * that stops renewing leaves the same record, which then runs out). */
static void observe(struct leader *le, const struct record *r)
{
	if (le->have_observed && record_equal(&le->observed, r))
		return;
	record_set(&le->observed, r->holder, r->duration_s, r->acquire, r->renew, r->transitions);
	le->have_observed = true;
	le->observed_mono = loop_now_monotonic_ms();
}

/* Calls new_leader when the holder observed changed (last thing a handler
 * does: the callback may release). */
static void report(struct leader *le)
{
	const char *h = le->have_observed ? le->observed.holder : "";
	if (!*h || (le->reported && !strcmp(le->reported, h)))
		return;
	free(le->reported);
	le->reported = xstrdup(h);
	LOG_INFO("leader observed", "lease=%s/%s holder=%s us=%d", le->ns, le->name, h,
		 !strcmp(h, le->identity));
	if (le->new_leader)
		le->new_leader(le->ud, h);
}

/* ---- requests ------------------------------------------------------------------------- */

static void answered(struct kube_req *kr, const struct kube_result *res, void *ud);
static void on_answer(struct leader *le, enum op op, const struct kube_result *res);

static void refused_cb(struct loop *l, loop_timer_id id, void *ud)
{
	struct leader *le = ud;
	(void)l;
	(void)id;
	le->refused_timer = 0;
	enum op op = le->op;
	le->op = OP_NONE;
	struct kube_result res = {.err = -EIO,
				  .body = "",
				  .reason = "",
				  .message = "",
				  .transport_error = "request not queued"};
	on_answer(le, op, &res);
}

/* Sends one request (body taken). A refusal is answered as a transport
 * failure from the loop, never from here. */
static void send_req(struct leader *le, enum op op, enum kube_method m, const char *path,
		     char *body)
{
	struct kube_req_opts o = {.method = m,
				  .path = path,
				  .body = body,
				  .body_len = body ? strlen(body) : 0,
				  .timeout_ms = le->renew_deadline_ms / 2,
				  .done = answered,
				  .ud = le,
				  /* A renewal waits for no token. */
				  .exempt = 1};
	le->op = op;
	int rc = le->tr.request(le->tr.ctx, &o, &le->req);
	free(body);
	if (rc < 0) {
		LOG_ERROR("lease request not queued", "lease=%s/%s rc=%d", le->ns, le->name, rc);
		le->req = NULL;
		le->refused_timer = loop_timer_after(le->loop, 0, refused_cb, le);
	}
}

static void send_get(struct leader *le, enum op op)
{
	send_req(le, op, KUBE_GET, le->path_obj, NULL);
}

/* POSTs a new Lease, or PUTs the one known, with `pending` as its spec. */
static void send_write(struct leader *le, enum op op)
{
	cJSON *obj;
	if (op == OP_CREATE) {
		obj = cJSON_CreateObject();
		cJSON_AddStringToObject(obj, "apiVersion", LEASE_GROUP "/" LEASE_VERSION);
		cJSON_AddStringToObject(obj, "kind", "Lease");
		cJSON *md = cJSON_AddObjectToObject(obj, "metadata");
		cJSON_AddStringToObject(md, "name", le->name);
		cJSON_AddStringToObject(md, "namespace", le->ns);
	} else {
		/* The whole object as read, so nothing else in it is lost,
		 * and its resourceVersion makes the write conditional. */
		obj = cJSON_Duplicate(le->lease, 1);
		cJSON_DeleteItemFromObjectCaseSensitive(obj, "spec");
	}
	cJSON_AddItemToObject(obj, "spec", record_spec(&le->pending));
	char *body = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	le->pending_mono = loop_now_monotonic_ms();
	if (op == OP_CREATE)
		send_req(le, op, KUBE_POST, le->path_coll, body);
	else
		send_req(le, op, KUBE_PUT, le->path_obj, body);
}

static void cancel_all(struct leader *le)
{
	if (le->req)
		le->tr.cancel(le->tr.ctx, le->req);
	le->req = NULL;
	le->op = OP_NONE;
	loop_timer_cancel(le->loop, le->try_timer);
	loop_timer_cancel(le->loop, le->deadline_timer);
	loop_timer_cancel(le->loop, le->refused_timer);
	le->try_timer = le->deadline_timer = le->refused_timer = 0;
}

/* ---- attempts --------------------------------------------------------------------------- */

static void try_cb(struct loop *l, loop_timer_id id, void *ud);

static void deadline_cb(struct loop *l, loop_timer_id id, void *ud);

static void attempt(struct leader *le)
{
	char now[40];
	if (le->phase == PH_LEADING && loop_now_monotonic_ms() >= le->deadline_mono) {
		/* Woken after a pause with both timers due: the deadline
		 * first, no renewal sent after it. */
		loop_timer_cancel(le->loop, le->deadline_timer);
		le->deadline_timer = 0;
		deadline_cb(le->loop, 0, le);
		return;
	}
	le->st.attempts++;
	if (le->phase == PH_LEADING && le->lease && observed_is_us(le) &&
	    lease_valid(le, loop_now_monotonic_ms())) {
		/* The fast path: our last write is most likely the current
		 * version. */
		micro_now(now, sizeof(now));
		record_set(&le->pending, le->identity, le->lease_ms / 1000,
			   *le->observed.acquire ? le->observed.acquire : now, now,
			   le->observed.transitions);
		send_write(le, OP_FAST);
		return;
	}
	send_get(le, OP_GET);
}

static void try_cb(struct loop *l, loop_timer_id id, void *ud)
{
	struct leader *le = ud;
	(void)l;
	(void)id;
	le->try_timer = 0;
	attempt(le);
}

static void next_attempt(struct leader *le)
{
	int64_t wait = le->retry_ms;
	if (le->phase == PH_CANDIDATE)
		wait += (int64_t)(rand_unit(le) * LEADER_JITTER_FACTOR * (double)le->retry_ms);
	loop_timer_cancel(le->loop, le->try_timer);
	le->st.next_wait_ms = wait;
	le->st.next_at_ms = loop_now_monotonic_ms() + wait;
	le->try_timer = loop_timer_at_monotonic(le->loop, le->st.next_at_ms, try_cb, le);
}

/* Final: the leader stops at once. */
static void lose(struct leader *le, const char *why)
{
	cancel_all(le);
	le->phase = PH_DONE;
	LOG_WARN("stopped leading", "lease=%s/%s why=\"%s\"", le->ns, le->name, why);
	if (le->stopped)
		le->stopped(le->ud);
}

static void deadline_cb(struct loop *l, loop_timer_id id, void *ud)
{
	struct leader *le = ud;
	char why[128];
	(void)l;
	(void)id;
	le->deadline_timer = 0;
	snprintf(why, sizeof(why), "no renewal for %" PRId64 " ms (retry period + renew deadline)",
		 le->retry_ms + le->renew_deadline_ms);
	lose(le, why);
}

/* A write of ours as holder was answered 2xx (body: the Lease now). */
static void took_lease(struct leader *le, const struct kube_result *res)
{
	cJSON *obj = cJSON_ParseWithLength(res->body, res->body_len);
	cJSON_Delete(le->lease);
	le->lease = NULL;
	if (cJSON_IsObject(obj) && kobj_meta(obj, "resourceVersion"))
		le->lease = obj;
	else
		cJSON_Delete(obj); /* the next attempt reads it */
	/* client-go's setObservedRecord: what we wrote, observed now. */
	record_set(&le->observed, le->pending.holder, le->pending.duration_s, le->pending.acquire,
		   le->pending.renew, le->pending.transitions);
	le->have_observed = true;
	le->observed_mono = loop_now_monotonic_ms();
	le->st.renewals++;
	le->st.last_renew_ms = le->observed_mono;

	bool became = le->phase == PH_CANDIDATE;
	if (became) {
		le->phase = PH_LEADING;
		le->st.transitions++;
		LOG_INFO("became the leader", "lease=%s/%s identity=%s transitions=%" PRId64,
			 le->ns, le->name, le->identity, le->pending.transitions);
	}
	le->deadline_mono = le->pending_mono + le->retry_ms + le->renew_deadline_ms;
	le->st.deadline_ms = le->deadline_mono;
	loop_timer_cancel(le->loop, le->deadline_timer);
	le->deadline_timer = loop_timer_at_monotonic(le->loop, le->deadline_mono, deadline_cb, le);
	next_attempt(le);
	report(le);
	if (became && le->phase == PH_LEADING && le->started)
		le->started(le->ud);
}

static void attempt_failed(struct leader *le)
{
	next_attempt(le);
}

/* The slow path's read is in: decide, and write or give up. */
static void got_lease(struct leader *le, const struct kube_result *res)
{
	char now[40];
	cJSON *obj = cJSON_ParseWithLength(res->body, res->body_len);
	if (!cJSON_IsObject(obj) || !kobj_meta(obj, "resourceVersion")) {
		LOG_WARN("lease unreadable", "lease=%s/%s", le->ns, le->name);
		cJSON_Delete(obj);
		attempt_failed(le);
		return;
	}
	cJSON_Delete(le->lease);
	le->lease = obj;
	struct record r = {0};
	record_from_lease(obj, &r);
	observe(le, &r);
	record_release(&r);
	int64_t mono = loop_now_monotonic_ms();
	if (*le->observed.holder && lease_valid(le, mono) && !observed_is_us(le)) {
		if (le->phase == PH_LEADING) {
			char why[300];
			snprintf(why, sizeof(why), "the lease is held by %.200s",
				 le->observed.holder);
			lose(le, why);
			return;
		}
		LOG_DEBUG("lease held", "lease=%s/%s holder=%s", le->ns, le->name,
			  le->observed.holder);
		attempt_failed(le);
		report(le);
		return;
	}
	micro_now(now, sizeof(now));
	if (observed_is_us(le))
		record_set(&le->pending, le->identity, le->lease_ms / 1000,
			   *le->observed.acquire ? le->observed.acquire : now, now,
			   le->observed.transitions);
	else
		record_set(&le->pending, le->identity, le->lease_ms / 1000, now, now,
			   le->observed.transitions + 1);
	send_write(le, OP_UPDATE);
	report(le);
}

/* ---- release ----------------------------------------------------------------------------------
 */

static void release_done(struct leader *le, bool released)
{
	le->phase = PH_DONE;
	LOG_INFO(released ? "lease released" : "lease not released", "lease=%s/%s", le->ns,
		 le->name);
	if (le->released)
		le->released(le->released_ud, released);
}

static void release_got(struct leader *le, const struct kube_result *res)
{
	char now[40];
	cJSON *obj = cJSON_ParseWithLength(res->body, res->body_len);
	struct record r = {0};
	if (!cJSON_IsObject(obj) || !kobj_meta(obj, "resourceVersion")) {
		cJSON_Delete(obj);
		release_done(le, false);
		return;
	}
	record_from_lease(obj, &r);
	bool ours = !strcmp(r.holder, le->identity);
	if (!ours) {
		record_release(&r);
		cJSON_Delete(obj);
		release_done(le, false);
		return;
	}
	cJSON_Delete(le->lease);
	le->lease = obj;
	micro_now(now, sizeof(now));
	/* client-go's release: no holder, a 1 s lease, transitions kept. */
	record_set(&le->pending, "", 1, now, now, r.transitions);
	record_release(&r);
	send_write(le, OP_RELEASE_PUT);
}

/* ---- answers ------------------------------------------------------------------------------------
 */

static bool answer_ok(const struct kube_result *res)
{
	return res->err == 0 && res->status >= 200 && res->status < 300;
}

static void log_failure(const struct leader *le, const char *what, const struct kube_result *res)
{
	LOG_WARN("lease request failed",
		 "lease=%s/%s op=%s status=%d reason=%s message=\"%s\" err=%d %s", le->ns, le->name,
		 what, res->status, res->reason, res->message, res->err, res->transport_error);
}

static void on_answer(struct leader *le, enum op op, const struct kube_result *res)
{
	bool ok = answer_ok(res);
	switch (op) {
	case OP_FAST:
		if (ok) {
			took_lease(le, res);
			return;
		}
		/* Our copy may be stale (a write of ours that timed out but
		 * was committed): read, and decide again. */
		log_failure(le, "renew", res);
		send_get(le, OP_GET);
		return;
	case OP_GET:
		if (res->err == 0 && res->status == 404) {
			char now[40];
			micro_now(now, sizeof(now));
			record_set(&le->pending, le->identity, le->lease_ms / 1000, now, now, 0);
			send_write(le, OP_CREATE);
			return;
		}
		if (!ok) {
			log_failure(le, "get", res);
			attempt_failed(le);
			return;
		}
		got_lease(le, res);
		return;
	case OP_CREATE:
	case OP_UPDATE:
		if (ok) {
			took_lease(le, res);
			return;
		}
		if (res->err == 0 && res->status == 409) {
			/* Someone wrote the Lease after our read: a candidate
			 * that took it. */
			if (le->phase == PH_LEADING) {
				lose(le, "another candidate wrote the lease (409)");
				return;
			}
			LOG_DEBUG("lease taken by another", "lease=%s/%s", le->ns, le->name);
		} else {
			log_failure(le, op == OP_CREATE ? "create" : "update", res);
		}
		attempt_failed(le);
		return;
	case OP_RELEASE_GET:
		if (!ok) {
			log_failure(le, "release get", res);
			release_done(le, false);
			return;
		}
		release_got(le, res);
		return;
	case OP_RELEASE_PUT:
		if (!ok)
			log_failure(le, "release", res);
		release_done(le, ok);
		return;
	case OP_NONE:
		break;
	}
}

static void answered(struct kube_req *kr, const struct kube_result *res, void *ud)
{
	struct leader *le = ud;
	(void)kr;
	enum op op = le->op;
	le->req = NULL;
	le->op = OP_NONE;
	on_answer(le, op, res);
}

/* ---- the public face
 * -------------------------------------------------------------------------------- */

int leader_opts_validate(const struct leader_opts *o, char *err, size_t errlen)
{
	const char *e = NULL;
	if (!o->name || !*o->name)
		e = "the lease name is empty";
	else if (!o->namespace || !*o->namespace)
		e = "the lease namespace is empty";
	else if (!o->identity || !*o->identity)
		e = "the identity is empty";
	else if (o->retry_ms <= 0)
		e = "the retry period must be greater than zero";
	else if (o->lease_ms < 1000)
		e = "the lease duration must be at least 1s (the Lease counts whole seconds)";
	else if (o->lease_ms <= o->renew_deadline_ms)
		e = "the lease duration must be greater than the renew deadline";
	else if ((double)o->renew_deadline_ms <= LEADER_JITTER_FACTOR * (double)o->retry_ms)
		e = "the renew deadline must be greater than 1.2 x the retry period";
	else if (!o->started || !o->stopped)
		e = "the started and stopped callbacks are required";
	if (!e)
		return 0;
	snprintf(err, errlen, "%s", e);
	return -1;
}

int leader_new(struct loop *l, const struct kube_transport *tr, const struct leader_opts *o,
	       struct leader **out, char *err, size_t errlen)
{
	if (leader_opts_validate(o, err, errlen) < 0)
		return -EINVAL;
	struct leader *le = xcalloc(1, sizeof(*le));
	struct buf p;
	le->loop = l;
	le->tr = *tr;
	le->name = xstrdup(o->name);
	le->ns = xstrdup(o->namespace);
	le->identity = xstrdup(o->identity);
	le->lease_ms = o->lease_ms;
	le->renew_deadline_ms = o->renew_deadline_ms;
	le->retry_ms = o->retry_ms;
	le->started = o->started;
	le->stopped = o->stopped;
	le->new_leader = o->new_leader;
	le->ud = o->ud;
	le->rng = seed();
	record_set(&le->observed, "", 0, "", "", 0);
	record_set(&le->pending, "", 0, "", "", 0);
	buf_init(&p, 4096);
	kube_path(&p, LEASE_GROUP, LEASE_VERSION, le->ns, "leases", NULL, NULL);
	le->path_coll = xstrdup(buf_str(&p));
	buf_reset(&p);
	kube_path(&p, LEASE_GROUP, LEASE_VERSION, le->ns, "leases", le->name, NULL);
	le->path_obj = xstrdup(buf_str(&p));
	buf_release(&p);
	*out = le;
	return 0;
}

void leader_start(struct leader *le)
{
	if (le->phase != PH_IDLE)
		return;
	le->phase = PH_CANDIDATE;
	LOG_INFO("leader election",
		 "lease=%s/%s identity=%s lease_ms=%" PRId64 " renew_deadline_ms=%" PRId64
		 " retry_ms=%" PRId64,
		 le->ns, le->name, le->identity, le->lease_ms, le->renew_deadline_ms, le->retry_ms);
	attempt(le);
}

void leader_free(struct leader *le)
{
	if (!le)
		return;
	cancel_all(le);
	cJSON_Delete(le->lease);
	record_release(&le->observed);
	record_release(&le->pending);
	free(le->reported);
	free(le->name);
	free(le->ns);
	free(le->identity);
	free(le->path_coll);
	free(le->path_obj);
	free(le);
}

bool leader_is_leader(const struct leader *le)
{
	/* The clock as well as the phase: after a pause (SIGSTOP, a VM
	 * frozen) the loop runs the sockets' callbacks before the timer that
	 * stops us, and a write they decide must not leave. */
	return le && le->phase == PH_LEADING && loop_now_monotonic_ms() < le->deadline_mono;
}

const char *leader_holder(const struct leader *le)
{
	return le->have_observed ? le->observed.holder : "";
}

int leader_release(struct leader *le, leader_released_fn *done, void *ud)
{
	if (le->phase == PH_RELEASING)
		return 0; /* on its way already: its done is the first caller's */
	bool leading = le->phase == PH_LEADING;
	cancel_all(le);
	if (!leading) {
		le->phase = PH_DONE;
		return 0;
	}
	le->phase = PH_RELEASING;
	le->released = done;
	le->released_ud = ud;
	/* Read first (client-go does too): a renewal cancelled on its way
	 * may have been committed, and our copy's resourceVersion be old. */
	send_get(le, OP_RELEASE_GET);
	return 1;
}

void leader_get_stats(const struct leader *le, struct leader_stats *st)
{
	*st = le->st;
}

/* ---- helpers for main
 * ----------------------------------------------------------------------------- */

int leader_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {
	    /* Longest first: "ms" before "m". */
	    {"ns", 1},	{"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
	    {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
	};
	double total = 0;
	const char *p = s;
	if (!s || !*s)
		return -1;
	while (*p) {
		double v = 0, scale = 1;
		bool digits = false;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (*p++ - '0');
			digits = true;
		}
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9') {
				scale /= 10;
				v += (*p++ - '0') * scale;
				digits = true;
			}
		}
		if (!digits)
			return -1;
		size_t i, n = sizeof(units) / sizeof(units[0]);
		for (i = 0; i < n; i++) {
			size_t len = strlen(units[i].unit);
			if (!strncmp(p, units[i].unit, len)) {
				total += v * units[i].ns;
				p += len;
				break;
			}
		}
		if (i == n || total > 1e18)
			return -1;
	}
	*ms = (int64_t)(total / 1e6);
	return 0;
}

int leader_identity(char *out, size_t n)
{
	char host[256];
	unsigned char u[16];
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = 0;
	if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u))
		return -1;
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	int w = snprintf(out, n,
			 "%s_%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 host, u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
			 u[11], u[12], u[13], u[14], u[15]);
	return w < 0 || (size_t)w >= n ? -1 : 0;
}
