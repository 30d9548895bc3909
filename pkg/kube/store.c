#include "kube/store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/jsonblock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "base/banned.h"

struct entry {
	cJSON *obj;
	/* This object's value per index, or NULL; the array itself is NULL
	 * until the store has an index (a BatchSchedules store has none: 64
	 * bytes a schedule). */
	char **ivals;
	bool frozen; /* obj is a json_freeze block (else a plain tree) */
	bool seen;   /* marked during a replace */
	/* Inline: also the borrowed key of the store's map and of its index
	 * sets (one allocation per object instead of three). */
	char key[];
};

/* An object on its way in (a list's, staged or replaced): frozen already
 * or not. */
struct staged {
	cJSON *obj;
	bool frozen;
};

struct index {
	char *name;
	store_index_fn *fn;
	const void *arg;
	struct hmap *values; /* value -> struct hmap * (key -> struct entry *) */
};

struct store {
	char *what;
	struct hmap *objs; /* key -> struct entry * */
	struct index idx[STORE_MAX_INDEXES];
	size_t nidx;
	store_change_fn *on_change;
	void *ud;
	char *rv;
	bool freeze; /* store_set_frozen */
	bool freeze_failed_logged;
	struct staged *stage; /* store_stage_take: a list in the making */
	size_t nstage, stage_cap;
};

static const char *str_field(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *metadata(const cJSON *obj)
{
	return cJSON_GetObjectItemCaseSensitive(obj, "metadata");
}

int store_key(const cJSON *obj, struct buf *out)
{
	const cJSON *md = metadata(obj);
	const char *name = str_field(md, "name");
	const char *ns = str_field(md, "namespace");
	if (!name || !*name)
		return -EINVAL;
	if (ns && *ns)
		return buf_addf(out, "%s/%s", ns, name);
	return buf_adds(out, name);
}

static int ns_prefix(const cJSON *obj, struct buf *out)
{
	const char *ns = str_field(metadata(obj), "namespace");
	if (ns && *ns)
		return buf_addf(out, "%s/", ns);
	return 0;
}

int store_index_label(const cJSON *obj, const void *arg, struct buf *out)
{
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(metadata(obj), "labels");
	const char *v = str_field(labels, arg);
	if (!v)
		return 0;
	int r = ns_prefix(obj, out);
	if (r == 0)
		r = buf_adds(out, v);
	return r < 0 ? r : 1;
}

int store_index_controller(const cJSON *obj, const void *arg, struct buf *out)
{
	const char *kind = arg;
	const cJSON *refs = cJSON_GetObjectItemCaseSensitive(metadata(obj), "ownerReferences");
	const cJSON *ref;
	cJSON_ArrayForEach(ref, refs)
	{
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ref, "controller")))
			continue;
		const char *k = str_field(ref, "kind");
		const char *name = str_field(ref, "name");
		if (!name || (kind && (!k || strcmp(k, kind) != 0)))
			return 0;
		int r = ns_prefix(obj, out);
		if (r == 0)
			r = buf_adds(out, name);
		return r < 0 ? r : 1;
	}
	return 0;
}

struct store *store_new(const char *what)
{
	struct store *s = xcalloc(1, sizeof(*s));
	s->what = xstrdup(what ? what : "objects");
	s->objs = hmap_new_borrowed(); /* keys: the entries' own */
	s->rv = xstrdup("");
	return s;
}

void store_set_frozen(struct store *s, bool on)
{
	s->freeze = on;
}

/* The one way a stored object is released: a frozen one is a single block,
 * never a cJSON_Delete. */
static void release(cJSON *obj, bool frozen)
{
	if (frozen)
		json_frozen_free(obj);
	else
		cJSON_Delete(obj);
}

/* An object the store is about to hold: frozen (the original freed) when
 * the store freezes; kept as is when it does not, or when freezing fails
 * (out of memory, or a tree too deep), *frozen saying which. */
static cJSON *admit(struct store *s, cJSON *obj, bool *frozen)
{
	*frozen = false;
	if (!s->freeze)
		return obj;
	cJSON *f = json_freeze(obj);
	if (!f) {
		if (!s->freeze_failed_logged)
			LOG_WARN("object kept unfrozen", "resource=%s", s->what);
		s->freeze_failed_logged = true;
		return obj;
	}
	cJSON_Delete(obj);
	*frozen = true;
	return f;
}

static void free_set(void *set)
{
	hmap_free(set, NULL);
}

static void free_entry(struct entry *e)
{
	if (!e)
		return;
	for (size_t i = 0; e->ivals && i < STORE_MAX_INDEXES; i++)
		free(e->ivals[i]);
	free(e->ivals);
	release(e->obj, e->frozen);
	free(e);
}

static void free_entry_v(void *e)
{
	free_entry(e);
}

