/* pkg/kube/reflector against the live apiserver ($KUBECONFIG, from
 * `make e2e`), on ConfigMaps in a fresh namespace:
 *   - a paged list then a watch see creates, updates and deletes in order,
 *     and the store ends equal to `kubectl get`;
 *   - a watch the server ends (timeoutSeconds) resumes from the last
 *     resourceVersion without a list and misses nothing;
 *   - a watch gap: events swallowed, then an ERROR 410 (what the apiserver
 *     sends when our resourceVersion was compacted) — the reflector relists
 *     from the live server, reports relist=true, and the store's diff names
 *     exactly what changed during the gap.
 * A real 410 cannot be provoked on demand (a young apiserver's watch cache
 * still holds resourceVersion 1, and compaction runs on its own timer), so
 * the gap test injects the ERROR event into the live stream through a
 * transport wrapper; the unit tests cover the HTTP 410 path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "kube/config.h"
#include "kube/http.h"
#include "kube/reflector.h"
#include "kube/store.h"
#include "loop/loop.h"

/* A transport that passes everything to the real client, and lets the test
 * swallow a watch's data or inject lines into it. */
struct wrap {
	struct kube_http *h;
	struct kube_req *watch; /* the current watch, or NULL */
	kube_data_fn *data;
	kube_done_fn *done;
	void *ud;
	bool swallow;
	int watches;
};

struct fx {
	struct loop *l;
	struct kube_config *cfg;
	struct kube_http *h;
	struct store *s;
	struct reflector *r;
	struct wrap w;
	struct kube_transport tr;
	char ns[64];
	struct buf changes;
	int lists, relists;
};

static void wrap_data(struct kube_req *req, const char *d, size_t n, void *ud)
{
	struct wrap *w = ud;
	if (!w->swallow)
		w->data(req, d, n, w->ud);
}

static void wrap_done(struct kube_req *req, const struct kube_result *res, void *ud)
{
	struct wrap *w = ud;
	if (req == w->watch)
		w->watch = NULL;
	w->done(req, res, w->ud);
}

static int wrap_request(void *ctx, const struct kube_req_opts *o, struct kube_req **out)
{
	struct wrap *w = ctx;
	if (!o->on_data)
		return kube_http_request(w->h, o, out);
	struct kube_req_opts mine = *o;
	w->data = o->on_data;
	w->done = o->done;
	w->ud = o->ud;
	mine.on_data = wrap_data;
	mine.done = wrap_done;
	mine.ud = w;
	int rc = kube_http_request(w->h, &mine, out);
	if (rc == 0) {
		w->watch = *out;
		w->watches++;
	}
	return rc;
}

static void wrap_cancel(void *ctx, struct kube_req *r)
{
	struct wrap *w = ctx;
	if (r == w->watch)
		w->watch = NULL;
	kube_req_cancel(r);
}

static void on_change(void *ud, enum store_event ev, const char *key, const cJSON *old_obj,
		      const cJSON *new_obj)
{
	struct fx *f = ud;
	static const char *const sign[] = {"+", "~", "-"};
	/* Keys without the namespace: shorter expectations. */
	const char *slash = strchr(key, '/');
	buf_addf(&f->changes, "%s%s ", sign[ev], slash ? slash + 1 : key);
}

static void on_list(struct reflector *r, bool relist, void *ud)
{
	struct fx *f = ud;
	f->lists++;
	f->relists += relist;
}

static void api(struct fx *f, enum kube_method m, const char *path, const char *body,
		int want_status)
{
	struct kube_response r;
	assert_int_equal(kube_http_do(f->h, m, path, body, body ? strlen(body) : 0, &r), 0);
	if (r.status != want_status)
		fail_msg("%s: status %d (%s: %s), want %d", path, r.status, r.reason, r.message,
			 want_status);
	kube_response_release(&r);
}

static void cm_path(struct fx *f, char *out, size_t n, const char *name)
{
	snprintf(out, n, "/api/v1/namespaces/%s/configmaps%s%s", f->ns, name ? "/" : "",
		 name ? name : "");
}

static void cm_create(struct fx *f, const char *name, bool labelled, const char *value)
{
	char path[256], body[512];
	cm_path(f, path, sizeof(path), NULL);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"%s},"
		 "\"data\":{\"v\":\"%s\"}}",
		 name, labelled ? ",\"labels\":{\"app\":\"itest\"}" : "", value);
	api(f, KUBE_POST, path, body, 201);
}

static void cm_update(struct fx *f, const char *name, const char *value)
{
	char path[256], body[128];
	cm_path(f, path, sizeof(path), name);
	snprintf(body, sizeof(body), "{\"data\":{\"v\":\"%s\"}}", value);
	api(f, KUBE_PATCH_MERGE, path, body, 200);
}

