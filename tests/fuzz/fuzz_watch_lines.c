/* libFuzzer target for the watch stream's line framing (pkg/kube/lines).
 *
 * The first bytes choose the line cap and a seed; the rest is the stream.
 * The stream is fed in random chunkings and must give exactly what splitting
 * it in one pass gives: the same lines in the same order, and the same count
 * of over-long lines. Any difference aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "kube/lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct record {
	struct buf all; /* every line, each followed by a 0xff separator */
	unsigned long count;
};

static void append(struct record *r, const char *line, size_t len)
{
	buf_add(&r->all, line, len);
	buf_addc(&r->all, (char)0xff);
	r->count++;
}

static int collect(void *ctx, const char *line, size_t len)
{
	if (line[len] != '\0')
		abort();
	append(ctx, line, len);
	return 0;
}

/* The obvious one-pass splitter the chunked one must agree with. */
static unsigned long reference(const uint8_t *p, size_t n, size_t max, struct record *r)
{
	unsigned long overlong = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != '\n')
			continue;
		size_t len = i - start;
		if (len > max)
			overlong++;
		else if (i < n || len > 0)
			append(r, (const char *)p + start, len);
		start = i + 1;
	}
	return overlong;
}

static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	size_t max = data[0] % 64;
	uint32_t seed = (uint32_t)data[1] << 8 | data[2] | 1u;
	data += 3;
	size -= 3;

	struct record want, got;
	buf_init(&want.all, BUF_UNLIMITED);
	buf_init(&got.all, BUF_UNLIMITED);
	want.count = got.count = 0;
	unsigned long want_over = reference(data, size, max, &want);

	for (int round = 0; round < 3; round++) {
		struct lines *l = lines_new(max);
		unsigned long errors = 0;
		buf_reset(&got.all);
		got.count = 0;
		size_t off = 0;
		while (off < size) {
			size_t n = round == 0 ? 1 : 1 + next_rand(&seed) % (round == 1 ? 8 : 200);
			if (n > size - off)
				n = size - off;
			int r = lines_feed(l, data + off, n, collect, &got);
			if (r == -EMSGSIZE)
				errors++;
			else if (r != 0)
				abort();
			off += n;
		}
		if (lines_finish(l, collect, &got) != 0)
			abort();
		/* One -EMSGSIZE per over-long line, but two lines crossing the cap
		 * in one chunk share a single return. */
		if (lines_overlong(l) != want_over || errors > want_over ||
		    (want_over > 0 && errors == 0))
			abort();
		if (got.count != want.count || got.all.len != want.all.len ||
		    memcmp(buf_str(&got.all), buf_str(&want.all), want.all.len) != 0)
			abort();
		lines_free(l);
	}
	buf_release(&want.all);
	buf_release(&got.all);
	return 0;
}
