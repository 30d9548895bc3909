/* Unit tests for pkg/base/hmap: the string-keyed open-addressing table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/hmap.h"

static void test_hmap_put_get_replace_del(void **state)
{
	struct hmap *m = hmap_new();
	int a = 1, b = 2, c = 3;
	assert_null(hmap_get(m, "x"));
	assert_null(hmap_del(m, "x"));
	assert_null(hmap_put(m, "x", &a));
	assert_null(hmap_put(m, "y", &b));
	assert_ptr_equal(hmap_get(m, "x"), &a);
	assert_ptr_equal(hmap_put(m, "x", &c), &a);
	assert_ptr_equal(hmap_get(m, "x"), &c);
	assert_int_equal(hmap_len(m), 2);
	assert_ptr_equal(hmap_del(m, "x"), &c);
	assert_null(hmap_get(m, "x"));
	assert_ptr_equal(hmap_get(m, "y"), &b);
	assert_int_equal(hmap_len(m), 1);
	hmap_free(m, NULL);
}

/* Many keys with interleaved deletions: backward-shift deletion must keep
 * every remaining key reachable through growth and wrap-around. */
static void test_hmap_many_keys_survive_deletions(void **state)
{
	enum { N = 5000 };
	static int vals[N];
	struct hmap *m = hmap_new();
	char k[32];
	for (int i = 0; i < N; i++) {
		vals[i] = i;
		snprintf(k, sizeof(k), "ns-%d/obj-%d", i % 7, i);
		assert_null(hmap_put(m, k, &vals[i]));
	}
	for (int i = 0; i < N; i += 3) {
		snprintf(k, sizeof(k), "ns-%d/obj-%d", i % 7, i);
		assert_ptr_equal(hmap_del(m, k), &vals[i]);
	}
	size_t expect = 0;
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "ns-%d/obj-%d", i % 7, i);
		int *v = hmap_get(m, k);
		if (i % 3 == 0) {
			assert_null(v);
		} else {
			assert_non_null(v);
			assert_int_equal(*v, i);
			expect++;
		}
	}
	assert_int_equal(hmap_len(m), expect);
	size_t pos = 0, walked = 0;
	const char *key;
	void *val;
	while (hmap_next(m, &pos, &key, &val)) {
		assert_ptr_equal(hmap_get(m, key), val);
		walked++;
	}
	assert_int_equal(walked, expect);
	hmap_free(m, NULL);
}

static void test_hmap_free_calls_free_val_and_copies_keys(void **state)
{
	struct hmap *m = hmap_new();
	char key[8] = "abc";
	hmap_put(m, key, strdup("v1"));
	key[0] = 'z'; /* the map holds its own copy */
	assert_non_null(hmap_get(m, "abc"));
	assert_null(hmap_get(m, "zbc"));
	hmap_put(m, "other", strdup("v2"));
	hmap_free(m, free); /* valgrind/ASan check that both values are freed */
}

/* A borrowed-key map keeps the caller's pointer (no copy to free: valgrind
 * would see the values' keys freed twice or leaked otherwise), takes the
 * new pointer when an equal key replaces a value, and frees its values. */
struct kv {
	char *key;
	int n;
};

static struct kv *kv_new(const char *k, int n)
{
	struct kv *v = malloc(sizeof(*v));
	v->key = strdup(k);
	v->n = n;
	return v;
}

static void kv_free(void *p)
{
	struct kv *v = p;
	free(v->key);
	free(v);
}

static void test_hmap_borrowed_keys(void **state)
{
	struct hmap *m = hmap_new_borrowed();
	struct kv *a = kv_new("ns/a", 1), *b = kv_new("ns/b", 2);
	assert_null(hmap_put(m, a->key, a));
	assert_null(hmap_put(m, b->key, b));
	size_t pos = 0;
	const char *key;
	void *val;
	while (hmap_next(m, &pos, &key, &val))
		assert_ptr_equal(key, ((struct kv *)val)->key); /* not a copy */
	/* Replaced: the old value and its key go, the new key is kept. */
	struct kv *a2 = kv_new("ns/a", 3);
	assert_ptr_equal(hmap_put(m, a2->key, a2), a);
	kv_free(a);
	assert_int_equal(((struct kv *)hmap_get(m, "ns/a"))->n, 3);
	pos = 0;
	while (hmap_next(m, &pos, &key, &val))
		assert_ptr_equal(key, ((struct kv *)val)->key);
	assert_ptr_equal(hmap_del(m, "ns/b"), b);
	kv_free(b);
	assert_int_equal(hmap_len(m), 1);
	hmap_free(m, kv_free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hmap_put_get_replace_del),
	    cmocka_unit_test(test_hmap_many_keys_survive_deletions),
	    cmocka_unit_test(test_hmap_free_calls_free_val_and_copies_keys),
	    cmocka_unit_test(test_hmap_borrowed_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
