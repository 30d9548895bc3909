/* Unit tests for pkg/kube/reflector: the list/watch state machine, driven
 * through a fake transport on the real event loop. The fake answers the
 * requests by hand: list pages, watch streams cut at odd places, ERROR
 * events, HTTP errors. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/log.h"
#include "kube/http.h"
#include "kube/reflector.h"
#include "kube/store.h"
#include "loop/loop.h"

/* The reflector never looks inside a request handle: the fake's own. */
struct kube_req {
	int id;
};

struct fake {
	struct kube_req req;
	int active;
	int requests;
	int cancels;
	char path[1024];
	kube_done_fn *done;
	kube_data_fn *on_data;
	void *ud;
};

static int fake_request(void *ctx, const struct kube_req_opts *o, struct kube_req **out)
{
	struct fake *f = ctx;
	assert_false(f->active); /* one request at a time */
	f->active = 1;
	f->requests++;
	f->req.id = f->requests;
	snprintf(f->path, sizeof(f->path), "%s", o->path);
	f->done = o->done;
	f->on_data = o->on_data;
	f->ud = o->ud;
	*out = &f->req;
	return 0;
}

static void fake_cancel(void *ctx, struct kube_req *r)
{
	struct fake *f = ctx;
	assert_ptr_equal(r, &f->req);
	assert_true(f->active);
	f->active = 0;
	f->cancels++;
}

static void fake_reply(struct fake *f, int status, const char *body)
{
	assert_true(f->active);
	f->active = 0;
	struct kube_result res = {.status = status,
				  .body = body ? body : "",
				  .body_len = body ? strlen(body) : 0,
				  .reason = status == 410 ? "Expired" : "",
				  .message = "",
				  .code = status,
				  .transport_error = ""};
	f->done(&f->req, &res, f->ud);
}

static void fake_stream(struct fake *f, const char *chunk)
{
	assert_true(f->active);
	assert_non_null(f->on_data);
	f->on_data(&f->req, chunk, strlen(chunk), f->ud);
}

struct world {
	struct loop *loop;
	struct store *store;
	struct reflector *r;
	struct fake fake;
	struct kube_transport tr;
	int lists, relists;
	char changes[512];
	/* Sink mode: what the delivered objects still carried. */
	int sunk, with_data, with_x, with_managed;
};

static void on_change(void *ud, enum store_event ev, const char *key, const cJSON *old_obj,
		      const cJSON *new_obj)
{
	struct world *w = ud;
	static const char *const names[] = {"+", "~", "-"};
	size_t n = strlen(w->changes);
	snprintf(w->changes + n, sizeof(w->changes) - n, "%s%s ", names[ev], key);
}

static void on_list(struct reflector *r, bool relist, void *ud)
{
	struct world *w = ud;
	w->lists++;
	w->relists += relist;
	assert_true(reflector_synced(r));
}

/* The sink of a sink-mode world: the same record as on_change ("+t/a "),
 * and "|list " or "|relist " where on_list ran, so that the order of the
 * two is checked too. */
static void on_sink(void *ud, enum store_event ev, const cJSON *obj)
{
	struct world *w = ud;
	static const char *const names[] = {"+", "~", "-"};
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *ns = cJSON_GetObjectItemCaseSensitive(md, "namespace");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(md, "name");
	assert_true(cJSON_IsString(ns) && cJSON_IsString(name));
	size_t n = strlen(w->changes);
	snprintf(w->changes + n, sizeof(w->changes) - n, "%s%s/%s ", names[ev], ns->valuestring,
		 name->valuestring);
	w->sunk++;
	w->with_data += cJSON_HasObjectItem(obj, "data");
	w->with_x += cJSON_HasObjectItem(obj, "x");
	w->with_managed += cJSON_HasObjectItem(md, "managedFields");
}

static void on_sink_list(struct reflector *r, bool relist, void *ud)
{
	struct world *w = ud;
	on_list(r, relist, ud);
	size_t n = strlen(w->changes);
	snprintf(w->changes + n, sizeof(w->changes) - n, "|%s ", relist ? "relist" : "list");
}

/* The transform the next world_new installs (NULL: none). */
static void (*next_transform)(cJSON *obj);

