/* The work queue of keys between the informers and reconcile (after
 * client-go's workqueue, single-threaded).
 *
 *   - Dedup: a key added any number of times before it is taken is processed
 *     once.
 *   - Processing: wq_get marks the key processing until wq_done. A key added
 *     meanwhile is not handed out again before wq_done (so one key is never
 *     reconciled twice at once, even when reconcile waits on asynchronous
 *     requests across loop turns); wq_done re-queues it.
 *   - Delayed adds: wq_add_after(key, d); for a key with several pending
 *     delays the earliest deadline wins. When it is due the key is added as
 *     by wq_add (deduplicated against a pending immediate add).
 *   - Backoff: wq_add_rate_limited delays by base * 2^failures (capped) and
 *     counts a failure; wq_forget resets the count (call it when reconcile
 *     succeeds, or when the object is gone: a key with failures counted is
 *     remembered until then).
 *
 * Time is monotonic milliseconds from an injectable clock: wq_new takes a
 * struct wq_clock (tests drive it by hand); wq_new_loop builds one from the
 * event loop, with one monotonic timer for the earliest deadline and a 0 ms
 * timer to run the `ready` callback on a later loop turn, never inside
 * wq_add.
 *
 * Ownership: wq_new/wq_new_loop return a queue freed by wq_free (which
 * cancels its timers and drops every key, calling nothing). Keys are copied
 * on add. The key returned by wq_get is borrowed from the queue and valid
 * until wq_done for it. Loop thread only.
 */
#ifndef TAKT_KUBE_WORKQUEUE_H
#define TAKT_KUBE_WORKQUEUE_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct wq;

struct wq_clock {
	/* Monotonic now, ms. */
	int64_t (*now_ms)(void *ctx);
	/* Call wq_tick at or after deadline_ms; INT64_MAX disarms. Each call
	 * replaces the previous arming. */
	void (*arm)(void *ctx, int64_t deadline_ms);
	/* Keys became ready: arrange for a drain (wq_get until NULL) soon,
	 * not from inside this call. May be NULL (the owner polls wq_len). */
	void (*kick)(void *ctx);
	void *ctx;
};

struct wq_opts {
	int64_t backoff_base_ms; /* 0: 50 */
	int64_t backoff_max_ms;	 /* 0: 300000 (5 min) */
};

/* Called (from a loop timer) when keys are ready: take them with wq_get. */
typedef void wq_ready_fn(struct wq *q, void *ud);

/* o may be NULL for the defaults; clk (required) is copied. */
struct wq *wq_new(const struct wq_opts *o, const struct wq_clock *clk);
struct wq *wq_new_loop(struct loop *l, const struct wq_opts *o, wq_ready_fn *ready, void *ud);
void wq_free(struct wq *q);

void wq_add(struct wq *q, const char *key);
/* delay_ms <= 0 is wq_add. */
void wq_add_after(struct wq *q, const char *key, int64_t delay_ms);
void wq_add_rate_limited(struct wq *q, const char *key);
void wq_forget(struct wq *q, const char *key);
/* Failures counted for key since the last wq_forget. */
unsigned wq_requeues(const struct wq *q, const char *key);

/* The next ready key (borrowed until wq_done), or NULL when none is. */
const char *wq_get(struct wq *q);
void wq_done(struct wq *q, const char *key);
/* Takes key for processing now, ahead of the FIFO (for work that must not
 * wait behind the queue, such as a slot that is due): removed from the
 * ready queue if it was there, then handed out as wq_get does (borrowed
 * until wq_done). A pending delayed add stays pending. When the key is
 * being processed, it is marked to be re-queued at wq_done (as wq_add
 * does) and NULL is returned. */
const char *wq_take(struct wq *q, const char *key);

/* Moves keys whose delay has passed into the ready queue; the clock's
 * `arm` asks for this (wq_new_loop does it itself). */
void wq_tick(struct wq *q);

size_t wq_len(const struct wq *q);     /* ready to be taken */
size_t wq_delayed(const struct wq *q); /* keys with a pending delay */
int wq_is_processing(const struct wq *q, const char *key);

#endif
