#include "kube/workqueue.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/xalloc.h"
#include "loop/loop.h"
#include "base/banned.h"

#define NOT_IN_HEAP ((size_t)-1)

struct item {
	char *key;
	bool dirty;	 /* wants processing: in `ready`, or re-queued at done */
	bool processing; /* handed out by wq_get, wq_done not yet called */
	size_t heap_idx; /* position in `delayed`, or NOT_IN_HEAP */
	int64_t deadline;
	uint64_t seq; /* equal deadlines fire in the order they were set */
	unsigned failures;
};

struct wq {
	struct hmap *items; /* key -> struct item * */
	struct item **ready;
	size_t ready_head, ready_len, ready_cap; /* FIFO: [head, head+len) */
	struct item **delayed;			 /* min-heap on (deadline, seq) */
	size_t ndelayed, delayed_cap;
	uint64_t seq;
	int64_t armed; /* deadline last given to clk.arm */
	int64_t base_ms, max_ms;
	struct wq_clock clk;

	/* wq_new_loop only */
	struct loop *loop;
	loop_timer_id tick_timer, kick_timer;
	wq_ready_fn *ready_fn;
	void *ready_ud;
};

static struct wq *alloc_wq(const struct wq_opts *o)
{
	struct wq *q = xcalloc(1, sizeof(*q));
	q->items = hmap_new();
	q->armed = INT64_MAX;
	q->base_ms = o && o->backoff_base_ms > 0 ? o->backoff_base_ms : 50;
	q->max_ms = o && o->backoff_max_ms > 0 ? o->backoff_max_ms : 300000;
	return q;
}

struct wq *wq_new(const struct wq_opts *o, const struct wq_clock *clk)
{
	BUG_ON(!clk->now_ms || !clk->arm);
	struct wq *q = alloc_wq(o);
	q->clk = *clk;
	return q;
}

static int64_t loop_now(void *ctx)
{
	return loop_now_monotonic_ms();
}

static void on_tick_timer(struct loop *l, loop_timer_id id, void *ud)
{
	struct wq *q = ud;
	/* This timer is spent: whatever wq_tick wants next is a fresh arming. */
	q->tick_timer = 0;
	q->armed = INT64_MAX;
	wq_tick(q);
}

static void loop_arm(void *ctx, int64_t deadline)
{
	struct wq *q = ctx;
	loop_timer_cancel(q->loop, q->tick_timer);
	q->tick_timer = 0;
	if (deadline != INT64_MAX)
		q->tick_timer = loop_timer_at_monotonic(q->loop, deadline, on_tick_timer, q);
}

static void on_kick_timer(struct loop *l, loop_timer_id id, void *ud)
{
	struct wq *q = ud;
	q->kick_timer = 0;
	if (q->ready_len > 0)
		q->ready_fn(q, q->ready_ud);
}

static void loop_kick(void *ctx)
{
	struct wq *q = ctx;
	if (!q->kick_timer)
		q->kick_timer = loop_timer_after(q->loop, 0, on_kick_timer, q);
}

struct wq *wq_new_loop(struct loop *l, const struct wq_opts *o, wq_ready_fn *ready, void *ud)
{
	BUG_ON(!l || !ready);
	struct wq *q = alloc_wq(o);
	q->loop = l;
	q->ready_fn = ready;
	q->ready_ud = ud;
	q->clk.now_ms = loop_now;
	q->clk.arm = loop_arm;
	q->clk.kick = loop_kick;
	q->clk.ctx = q;
	return q;
}

static void free_item(void *p)
{
	struct item *it = p;
	free(it->key);
	free(it);
}

void wq_free(struct wq *q)
{
	if (!q)
		return;
	if (q->loop) {
		loop_timer_cancel(q->loop, q->tick_timer);
		loop_timer_cancel(q->loop, q->kick_timer);
	}
	hmap_free(q->items, free_item);
	free(q->ready);
	free(q->delayed);
	free(q);
}

static struct item *lookup(const struct wq *q, const char *key)
{
	return hmap_get(q->items, key);
}

static struct item *get_or_make(struct wq *q, const char *key)
{
	struct item *it = lookup(q, key);
	if (it)
		return it;
	it = xcalloc(1, sizeof(*it));
	it->key = xstrdup(key);
	it->heap_idx = NOT_IN_HEAP;
	hmap_put(q->items, key, it);
	return it;
}

/* An item with nothing pending and nothing to remember is dropped, so the
 * queue's memory follows its pending work, not every key ever seen. */
static void maybe_drop(struct wq *q, struct item *it)
{
	if (it->dirty || it->processing || it->heap_idx != NOT_IN_HEAP || it->failures)
		return;
	hmap_del(q->items, it->key);
	free_item(it);
}

static void push_ready(struct wq *q, struct item *it)
{
	if (q->ready_head + q->ready_len == q->ready_cap && q->ready_head > 0) {
		memmove(q->ready, q->ready + q->ready_head, q->ready_len * sizeof(*q->ready));
		q->ready_head = 0;
	}
	XGROW(q->ready, q->ready_cap, q->ready_head + q->ready_len + 1);
	q->ready[q->ready_head + q->ready_len++] = it;
	if (q->ready_len == 1 && q->clk.kick)
		q->clk.kick(q->clk.ctx);
}

