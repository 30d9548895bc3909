#include "kube/ratelimit.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "base/banned.h"

void ratelimit_init(struct ratelimit *rl, double qps, int burst, int64_t now_ms)
{
	rl->qps = qps;
	rl->burst = burst < 1 ? 1 : burst;
	rl->tokens = rl->burst;
	rl->last_ms = now_ms;
}

static void refill(struct ratelimit *rl, int64_t now_ms)
{
	/* A clock that went backwards (a fake one in tests) refills nothing. */
	if (now_ms > rl->last_ms) {
		rl->tokens += (double)(now_ms - rl->last_ms) * rl->qps / 1000.0;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
		rl->last_ms = now_ms;
	}
}

int64_t ratelimit_try_take(struct ratelimit *rl, int64_t now_ms)
{
	if (rl->qps <= 0)
		return 0;
	refill(rl, now_ms);
	/* The epsilon absorbs rounding in the refill so a token due at exactly
	 * now_ms is available at now_ms. */
	if (rl->tokens >= 1.0 - 1e-9) {
		rl->tokens -= 1.0;
		return 0;
	}
	int64_t wait = (int64_t)ceil((1.0 - rl->tokens) * 1000.0 / rl->qps);
	return wait < 1 ? 1 : wait;
}

void ratelimit_queue_init(struct ratelimit_queue *q, double qps, int burst, int64_t now_ms)
{
	memset(q, 0, sizeof(*q));
	ratelimit_init(&q->rl, qps, burst, now_ms);
}

void ratelimit_queue_release(struct ratelimit_queue *q)
{
	free(q->items);
	q->items = NULL;
	q->cap = q->head = q->count = 0;
}

void ratelimit_queue_push(struct ratelimit_queue *q, void *item)
{
	if (q->count == q->cap) {
		/* Grow and unwrap the ring into the new array. */
		size_t ncap = q->cap ? q->cap * 2 : 8;
		void **n = xcalloc(ncap, sizeof(*n));
		for (size_t i = 0; i < q->count; i++)
			n[i] = q->items[(q->head + i) % q->cap];
		free(q->items);
		q->items = n;
		q->cap = ncap;
		q->head = 0;
	}
	q->items[(q->head + q->count) % q->cap] = item;
	q->count++;
}

void *ratelimit_queue_pop(struct ratelimit_queue *q, int64_t now_ms, int64_t *wait_ms)
{
	if (q->count == 0) {
		*wait_ms = -1;
		return NULL;
	}
	int64_t w = ratelimit_try_take(&q->rl, now_ms);
	if (w > 0) {
		*wait_ms = w;
		return NULL;
	}
	void *item = q->items[q->head];
	q->head = (q->head + 1) % q->cap;
	q->count--;
	*wait_ms = 0;
	return item;
}

int ratelimit_queue_remove(struct ratelimit_queue *q, void *item)
{
	for (size_t i = 0; i < q->count; i++) {
		if (q->items[(q->head + i) % q->cap] != item)
			continue;
		for (size_t j = i; j + 1 < q->count; j++)
			q->items[(q->head + j) % q->cap] = q->items[(q->head + j + 1) % q->cap];
		q->count--;
		return 0;
	}
	return -ENOENT;
}

size_t ratelimit_queue_len(const struct ratelimit_queue *q)
{
	return q->count;
}