/* A store-mode world, or with `sink` a sink-mode one (no store). */
static struct world *world_new_mode(size_t max_line, bool sink)
{
	struct world *w = calloc(1, sizeof(*w));
	assert_int_equal(loop_new(&w->loop), 0);
	if (!sink) {
		w->store = store_new("configmaps");
		store_on_change(w->store, on_change, w);
	}
	w->tr = (struct kube_transport){fake_request, fake_cancel, &w->fake};
	struct reflector_opts o = {.version = "v1",
				   .resource = "configmaps",
				   .ns = "t",
				   .label_selector = "app=x",
				   .page_limit = 2,
				   .watch_timeout_s = 100,
				   .backoff_base_ms = 2,
				   .backoff_max_ms = 8,
				   .max_line = max_line,
				   .transform = next_transform,
				   .on_event = sink ? on_sink : NULL};
	next_transform = NULL;
	w->r = reflector_new(w->loop, &w->tr, w->store, &o, sink ? on_sink_list : on_list, w);
	assert_non_null(w->r);
	return w;
}

static struct world *world_new(size_t max_line)
{
	return world_new_mode(max_line, false);
}

static void world_free(struct world *w)
{
	reflector_free(w->r);
	assert_int_equal(loop_timer_count(w->loop), 0);
	store_free(w->store);
	loop_free(w->loop);
	free(w);
}

/* Runs the loop until the reflector has a request in flight (timers,
 * backoff included, fire on their own). */
static void run_until_request(struct world *w)
{
	/* A bound on waiting only (10 s), not a count of turns: a loaded
	 * machine makes the test slower, never failed. */
	int64_t give_up = loop_now_monotonic_ms() + 10000;
	while (!w->fake.active && loop_now_monotonic_ms() < give_up)
		loop_run_once(w->loop, 20);
	assert_true(w->fake.active);
}

#define CM(name, rv)                                                                               \
	"{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"t\",\"resourceVersion\":\"" rv "\"}" \
	"}"
#define EV(type, obj) "{\"type\":\"" type "\",\"object\":" obj "}\n"

/* Lists a, b (page 1) and c (page 2) at resourceVersion 11, and leaves the
 * reflector with its first watch in flight. */
static void list_three(struct world *w)
{
	reflector_start(w->r);
	assert_int_equal(reflector_state(w->r), REFLECTOR_LISTING);
	run_until_request(w);
	assert_string_equal(w->fake.path,
			    "/api/v1/namespaces/t/configmaps?limit=2&labelSelector=app%3Dx");
	fake_reply(&w->fake, 200,
		   "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\","
		   "\"continue\":\"tok/1\"},\"items\":[" CM("a", "5") "," CM("b", "6") "]}");
	assert_false(reflector_synced(w->r));
	assert_int_equal(store_len(w->store), 0); /* nothing until the last page */
	run_until_request(w);
	assert_string_equal(w->fake.path, "/api/v1/namespaces/t/configmaps?limit=2&continue=tok%2F1"
					  "&labelSelector=app%3Dx");
	fake_reply(&w->fake, 200,
		   "{\"metadata\":{\"resourceVersion\":\"11\"},\"items\":[" CM("c", "7") "]}");
	assert_true(reflector_synced(w->r));
	assert_int_equal(w->lists, 1);
	assert_int_equal(w->relists, 0);
	assert_int_equal(store_len(w->store), 3);
	assert_string_equal(store_resource_version(w->store), "11");
	assert_string_equal(w->changes, "+t/a +t/b +t/c ");
	w->changes[0] = '\0';
	run_until_request(w);
	assert_int_equal(reflector_state(w->r), REFLECTOR_WATCHING);
}

static void test_reflector_lists_pages_then_watches(void **state)
{
	struct world *w = world_new(0);
	list_three(w);
	const char *p = w->fake.path;
	assert_non_null(strstr(p, "/api/v1/namespaces/t/configmaps?watch=1&resourceVersion=11"
				  "&allowWatchBookmarks=true&timeoutSeconds="));
	assert_non_null(strstr(p, "&labelSelector=app%3Dx"));
	long t = strtol(strstr(p, "timeoutSeconds=") + 15, NULL, 10);
	assert_true(t >= 90 && t <= 110); /* 100 +- 10% */
	world_free(w);
}

/* An empty PartialObjectMetadataList comes with "items": null (the
 * apiserver v1.36 answers so): an empty list that syncs, then a watch from
 * its resourceVersion — not an unreadable answer listed again forever. */
static void test_reflector_null_items_is_an_empty_list(void **state)
{
	struct world *w = world_new(0);
	reflector_start(w->r);
	run_until_request(w);
	fake_reply(&w->fake, 200,
		   "{\"kind\":\"PartialObjectMetadataList\",\"metadata\":{\"resourceVersion\":"
		   "\"42\"},\"items\":null}");
	assert_true(reflector_synced(w->r));
	assert_int_equal(store_len(w->store), 0);
	run_until_request(w);
	assert_int_equal(reflector_state(w->r), REFLECTOR_WATCHING);
	assert_non_null(strstr(w->fake.path, "watch=1&resourceVersion=42&"));
	world_free(w);
}

