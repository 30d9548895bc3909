#include "kube/reflector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "kube/http.h"
#include "kube/lines.h"
#include "kube/store.h"
#include "loop/loop.h"
#include "base/banned.h"

/* Drops what no consumer of the store reads before the object is kept:
 * metadata.managedFields is often the largest part of a Job or Pod, and a
 * store holds thousands of them (client-go's informers trim it the same way). */
static void trim_object(cJSON *obj)
{
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	if (cJSON_IsObject(meta))
		cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
}

enum step { STEP_LIST, STEP_WATCH };

/* What a watch line asked for when it stopped the stream. */
enum abort_action { ABORT_NONE = 0, ABORT_RELIST, ABORT_BACKOFF_WATCH, ABORT_BACKOFF_RELIST };

struct reflector {
	struct loop *loop;
	struct store *store; /* NULL in sink mode */
	char *group, *version, *resource, *ns, *selector, *what;
	int watch_timeout_s, page_limit;
	int64_t base_ms, max_ms;
	struct kube_transport tr;
	reflector_list_fn *on_list;
	void *ud;
	void (*transform)(struct cJSON *obj);
	bool metadata_only;
	void (*on_event)(void *ud, enum store_event ev, const struct cJSON *obj);
	/* Sink mode only: the resourceVersion, which store mode keeps in the
	 * store so that its readers see it there. */
	char *rv;

	enum reflector_state state;
	bool started, synced;
	struct kube_req *req; /* the request in flight, if any */
	loop_timer_id timer;
	enum step next;
	unsigned failures;
	uint64_t rnd;

	/* A list in progress: the pages so far are staged in the store
	 * (store_stage_take: a frozen store holds them frozen at once) or,
	 * for a sink, delivered and counted; and where to go on. */
	size_t ndelivered;
	char *cont;

	/* The watch in progress. */
	struct lines *lines;
	int64_t watch_started_ms;
	uint64_t watch_events;
	enum abort_action abort;
	unsigned gone_streak; /* 410s with no event applied in between */

	struct reflector_stats st;
};

static char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

struct reflector *reflector_new(struct loop *l, const struct kube_transport *tr, struct store *s,
				const struct reflector_opts *o, reflector_list_fn *on_list,
				void *ud)
{
	if (!o || !o->version || !o->resource || !*o->resource)
		return NULL;
	BUG_ON(!l || !tr);
	BUG_ON(!s == !o->on_event); /* exactly one of a store and a sink */
	struct reflector *r = xcalloc(1, sizeof(*r));
	r->loop = l;
	r->store = s;
	r->on_event = o->on_event;
	r->rv = xstrdup("");
	r->group = dup_or_empty(o->group);
	r->version = dup_or_empty(o->version);
	r->resource = dup_or_empty(o->resource);
	r->ns = dup_or_empty(o->ns);
	r->selector = dup_or_empty(o->label_selector);
	struct buf w;
	buf_init(&w, BUF_UNLIMITED);
	buf_addf(&w, "%s%s%s/%s", r->group, *r->group ? "/" : "", r->version, r->resource);
	r->what = buf_detach(&w, NULL);
	r->watch_timeout_s = o->watch_timeout_s > 0 ? o->watch_timeout_s : 300;
	r->page_limit = o->page_limit > 0 ? o->page_limit : 500;
	r->base_ms = o->backoff_base_ms > 0 ? o->backoff_base_ms : 200;
	r->max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 30000;
	if (r->max_ms < r->base_ms)
		r->max_ms = r->base_ms;
	r->tr = *tr;
	r->on_list = on_list;
	r->ud = ud;
	r->transform = o->transform;
	r->metadata_only = o->metadata_only;
	r->lines = lines_new(o->max_line ? o->max_line : 16u << 20);
	r->rnd = (uint64_t)loop_now_monotonic_ns() ^ (uint64_t)(uintptr_t)r;
	if (!r->rnd)
		r->rnd = 88172645463325252ull;
	return r;
}

static void drop_list(struct reflector *r)
{
	if (r->store)
		store_stage_abort(r->store);
	r->ndelivered = 0;
	free(r->cont);
	r->cont = NULL;
}

