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

/* ---- frozen stores ------------------------------------------------------ */

/* cJSON's allocator, counted: how many of its allocations are live. */
static long n_live;
static int fail_mallocs; /* > 0: that many next mallocs fail */

static void *counting_malloc(size_t n)
{
	if (fail_mallocs > 0) {
		fail_mallocs--;
		return NULL;
	}
	n_live++;
	return malloc(n);
}

static void counting_free(void *p)
{
	if (p)
		n_live--;
	free(p);
}

static int hooks_on(void **state)
{
	n_live = 0;
	fail_mallocs = 0;
	cJSON_Hooks h = {.malloc_fn = counting_malloc, .free_fn = counting_free};
	cJSON_InitHooks(&h);
	return 0;
}

static int hooks_off(void **state)
{
	cJSON_InitHooks(NULL);
	return 0;
}

/* The allocations of a plain (parsed) tree: its nodes, strings and keys. */
static long allocs_of(const cJSON *n)
{
	long k =
	    1 + (n->valuestring != NULL) + (n->string != NULL && !(n->type & cJSON_StringIsConst));
	for (const cJSON *c = n->child; c; c = c->next)
		k += allocs_of(c);
	return k;
}

struct frozen_rec {
	struct store *s;
	const cJSON *want_old, *want_new; /* the content the callback must see */
	const cJSON *old_ptr;		  /* when set, old_obj must be this very object */
	size_t n;
	enum store_event last;
};

static void frozen_change(void *ud, enum store_event type, const char *key, const cJSON *old_obj,
			  const cJSON *new_obj)
{
	struct frozen_rec *r = ud;
	r->n++;
	r->last = type;
	if (r->want_old) {
		assert_non_null(old_obj);
		assert_true(cJSON_Compare(old_obj, r->want_old, 1));
	} else {
		assert_null(old_obj);
	}
	if (r->old_ptr)
		assert_ptr_equal(old_obj, r->old_ptr);
	if (r->want_new) {
		assert_non_null(new_obj);
		assert_true(cJSON_Compare(new_obj, r->want_new, 1));
		assert_ptr_equal(store_get(r->s, key), new_obj);
	} else {
		assert_null(new_obj);
	}
}

/* Every object a frozen store holds is ONE cJSON allocation, equal to what
 * it was given; callbacks see equal content; nothing leaks (the counted
 * allocations come back to zero, and `make valgrind` agrees). */
static void test_store_frozen(void **state)
{
	struct store *s = store_new("takt.io/batchschedules");
	store_set_frozen(s, true);
	assert_int_equal(store_add_index(s, "sched", store_index_label, "takt.io/schedule"), 0);
	struct frozen_rec r = {.s = s};
	store_on_change(s, frozen_change, &r);

	/* upsert, new key */
	cJSON *a1 = obj("ns", "a", "1", "x", "BatchSchedule", "x");
	cJSON *want1 = cJSON_Duplicate(a1, 1);
	long k = allocs_of(a1);
	assert_true(k > 10);
	long live = n_live;
	r.want_new = want1;
	assert_int_equal(store_upsert_take(s, a1), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.last, STORE_ADDED);
	assert_int_equal(n_live, live - k + 1); /* a1 freed, one block held */
	assert_true(cJSON_Compare(store_get(s, "ns/a"), want1, 1));

	/* upsert, same key: the old frozen one released */
	cJSON *a2 = obj("ns", "a", "2", "y", NULL, NULL);
	cJSON *want2 = cJSON_Duplicate(a2, 1);
	k = allocs_of(a2);
	live = n_live;
	r.want_old = want1;
	r.want_new = want2;
	assert_int_equal(store_upsert_take(s, a2), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.last, STORE_UPDATED);
	assert_int_equal(n_live, live - k - 1 + 1);
	struct store_list l;
	assert_int_equal(store_by_index(s, "sched", "ns/y", &l), 0);
	assert_int_equal(l.n, 1);
	assert_true(cJSON_Compare(l.items[0], want2, 1));
	store_list_release(&l);
	assert_int_equal(store_list(s, "ns", "takt.io/schedule=y", &l), 0);
	assert_int_equal(l.n, 1);
	store_list_release(&l);

	/* replace: a kept as is (same rv), b added, then a list without a */
	cJSON *b1 = obj("ns", "b", "7", NULL, NULL, NULL);
	cJSON *wantb = cJSON_Duplicate(b1, 1);
	cJSON *objs[] = {obj("ns", "a", "2", "y", NULL, NULL), b1};
	const cJSON *held_a = store_get(s, "ns/a");
	r.want_old = NULL;
	r.want_new = wantb;
	assert_int_equal(store_replace_take(s, objs, 2), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.last, STORE_ADDED);
	assert_ptr_equal(store_get(s, "ns/a"), held_a);
	cJSON *only_b[] = {obj("ns", "b", "7", NULL, NULL, NULL)};
	r.want_old = want2;
	r.want_new = NULL;
	assert_int_equal(store_replace_take(s, only_b, 1), 0);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.last, STORE_DELETED);
	assert_null(store_get(s, "ns/a"));

	/* delete: old is the event's object, not the stored one */
	cJSON *final = obj("ns", "b", "8", NULL, NULL, NULL);
	r.want_old = final;
	r.old_ptr = final;
	assert_int_equal(store_delete(s, final), 0);
	assert_int_equal(r.n, 5);
	assert_int_equal(store_len(s), 0);
	r.old_ptr = NULL;
	cJSON_Delete(final);

	/* store_free releases what is held */
	r.want_old = NULL;
	r.want_new = want1;
	store_upsert_take(s, cJSON_Duplicate(want1, 1));
	store_free(s);
	cJSON_Delete(want1);
	cJSON_Delete(want2);
	cJSON_Delete(wantb);
	assert_int_equal(n_live, 0);
}

