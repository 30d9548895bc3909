/* Splitting a byte stream (a watch response body) into lines with a cap.
 *
 * Chunks arrive however the network cut them; a line may span any number of
 * chunks, so the unterminated tail is kept between calls. Every '\n' ends a
 * line (empty lines included); the '\n' itself is not delivered, nothing else
 * is stripped. A line longer than `max_line` bytes is never buffered in full:
 * once its length passes the cap its bytes are discarded up to the next '\n'
 * (the stream resynchronises there) and it is counted in lines_overlong().
 * The lines_feed() call in which a line crossed the cap returns -EMSGSIZE;
 * the calls that merely discard the rest of that line return 0, so each
 * over-long line is reported once (two crossing in one chunk share one
 * return). Lines after the resync point, even in the same chunk, are still
 * delivered. What to do about the lost line is the caller's choice:
 * the reflector relists, because resuming the watch from the last
 * resourceVersion would only replay the same over-long event.
 *
 * Ownership: lines_new returns a splitter the caller frees with lines_free.
 * The line handed to the callback is NUL-terminated and borrowed for the
 * duration of the call only.
 */
#ifndef TAKT_KUBE_LINES_H
#define TAKT_KUBE_LINES_H

#include <stddef.h>

struct lines;

/* Returns 0 to go on, or a negative code to stop: lines_feed returns it at
 * once and the rest of that chunk is dropped (call lines_reset before reusing
 * the splitter for another stream). */
typedef int (*lines_fn)(void *ctx, const char *line, size_t len);

struct lines *lines_new(size_t max_line);
void lines_free(struct lines *l);
/* Forgets the partial tail and any resync in progress: a new stream. */
void lines_reset(struct lines *l);
/* Returns 0, -EMSGSIZE (a line passed the cap; the others were delivered), or
 * the callback's negative code. */
int lines_feed(struct lines *l, const void *data, size_t n, lines_fn fn, void *ctx);
/* The stream ended: delivers an unterminated last line, if any and within
 * the cap, then resets. Returns 0 or the callback's code. */
int lines_finish(struct lines *l, lines_fn fn, void *ctx);
/* Bytes of the current unterminated line held so far. */
size_t lines_pending(const struct lines *l);
/* Over-long lines dropped since lines_new. */
unsigned long lines_overlong(const struct lines *l);

#endif
