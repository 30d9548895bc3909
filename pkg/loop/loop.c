#include "loop/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "base/banned.h"

enum { CLK_MONO = 0, CLK_REAL = 1, CLK_COUNT = 2 };

/* Timers live in a slot table so that an id (generation << 32 | slot) finds
 * its timer in O(1) for cancellation, and a stale id (already fired) is
 * recognised by its generation instead of touching a reused slot. */
struct timer {
	int64_t deadline_ms;
	uint64_t seq;
	loop_timer_fn *fn;
	void *ud;
	uint32_t gen;
	int32_t heap_idx; /* -1: free slot */
	uint32_t next_free;
	uint8_t clock;
};

struct heap {
	uint32_t *slots;
	size_t len, cap;
	/* The deadline the timerfd is armed for; re-armed lazily before waiting. */
	int64_t armed_ms;
	bool dirty;
};

struct fd_watch {
	loop_fd_fn *fn;
	void *ud;
	unsigned events;
	uint32_t gen;
	bool active;
};

struct jump_cb {
	loop_clock_jump_fn *fn;
	void *ud;
};

struct sig_cb {
	loop_signal_fn *fn;
	void *ud;
};

#define NO_FREE_SLOT UINT32_MAX

struct loop {
	int epfd;
	int tfd[CLK_COUNT];
	int sigfd;
	bool stop;

	struct fd_watch *fds;
	size_t fds_cap;

	struct timer *timers;
	size_t timers_len, timers_cap;
	uint32_t free_head;
	uint64_t next_seq;
	struct heap heaps[CLK_COUNT];

	int signals_ran; /* signal callbacks of this iteration, for the count */
	bool clock_jumped;
	int64_t real_minus_mono_ms;
	struct jump_cb *jumps;
	size_t jumps_len, jumps_cap;
	bool dispatching_jumps;

	sigset_t sigmask;
	sigset_t saved_mask;
	bool mask_saved;
	struct sig_cb sigs[_NSIG];
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t loop_now_monotonic_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t loop_now_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

int64_t loop_now_monotonic_ms(void)
{
	return loop_now_monotonic_ns() / 1000000;
}

int64_t loop_now_realtime_ms(void)
{
	/* Floor, also before 1970, so a deadline in ms is never reported
	 * reached early. */
	int64_t ns = loop_now_realtime_ns();
	return ns >= 0 ? ns / 1000000 : -((-ns + 999999) / 1000000);
}

static int64_t now_ms(int clock)
{
	return clock == CLK_MONO ? loop_now_monotonic_ms() : loop_now_realtime_ms();
}

/* ---- heap ---- */

static bool timer_before(const struct loop *l, uint32_t a, uint32_t b)
{
	const struct timer *ta = &l->timers[a], *tb = &l->timers[b];
	if (ta->deadline_ms != tb->deadline_ms)
		return ta->deadline_ms < tb->deadline_ms;
	return ta->seq < tb->seq;
}

static void heap_set(struct loop *l, struct heap *h, size_t i, uint32_t slot)
{
	h->slots[i] = slot;
	l->timers[slot].heap_idx = (int32_t)i;
}

static void heap_sift_up(struct loop *l, struct heap *h, size_t i)
{
	uint32_t slot = h->slots[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!timer_before(l, slot, h->slots[parent]))
			break;
		heap_set(l, h, i, h->slots[parent]);
		i = parent;
	}
	heap_set(l, h, i, slot);
}

static void heap_sift_down(struct loop *l, struct heap *h, size_t i)
{
	uint32_t slot = h->slots[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->len)
			break;
		if (c + 1 < h->len && timer_before(l, h->slots[c + 1], h->slots[c]))
			c++;
		if (!timer_before(l, h->slots[c], slot))
			break;
		heap_set(l, h, i, h->slots[c]);
		i = c;
	}
	heap_set(l, h, i, slot);
}

