/* Unit tests for pkg/kube/lines: the watch stream's line framing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/buf.h"
#include "kube/lines.h"

struct seen {
	char *line[16];
	size_t n;
	int stop_at; /* return -ECANCELED on this line (1-based), 0 never */
};

static int record(void *ctx, const char *line, size_t len)
{
	struct seen *s = ctx;
	assert_true(s->n < 16);
	assert_int_equal(strlen(line), len);
	s->line[s->n++] = strdup(line);
	if (s->stop_at && (int)s->n == s->stop_at)
		return -ECANCELED;
	return 0;
}

static void seen_release(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->line[i]);
	s->n = 0;
}

static void test_lines_whole_and_split_across_chunks(void **state)
{
	struct lines *l = lines_new(100);
	struct seen s = {0};
	assert_int_equal(lines_feed(l, "{\"a\":1}\n{\"b\"", 12, record, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.line[0], "{\"a\":1}");
	assert_int_equal(lines_pending(l), 4);
	assert_int_equal(lines_feed(l, ":2", 2, record, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(lines_feed(l, "}\n\nlast", 7, record, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.line[1], "{\"b\":2}");
	assert_string_equal(s.line[2], "");
	assert_int_equal(lines_finish(l, record, &s), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.line[3], "last");
	assert_int_equal(lines_pending(l), 0);
	seen_release(&s);
	lines_free(l);
}

static void test_lines_overlong_reported_once_then_resyncs(void **state)
{
	struct lines *l = lines_new(4);
	struct seen s = {0};
	assert_int_equal(lines_feed(l, "ok\nabc", 6, record, &s), 0);
	assert_int_equal(lines_feed(l, "de", 2, record, &s), -EMSGSIZE);
	/* The rest of the over-long line is discarded silently. */
	assert_int_equal(lines_feed(l, "fghij", 5, record, &s), 0);
	assert_int_equal(lines_feed(l, "k\nfine\nx", 8, record, &s), 0);
	assert_int_equal(lines_overlong(l), 1);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.line[0], "ok");
	assert_string_equal(s.line[1], "fine");
	/* Exactly at the cap is fine. */
	assert_int_equal(lines_feed(l, "yzw\n", 4, record, &s), 0);
	assert_string_equal(s.line[2], "xyzw");
	/* Lines after an over-long one in the same chunk are delivered. */
	assert_int_equal(lines_feed(l, "123456\nab\n", 10, record, &s), -EMSGSIZE);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.line[3], "ab");
	assert_int_equal(lines_overlong(l), 2);
	seen_release(&s);
	lines_free(l);
}

static void test_lines_overlong_tail_not_delivered_at_finish(void **state)
{
	struct lines *l = lines_new(3);
	struct seen s = {0};
	assert_int_equal(lines_feed(l, "abcdef", 6, record, &s), -EMSGSIZE);
	assert_int_equal(lines_finish(l, record, &s), 0);
	assert_int_equal(s.n, 0);
	/* After finish the splitter starts a fresh stream. */
	assert_int_equal(lines_feed(l, "xy\n", 3, record, &s), 0);
	assert_string_equal(s.line[0], "xy");
	seen_release(&s);
	lines_free(l);
}

static void test_lines_callback_stops_feed(void **state)
{
	struct lines *l = lines_new(10);
	struct seen s = {.stop_at = 2};
	assert_int_equal(lines_feed(l, "a\nb\nc\n", 6, record, &s), -ECANCELED);
	assert_int_equal(s.n, 2);
	lines_reset(l);
	s.stop_at = 0;
	assert_int_equal(lines_feed(l, "d\n", 2, record, &s), 0);
	assert_string_equal(s.line[2], "d");
	seen_release(&s);
	lines_free(l);
}

static void test_lines_byte_by_byte_equals_one_shot(void **state)
{
	const char text[] = "first\n\nthird line\r\nno-newline";
	struct lines *l = lines_new(64);
	struct seen a = {0}, b = {0};
	assert_int_equal(lines_feed(l, text, sizeof(text) - 1, record, &a), 0);
	lines_finish(l, record, &a);
	for (size_t i = 0; i < sizeof(text) - 1; i++)
		assert_int_equal(lines_feed(l, text + i, 1, record, &b), 0);
	lines_finish(l, record, &b);
	assert_int_equal(a.n, 4);
	assert_int_equal(b.n, 4);
	for (size_t i = 0; i < a.n; i++)
		assert_string_equal(a.line[i], b.line[i]);
	assert_string_equal(a.line[2], "third line\r");
	seen_release(&a);
	seen_release(&b);
	lines_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines_whole_and_split_across_chunks),
	    cmocka_unit_test(test_lines_overlong_reported_once_then_resyncs),
	    cmocka_unit_test(test_lines_overlong_tail_not_delivered_at_finish),
	    cmocka_unit_test(test_lines_callback_stops_feed),
	    cmocka_unit_test(test_lines_byte_by_byte_equals_one_shot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
