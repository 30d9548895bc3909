/* List + watch into a store; see informer.h. */
#include "controller/informer.h"

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

/* A watch event is one object: a Job or Pod is a few KiB; 4 MiB is room for
 * anything the apiserver accepts (1.5 MiB per object) plus the envelope. */
#define LINE_MAX_BYTES	  (4u * 1024 * 1024)
#define LIST_PAGE	  "500"
#define BACKOFF_FIRST_MS  200
#define BACKOFF_MAX_MS	  10000
#define WATCH_TIMEOUT_MIN 240 /* seconds; spread so watches do not end together */

enum state { ST_IDLE, ST_LISTING, ST_WATCHING, ST_BACKOFF };

struct informer {
	struct loop *loop;
	struct kube_http *http;
	struct store *store;
	char *group, *version, *resource, *ns, *selector;
	informer_list_fn *on_list;
	void *ud;

	enum state state;
	struct kube_req *req;
	loop_timer_id timer;
	int64_t backoff_ms;
	bool synced;
	bool relist_wanted; /* the watch said 410 or lost a line */

	/* Paged list in progress. */
	cJSON **items;
	size_t n_items, cap_items;

	struct lines *lines;
	struct informer_stats stats;
};

static void start_list(struct informer *inf, const char *cont);
static void start_watch(struct informer *inf);

static char *dup_opt(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

struct informer *informer_new(struct loop *l, struct kube_http *h, struct store *s,
			      const struct informer_opts *o, informer_list_fn *on_list, void *ud)
{
	struct informer *inf = xcalloc(1, sizeof(*inf));
	inf->loop = l;
	inf->http = h;
	inf->store = s;
	inf->group = dup_opt(o->group);
	inf->version = xstrdup(o->version);
	inf->resource = xstrdup(o->resource);
	inf->ns = dup_opt(o->ns);
	inf->selector = dup_opt(o->label_selector);
	inf->on_list = on_list;
	inf->ud = ud;
	inf->lines = lines_new(LINE_MAX_BYTES);
	inf->backoff_ms = BACKOFF_FIRST_MS;
	return inf;
}

static void drop_items(struct informer *inf)
{
	for (size_t i = 0; i < inf->n_items; i++)
		cJSON_Delete(inf->items[i]);
	free(inf->items);
	inf->items = NULL;
	inf->n_items = inf->cap_items = 0;
}

void informer_free(struct informer *inf)
{
	if (!inf)
		return;
	if (inf->req)
		kube_req_cancel(inf->req);
	loop_timer_cancel(inf->loop, inf->timer);
	drop_items(inf);
	lines_free(inf->lines);
	free(inf->group);
	free(inf->version);
	free(inf->resource);
	free(inf->ns);
	free(inf->selector);
	free(inf);
}

bool informer_synced(const struct informer *inf)
{
	return inf->synced;
}

void informer_get_stats(const struct informer *inf, struct informer_stats *st)
{
	*st = inf->stats;
}

static void base_path(const struct informer *inf, struct buf *b)
{
	kube_path(b, inf->group, inf->version, inf->ns, inf->resource, NULL, NULL);
	if (inf->selector)
		kube_query_add(b, "labelSelector", inf->selector);
}

static void retry_cb(struct loop *l, loop_timer_id id, void *ud)
{
	struct informer *inf = ud;
	inf->timer = 0;
	if (inf->relist_wanted || !inf->synced)
		start_list(inf, NULL);
	else
		start_watch(inf);
}

/* Waits, then watches (or lists) again; the wait doubles up to a cap and is
 * reset by the first event a watch delivers. */
static void backoff(struct informer *inf)
{
	inf->state = ST_BACKOFF;
	loop_timer_cancel(inf->loop, inf->timer);
	inf->timer = loop_timer_after(inf->loop, inf->backoff_ms, retry_cb, inf);
	inf->backoff_ms *= 2;
	if (inf->backoff_ms > BACKOFF_MAX_MS)
		inf->backoff_ms = BACKOFF_MAX_MS;
}

/* ---- LIST ------------------------------------------------------------------ */

static void list_done(struct kube_req *req, const struct kube_result *res, void *ud)
{
	struct informer *inf = ud;
	inf->req = NULL;
	if (res->err < 0 || res->status != 200) {
		LOG_WARN("list failed", "resource=%s status=%d err=%d reason=%s message=\"%s\" %s",
			 inf->resource, res->status, res->err, res->reason, res->message,
			 res->transport_error);
		drop_items(inf);
		inf->relist_wanted = true;
		backoff(inf);
		return;
	}
	cJSON *list = cJSON_ParseWithLength(res->body, res->body_len);
	cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
	cJSON *md = cJSON_GetObjectItemCaseSensitive(list, "metadata");
	const char *rv =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "resourceVersion"));
	const char *cont = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "continue"));
	if (!list || !cJSON_IsArray(items) || !rv) {
		LOG_WARN("list: unreadable answer", "resource=%s", inf->resource);
		cJSON_Delete(list);
		drop_items(inf);
		inf->relist_wanted = true;
		backoff(inf);
		return;
	}
	cJSON *it;
	while ((it = cJSON_DetachItemFromArray(items, 0)) != NULL) {
		XGROW(inf->items, inf->cap_items, inf->n_items + 1);
		inf->items[inf->n_items++] = it;
	}
	if (cont && *cont) {
		char *c = xstrdup(cont);
		cJSON_Delete(list);
		start_list(inf, c);
		free(c);
		return;
	}
	size_t n = inf->n_items;
	cJSON **objs = inf->items;
	inf->items = NULL;
	inf->n_items = inf->cap_items = 0;
	store_replace_take(inf->store, objs, n);
	free(objs);
	store_set_resource_version(inf->store, rv);
	cJSON_Delete(list);
	inf->stats.lists++;
	inf->synced = true;
	inf->relist_wanted = false;
	LOG_DEBUG("listed", "resource=%s objects=%zu rv=%s", inf->resource, store_len(inf->store),
		  store_resource_version(inf->store));
	start_watch(inf);
	if (inf->on_list)
		inf->on_list(inf, inf->ud);
}

