/* The reflector: list + watch of one resource into a store (client-go's
 * Reflector, on the event loop), or through an event sink that keeps nothing.
 *
 * Two modes, chosen at reflector_new, exactly one of them:
 *   - store mode (a store, opts.on_event NULL): the store is kept a true
 *     picture of the resource; its change callback (store_on_change) reports
 *     each difference, relists included.
 *   - sink mode (store NULL, opts.on_event set): each object is handed to
 *     on_event as it goes by and dropped when it returns. For a consumer that
 *     only looks at objects in passing (the controller's watch of every pod
 *     for takt.io/kill): it needs no copy of the cluster, and still gets the
 *     reflector's backoff, 410 relist and bad-line handling. See on_event in
 *     struct reflector_opts for what it is handed.
 *
 * States (reflector_state), after architecture.md:
 *
 *   IDLE --start--> LISTING --list done--> WATCHING --stream ends--> WATCHING
 *                      ^                      |  (reconnect from the last
 *                      |                      |   resourceVersion)
 *                      |            410 Gone, |  error (transport, 5xx, 403,
 *                      |      over-long line, |  ERROR event other than 410)
 *                      |        malformed JSON|        |
 *                      |                      v        v
 *                   RELISTING <----------- BACKOFF ----+--> WATCHING
 *
 *   - LISTING: paged GET (limit + continue) of the collection; each page's
 *     items are staged in the store as the page is read (store_stage_take;
 *     a list that fails midway is dropped, store_stage_abort), and when the
 *     last page arrives the store is replaced by them (store_stage_commit
 *     reports what changed since, deletions included), its
 *     resourceVersion recorded, the reflector is synced, and `on_list`
 *     runs. In sink mode each page's items are delivered as they arrive
 *     and freed; the rest is the same.
 *   - WATCHING: GET ?watch=1 from that resourceVersion with
 *     allowWatchBookmarks=true and timeoutSeconds (opts, ± 10% jitter so
 *     watches of many resources do not end together). Each line is one event:
 *     ADDED/MODIFIED/DELETED apply to the store (whose change callback the
 *     owner set with store_on_change) or go to the sink, BOOKMARK only moves the
 *     resourceVersion, ERROR carries a Status. A normal end reconnects at
 *     once from the last resourceVersion (after a backoff if the stream ended
 *     within a second with no event, so a server that closes at once is not
 *     hammered).
 *   - RELISTING: after 410 Gone (the HTTP status or an ERROR event with code
 *     410: our resourceVersion was compacted), or when an event was lost to
 *     an over-long or unparseable line (resuming from the last
 *     resourceVersion would replay the same bad line). Events were missed:
 *     `on_list` runs with relist=true after it, so the owner can re-enqueue
 *     everything and apply its missed-run policy. A relist caused by a bad
 *     line, or a second 410 with no event applied since the first, goes
 *     through BACKOFF first.
 *   - BACKOFF: exponential from backoff_base_ms, doubling to backoff_max_ms,
 *     with jitter (a uniform draw in [d/2, d]); the failure count resets when
 *     a watch delivers a valid event or ends normally. Then the step that
 *     failed is retried (list, or watch from the last resourceVersion).
 *
 * Nothing is fatal: every failure is logged with the resource and retried.
 * Objects in the store, or handed to the sink, are what the apiserver sent
 * less metadata.managedFields and whatever opts.transform prunes (list items
 * may lack kind/apiVersion, as the list API leaves them out).
 *
 * Ownership: reflector_new borrows the loop and the store, if any (both must
 * outlive the reflector), copies the transport and the option strings, and
 * keeps `ud` for on_list and on_event without owning it. An object handed to
 * on_event is the reflector's, borrowed for the call only: copy what you
 * need, never keep the pointer, never modify it. reflector_free cancels the
 * request in flight and its timer and calls nothing; it must not be called
 * from the reflector's own callbacks (on_list, on_event, transform), nor from
 * the store's change callback while the reflector is applying events.
 * Loop thread only.
 */
#ifndef TAKT_KUBE_REFLECTOR_H
#define TAKT_KUBE_REFLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/store.h" /* enum store_event, for the sink */

struct cJSON;
struct loop;
struct kube_transport;
struct store;
struct reflector;

enum reflector_state {
	REFLECTOR_IDLE = 0,
	REFLECTOR_LISTING,
	REFLECTOR_WATCHING,
	REFLECTOR_BACKOFF,
	REFLECTOR_RELISTING,
};

