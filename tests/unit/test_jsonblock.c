/* Unit tests for pkg/base/jsonblock: a frozen tree equals its original, is
 * one allocation, holds no pointer into the original (but the const
 * literal keys), and a cJSON_Duplicate of it outlives the block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/jsonblock.h"

/* ---- counting hooks: cJSON's allocator, watched -------------------------- */

#define MAX_LIVE 4096
static struct {
	void *p;
	size_t n;
} live[MAX_LIVE];
static size_t n_mallocs, n_frees;
static int fail_mallocs; /* > 0: that many next mallocs fail */

static void *counting_malloc(size_t n)
{
	if (fail_mallocs > 0) {
		fail_mallocs--;
		return NULL;
	}
	void *p = malloc(n);
	n_mallocs++;
	for (size_t i = 0; i < MAX_LIVE; i++)
		if (!live[i].p) {
			live[i].p = p;
			live[i].n = n;
			break;
		}
	return p;
}

/* Wipes a block before freeing it, so that a pointer still into it reads
 * "" even without valgrind (explicit_bzero: a memset before free() is a
 * dead store the compiler may drop). */
static void counting_free(void *p)
{
	if (!p)
		return;
	n_frees++;
	for (size_t i = 0; i < MAX_LIVE; i++)
		if (live[i].p == p) {
			explicit_bzero(p, live[i].n);
			live[i].p = NULL;
			break;
		}
	free(p);
}

static size_t live_count(void)
{
	size_t n = 0;
	for (size_t i = 0; i < MAX_LIVE; i++)
		n += live[i].p != NULL;
	return n;
}

static int hooks_on(void **state)
{
	(void)state;
	memset(live, 0, sizeof(live));
	n_mallocs = n_frees = 0;
	fail_mallocs = 0;
	cJSON_Hooks h = {.malloc_fn = counting_malloc, .free_fn = counting_free};
	cJSON_InitHooks(&h);
	return 0;
}

static int hooks_off(void **state)
{
	(void)state;
	cJSON_InitHooks(NULL);
	return 0;
}

/* ---- helpers ----------------------------------------------------------- */

static const char DOC[] =
    "{\"metadata\":{\"name\":\"s-1\",\"namespace\":\"bank\",\"uid\":\"0b6c-11\","
    "\"resourceVersion\":\"12345\",\"generation\":3,"
    "\"labels\":{\"takt.io/x\":\"\"},\"annotations\":{}},"
    "\"spec\":{\"schedule\":\"0 0 0 1 1 *\",\"timeZone\":\"Asia/Seoul\","
    "\"suspend\":false,\"paused\":true,\"none\":null,"
    "\"nums\":[0,-1,2147483647,-2147483648,9007199254740993,1e300,-0.5,3.14159,"
    "1.7976931348623157e308,4.9e-324,123456789012345678],"
    "\"text\":[\"\",\"caf\\u00e9\",\"\\u4e2d\\u6587\",\"\\ud83d\\ude00\",\"tab\\there\"],"
    "\"nested\":[[[]],[{}],[{\"a\":[{\"b\":{\"c\":[1,[2,[3]]]}}]}]],"
    "\"\":\"empty key\"},"
    "\"status\":\"\\u0002packed\\u0001bytes\"}";

/* Walks a and b together: the same shape, types (but for the const-key
 * flag), the exact bits of every number, the same strings. */
static void assert_same(const cJSON *a, const cJSON *b)
{
	assert_int_equal(a->type & 0xFF, b->type & 0xFF);
	assert_false(b->type & cJSON_IsReference);
	assert_memory_equal(&a->valuedouble, &b->valuedouble, sizeof(double));
	assert_int_equal(a->valueint, b->valueint);
	if (a->valuestring)
		assert_string_equal(a->valuestring, b->valuestring);
	else
		assert_null(b->valuestring);
	if (a->string)
		assert_string_equal(a->string, b->string);
	else
		assert_null(b->string);
	const cJSON *x = a->child, *y = b->child;
	const cJSON *last = NULL;
	for (; x && y; x = x->next, y = y->next) {
		assert_same(x, y);
		last = y;
	}
	assert_null(x);
	assert_null(y);
	if (b->child)
		assert_ptr_equal(b->child->prev, last);
}

