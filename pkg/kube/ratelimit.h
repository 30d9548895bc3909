/* Client-side rate limiting: a token bucket (client-go's --qps/--burst) with
 * a FIFO of waiting items. Pure: every call takes the current monotonic time
 * in milliseconds, so tests drive it with a fake clock.
 *
 * Ownership: structs are the caller's (usually embedded); the queue owns only
 * its array of pointers, never the items (borrowed, returned as pushed).
 */
#ifndef TAKT_KUBE_RATELIMIT_H
#define TAKT_KUBE_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit {
	double qps;    /* tokens per second; <= 0 means unlimited */
	double burst;  /* bucket size (>= 1) */
	double tokens; /* available now */
	int64_t last_ms;
};

/* A full bucket at now_ms. burst < 1 is treated as 1. */
void ratelimit_init(struct ratelimit *rl, double qps, int burst, int64_t now_ms);
/* Takes one token: returns 0 when one was available (and taken), else the
 * milliseconds (>= 1) until one will be, taking nothing. */
int64_t ratelimit_try_take(struct ratelimit *rl, int64_t now_ms);

/* Items waiting for tokens, released strictly first in, first out. */
struct ratelimit_queue {
	struct ratelimit rl;
	void **items; /* ring buffer */
	size_t cap, head, count;
};

void ratelimit_queue_init(struct ratelimit_queue *q, double qps, int burst, int64_t now_ms);
/* Frees the ring (the items are the caller's). */
void ratelimit_queue_release(struct ratelimit_queue *q);
void ratelimit_queue_push(struct ratelimit_queue *q, void *item);
/* Returns the oldest item if a token is available now (taking it), else NULL
 * with *wait_ms set to the milliseconds until the next item may leave
 * (-1 when the queue is empty). Items never overtake one another. */
void *ratelimit_queue_pop(struct ratelimit_queue *q, int64_t now_ms, int64_t *wait_ms);
/* Removes item wherever it is (a cancelled request). Returns 0 or -ENOENT. */
int ratelimit_queue_remove(struct ratelimit_queue *q, void *item);
size_t ratelimit_queue_len(const struct ratelimit_queue *q);

#endif
