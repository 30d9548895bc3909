/* The controller's write path; see writes.h. */
#include "controller/writes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include <cjson/cJSON.h>

#include "base/list.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "controller/names.h"
#include "kube/event.h"
#include "loop/loop.h"
#include "tz/civil.h"

#include "base/banned.h"

/* One write, from the decision to its answer. */
struct writes_req {
	struct list_node link; /* in writes.reqs */
	struct list_node held; /* in writes.held while held back */
	struct writes *w;
	struct kube_req *req; /* NULL while held */
	enum write_kind kind;
	enum kube_method method;
	char *path, *body; /* kept while held */
	char *tag;
	writes_done_fn *done;
	void *ud;
	struct writes_status *status; /* a status write: its object's queue */
	bool event;		      /* counted in events_posted */
	bool post;		      /* a Job POST counted in writes.posts */
	bool routine;		      /* a routine write counted in writes.routine_out */
	bool urgent;		      /* held in writes.held_urgent */
	int64_t decided_ns;
	int64_t held_mono; /* when it was held back */
};

struct writes {
	struct loop *loop;
	struct kube_transport tr;
	char *instance;
	struct list_node reqs;	      /* every writes_req, in flight or held */
	struct list_node held;	      /* held back, oldest first */
	struct list_node held_urgent; /* urgent ones held back: they leave first */
	loop_timer_id held_timer;
	int posts;			 /* Job POSTs in flight */
	int routine_out;		 /* routine writes in flight (at most WRITES_ROUTINE_MAX) */
	size_t n_held;			 /* writes in `held` */
	int events_out;			 /* Events in flight or held */
	bool disabled;			 /* the gate: not the leader */
	int64_t slots[WRITES_SLOTS_MAX]; /* announced, not yet past; unordered */
	size_t n_slots;
	writes_check_fn *check;
	const void *check_ud;
	struct writes_stats st;
};

static void unhold(struct writes_req *r)
{
	if (!list_empty(&r->held))
		r->w->n_held--;
	list_del(&r->held);
}

static void req_free(struct writes_req *r)
{
	if (r->event)
		r->w->events_out--;
	list_del(&r->link);
	unhold(r);
	free(r->path);
	free(r->body);
	free(r->tag);
	free(r);
}

static void answered(struct kube_req *kr, const struct kube_result *res, void *ud);

/* The answer to a write that could not be handed to the transport, and to
 * one the gate refused when its time came (the lease went meanwhile). */
static const struct kube_result NOT_QUEUED = {
    .err = -EIO, .body = "", .reason = "", .message = "", .transport_error = "request not queued"};
static const struct kube_result NOT_LEADER = {.err = -EPERM,
					      .body = "",
					      .reason = "",
					      .message = "",
					      .transport_error = "not the leader: not sent"};

static const struct kube_result *unsent(int rc)
{
	return rc == -EPERM ? &NOT_LEADER : &NOT_QUEUED;
}

/* The gate, and the finer check behind it. */
static bool closed(const struct writes *w)
{
	return w->disabled || (w->check && !w->check(w->check_ud));
}

/* Hands r to the transport. 0, or the transport's negative code (r is
 * then the caller's). */
static int start(struct writes_req *r)
{
	struct writes *w = r->w;
	struct kube_req_opts o = {
	    .method = r->method,
	    .path = r->path,
	    .body = r->body,
	    .body_len = r->body ? strlen(r->body) : 0,
	    .done = answered,
	    .ud = r,
	    .exempt = r->kind == WRITE_JOB_POST,
	};
	if (closed(w)) {
		/* A held write whose time came after the lease went. */
		r->req = NULL;
		return -EPERM;
	}
	int rc = w->tr.request(w->tr.ctx, &o, &r->req);
	if (rc < 0) {
		LOG_ERROR("request not queued", "path=%s rc=%d", r->path, rc);
		r->req = NULL;
		return rc;
	}
	w->st.sent++;
	if (r->kind == WRITE_JOB_POST) {
		w->posts++;
		r->post = true;
	} else if (r->kind == WRITE_ROUTINE) {
		w->routine_out++;
		r->routine = true;
	}
	/* The transport copied them. */
	free(r->path);
	free(r->body);
	r->path = r->body = NULL;
	return 0;
}

/* Answers r as the transport failure it is and frees it: a held or queued
 * write that could not be started. */
static void fail(struct writes_req *r, int rc)
{
	answered(NULL, unsent(rc), r);
}