void wq_add(struct wq *q, const char *key)
{
	struct item *it = get_or_make(q, key);
	if (it->dirty)
		return;
	it->dirty = true;
	if (!it->processing)
		push_ready(q, it);
}

static bool earlier(const struct item *a, const struct item *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(struct wq *q, size_t i, struct item *it)
{
	q->delayed[i] = it;
	it->heap_idx = i;
}

static void sift_up(struct wq *q, size_t i)
{
	struct item *it = q->delayed[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!earlier(it, q->delayed[parent]))
			break;
		heap_set(q, i, q->delayed[parent]);
		i = parent;
	}
	heap_set(q, i, it);
}

static void sift_down(struct wq *q, size_t i)
{
	struct item *it = q->delayed[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= q->ndelayed)
			break;
		if (c + 1 < q->ndelayed && earlier(q->delayed[c + 1], q->delayed[c]))
			c++;
		if (!earlier(q->delayed[c], it))
			break;
		heap_set(q, i, q->delayed[c]);
		i = c;
	}
	heap_set(q, i, it);
}

static struct item *heap_pop(struct wq *q)
{
	struct item *top = q->delayed[0];
	top->heap_idx = NOT_IN_HEAP;
	if (--q->ndelayed > 0) {
		q->delayed[0] = q->delayed[q->ndelayed];
		sift_down(q, 0);
	}
	return top;
}

static void rearm(struct wq *q)
{
	int64_t want = q->ndelayed ? q->delayed[0]->deadline : INT64_MAX;
	if (want == q->armed)
		return;
	q->armed = want;
	q->clk.arm(q->clk.ctx, want);
}

void wq_add_after(struct wq *q, const char *key, int64_t delay_ms)
{
	if (delay_ms <= 0) {
		wq_add(q, key);
		return;
	}
	int64_t deadline = q->clk.now_ms(q->clk.ctx) + delay_ms;
	struct item *it = get_or_make(q, key);
	if (it->heap_idx != NOT_IN_HEAP) {
		if (it->deadline <= deadline)
			return;
		it->deadline = deadline;
		it->seq = q->seq++;
		sift_up(q, it->heap_idx);
	} else {
		XGROW(q->delayed, q->delayed_cap, q->ndelayed + 1);
		it->deadline = deadline;
		it->seq = q->seq++;
		q->delayed[q->ndelayed] = it;
		sift_up(q, q->ndelayed++);
	}
	rearm(q);
}

void wq_add_rate_limited(struct wq *q, const char *key)
{
	struct item *it = get_or_make(q, key);
	int64_t d = q->base_ms;
	for (unsigned i = 0; i < it->failures && d < q->max_ms; i++)
		d *= 2;
	if (d > q->max_ms)
		d = q->max_ms;
	it->failures++;
	wq_add_after(q, key, d);
}

void wq_forget(struct wq *q, const char *key)
{
	struct item *it = lookup(q, key);
	if (!it)
		return;
	it->failures = 0;
	maybe_drop(q, it);
}

unsigned wq_requeues(const struct wq *q, const char *key)
{
	const struct item *it = lookup(q, key);
	return it ? it->failures : 0;
}

const char *wq_get(struct wq *q)
{
	if (q->ready_len == 0)
		return NULL;
	struct item *it = q->ready[q->ready_head++];
	if (--q->ready_len == 0)
		q->ready_head = 0;
	it->dirty = false;
	it->processing = true;
	return it->key;
}

const char *wq_take(struct wq *q, const char *key)
{
	struct item *it = get_or_make(q, key);
	if (it->processing) {
		/* Being reconciled: look again when that ends, as wq_add does. */
		it->dirty = true;
		return NULL;
	}
	if (it->dirty) {
		/* Queued: out of the FIFO, keeping the others' order. The FIFO
		 * holds at most one entry per key, and at most one per schedule
		 * in the controller: a linear search is cheap. */
		size_t i = q->ready_head, end = q->ready_head + q->ready_len;
		while (i < end && q->ready[i] != it)
			i++;
		BUG_ON(i == end);
		memmove(q->ready + i, q->ready + i + 1, (end - i - 1) * sizeof(*q->ready));
		if (--q->ready_len == 0)
			q->ready_head = 0;
	}
	it->dirty = false;
	it->processing = true;
	return it->key;
}

void wq_done(struct wq *q, const char *key)
{
	struct item *it = lookup(q, key);
	if (!it || !it->processing) {
		/* wq_done for a key not taken by wq_get: a programmer error. The
		 * return is for analysers that do not know takt_bug never returns. */
		takt_bug(__FILE__, __LINE__, "wq_done without wq_get");
		return;
	}
	it->processing = false;
	if (it->dirty)
		push_ready(q, it);
	else
		maybe_drop(q, it);
}

void wq_tick(struct wq *q)
{
	int64_t now = q->clk.now_ms(q->clk.ctx);
	while (q->ndelayed && q->delayed[0]->deadline <= now) {
		struct item *it = heap_pop(q);
		if (it->dirty)
			maybe_drop(q, it);
		else
			wq_add(q, it->key);
	}
	rearm(q);
}

size_t wq_len(const struct wq *q)
{
	return q->ready_len;
}

size_t wq_delayed(const struct wq *q)
{
	return q->ndelayed;
}

int wq_is_processing(const struct wq *q, const char *key)
{
	const struct item *it = lookup(q, key);
	return it && it->processing;
}
