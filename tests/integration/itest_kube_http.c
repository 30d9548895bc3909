/* pkg/kube/http against the live apiserver ($KUBECONFIG, from `make e2e`):
 * GET /version, a ConfigMap's create/get/patch/apply/delete, the Status of
 * 404/409/422 kept whole, one connection for everything, a watch stream that
 * sees an event, FIFO rate limiting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
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
#include "loop/loop.h"

struct fx {
	struct loop *l;
	struct kube_config *cfg;
	struct kube_http *h;
	char name[64];
	char path[256];
	char coll[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[512];
	assert_int_equal(loop_new(&f->l), 0);
	if (kube_config_load_default(NULL, NULL, &f->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "# %s\n", err);
		fail_msg("no cluster: %s", err);
	}
	assert_int_equal(kube_http_new(f->l, f->cfg, NULL, &f->h), 0);
	snprintf(f->name, sizeof(f->name), "itest-http-%d-%lld", (int)getpid(),
		 (long long)(loop_now_realtime_ms() % 100000000));
	snprintf(f->coll, sizeof(f->coll), "/api/v1/namespaces/default/configmaps");
	snprintf(f->path, sizeof(f->path), "%s/%s", f->coll, f->name);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	struct kube_response r;
	/* Best effort: the object may already be gone. */
	kube_http_do(f->h, KUBE_DELETE, f->path, NULL, 0, &r);
	kube_response_release(&r);
	kube_http_free(f->h);
	kube_config_free(f->cfg);
	loop_free(f->l);
	free(f);
	return 0;
}

static cJSON *json_of(const struct kube_response *r)
{
	cJSON *j = cJSON_ParseWithLength(r->body, r->body_len);
	assert_non_null(j);
	return j;
}

static const char *jpath(const cJSON *j, const char *a, const char *b)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);
	if (b)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	return cJSON_IsString(x) ? x->valuestring : NULL;
}

static void create_cm(struct fx *f, const char *value, struct kube_response *r)
{
	char body[512];
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"},"
		 "\"data\":{\"a\":\"%s\"}}",
		 f->name, value);
	assert_int_equal(kube_http_do(f->h, KUBE_POST, f->coll, body, strlen(body), r), 0);
}

