/* The object store: the controller's cache of one resource's objects, fed by
 * a reflector (list + watch) and read by reconcilers.
 *
 * Objects are cJSON trees as the apiserver sent them, keyed "namespace/name"
 * (or "name" for cluster-scoped objects; see store_key). Reads never go to
 * the API. Secondary indexes map a computed value to the set of keys that
 * have it, so "the Jobs of schedule ns/x" or "the Pods of Job ns/y" is one
 * hash lookup plus the size of the answer.
 *
 * Ownership and lifetimes:
 *   - store_new/store_free. The store owns every object it holds.
 *   - *_take functions take ownership of the objects passed, whatever they
 *     return.
 *   - store_get and store_list hand out borrowed `const cJSON *`. The store
 *     changes only when its reflector applies an event, and that happens only
 *     in a loop callback; so a borrowed object stays valid until the current
 *     callback returns to the loop (the next loop turn). Do not keep it
 *     across an asynchronous request: copy what you need (cJSON_Duplicate or
 *     the fields) or look it up again by key when the reply comes. Calling
 *     store_upsert_take/store_delete/store_replace_take yourself ends the
 *     validity of the objects for the keys they touch at once.
 *   - The change callback's old/new objects are borrowed for the duration of
 *     the callback; `old` is freed right after it returns.
 *   - Never modify a borrowed object: indexes were computed from it, and
 *     in a frozen store it is not even a tree of separate allocations.
 *   - Frozen stores (store_set_frozen, opt-in per store; the controller's
 *     BatchSchedule, Job and Pod stores use it): every object the store takes (store_upsert_take,
 *     store_replace_take, store_stage_take) is replaced on entry by its json_freeze copy
 *     (base/jsonblock.h: one allocation instead of one per node and per
 *     string) and the original is cJSON_Delete'd; the store releases it
 *     with json_frozen_free. The objects store_get/store_list and the
 *     change callback hand out are those frozen copies: equal in content,
 *     READ-ONLY in the strict sense (no cJSON_Delete/Add/Detach/Replace/
 *     SetValuestring on them or their nodes; lending a node with
 *     cJSON_AddItemReferenceTo* or copying with cJSON_Duplicate is fine).
 *     store_delete's `old` is still the caller's (the event's) object. An
 *     object that cannot be frozen (out of memory) is kept as the plain
 *     tree; each entry remembers which it holds and is freed accordingly.
 * Not thread-safe; loop thread only.
 */
#ifndef TAKT_KUBE_STORE_H
#define TAKT_KUBE_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/buf.h"

struct store;

enum store_event { STORE_ADDED = 0, STORE_UPDATED, STORE_DELETED };

/* After the store has changed: store_get(key) already answers with the new
 * state. ADDED: old NULL. UPDATED: both set. DELETED: new NULL and old is the
 * object's last known state (the final state from a DELETED watch event,
 * else what the store held). */
typedef void store_change_fn(void *ud, enum store_event ev, const char *key, const cJSON *old_obj,
			     const cJSON *new_obj);

/* Computes an object's value for an index: writes it to `out` (empty on
 * entry) and returns 1, returns 0 when the object is not indexed, or a
 * negative code (treated as 0 and logged). One value per object. `arg` is
 * what store_add_index was given. Must be a pure function of the object. */
typedef int store_index_fn(const cJSON *obj, const void *arg, struct buf *out);

#define STORE_MAX_INDEXES 8

/* `what` names the resource in logs ("jobs", "takt.io/batchschedules");
 * copied. */
struct store *store_new(const char *what);
void store_free(struct store *s);

/* Frozen storage on or off (off by default) for the objects taken from now
 * on; objects already held stay as they are. See the ownership rules. */
void store_set_frozen(struct store *s, bool on);

/* One change callback per store (the reflector's user); NULL to clear. */
void store_on_change(struct store *s, store_change_fn *fn, void *ud);