static void on_held_timer(struct loop *l, loop_timer_id id, void *ud);

/* Forgets the announced slots whose quiet window is over. */
static void slots_prune(struct writes *w, int64_t now)
{
	for (size_t i = 0; i < w->n_slots;)
		if (w->slots[i] + WRITES_QUIET_AFTER_MS <= now)
			w->slots[i] = w->slots[--w->n_slots];
		else
			i++;
}

/* Milliseconds left of the quiet window we are in, or 0 when none is. */
static int64_t quiet_left(struct writes *w)
{
	int64_t now = loop_now_realtime_ms(), left = 0;
	slots_prune(w, now);
	for (size_t i = 0; i < w->n_slots; i++)
		if (now >= w->slots[i] - WRITES_QUIET_BEFORE_MS &&
		    w->slots[i] + WRITES_QUIET_AFTER_MS - now > left)
			left = w->slots[i] + WRITES_QUIET_AFTER_MS - now;
	return left;
}

void writes_slot_coming(struct writes *w, int64_t slot_ms)
{
	int64_t now = loop_now_realtime_ms();
	slots_prune(w, now);
	if (slot_ms + WRITES_QUIET_AFTER_MS <= now)
		return;
	for (size_t i = 0; i < w->n_slots; i++)
		if (w->slots[i] == slot_ms)
			return;
	if (w->n_slots < WRITES_SLOTS_MAX) {
		w->slots[w->n_slots++] = slot_ms;
		return;
	}
	/* Full: keep the soonest. */
	size_t last = 0;
	for (size_t i = 1; i < w->n_slots; i++)
		if (w->slots[i] > w->slots[last])
			last = i;
	if (slot_ms < w->slots[last])
		w->slots[last] = slot_ms;
}

/* The held write to leave next: the oldest urgent one, else the oldest. */
static struct writes_req *next_held(struct writes *w)
{
	if (!list_empty(&w->held_urgent))
		return LIST_ENTRY(w->held_urgent.next, struct writes_req, held);
	if (!list_empty(&w->held))
		return LIST_ENTRY(w->held.next, struct writes_req, held);
	return NULL;
}

/* Sends held writes, the urgent first, each lane in the order decided,
 * while fewer than WRITES_ROUTINE_MAX routine writes are in flight: behind
 * Job POSTs in flight only until the next to leave has waited
 * WRITES_HOLD_MAX_MS. When the
 * POSTs are what holds them, a timer comes back at that instant; when the
 * cap is, the next answer does. */
static void release_held(struct writes *w)
{
	struct writes_req *r;
	loop_timer_cancel(w->loop, w->held_timer);
	w->held_timer = 0;
	while (w->routine_out < WRITES_ROUTINE_MAX && (r = next_held(w))) {
		int64_t waited = loop_now_monotonic_ms() - r->held_mono;
		if (w->posts > 0 && waited < WRITES_HOLD_MAX_MS) {
			w->held_timer = loop_timer_after(w->loop, WRITES_HOLD_MAX_MS - waited,
							 on_held_timer, w);
			return;
		}
		int64_t quiet = r->urgent ? 0 : quiet_left(w);
		if (quiet > 0) {
			w->held_timer = loop_timer_after(w->loop, quiet, on_held_timer, w);
			return;
		}
		unhold(r);
		int rc = start(r);
		if (rc < 0)
			fail(r, rc);
	}
}

static void on_held_timer(struct loop *l, loop_timer_id id, void *ud)
{
	struct writes *w = ud;
	w->held_timer = 0;
	release_held(w);
}

static struct writes_req *req_new(struct writes *w, const struct write *o)
{
	struct writes_req *r = xcalloc(1, sizeof(*r));
	r->w = w;
	r->kind = o->kind;
	r->method = o->method;
	r->path = xstrdup(o->path);
	r->body = o->body ? xstrdup(o->body) : NULL;
	r->tag = xstrdup(o->tag ? o->tag : "");
	r->done = o->done;
	r->ud = o->ud;
	r->urgent = o->urgent;
	r->decided_ns = loop_now_realtime_ns();
	list_init(&r->held);
	list_add(&w->reqs, &r->link);
	return r;
}

/* Sends r, or holds it behind the Job POSTs in flight. 0, or negative (r
 * freed, nothing called). */
