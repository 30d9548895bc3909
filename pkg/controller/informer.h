/* List + watch of one resource into a store (the controller's informers).
 *
 * A local stand-in until pkg/kube/reflector lands: the controller needs a
 * reflector now, and this one does only what the controller relies on.
 * States: LISTING (paged GET of the collection) -> WATCHING (a streamed GET
 * with ?watch=1 from the list's resourceVersion, bookmarks on) -> on a normal
 * end (the server's timeoutSeconds) watch again from the last resourceVersion;
 * on a transport error back off (200 ms doubling to 10 s) and watch again; on
 * 410 Gone (or an over-long line) LIST again. Every completed list replaces
 * the store (store_replace_take emits the differences) and calls `on_list`,
 * so the owner can re-enqueue everything after a watch gap.
 *
 * Ownership: informer_new borrows the loop, the HTTP client and the store
 * (all must outlive it) and copies the strings of the options.
 * informer_free cancels the request in flight and its timer, calling
 * nothing. Loop thread only.
 */
#ifndef TAKT_CONTROLLER_INFORMER_H
#define TAKT_CONTROLLER_INFORMER_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct kube_http;
struct store;
struct informer;

struct informer_opts {
	const char *group;	    /* "" or NULL: core */
	const char *version;	    /* "v1" */
	const char *resource;	    /* "pods" */
	const char *ns;		    /* NULL or "": all namespaces (or cluster-scoped) */
	const char *label_selector; /* NULL: none */
};

/* Called after every completed list (the first and each relist). */
typedef void informer_list_fn(struct informer *inf, void *ud);

struct informer *informer_new(struct loop *l, struct kube_http *h, struct store *s,
			      const struct informer_opts *o, informer_list_fn *on_list, void *ud);
void informer_free(struct informer *inf);

/* Starts the first list. */
void informer_start(struct informer *inf);
/* A list has completed at least once: the store is a true picture. */
bool informer_synced(const struct informer *inf);

struct informer_stats {
	uint64_t lists;	  /* completed lists */
	uint64_t watches; /* watch requests started */
	uint64_t events;  /* watch events applied */
};
void informer_get_stats(const struct informer *inf, struct informer_stats *st);

#endif