/* Drops "data": what a projection would do to a field nobody reads. */
static void drop_data(cJSON *obj)
{
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "data");
}

#define CMD(name, rv)                                                                              \
	"{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"t\",\"resourceVersion\":\"" rv       \
	"\",\"managedFields\":[{\"manager\":\"kubectl\"}]},\"data\":{\"k\":\"v\"},\"x\":1}"

/* The transform sees every object that enters the store — list items and
 * ADDED/MODIFIED events — after managedFields is gone; the rest is kept. */
static void test_reflector_transform_applies_to_lists_and_events(void **state)
{
	next_transform = drop_data;
	struct world *w = world_new(0);
	reflector_start(w->r);
	run_until_request(w);
	fake_reply(&w->fake, 200,
		   "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" CMD("a", "5") "]}");
	assert_int_equal(store_len(w->store), 1);
	run_until_request(w);
	fake_stream(&w->fake, EV("ADDED", CMD("b", "11")) EV("MODIFIED", CMD("a", "12")));
	assert_int_equal(store_len(w->store), 2);
	const char *names[] = {"a", "b"};
	for (int i = 0; i < 2; i++) {
		const cJSON *o = store_get_ns(w->store, "t", names[i]);
		assert_non_null(o);
		assert_null(cJSON_GetObjectItemCaseSensitive(o, "data"));
		assert_non_null(cJSON_GetObjectItemCaseSensitive(o, "x"));
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
		assert_null(cJSON_GetObjectItemCaseSensitive(md, "managedFields"));
		assert_non_null(cJSON_GetObjectItemCaseSensitive(md, "resourceVersion"));
	}
	assert_string_equal(store_resource_version(w->store), "12");
	world_free(w);
}

static void test_reflector_applies_events_across_chunks_and_resumes(void **state)
{
	struct world *w = world_new(0);
	list_three(w);
	const char stream[] = EV("ADDED", CM("d", "12"))
	    EV("MODIFIED", CM("a", "13")) "\n" EV("DELETED", CM("b", "14"))
		EV("BOOKMARK", "{\"metadata\":{\"resourceVersion\":\"20\"}}");
	/* Cut the stream in uneven chunks, mid-line and mid-UTF-8 alike. */
	size_t len = strlen(stream);
	char chunk[64];
	for (size_t off = 0; off < len; off += 7) {
		size_t n = len - off < 7 ? len - off : 7;
		memcpy(chunk, stream + off, n);
		chunk[n] = '\0';
		fake_stream(&w->fake, chunk);
	}
	assert_string_equal(w->changes, "+t/d ~t/a -t/b ");
	assert_string_equal(store_resource_version(w->store), "20");
	assert_int_equal(store_len(w->store), 3);
	assert_null(store_get(w->store, "t/b"));
	struct reflector_stats st;
	reflector_get_stats(w->r, &st);
	assert_int_equal(st.events, 3);
	assert_int_equal(st.bookmarks, 1);

	/* The server ends the watch (timeoutSeconds): resume from the
	 * bookmark's resourceVersion, no list. */
	fake_reply(&w->fake, 200, NULL);
	assert_int_equal(reflector_state(w->r), REFLECTOR_WATCHING);
	run_until_request(w);
	assert_non_null(strstr(w->fake.path, "watch=1&resourceVersion=20&"));
	reflector_get_stats(w->r, &st);
	assert_int_equal(st.lists, 1);
	assert_int_equal(st.watches, 2);
	world_free(w);
}

static void test_reflector_error_event_410_relists_and_reports_gap(void **state)
{
	struct world *w = world_new(0);
	list_three(w);
	fake_stream(&w->fake, EV("MODIFIED", CM("a", "13"))
				  EV("ERROR", "{\"kind\":\"Status\",\"status\":\"Failure\","
					      "\"reason\":\"Expired\",\"code\":410}")
				      EV("ADDED", CM("never", "99")));
	/* The stream is dropped at the ERROR: the event after it is not applied. */
	assert_int_equal(w->fake.cancels, 1);
	assert_null(store_get(w->store, "t/never"));
	assert_int_equal(reflector_state(w->r), REFLECTOR_RELISTING);
	run_until_request(w);
	assert_null(strstr(w->fake.path, "watch=1"));
	w->changes[0] = '\0';
	/* b and c were deleted while we were not watching. */
	fake_reply(&w->fake, 200,
		   "{\"metadata\":{\"resourceVersion\":\"30\"},\"items\":[" CM("a", "13") "," CM(
		       "e", "29") "]}");
	assert_string_equal(w->changes, "+t/e -t/b -t/c ");
	assert_int_equal(w->lists, 2);
	assert_int_equal(w->relists, 1);
	struct reflector_stats st;
	reflector_get_stats(w->r, &st);
	assert_int_equal(st.gone, 1);
	assert_int_equal(st.relists, 1);
	run_until_request(w);
	assert_non_null(strstr(w->fake.path, "watch=1&resourceVersion=30&"));
	world_free(w);
}