static int dispatch(struct writes_req *r)
{
	struct writes *w = r->w;
	if (closed(w)) {
		req_free(r);
		return -EPERM;
	}
	/* Behind Job POSTs in flight, behind the cap on routine writes in
	 * flight, and behind any write already held that goes before it (in
	 * decision order: the urgent ones first). */
	struct list_node *lane = r->urgent ? &w->held_urgent : &w->held;
	if (r->kind == WRITE_ROUTINE &&
	    (w->posts > 0 || w->routine_out >= WRITES_ROUTINE_MAX || !list_empty(lane) ||
	     !list_empty(&w->held_urgent) || (!r->urgent && quiet_left(w) > 0))) {
		list_add(lane->prev, &r->held); /* last of its lane */
		r->held_mono = loop_now_monotonic_ms();
		w->n_held++;
		w->st.held++;
		if (w->posts == 0 && w->routine_out < WRITES_ROUTINE_MAX)
			release_held(w); /* only in order: room now */
		else if (!w->held_timer && w->routine_out < WRITES_ROUTINE_MAX)
			w->held_timer =
			    loop_timer_after(w->loop, WRITES_HOLD_MAX_MS, on_held_timer, w);
		return 0;
	}
	int rc = start(r);
	if (rc < 0)
		req_free(r);
	return rc;
}

int writes_send(struct writes *w, const struct write *o)
{
	return dispatch(req_new(w, o));
}

static void status_send(struct writes *w, struct writes_status *st);
static void status_note_version(struct writes_status *st, const struct kube_result *res);

static void answered(struct kube_req *kr, const struct kube_result *res, void *ud)
{
	struct writes_req *r = ud;
	struct writes *w = r->w;
	(void)kr;
	r->req = NULL;
	w->st.answered++;
	double ms = (double)(loop_now_realtime_ns() - r->decided_ns) / 1e6;
	bool ok = res->err == 0 && res->status >= 200 && res->status < 300;
	if (r->routine)
		w->routine_out--;
	r->routine = false;
	if (((r->post && --w->posts == 0) || w->routine_out < WRITES_ROUTINE_MAX) && next_held(w)) {
		/* The writes held behind the last POST (or behind the cap) go
		 * now, before this answer is heard (which may decide more). */
		release_held(w);
	}
	if (r->event) {
		if (ok)
			w->st.events_posted++;
		else if (res->status != 409) /* 409: posted before, by name */
			LOG_WARN("event not recorded", "reason=%s status=%d message=\"%s\" %s",
				 r->tag, res->status, res->message, res->transport_error);
	}
	struct writes_status *st = r->status;
	if (st) {
		st->inflight = NULL;
		if (ok)
			status_note_version(st, res);
	}
	if (r->done)
		r->done(r->ud, r->tag, res, ms);
	if (st && st->queued)
		status_send(w, st);
	req_free(r);
}

void writes_forget(struct writes *w, const void *ud)
{
	struct list_node *n;
	for (n = w->reqs.next; n != &w->reqs; n = n->next) {
		struct writes_req *r = LIST_ENTRY(n, struct writes_req, link);
		if (r->ud == ud)
			r->done = NULL;
	}
}

/* ---- status writes ----------------------------------------------------------- */

void writes_status_init(struct writes_status *st)
{
	memset(st, 0, sizeof(*st));
}

/* The object's resourceVersion after our write: the next write is
 * conditional on it. */
static void status_note_version(struct writes_status *st, const struct kube_result *res)
{
	cJSON *obj = cJSON_ParseWithLength(res->body, res->body_len);
	const char *rv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "resourceVersion"));
	snprintf(st->rv, sizeof(st->rv), "%s", rv && strlen(rv) < sizeof(st->rv) ? rv : "");
	cJSON_Delete(obj);
}

/* Starts the waiting write, conditional on st->rv when known. 0, or the
 * dispatch's negative code (nothing in flight then). */
