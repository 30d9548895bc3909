/* Unit tests for pkg/base: the bounded buffer and allocation helpers. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/list.h"

#include "base/buf.h"
#include "base/intern.h"
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

/* Log lines into a string: log_begin, log_emit..., log_end returns what
 * follows the first "ts=... " (the time varies). */
static char *log_text;
static size_t log_n;
static FILE *log_f;

static void log_begin(void)
{
	log_f = open_memstream(&log_text, &log_n);
	assert_non_null(log_f);
	log_set_stream(log_f);
}

static char *log_end(void)
{
	log_set_stream(NULL);
	fclose(log_f);
	char *level = strstr(log_text, " level=");
	assert_non_null(level);
	char *out = strdup(level + 1);
	free(log_text);
	log_text = NULL;
	return out;
}

/* A name or message from the API cannot start a line of its own, nor end
 * its key early: control characters are escaped everywhere; quotes and
 * backslashes inside the format's quotes; an unquoted value that would
 * break the key=value shape is quoted. */
static void test_log_values_escaped(void **state)
{
	(void)state;
	log_begin();
	log_emit(LOG_LEVEL_INFO, "calendar invalid", "calendar=%s err=\"%s\"",
		 "evil\nts=2026-01-01T00:00:00Z level=error msg=\"owned\"", "a\"b\\c\r\t\x1b[31m");
	char *l = log_end();
	assert_string_equal(
	    l, "level=info msg=\"calendar invalid\" "
	       "calendar=\"evil\\nts=2026-01-01T00:00:00Z level=error msg=\\\"owned\\\"\" "
	       "err=\"a\\\"b\\\\c\\r\\t\\x1b[31m\"\n");
	assert_ptr_equal(strchr(l, '\n'), l + strlen(l) - 1); /* one line */
	free(l);
	/* Plain values are untouched; an '=' or a space is quoted. */
	log_begin();
	log_emit(LOG_LEVEL_INFO, "job created", "obj=%s/%s", "ns", "name");
	l = log_end();
	assert_string_equal(l, "level=info msg=\"job created\" obj=ns/name\n");
	free(l);
	log_begin();
	log_emit(LOG_LEVEL_INFO, "x", "k=%s", "a=b c");
	l = log_end();
	assert_string_equal(l, "level=info msg=\"x\" k=\"a=b c\"\n");
	free(l);
	/* The message itself. */
	log_begin();
	log_emit(LOG_LEVEL_INFO, "two\nlines", "k=%s", "");
	l = log_end();
	assert_string_equal(l, "level=info msg=\"two\\nlines\" k=\n");
	free(l);
}

/* Numbers, lengths, precision and %% as printf has them. */
static void test_log_numbers(void **state)
{
	(void)state;
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	log_set_stream(f);
	log_emit(LOG_LEVEL_WARN, "m",
		 "a=%d b=%zu c=%lld d=%u e=%.1f f=%g g=%" PRIu64 " h=%.*s i=%.2s%% j=%c k=%x", -3,
		 (size_t)4, -5LL, 6u, 7.25, 0.5, (uint64_t)1 << 40, 3, "abcdef", "xyz", '\n', 255u);
	log_set_stream(NULL);
	fclose(f);
	assert_non_null(strstr(text, " level=warn msg=\"m\" a=-3 b=4 c=-5 d=6 e=7.2 f=0.5 "
				     "g=1099511627776 h=abc i=xy% j=\"\\n\" k=ff\n"));
	free(text);
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

/* Equal texts share one copy until their last reference goes; the table
 * frees itself when empty. */
static void test_intern_shares_and_counts(void **state)
{
	(void)state;
	char a[] = "Asia/Seoul", b[] = "Asia/Seoul";
	assert_null(intern(NULL));
	intern_drop(NULL);
	const char *x = intern(a), *y = intern(b), *z = intern("UTC");
	assert_ptr_equal(x, y);
	assert_ptr_not_equal(x, a);
	assert_ptr_not_equal(x, z);
	assert_string_equal(x, "Asia/Seoul");
	assert_int_equal(intern_len(), 2);
	a[0] = 'X'; /* the caller's buffer is not the shared copy */
	intern_drop(x);
	assert_string_equal(y, "Asia/Seoul"); /* one reference is left */
	assert_int_equal(intern_len(), 2);
	intern_drop(y);
	assert_int_equal(intern_len(), 1);
	const char *again = intern("Asia/Seoul");
	assert_string_equal(again, "Asia/Seoul");
	intern_drop(again);
	intern_drop(z);
	assert_int_equal(intern_len(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_appends_and_formats),
	    cmocka_unit_test(test_buf_refuses_past_max_and_stays_intact),
	    cmocka_unit_test(test_buf_consume_keeps_tail),
	    cmocka_unit_test(test_xgrow_doubles),
	    cmocka_unit_test(test_log_level_parse),
	    cmocka_unit_test(test_log_values_escaped),
	    cmocka_unit_test(test_log_numbers),
	    cmocka_unit_test(test_list_add_del_entry),
	    cmocka_unit_test(test_intern_shares_and_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
