#include "kube/lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "base/banned.h"

struct lines {
	struct buf tail;
	int skipping; /* inside an over-long line, discarding up to '\n' */
	unsigned long overlong;
};

struct lines *lines_new(size_t max_line)
{
	struct lines *l = xcalloc(1, sizeof(*l));
	buf_init(&l->tail, max_line);
	return l;
}

void lines_free(struct lines *l)
{
	if (!l)
		return;
	buf_release(&l->tail);
	free(l);
}

void lines_reset(struct lines *l)
{
	buf_reset(&l->tail);
	l->skipping = 0;
}

size_t lines_pending(const struct lines *l)
{
	return l->tail.len;
}

unsigned long lines_overlong(const struct lines *l)
{
	return l->overlong;
}

/* Appends part of a line; crossing the cap switches to skipping. Returns 1
 * when this call is the one that crossed it. */
static int take_part(struct lines *l, const char *p, size_t n)
{
	if (l->skipping)
		return 0;
	if (buf_add(&l->tail, p, n) == 0)
		return 0;
	/* Release rather than reset: the memory of an attacker-sized line should
	 * not stay pinned for the life of the stream. */
	buf_release(&l->tail);
	l->skipping = 1;
	l->overlong++;
	return 1;
}

int lines_feed(struct lines *l, const void *data, size_t n, lines_fn fn, void *ctx)
{
	const char *p = data;
	const char *end = p + n;
	int over = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			over |= take_part(l, p, (size_t)(end - p));
			break;
		}
		over |= take_part(l, p, (size_t)(nl - p));
		p = nl + 1;
		if (l->skipping) {
			l->skipping = 0;
			continue;
		}
		/* A line needs the buffer's NUL even when empty. */
		if (!l->tail.data && buf_add(&l->tail, "", 0) < 0)
			BUG_ON(1);
		int r = fn(ctx, l->tail.data, l->tail.len);
		buf_reset(&l->tail);
		if (r < 0)
			return r;
	}
	return over ? -EMSGSIZE : 0;
}

int lines_finish(struct lines *l, lines_fn fn, void *ctx)
{
	int r = 0;
	if (!l->skipping && l->tail.len > 0)
		r = fn(ctx, l->tail.data, l->tail.len);
	lines_reset(l);
	return r < 0 ? r : 0;
}