void store_free(struct store *s)
{
	if (!s)
		return;
	store_stage_abort(s);
	for (size_t i = 0; i < s->nidx; i++) {
		hmap_free(s->idx[i].values, free_set);
		free(s->idx[i].name);
	}
	hmap_free(s->objs, free_entry_v);
	free(s->what);
	free(s->rv);
	free(s);
}

void store_on_change(struct store *s, store_change_fn *fn, void *ud)
{
	s->on_change = fn;
	s->ud = ud;
}

static void index_insert(struct store *s, size_t i, struct entry *e)
{
	struct index *ix = &s->idx[i];
	struct buf v;
	buf_init(&v, 4096);
	int r = ix->fn(e->obj, ix->arg, &v);
	if (r < 0)
		LOG_WARN("index function failed", "resource=%s index=%s obj=%s err=%d", s->what,
			 ix->name, e->key, r);
	if (r > 0) {
		struct hmap *set = hmap_get(ix->values, buf_str(&v));
		if (!set) {
			set = hmap_new_borrowed(); /* keys: the entries' own */
			hmap_put(ix->values, buf_str(&v), set);
		}
		hmap_put(set, e->key, e);
		if (!e->ivals)
			e->ivals = xcalloc(STORE_MAX_INDEXES, sizeof(*e->ivals));
		e->ivals[i] = buf_detach(&v, NULL);
	}
	buf_release(&v);
}

static void index_remove(struct store *s, size_t i, struct entry *e)
{
	struct index *ix = &s->idx[i];
	if (!e->ivals || !e->ivals[i])
		return;
	struct hmap *set = hmap_get(ix->values, e->ivals[i]);
	if (set) {
		hmap_del(set, e->key);
		if (hmap_len(set) == 0)
			hmap_free(hmap_del(ix->values, e->ivals[i]), NULL);
	}
	free(e->ivals[i]);
	e->ivals[i] = NULL;
}

int store_add_index(struct store *s, const char *name, store_index_fn *fn, const void *arg)
{
	for (size_t i = 0; i < s->nidx; i++)
		if (strcmp(s->idx[i].name, name) == 0)
			return -EEXIST;
	if (s->nidx == STORE_MAX_INDEXES)
		return -ENOSPC;
	size_t i = s->nidx++;
	s->idx[i].name = xstrdup(name);
	s->idx[i].fn = fn;
	s->idx[i].arg = arg;
	s->idx[i].values = hmap_new();
	size_t pos = 0;
	void *e;
	while (hmap_next(s->objs, &pos, NULL, &e))
		index_insert(s, i, e);
	return 0;
}

static void notify(struct store *s, enum store_event ev, const char *key, const cJSON *old_obj,
		   const cJSON *new_obj)
{
	if (s->on_change)
		s->on_change(s->ud, ev, key, old_obj, new_obj);
}

/* Puts obj (admitted: frozen says what it is) under key; returns the object
 * it replaced (the caller's, to release with *old_frozen) or NULL for a new
 * key. */
static cJSON *put(struct store *s, const char *key, cJSON *obj, bool frozen, struct entry **out,
		  bool *old_frozen)
{
	struct entry *e = hmap_get(s->objs, key);
	cJSON *old = NULL;
	*old_frozen = false;
	if (e) {
		for (size_t i = 0; i < s->nidx; i++)
			index_remove(s, i, e);
		old = e->obj;
		*old_frozen = e->frozen;
	} else {
		size_t klen = strlen(key) + 1;
		e = xcalloc(1, sizeof(*e) + klen);
		memcpy(e->key, key, klen);
		hmap_put(s->objs, e->key, e);
	}
	e->obj = obj;
	e->frozen = frozen;
	for (size_t i = 0; i < s->nidx; i++)
		index_insert(s, i, e);
	*out = e;
	return old;
}

static struct entry *take_out(struct store *s, const char *key)
{
	struct entry *e = hmap_del(s->objs, key);
	if (e)
		for (size_t i = 0; i < s->nidx; i++)
			index_remove(s, i, e);
	return e;
}

int store_upsert_take(struct store *s, cJSON *obj)
{
	struct buf key;
	buf_init(&key, 1024);
	if (store_key(obj, &key) < 0) {
		LOG_WARN("object without a name dropped", "resource=%s", s->what);
		cJSON_Delete(obj);
		buf_release(&key);
		return -EINVAL;
	}
	struct entry *e;
	bool frozen, old_frozen;
	obj = admit(s, obj, &frozen);
	cJSON *old = put(s, buf_str(&key), obj, frozen, &e, &old_frozen);
	notify(s, old ? STORE_UPDATED : STORE_ADDED, e->key, old, e->obj);
	release(old, old_frozen);
	buf_release(&key);
	return 0;
}

