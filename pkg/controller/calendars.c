/* BusinessCalendars for the controller; see calendars.h. */
#include "controller/calendars.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "calendar/calendar.h"
#include "kube/http.h"
#include "kube/reflector.h"
#include "kube/store.h"
#include "loop/loop.h"
#include "tz/civil.h"
#include "tz/tz.h"

#include "base/banned.h"

#define GROUP	"takt.io"
#define VERSION "v1alpha1"

struct cal_entry {
	char *name;
	char *built_from; /* "<calendar generation>/<configmap rv>": rebuilt when it changes */
	enum plan_calendar_state state;
	struct calendar *cal;
	struct tz *zone;
	char error[512];
	char source_rv[64];
	bool status_inflight;
	bool status_again; /* changed while a write was on its way */
};

/* The ConfigMaps of one namespace. */
struct cm_watch {
	struct store *store;
	struct reflector *refl;
};

struct calendars {
	struct loop *loop;
	struct kube_http *http;
	calendars_changed_fn *changed;
	void *ud;
	struct store *store;
	struct reflector *refl;
	struct hmap *entries; /* name -> struct cal_entry */
	struct hmap *cms;     /* namespace -> struct cm_watch */
	struct cal_status_op *ops;
};

/* A status write in flight, listed so calendars_free can cancel it. */
struct cal_status_op {
	struct cal_status_op *next;
	struct calendars *cs;
	struct kube_req *req;
	char *name;
};

static void rebuild_all(struct calendars *cs);

static const cJSON *jget(const cJSON *o, const char *k)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *jstr(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(jget(o, k));
}

static void entry_clear(struct cal_entry *e)
{
	if (e->cal)
		calendar_free(e->cal);
	if (e->zone)
		tz_free(e->zone);
	e->cal = NULL;
	e->zone = NULL;
}

static void entry_free(void *p)
{
	struct cal_entry *e = p;
	entry_clear(e);
	free(e->name);
	free(e->built_from);
	free(e);
}

static void cm_free(void *p)
{
	struct cm_watch *w = p;
	reflector_free(w->refl);
	store_free(w->store);
	free(w);
}

/* ---- status ------------------------------------------------------------------ */

static void send_status(struct calendars *cs, struct cal_entry *e, const cJSON *obj);

static void status_done(struct kube_req *req, const struct kube_result *res, void *ud)
{
	struct cal_status_op *op = ud, **pp;
	struct calendars *cs = op->cs;
	for (pp = &cs->ops; *pp; pp = &(*pp)->next)
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	struct cal_entry *e = hmap_get(cs->entries, op->name);
	if (res->err < 0 || res->status >= 300)
		LOG_WARN("calendar status not written", "obj=%s status=%d reason=%s message=\"%s\"",
			 op->name, res->status, res->reason, res->message);
	if (e) {
		e->status_inflight = false;
		if (e->status_again) {
			e->status_again = false;
			const cJSON *obj = store_get(cs->store, e->name);
			if (obj)
				send_status(cs, e, obj);
		}
	}
	free(op->name);
	free(op);
}

/* The status this entry should have; the Ready condition keeps its
 * lastTransitionTime while its status is unchanged. */
static cJSON *status_of(const struct cal_entry *e, const cJSON *obj)
{
	double gen = cJSON_GetNumberValue(jget(jget(obj, "metadata"), "generation"));
	bool ok = e->state == PLAN_CALENDAR_OK;
	const char *want = ok ? "True" : "False";
	char now[40], d[16];
	rfc3339_format(loop_now_realtime_ms(), false, now, sizeof(now));
	const char *since = now;
	const cJSON *it;
	cJSON_ArrayForEach(it, jget(jget(obj, "status"), "conditions"))
	{
		const char *t = jstr(it, "type"), *st = jstr(it, "status");
		if (t && st && !strcmp(t, "Ready") && !strcmp(st, want) &&
		    jstr(it, "lastTransitionTime"))
			since = jstr(it, "lastTransitionTime");
	}
	cJSON *s = cJSON_CreateObject();
	cJSON_AddNumberToObject(s, "observedGeneration", isnan(gen) ? 0 : gen);
	cJSON *conds = cJSON_AddArrayToObject(s, "conditions");
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", "Ready");
	cJSON_AddStringToObject(c, "status", want);
	cJSON_AddNumberToObject(c, "observedGeneration", isnan(gen) ? 0 : gen);
	cJSON_AddStringToObject(c, "lastTransitionTime", since);
	cJSON_AddStringToObject(c, "reason", ok ? "Loaded" : "Invalid");
	cJSON_AddStringToObject(c, "message", ok ? "the calendar is loaded" : e->error);
	cJSON_AddItemToArray(conds, c);
	if (ok) {
		civil_format_date(calendar_first_day(e->cal), d, sizeof(d));
		cJSON_AddStringToObject(s, "validFrom", d);
		civil_format_date(calendar_last_day(e->cal), d, sizeof(d));
		cJSON_AddStringToObject(s, "validUntil", d);
		cJSON_AddNumberToObject(s, "businessDays", calendar_business_day_count(e->cal));
	} else {
		cJSON_AddNullToObject(s, "validFrom");
		cJSON_AddNullToObject(s, "validUntil");
		cJSON_AddNullToObject(s, "businessDays");
	}
	if (e->source_rv[0])
		cJSON_AddStringToObject(s, "sourceResourceVersion", e->source_rv);
	else
		cJSON_AddNullToObject(s, "sourceResourceVersion");
	return s;
}