static void test_reflector_http_410_on_watch_relists(void **state)
{
	struct world *w = world_new(0);
	list_three(w);
	fake_reply(&w->fake, 410, "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}");
	assert_int_equal(reflector_state(w->r), REFLECTOR_RELISTING);
	run_until_request(w);
	assert_non_null(strstr(w->fake.path, "configmaps?limit=2"));
	fake_reply(&w->fake, 200, "{\"metadata\":{\"resourceVersion\":\"40\"},\"items\":[]}");
	assert_int_equal(store_len(w->store), 0);
	assert_int_equal(w->relists, 1);
	world_free(w);
}

static void test_reflector_repeated_410_backs_off(void **state)
{
	struct world *w = world_new(0);
	list_three(w);
	fake_reply(&w->fake, 410, "{}");
	assert_int_equal(reflector_state(w->r), REFLECTOR_RELISTING);
	run_until_request(w);
	fake_reply(&w->fake, 200, "{\"metadata\":{\"resourceVersion\":\"40\"},\"items\":[]}");
	run_until_request(w);
	/* Gone again before any event: not a tight relist loop. */
	fake_stream(&w->fake, EV("ERROR", "{\"code\":410}"));
	assert_int_equal(reflector_state(w->r), REFLECTOR_BACKOFF);
	run_until_request(w);
	assert_int_equal(reflector_state(w->r), REFLECTOR_RELISTING);
	fake_reply(&w->fake, 200, "{\"metadata\":{\"resourceVersion\":\"41\"},\"items\":[]}");
	run_until_request(w);
	/* An event resets the streak: the next 410 relists at once. */
	fake_stream(&w->fake, EV("BOOKMARK", "{\"metadata\":{\"resourceVersion\":\"45\"}}"));
	fake_stream(&w->fake, EV("ERROR", "{\"code\":410}"));
	assert_int_equal(reflector_state(w->r), REFLECTOR_RELISTING);
	struct reflector_stats st;
	reflector_get_stats(w->r, &st);
	assert_int_equal(st.gone, 3);
	assert_int_equal(w->relists, 2);
	world_free(w);
}

static void test_reflector_watch_error_backs_off_and_resumes(void **state)
{
	struct world *w = world_new(0);
	list_three(w);
	fake_stream(&w->fake, EV("ADDED", CM("d", "12")));
	fake_reply(&w->fake, 500,
		   "{\"kind\":\"Status\",\"code\":500,\"reason\":\"InternalError\"}");
	assert_int_equal(reflector_state(w->r), REFLECTOR_BACKOFF);
	struct reflector_stats st;
	reflector_get_stats(w->r, &st);
	assert_true(st.last_backoff_ms >= 1 && st.last_backoff_ms <= 2);
	run_until_request(w);
	assert_int_equal(reflector_state(w->r), REFLECTOR_WATCHING);
	/* Resumed where the events left off, without a list. */
	assert_non_null(strstr(w->fake.path, "watch=1&resourceVersion=12&"));
	/* A non-410 ERROR event also backs off and resumes. */
	fake_stream(&w->fake, EV("ERROR", "{\"code\":500,\"reason\":\"InternalError\"}"));
	assert_int_equal(w->fake.cancels, 1);
	assert_int_equal(reflector_state(w->r), REFLECTOR_BACKOFF);
	run_until_request(w);
	assert_non_null(strstr(w->fake.path, "watch=1&resourceVersion=12&"));
	reflector_get_stats(w->r, &st);
	assert_int_equal(st.lists, 1);
	assert_int_equal(st.errors, 2);
	world_free(w);
}