/* Every node and string of f, but const keys, inside [f, f + size). */
static void assert_inside(const cJSON *n, const char *lo, const char *hi)
{
	const char *p = (const char *)n;
	assert_true(p >= lo && p + sizeof(cJSON) <= hi);
	if (n->valuestring)
		assert_true(n->valuestring >= lo && n->valuestring < hi);
	if (n->string && !(n->type & cJSON_StringIsConst))
		assert_true(n->string >= lo && n->string < hi);
	for (const cJSON *c = n->child; c; c = c->next)
		assert_inside(c, lo, hi);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_freeze_round_trip(void **state)
{
	(void)state;
	cJSON *orig = cJSON_Parse(DOC);
	assert_non_null(orig);
	assert_true(cJSON_Compare(orig, orig, 1));
	cJSON *f = json_freeze(orig);
	assert_non_null(f);
	assert_ptr_not_equal(f, orig);
	assert_true(cJSON_Compare(orig, f, 1));
	assert_same(orig, f);
	size_t size = json_frozen_size(orig);
	assert_true(size > 0);
	assert_inside(f, (const char *)f, (const char *)f + size);
	/* It prints as the original does, and reads like any tree. */
	char *a = cJSON_PrintUnformatted(orig);
	char *b = cJSON_PrintUnformatted(f);
	assert_string_equal(a, b);
	cJSON_free(a);
	cJSON_free(b);
	const cJSON *nums =
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(f, "spec"), "nums");
	assert_int_equal(cJSON_GetArraySize(nums), 11);
	assert_true(cJSON_GetArrayItem(nums, 4)->valuedouble == 9007199254740993.0);
	assert_int_equal(cJSON_GetArrayItem(nums, 2)->valueint, 2147483647);
	/* The original is untouched and still its own. */
	cJSON_Delete(orig);
	json_frozen_free(f);
}

static void test_freeze_scalars_and_empties(void **state)
{
	(void)state;
	const char *docs[] = {"null", "true",  "false", "0",  "-12.5",
			      "\"\"", "\"x\"", "[]",	"{}", "[null,[],{}]"};
	for (size_t i = 0; i < sizeof(docs) / sizeof(*docs); i++) {
		cJSON *o = cJSON_Parse(docs[i]);
		assert_non_null(o);
		cJSON *f = json_freeze(o);
		assert_non_null(f);
		assert_true(cJSON_Compare(o, f, 1));
		assert_same(o, f);
		cJSON_Delete(o);
		json_frozen_free(f);
	}
	assert_null(json_freeze(NULL));
	assert_int_equal(json_frozen_size(NULL), 0);
	json_frozen_free(NULL);
}

/* As the projection makes them: keys pointing at literals, marked const. */
static const char KEY_META[] = "metadata";
static const char KEY_NAME[] = "name";

static void test_freeze_const_keys(void **state)
{
	(void)state;
	cJSON *o = cJSON_CreateObject();
	cJSON *md = cJSON_CreateObject();
	cJSON_AddItemToObjectCS(o, KEY_META, md);
	cJSON_AddItemToObjectCS(md, KEY_NAME, cJSON_CreateString("s-1"));
	cJSON_AddItemToObject(md, "plain", cJSON_CreateNumber(7));
	cJSON *f = json_freeze(o);
	assert_non_null(f);
	assert_true(cJSON_Compare(o, f, 1));
	const cJSON *fmd = f->child;
	assert_ptr_equal(fmd->string, KEY_META);
	assert_true(fmd->type & cJSON_StringIsConst);
	assert_ptr_equal(fmd->child->string, KEY_NAME);
	assert_true(fmd->child->type & cJSON_StringIsConst);
	/* A key copied into the block is not const. */
	const cJSON *plain = fmd->child->next;
	assert_string_equal(plain->string, "plain");
	assert_false(plain->type & cJSON_StringIsConst);
	const char *lo = (const char *)f;
	assert_true(plain->string > lo && plain->string < lo + json_frozen_size(o));
	cJSON_Delete(o);
	json_frozen_free(f);
}

