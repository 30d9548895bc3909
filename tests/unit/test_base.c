/* Unit tests for pkg/base: the bounded buffer and allocation helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_appends_and_formats),
	    cmocka_unit_test(test_buf_refuses_past_max_and_stays_intact),
	    cmocka_unit_test(test_buf_consume_keeps_tail),
	    cmocka_unit_test(test_xgrow_doubles),
	    cmocka_unit_test(test_log_level_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