int store_delete(struct store *s, const cJSON *obj)
{
	struct buf key;
	buf_init(&key, 1024);
	int r = store_key(obj, &key);
	if (r < 0) {
		buf_release(&key);
		return -EINVAL;
	}
	struct entry *e = take_out(s, buf_str(&key));
	buf_release(&key);
	if (!e)
		return -ENOENT;
	notify(s, STORE_DELETED, e->key, obj, NULL);
	free_entry(e);
	return 0;
}

static bool same_rv(const cJSON *a, const cJSON *b)
{
	const char *ra = str_field(metadata(a), "resourceVersion");
	const char *rb = str_field(metadata(b), "resourceVersion");
	return ra && rb && strcmp(ra, rb) == 0;
}

/* store_replace_take and store_stage_commit: the store becomes exactly
 * items[0..n), each released or kept. */
static void replace(struct store *s, struct staged *items, size_t n)
{
	struct buf key;
	buf_init(&key, 1024);
	size_t pos = 0;
	void *v;
	while (hmap_next(s->objs, &pos, NULL, &v))
		((struct entry *)v)->seen = false;

	for (size_t i = 0; i < n; i++) {
		buf_reset(&key);
		if (store_key(items[i].obj, &key) < 0) {
			LOG_WARN("object without a name dropped", "resource=%s", s->what);
			release(items[i].obj, items[i].frozen);
			continue;
		}
		struct entry *e = hmap_get(s->objs, buf_str(&key));
		if (e && same_rv(e->obj, items[i].obj)) {
			e->seen = true;
			release(items[i].obj, items[i].frozen);
			continue;
		}
		bool frozen = items[i].frozen, old_frozen;
		cJSON *obj = frozen ? items[i].obj : admit(s, items[i].obj, &frozen);
		cJSON *old = put(s, buf_str(&key), obj, frozen, &e, &old_frozen);
		e->seen = true;
		notify(s, old ? STORE_UPDATED : STORE_ADDED, e->key, old, e->obj);
		release(old, old_frozen);
	}

	/* Keys gone since: collected first, the map must not change mid-walk. */
	char **gone = NULL;
	size_t ngone = 0, cap = 0;
	pos = 0;
	while (hmap_next(s->objs, &pos, NULL, &v)) {
		struct entry *e = v;
		if (e->seen)
			continue;
		XGROW(gone, cap, ngone + 1);
		gone[ngone++] = e->key;
	}
	for (size_t i = 0; i < ngone; i++) {
		struct entry *e = take_out(s, gone[i]);
		notify(s, STORE_DELETED, e->key, e->obj, NULL);
		free_entry(e);
	}
	free(gone);
	buf_release(&key);
}

int store_replace_take(struct store *s, cJSON **objs, size_t n)
{
	struct staged *items = xcalloc(n ? n : 1, sizeof(*items));
	for (size_t i = 0; i < n; i++)
		items[i].obj = objs[i];
	replace(s, items, n);
	free(items);
	return 0;
}

void store_stage_take(struct store *s, cJSON *obj)
{
	if (!obj)
		return;
	XGROW(s->stage, s->stage_cap, s->nstage + 1);
	struct staged *st = &s->stage[s->nstage++];
	st->obj = admit(s, obj, &st->frozen);
}

size_t store_staged(const struct store *s)
{
	return s->nstage;
}

int store_stage_commit(struct store *s)
{
	struct staged *items = s->stage;
	size_t n = s->nstage;
	s->stage = NULL;
	s->nstage = s->stage_cap = 0;
	replace(s, items, n);
	free(items);
	return 0;
}

void store_stage_abort(struct store *s)
{
	for (size_t i = 0; i < s->nstage; i++)
		release(s->stage[i].obj, s->stage[i].frozen);
	free(s->stage);
	s->stage = NULL;
	s->nstage = s->stage_cap = 0;
}

const cJSON *store_get(const struct store *s, const char *key)
{
	const struct entry *e = hmap_get(s->objs, key);
	return e ? e->obj : NULL;
}

const cJSON *store_get_ns(const struct store *s, const char *ns, const char *name)
{
	struct buf key;
	buf_init(&key, 1024);
	const cJSON *o = NULL;
	int r = ns && *ns ? buf_addf(&key, "%s/%s", ns, name) : buf_adds(&key, name);
	if (r == 0)
		o = store_get(s, buf_str(&key));
	buf_release(&key);
	return o;
}

size_t store_len(const struct store *s)
{
	return hmap_len(s->objs);
}

