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
#include "controller/names.h"
#include "controller/writes.h"
#include "kube/http.h"
#include "kube/reflector.h"
#include "kube/store.h"
#include "loop/loop.h"
#include "tz/civil.h"
#include "tz/tz.h"

#include "kube/obj.h"
#include "base/banned.h"

struct cal_entry {
	char *name;
	char *built_from; /* "<calendar generation>/<configmap rv>": rebuilt when it changes */
	enum plan_calendar_state state;
	struct calendar *cal;
	const struct tz *zone; /* borrowed from calendars.zones */
	char error[512];
	char source_rv[64];
	struct writes_status status;
};

/* The ConfigMaps of one namespace. */
struct cm_watch {
	struct store *store;
	struct reflector *refl;
};

struct calendars {
	struct loop *loop;
	struct kube_transport tr;
	struct writes *writes;
	calendars_changed_fn *changed;
	void *ud;
	struct store *store;
	struct reflector *refl;
	struct hmap *entries; /* name -> struct cal_entry */
	struct hmap *cms;     /* namespace -> struct cm_watch */
	struct hmap *zones;   /* zone name -> struct tz, kept until calendars_free */
};

static void rebuild_all(struct calendars *cs);

static void entry_clear(struct cal_entry *e)
{
	calendar_free(e->cal);
	e->cal = NULL;
	e->zone = NULL;
}

static void zone_free(void *p)
{
	tz_free(p);
}

static void entry_free(struct calendars *cs, struct cal_entry *e)
{
	writes_status_release(cs->writes, &e->status);
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

static void status_answered(void *ud, const char *tag, const struct kube_result *res, double ms)
{
	struct cal_entry *e = ud;
	(void)tag;
	(void)ms;
	if (res->err < 0 || res->status >= 300)
		LOG_WARN("calendar status not written", "obj=%s status=%d reason=%s message=\"%s\"",
			 e->name, res->status, res->reason, res->message);
}

cJSON *calendars_status_json(const struct calendars_built *b, const cJSON *obj, int64_t now_ms)
{
	double gen = cJSON_GetNumberValue(kobj_get(kobj_get(obj, "metadata"), "generation"));
	bool ok = b->state == PLAN_CALENDAR_OK && b->cal;
	const char *want = ok ? "True" : "False";
	char now[40], d[16];
	rfc3339_format(now_ms, false, now, sizeof(now));
	const char *since = now;
	const cJSON *it;
	cJSON_ArrayForEach(it, kobj_get(kobj_get(obj, "status"), "conditions"))
	{
		const char *t = kobj_str(it, "type"), *st = kobj_str(it, "status");
		if (t && st && !strcmp(t, TAKT_COND_READY) && !strcmp(st, want) &&
		    kobj_str(it, "lastTransitionTime"))
			since = kobj_str(it, "lastTransitionTime");
	}
	cJSON *s = cJSON_CreateObject();
	cJSON_AddNumberToObject(s, "observedGeneration", isnan(gen) ? 0 : gen);
	cJSON *conds = cJSON_AddArrayToObject(s, "conditions");
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", TAKT_COND_READY);
	cJSON_AddStringToObject(c, "status", want);
	cJSON_AddNumberToObject(c, "observedGeneration", isnan(gen) ? 0 : gen);
	cJSON_AddStringToObject(c, "lastTransitionTime", since);
	cJSON_AddStringToObject(c, "reason", ok ? "Loaded" : "Invalid");
	cJSON_AddStringToObject(
	    c, "message", ok ? "the calendar is loaded" : (b->error[0] ? b->error : "invalid"));
	cJSON_AddItemToArray(conds, c);
	if (ok) {
		civil_format_date(calendar_first_day(b->cal), d, sizeof(d));
		cJSON_AddStringToObject(s, "validFrom", d);
		civil_format_date(calendar_last_day(b->cal), d, sizeof(d));
		cJSON_AddStringToObject(s, "validUntil", d);
		cJSON_AddNumberToObject(s, "businessDays", calendar_business_day_count(b->cal));
	} else {
		cJSON_AddNullToObject(s, "validFrom");
		cJSON_AddNullToObject(s, "validUntil");
		cJSON_AddNullToObject(s, "businessDays");
	}
	if (b->source_rv[0])
		cJSON_AddStringToObject(s, "sourceResourceVersion", b->source_rv);
	else
		cJSON_AddNullToObject(s, "sourceResourceVersion");
	return s;
}

bool calendars_status_is(const cJSON *cur, const cJSON *want)
{
	const cJSON *it;
	if (!cJSON_IsObject(cur))
		return false;
	cJSON_ArrayForEach(it, want)
	{
		const cJSON *have = kobj_get(cur, it->string);
		if (cJSON_IsNull(it) ? have != NULL && !cJSON_IsNull(have)
				     : !have || !cJSON_Compare(have, it, 1))
			return false;
	}
	return true;
}

static void send_status(struct calendars *cs, struct cal_entry *e, const cJSON *obj)
{
	struct calendars_built view = {.state = e->state, .cal = e->cal};
	snprintf(view.error, sizeof(view.error), "%s", e->error);
	snprintf(view.source_rv, sizeof(view.source_rv), "%s", e->source_rv);
	cJSON *st = calendars_status_json(&view, obj, loop_now_realtime_ms());
	/* While a write is on its way the stored status is older than ours:
	 * the comparison would say nothing of what we wrote. */
	if (!writes_status_busy(&e->status) && calendars_status_is(kobj_get(obj, "status"), st)) {
		cJSON_Delete(st);
		return;
	}
	cJSON *patch = cJSON_CreateObject();
	cJSON_AddItemToObject(patch, "status", st);
	struct buf path;
	buf_init(&path, 4096);
	kube_path(&path, TAKT_GROUP, TAKT_VERSION, NULL, TAKT_RES_CALENDARS, e->name, "status");
	/* Unconditional: the status follows the spec and the table alone
	 * (and nobody else writes it). */
	writes_status_put(cs->writes, &e->status, buf_str(&path), patch, NULL, status_answered, e);
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
		w->refl = reflector_new(cs->loop, &cs->tr, w->store, &o, cm_listed, cs);
		hmap_put(cs->cms, ns, w);
		reflector_start(w->refl);
	}
	return reflector_synced(w->refl) ? w->store : NULL;
}