static int status_start(struct writes *w, struct writes_status *st)
{
	cJSON *patch = st->queued;
	st->queued = NULL;
	if (st->rv[0]) {
		cJSON *md = cJSON_GetObjectItemCaseSensitive(patch, "metadata");
		if (!cJSON_IsObject(md)) {
			cJSON_DeleteItemFromObjectCaseSensitive(patch, "metadata");
			md = cJSON_AddObjectToObject(patch, "metadata");
		}
		cJSON_DeleteItemFromObjectCaseSensitive(md, "resourceVersion");
		cJSON_AddStringToObject(md, "resourceVersion", st->rv);
	}
	char *body = cJSON_PrintUnformatted(patch);
	cJSON_Delete(patch);
	struct write o = {.kind = WRITE_ROUTINE,
			  .method = KUBE_PATCH_MERGE,
			  .path = st->path,
			  .done = st->done,
			  .ud = st->ud,
			  .urgent = st->urgent};
	struct writes_req *r = req_new(w, &o);
	/* The request has its copy; kept here only while a write waits (one
	 * path per schedule held for good was ~80 bytes each at 10,000). */
	free(st->path);
	st->path = NULL;
	r->body = body;
	r->status = st;
	st->inflight = r;
	int rc = dispatch(r);
	if (rc < 0)
		st->inflight = NULL; /* dispatch freed r */
	return rc;
}

/* Sends the waiting write after an answer; one that cannot start is
 * answered as failed, since its object waits for an answer. */
static void status_send(struct writes *w, struct writes_status *st)
{
	int rc = status_start(w, st);
	if (rc < 0 && st->done)
		st->done(st->ud, "", unsent(rc), 0);
}

/* r, a status write not urgent when it was decided, is held while its
 * object's next write is urgent (that one waits for it): it moves to the
 * urgent lane, last. A schedule whose first status waited in a start-up's
 * backlog longer than CLAIM_AHEAD_MS (a low --qps) would otherwise wait
 * for the whole backlog at its first slot. */
static void promote(struct writes *w, struct writes_req *r)
{
	if (r->urgent || list_empty(&r->held))
		return;
	list_del(&r->held);
	list_add(w->held_urgent.prev, &r->held);
	r->urgent = true;
	if (w->posts == 0 && w->routine_out < WRITES_ROUTINE_MAX)
		release_held(w); /* it may have been held by the quiet window alone */
}

int writes_status_put(struct writes *w, struct writes_status *st, const char *path, cJSON *patch,
		      const char *rv, writes_done_fn *done, void *ud)
{
	if (closed(w)) {
		cJSON_Delete(patch);
		writes_status_drop(st);
		return -EPERM;
	}
	cJSON_Delete(st->queued);
	st->queued = patch;
	if (!st->path || strcmp(st->path, path)) {
		free(st->path);
		st->path = xstrdup(path);
	}
	st->done = done;
	st->ud = ud;
	/* The write in flight sets the version the waiting one is based on. */
	if (st->inflight) {
		if (st->urgent)
			promote(w, st->inflight);
		return 0;
	}
	snprintf(st->rv, sizeof(st->rv), "%s", rv && strlen(rv) < sizeof(st->rv) ? rv : "");
	return status_start(w, st);
}

const char *writes_status_version(const struct writes_status *st)
{
	return st->rv;
}

void writes_status_drop(struct writes_status *st)
{
	cJSON_Delete(st->queued);
	st->queued = NULL;
}

bool writes_status_busy(const struct writes_status *st)
{
	return st->inflight || st->queued;
}

void writes_status_release(struct writes *w, struct writes_status *st)
{
	(void)w;
	if (st->inflight) {
		st->inflight->status = NULL;
		st->inflight->done = NULL;
	}
	cJSON_Delete(st->queued);
	free(st->path);
	writes_status_init(st);
}

/* ---- Events -------------------------------------------------------------------- */

/* Events are bounded: a flood of them (a failing kill retried, a
 * thousand schedules failing at once) must not grow memory or the
 * apiserver's queue without end. What is dropped is counted and logged. */
static int event_send(struct writes *w, struct write *o)
{
	if (w->events_out >= WRITES_EVENTS_MAX) {
		if (w->st.events_dropped++ % 100 == 0)
			LOG_WARN("event dropped: too many in flight",
				 "reason=%s outstanding=%d "
				 "dropped=%llu",
				 o->tag ? o->tag : "", w->events_out,
				 (unsigned long long)w->st.events_dropped);
		return -EAGAIN;
	}
	struct writes_req *r = req_new(w, o);
	r->event = true;
	w->events_out++;
	return dispatch(r);
}