static void heap_remove(struct loop *l, struct heap *h, size_t i)
{
	h->len--;
	if (i == h->len)
		return;
	uint32_t moved = h->slots[h->len];
	heap_set(l, h, i, moved);
	heap_sift_down(l, h, i);
	heap_sift_up(l, h, (size_t)l->timers[moved].heap_idx);
}

/* ---- timers ---- */

static uint32_t slot_alloc(struct loop *l)
{
	uint32_t s;
	if (l->free_head != NO_FREE_SLOT) {
		s = l->free_head;
		l->free_head = l->timers[s].next_free;
		return s;
	}
	BUG_ON(l->timers_len >= NO_FREE_SLOT - 1);
	XGROW(l->timers, l->timers_cap, l->timers_len + 1);
	s = (uint32_t)l->timers_len++;
	l->timers[s].gen = 0;
	return s;
}

static void slot_free(struct loop *l, uint32_t s)
{
	struct timer *t = &l->timers[s];
	t->heap_idx = -1;
	t->fn = NULL;
	t->ud = NULL;
	t->next_free = l->free_head;
	l->free_head = s;
}

static loop_timer_id timer_add(struct loop *l, int clock, int64_t deadline_ms, loop_timer_fn *fn,
			       void *ud)
{
	BUG_ON(fn == NULL);
	uint32_t s = slot_alloc(l);
	struct timer *t = &l->timers[s];
	t->gen++;
	if (t->gen == 0) /* the id must never be 0 */
		t->gen = 1;
	t->deadline_ms = deadline_ms;
	t->seq = l->next_seq++;
	t->fn = fn;
	t->ud = ud;
	t->clock = (uint8_t)clock;
	struct heap *h = &l->heaps[clock];
	XGROW(h->slots, h->cap, h->len + 1);
	h->slots[h->len] = s;
	t->heap_idx = (int32_t)h->len;
	h->len++;
	heap_sift_up(l, h, h->len - 1);
	return ((uint64_t)t->gen << 32) | s;
}

loop_timer_id loop_timer_after(struct loop *l, int64_t ms, loop_timer_fn *fn, void *ud)
{
	if (ms < 0)
		ms = 0;
	return timer_add(l, CLK_MONO, loop_now_monotonic_ms() + ms, fn, ud);
}

loop_timer_id loop_timer_at_monotonic(struct loop *l, int64_t mono_ms, loop_timer_fn *fn, void *ud)
{
	return timer_add(l, CLK_MONO, mono_ms, fn, ud);
}

loop_timer_id loop_timer_at_realtime(struct loop *l, int64_t unix_ms, loop_timer_fn *fn, void *ud)
{
	return timer_add(l, CLK_REAL, unix_ms, fn, ud);
}

static struct timer *timer_lookup(struct loop *l, loop_timer_id id)
{
	uint32_t s = (uint32_t)(id & 0xffffffffu);
	uint32_t gen = (uint32_t)(id >> 32);
	if (id == 0 || s >= l->timers_len)
		return NULL;
	struct timer *t = &l->timers[s];
	if (t->heap_idx < 0 || t->gen != gen)
		return NULL;
	return t;
}

int loop_timer_cancel(struct loop *l, loop_timer_id id)
{
	struct timer *t = timer_lookup(l, id);
	if (!t)
		return -ENOENT;
	heap_remove(l, &l->heaps[t->clock], (size_t)t->heap_idx);
	slot_free(l, (uint32_t)(id & 0xffffffffu));
	return 0;
}

unsigned loop_timer_count(const struct loop *l)
{
	return (unsigned)(l->heaps[CLK_MONO].len + l->heaps[CLK_REAL].len);
}

/* Fires the timers of one clock that are due, in (deadline, seq) order.
 * Timers added by the callbacks (seq >= limit) wait for the next pass, so a
 * callback re-adding itself with 0 ms cannot keep this loop spinning. */