static void fail(struct calendars_built *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(struct calendars_built *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->error, sizeof(b->error), fmt, ap);
	va_end(ap);
	b->state = PLAN_CALENDAR_INVALID;
}

void calendars_build(const cJSON *obj, const cJSON *cm, struct calendars_built *out)
{
	const cJSON *spec = kobj_get(obj, "spec");
	struct calendar_source_ref ref;
	char err[512] = "";
	const char *csv = NULL;
	bool cm_missing = false, key_missing = false;

	memset(out, 0, sizeof(*out));
	out->state = PLAN_CALENDAR_OK;
	int src = calendar_spec_source(spec, &ref, err, sizeof(err));
	if (src == 1) {
		if (!cm) {
			cm_missing = true;
		} else {
			const char *rv = kobj_str(kobj_get(cm, "metadata"), "resourceVersion");
			snprintf(out->source_rv, sizeof(out->source_rv), "%s", rv ? rv : "");
			csv = kobj_str(kobj_get(cm, "data"), ref.key);
			key_missing = csv == NULL;
		}
	}
	if (src < 0) {
		fail(out, "%s", err);
	} else if (cm_missing) {
		fail(out, "spec.source.configMapRef: ConfigMap %s/%s not found", ref.namespace_,
		     ref.name);
	} else if (key_missing) {
		fail(out, "spec.source.configMapRef: ConfigMap %s/%s has no key \"%s\"",
		     ref.namespace_, ref.name, ref.key);
	} else if (calendar_from_spec_json(spec, csv, csv ? strlen(csv) : 0, &out->cal, err,
					   sizeof(err)) < 0) {
		out->cal = NULL;
		fail(out, "%s", err);
	} else if (!calendar_zone(out->cal)) {
		fail(out, "spec.timeZone: required");
	} else if (tz_load(calendar_zone(out->cal), &out->zone, err, sizeof(err)) < 0) {
		out->zone = NULL;
		fail(out, "spec.timeZone: %s", err);
	}
	if (out->state != PLAN_CALENDAR_OK) {
		/* Never the last good table: a broken one is not trusted. */
		calendar_free(out->cal);
		out->cal = NULL;
	}
}

void calendars_built_release(struct calendars_built *b)
{
	calendar_free(b->cal);
	tz_free(b->zone);
	b->cal = NULL;
	b->zone = NULL;
}

