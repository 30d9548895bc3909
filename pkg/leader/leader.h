/* Leader election on a coordination.k8s.io/v1 Lease, on the event loop: the
 * rules of client-go's leaderelection package with its LeaseLock.
 *
 * The Lease's spec is the record: holderIdentity, leaseDurationSeconds,
 * acquireTime, renewTime (MicroTime: RFC 3339 with microseconds, UTC) and
 * leaseTransitions. Every write is a POST (no Lease yet) or a PUT of the
 * whole Lease as last read or written, carrying its resourceVersion: the
 * apiserver's optimistic concurrency decides between candidates (409).
 *
 * One attempt ("try to acquire or renew", client-go's tryAcquireOrRenew):
 *   - leading, and the lease still valid by our own clock: PUT the Lease
 *     last written with a new renewTime (the fast path, one round trip);
 *     any failure falls back at once to
 *   - GET the Lease. 404: POST one with us as holder. Otherwise the record
 *     is "observed": when it differs from the one observed before, the
 *     observation time is now. Held by another identity and valid (observed
 *     less than its leaseDurationSeconds ago, by our monotonic clock — never
 *     by the times written in it, since clocks differ between hosts): the
 *     attempt fails. Else PUT us as holder (acquireTime and leaseTransitions
 *     kept when we hold it already, else acquireTime now and transitions
 *     plus one).
 * As a candidate, an attempt is made at start and then every retry period
 * plus a jitter of up to 1.2 retry periods (client-go's JitterFactor), so
 * candidates do not march in step. As the leader, every retry period.
 *
 * Losing: a leader whose last successful renew left more than retry period
 * + renew deadline ago (client-go: a series of renew attempts that has not
 * succeeded within the renew deadline) stops at once: `stopped` is called
 * from a timer at that instant, whatever request is still on its way.
 * Counted from when the write left, not from its answer: the others count
 * the lease from when they see the write, which is later, so a slow answer
 * cannot stretch our deadline past their lease. A
 * leader that sees the Lease held by another (its GET shows another valid
 * holder, or a PUT after that GET is answered 409: someone wrote between)
 * stops at once too — client-go would wait for the deadline, but a second
 * leader already exists and every write of ours now is one too many.
 * Stopped is final: the elector tries nothing more (the process is meant to
 * exit and come back as a candidate, as with client-go).
 *
 * Releasing (client-go's ReleaseOnCancel): leader_release stops the
 * elector, GETs the Lease and, when we still hold it, PUTs it with
 * holderIdentity "", leaseDurationSeconds 1, acquireTime and renewTime now
 * and leaseTransitions kept: a candidate takes an empty holder at its next
 * attempt, without waiting for the lease to run out.
 *
 * Every request is rate-limit exempt (the renewal must leave on time) and
 * has a timeout of half the renew deadline, so a hung request leaves time
 * for another attempt before the deadline.
 *
 * Callbacks run from the loop, never inside leader_start or leader_release:
 *   started(ud)           this process is now the leader
 *   stopped(ud)           it no longer is (final; not after leader_release)
 *   new_leader(ud, id)    a holder different from the last one reported
 *                         was observed (ours included); a released Lease
 *                         (holder "") is not reported
 * A callback may call leader_is_leader and leader_release, not leader_free.
 *
 * Ownership: leader_new borrows the loop (it must outlive the elector),
 * copies the transport (its context must outlive the elector) and the
 * strings of the options. leader_free cancels the request and timers
 * without calling anything. Loop thread only.
 */
#ifndef TAKT_LEADER_LEADER_H
#define TAKT_LEADER_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct kube_transport;
struct leader;

/* client-go's defaults (and the contract's, docs/api.md). */
#define LEADER_DEFAULT_NAME		 "takt-controller"
#define LEADER_DEFAULT_LEASE_MS		 15000
#define LEADER_DEFAULT_RENEW_DEADLINE_MS 10000
#define LEADER_DEFAULT_RETRY_MS		 2000
/* client-go's JitterFactor: the candidate's wait is retry * [1, 2.2). */
#define LEADER_JITTER_FACTOR 1.2

typedef void leader_fn(void *ud);
typedef void leader_new_fn(void *ud, const char *identity);
/* released: the Lease now has no holder because of us. */
typedef void leader_released_fn(void *ud, bool released);

struct leader_opts {
	const char *name;      /* the Lease's name */
	const char *namespace; /* the Lease's namespace */
	const char *identity;  /* holderIdentity: unique per process */
	int64_t lease_ms;      /* how long a lease holds without renewal */
	int64_t renew_deadline_ms;
	int64_t retry_ms;
	leader_fn *started;
	leader_fn *stopped;
	leader_new_fn *new_leader; /* may be NULL */
	void *ud;
};

/* client-go's rules: every field set, lease >= 1 s (leaseDurationSeconds
 * is whole seconds and must be positive), lease > renew deadline > 1.2 x
 * retry, retry > 0. 0, or -1 with one sentence in err. */
int leader_opts_validate(const struct leader_opts *o, char *err, size_t errlen);

/* Validates as above; 0 and *out, or -EINVAL with the sentence in err.
 * Nothing is sent before leader_start. */
int leader_new(struct loop *l, const struct kube_transport *tr, const struct leader_opts *o,
	       struct leader **out, char *err, size_t errlen);
/* The first attempt leaves now. */
void leader_start(struct leader *le);
void leader_free(struct leader *le);

/* True between `started` and `stopped` (or leader_release), and only
 * while the renew deadline has not passed by the clock: a process paused
 * past it (SIGSTOP, a frozen VM) is not the leader even before the timer
 * that calls `stopped` has run. Cheap enough to ask before every write. */
bool leader_is_leader(const struct leader *le);
/* The holder last observed ("" when none: not yet read, or released). */
const char *leader_holder(const struct leader *le);

/* Stops the elector (no attempt, no callback but `done` from now on) and,
 * when leading, gives the Lease up. Returns 1 when a release is on its way:
 * done(ud, released) is called once, from the loop; 0 when there was
 * nothing to release (not leading): done is never called. */
int leader_release(struct leader *le, leader_released_fn *done, void *ud);

/* A Go duration as client-go's flags take it ("15s", "500ms", "1m30s",
 * "1.5s"; units h, m, s, ms, us, ns), rounded down to milliseconds.
 * 0, or -1 for anything else (a bare number, a negative value). */
int leader_parse_duration(const char *s, int64_t *ms);

/* client-go's identity: the host name, "_", a random UUID. 0, or -1 when
 * `n` is too small or no randomness is to be had. */
int leader_identity(char *out, size_t n);

struct leader_stats {
	uint64_t attempts;     /* tries to acquire or renew */
	uint64_t renewals;     /* successful writes of ours as holder */
	uint64_t transitions;  /* times we became the leader */
	int64_t last_renew_ms; /* monotonic ms of the last success, 0 none */
	/* The elector's last decisions, so that tests check what it chose
	 * rather than how late a loaded machine ran it: the delay chosen for
	 * the next attempt (the retry period when leading, plus a jitter in
	 * [0, 1.2 x retry) as a candidate; 0 none chosen yet), the monotonic
	 * ms it is due at, and, leading, the monotonic ms at which the renew
	 * deadline passes (0 never led). */
	int64_t next_wait_ms;
	int64_t next_at_ms;
	int64_t deadline_ms;
};
void leader_get_stats(const struct leader *le, struct leader_stats *st);

#endif