struct reflector_opts {
	const char *group;	    /* "" or NULL: core */
	const char *version;	    /* "v1" */
	const char *resource;	    /* plural: "pods", "batchschedules" */
	const char *ns;		    /* NULL or "": all namespaces, or cluster-scoped */
	const char *label_selector; /* NULL: everything */
	int watch_timeout_s;	    /* 0: 300 */
	int page_limit;		    /* 0: 500 */
	int64_t backoff_base_ms;    /* 0: 200 */
	int64_t backoff_max_ms;	    /* 0: 30000 */
	size_t max_line;	    /* one watch event, bytes; 0: 16 MiB */
	/* NULL, or prunes each object (list item, ADDED/MODIFIED event) in
	 * place before it enters the store, after metadata.managedFields is
	 * dropped: the owner keeps only the fields it reads (client-go's
	 * SetTransform). It must keep metadata.name, namespace and
	 * resourceVersion, and whatever the store's indexes read. */
	void (*transform)(struct cJSON *obj);
	/* Lists and watches as PartialObjectMetadata (KUBE_ACCEPT_METADATA_LIST,
	 * KUBE_ACCEPT_METADATA):
	 * the apiserver sends metadata only (no spec, no status), so an owner
	 * that reads only names, labels, annotations and owners neither
	 * receives nor parses the rest. Objects then have apiVersion
	 * meta.k8s.io/v1 and kind PartialObjectMetadata. */
	bool metadata_only;
	/* Sink mode: set, and pass no store to reflector_new (a store and a
	 * sink are mutually exclusive: one engine, one kind of output). Called
	 * with reflector_new's `ud` (the one on_list gets: one owner, one
	 * context) for every object, after managedFields is dropped and
	 * `transform` ran (DELETED objects too, unlike store mode, so the sink
	 * always sees one shape):
	 *   - each list item: STORE_ADDED, page by page as the pages arrive,
	 *     before on_list. Every list delivers everything there is, so a
	 *     relist (after a 410, a bad line or a failed list page) delivers
	 *     again objects already seen: the sink must be idempotent. Objects
	 *     deleted while the watch was down are not reported (there is no
	 *     store to compare with); on_list with relist=true says a gap was.
	 *   - watch ADDED, MODIFIED, DELETED: STORE_ADDED, STORE_UPDATED,
	 *     STORE_DELETED (the object's final state), in stream order.
	 * BOOKMARK and ERROR events are not delivered. The resourceVersion
	 * already includes the object's when it is called. The object is
	 * borrowed for the call only and freed after it; the reflector keeps
	 * nothing of it. */
	void (*on_event)(void *ud, enum store_event ev, const struct cJSON *obj);
};

/* After every completed list: the first (relist false) and each relist
 * after a gap (relist true: events may have been missed). The store already
 * holds the new picture and has reported its differences (in sink mode: the
 * sink has had every listed object). */
typedef void reflector_list_fn(struct reflector *r, bool relist, void *ud);

/* Requests go through `tr` (copied; kube_transport_http for the real
 * client, a fake in tests). `s` is the store, or NULL for sink mode
 * (o->on_event set); passing both or neither is a bug (BUG_ON). Returns NULL
 * only for options missing version or resource. */
struct reflector *reflector_new(struct loop *l, const struct kube_transport *tr, struct store *s,
				const struct reflector_opts *o, reflector_list_fn *on_list,
				void *ud);
void reflector_free(struct reflector *r);

/* Starts the first list (IDLE -> LISTING); a no-op when already started. */
void reflector_start(struct reflector *r);

enum reflector_state reflector_state(const struct reflector *r);
const char *reflector_state_name(enum reflector_state st);
/* A list has completed at least once: the store is a true picture (in sink
 * mode: the sink has seen every object once). */
bool reflector_synced(const struct reflector *r);
/* The resourceVersion the reflector is current to, "" before the first
 * list: the store's in store mode (store_resource_version), its own in sink
 * mode. Borrowed until the next event or list. */
const char *reflector_resource_version(const struct reflector *r);
/* The resource, for logs: "batch/v1/jobs" or "v1/pods" (with "ns=" in
 * logs when namespaced). Borrowed from the reflector. */
const char *reflector_what(const struct reflector *r);

struct reflector_stats {
	uint64_t lists;		 /* completed lists (first + relists) */
	uint64_t relists;	 /* completed lists after a gap */
	uint64_t watches;	 /* watch requests started */
	uint64_t events;	 /* ADDED/MODIFIED/DELETED applied or delivered */
	uint64_t bookmarks;	 /* BOOKMARK events */
	uint64_t gone;		 /* 410s seen (HTTP or ERROR event) */
	uint64_t errors;	 /* failures that led to BACKOFF */
	uint64_t bad_lines;	 /* malformed or over-long watch lines */
	int64_t last_backoff_ms; /* the last backoff delay chosen */
};
void reflector_get_stats(const struct reflector *r, struct reflector_stats *st);

#endif