static void cancel_req(struct reflector *r)
{
	if (r->req) {
		r->tr.cancel(r->tr.ctx, r->req);
		r->req = NULL;
	}
}

void reflector_free(struct reflector *r)
{
	if (!r)
		return;
	cancel_req(r);
	loop_timer_cancel(r->loop, r->timer);
	drop_list(r);
	lines_free(r->lines);
	free(r->group);
	free(r->version);
	free(r->resource);
	free(r->ns);
	free(r->selector);
	free(r->what);
	free(r->rv);
	free(r);
}

enum reflector_state reflector_state(const struct reflector *r)
{
	return r->state;
}

const char *reflector_state_name(enum reflector_state st)
{
	switch (st) {
	case REFLECTOR_IDLE:
		return "Idle";
	case REFLECTOR_LISTING:
		return "Listing";
	case REFLECTOR_WATCHING:
		return "Watching";
	case REFLECTOR_BACKOFF:
		return "Backoff";
	case REFLECTOR_RELISTING:
		return "Relisting";
	}
	return "?";
}

bool reflector_synced(const struct reflector *r)
{
	return r->synced;
}

const char *reflector_resource_version(const struct reflector *r)
{
	return r->store ? store_resource_version(r->store) : r->rv;
}

static void set_rv(struct reflector *r, const char *rv)
{
	if (r->store) {
		store_set_resource_version(r->store, rv);
		return;
	}
	char *c = xstrdup(rv ? rv : "");
	free(r->rv);
	r->rv = c;
}

const char *reflector_what(const struct reflector *r)
{
	return r->what;
}

void reflector_get_stats(const struct reflector *r, struct reflector_stats *st)
{
	*st = r->st;
}

static uint64_t next_rand(struct reflector *r)
{
	r->rnd ^= r->rnd << 13;
	r->rnd ^= r->rnd >> 7;
	r->rnd ^= r->rnd << 17;
	return r->rnd;
}

static void start_list(struct reflector *r);
static void start_watch(struct reflector *r);

static void on_timer(struct loop *l, loop_timer_id id, void *ud)
{
	struct reflector *r = ud;
	r->timer = 0;
	if (r->next == STEP_LIST)
		start_list(r);
	else
		start_watch(r);
}

/* Every transition goes through the loop, never straight from inside an
 * HTTP callback, so a request is never started from within another's. */
static void schedule(struct reflector *r, enum step next, int64_t delay_ms, enum reflector_state st)
{
	loop_timer_cancel(r->loop, r->timer);
	r->next = next;
	r->state = st;
	r->timer = loop_timer_after(r->loop, delay_ms, on_timer, r);
}

static enum reflector_state list_state(const struct reflector *r)
{
	return r->synced ? REFLECTOR_RELISTING : REFLECTOR_LISTING;
}

static void backoff(struct reflector *r, enum step next)
{
	int64_t d = r->base_ms;
	for (unsigned i = 0; i < r->failures && d < r->max_ms; i++)
		d *= 2;
	if (d > r->max_ms)
		d = r->max_ms;
	r->failures++;
	/* Jitter in [d/2, d]: replicas and resources that failed together
	 * (an apiserver restart) do not come back together. */
	int64_t half = d / 2;
	d = half + (int64_t)(next_rand(r) % (uint64_t)(d - half + 1));
	r->st.errors++;
	r->st.last_backoff_ms = d;
	if (next == STEP_LIST)
		drop_list(r);
	LOG_DEBUG("reflector backoff", "resource=%s delay_ms=%lld failures=%u", r->what,
		  (long long)d, r->failures);
	schedule(r, next, d, REFLECTOR_BACKOFF);
}

/* After a 410. The first relists at once, as client-go does; a 410 again
 * before any event was applied means the server compacts faster than we
 * list and watch, and relisting in a tight loop would only add to its load. */
static void relist_now(struct reflector *r)
{
	drop_list(r);
	if (++r->gone_streak > 1) {
		backoff(r, STEP_LIST);
		return;
	}
	schedule(r, STEP_LIST, 0, REFLECTOR_RELISTING);
}

void reflector_start(struct reflector *r)
{
	if (r->started)
		return;
	r->started = true;
	schedule(r, STEP_LIST, 0, REFLECTOR_LISTING);
}