static void test_reflector_backoff_doubles_with_jitter_and_caps(void **state)
{
	struct world *w = world_new(0);
	reflector_start(w->r);
	int64_t cap[] = {2, 4, 8, 8, 8};
	struct reflector_stats st;
	for (int i = 0; i < 5; i++) {
		run_until_request(w);
		fake_reply(&w->fake, 503, "{}");
		assert_int_equal(reflector_state(w->r), REFLECTOR_BACKOFF);
		reflector_get_stats(w->r, &st);
		assert_true(st.last_backoff_ms >= cap[i] / 2 && st.last_backoff_ms <= cap[i]);
	}
	assert_false(reflector_synced(w->r));
	assert_int_equal(w->lists, 0);
	/* Still listing (not watching) once the API answers. */
	run_until_request(w);
	assert_int_equal(reflector_state(w->r), REFLECTOR_LISTING);
	fake_reply(&w->fake, 200, "{\"metadata\":{\"resourceVersion\":\"3\"},\"items\":[]}");
	assert_true(reflector_synced(w->r));
	assert_int_equal(w->relists, 0);
	world_free(w);
}

static void test_reflector_malformed_line_relists_after_backoff(void **state)
{
	struct world *w = world_new(0);
	list_three(w);
	int level = log_level_current;
	log_level_current = LOG_LEVEL_ERROR;
	fake_stream(&w->fake, "{\"type\":\"ADDED\",\"object\":{\"metadata\":\n");
	log_level_current = level;
	assert_int_equal(w->fake.cancels, 1);
	assert_int_equal(reflector_state(w->r), REFLECTOR_BACKOFF);
	run_until_request(w);
	assert_int_equal(reflector_state(w->r), REFLECTOR_RELISTING);
	assert_null(strstr(w->fake.path, "watch=1"));
	struct reflector_stats st;
	reflector_get_stats(w->r, &st);
	assert_int_equal(st.bad_lines, 1);
	/* A line with the wrong shape is as bad as broken JSON. */
	fake_reply(&w->fake, 200, "{\"metadata\":{\"resourceVersion\":\"50\"},\"items\":[]}");
	run_until_request(w);
	fake_stream(&w->fake, "[1,2]\n");
	reflector_get_stats(w->r, &st);
	assert_int_equal(st.bad_lines, 2);
	assert_int_equal(reflector_state(w->r), REFLECTOR_BACKOFF);
	world_free(w);
}

static void test_reflector_overlong_line_relists(void **state)
{
	struct world *w = world_new(120);
	list_three(w);
	char big[400];
	snprintf(big, sizeof(big),
		 "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"big\",\"namespace\":"
		 "\"t\",\"resourceVersion\":\"12\"},\"data\":{\"k\":\"%0200d\"}}}\n",
		 0);
	fake_stream(&w->fake, big);
	assert_null(store_get(w->store, "t/big"));
	assert_int_equal(w->fake.cancels, 1);
	run_until_request(w);
	assert_int_equal(reflector_state(w->r), REFLECTOR_RELISTING);
	/* The list is not line-capped: the big object arrives through it. */
	char list[600];
	snprintf(list, sizeof(list), "{\"metadata\":{\"resourceVersion\":\"12\"},\"items\":[%.*s]}",
		 (int)(strlen(big) - 2 - strlen("{\"type\":\"ADDED\",\"object\":")),
		 big + strlen("{\"type\":\"ADDED\",\"object\":"));
	fake_reply(&w->fake, 200, list);
	assert_non_null(store_get(w->store, "t/big"));
	assert_int_equal(store_len(w->store), 1);
	world_free(w);
}

static void test_reflector_quick_empty_watch_end_backs_off(void **state)
{
	struct world *w = world_new(0);
	list_three(w);
	fake_reply(&w->fake, 200, NULL);
	assert_int_equal(reflector_state(w->r), REFLECTOR_BACKOFF);
	run_until_request(w);
	assert_non_null(strstr(w->fake.path, "resourceVersion=11&"));
	world_free(w);
}

static void test_reflector_free_mid_watch_cancels(void **state)
{
	struct world *w = world_new(0);
	list_three(w);
	reflector_free(w->r);
	w->r = NULL;
	assert_int_equal(w->fake.cancels, 1);
	assert_int_equal(loop_timer_count(w->loop), 0);
	world_free(w);
}

static void test_reflector_state_names(void **state)
{
	assert_string_equal(reflector_state_name(REFLECTOR_RELISTING), "Relisting");
	assert_string_equal(reflector_state_name(REFLECTOR_BACKOFF), "Backoff");
	struct reflector_opts bad = {.resource = "pods"};
	assert_null(reflector_new(NULL, NULL, NULL, &bad, NULL, NULL));
}

/* managedFields never reach the store, from a list or from a watch event:
 * they are the bulk of a Job or Pod and nothing reads them. */
