/* The controller's one path for writes to the API: every POST, PATCH and
 * DELETE of the schedule, kill/run-now and calendar code is sent, tracked,
 * held, ordered and cancelled here, through one struct kube_transport (the
 * real client, or a fake in unit tests: tests/unit/fake_transport.h).
 *
 * Kinds of write:
 *   WRITE_JOB_POST  a run's Job. Leaves at once and never waits in the
 *                   rate-limit queue: it is what must leave at the slot.
 *   WRITE_KILL      a kill's pod DELETE, Job PATCH and DELETE. Never held
 *                   behind POSTs (an operator waits for it), but it waits
 *                   for a rate-limit token: a kill that keeps failing must
 *                   not become a request storm.
 *   WRITE_ROUTINE   status writes, history DELETEs, Events. Held while any
 *                   Job POST is in flight (at most WRITES_HOLD_MAX_MS), then
 *                   sent in the order they were decided, so that when a
 *                   hundred schedules fire at one instant the apiserver
 *                   creates their Jobs before it works on the bookkeeping
 *                   they cause. They wait for rate-limit tokens, and at
 *                   most WRITES_ROUTINE_MAX are in flight at once: the
 *                   rest wait here, in order, as a few hundred bytes each
 *                   instead of a transfer's buffers (a start-up that
 *                   writes 10,000 statuses held 400 transfers at once, 84
 *                   MB of libcurl's heap). writes_backlog says how many
 *                   wait, so the producer can pace itself.
 *                   An urgent routine write (write.urgent, or a status
 *                   writer's `urgent`: a write that claims a slot due soon)
 *                   is held behind Job POSTs and the cap like any other,
 *                   but goes ahead of every routine write that is not
 *                   urgent: at a first start 10,000 status writes wait
 *                   here, ~50 s at the client's 200 QPS, and a 1-second
 *                   schedule whose next POST waits for its claim to land
 *                   must not wait behind them (slots first, the status
 *                   catch-up after).

 *                   Quiet before a slot: from WRITES_QUIET_BEFORE_MS before
 *                   a slot the owner announced (writes_slot_coming) to
 *                   WRITES_QUIET_AFTER_MS after it, routine writes that are
 *                   not urgent are held too (then the POSTs in flight hold
 *                   them): at a first start the apiserver is busy with
 *                   status writes, and a Job POST sent into that took
 *                   20-150 ms instead of 5. The rate-limit tokens saved
 *                   meanwhile are spent after it, so the catch-up loses
 *                   little.
 *
 * Status writes of one object go through its struct writes_status: one in
 * flight, the newest waiting behind it (merge patches must apply in the
 * order they were decided; a write superseded before it left is never
 * sent). Each is conditional on the object's resourceVersion
 * (metadata.resourceVersion in the patch: the apiserver answers 409
 * Conflict when the object changed since): the first on the version the
 * caller planned from, each next one on the version the write before it
 * produced. So a write decided from an old picture (a second replica, a
 * deposed leader, a stale cache) never lands; its owner re-reads and
 * re-plans.
 *
 * Events: writes_event_post / writes_event_update are the one recorder. The
 * Event is built by kube/event.h with this controller's component and
 * instance; naming and aggregation are the caller's. A failure other than
 * AlreadyExists is logged here; `done` hears every answer. At most
 * WRITES_EVENTS_MAX Events are in flight or held: more are dropped
 * (-EAGAIN, counted in events_dropped).
 *
 * Answers: every write ends in exactly one done(ud, tag, res, ms), never
 * before the call that sent it returns, unless its owner forgot it first
 * (writes_forget, writes_status_release) or the module is freed. `ms` runs
 * from the decision to the answer (holding included). A held or queued
 * write that cannot be handed to the transport is answered as a transport
 * failure (err -EIO).
 *
 * The gate (leader election): only the leader writes. writes_new starts
 * enabled; while disabled (writes_set_enabled(w, false)) every write is
 * refused with -EPERM and nothing leaves: writes_send, writes_status_put
 * (the body given is freed, the write waiting dropped), the Event calls,
 * and a status write that was waiting behind one in flight (its done hears
 * err -EPERM when that one is answered). Disabling drops the writes held
 * behind Job POSTs without sending them: each is answered at once, from
 * writes_set_enabled, as err -ECANCELED. Writes already handed to the
 * transport are not recalled (they have left); writes_get_stats counts
 * them, so a process giving up its lease can wait for their answers.
 * A check function (writes_set_check), when set, is asked before any write
 * leaves (held ones included): false refuses it as the closed gate does.
 * Leader election sets leader_is_leader there, which reads the clock: a
 * process paused past its renew deadline writes nothing in the moment
 * before the timer that closes the gate has run.
 *
 * Ownership: writes_new borrows the loop (it must outlive the module) and
 * copies the transport and instance. Paths, bodies and tags are copied.
 * writes_free cancels every request in flight or held without calling
 * back; it must not be called from a done callback. Loop thread only.
 */
#ifndef TAKT_CONTROLLER_WRITES_H
#define TAKT_CONTROLLER_WRITES_H

#include <stdbool.h>
#include <stdint.h>

#include "kube/http.h"

struct loop;
struct kube_event;
struct writes;
struct writes_req;
struct cJSON;

/* The longest a routine write waits for Job POSTs. */
#define WRITES_HOLD_MAX_MS 500
/* The most routine writes handed to the transport at once. The rate limit
 * alone lets a burst of 400 leave together; 16 keep the apiserver busy
 * (a status write costs it ~5 ms of CPU) without holding their buffers. */