static void test_version(void **state)
{
	struct fx *f = *state;
	struct kube_response r;
	assert_int_equal(kube_http_do(f->h, KUBE_GET, "/version", NULL, 0, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.status, 200);
	cJSON *j = json_of(&r);
	assert_non_null(jpath(j, "major", NULL));
	assert_non_null(jpath(j, "gitVersion", NULL));
	fprintf(stderr, "# apiserver %s\n", jpath(j, "gitVersion", NULL));
	cJSON_Delete(j);
	kube_response_release(&r);
}

static void test_configmap_lifecycle_and_errors(void **state)
{
	struct fx *f = *state;
	struct kube_response r;

	create_cm(f, "1", &r);
	assert_int_equal(r.status, 201);
	kube_response_release(&r);

	assert_int_equal(kube_http_do(f->h, KUBE_GET, f->path, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	cJSON *j = json_of(&r);
	assert_string_equal(jpath(j, "data", "a"), "1");
	char uid[64];
	snprintf(uid, sizeof(uid), "%s", jpath(j, "metadata", "uid"));
	cJSON_Delete(j);
	kube_response_release(&r);

	/* Merge patch, JSON patch, server-side apply. */
	const char *merge = "{\"data\":{\"b\":\"2\"}}";
	assert_int_equal(kube_http_do(f->h, KUBE_PATCH_MERGE, f->path, merge, strlen(merge), &r),
			 0);
	assert_int_equal(r.status, 200);
	j = json_of(&r);
	assert_string_equal(jpath(j, "data", "b"), "2");
	cJSON_Delete(j);
	kube_response_release(&r);

	const char *jp = "[{\"op\":\"replace\",\"path\":\"/data/a\",\"value\":\"3\"}]";
	assert_int_equal(kube_http_do(f->h, KUBE_PATCH_JSON, f->path, jp, strlen(jp), &r), 0);
	assert_int_equal(r.status, 200);
	j = json_of(&r);
	assert_string_equal(jpath(j, "data", "a"), "3");
	cJSON_Delete(j);
	kube_response_release(&r);

	struct buf p;
	buf_init(&p, BUF_UNLIMITED);
	buf_adds(&p, f->path);
	kube_query_add(&p, "fieldManager", "takt-itest");
	kube_query_add(&p, "force", "true");
	char apply[512];
	snprintf(apply, sizeof(apply),
		 "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  c: applied\n",
		 f->name);
	assert_int_equal(
	    kube_http_do(f->h, KUBE_PATCH_APPLY, buf_str(&p), apply, strlen(apply), &r), 0);
	buf_release(&p);
	assert_int_equal(r.status, 200);
	j = json_of(&r);
	assert_string_equal(jpath(j, "data", "c"), "applied");
	cJSON_Delete(j);
	kube_response_release(&r);

	/* 409 AlreadyExists, with the apiserver's message kept. */
	create_cm(f, "again", &r);
	assert_int_equal(r.status, 409);
	assert_string_equal(r.reason, "AlreadyExists");
	assert_int_equal(r.code, 409);
	assert_non_null(strstr(r.message, f->name));
	assert_non_null(strstr(r.message, "already exists"));
	kube_response_release(&r);

	/* DELETE with a wrong uid precondition: 409 Conflict, object kept. */
	struct buf body;
	buf_init(&body, BUF_UNLIMITED);
	struct kube_delete_opts bad = {.precondition_uid = "00000000-0000-0000-0000-000000000000"};
	kube_delete_body(&body, &bad);
	assert_int_equal(kube_http_do(f->h, KUBE_DELETE, f->path, body.data, body.len, &r), 0);
	assert_int_equal(r.status, 409);
	assert_string_equal(r.reason, "Conflict");
	assert_non_null(strstr(r.message, "the UID in the precondition"));
	kube_response_release(&r);

	/* The right uid, background propagation, no grace: deleted. */
	buf_reset(&body);
	long zero = 0;
	struct kube_delete_opts good = {.propagation_policy = "Background",
					.grace_period_seconds = &zero,
					.precondition_uid = uid};
	kube_delete_body(&body, &good);
	assert_int_equal(kube_http_do(f->h, KUBE_DELETE, f->path, body.data, body.len, &r), 0);
	assert_int_equal(r.status, 200);
	kube_response_release(&r);
	buf_release(&body);

	/* 404 NotFound with the message kept. */
	assert_int_equal(kube_http_do(f->h, KUBE_GET, f->path, NULL, 0, &r), 0);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.reason, "NotFound");
	char want[160];
	snprintf(want, sizeof(want), "configmaps \"%s\" not found", f->name);
	assert_string_equal(r.message, want);
	kube_response_release(&r);

	/* 422 Invalid: the message says which field. */
	const char *invalid = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
			      "{\"name\":\"Bad_Name\"}}";
	assert_int_equal(kube_http_do(f->h, KUBE_POST, f->coll, invalid, strlen(invalid), &r), 0);
	assert_int_equal(r.status, 422);
	assert_string_equal(r.reason, "Invalid");
	assert_int_equal(r.code, 422);
	assert_non_null(strstr(r.message, "metadata.name"));
	assert_non_null(strstr(r.message, "Bad_Name"));
	kube_response_release(&r);

	/* Every request above went over one connection. */
	struct kube_http_stats st;
	kube_http_stats(f->h, &st);
	fprintf(stderr, "# requests=%llu connects=%llu\n", (unsigned long long)st.requests_done,
		(unsigned long long)st.connects);
	assert_int_equal(st.requests_done, 10);
	assert_int_equal(st.connects, 1);
}

struct watch_ctx {
	struct buf data;
	int done;
	int saw_added;
	struct kube_req *req;
};

static void on_watch_data(struct kube_req *req, const char *d, size_t n, void *ud)
{
	struct watch_ctx *w = ud;
	buf_add(&w->data, d, n);
	if (strstr(buf_str(&w->data), "\"type\":\"ADDED\"") && !w->saw_added) {
		w->saw_added = 1;
		kube_req_cancel(req);
	}
}

static void on_watch_done(struct kube_req *req, const struct kube_result *res, void *ud)
{
	struct watch_ctx *w = ud;
	fprintf(stderr, "# watch ended: status=%d err=%d reason=%s message=%s\n", res->status,
		res->err, res->reason, res->message);
	w->done++;
}

static void on_create_done(struct kube_req *req, const struct kube_result *res, void *ud)
{
	*(int *)ud = res->status;
}

static void test_watch_sees_an_event(void **state)
{
	struct fx *f = *state;
	struct watch_ctx w;
	memset(&w, 0, sizeof(w));
	buf_init(&w.data, 1 << 20);
	struct buf p;
	buf_init(&p, BUF_UNLIMITED);
	buf_adds(&p, f->coll);
	char sel[128];
	snprintf(sel, sizeof(sel), "metadata.name=%s", f->name);
	kube_query_add(&p, "fieldSelector", sel);
	kube_query_add(&p, "watch", "1");
	kube_query_add(&p, "timeoutSeconds", "30");
	struct kube_req_opts o = {.method = KUBE_GET,
				  .path = buf_str(&p),
				  .done = on_watch_done,
				  .on_data = on_watch_data,
				  .ud = &w};
	assert_int_equal(kube_http_request(f->h, &o, &w.req), 0);
	buf_release(&p);

	/* Create the object asynchronously while the watch is open. */
	char body[256];
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"}}",
		 f->name);
	int created = 0;
	struct kube_req_opts c = {.method = KUBE_POST,
				  .path = f->coll,
				  .body = body,
				  .body_len = strlen(body),
				  .done = on_create_done,
				  .ud = &created};
	assert_int_equal(kube_http_request(f->h, &c, NULL), 0);
	int64_t give_up = loop_now_monotonic_ms() + 20000;
	while ((!w.saw_added || created == 0) && loop_now_monotonic_ms() < give_up)
		assert_true(loop_run_once(f->l, 200) >= 0);
	assert_int_equal(created, 201);
	assert_true(w.saw_added);
	assert_non_null(strstr(buf_str(&w.data), f->name));
	/* Cancelled from its data callback: done never runs. */
	assert_int_equal(w.done, 0);
	struct kube_http_stats st;
	kube_http_stats(f->h, &st);
	assert_int_equal(st.in_flight, 0);
	buf_release(&w.data);
}

struct fifo_ctx {
	int order[8];
	int n;
};

static struct fifo_ctx g_fifo;

static void on_fifo_done(struct kube_req *req, const struct kube_result *res, void *ud)
{
	int idx = (int)(intptr_t)ud;
	assert_int_equal(res->status, 200);
	g_fifo.order[g_fifo.n++] = idx;
}

static void test_rate_limited_requests_leave_in_order(void **state)
{
	struct fx *f = *state;
	struct kube_http *h;
	struct kube_http_opts o = {.qps = 10, .burst = 1};
	assert_int_equal(kube_http_new(f->l, f->cfg, &o, &h), 0);
	/* Warm the connection first (and spend the burst), so completion order
	 * reflects start order rather than who waited for the TLS handshake. */
	struct kube_response warm;
	assert_int_equal(kube_http_do(h, KUBE_GET, "/version", NULL, 0, &warm), 0);
	assert_int_equal(warm.status, 200);
	kube_response_release(&warm);
	memset(&g_fifo, 0, sizeof(g_fifo));
	int64_t t0 = loop_now_monotonic_ms();
	for (int i = 0; i < 5; i++) {
		struct kube_req_opts r = {.method = KUBE_GET,
					  .path = "/version",
					  .done = on_fifo_done,
					  .ud = (void *)(intptr_t)i};
		assert_int_equal(kube_http_request(h, &r, NULL), 0);
	}
	int64_t give_up = t0 + 20000;
	while (g_fifo.n < 5 && loop_now_monotonic_ms() < give_up)
		assert_true(loop_run_once(f->l, 200) >= 0);
	assert_int_equal(g_fifo.n, 5);
	/* Each starts only after the previous one's token, 100 ms apart (the
	 * first waits for the token the warm-up spent). */
	for (int i = 0; i < 5; i++)
		assert_int_equal(g_fifo.order[i], i);
	assert_true(loop_now_monotonic_ms() - t0 >= 400);
	kube_http_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_configmap_lifecycle_and_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watch_sees_an_event, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rate_limited_requests_leave_in_order, setup,
					    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