/* Out of memory while freezing: the plain tree is kept, and released as a
 * plain tree (a json_frozen_free of it would leak all but its root). */
static void test_store_frozen_oom_keeps_plain(void **state)
{
	struct store *s = store_new("takt.io/batchschedules");
	store_set_frozen(s, true);
	cJSON *a1 = obj("ns", "a", "1", "x", NULL, NULL);
	long k = allocs_of(a1);
	long live = n_live;
	fail_mallocs = 1;
	assert_int_equal(store_upsert_take(s, a1), 0);
	assert_int_equal(fail_mallocs, 0);
	assert_ptr_equal(store_get(s, "ns/a"), a1); /* kept as given */
	assert_int_equal(n_live, live);
	/* replaced by a frozen one: the plain tree released */
	assert_int_equal(store_upsert_take(s, obj("ns", "a", "2", "x", NULL, NULL)), 0);
	assert_int_equal(n_live, live - k + 1);
	cJSON *objs[] = {obj("ns", "b", "1", NULL, NULL, NULL)};
	fail_mallocs = 1;
	assert_int_equal(store_replace_take(s, objs, 1), 0);
	assert_ptr_equal(store_get(s, "ns/b"), objs[0]);
	assert_null(store_get(s, "ns/a"));
	store_free(s);
	assert_int_equal(n_live, 0);
}

/* A list staged page by page: a frozen store holds each object frozen from
 * the moment it is staged (its parse tree freed at once), shows none of
 * them until the commit, which then acts as store_replace_take. */
static void test_store_stage_frozen(void **state)
{
	struct store *s = store_new("takt.io/batchschedules");
	store_set_frozen(s, true);
	struct recorder r = {.s = s};
	store_on_change(s, on_change, &r);
	store_upsert_take(s, obj("ns", "keep", "1", NULL, NULL, NULL));
	store_upsert_take(s, obj("ns", "gone", "1", NULL, NULL, NULL));
	r.n = 0;
	long live = n_live;
	store_stage_take(s, obj("ns", "keep", "1", NULL, NULL, NULL));
	store_stage_take(s, obj("ns", "new", "2", NULL, NULL, NULL));
	store_stage_take(s, cJSON_Parse("{\"metadata\":{}}")); /* no name */
	assert_int_equal(store_staged(s), 3);
	assert_int_equal(n_live, live + 3); /* one block each, no parse tree */
	assert_int_equal(r.n, 0);
	assert_null(store_get(s, "ns/new"));
	assert_int_equal(store_len(s), 2);
	assert_int_equal(store_stage_commit(s), 0);
	assert_int_equal(store_staged(s), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[0].type, STORE_ADDED);
	assert_string_equal(r.ev[0].key, "ns/new");
	assert_int_equal(r.ev[1].type, STORE_DELETED);
	assert_string_equal(r.ev[1].key, "ns/gone");
	/* keep (same rv) and the nameless one released, gone released */
	assert_int_equal(n_live, live + 3 - 2 - 1);
	assert_int_equal(store_len(s), 2);

	/* a list that failed midway: dropped; and staged objects left at
	 * store_free are released too */
	r.n = 0;
	store_stage_take(s, obj("ns", "x", "3", NULL, NULL, NULL));
	store_stage_abort(s);
	assert_int_equal(store_staged(s), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(n_live, live + 3 - 2 - 1);
	store_stage_take(s, obj("ns", "y", "4", NULL, NULL, NULL));
	store_free(s);
	assert_int_equal(n_live, 0);
}

/* Without freezing, staging is store_replace_take in two steps. */
static void test_store_stage_plain(void **state)
{
	struct store *s = store_new("jobs");
	struct recorder r = {.s = s};
	store_on_change(s, on_change, &r);
	cJSON *a = obj("ns", "a", "1", NULL, NULL, NULL);
	store_stage_take(s, a);
	assert_int_equal(store_len(s), 0);
	store_stage_commit(s);
	assert_ptr_equal(store_get(s, "ns/a"), a);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ev[0].type, STORE_ADDED);
	store_stage_take(s, obj("ns", "b", "1", NULL, NULL, NULL));
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
	    cmocka_unit_test_setup_teardown(test_store_frozen, hooks_on, hooks_off),
	    cmocka_unit_test_setup_teardown(test_store_frozen_oom_keeps_plain, hooks_on, hooks_off),
	    cmocka_unit_test_setup_teardown(test_store_stage_frozen, hooks_on, hooks_off),
	    cmocka_unit_test(test_store_stage_plain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
