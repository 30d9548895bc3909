/* Unit tests for pkg/kube/store: keys, events, replace, selectors, indexes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/store.h"

/* A Job-shaped object: ns/name, resourceVersion, optional schedule label and
 * controller owner. */
static cJSON *obj(const char *ns, const char *name, const char *rv, const char *sched,
		  const char *owner_kind, const char *owner)
{
	char text[1024];
	char labels[128] = "";
	char owners[256] = "";
	if (sched)
		snprintf(labels, sizeof(labels), ",\"labels\":{\"takt.io/schedule\":\"%s\"}",
			 sched);
	if (owner)
		snprintf(owners, sizeof(owners),
			 ",\"ownerReferences\":[{\"kind\":\"Other\",\"name\":\"x\"},"
			 "{\"kind\":\"%s\",\"name\":\"%s\",\"controller\":true}]",
			 owner_kind, owner);
	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"name\":\"%s\"%s%s%s%s,\"resourceVersion\":\"%s\"%s%s}}", name,
		 ns ? ",\"namespace\":\"" : "", ns ? ns : "", ns ? "\"" : "", "", rv, labels,
		 owners);
	cJSON *o = cJSON_Parse(text);
	assert_non_null(o);
	return o;
}

struct ev {
	enum store_event type;
	char key[64];
	char old_rv[16];
	char new_rv[16];
	int found_in_store; /* store_get(key) during the callback */
};

struct recorder {
	struct store *s;
	struct ev ev[32];
	size_t n;
};

static const char *rv_of(const cJSON *o)
{
	if (!o)
		return "";
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
	return cJSON_GetObjectItemCaseSensitive(md, "resourceVersion")->valuestring;
}

static void on_change(void *ud, enum store_event type, const char *key, const cJSON *old_obj,
		      const cJSON *new_obj)
{
	struct recorder *r = ud;
	assert_true(r->n < 32);
	struct ev *e = &r->ev[r->n++];
	e->type = type;
	snprintf(e->key, sizeof(e->key), "%s", key);
	snprintf(e->old_rv, sizeof(e->old_rv), "%s", rv_of(old_obj));
	snprintf(e->new_rv, sizeof(e->new_rv), "%s", rv_of(new_obj));
	e->found_in_store = store_get(r->s, key) != NULL;
	if (new_obj)
		assert_ptr_equal(store_get(r->s, key), new_obj);
}

static void test_store_key(void **state)
{
	struct buf b;
	buf_init(&b, 100);
	cJSON *o = obj("ns1", "a", "1", NULL, NULL, NULL);
	assert_int_equal(store_key(o, &b), 0);
	assert_string_equal(buf_str(&b), "ns1/a");
	cJSON_Delete(o);
	buf_reset(&b);
	o = obj(NULL, "cal", "1", NULL, NULL, NULL);
	assert_int_equal(store_key(o, &b), 0);
	assert_string_equal(buf_str(&b), "cal");
	cJSON_Delete(o);
	buf_reset(&b);
	o = cJSON_Parse("{\"metadata\":{}}");
	assert_int_equal(store_key(o, &b), -EINVAL);
	cJSON_Delete(o);
	buf_release(&b);
}

static void test_store_events_in_order(void **state)
{
	struct store *s = store_new("jobs");
	struct recorder r = {.s = s};
	store_on_change(s, on_change, &r);
	assert_int_equal(store_upsert_take(s, obj("ns", "a", "1", NULL, NULL, NULL)), 0);
	assert_int_equal(store_upsert_take(s, obj("ns", "a", "2", NULL, NULL, NULL)), 0);
	cJSON *final = obj("ns", "a", "3", NULL, NULL, NULL);
	assert_int_equal(store_delete(s, final), 0);
	assert_int_equal(store_delete(s, final), -ENOENT);
	cJSON_Delete(final);
	assert_int_equal(store_upsert_take(s, cJSON_Parse("{\"metadata\":{}}")), -EINVAL);

	assert_int_equal(r.n, 3);
	assert_int_equal(r.ev[0].type, STORE_ADDED);
	assert_string_equal(r.ev[0].key, "ns/a");
	assert_string_equal(r.ev[0].new_rv, "1");
	assert_int_equal(r.ev[1].type, STORE_UPDATED);
	assert_string_equal(r.ev[1].old_rv, "1");
	assert_string_equal(r.ev[1].new_rv, "2");
	assert_int_equal(r.ev[2].type, STORE_DELETED);
	assert_string_equal(r.ev[2].old_rv, "3"); /* the final state */
	assert_false(r.ev[2].found_in_store);
	assert_int_equal(store_len(s), 0);
	store_free(s);
}

