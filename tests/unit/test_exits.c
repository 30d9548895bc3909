/* Unit tests for pkg/controller/exits: a failed run's exit code, read from
 * its pods through the write path (a fake transport answers). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "controller/exits.h"
#include "controller/writes.h"
#include "loop/loop.h"

#include "fake_transport.h"

static void test_parse_pods(void **state)
{
	struct exit_info x;
	/* Two pods: the newer one's first failed container wins (an init
	 * container that succeeded does not count; lastState is read when
	 * the container restarted). */
	const char *two =
	    "{\"kind\":\"PodList\",\"items\":["
	    "{\"metadata\":{\"creationTimestamp\":\"2026-03-02T09:00:00Z\"},\"status\":{"
	    "\"containerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":1,\"reason\":"
	    "\"Error\"}}}]}},"
	    "{\"metadata\":{\"creationTimestamp\":\"2026-03-02T09:00:05Z\"},\"status\":{"
	    "\"initContainerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":0}}}],"
	    "\"containerStatuses\":[{\"state\":{\"terminated\":{\"exitCode\":0}}},"
	    "{\"state\":{\"waiting\":{}},\"lastState\":{\"terminated\":{\"exitCode\":137,"
	    "\"reason\":\"OOMKilled\"}}},"
	    "{\"state\":{\"terminated\":{\"exitCode\":2,\"reason\":\"Error\"}}}]}}]}";
	assert_int_equal(exits_parse_pods(two, &x), 2);
	assert_true(x.has_code);
	assert_int_equal(x.code, 137);
	assert_string_equal(x.reason, "OOMKilled");

	const char *init = "{\"items\":[{\"status\":{\"initContainerStatuses\":[{\"state\":{"
			   "\"terminated\":{\"exitCode\":3,\"reason\":\"Error\"}}}],"
			   "\"containerStatuses\":[{\"state\":{\"waiting\":{\"reason\":"
			   "\"PodInitializing\"}}}]}}]}";
	assert_int_equal(exits_parse_pods(init, &x), 1);
	assert_int_equal(x.code, 3);

	assert_int_equal(exits_parse_pods("{\"items\":[]}", &x), 0);
	assert_false(x.has_code);
	assert_string_equal(x.reason, "NoPod");
	assert_int_equal(exits_parse_pods("{\"items\":[{\"status\":{\"phase\":\"Failed\"}}]}", &x),
			 1);
	assert_false(x.has_code);
	assert_string_equal(x.reason, "NoFailedContainer");
	assert_int_equal(exits_parse_pods("not json", &x), -1);
	assert_int_equal(exits_parse_pods("{\"kind\":\"Status\"}", &x), -1);
	assert_int_equal(exits_parse_pods(NULL, &x), -1);
}

struct world {
	struct loop *loop;
	struct fake_tr *f;
	struct writes *w;
	struct exits *e;
	int changed, failed;
	char key[64];
};

static void on_changed(void *ud, const char *key, bool failed)
{
	struct world *wd = ud;
	wd->changed++;
	wd->failed += failed;
	snprintf(wd->key, sizeof(wd->key), "%s", key);
}

static void world_init(struct world *wd)
{
	memset(wd, 0, sizeof(*wd));
	assert_int_equal(loop_new(&wd->loop), 0);
	wd->f = fake_tr_new(wd->loop);
	wd->w = writes_new(wd->loop, &wd->f->tr, "inst-1");
	wd->e = exits_new(wd->w, on_changed, wd);
}

static void world_free(struct world *wd)
{
	exits_free(wd->e);
	writes_free(wd->w);
	fake_tr_free(wd->f);
	loop_free(wd->loop);
}

#define PODS "/api/v1/namespaces/ns/pods?labelSelector="
#define FAILED_3                                                                                   \
	"{\"items\":[{\"status\":{\"containerStatuses\":[{\"state\":{\"terminated\":{"             \
	"\"exitCode\":3,\"reason\":\"Error\"}}}]}}]}"

static void test_read_through_write_path(void **state)
{
	struct world wd;
	world_init(&wd);
	const struct exit_info *x = exits_lookup(wd.e, "ns", "bs-1", "uid-1", "ns/bs");
	assert_true(x->pending);
	struct kube_req *r = fake_run_until_req(wd.f, 0, KUBE_GET, PODS, 1000);
	assert_non_null(r);
	assert_string_equal(r->path, PODS "batch.kubernetes.io%2Fcontroller-uid%3Duid-1");
	/* Looked up again while the read is on its way: no second read. */
	assert_ptr_equal(exits_lookup(wd.e, "ns", "bs-1", "uid-1", "ns/bs"), x);
	assert_int_equal(fake_count(wd.f, 0, KUBE_GET, PODS), 1);
	/* No pod by the new label: the old one is asked once. */
	fake_answer(r, 200, "{\"items\":[]}");
	assert_int_equal(wd.changed, 0);
	r = fake_run_until_req(wd.f, r->index + 1, KUBE_GET, PODS, 1000);
	assert_non_null(r);
	assert_string_equal(r->path, PODS "controller-uid%3Duid-1");
	fake_answer(r, 200, FAILED_3);
	assert_int_equal(wd.changed, 1);
	assert_int_equal(wd.failed, 0);
	assert_string_equal(wd.key, "ns/bs");
	assert_false(x->pending);
	assert_true(x->has_code);
	assert_int_equal(x->code, 3);
	assert_string_equal(x->reason, "Error");
	/* Known: no more reads. */
	exits_lookup(wd.e, "ns", "bs-1", "uid-1", "ns/bs");
	assert_int_equal(fake_count(wd.f, 0, KUBE_GET, PODS), 2);
	uint64_t reads;
	size_t held;
	exits_counts(wd.e, &reads, &held);
	assert_int_equal(reads, 2);
	assert_int_equal(held, 1);
	exits_forget(wd.e, "uid-1");
	exits_counts(wd.e, &reads, &held);
	assert_int_equal(held, 0);
	world_free(&wd);
}

/* A read that fails stays pending and is sent again at the next look; after
 * EXITS_TRIES failures the code is known as unreadable. */
static void test_read_fails(void **state)
{
	struct world wd;
	world_init(&wd);
	const struct exit_info *x = exits_lookup(wd.e, "ns", "bs-2", "uid-2", "ns/bs");
	for (int i = 0; i < EXITS_TRIES; i++) {
		struct kube_req *r = fake_run_until_req(wd.f, (size_t)i, KUBE_GET, PODS, 1000);
		assert_non_null(r);
		fake_answer_status(r, 500, "InternalError", "etcd is away");
		assert_int_equal(wd.changed, i + 1);
		if (i + 1 < EXITS_TRIES) {
			assert_int_equal(wd.failed, i + 1);
			assert_true(x->pending);
			assert_ptr_equal(exits_lookup(wd.e, "ns", "bs-2", "uid-2", "ns/bs"), x);
		}
	}
	assert_false(x->pending);
	assert_false(x->has_code);
	assert_string_equal(x->reason, "ExitCodeUnreadable");
	/* An answer after the Job went calls nothing. */
	x = exits_lookup(wd.e, "ns", "bs-3", "uid-3", "ns/bs");
	struct kube_req *r = fake_run_until_req(wd.f, EXITS_TRIES, KUBE_GET, PODS, 1000);
	assert_non_null(r);
	exits_forget(wd.e, "uid-3");
	int before = wd.changed;
	fake_answer(r, 200, FAILED_3);
	assert_int_equal(wd.changed, before);
	world_free(&wd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_pods),
	    cmocka_unit_test(test_read_through_write_path),
	    cmocka_unit_test(test_read_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