static void test_reflector_trims_managed_fields(void **state)
{
	struct world *w = world_new(0);
	reflector_start(w->r);
	run_until_request(w);
	fake_reply(&w->fake, 200,
		   "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[{\"metadata\":{"
		   "\"name\":\"a\",\"namespace\":\"t\",\"resourceVersion\":\"5\","
		   "\"managedFields\":[{\"manager\":\"kubectl\"}]},\"data\":{\"k\":\"v\"}}]}");
	const cJSON *a = store_get(w->store, "t/a");
	assert_non_null(a);
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(a, "metadata");
	assert_null(cJSON_GetObjectItemCaseSensitive(meta, "managedFields"));
	assert_non_null(cJSON_GetObjectItemCaseSensitive(a, "data"));
	run_until_request(w);
	fake_stream(&w->fake, EV("ADDED", "{\"metadata\":{\"name\":\"b\",\"namespace\":\"t\","
					  "\"resourceVersion\":\"11\",\"managedFields\":[{}]}}"));
	const cJSON *b = store_get(w->store, "t/b");
	assert_non_null(b);
	meta = cJSON_GetObjectItemCaseSensitive(b, "metadata");
	assert_null(cJSON_GetObjectItemCaseSensitive(meta, "managedFields"));
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(meta, "name")->valuestring, "b");
	world_free(w);
}

/* ---- sink mode ------------------------------------------------------------ */

/* list_three in sink mode: a and b are delivered with their page, c with
 * the last, then on_list; the first watch is left in flight. */
static void sink_list_three(struct world *w)
{
	reflector_start(w->r);
	run_until_request(w);
	fake_reply(&w->fake, 200,
		   "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\","
		   "\"continue\":\"tok/1\"},\"items\":[" CM("a", "5") "," CM("b", "6") "]}");
	/* Page by page: nothing waits for the last page. */
	assert_string_equal(w->changes, "+t/a +t/b ");
	assert_false(reflector_synced(w->r));
	assert_int_equal(w->lists, 0);
	run_until_request(w);
	assert_non_null(strstr(w->fake.path, "continue=tok%2F1"));
	fake_reply(&w->fake, 200,
		   "{\"metadata\":{\"resourceVersion\":\"11\"},\"items\":[" CM("c", "7") "]}");
	assert_string_equal(w->changes, "+t/a +t/b +t/c |list ");
	assert_true(reflector_synced(w->r));
	assert_int_equal(w->lists, 1);
	assert_string_equal(reflector_resource_version(w->r), "11");
	w->changes[0] = '\0';
	run_until_request(w);
	assert_int_equal(reflector_state(w->r), REFLECTOR_WATCHING);
	assert_non_null(strstr(w->fake.path, "watch=1&resourceVersion=11&"));
}

static void test_reflector_sink_delivers_list_then_events_in_order(void **state)
{
	struct world *w = world_new_mode(0, true);
	sink_list_three(w);
	/* A DELETED of a key never seen is delivered too: there is no store
	 * to say it was unknown. */
	fake_stream(&w->fake, EV("ADDED", CM("d", "12")) EV("MODIFIED", CM("a", "13"))
				  EV("DELETED", CM("b", "14")) EV("DELETED", CM("zz", "15")));
	assert_string_equal(w->changes, "+t/d ~t/a -t/b -t/zz ");
	assert_string_equal(reflector_resource_version(w->r), "15");
	struct reflector_stats st;
	reflector_get_stats(w->r, &st);
	assert_int_equal(st.events, 4);
	assert_int_equal(st.lists, 1);
	/* A normal end resumes from the last event, no list, no delivery. */
	fake_reply(&w->fake, 200, NULL);
	run_until_request(w);
	assert_non_null(strstr(w->fake.path, "watch=1&resourceVersion=15&"));
	assert_int_equal(w->sunk, 7);
	world_free(w);
}

static void test_reflector_sink_bookmark_moves_rv_without_delivery(void **state)
{
	struct world *w = world_new_mode(0, true);
	sink_list_three(w);
	fake_stream(&w->fake, EV("BOOKMARK", "{\"kind\":\"ConfigMap\",\"metadata\":{"
					     "\"resourceVersion\":\"20\"}}"));
	assert_string_equal(w->changes, "");
	assert_int_equal(w->sunk, 3);
	assert_string_equal(reflector_resource_version(w->r), "20");
	struct reflector_stats st;
	reflector_get_stats(w->r, &st);
	assert_int_equal(st.bookmarks, 1);
	assert_int_equal(st.events, 0);
	fake_reply(&w->fake, 200, NULL);
	run_until_request(w);
	assert_non_null(strstr(w->fake.path, "watch=1&resourceVersion=20&"));
	world_free(w);
}