static void start_list(struct informer *inf, const char *cont)
{
	struct buf path;
	buf_init(&path, 8192);
	base_path(inf, &path);
	kube_query_add(&path, "limit", LIST_PAGE);
	if (cont)
		kube_query_add(&path, "continue", cont);
	else
		drop_items(inf);
	struct kube_req_opts o = {
	    .method = KUBE_GET,
	    .path = buf_str(&path),
	    .timeout_ms = 60000,
	    .done = list_done,
	    .ud = inf,
	};
	inf->state = ST_LISTING;
	if (kube_http_request(inf->http, &o, &inf->req) < 0) {
		inf->req = NULL;
		inf->relist_wanted = true;
		backoff(inf);
	}
	buf_release(&path);
}

/* ---- WATCH ----------------------------------------------------------------- */

/* One watch event. Returns 0, or -ECANCELED to stop reading this stream. */
static int watch_line(void *ctx, const char *line, size_t len)
{
	struct informer *inf = ctx;
	if (len == 0)
		return 0;
	cJSON *ev = cJSON_ParseWithLength(line, len);
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "type"));
	cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
	if (!ev || !type || !cJSON_IsObject(obj)) {
		LOG_WARN("watch: unreadable event", "resource=%s len=%zu", inf->resource, len);
		cJSON_Delete(ev);
		return 0;
	}
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const char *rv =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "resourceVersion"));
	char *rv_copy = rv ? xstrdup(rv) : NULL;
	int rc = 0;
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")) {
		store_upsert_take(inf->store, cJSON_DetachItemViaPointer(ev, obj));
	} else if (!strcmp(type, "DELETED")) {
		store_delete(inf->store, obj);
	} else if (!strcmp(type, "BOOKMARK")) {
		/* only the resourceVersion */
	} else if (!strcmp(type, "ERROR")) {
		double code = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(obj, "code"));
		const char *msg =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "message"));
		LOG_INFO("watch error: relisting", "resource=%s code=%g message=\"%s\"",
			 inf->resource, code, msg ? msg : "");
		/* 410 Gone (the resourceVersion is compacted) and anything else
		 * the server cannot resume from: only a list is safe. */
		inf->relist_wanted = true;
		free(rv_copy);
		rv_copy = NULL;
		rc = -ECANCELED;
	}
	if (rv_copy)
		store_set_resource_version(inf->store, rv_copy);
	free(rv_copy);
	cJSON_Delete(ev);
	if (rc == 0) {
		inf->stats.events++;
		inf->backoff_ms = BACKOFF_FIRST_MS;
	}
	return rc;
}

static void watch_data(struct kube_req *req, const char *data, size_t len, void *ud)
{
	struct informer *inf = ud;
	int rc = lines_feed(inf->lines, data, len, watch_line, inf);
	if (rc == -EMSGSIZE) {
		LOG_WARN("watch: over-long event dropped: relisting", "resource=%s", inf->resource);
		inf->relist_wanted = true;
		rc = -ECANCELED;
	}
	if (rc < 0) {
		kube_req_cancel(req);
		inf->req = NULL;
		start_list(inf, NULL);
	}
}

static void watch_done(struct kube_req *req, const struct kube_result *res, void *ud)
{
	struct informer *inf = ud;
	inf->req = NULL;
	lines_finish(inf->lines, watch_line, inf);
	if (res->status == 410 || inf->relist_wanted) {
		inf->relist_wanted = true;
		start_list(inf, NULL);
		return;
	}
	if (res->err < 0 || res->status != 200) {
		LOG_INFO("watch ended", "resource=%s status=%d err=%d reason=%s %s", inf->resource,
			 res->status, res->err, res->reason, res->transport_error);
		backoff(inf);
		return;
	}
	/* The server's timeoutSeconds: resume from where we are. */
	start_watch(inf);
}

static void start_watch(struct informer *inf)
{
	struct buf path;
	char tmo[16];
	buf_init(&path, 8192);
	base_path(inf, &path);
	kube_query_add(&path, "watch", "1");
	kube_query_add(&path, "resourceVersion", store_resource_version(inf->store));
	kube_query_add(&path, "allowWatchBookmarks", "true");
	snprintf(tmo, sizeof(tmo), "%d", WATCH_TIMEOUT_MIN + (int)(random() % 120));
	kube_query_add(&path, "timeoutSeconds", tmo);
	lines_reset(inf->lines);
	struct kube_req_opts o = {
	    .method = KUBE_GET,
	    .path = buf_str(&path),
	    .timeout_ms = -1,
	    .done = watch_done,
	    .on_data = watch_data,
	    .ud = inf,
	};
	inf->state = ST_WATCHING;
	inf->stats.watches++;
	if (kube_http_request(inf->http, &o, &inf->req) < 0) {
		inf->req = NULL;
		backoff(inf);
	}
	buf_release(&path);
}

void informer_start(struct informer *inf)
{
	if (inf->state == ST_IDLE)
		start_list(inf, NULL);
}