/* Whether `want` (with nulls for absent fields) already is the status. */
static bool status_is(const cJSON *cur, const cJSON *want)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, want)
	{
		const cJSON *have = jget(cur, it->string);
		if (cJSON_IsNull(it) ? have != NULL : !have || !cJSON_Compare(have, it, 1))
			return false;
	}
	return cur != NULL;
}

static void send_status(struct calendars *cs, struct cal_entry *e, const cJSON *obj)
{
	if (e->status_inflight) {
		e->status_again = true;
		return;
	}
	cJSON *st = status_of(e, obj);
	if (status_is(jget(obj, "status"), st)) {
		cJSON_Delete(st);
		return;
	}
	cJSON *patch = cJSON_CreateObject();
	cJSON_AddItemToObject(patch, "status", st);
	char *body = cJSON_PrintUnformatted(patch);
	cJSON_Delete(patch);
	struct buf path;
	buf_init(&path, 4096);
	kube_path(&path, GROUP, VERSION, NULL, "businesscalendars", e->name, "status");
	struct cal_status_op *op = xcalloc(1, sizeof(*op));
	op->cs = cs;
	op->name = xstrdup(e->name);
	struct kube_req_opts o = {
	    .method = KUBE_PATCH_MERGE,
	    .path = buf_str(&path),
	    .body = body,
	    .body_len = strlen(body),
	    .done = status_done,
	    .ud = op,
	};
	if (kube_http_request(cs->http, &o, &op->req) == 0) {
		op->next = cs->ops;
		cs->ops = op;
		e->status_inflight = true;
	} else {
		free(op->name);
		free(op);
	}
	free(body);
	buf_release(&path);
}

/* ---- building ---------------------------------------------------------------- */

static void cm_changed(void *ud, enum store_event ev, const char *key, const cJSON *old_obj,
		       const cJSON *new_obj)
{
	(void)ev;
	(void)key;
	(void)old_obj;
	(void)new_obj;
	rebuild_all(ud);
}

static void cm_listed(struct reflector *r, bool relist, void *ud)
{
	(void)r;
	(void)relist;
	rebuild_all(ud);
}

/* The ConfigMaps of namespace ns, watched from now on. NULL until the
 * first list (the caller waits: the calendar is rebuilt when it arrives). */
static struct store *cm_store(struct calendars *cs, const char *ns)
{
	struct cm_watch *w = hmap_get(cs->cms, ns);
	if (!w) {
		w = xcalloc(1, sizeof(*w));
		w->store = store_new("configmaps");
		store_on_change(w->store, cm_changed, cs);
		struct reflector_opts o = {.version = "v1", .resource = "configmaps", .ns = ns};
		w->refl = reflector_new(cs->loop, cs->http, w->store, &o, cm_listed, cs);
		hmap_put(cs->cms, ns, w);
		reflector_start(w->refl);
	}
	return reflector_synced(w->refl) ? w->store : NULL;
}

static void fail(struct cal_entry *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct cal_entry *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->error, sizeof(e->error), fmt, ap);
	va_end(ap);
	e->state = PLAN_CALENDAR_INVALID;
}

/* Rebuilds one calendar when what it is made of changed. Returns true when
 * it did (or it cannot be decided yet: false, nothing changes). */
