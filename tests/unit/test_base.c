/* Unit tests for pkg/base: the bounded buffer and allocation helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/list.h"

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"

static void test_buf_appends_and_formats(void **state)
{
	struct buf b;
	buf_init(&b, BUF_UNLIMITED);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_adds(&b, "abc"), 0);
	assert_int_equal(buf_addf(&b, "-%d-%s", 42, "x"), 0);
	assert_int_equal(buf_addc(&b, '!'), 0);
	assert_string_equal(buf_str(&b), "abc-42-x!");
	assert_int_equal(b.len, 9);
	buf_release(&b);
	assert_null(b.data);
}

static void test_buf_refuses_past_max_and_stays_intact(void **state)
{
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(buf_adds(&b, "12345678"), 0);
	assert_int_equal(buf_addc(&b, 'x'), -ENOSPC);
	assert_int_equal(buf_addf(&b, "%s", "y"), -ENOSPC);
	assert_string_equal(buf_str(&b), "12345678");
	buf_release(&b);
}

static void test_buf_consume_keeps_tail(void **state)
{
	struct buf b;
	buf_init(&b, 100);
	buf_adds(&b, "line1\npartial");
	buf_consume(&b, 6);
	assert_string_equal(buf_str(&b), "partial");
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
	size_t n;
	buf_adds(&b, "kept");
	char *d = buf_detach(&b, &n);
	assert_int_equal(n, 4);
	assert_string_equal(d, "kept");
	assert_null(b.data);
	free(d);
}

static void test_xgrow_doubles(void **state)
{
	int *a = NULL;
	size_t cap = 0;
	XGROW(a, cap, 3);
	assert_true(cap >= 3);
	XGROW(a, cap, 100);
	assert_true(cap >= 100);
	a[99] = 7;
	assert_int_equal(a[99], 7);
	free(a);
}

static void test_log_level_parse(void **state)
{
	assert_int_equal(log_set_level("debug"), 0);
	assert_int_equal(log_level_current, LOG_LEVEL_DEBUG);
	assert_int_equal(log_set_level("loud"), -1);
	assert_int_equal(log_level_current, LOG_LEVEL_DEBUG);
	assert_int_equal(log_set_level("info"), 0);
}

struct item {
	int v;
	struct list_node link;
};

/* The intrusive list: add at the front, unlink from anywhere, double unlink
 * harmless, entries recovered from their node. */
static void test_list_add_del_entry(void **state)
{
	struct list_node head;
	struct item a = {1, {0}}, b = {2, {0}}, c = {3, {0}};
	list_init(&head);
	assert_true(list_empty(&head));
	list_add(&head, &a.link);
	list_add(&head, &b.link);
	list_add(&head, &c.link);
	int seen[3], n = 0;
	for (struct list_node *it = head.next; it != &head; it = it->next)
		seen[n++] = LIST_ENTRY(it, struct item, link)->v;
	assert_int_equal(n, 3);
	assert_int_equal(seen[0], 3);
	assert_int_equal(seen[1], 2);
	assert_int_equal(seen[2], 1);
	list_del(&b.link); /* the middle */
	list_del(&b.link); /* again: nothing */
	assert_ptr_equal(head.next, &c.link);
	assert_ptr_equal(c.link.next, &a.link);
	assert_ptr_equal(a.link.prev, &c.link);
	list_del(&c.link);
	list_del(&a.link);
	assert_true(list_empty(&head));
	assert_ptr_equal(head.prev, &head);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_appends_and_formats),
	    cmocka_unit_test(test_buf_refuses_past_max_and_stays_intact),
	    cmocka_unit_test(test_buf_consume_keeps_tail),
	    cmocka_unit_test(test_xgrow_doubles),
	    cmocka_unit_test(test_log_level_parse),
	    cmocka_unit_test(test_list_add_del_entry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