/* The zone of that name, loaded once: `z` (taken) when it is new. */
static const struct tz *zone_intern(struct calendars *cs, struct tz *z)
{
	struct tz *have = hmap_get(cs->zones, tz_name(z));
	if (have) {
		tz_free(z);
		return have;
	}
	hmap_put(cs->zones, tz_name(z), z);
	return z;
}

/* Rebuilds one calendar when what it is made of changed. Returns true when
 * the schedules using it must be re-planned; false when nothing changed,
 * the new build decides every day as the old one did, or the ConfigMaps of
 * its source's namespace are not listed yet (it is rebuilt, and reported,
 * when they are). */
static bool rebuild(struct calendars *cs, const cJSON *obj)
{
	const char *name = kobj_str(kobj_get(obj, "metadata"), "name");
	/* The generation, not the resourceVersion: our own status writes
	 * must not cause rebuilds. */
	double gen = cJSON_GetNumberValue(kobj_get(kobj_get(obj, "metadata"), "generation"));
	struct calendar_source_ref ref;
	char err[512], from[160];
	const cJSON *cm = NULL;
	const char *cm_rv = "";
	if (!name)
		return false;
	struct store *st = NULL;
	if (calendar_spec_source(kobj_get(obj, "spec"), &ref, err, sizeof(err)) == 1) {
		st = cm_store(cs, ref.namespace_);
		cm = st ? store_get_ns(st, ref.namespace_, ref.name) : NULL;
		cm_rv = cm ? kobj_str(kobj_get(cm, "metadata"), "resourceVersion") : "";
	}
	snprintf(from, sizeof(from), "%.0f/%s", isnan(gen) ? 0.0 : gen, cm_rv ? cm_rv : "");
	struct cal_entry *e = hmap_get(cs->entries, name);
	bool fresh = !e;
	if (!e) {
		e = xcalloc(1, sizeof(*e));
		writes_status_init(&e->status);
		e->name = xstrdup(name);
		e->state = PLAN_CALENDAR_INVALID;
		hmap_put(cs->entries, name, e);
	} else if (e->built_from && !strcmp(e->built_from, from)) {
		return false;
	}
	if (calendar_spec_source(kobj_get(obj, "spec"), &ref, err, sizeof(err)) == 1 && !st) {
		/* The source's namespace is being listed: until then the
		 * calendar is not known, and certainly not the old table: a
		 * reconcile meanwhile fails closed. Not reported, and no status
		 * write: it is rebuilt (and reported) in a moment, when the
		 * list is in, so schedules need not flap to CalendarReady=False
		 * and back with an Event. At start-up schedules wait for these
		 * lists anyway. */
		free(e->built_from);
		e->built_from = NULL;
		entry_clear(e);
		e->state = PLAN_CALENDAR_INVALID;
		snprintf(e->error, sizeof(e->error),
			 "waiting for the ConfigMaps of namespace %s to be listed", ref.namespace_);
		return false;
	}
	free(e->built_from);
	e->built_from = xstrdup(from);

	struct calendars_built b;
	calendars_build(obj, cm, &b);
	const struct tz *zone = b.state == PLAN_CALENDAR_OK ? zone_intern(cs, b.zone) : NULL;
	b.zone = NULL; /* interned or never loaded */
	bool same = !fresh && b.state == PLAN_CALENDAR_OK && e->state == PLAN_CALENDAR_OK &&
		    zone == e->zone && calendar_equal(e->cal, b.cal);
	if (same) {
		/* Keep the old calendar: plans may hold pointers into it. */
		calendars_built_release(&b);
	} else {
		entry_clear(e);
		e->state = b.state;
		e->cal = b.cal;
		e->zone = zone;
		b.cal = NULL;
	}
	snprintf(e->error, sizeof(e->error), "%s", b.error);
	snprintf(e->source_rv, sizeof(e->source_rv), "%s", b.source_rv);
	LOG_INFO("calendar loaded", "obj=%s ready=%d business_days=%u changed=%d error=\"%s\"",
		 name, e->state == PLAN_CALENDAR_OK,
		 e->cal ? calendar_business_day_count(e->cal) : 0, !same, e->error);
	send_status(cs, e, obj);
	return !same;
}