#define WRITES_ROUTINE_MAX 16
/* The quiet window around an announced slot (see above). 100 ms: the
 * writes already handed to the transport, at most WRITES_ROUTINE_MAX
 * waiting for tokens at 200 QPS, have left by the slot. */
#define WRITES_QUIET_BEFORE_MS 100
#define WRITES_QUIET_AFTER_MS  20
/* The most slots announced and not yet past; more are not kept. */
#define WRITES_SLOTS_MAX 32
/* The most Events in flight or held at once. */
#define WRITES_EVENTS_MAX 1024

enum write_kind { WRITE_JOB_POST, WRITE_KILL, WRITE_ROUTINE };

typedef void writes_done_fn(void *ud, const char *tag, const struct kube_result *res, double ms);

struct write {
	enum write_kind kind;
	enum kube_method method;
	const char *path;
	const char *body; /* NULL: none */
	/* Given back to done: what the write was about (a Job's name, an
	 * Event's reason). NULL: "". */
	const char *tag;
	writes_done_fn *done; /* NULL: nobody listens */
	void *ud;
	bool urgent; /* a routine write that goes ahead of the others held */
};

struct writes *writes_new(struct loop *l, const struct kube_transport *tr, const char *instance);
void writes_free(struct writes *w);

/* Sends (or holds) a write. 0, or negative when the transport refused it
 * (done is then never called). */
int writes_send(struct writes *w, const struct write *o);
/* A Job POST is expected at `slot_ms` (wall clock, ms): hold routine
 * writes around it (the quiet window above). Announcing a slot again, or
 * one already past, changes nothing. */
void writes_slot_coming(struct writes *w, int64_t slot_ms);
/* The gate (see above). Idempotent. */
void writes_set_enabled(struct writes *w, bool enabled);
bool writes_enabled(const struct writes *w);
typedef bool writes_check_fn(const void *ud);
/* fn NULL: no check. ud is borrowed. */
void writes_set_check(struct writes *w, writes_check_fn *fn, const void *ud);

/* The owner of `ud` is going away: its writes still go out and are
 * answered, but call nothing. */
void writes_forget(struct writes *w, const void *ud);

/* One object's status writes. Zeroed (writes_status_init) before use;
 * writes_status_release before the memory holding it goes. */
struct writes_status {
	struct writes_req *inflight; /* the write on its way, or NULL */
	char *path;		     /* of the waiting write: NULL while none waits */
	struct cJSON *queued;	     /* the newest decided, waiting */
	char rv[32];		     /* the version the next write is conditional on */
	writes_done_fn *done;
	void *ud;
	/* The caller's: the next write to start is urgent (struct write's
	 * `urgent`), read when it starts. A put while it is set also makes
	 * the write before it urgent if that one is still held (the new one
	 * waits for it). */
	bool urgent;
};
void writes_status_init(struct writes_status *st);
/* Queues `patch` (a merge patch, taken) as the object's next status write
 * to `path`, in place of any write still waiting; sends it unless one is in
 * flight (its answer sends the next). `rv` is the resourceVersion the
 * patch was decided from (NULL or "": unconditional); it is used when
 * nothing is in flight, else the version the write in flight produces is
 * (if that write fails, the version stays the one it was sent with: the
 * owner drops the waiting write on a failure and plans again).
 * done(ud, ...) hears each answer (409: the object changed; re-read and
 * re-plan); it may call writes_status_drop, not writes_status_release.
 * Returns 0, or negative when the write could not be handed to the
 * transport (nothing is queued, done is not called). */
int writes_status_put(struct writes *w, struct writes_status *st, const char *path,
		      struct cJSON *patch, const char *rv, writes_done_fn *done, void *ud);
/* The object's resourceVersion after our last answered write ("" when
 * unknown). Borrowed. */
const char *writes_status_version(const struct writes_status *st);
/* Drops the write waiting, if any (the one in flight goes on). */
void writes_status_drop(struct writes_status *st);
bool writes_status_busy(const struct writes_status *st); /* in flight or waiting */
/* Forgets the object: a write in flight finishes calling nothing. */
void writes_status_release(struct writes *w, struct writes_status *st);

/* The recorder. e->component, e->instance and e->now are filled here. The
 * tag given to done is the reason. 0 or negative as writes_send. */
int writes_event_post(struct writes *w, const struct kube_event *e, writes_done_fn *done, void *ud);
/* Folds a repeat into the Event `name` of namespace `ns`. */
int writes_event_update(struct writes *w, const char *ns, const char *name, const char *reason,
			int64_t count, const char *message, writes_done_fn *done, void *ud);

struct writes_stats {
	uint64_t sent;		 /* handed to the transport */
	uint64_t held;		 /* of those, held behind Job POSTs first */
	uint64_t answered;	 /* done callbacks due (forgotten ones included) */
	uint64_t events_posted;	 /* Event POSTs and updates answered 2xx */
	uint64_t events_dropped; /* refused past WRITES_EVENTS_MAX */
	uint64_t posts_inflight; /* now */
	uint64_t waiting;	 /* now: held (behind POSTs or the cap) */
	uint64_t inflight;	 /* now: handed to the transport, not answered */
	uint64_t pending;	 /* now: in flight or held (not yet answered) */
};
void writes_get_stats(const struct writes *w, struct writes_stats *st);
/* How many writes are held, not yet handed to the transport. */
size_t writes_backlog(const struct writes *w);

#endif