static int base_path(const struct reflector *r, struct buf *p)
{
	return kube_path(p, r->group, r->version, r->ns, r->resource, NULL, NULL);
}

static void log_failure(const struct reflector *r, const char *what, const struct kube_result *res)
{
	LOG_WARN(
	    what, "resource=%s ns=%s status=%d err=%d reason=%s message=\"%s\" transport=\"%s\"",
	    r->what, r->ns, res->status, res->err, res->reason ? res->reason : "",
	    res->message ? res->message : "", res->transport_error ? res->transport_error : "");
}

static void list_done(struct kube_req *req, const struct kube_result *res, void *ud);

static void start_list(struct reflector *r)
{
	struct buf p;
	char limit[24];
	buf_init(&p, 64 * 1024);
	snprintf(limit, sizeof(limit), "%d", r->page_limit);
	int rc = base_path(r, &p);
	if (rc == 0)
		rc = kube_query_add(&p, "limit", limit);
	if (rc == 0 && r->cont)
		rc = kube_query_add(&p, "continue", r->cont);
	if (rc == 0 && *r->selector)
		rc = kube_query_add(&p, "labelSelector", r->selector);
	r->state = list_state(r);
	struct kube_req_opts o = {.method = KUBE_GET,
				  .path = buf_str(&p),
				  .done = list_done,
				  .ud = r,
				  .accept = r->metadata_only ? KUBE_ACCEPT_METADATA_LIST : NULL};
	if (rc == 0)
		rc = r->tr.request(r->tr.ctx, &o, &r->req);
	buf_release(&p);
	if (rc < 0) {
		LOG_ERROR("list request not started", "resource=%s err=%d", r->what, rc);
		r->req = NULL;
		backoff(r, STEP_LIST);
	}
}