static bool rebuild(struct calendars *cs, const cJSON *obj)
{
	const char *name = jstr(jget(obj, "metadata"), "name");
	/* The generation, not the resourceVersion: our own status writes
	 * must not cause rebuilds. */
	double gen = cJSON_GetNumberValue(jget(jget(obj, "metadata"), "generation"));
	const cJSON *spec = jget(obj, "spec");
	struct calendar_source_ref ref;
	char err[512] = "", from[160], rv[32];
	const char *csv = NULL, *cm_rv = "";
	bool cm_missing = false, key_missing = false;
	if (!name)
		return false;
	int src = calendar_spec_source(spec, &ref, err, sizeof(err));
	if (src == 1) {
		struct store *st = cm_store(cs, ref.namespace_);
		if (!st)
			return false;
		const cJSON *cm = store_get_ns(st, ref.namespace_, ref.name);
		if (!cm) {
			cm_missing = true;
		} else {
			cm_rv = jstr(jget(cm, "metadata"), "resourceVersion");
			csv = jstr(jget(cm, "data"), ref.key);
			key_missing = csv == NULL;
		}
	}
	snprintf(rv, sizeof(rv), "%.0f", isnan(gen) ? 0.0 : gen);
	snprintf(from, sizeof(from), "%s/%s", rv, cm_rv ? cm_rv : "");
	struct cal_entry *e = hmap_get(cs->entries, name);
	if (!e) {
		e = xcalloc(1, sizeof(*e));
		e->name = xstrdup(name);
		hmap_put(cs->entries, name, e);
	} else if (e->built_from && !strcmp(e->built_from, from)) {
		return false;
	}
	free(e->built_from);
	e->built_from = xstrdup(from);
	entry_clear(e);
	e->error[0] = 0;
	snprintf(e->source_rv, sizeof(e->source_rv), "%s", cm_rv ? cm_rv : "");
	e->state = PLAN_CALENDAR_OK;
	char why[512];
	if (src < 0) {
		fail(e, "%s", err);
	} else if (cm_missing) {
		fail(e, "spec.source.configMapRef: ConfigMap %s/%s not found", ref.namespace_,
		     ref.name);
	} else if (key_missing) {
		fail(e, "spec.source.configMapRef: ConfigMap %s/%s has no key \"%s\"",
		     ref.namespace_, ref.name, ref.key);
	} else if (calendar_from_spec_json(spec, csv, csv ? strlen(csv) : 0, &e->cal, why,
					   sizeof(why)) < 0) {
		e->cal = NULL;
		fail(e, "%s", why);
	} else if (!calendar_zone(e->cal)) {
		fail(e, "spec.timeZone: required");
	} else if (tz_load(calendar_zone(e->cal), &e->zone, why, sizeof(why)) < 0) {
		e->zone = NULL;
		fail(e, "spec.timeZone: %s", why);
	}
	if (e->state != PLAN_CALENDAR_OK)
		entry_clear(e);
	LOG_INFO("calendar loaded", "obj=%s ready=%d business_days=%u error=\"%s\"", name,
		 e->state == PLAN_CALENDAR_OK, e->cal ? calendar_business_day_count(e->cal) : 0,
		 e->error);
	send_status(cs, e, obj);
	return true;
}

static void rebuild_all(struct calendars *cs)
{
	struct store_list l;
	store_list(cs->store, NULL, NULL, &l);
	for (size_t i = 0; i < l.n; i++) {
		if (rebuild(cs, l.items[i]))
			cs->changed(cs->ud, jstr(jget(l.items[i], "metadata"), "name"));
	}
	store_list_release(&l);
}

static void cal_changed(void *ud, enum store_event ev, const char *key, const cJSON *old_obj,
			const cJSON *new_obj)
{
	struct calendars *cs = ud;
	(void)old_obj;
	if (ev == STORE_DELETED) {
		struct cal_entry *e = hmap_del(cs->entries, key);
		if (e)
			entry_free(e);
		cs->changed(cs->ud, key);
		return;
	}
	if (rebuild(cs, new_obj))
		cs->changed(cs->ud, key);
}

static void cal_listed(struct reflector *r, bool relist, void *ud)
{
	struct calendars *cs = ud;
	(void)r;
	(void)relist;
	rebuild_all(cs);
	cs->changed(cs->ud, NULL);
}

/* ---- lifecycle ------------------------------------------------------------------- */

struct calendars *calendars_new(struct loop *l, struct kube_http *h, calendars_changed_fn *changed,
				void *ud)
{
	struct calendars *cs = xcalloc(1, sizeof(*cs));
	cs->loop = l;
	cs->http = h;
	cs->changed = changed;
	cs->ud = ud;
	cs->entries = hmap_new();
	cs->cms = hmap_new();
	cs->store = store_new(GROUP "/businesscalendars");
	store_on_change(cs->store, cal_changed, cs);
	struct reflector_opts o = {
	    .group = GROUP, .version = VERSION, .resource = "businesscalendars"};
	cs->refl = reflector_new(l, h, cs->store, &o, cal_listed, cs);
	return cs;
}

void calendars_start(struct calendars *cs)
{
	reflector_start(cs->refl);
}

bool calendars_synced(const struct calendars *cs)
{
	if (!reflector_synced(cs->refl))
		return false;
	size_t pos = 0;
	void *v;
	while (hmap_next(cs->cms, &pos, NULL, &v))
		if (!reflector_synced(((struct cm_watch *)v)->refl))
			return false;
	return true;
}

void calendars_lookup(struct calendars *cs, const char *name, struct calendar_view *out)
{
	struct cal_entry *e = name ? hmap_get(cs->entries, name) : NULL;
	memset(out, 0, sizeof(*out));
	if (!e) {
		out->state = PLAN_CALENDAR_MISSING;
		return;
	}
	out->state = e->state;
	if (e->state == PLAN_CALENDAR_OK) {
		out->calendar = e->cal;
		out->zone = e->zone;
	} else {
		out->state = PLAN_CALENDAR_INVALID;
		out->error = e->error[0] ? e->error : "not loaded yet";
	}
}

void calendars_free(struct calendars *cs)
{
	if (!cs)
		return;
	while (cs->ops) {
		struct cal_status_op *op = cs->ops;
		cs->ops = op->next;
		kube_req_cancel(op->req);
		free(op->name);
		free(op);
	}
	reflector_free(cs->refl);
	hmap_free(cs->cms, cm_free);
	store_free(cs->store);
	hmap_free(cs->entries, entry_free);
	free(cs);
}