static void rebuild_all(struct calendars *cs)
{
	struct store_list l;
	store_list(cs->store, NULL, NULL, &l);
	for (size_t i = 0; i < l.n; i++) {
		if (rebuild(cs, l.items[i]))
			cs->changed(cs->ud, kobj_str(kobj_get(l.items[i], "metadata"), "name"));
	}
	store_list_release(&l);
}

/* Stops the ConfigMap watches of namespaces no calendar names any more, so
 * a calendar moved or deleted leaves no list of a busy namespace behind.
 * Only from the calendars' own callbacks: a ConfigMap reflector is never
 * freed inside its own callback. */
static void cm_gc(struct calendars *cs)
{
	struct store_list l;
	struct calendar_source_ref ref;
	char err[256];
	struct hmap *used = hmap_new();
	store_list(cs->store, NULL, NULL, &l);
	for (size_t i = 0; i < l.n; i++)
		if (calendar_spec_source(kobj_get(l.items[i], "spec"), &ref, err, sizeof(err)) == 1)
			hmap_put(used, ref.namespace_, cs);
	store_list_release(&l);
	size_t pos = 0, n = 0;
	const char *ns;
	char **stale = NULL;
	size_t cap = 0;
	while (hmap_next(cs->cms, &pos, &ns, NULL))
		if (!hmap_get(used, ns)) {
			xgrow((void **)&stale, &cap, n + 1, sizeof(*stale));
			stale[n++] = xstrdup(ns);
		}
	for (size_t i = 0; i < n; i++) {
		struct cm_watch *w = hmap_del(cs->cms, stale[i]);
		LOG_INFO("configmap watch stopped", "ns=%s", stale[i]);
		cm_free(w);
		free(stale[i]);
	}
	free(stale);
	hmap_free(used, NULL);
}

static void cal_changed(void *ud, enum store_event ev, const char *key, const cJSON *old_obj,
			const cJSON *new_obj)
{
	struct calendars *cs = ud;
	(void)old_obj;
	if (ev == STORE_DELETED) {
		struct cal_entry *e = hmap_del(cs->entries, key);
		if (e)
			entry_free(cs, e);
		cs->changed(cs->ud, key);
		cm_gc(cs);
		return;
	}
	if (rebuild(cs, new_obj))
		cs->changed(cs->ud, key);
	cm_gc(cs);
}

static void cal_listed(struct reflector *r, bool relist, void *ud)
{
	struct calendars *cs = ud;
	(void)r;
	(void)relist;
	rebuild_all(cs);
	cs->changed(cs->ud, NULL);
	cm_gc(cs);
}

/* ---- lifecycle ------------------------------------------------------------------- */

struct calendars *calendars_new(struct loop *l, const struct kube_transport *tr, struct writes *w,
				calendars_changed_fn *changed, void *ud)
{
	struct calendars *cs = xcalloc(1, sizeof(*cs));
	cs->loop = l;
	cs->tr = *tr;
	cs->writes = w;
	cs->changed = changed;
	cs->ud = ud;
	cs->entries = hmap_new();
	cs->cms = hmap_new();
	cs->zones = hmap_new();
	cs->store = store_new(TAKT_GROUP "/" TAKT_RES_CALENDARS);
	store_on_change(cs->store, cal_changed, cs);
	struct reflector_opts o = {
	    .group = TAKT_GROUP, .version = TAKT_VERSION, .resource = TAKT_RES_CALENDARS};
	cs->refl = reflector_new(l, &cs->tr, cs->store, &o, cal_listed, cs);
	return cs;
}

void calendars_start(struct calendars *cs)
{
	reflector_start(cs->refl);
}

size_t calendars_count(const struct calendars *cs, size_t *ready)
{
	size_t pos = 0, n = 0;
	void *v;
	*ready = 0;
	while (hmap_next(cs->entries, &pos, NULL, &v)) {
		n++;
		*ready += ((const struct cal_entry *)v)->state == PLAN_CALENDAR_OK;
	}
	return n;
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
	reflector_free(cs->refl);
	hmap_free(cs->cms, cm_free);
	store_free(cs->store);
	size_t pos = 0;
	void *v;
	while (hmap_next(cs->entries, &pos, NULL, &v))
		entry_free(cs, v);
	hmap_free(cs->entries, NULL);
	hmap_free(cs->zones, zone_free);
	free(cs);
}