static void cm_delete(struct fx *f, const char *name)
{
	char path[256];
	cm_path(f, path, sizeof(path), name);
	api(f, KUBE_DELETE, path, NULL, 200);
}

/* Runs the loop until cond holds or timeout_ms passes. */
#define RUN_UNTIL(f, cond, timeout_ms)                                                             \
	do {                                                                                       \
		int64_t end_ = loop_now_monotonic_ms() + (timeout_ms);                             \
		while (!(cond) && loop_now_monotonic_ms() < end_)                                  \
			loop_run_once((f)->l, 50);                                                 \
		if (!(cond))                                                                       \
			fail_msg("timed out waiting for %s (changes: %s)", #cond,                  \
				 buf_str(&(f)->changes));                                          \
	} while (0)

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512];
	assert_int_equal(loop_new(&f->l), 0);
	if (kube_config_load_default(NULL, NULL, &f->cfg, err, sizeof(err)) < 0)
		fail_msg("no cluster: %s", err);
	assert_int_equal(kube_http_new(f->l, f->cfg, NULL, &f->h), 0);
	snprintf(f->ns, sizeof(f->ns), "itest-refl-%d-%lld", (int)getpid(),
		 (long long)(loop_now_realtime_ms() % 100000000));
	char body[256];
	snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"%s\"}}", f->ns);
	api(f, KUBE_POST, "/api/v1/namespaces", body, 201);
	buf_init(&f->changes, BUF_UNLIMITED);
	f->s = store_new("configmaps");
	store_on_change(f->s, on_change, f);
	f->w.h = f->h;
	f->tr = (struct kube_transport){wrap_request, wrap_cancel, &f->w};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	reflector_free(f->r);
	char path[128];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s", f->ns);
	struct kube_response r;
	kube_http_do(f->h, KUBE_DELETE, path, NULL, 0, &r);
	kube_response_release(&r);
	store_free(f->s);
	buf_release(&f->changes);
	kube_http_free(f->h);
	kube_config_free(f->cfg);
	loop_free(f->l);
	free(f);
	return 0;
}

static void start(struct fx *f, int watch_timeout_s)
{
	struct reflector_opts o = {.version = "v1",
				   .resource = "configmaps",
				   .ns = f->ns,
				   .label_selector = "app=itest",
				   .page_limit = 2,
				   .watch_timeout_s = watch_timeout_s,
				   .backoff_base_ms = 50,
				   .backoff_max_ms = 500};
	f->r = reflector_new(f->l, &f->tr, f->s, &o, on_list, f);
	assert_non_null(f->r);
	reflector_start(f->r);
}

/* "name=resourceVersion\n" for each object, sorted by name: from the store,
 * and from kubectl. */
static void store_picture(struct fx *f, struct buf *out)
{
	struct store_list l;
	assert_int_equal(store_list(f->s, f->ns, NULL, &l), 0);
	for (size_t i = 0; i < l.n; i++) {
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(l.items[i], "metadata");
		buf_addf(out, "%s=%s\n", cJSON_GetObjectItemCaseSensitive(md, "name")->valuestring,
			 cJSON_GetObjectItemCaseSensitive(md, "resourceVersion")->valuestring);
	}
	store_list_release(&l);
}

static void kubectl_picture(struct fx *f, struct buf *out)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "kubectl get configmaps -n %s -l app=itest --sort-by=.metadata.name -o "
		 "jsonpath='{range .items[*]}{.metadata.name}={.metadata.resourceVersion}{\"\\n\"}"
		 "{end}'",
		 f->ns);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[256];
	while (fgets(line, sizeof(line), p))
		buf_adds(out, line);
	assert_int_equal(pclose(p), 0);
}

static void assert_store_matches_kubectl(struct fx *f)
{
	struct buf a, b;
	buf_init(&a, BUF_UNLIMITED);
	buf_init(&b, BUF_UNLIMITED);
	store_picture(f, &a);
	kubectl_picture(f, &b);
	assert_string_equal(buf_str(&a), buf_str(&b));
	buf_release(&a);
	buf_release(&b);
}