static void test_store_replace_reports_differences(void **state)
{
	struct store *s = store_new("jobs");
	struct recorder r = {.s = s};
	store_upsert_take(s, obj("ns", "keep", "1", NULL, NULL, NULL));
	store_upsert_take(s, obj("ns", "change", "1", NULL, NULL, NULL));
	store_upsert_take(s, obj("ns", "gone", "1", NULL, NULL, NULL));
	const cJSON *kept = store_get(s, "ns/keep");
	store_on_change(s, on_change, &r);

	cJSON *objs[] = {obj("ns", "keep", "1", NULL, NULL, NULL),
			 obj("ns", "change", "5", NULL, NULL, NULL),
			 obj("ns", "new", "6", NULL, NULL, NULL)};
	assert_int_equal(store_replace_take(s, objs, 3), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.ev[0].type, STORE_UPDATED);
	assert_string_equal(r.ev[0].key, "ns/change");
	assert_string_equal(r.ev[0].old_rv, "1");
	assert_string_equal(r.ev[0].new_rv, "5");
	assert_int_equal(r.ev[1].type, STORE_ADDED);
	assert_string_equal(r.ev[1].key, "ns/new");
	assert_int_equal(r.ev[2].type, STORE_DELETED);
	assert_string_equal(r.ev[2].key, "ns/gone");
	assert_false(r.ev[2].found_in_store);
	/* Same resourceVersion: the stored object is untouched. */
	assert_ptr_equal(store_get(s, "ns/keep"), kept);
	assert_int_equal(store_len(s), 3);
	assert_null(store_get(s, "ns/gone"));

	r.n = 0;
	assert_int_equal(store_replace_take(s, NULL, 0), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(store_len(s), 0);
	store_free(s);
}

static void test_store_list_by_namespace_and_selector(void **state)
{
	struct store *s = store_new("jobs");
	store_upsert_take(s, obj("a", "j2", "1", "nightly", NULL, NULL));
	store_upsert_take(s, obj("a", "j1", "1", "nightly", NULL, NULL));
	store_upsert_take(s, obj("a", "j3", "1", "hourly", NULL, NULL));
	store_upsert_take(s, obj("b", "j1", "1", "nightly", NULL, NULL));
	store_upsert_take(s, obj("a", "plain", "1", NULL, NULL, NULL));
	struct store_list l;
	assert_int_equal(store_list(s, "a", "takt.io/schedule=nightly", &l), 0);
	assert_int_equal(l.n, 2);
	assert_ptr_equal(l.items[0], store_get(s, "a/j1")); /* sorted by key */
	assert_ptr_equal(l.items[1], store_get(s, "a/j2"));
	store_list_release(&l);

	assert_int_equal(store_list(s, NULL, "takt.io/schedule==nightly", &l), 0);
	assert_int_equal(l.n, 3);
	store_list_release(&l);
	assert_int_equal(store_list(s, "a", "takt.io/schedule!=nightly", &l), 0);
	assert_int_equal(l.n, 2); /* j3, and plain: no label is "not equal" */
	store_list_release(&l);
	assert_int_equal(store_list(s, "a", "takt.io/schedule", &l), 0);
	assert_int_equal(l.n, 3);
	store_list_release(&l);
	assert_int_equal(store_list(s, NULL, "!takt.io/schedule", &l), 0);
	assert_int_equal(l.n, 1);
	assert_ptr_equal(l.items[0], store_get_ns(s, "a", "plain"));
	store_list_release(&l);
	assert_int_equal(store_list(s, NULL, "", &l), 0);
	assert_int_equal(l.n, 5);
	store_list_release(&l);
	assert_int_equal(store_list(s, NULL, "takt.io/schedule in (a,b)", &l), -EINVAL);
	assert_int_equal(store_list(s, NULL, "a=b,,c", &l), -EINVAL);
	assert_int_equal(store_list(s, NULL, "!=x", &l), -EINVAL);
	store_free(s);
}

static void test_store_indexes_follow_updates(void **state)
{
	struct store *s = store_new("jobs");
	store_upsert_take(s, obj("a", "j1", "1", "nightly", "BatchSchedule", "nightly"));
	/* Added after an object exists: indexed at once. */
	assert_int_equal(store_add_index(s, "owner", store_index_controller, "BatchSchedule"), 0);
	assert_int_equal(store_add_index(s, "owner", store_index_controller, NULL), -EEXIST);
	assert_int_equal(store_add_index(s, "sched", store_index_label, "takt.io/schedule"), 0);
	store_upsert_take(s, obj("a", "j2", "1", "nightly", "BatchSchedule", "nightly"));
	store_upsert_take(s, obj("b", "j1", "1", "nightly", "BatchSchedule", "nightly"));
	store_upsert_take(s, obj("a", "cj", "1", NULL, "CronJob", "nightly"));

	struct store_list l;
	assert_int_equal(store_by_index(s, "owner", "a/nightly", &l), 0);
	assert_int_equal(l.n, 2);
	assert_ptr_equal(l.items[0], store_get(s, "a/j1"));
	assert_ptr_equal(l.items[1], store_get(s, "a/j2"));
	store_list_release(&l);
	assert_int_equal(store_by_index(s, "sched", "b/nightly", &l), 0);
	assert_int_equal(l.n, 1);
	store_list_release(&l);

	/* An update that moves an object to another owner moves it in the index. */
	store_upsert_take(s, obj("a", "j2", "2", "other", "BatchSchedule", "other"));
	assert_int_equal(store_by_index(s, "owner", "a/nightly", &l), 0);
	assert_int_equal(l.n, 1);
	store_list_release(&l);
	assert_int_equal(store_by_index(s, "sched", "a/other", &l), 0);
	assert_int_equal(l.n, 1);
	assert_ptr_equal(l.items[0], store_get(s, "a/j2"));
	store_list_release(&l);

	cJSON *gone = obj("a", "j1", "3", NULL, NULL, NULL);
	store_delete(s, gone);
	cJSON_Delete(gone);
	assert_int_equal(store_by_index(s, "owner", "a/nightly", &l), 0);
	assert_int_equal(l.n, 0);
	store_list_release(&l);
	assert_int_equal(store_by_index(s, "nope", "x", &l), -ENOENT);

	/* Replace keeps indexes consistent too. */
	cJSON *objs[] = {obj("a", "k", "9", "z", "BatchSchedule", "z")};
	store_replace_take(s, objs, 1);
	assert_int_equal(store_by_index(s, "owner", "a/other", &l), 0);
	assert_int_equal(l.n, 0);
	store_list_release(&l);
	assert_int_equal(store_by_index(s, "owner", "a/z", &l), 0);
	assert_int_equal(l.n, 1);
	store_list_release(&l);
	store_free(s);
}

static void test_store_resource_version(void **state)
{
	struct store *s = store_new(NULL);
	assert_string_equal(store_resource_version(s), "");
	store_set_resource_version(s, "123");
	assert_string_equal(store_resource_version(s), "123");
	store_set_resource_version(s, store_resource_version(s));
	assert_string_equal(store_resource_version(s), "123");
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_store_key),
	    cmocka_unit_test(test_store_events_in_order),
	    cmocka_unit_test(test_store_replace_reports_differences),
	    cmocka_unit_test(test_store_list_by_namespace_and_selector),
	    cmocka_unit_test(test_store_indexes_follow_updates),
	    cmocka_unit_test(test_store_resource_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