static int timers_fire(struct loop *l, int clock)
{
	struct heap *h = &l->heaps[clock];
	uint64_t limit = l->next_seq;
	int64_t now = now_ms(clock);
	int ran = 0;
	while (h->len > 0) {
		uint32_t s = h->slots[0];
		struct timer *t = &l->timers[s];
		if (t->deadline_ms > now || t->seq >= limit)
			break;
		loop_timer_id id = ((uint64_t)t->gen << 32) | s;
		loop_timer_fn *fn = t->fn;
		void *ud = t->ud;
		heap_remove(l, h, 0);
		slot_free(l, s);
		fn(l, id, ud);
		ran++;
	}
	return ran;
}

/* armed_ms when no timer is pending: the monotonic timerfd is disarmed, the
 * wall-clock one armed a year ahead. */
#define ARMED_NONE INT64_MIN

static int timerfd_arm(struct loop *l, int clock)
{
	struct heap *h = &l->heaps[clock];
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	int64_t deadline;
	if (h->len > 0)
		deadline = l->timers[h->slots[0]].deadline_ms;
	else
		deadline = ARMED_NONE;
	if (!h->dirty && deadline == h->armed_ms)
		return 0;
	if (deadline == ARMED_NONE && clock == CLK_REAL) {
		/* Stay armed, far ahead, so a clock jump is still reported. */
		int64_t far = loop_now_realtime_ms() + 366LL * 86400 * 1000;
		its.it_value.tv_sec = far / 1000;
	} else if (deadline != ARMED_NONE) {
		/* A zero it_value disarms: a deadline at or before the epoch
		 * becomes 1 ns, which is just as much in the past. */
		int64_t d = deadline > 0 ? deadline : 0;
		its.it_value.tv_sec = d / 1000;
		its.it_value.tv_nsec = (long)(d % 1000) * 1000000;
		if (d == 0)
			its.it_value.tv_nsec = 1;
	}
	int flags = TFD_TIMER_ABSTIME;
	if (clock == CLK_REAL)
		flags |= TFD_TIMER_CANCEL_ON_SET;
	if (timerfd_settime(l->tfd[clock], flags, &its, NULL) < 0) {
		/* ECANCELED: the clock was set since the last read; note the jump
		 * and arm again. */
		if (errno == ECANCELED && clock == CLK_REAL) {
			l->clock_jumped = true;
			if (timerfd_settime(l->tfd[clock], flags, &its, NULL) == 0)
				goto armed;
		}
		return -errno;
	}
armed:
	h->armed_ms = deadline;
	h->dirty = false;
	return 0;
}

static void on_timerfd(struct loop *l, int fd, unsigned events, void *ud)
{
	int clock = (int)(intptr_t)ud;
	uint64_t expirations;
	ssize_t n = read(fd, &expirations, sizeof(expirations));
	if (n < 0 && errno == ECANCELED && clock == CLK_REAL)
		l->clock_jumped = true;
	/* Whatever happened, the timerfd must be armed again before waiting. */
	l->heaps[clock].dirty = true;
}

/* Drops the registrations removed (fn NULL), keeping the order. */
static void jumps_compact(struct loop *l)
{
	size_t n = 0;
	for (size_t i = 0; i < l->jumps_len; i++)
		if (l->jumps[i].fn)
			l->jumps[n++] = l->jumps[i];
	l->jumps_len = n;
}

void loop_off_clock_jump(struct loop *l, loop_clock_jump_fn *fn, void *ud)
{
	/* Only marked here: a dispatch may be walking the array. */
	for (size_t i = 0; i < l->jumps_len; i++)
		if (l->jumps[i].fn == fn && l->jumps[i].ud == ud) {
			l->jumps[i].fn = NULL;
			return;
		}
}

int loop_on_clock_jump(struct loop *l, loop_clock_jump_fn *fn, void *ud)
{
	if (!l->dispatching_jumps)
		jumps_compact(l);
	XGROW(l->jumps, l->jumps_cap, l->jumps_len + 1);
	l->jumps[l->jumps_len].fn = fn;
	l->jumps[l->jumps_len].ud = ud;
	l->jumps_len++;
	return 0;
}

static int64_t clock_offset_ms(void)
{
	return loop_now_realtime_ms() - loop_now_monotonic_ms();
}