static void test_reflector_sink_410_relists_and_redelivers(void **state)
{
	struct world *w = world_new_mode(0, true);
	sink_list_three(w);
	fake_stream(&w->fake,
		    EV("MODIFIED", CM("a", "13")) EV("ERROR", "{\"kind\":\"Status\",\"code\":410}")
			EV("ADDED", CM("never", "99")));
	assert_string_equal(w->changes, "~t/a ");
	assert_int_equal(w->fake.cancels, 1);
	assert_int_equal(reflector_state(w->r), REFLECTOR_RELISTING);
	run_until_request(w);
	assert_null(strstr(w->fake.path, "watch=1"));
	/* Everything listed is delivered again, a included though unchanged;
	 * b and c just stop being mentioned. */
	fake_reply(&w->fake, 200,
		   "{\"metadata\":{\"resourceVersion\":\"30\"},\"items\":[" CM("a", "13") "," CM(
		       "e", "29") "]}");
	assert_string_equal(w->changes, "~t/a +t/a +t/e |relist ");
	assert_int_equal(w->relists, 1);
	assert_string_equal(reflector_resource_version(w->r), "30");
	run_until_request(w);
	assert_non_null(strstr(w->fake.path, "watch=1&resourceVersion=30&"));
	/* The HTTP 410 of a watch does the same. */
	w->changes[0] = '\0';
	fake_stream(&w->fake, EV("ADDED", CM("f", "31")));
	fake_reply(&w->fake, 410, "{\"kind\":\"Status\",\"code\":410}");
	assert_int_equal(reflector_state(w->r), REFLECTOR_RELISTING);
	run_until_request(w);
	fake_reply(&w->fake, 200,
		   "{\"metadata\":{\"resourceVersion\":\"40\"},\"items\":[" CM("f", "31") "]}");
	assert_string_equal(w->changes, "+t/f +t/f |relist ");
	struct reflector_stats st;
	reflector_get_stats(w->r, &st);
	assert_int_equal(st.gone, 2);
	assert_int_equal(st.relists, 2);
	world_free(w);
}

static void test_reflector_sink_bad_line_backs_off_and_relists(void **state)
{
	struct world *w = world_new_mode(120, true);
	sink_list_three(w);
	int level = log_level_current;
	log_level_current = LOG_LEVEL_ERROR;
	fake_stream(&w->fake, EV("ADDED", CM("d", "12")) "{\"type\":\"ADDED\",\"object\":{\n" EV(
				  "ADDED", CM("never", "13")));
	log_level_current = level;
	assert_string_equal(w->changes, "+t/d ");
	assert_int_equal(w->fake.cancels, 1);
	assert_int_equal(reflector_state(w->r), REFLECTOR_BACKOFF);
	run_until_request(w);
	assert_int_equal(reflector_state(w->r), REFLECTOR_RELISTING);
	assert_null(strstr(w->fake.path, "watch=1"));
	fake_reply(&w->fake, 200,
		   "{\"metadata\":{\"resourceVersion\":\"50\"},\"items\":[" CM("d", "12") "]}");
	assert_string_equal(w->changes, "+t/d +t/d |relist ");
	/* An over-long line (max_line 120) goes the same way. */
	run_until_request(w);
	w->changes[0] = '\0';
	char big[400];
	snprintf(big, sizeof(big),
		 "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"big\",\"namespace\":"
		 "\"t\",\"resourceVersion\":\"51\"},\"data\":{\"k\":\"%0200d\"}}}\n",
		 0);
	fake_stream(&w->fake, big);
	assert_string_equal(w->changes, "");
	assert_int_equal(w->fake.cancels, 2);
	assert_int_equal(reflector_state(w->r), REFLECTOR_BACKOFF);
	struct reflector_stats st;
	reflector_get_stats(w->r, &st);
	assert_int_equal(st.bad_lines, 2);
	assert_int_equal(st.errors, 2);
	run_until_request(w);
	assert_int_equal(reflector_state(w->r), REFLECTOR_RELISTING);
	world_free(w);
}

/* The sink sees what a store would hold: managedFields dropped, then the
 * transform, for list items and ADDED/MODIFIED/DELETED events alike. */
static void test_reflector_sink_transform_before_delivery(void **state)
{
	next_transform = drop_data;
	struct world *w = world_new_mode(0, true);
	reflector_start(w->r);
	run_until_request(w);
	fake_reply(&w->fake, 200,
		   "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" CMD("a", "5") "]}");
	run_until_request(w);
	fake_stream(&w->fake, EV("ADDED", CMD("b", "11")) EV("MODIFIED", CMD("a", "12"))
				  EV("DELETED", CMD("b", "13")));
	assert_string_equal(w->changes, "+t/a |list +t/b ~t/a -t/b ");
	assert_int_equal(w->sunk, 4);
	assert_int_equal(w->with_data, 0);
	assert_int_equal(w->with_managed, 0);
	assert_int_equal(w->with_x, 4);
	assert_string_equal(reflector_resource_version(w->r), "13");
	world_free(w);
}