static const char *meta_str(const cJSON *obj, const char *field)
{
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(md, field);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void list_complete(struct reflector *r, const char *rv)
{
	size_t objects = r->ndelivered;
	if (r->store) {
		store_stage_commit(r->store);
		objects = store_len(r->store);
	}
	r->ndelivered = 0;
	set_rv(r, rv);
	bool relist = r->st.lists > 0;
	r->st.lists++;
	if (relist)
		r->st.relists++;
	r->synced = true;
	LOG_INFO("listed", "resource=%s ns=%s objects=%zu rv=%s relist=%d", r->what, r->ns, objects,
		 rv, relist);
	/* The watch is scheduled before the callback so that the callback sees
	 * the state the reflector will be in. */
	schedule(r, STEP_WATCH, 0, REFLECTOR_WATCHING);
	if (r->on_list)
		r->on_list(r, relist, r->ud);
}

static void list_done(struct kube_req *req, const struct kube_result *res, void *ud)
{
	struct reflector *r = ud;
	r->req = NULL;
	if (res->err || res->status != 200) {
		if (res->status == 410)
			/* The continue token expired mid-pagination: start over. */
			r->st.gone++;
		log_failure(r, "list failed", res);
		backoff(r, STEP_LIST);
		return;
	}
	cJSON *list = cJSON_ParseWithLength(res->body, res->body_len);
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
	const char *rv = meta_str(list, "resourceVersion");
	/* An empty PartialObjectMetadataList comes with "items": null (seen
	 * from v1.36): an empty list, not an unreadable one. */
	if (cJSON_IsNull(items))
		items = NULL;
	if (!list || (items && !cJSON_IsArray(items)) || !rv) {
		LOG_WARN("list response unreadable", "resource=%s bytes=%zu", r->what,
			 res->body_len);
		cJSON_Delete(list);
		backoff(r, STEP_LIST);
		return;
	}
	cJSON *it;
	while (items && (it = items->child) != NULL) {
		cJSON_DetachItemViaPointer((cJSON *)items, it);
		trim_object(it);
		if (r->transform)
			r->transform(it);
		if (r->store) {
			store_stage_take(r->store, it);
		} else {
			/* Delivered and freed at once: a sink of every pod in
			 * the cluster never holds more than one page. */
			r->on_event(r->ud, STORE_ADDED, it);
			cJSON_Delete(it);
			r->ndelivered++;
		}
	}
	const char *cont = meta_str(list, "continue");
	free(r->cont);
	r->cont = NULL;
	if (cont && *cont) {
		r->cont = xstrdup(cont);
		schedule(r, STEP_LIST, 0, list_state(r));
	} else {
		list_complete(r, rv);
	}
	cJSON_Delete(list);
}

static void watch_data(struct kube_req *req, const char *data, size_t len, void *ud);
static void watch_done(struct kube_req *req, const struct kube_result *res, void *ud);

static void start_watch(struct reflector *r)
{
	struct buf p;
	char tmo[24];
	buf_init(&p, 64 * 1024);
	/* ± 10%: watches opened together (startup) do not all end together. */
	int spread = r->watch_timeout_s / 10;
	int t = r->watch_timeout_s - spread + (int)(next_rand(r) % (uint64_t)(2 * spread + 1));
	snprintf(tmo, sizeof(tmo), "%d", t);
	int rc = base_path(r, &p);
	if (rc == 0)
		rc = kube_query_add(&p, "watch", "1");
	if (rc == 0)
		rc = kube_query_add(&p, "resourceVersion", reflector_resource_version(r));
	if (rc == 0)
		rc = kube_query_add(&p, "allowWatchBookmarks", "true");
	if (rc == 0)
		rc = kube_query_add(&p, "timeoutSeconds", tmo);
	if (rc == 0 && *r->selector)
		rc = kube_query_add(&p, "labelSelector", r->selector);
	r->state = REFLECTOR_WATCHING;
	lines_reset(r->lines);
	r->abort = ABORT_NONE;
	r->watch_events = 0;
	r->watch_started_ms = loop_now_monotonic_ms();
	/* The server ends the stream at timeoutSeconds; our own limit, well
	 * after it, only catches a connection that died silently. */
	struct kube_req_opts o = {.method = KUBE_GET,
				  .path = buf_str(&p),
				  .timeout_ms = (long)(t + 60) * 1000,
				  .done = watch_done,
				  .on_data = watch_data,
				  .ud = r,
				  .accept = r->metadata_only ? KUBE_ACCEPT_METADATA : NULL};
	if (rc == 0)
		rc = r->tr.request(r->tr.ctx, &o, &r->req);
	buf_release(&p);
	if (rc < 0) {
		LOG_ERROR("watch request not started", "resource=%s err=%d", r->what, rc);
		r->req = NULL;
		backoff(r, STEP_WATCH);
		return;
	}
	r->st.watches++;
}

static void advance_rv(struct reflector *r, const cJSON *obj)
{
	const char *rv = meta_str(obj, "resourceVersion");
	if (rv && *rv)
		set_rv(r, rv);
}

static int bad_line(struct reflector *r, const char *why, const char *line, size_t len)
{
	r->st.bad_lines++;
	LOG_WARN("watch line dropped, relisting",
		 "resource=%s ns=%s why=%s bytes=%zu start=\"%.60s\"", r->what, r->ns, why, len,
		 line);
	r->abort = ABORT_BACKOFF_RELIST;
	return -ECANCELED;
}

/* A valid event moved the stream on: its resourceVersion, and the failure
 * counts start again. */
static void stream_progress(struct reflector *r, const cJSON *obj)
{
	advance_rv(r, obj);
	r->watch_events++;
	r->failures = 0;
	r->gone_streak = 0;
}

/* One watch event. Returns 0 to go on, -ECANCELED to stop the stream with
 * r->abort saying what next. */
static int on_line(void *ctx, const char *line, size_t len)
{
	struct reflector *r = ctx;
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	if (i == len)
		return 0;
	cJSON *ev = cJSON_ParseWithLength(line, len);
	if (!ev)
		return bad_line(r, "json", line, len);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
	cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
	if (!cJSON_IsString(type) || !cJSON_IsObject(obj)) {
		cJSON_Delete(ev);
		return bad_line(r, "shape", line, len);
	}
	const char *t = type->valuestring;
	int rc = 0;
	bool deleted = strcmp(t, "DELETED") == 0;
	if (deleted || strcmp(t, "ADDED") == 0 || strcmp(t, "MODIFIED") == 0) {
		/* The store reads only the key of a deleted object; a sink
		 * reads the object, so it always gets the usual shape. */
		if (!deleted || !r->store) {
			if (!deleted)
				cJSON_DetachItemViaPointer(ev, obj);
			trim_object(obj);
			if (r->transform)
				r->transform(obj);
		}
		stream_progress(r, obj);
		r->st.events++;
		if (r->store && deleted) {
			store_delete(r->store, obj);
		} else if (r->store) {
			store_upsert_take(r->store, obj);
		} else {
			r->on_event(r->ud,
				    deleted	  ? STORE_DELETED
				    : t[0] == 'A' ? STORE_ADDED
						  : STORE_UPDATED,
				    obj);
			if (!deleted)
				cJSON_Delete(obj);
		}
	} else if (strcmp(t, "BOOKMARK") == 0) {
		stream_progress(r, obj);
		r->st.bookmarks++;
	} else if (strcmp(t, "ERROR") == 0) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
		const cJSON *reason = cJSON_GetObjectItemCaseSensitive(obj, "reason");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(obj, "message");
		int c = cJSON_IsNumber(code) ? code->valueint : 0;
		LOG_INFO("watch error event", "resource=%s ns=%s code=%d reason=%s message=\"%s\"",
			 r->what, r->ns, c, cJSON_IsString(reason) ? reason->valuestring : "",
			 cJSON_IsString(msg) ? msg->valuestring : "");
		if (c == 410) {
			r->st.gone++;
			r->abort = ABORT_RELIST;
		} else {
			r->abort = ABORT_BACKOFF_WATCH;
		}
		rc = -ECANCELED;
	} else {
		LOG_WARN("unknown watch event type ignored", "resource=%s type=%s", r->what, t);
	}
	cJSON_Delete(ev);
	return rc;
}