static void test_list_watch_sees_changes_in_order(void **state)
{
	struct fx *f = *state;
	/* Five labelled objects and a stranger: three pages of two. */
	for (int i = 0; i < 5; i++) {
		char name[16];
		snprintf(name, sizeof(name), "cm-%d", i);
		cm_create(f, name, true, "0");
	}
	cm_create(f, "stranger", false, "0");
	start(f, 300);
	RUN_UNTIL(f, reflector_synced(f->r), 10000);
	assert_int_equal(store_len(f->s), 5);
	assert_string_equal(buf_str(&f->changes), "+cm-0 +cm-1 +cm-2 +cm-3 +cm-4 ");
	assert_int_equal(f->lists, 1);
	assert_int_equal(f->relists, 0);
	RUN_UNTIL(f, f->w.watch != NULL, 5000);
	assert_int_equal(reflector_state(f->r), REFLECTOR_WATCHING);
	buf_reset(&f->changes);

	cm_create(f, "new", true, "1");
	cm_update(f, "new", "2");
	cm_update(f, "cm-1", "x");
	cm_delete(f, "new");
	cm_delete(f, "cm-3");
	cm_update(f, "stranger", "unseen"); /* outside the selector */
	RUN_UNTIL(f, strlen(buf_str(&f->changes)) >= strlen("+new ~new ~cm-1 -new -cm-3 "), 10000);
	assert_string_equal(buf_str(&f->changes), "+new ~new ~cm-1 -new -cm-3 ");
	const cJSON *cm1 = store_get_ns(f->s, f->ns, "cm-1");
	assert_non_null(cm1);
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(cm1, "data");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(data, "v")->valuestring, "x");
	assert_store_matches_kubectl(f);
	struct reflector_stats st;
	reflector_get_stats(f->r, &st);
	assert_int_equal(st.lists, 1);
	assert_int_equal(st.events, 5);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.bad_lines, 0);
}

static void test_watch_resumes_after_server_timeout(void **state)
{
	struct fx *f = *state;
	cm_create(f, "a", true, "0");
	start(f, 2); /* the apiserver ends each watch after 2 s */
	RUN_UNTIL(f, reflector_synced(f->r), 10000);
	RUN_UNTIL(f, f->w.watches >= 2, 8000);
	RUN_UNTIL(f, f->w.watch != NULL, 5000);
	buf_reset(&f->changes);
	cm_create(f, "b", true, "0");
	cm_update(f, "a", "1");
	RUN_UNTIL(f, strlen(buf_str(&f->changes)) >= strlen("+b ~a "), 10000);
	assert_string_equal(buf_str(&f->changes), "+b ~a ");
	/* Across one more server-side end, still no list and nothing lost. */
	int w0 = f->w.watches;
	RUN_UNTIL(f, f->w.watches > w0 && f->w.watch != NULL, 8000);
	cm_delete(f, "b");
	RUN_UNTIL(f, strstr(buf_str(&f->changes), "-b ") != NULL, 10000);
	struct reflector_stats st;
	reflector_get_stats(f->r, &st);
	assert_int_equal(st.lists, 1);
	assert_int_equal(f->relists, 0);
	assert_int_equal(st.errors, 0);
	assert_true(st.watches >= 3);
	assert_store_matches_kubectl(f);
}

static void test_gap_then_410_relists_and_reports_the_difference(void **state)
{
	struct fx *f = *state;
	cm_create(f, "keep", true, "0");
	cm_create(f, "drop", true, "0");
	cm_create(f, "edit", true, "0");
	start(f, 300);
	RUN_UNTIL(f, reflector_synced(f->r), 10000);
	RUN_UNTIL(f, f->w.watch != NULL, 5000);
	buf_reset(&f->changes);

	/* The watch goes deaf: these changes are never delivered by it. */
	f->w.swallow = true;
	cm_delete(f, "drop");
	cm_update(f, "edit", "1");
	cm_create(f, "born", true, "0");
	for (int i = 0; i < 10; i++)
		loop_run_once(f->l, 50);
	assert_string_equal(buf_str(&f->changes), "");

	/* Then the server says our resourceVersion is gone. */
	f->w.swallow = false;
	static const char gone[] =
	    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
	    "\"status\":\"Failure\",\"message\":\"too old resource version\","
	    "\"reason\":\"Expired\",\"code\":410}}\n";
	assert_non_null(f->w.watch);
	f->w.data(f->w.watch, gone, strlen(gone), f->w.ud);
	assert_int_equal(reflector_state(f->r), REFLECTOR_RELISTING);
	RUN_UNTIL(f, f->relists == 1, 10000);
	/* store_replace_take order: updates and adds as listed (by name), then
	 * deletions. */
	assert_string_equal(buf_str(&f->changes), "+born ~edit -drop ");
	struct reflector_stats st;
	reflector_get_stats(f->r, &st);
	assert_int_equal(st.gone, 1);
	assert_int_equal(st.lists, 2);
	assert_int_equal(st.relists, 1);
	assert_store_matches_kubectl(f);

	/* And it watches again from the relist's resourceVersion. */
	RUN_UNTIL(f, f->w.watch != NULL && reflector_state(f->r) == REFLECTOR_WATCHING, 5000);
	buf_reset(&f->changes);
	cm_delete(f, "keep");
	RUN_UNTIL(f, strstr(buf_str(&f->changes), "-keep ") != NULL, 10000);
	assert_string_equal(buf_str(&f->changes), "-keep ");
	assert_store_matches_kubectl(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_list_watch_sees_changes_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watch_resumes_after_server_timeout, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_gap_then_410_relists_and_reports_the_difference,
					    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