/* A reference in the original is copied deep; the copy has none. */
static void test_freeze_references(void **state)
{
	(void)state;
	cJSON *shared = cJSON_Parse("{\"a\":[1,2,\"three\"]}");
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemReferenceToObject(o, "ref", shared);
	cJSON_AddItemToObject(o, "s", cJSON_CreateStringReference("lit"));
	cJSON *f = json_freeze(o);
	assert_non_null(f);
	assert_true(cJSON_Compare(o, f, 1));
	assert_same(o, f);
	assert_inside(f, (const char *)f, (const char *)f + json_frozen_size(o));
	cJSON_Delete(o);
	cJSON_Delete(shared);
	json_frozen_free(f);
}

/* cJSON_Duplicate of a frozen tree owns every byte it points at: the block
 * freed (and scribbled over by the hooks), the duplicate still reads the
 * same. Under `make valgrind` a shared pointer is also an invalid read. */
static void test_duplicate_outlives_block(void **state)
{
	(void)state;
	cJSON *orig = cJSON_Parse(DOC);
	cJSON_AddItemToObjectCS(orig, KEY_NAME, cJSON_CreateString("const-keyed"));
	cJSON *f = json_freeze(orig);
	assert_non_null(f);
	cJSON *dup = cJSON_Duplicate(f, 1);
	assert_non_null(dup);
	json_frozen_free(f);
	assert_true(cJSON_Compare(orig, dup, 1));
	assert_same(orig, dup);
	/* And it is a normal tree: editable, deletable. */
	cJSON_AddStringToObject(dup, "more", "x");
	cJSON_DeleteItemFromObjectCaseSensitive(dup, "spec");
	cJSON_Delete(dup);
	cJSON_Delete(orig);
}

static void test_one_allocation(void **state)
{
	(void)state;
	cJSON *orig = cJSON_Parse(DOC);
	assert_non_null(orig);
	size_t before = n_mallocs, live_before = live_count();
	cJSON *f = json_freeze(orig);
	assert_non_null(f);
	assert_int_equal(n_mallocs - before, 1);
	assert_int_equal(live_count() - live_before, 1);
	size_t frees = n_frees;
	json_frozen_free(f);
	assert_int_equal(n_frees - frees, 1);
	assert_int_equal(live_count(), live_before);
	cJSON_Delete(orig);
	assert_int_equal(live_count(), 0);
}

static void test_out_of_memory(void **state)
{
	(void)state;
	cJSON *orig = cJSON_Parse(DOC);
	assert_non_null(orig);
	fail_mallocs = 1;
	assert_null(json_freeze(orig));
	assert_int_equal(fail_mallocs, 0);
	/* The original is intact. */
	cJSON *f = json_freeze(orig);
	assert_non_null(f);
	assert_true(cJSON_Compare(orig, f, 1));
	json_frozen_free(f);
	cJSON_Delete(orig);
	assert_int_equal(live_count(), 0);
}

static void test_too_deep_refused(void **state)
{
	(void)state;
	cJSON *root = cJSON_CreateArray();
	cJSON *at = root;
	for (int i = 0; i < JSON_FREEZE_MAX_DEPTH; i++) {
		cJSON *a = cJSON_CreateArray();
		cJSON_AddItemToArray(at, a);
		at = a;
	}
	/* JSON_FREEZE_MAX_DEPTH levels below the root: still frozen. */
	cJSON *f = json_freeze(root);
	assert_non_null(f);
	assert_true(cJSON_Compare(root, f, 1));
	json_frozen_free(f);
	cJSON_AddItemToArray(at, cJSON_CreateArray());
	assert_null(json_freeze(root));
	assert_int_equal(json_frozen_size(root), 0);
	cJSON_Delete(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_freeze_round_trip),
	    cmocka_unit_test(test_freeze_scalars_and_empties),
	    cmocka_unit_test(test_freeze_const_keys),
	    cmocka_unit_test(test_freeze_references),
	    cmocka_unit_test_setup_teardown(test_duplicate_outlives_block, hooks_on, hooks_off),
	    cmocka_unit_test_setup_teardown(test_one_allocation, hooks_on, hooks_off),
	    cmocka_unit_test_setup_teardown(test_out_of_memory, hooks_on, hooks_off),
	    cmocka_unit_test(test_too_deep_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