static void act_on_abort(struct reflector *r)
{
	switch (r->abort) {
	case ABORT_RELIST:
		relist_now(r);
		break;
	case ABORT_BACKOFF_WATCH:
		backoff(r, STEP_WATCH);
		break;
	case ABORT_BACKOFF_RELIST:
		backoff(r, STEP_LIST);
		break;
	case ABORT_NONE:
		break;
	}
	r->abort = ABORT_NONE;
}

static void watch_data(struct kube_req *req, const char *data, size_t len, void *ud)
{
	struct reflector *r = ud;
	int rc = lines_feed(r->lines, data, len, on_line, r);
	if (rc == -EMSGSIZE && r->abort == ABORT_NONE) {
		r->st.bad_lines++;
		LOG_WARN("over-long watch line dropped, relisting", "resource=%s ns=%s", r->what,
			 r->ns);
		r->abort = ABORT_BACKOFF_RELIST;
	}
	if (r->abort != ABORT_NONE) {
		cancel_req(r);
		act_on_abort(r);
	}
}

static void watch_done(struct kube_req *req, const struct kube_result *res, void *ud)
{
	struct reflector *r = ud;
	r->req = NULL;
	if (res->err == 0 && res->status >= 200 && res->status < 300) {
		/* The last event normally ends with '\n'; a tail is delivered in
		 * case the server did not write one. */
		lines_finish(r->lines, on_line, r);
		if (r->abort != ABORT_NONE) {
			act_on_abort(r);
			return;
		}
		int64_t lived = loop_now_monotonic_ms() - r->watch_started_ms;
		if (r->watch_events == 0 && lived < 1000) {
			LOG_WARN("watch ended at once", "resource=%s ns=%s", r->what, r->ns);
			backoff(r, STEP_WATCH);
			return;
		}
		r->failures = 0;
		r->gone_streak = 0;
		LOG_DEBUG("watch ended, resuming", "resource=%s rv=%s", r->what,
			  reflector_resource_version(r));
		schedule(r, STEP_WATCH, 0, REFLECTOR_WATCHING);
		return;
	}
	lines_reset(r->lines);
	if (res->status == 410) {
		r->st.gone++;
		log_failure(r, "watch resourceVersion gone, relisting", res);
		relist_now(r);
		return;
	}
	log_failure(r, "watch failed", res);
	backoff(r, STEP_WATCH);
}