static int clock_jump_dispatch(struct loop *l)
{
	l->clock_jumped = false;
	int64_t off = clock_offset_ms();
	int64_t delta = off - l->real_minus_mono_ms;
	l->real_minus_mono_ms = off;
	l->heaps[CLK_REAL].dirty = true;
	LOG_INFO("wall clock jumped", "delta_ms=%lld", (long long)delta);
	/* Callbacks may register more callbacks, or remove some: index, do
	 * not cache len; compact after. */
	int ran = 0;
	l->dispatching_jumps = true;
	for (size_t i = 0; i < l->jumps_len; i++) {
		if (!l->jumps[i].fn)
			continue;
		l->jumps[i].fn(l, delta, l->jumps[i].ud);
		ran++;
	}
	l->dispatching_jumps = false;
	jumps_compact(l);
	return ran;
}

/* ---- fds ---- */

static uint32_t to_epoll(unsigned events)
{
	uint32_t e = 0;
	if (events & LOOP_READ)
		e |= EPOLLIN;
	if (events & LOOP_WRITE)
		e |= EPOLLOUT;
	return e;
}

int loop_fd_watch(struct loop *l, int fd, unsigned events, loop_fd_fn *fn, void *ud)
{
	if (fd < 0)
		return -EBADF;
	BUG_ON(fn == NULL);
	if ((size_t)fd >= l->fds_cap) {
		size_t old = l->fds_cap;
		XGROW(l->fds, l->fds_cap, (size_t)fd + 1);
		memset(l->fds + old, 0, (l->fds_cap - old) * sizeof(*l->fds));
	}
	struct fd_watch *w = &l->fds[fd];
	struct epoll_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.events = to_epoll(events);
	uint32_t gen = w->active ? w->gen : w->gen + 1;
	ev.data.u64 = ((uint64_t)gen << 32) | (uint32_t)fd;
	int op = w->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(l->epfd, op, fd, &ev) < 0) {
		/* A watched fd closed without an unwatch left epoll (ENOENT) and
		 * its number may be back as a new fd; or the set already holds
		 * it (EEXIST). Either way the other operation is the right one. */
		if (errno != ENOENT && errno != EEXIST)
			return -errno;
		op = op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
		if (epoll_ctl(l->epfd, op, fd, &ev) < 0)
			return -errno;
	}
	w->gen = gen;
	w->active = true;
	w->events = events & (LOOP_READ | LOOP_WRITE);
	w->fn = fn;
	w->ud = ud;
	return 0;
}

int loop_fd_unwatch(struct loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->fds_cap || !l->fds[fd].active)
		return -ENOENT;
	/* The fd may already be closed by a careless caller; the watch is gone
	 * from our table either way. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->fds[fd].active = false;
	l->fds[fd].fn = NULL;
	l->fds[fd].ud = NULL;
	return 0;
}

/* ---- signals ---- */

static void on_signalfd(struct loop *l, int fd, unsigned events, void *ud)
{
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int signo = (int)si.ssi_signo;
		if (signo > 0 && signo < _NSIG && l->sigs[signo].fn) {
			l->sigs[signo].fn(l, signo, l->sigs[signo].ud);
			l->signals_ran++;
		}
	}
}

int loop_signal_watch(struct loop *l, int signo, loop_signal_fn *fn, void *ud)
{
	if (signo <= 0 || signo >= _NSIG || fn == NULL)
		return -EINVAL;
	sigset_t add;
	sigemptyset(&add);
	sigaddset(&add, signo);
	if (!l->mask_saved) {
		if (sigprocmask(SIG_BLOCK, &add, &l->saved_mask) < 0)
			return -errno;
		l->mask_saved = true;
	} else if (sigprocmask(SIG_BLOCK, &add, NULL) < 0) {
		return -errno;
	}
	sigaddset(&l->sigmask, signo);
	int fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (l->sigfd < 0) {
		l->sigfd = fd;
		int rc = loop_fd_watch(l, fd, LOOP_READ, on_signalfd, NULL);
		if (rc < 0)
			return rc;
	}
	l->sigs[signo].fn = fn;
	l->sigs[signo].ud = ud;
	return 0;
}

