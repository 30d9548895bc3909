/* The BatchSchedule controller: the I/O around the planner.
 *
 * Reflectors (list + watch) keep stores of BatchSchedules, of the Jobs and of
 * the Pods labelled takt.io/schedule. Every change to one of them puts its
 * schedule's key ("ns/name") on a work queue; reconcile(key) gathers the
 * planner's input from the stores, calls plan_compute, carries out the
 * actions (create or delete Jobs, post Events), writes the status through the
 * status subresource when it changed, and arms a wall-clock timer for the
 * plan's wake-up. Nothing is reconciled before all three stores have been
 * listed once, so a restarted controller sees the runs already there.
 *
 * Firing on time: the Job body for the next slot is built when the timer is
 * armed; when the timer fires, the reconcile that follows only has to plan
 * (from memory) and send.
 *
 * Runs created but not yet seen in the watch are "expectations": they count
 * as active (Forbid holds in the gap between our POST and its watch event)
 * until the watch shows the Job, the POST fails, or 30 s pass.
 *
 * Every request goes through `tr` (kube_transport_http in the program, a
 * fake in unit tests): the reflectors' lists and watches, and the writes,
 * which all leave through one write path (writes.h).
 *
 * Leadership (leader election, pkg/leader): only the leader writes. A
 * controller starts as the leader (no election: the one replica); with
 * controller_set_leader(c, false) it is a standby: its reflectors run and
 * its caches stay synced, but nothing is reconciled (queued keys wait,
 * slot timers do nothing) and the write path refuses every write (held
 * ones are dropped unsent, writes.h). controller_set_leader(c, true) opens
 * the write path and queues every schedule (a reconcile of each from the
 * stores, which are current). Losing leadership closes the write path at
 * once; a pass in progress finishes against the closed gate.
 *
 * Shutdown (controller_shutdown, on SIGTERM): no pass starts any more
 * (queued keys, slot timers and watch events start nothing: the next
 * leader or the restarted process plans them), while the passes under way
 * finish: the answers of their Job POSTs still send the status, Events and
 * DELETEs decided with them, so a slot whose Job was created is recorded.
 * The caller hears when nothing is under way and no write is in flight or
 * held, or when the bound has passed (an apiserver that does not answer
 * cannot hold the process).
 *
 * Ownership: controller_new borrows the loop and copies the transport,
 * whose context must outlive the controller. controller_free cancels every request, timer and
 * watch it started without running their callbacks, and frees everything.
 * Loop thread only.
 */
#ifndef TAKT_CONTROLLER_CONTROLLER_H
#define TAKT_CONTROLLER_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"

struct loop;
struct kube_transport;
struct kube_http;
struct controller;

struct controller_opts {
	const char *namespace; /* NULL or "": every namespace */
	const char *instance;  /* Events' reportingInstance; NULL: the host name */
	/* The client behind the transport, borrowed (it outlives the
	 * controller): /metrics shows its counts of every request
	 * (takt_api_requests_total, kube_http_codes), the leader election's
	 * too. NULL (a fake transport): no samples. */
	const struct kube_http *http;
};

/* Returns 0 (and *out), or a negative errno. Nothing starts before
 * controller_start. */
int controller_new(struct loop *l, const struct kube_transport *tr, const struct controller_opts *o,
		   struct controller **out);
/* Starts the reflectors; reconciling begins once they have all listed. */
void controller_start(struct controller *c);
void controller_free(struct controller *c);

/* See "Leadership" above. Idempotent; may be called before
 * controller_start (a standby from the first list on). */
void controller_set_leader(struct controller *c, bool leader);
bool controller_is_leader(const struct controller *c);
/* Asked before every write (writes_set_check): with leader election,
 * leader_is_leader, which also reads the clock. fn NULL: none. */
void controller_set_leader_check(struct controller *c, bool (*fn)(const void *ud), const void *ud);
/* Every store has been listed once (and the calendars'): the caches are
 * ready, for a leader and a standby alike. */
bool controller_synced(const struct controller *c);

/* See "Shutdown" above. done(ud, quiet) is called once, from the loop
 * (never inside this call): quiet true when every pass has ended and every
 * write has been answered, false when timeout_ms passed first. The write
 * gate is left as it is (a leader closes it before giving up its lease).
 * A second call changes nothing. */
typedef void controller_shutdown_fn(void *ud, bool quiet);
void controller_shutdown(struct controller *c, int64_t timeout_ms, controller_shutdown_fn *done,
			 void *ud);
/* Now: passes under way, and writes in flight or held. */
void controller_pending(const struct controller *c, size_t *passes, uint64_t *writes);

struct controller_stats {
	uint64_t reconciles;
	uint64_t jobs_created; /* POSTs answered 201 (or AlreadyExists) */
	uint64_t jobs_deleted;
	uint64_t status_writes;
	uint64_t events_posted;
	uint64_t relists; /* completed lists after a watch gap (any reflector) */
	/* Reconciles left to the next slot's (planner.h, plan_may_wait). */
	uint64_t waited;
	/* Status writes refused because the object had changed (409): planned
	 * again from the newer picture. */
	uint64_t status_conflicts;
	/* Now: writes handed to the transport and not yet answered. */
	uint64_t writes_inflight;
	/* Now: routine writes held behind the cap (writes_backlog), and
	 * schedules whose status write waits for that backlog to drain. */
	uint64_t writes_held;
	uint64_t statuses_deferred;
};
void controller_get_stats(const struct controller *c, struct controller_stats *st);

/* A status write nothing waits for (no claim due soon, no run started) is
 * decided only while fewer routine writes than this are held: a first
 * start at 10,000 schedules holds ~64 bodies, not 10,000 (the catch-up,
 * docs/controller.md). */
#define CONTROLLER_STATUS_HELD_MAX 64

/* The Prometheus text exposition of the controller's metrics (for
 * /metrics; metrics/prom.h), appended to out. */
void controller_metrics(const struct controller *c, struct buf *out);

#endif