void store_list_release(struct store_list *l)
{
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static int by_key(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a;
	const struct entry *y = *(const struct entry *const *)b;
	return strcmp(x->key, y->key);
}

/* Sorted by key so that callers see a deterministic order. */
static void finish_list(struct entry **es, size_t n, struct store_list *out)
{
	if (n > 1)
		qsort(es, n, sizeof(*es), by_key);
	out->items = xcalloc(n ? n : 1, sizeof(*out->items));
	out->n = n;
	for (size_t i = 0; i < n; i++)
		out->items[i] = es[i]->obj;
	free(es);
}

enum sel_op { SEL_EQ, SEL_NE, SEL_EXISTS, SEL_ABSENT };
struct sel_term {
	char *key;
	char *val;
	enum sel_op op;
};

static void free_terms(struct sel_term *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].key);
		free(t[i].val);
	}
	free(t);
}

static char *trimmed(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return xstrndup(p, n);
}

static int parse_selector(const char *sel, struct sel_term **out, size_t *nout)
{
	struct sel_term *t = NULL;
	size_t n = 0, cap = 0;
	const char *p = sel;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *term = trimmed(p, len);
		XGROW(t, cap, n + 1);
		struct sel_term *x = &t[n];
		memset(x, 0, sizeof(*x));
		char *op = strpbrk(term, "=!");
		if (!op) {
			x->op = SEL_EXISTS;
			x->key = xstrdup(term);
		} else if (op == term && op[0] == '!') {
			x->op = SEL_ABSENT;
			x->key = trimmed(term + 1, strlen(term + 1));
		} else {
			size_t klen = (size_t)(op - term);
			const char *v;
			if (op[0] == '!' && op[1] == '=') {
				x->op = SEL_NE;
				v = op + 2;
			} else if (op[0] == '=') {
				x->op = SEL_EQ;
				v = op[1] == '=' ? op + 2 : op + 1;
			} else {
				free(term);
				free_terms(t, n);
				return -EINVAL;
			}
			x->key = trimmed(term, klen);
			x->val = trimmed(v, strlen(v));
			if (strpbrk(x->val, "=!()")) {
				free(term);
				free_terms(t, n + 1);
				return -EINVAL;
			}
		}
		free(term);
		n++;
		if (!*x->key || strpbrk(x->key, " ()=!")) {
			free_terms(t, n);
			return -EINVAL;
		}
		p = end ? end + 1 : NULL;
	}
	*out = t;
	*nout = n;
	return 0;
}

static bool matches(const cJSON *obj, const struct sel_term *t, size_t n)
{
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(metadata(obj), "labels");
	for (size_t i = 0; i < n; i++) {
		const char *v = str_field(labels, t[i].key);
		switch (t[i].op) {
		case SEL_EQ:
			if (!v || strcmp(v, t[i].val) != 0)
				return false;
			break;
		case SEL_NE: /* as in Kubernetes: a missing label is "not equal" */
			if (v && strcmp(v, t[i].val) == 0)
				return false;
			break;
		case SEL_EXISTS:
			if (!v)
				return false;
			break;
		case SEL_ABSENT:
			if (v)
				return false;
			break;
		}
	}
	return true;
}

int store_list(const struct store *s, const char *ns, const char *selector, struct store_list *out)
{
	struct sel_term *t = NULL;
	size_t nt = 0;
	out->items = NULL;
	out->n = 0;
	if (parse_selector(selector, &t, &nt) < 0)
		return -EINVAL;
	struct entry **es = NULL;
	size_t n = 0, cap = 0;
	size_t pos = 0;
	void *v;
	while (hmap_next(s->objs, &pos, NULL, &v)) {
		struct entry *e = v;
		if (ns) {
			const char *ons = str_field(metadata(e->obj), "namespace");
			if (strcmp(ons ? ons : "", ns) != 0)
				continue;
		}
		if (!matches(e->obj, t, nt))
			continue;
		XGROW(es, cap, n + 1);
		es[n++] = e;
	}
	free_terms(t, nt);
	finish_list(es, n, out);
	return 0;
}

int store_by_index(const struct store *s, const char *index, const char *value,
		   struct store_list *out)
{
	out->items = NULL;
	out->n = 0;
	for (size_t i = 0; i < s->nidx; i++) {
		if (strcmp(s->idx[i].name, index) != 0)
			continue;
		const struct hmap *set = hmap_get(s->idx[i].values, value);
		size_t n = set ? hmap_len(set) : 0;
		struct entry **es = xcalloc(n ? n : 1, sizeof(*es));
		size_t pos = 0, k = 0;
		void *v;
		while (set && hmap_next(set, &pos, NULL, &v))
			es[k++] = v;
		finish_list(es, k, out);
		return 0;
	}
	return -ENOENT;
}

const char *store_resource_version(const struct store *s)
{
	return s->rv;
}

void store_set_resource_version(struct store *s, const char *rv)
{
	char *c = xstrdup(rv ? rv : "");
	free(s->rv);
	s->rv = c;
}