/* ---- lifecycle ---- */

int loop_new(struct loop **out)
{
	struct loop *l = xcalloc(1, sizeof(*l));
	int rc;
	l->epfd = l->tfd[0] = l->tfd[1] = l->sigfd = -1;
	l->free_head = NO_FREE_SLOT;
	l->next_seq = 1;
	sigemptyset(&l->sigmask);
	l->real_minus_mono_ms = clock_offset_ms();
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto fail_errno;
	static const clockid_t ids[CLK_COUNT] = {CLOCK_MONOTONIC, CLOCK_REALTIME};
	for (int c = 0; c < CLK_COUNT; c++) {
		l->tfd[c] = timerfd_create(ids[c], TFD_NONBLOCK | TFD_CLOEXEC);
		if (l->tfd[c] < 0)
			goto fail_errno;
		rc = loop_fd_watch(l, l->tfd[c], LOOP_READ, on_timerfd, (void *)(intptr_t)c);
		if (rc < 0)
			goto fail;
		l->heaps[c].armed_ms = ARMED_NONE;
		l->heaps[c].dirty = true;
		rc = timerfd_arm(l, c);
		if (rc < 0)
			goto fail;
	}
	*out = l;
	return 0;
fail_errno:
	rc = -errno;
fail:
	loop_free(l);
	*out = NULL;
	return rc;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	if (l->sigfd >= 0) {
		/* Drain what is pending so restoring the mask does not deliver a
		 * SIGTERM the loop already owned to the default handler. */
		struct signalfd_siginfo si;
		while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			;
		close(l->sigfd);
	}
	if (l->mask_saved)
		sigprocmask(SIG_SETMASK, &l->saved_mask, NULL);
	for (int c = 0; c < CLK_COUNT; c++) {
		if (l->tfd[c] >= 0)
			close(l->tfd[c]);
		free(l->heaps[c].slots);
	}
	if (l->epfd >= 0)
		close(l->epfd);
	free(l->fds);
	free(l->timers);
	free(l->jumps);
	free(l);
}

/* ---- running ---- */

#define MAX_EVENTS 64

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	int ran = 0, rc;
	for (int c = 0; c < CLK_COUNT; c++) {
		rc = timerfd_arm(l, c);
		if (rc < 0)
			return rc;
	}
	int n = epoll_wait(l->epfd, evs, MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->signals_ran = 0;
	for (int i = 0; i < n; i++) {
		int fd = (int)(uint32_t)(evs[i].data.u64 & 0xffffffffu);
		uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
		if ((size_t)fd >= l->fds_cap)
			continue;
		struct fd_watch *w = &l->fds[fd];
		/* Unwatched (or unwatched and re-watched) by an earlier callback
		 * of this same batch: the readiness is stale. */
		if (!w->active || w->gen != gen)
			continue;
		unsigned events = 0;
		if (evs[i].events & (EPOLLIN | EPOLLPRI | EPOLLRDHUP))
			events |= LOOP_READ;
		if (evs[i].events & EPOLLOUT)
			events |= LOOP_WRITE;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			events |= LOOP_ERROR;
		w->fn(l, fd, events, w->ud);
		if (fd != l->tfd[CLK_MONO] && fd != l->tfd[CLK_REAL] && fd != l->sigfd)
			ran++;
	}
	ran += l->signals_ran;
	if (l->clock_jumped)
		ran += clock_jump_dispatch(l);
	/* Checked every iteration, not only when a timerfd fired: a callback
	 * above may have added a timer that is already due. */
	for (int c = 0; c < CLK_COUNT; c++) {
		if (l->heaps[c].len > 0)
			ran += timers_fire(l, c);
	}
	return ran;
}

int loop_run(struct loop *l)
{
	int rc = 0;
	while (!l->stop) {
		rc = loop_run_once(l, -1);
		if (rc < 0)
			break;
		rc = 0;
	}
	l->stop = false;
	return rc;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}
