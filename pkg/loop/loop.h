/* The event loop: one thread, epoll, timers, signals (after Redis ae, libuv).
 *
 * Everything the controller does happens in callbacks run by loop_run on the
 * calling thread, so no state needs locks. Callbacks must not block.
 *
 * Timers live in two min-heaps ordered by (deadline, sequence):
 *   - monotonic timers (CLOCK_MONOTONIC): timeouts, backoff, rate limits;
 *   - wall-clock timers (CLOCK_REALTIME, absolute Unix ms): cron slots.
 * Timers with equal deadlines on the same clock fire in the order they were
 * added. Each clock has its own timerfd armed at its earliest deadline, so a
 * timer wakes the loop within microseconds of its deadline (epoll_wait's
 * millisecond timeout is never used for timers). Callbacks may add and cancel
 * any timer, including ones due in the same pass; a timer added while timers
 * are firing never fires in that same pass (a 0 ms timer re-added from its own
 * callback cannot starve the loop).
 *
 * Clock jumps: the wall-clock timerfd is armed with TFD_TIMER_CANCEL_ON_SET,
 * so when the system clock is set (NTP step, date -s, VM resume) the loop
 * calls every loop_on_clock_jump callback — before firing wall-clock timers
 * that became due — so the controller can recompute its next slots. Wall-clock
 * timers keep their absolute deadline across a jump.
 *
 * Signals: loop_signal_watch blocks the signal for the calling thread and
 * receives it through a signalfd; the callback runs in the loop, not in a
 * signal handler. loop_free restores the signal mask that was in force
 * before the first loop_signal_watch.
 *
 * Ownership: loop_new returns a loop owned by the caller, freed by loop_free
 * (which closes its own epoll/timer/signal fds, never the watched fds, and
 * runs no callbacks). `ud` pointers are borrowed and passed back untouched.
 * Not thread-safe: every function is called from the loop's thread.
 */
#ifndef TAKT_LOOP_LOOP_H
#define TAKT_LOOP_LOOP_H

#include <stdint.h>

struct loop;

/* Interest and readiness bits for fd watches. LOOP_ERROR (error or hang-up)
 * is only ever reported, never requested: it is always delivered. */
enum {
	LOOP_READ = 1u << 0,
	LOOP_WRITE = 1u << 1,
	LOOP_ERROR = 1u << 2,
};

/* A timer handle. 0 is never a valid id; ids are not reused within a loop's
 * lifetime for practical purposes (32-bit generation per slot). */
typedef uint64_t loop_timer_id;

typedef void loop_fd_fn(struct loop *l, int fd, unsigned events, void *ud);
typedef void loop_timer_fn(struct loop *l, loop_timer_id id, void *ud);
typedef void loop_signal_fn(struct loop *l, int signo, void *ud);
/* `delta_ms` is the observed jump of CLOCK_REALTIME relative to
 * CLOCK_MONOTONIC since the loop last looked (positive: forward); 0 when the
 * kernel reported a jump that netted out. */
typedef void loop_clock_jump_fn(struct loop *l, int64_t delta_ms, void *ud);

/* Returns 0, or a negative errno when the kernel refuses an fd. */
int loop_new(struct loop **out);
void loop_free(struct loop *l);

/* Runs until loop_stop is called from a callback. Returns 0 after a stop,
 * or a negative errno if epoll itself fails. */
int loop_run(struct loop *l);
/* Makes loop_run return after the current iteration. */
void loop_stop(struct loop *l);
/* One iteration: waits up to timeout_ms (-1 = until something happens,
 * 0 = poll) for fd readiness, timers or signals, and dispatches them.
 * Returns the number of callbacks run (>= 0) or a negative errno.
 * For blocking helpers ("run until this request is done") and tests. */
int loop_run_once(struct loop *l, int timeout_ms);

/* Watches fd (owned by the caller, who closes it after unwatching) for
 * `events` (LOOP_READ | LOOP_WRITE, or 0 to keep the watch but pause it).
 * Watching an already watched fd replaces its interest, callback and ud.
 * Level-triggered. Returns 0 or a negative errno (-EBADF, -EPERM for a
 * regular file, ...). */
int loop_fd_watch(struct loop *l, int fd, unsigned events, loop_fd_fn *fn, void *ud);
/* Stops watching fd; no callback for it runs afterwards, even for readiness
 * already collected in this iteration. Returns 0 or -ENOENT. Call it before
 * closing the fd. */
int loop_fd_unwatch(struct loop *l, int fd);

/* Monotonic timer due `ms` milliseconds from now (ms <= 0: next iteration). */
loop_timer_id loop_timer_after(struct loop *l, int64_t ms, loop_timer_fn *fn, void *ud);
/* Monotonic timer at an absolute loop_now_monotonic_ms() reading. */
loop_timer_id loop_timer_at_monotonic(struct loop *l, int64_t mono_ms, loop_timer_fn *fn, void *ud);
/* Wall-clock timer at an absolute Unix time in milliseconds; a deadline in
 * the past fires on the next iteration. */
loop_timer_id loop_timer_at_realtime(struct loop *l, int64_t unix_ms, loop_timer_fn *fn, void *ud);
/* Cancels a pending timer. Returns 0, or -ENOENT if it already fired, was
 * cancelled, or never existed (id 0 included) — cancelling is always safe. */
int loop_timer_cancel(struct loop *l, loop_timer_id id);
/* Number of pending timers (both clocks); for tests and metrics. */
unsigned loop_timer_count(const struct loop *l);

/* Delivers signo (SIGTERM, SIGINT, SIGHUP, SIGUSR1, ...) as a callback.
 * One callback per signal; watching again replaces it. Returns 0 or a
 * negative errno. */
int loop_signal_watch(struct loop *l, int signo, loop_signal_fn *fn, void *ud);

/* Registers a callback for wall-clock jumps (any number may be registered;
 * they run in registration order). Returns 0. */
int loop_on_clock_jump(struct loop *l, loop_clock_jump_fn *fn, void *ud);
/* Removes the registration of (fn, ud), if any: its owner is going away. May
 * be called from a clock-jump callback (the callback removed does not run
 * after that). */
void loop_off_clock_jump(struct loop *l, loop_clock_jump_fn *fn, void *ud);

/* Clock readings in milliseconds (and nanoseconds, for measurements). */
int64_t loop_now_monotonic_ms(void);
int64_t loop_now_realtime_ms(void);
int64_t loop_now_monotonic_ns(void);
int64_t loop_now_realtime_ns(void);

#endif