int writes_event_post(struct writes *w, const struct kube_event *e, writes_done_fn *done, void *ud)
{
	char now[40];
	struct buf path;
	if (closed(w))
		return -EPERM;
	rfc3339_format(loop_now_realtime_ms(), false, now, sizeof(now));
	struct kube_event ev = *e;
	ev.component = TAKT_COMPONENT;
	ev.instance = w->instance;
	ev.now = now;
	char *body = kube_event_body(&ev);
	buf_init(&path, 4096);
	kube_path(&path, "", "v1", e->ns, "events", NULL, NULL);
	struct write o = {.kind = WRITE_ROUTINE,
			  .method = KUBE_POST,
			  .path = buf_str(&path),
			  .body = body,
			  .tag = e->reason,
			  .done = done,
			  .ud = ud};
	int rc = event_send(w, &o);
	if (rc == 0)
		LOG_INFO("event", "obj=%s/%s kind=%s reason=%s type=%s count=%lld message=\"%s\"",
			 e->ns, e->name, e->kind, e->reason, e->warning ? "Warning" : "Normal",
			 (long long)(e->count < 1 ? 1 : e->count), e->message);
	buf_release(&path);
	free(body);
	return rc;
}

int writes_event_update(struct writes *w, const char *ns, const char *name, const char *reason,
			int64_t count, const char *message, writes_done_fn *done, void *ud)
{
	char now[40];
	struct buf path;
	if (closed(w))
		return -EPERM;
	rfc3339_format(loop_now_realtime_ms(), false, now, sizeof(now));
	char *body = kube_event_update_body(count, message, now);
	buf_init(&path, 4096);
	kube_path(&path, "", "v1", ns, "events", name, NULL);
	struct write o = {.kind = WRITE_ROUTINE,
			  .method = KUBE_PATCH_MERGE,
			  .path = buf_str(&path),
			  .body = body,
			  .tag = reason,
			  .done = done,
			  .ud = ud};
	int rc = event_send(w, &o);
	if (rc == 0)
		LOG_INFO("event", "obj=%s/%s reason=%s count=%lld message=\"%s\"", ns, name, reason,
			 (long long)count, message);
	buf_release(&path);
	free(body);
	return rc;
}

/* ---- lifecycle ------------------------------------------------------------------- */

struct writes *writes_new(struct loop *l, const struct kube_transport *tr, const char *instance)
{
	struct writes *w = xcalloc(1, sizeof(*w));
	w->loop = l;
	w->tr = *tr;
	w->instance = xstrdup(instance ? instance : TAKT_COMPONENT);
	list_init(&w->reqs);
	list_init(&w->held);
	list_init(&w->held_urgent);
	return w;
}

void writes_free(struct writes *w)
{
	if (!w)
		return;
	loop_timer_cancel(w->loop, w->held_timer);
	while (!list_empty(&w->reqs)) {
		struct writes_req *r = LIST_ENTRY(w->reqs.next, struct writes_req, link);
		if (r->req)
			w->tr.cancel(w->tr.ctx, r->req);
		if (r->status)
			r->status->inflight = NULL;
		req_free(r);
	}
	free(w->instance);
	free(w);
}

size_t writes_backlog(const struct writes *w)
{
	return w->n_held;
}

void writes_get_stats(const struct writes *w, struct writes_stats *st)
{
	*st = w->st;
	st->posts_inflight = (uint64_t)w->posts;
	st->waiting = (uint64_t)w->n_held;
	st->inflight = 0;
	st->pending = 0;
	for (const struct list_node *n = w->reqs.next; n != &w->reqs; n = n->next) {
		st->inflight += LIST_ENTRY(n, const struct writes_req, link)->req != NULL;
		st->pending++;
	}
}

/* ---- the gate ---------------------------------------------------------------------- */

void writes_set_enabled(struct writes *w, bool enabled)
{
	if (enabled == !w->disabled)
		return;
	w->disabled = !enabled;
	LOG_INFO(enabled ? "writes enabled" : "writes disabled", "held=%d", next_held(w) != NULL);
	if (enabled)
		return;
	/* The held writes were decided by a leader: a standby sends none of
	 * them. Their owners hear so at once (a status writer is free
	 * again); what their answers decide is refused by the gate. */
	static const struct kube_result dropped = {.err = -ECANCELED,
						   .body = "",
						   .reason = "",
						   .message = "",
						   .transport_error =
						       "not the leader: dropped unsent"};
	loop_timer_cancel(w->loop, w->held_timer);
	w->held_timer = 0;
	struct writes_req *r;
	while ((r = next_held(w))) {
		unhold(r);
		answered(NULL, &dropped, r);
	}
}

bool writes_enabled(const struct writes *w)
{
	return !w->disabled;
}

void writes_set_check(struct writes *w, writes_check_fn *fn, const void *ud)
{
	w->check = fn;
	w->check_ud = ud;
}