/* reflector_free from outside the callbacks, at each point where the
 * reflector holds something: a list page in flight with items already
 * delivered, a watch with half a line buffered, a backoff timer. valgrind
 * (make valgrind) sees any leak; the fake sees the cancels. */
static void test_reflector_sink_free_leaks_nothing(void **state)
{
	struct world *w = world_new_mode(0, true);
	reflector_start(w->r);
	run_until_request(w);
	fake_reply(&w->fake, 200,
		   "{\"metadata\":{\"resourceVersion\":\"10\",\"continue\":\"x\"},\"items\":[" CM(
		       "a", "5") "]}");
	run_until_request(w);
	assert_string_equal(w->changes, "+t/a ");
	reflector_free(w->r);
	w->r = NULL;
	assert_int_equal(w->fake.cancels, 1);
	world_free(w); /* asserts no timer is left */

	w = world_new_mode(0, true);
	sink_list_three(w);
	fake_stream(&w->fake, EV("ADDED", CM("d", "12")) "{\"type\":\"MODIFIED\",\"obj");
	assert_string_equal(w->changes, "+t/d ");
	reflector_free(w->r);
	w->r = NULL;
	assert_int_equal(w->fake.cancels, 1);
	assert_int_equal(w->fake.active, 0);
	world_free(w);

	w = world_new_mode(0, true);
	sink_list_three(w);
	fake_reply(&w->fake, 500, "{}");
	assert_int_equal(reflector_state(w->r), REFLECTOR_BACKOFF);
	assert_int_equal(loop_timer_count(w->loop), 1);
	world_free(w);
}

/* A store and a sink, or neither, is a programming error caught at once. */
static void test_reflector_sink_needs_store_xor_sink(void **state)
{
	struct store *s = store_new("x");
	struct fake f = {0};
	struct kube_transport tr = {fake_request, fake_cancel, &f};
	struct reflector_opts sink = {.version = "v1", .resource = "pods", .on_event = on_sink};
	struct reflector_opts plain = {.version = "v1", .resource = "pods"};
	struct {
		struct store *s;
		const struct reflector_opts *o;
	} bad[] = {{NULL, &plain}, {s, &sink}};
	for (size_t i = 0; i < 2; i++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			/* The BUG_ON fires before the loop is used. */
			int fd = open("/dev/null", O_WRONLY);
			if (fd >= 0)
				dup2(fd, 2);
			reflector_new((struct loop *)&f, &tr, bad[i].s, bad[i].o, NULL, NULL);
			_exit(0);
		}
		int status = 0;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGABRT);
	}
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reflector_lists_pages_then_watches),
	    cmocka_unit_test(test_reflector_null_items_is_an_empty_list),
	    cmocka_unit_test(test_reflector_transform_applies_to_lists_and_events),
	    cmocka_unit_test(test_reflector_trims_managed_fields),
	    cmocka_unit_test(test_reflector_applies_events_across_chunks_and_resumes),
	    cmocka_unit_test(test_reflector_error_event_410_relists_and_reports_gap),
	    cmocka_unit_test(test_reflector_http_410_on_watch_relists),
	    cmocka_unit_test(test_reflector_repeated_410_backs_off),
	    cmocka_unit_test(test_reflector_watch_error_backs_off_and_resumes),
	    cmocka_unit_test(test_reflector_backoff_doubles_with_jitter_and_caps),
	    cmocka_unit_test(test_reflector_malformed_line_relists_after_backoff),
	    cmocka_unit_test(test_reflector_overlong_line_relists),
	    cmocka_unit_test(test_reflector_quick_empty_watch_end_backs_off),
	    cmocka_unit_test(test_reflector_free_mid_watch_cancels),
	    cmocka_unit_test(test_reflector_state_names),
	    cmocka_unit_test(test_reflector_sink_delivers_list_then_events_in_order),
	    cmocka_unit_test(test_reflector_sink_bookmark_moves_rv_without_delivery),
	    cmocka_unit_test(test_reflector_sink_410_relists_and_redelivers),
	    cmocka_unit_test(test_reflector_sink_bad_line_backs_off_and_relists),
	    cmocka_unit_test(test_reflector_sink_transform_before_delivery),
	    cmocka_unit_test(test_reflector_sink_free_leaks_nothing),
	    cmocka_unit_test(test_reflector_sink_needs_store_xor_sink),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
