/* A growable byte buffer with a hard maximum (after git's strbuf).
 *
 * Ownership: the struct is the caller's (usually embedded); buf owns `data`.
 * buf_init allocates nothing; buf_release frees the contents and leaves an
 * empty, reusable buffer; buf_detach hands `data` to the caller (who frees
 * it) and leaves the buffer empty. `data` is always NUL-terminated when not
 * NULL, so it can be used as a C string when it holds text.
 * Every append fails with -ENOSPC, leaving the buffer unchanged, when it
 * would grow past `max` — a peer cannot make us allocate without bound.
 */
#ifndef TAKT_BASE_BUF_H
#define TAKT_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

#define BUF_UNLIMITED ((size_t)-1)

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
char *buf_detach(struct buf *b, size_t *len);
int buf_add(struct buf *b, const void *data, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vaddf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drops the first n bytes, keeping the rest (a stream's unread tail). */
void buf_consume(struct buf *b, size_t n);
/* The contents as a C string; "" when nothing was ever added. */
const char *buf_str(const struct buf *b);

#endif