/* Adds a named index (name copied; fn and arg borrowed for the store's
 * life). Existing objects are indexed at once. Returns 0, -EEXIST for a name
 * in use, or -ENOSPC past STORE_MAX_INDEXES. */
int store_add_index(struct store *s, const char *name, store_index_fn *fn, const void *arg);

/* Ready-made index functions, both namespaced ("ns/value" for namespaced
 * objects, so equal names in two namespaces never meet):
 *   store_index_label: arg is a label key (const char *), e.g.
 *     "takt.io/schedule" or "job-name"; the value is that label's value.
 *   store_index_controller: arg is an owner kind (const char *) such as
 *     "BatchSchedule" or "Job", or NULL for any; the value is the name of
 *     the ownerReference with controller=true. */
int store_index_label(const cJSON *obj, const void *arg, struct buf *out);
int store_index_controller(const cJSON *obj, const void *arg, struct buf *out);

/* Appends "namespace/name", or "name" when the object has no namespace.
 * Returns 0, -EINVAL when metadata.name is missing, or -ENOSPC. */
int store_key(const cJSON *obj, struct buf *out);

/* An ADDED or MODIFIED event: inserts or replaces by key, then calls back.
 * Returns 0, or -EINVAL (object freed, nothing changed) for an object without
 * a name. */
int store_upsert_take(struct store *s, cJSON *obj);
/* A DELETED event; obj is the final state, borrowed. Returns 0, -ENOENT when
 * the key was not in the store (no callback), or -EINVAL. */
int store_delete(struct store *s, const cJSON *obj);
/* A (re)list: the store becomes exactly objs[0..n). Takes every objs[i]
 * (not the array). Calls back DELETED for keys gone, ADDED for new keys, and
 * UPDATED for keys whose metadata.resourceVersion changed; an object with
 * the same resourceVersion is kept as is, silently. Objects without a name
 * are dropped and logged. Returns 0. */
int store_replace_take(struct store *s, cJSON **objs, size_t n);

/* A list in the making, page by page (the reflector): store_stage_take
 * takes each object as its page is read — a frozen store freezes it at once,
 * so a list of 10,000 never holds 10,000 parse trees beside their frozen
 * copies, and each parse tree's memory is reused by the next page's — and
 * store_stage_commit then makes the store exactly the staged objects, with
 * the callbacks of store_replace_take. store_stage_abort drops them (a list
 * that failed midway; also done by store_free). The staged objects are the
 * store's and not visible to any read until committed. One list at a time. */
void store_stage_take(struct store *s, cJSON *obj);
size_t store_staged(const struct store *s);
int store_stage_commit(struct store *s);
void store_stage_abort(struct store *s);

/* Borrowed (see the lifetime rules above); NULL when absent. */
const cJSON *store_get(const struct store *s, const char *key);
/* The same, key built from ns (NULL or "" for cluster-scoped) and name. */
const cJSON *store_get_ns(const struct store *s, const char *ns, const char *name);
size_t store_len(const struct store *s);

/* A query's answer: borrowed objects sorted by key; the array is the
 * caller's, released with store_list_release. */
struct store_list {
	const cJSON **items;
	size_t n;
};
void store_list_release(struct store_list *l);

/* Objects in namespace ns (NULL: all) matching a label selector of
 * comma-separated equality terms: "k=v", "k==v", "k!=v", "k" (exists),
 * "!k" (absent); NULL or "" matches everything. Returns 0 or -EINVAL for a
 * selector it cannot parse (set-based "in (...)" is not supported). */
int store_list(const struct store *s, const char *ns, const char *selector, struct store_list *out);
/* Objects whose index `index` has value `value`. 0, or -ENOENT for an
 * unknown index. */
int store_by_index(const struct store *s, const char *index, const char *value,
		   struct store_list *out);

/* The resourceVersion the store is current to (the list's, then each watch
 * event's or bookmark's), "" before the first list. Set by the reflector. */
const char *store_resource_version(const struct store *s);
void store_set_resource_version(struct store *s, const char *rv);

#endif
