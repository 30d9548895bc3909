/* Reruns and backfill: the slots of a business-date range to run again
 * (rerun.h). */
#include "controller/rerun.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errmsg.h"
#include "base/xalloc.h"
#include "calendar/calsched.h"
#include "controller/control.h"
#include "controller/names.h"
#include "controller/planner.h"
#include "cron/cron.h"
#include "kube/obj.h"
#include "tz/civil.h"
#include "tz/tz.h"

#include "base/banned.h"

/* On a Job: its attempt number (docs/api.md, "Retries of failed runs"). */
#define RERUN_ANN_ATTEMPT TAKT_PREFIX "attempt"

#define fail(err, errlen, ...) (errmsg_set((err), (errlen), __VA_ARGS__), -EINVAL)

static const char *const ONLY_NAMES[] = {"missing", "failed", "all"};
static const char *const RESULT_NAMES[] = {"Active", "Succeeded", "Failed", "Killed"};

const char *rerun_only_name(enum rerun_only o)
{
	return (unsigned)o < 3 ? ONLY_NAMES[o] : "?";
}

int rerun_only_parse(const char *s, enum rerun_only *out, char *err, size_t errlen)
{
	if (!s || !*s) {
		*out = RERUN_ONLY_FAILED;
		return 0;
	}
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, ONLY_NAMES[i])) {
			*out = (enum rerun_only)i;
			return 0;
		}
	return fail(err, errlen,
		    TAKT_PREFIX "rerun-only: \"%.64s\" is not one of missing, failed, all", s);
}

const char *rerun_result_name(enum rerun_result r)
{
	return (unsigned)r < 4 ? RESULT_NAMES[r] : "?";
}

int rerun_result_parse(const char *s, enum rerun_result *out)
{
	for (int i = 0; s && i < 4; i++)
		if (!strcmp(s, RESULT_NAMES[i])) {
			*out = (enum rerun_result)i;
			return 0;
		}
	return -1;
}

int rerun_dates_parse(const char *what, const char *s, int64_t *from_day, int64_t *to_day,
		      char *err, size_t errlen)
{
	if (!s || !*s)
		return fail(err, errlen, "%s: missing (YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD)",
			    what);
	const char *dots = strstr(s, "..");
	size_t len1 = dots ? (size_t)(dots - s) : strlen(s);
	if (civil_parse_date(s, len1, from_day))
		return fail(err, errlen,
			    "%s: \"%.64s\" is not a date range YYYY-MM-DD[..YYYY-MM-DD] "
			    "(\"%.*s\" is not a real date)",
			    what, s, (int)(len1 > 32 ? 32 : len1), s);
	if (!dots) {
		*to_day = *from_day;
		return 0;
	}
	const char *e = dots + 2;
	if (civil_parse_date(e, strlen(e), to_day))
		return fail(err, errlen,
			    "%s: \"%.64s\" is not a date range YYYY-MM-DD[..YYYY-MM-DD] "
			    "(\"%.32s\" is not a real date)",
			    what, s, e);
	if (*to_day < *from_day)
		return fail(err, errlen, "%s: \"%.64s\": the end is before the start", what, s);
	return 0;
}

static void push_record(struct rerun_record **recs, size_t *n, size_t *cap,
			const struct rerun_record *r)
{
	XGROW(*recs, *cap, *n + 1);
	(*recs)[(*n)++] = *r;
}

size_t rerun_records_from_history(const cJSON *recent_runs, struct rerun_record **recs, size_t *n,
				  size_t *cap)
{
	size_t added = 0;
	const cJSON *e;
	if (!cJSON_IsArray(recent_runs))
		return 0;
	cJSON_ArrayForEach(e, recent_runs)
	{
		struct rerun_record r = {.start = SPEC_TIME_UNSET, .attempt = 1};
		const char *when = kobj_str(e, "scheduledTime");
		if (!when || rfc3339_parse(when, &r.slot) ||
		    rerun_result_parse(kobj_str(e, "result"), &r.result))
			continue;
		const char *start = kobj_str(e, "startTime");
		if (start && rfc3339_parse(start, &r.start))
			r.start = SPEC_TIME_UNSET;
		const cJSON *att = kobj_get(e, "attempt");
		if (cJSON_IsNumber(att) && att->valuedouble >= 1 && att->valuedouble < 1e6)
			r.attempt = (int)att->valuedouble;
		push_record(recs, n, cap, &r);
		added++;
	}
	return added;
}

static bool job_condition(const cJSON *job, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, kobj_get(kobj_get(job, "status"), "conditions"))
	{
		const char *t = kobj_str(c, "type"), *st = kobj_str(c, "status");
		if (t && st && !strcmp(t, type) && !strcmp(st, "True"))
			return true;
	}
	return false;
}

int rerun_record_from_job(const cJSON *job, struct rerun_record *out)
{
	const char *when = kobj_annotation(job, TAKT_ANN_SCHEDULED);
	memset(out, 0, sizeof(*out));
	out->start = SPEC_TIME_UNSET;
	out->attempt = 1;
	if (!when || rfc3339_parse(when, &out->slot))
		return -1;
	const char *created = kobj_meta(job, "creationTimestamp");
	if (created && rfc3339_parse(created, &out->start))
		out->start = SPEC_TIME_UNSET;
	const char *att = kobj_annotation(job, RERUN_ANN_ATTEMPT);
	if (att) {
		char *end;
		long v = strtol(att, &end, 10);
		if (*att && !*end && v >= 1 && v < 1000000)
			out->attempt = (int)v;
	}
	if (kobj_annotation(job, TAKT_ANN_KILLED))
		out->result = RERUN_KILLED;
	else if (job_condition(job, "Complete"))
		out->result = RERUN_SUCCEEDED;
	else if (job_condition(job, "Failed"))
		out->result = RERUN_FAILED;
	else
		out->result = RERUN_ACTIVE;
	return 0;
}

void rerun_selection_init(struct rerun_selection *s)
{
	memset(s, 0, sizeof(*s));
}

void rerun_selection_release(struct rerun_selection *s)
{
	free(s->slots);
	rerun_selection_init(s);
}

/* Records in slot order, and within a slot in the order the attempts were
 * made, so a slot's last attempt is the last of its group. */
static int cmp_record(const void *a, const void *b)
{
	const struct rerun_record *x = a, *y = b;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (x->attempt > y->attempt) - (x->attempt < y->attempt);
}

/* The last attempt of the slot at `ms` among the sorted records, or NULL. */
static const struct rerun_record *last_attempt(const struct rerun_record *recs, size_t n,
					       int64_t ms)
{
	size_t lo = 0, hi = n; /* first index with slot > ms */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (recs[mid].slot <= ms)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && recs[lo - 1].slot == ms ? &recs[lo - 1] : NULL;
}

static bool wanted(enum rerun_only only, const struct rerun_record *last)
{
	switch (only) {
	case RERUN_ONLY_MISSING:
		return last == NULL;
	case RERUN_ONLY_FAILED:
		return last == NULL || last->result == RERUN_FAILED || last->result == RERUN_KILLED;
	case RERUN_ONLY_ALL:
		return true;
	}
	return false;
}

/* The UTC instant of local midnight starting day `day` in zone z, give or
 * take the zone's offset changes: the walk starts a little before it and
 * filters by local date, so an approximation that errs early is enough. */
static int64_t day_start_utc(const struct tz *z, int64_t day)
{
	int64_t local = day * 86400;
	int32_t off = z ? tz_offset_at(z, local) : 0;
	return local - off;
}

#define DST_MARGIN_S (3 * 3600)

int rerun_select(const struct rerun_input *in, struct rerun_selection *out, char *err,
		 size_t errlen)
{
	free(out->slots);
	rerun_selection_init(out);
	if (!in || !in->cron || (in->calendar && !in->rules))
		return fail(err, errlen, "rerun: no schedule to select slots from");
	if (in->to_day < in->from_day)
		return fail(err, errlen, "rerun: the end of the range is before its start");

	struct rerun_record *recs = NULL;
	size_t n = in->n_records;
	if (n) {
		recs = xmalloc(n * sizeof(*recs));
		memcpy(recs, in->records, n * sizeof(*recs));
		qsort(recs, n, sizeof(*recs), cmp_record);
	}

	int rc = 0;
	int64_t t = day_start_utc(in->zone, in->from_day) - DST_MARGIN_S - 1;
	int64_t end = day_start_utc(in->zone, in->to_day + 1) + DST_MARGIN_S;
	int64_t now_s = civil_floor_div(in->now, 1000);
	for (;;) {
		struct calsched_result res;
		int r = calsched_next(in->cron, in->zone, in->calendar, in->rules, t, &res);
		if (r == -ENOENT)
			break;
		if (r != 0 && r != -ENODATA) {
			rc =
			    fail(err, errlen, "rerun: the schedule's slots cannot be computed (%s)",
				 r == -ERANGE ? "a date outside years 1..9999" : "bad rules");
			goto out;
		}
		int64_t at = res.at;
		if (at > end || at > now_s)
			break;
		t = at;
		int64_t local = in->zone ? tz_utc_to_local(in->zone, at) : at;
		int64_t date = r == -ENODATA ? res.date : civil_floor_div(local, 86400);
		if (date < in->from_day || date > in->to_day)
			continue;
		if (r == -ENODATA) {
			char line[256];
			calsched_format_nodata(&res, in->calendar, line, sizeof(line));
			errmsg_set(err, errlen, "the calendar does not cover the range: %s", line);
			rc = -ENODATA;
			goto out;
		}
		out->in_range++;
		int64_t ms = at * 1000;
		if (!wanted(in->only, last_attempt(recs, n, ms)))
			continue;
		if (out->n == RERUN_MAX_SLOTS) {
			errmsg_set(
			    err, errlen,
			    "more than %d slots to run (only=%s); a rerun is refused past %d: "
			    "narrow the dates",
			    RERUN_MAX_SLOTS, rerun_only_name(in->only), RERUN_MAX_SLOTS);
			rc = -E2BIG;
			goto out;
		}
		XGROW(out->slots, out->cap, out->n + 1);
		out->slots[out->n++] = ms;
	}
out:
	free(recs);
	if (rc) {
		free(out->slots);
		rerun_selection_init(out);
	}
	return rc;
}

/* ---- the controller's rerun step ---------------------------------------------- */

#define HANDLED_PREFIX "rerun:"

void rerun_step_init(struct rerun_step *s)
{
	memset(s, 0, sizeof(*s));
}

void rerun_step_release(struct rerun_step *s)
{
	cJSON_Delete(s->last);
	free(s->starts);
	rerun_step_init(s);
}

static void add_event(struct rerun_step *out, bool warning, const char *reason, const char *fmt,
		      ...) __attribute__((format(printf, 4, 5)));
static void add_event(struct rerun_step *out, bool warning, const char *reason, const char *fmt,
		      ...)
{
	if (out->n_events >= sizeof(out->events) / sizeof(out->events[0]))
		return;
	struct rerun_event *e = &out->events[out->n_events++];
	e->warning = warning;
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

static bool str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool handled_has(const cJSON *handled, const char *id)
{
	char entry[SPEC_REQUEST_ID_MAX + 16];
	snprintf(entry, sizeof(entry), HANDLED_PREFIX "%s", id);
	const cJSON *it;
	cJSON_ArrayForEach(it, handled)
	{
		if (str_eq(cJSON_GetStringValue(it), entry))
			return true;
	}
	return false;
}

void rerun_mark_handled(cJSON **handled, const char *id, size_t max)
{
	if (!cJSON_IsArray(*handled)) {
		cJSON_Delete(*handled);
		*handled = cJSON_CreateArray();
	}
	if (handled_has(*handled, id))
		return;
	char entry[SPEC_REQUEST_ID_MAX + 16];
	snprintf(entry, sizeof(entry), HANDLED_PREFIX "%s", id);
	cJSON_AddItemToArray(*handled, cJSON_CreateString(entry));
	while ((size_t)cJSON_GetArraySize(*handled) > max)
		cJSON_DeleteItemFromArray(*handled, 0);
}

static void set_time(cJSON *o, const char *key, int64_t ms)
{
	char t[40];
	if (rfc3339_format(ms, true, t, sizeof(t)) < 0)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddStringToObject(o, key, t);
}

static void set_int(cJSON *o, const char *key, size_t v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddNumberToObject(o, key, (double)v);
}

/* A refusal: lastRerun = {requestId, time, dates, only, refused}. */
static void refuse(const struct rerun_step_input *in, struct rerun_step *out, const char *id,
		   const char *why)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "requestId", id);
	set_time(o, "time", in->now);
	if (in->dates)
		cJSON_AddStringToObject(o, "dates", in->dates);
	enum rerun_only only;
	if (rerun_only_parse(in->only, &only, NULL, 0) == 0)
		cJSON_AddStringToObject(o, "only", rerun_only_name(only));
	cJSON_AddStringToObject(o, "refused", why);
	cJSON_Delete(out->last);
	out->last = o;
	out->handled_new = true;
	add_event(out, true, "RerunRefused", "rerun %s refused: %s", id, why);
}

static const struct plan_run *find_run(const struct rerun_step_input *in, const char *name)
{
	for (size_t i = 0; i < in->n_runs; i++)
		if (str_eq(in->runs[i].name, name))
			return &in->runs[i];
	return NULL;
}

static bool expected(const struct rerun_step_input *in, const char *name)
{
	for (size_t i = 0; i < in->n_exps; i++)
		if (str_eq(in->exps[i].name, name))
			return true;
	return false;
}

static bool run_is_active(const struct plan_run *r)
{
	return !r->finished || r->pods_present > 0;
}

/* The record of every run seen, for the selection. */
static size_t gather_records(const struct rerun_step_input *in, struct rerun_record **recs)
{
	size_t n = 0, cap = 0;
	*recs = NULL;
	rerun_records_from_history(in->history, recs, &n, &cap);
	for (size_t i = 0; i < in->n_runs; i++) {
		const struct plan_run *r = &in->runs[i];
		if (r->slot == SPEC_TIME_UNSET)
			continue;
		struct rerun_record x = {.slot = r->slot, .start = r->creation, .attempt = 1};
		x.result = r->killed	      ? RERUN_KILLED
			   : run_is_active(r) ? RERUN_ACTIVE
			   : r->succeeded     ? RERUN_SUCCEEDED
					      : RERUN_FAILED;
		push_record(recs, &n, &cap, &x);
	}
	return n;
}

/* A new request: select its slots, or refuse it. */
static void accept(const struct rerun_step_input *in, struct rerun_step *out, const char *id)
{
	char err[512];
	int64_t from, to;
	enum rerun_only only;
	const struct spec *sp = in->spec;
	if (rerun_dates_parse(TAKT_ANN_RERUN_DATES, in->dates, &from, &to, err, sizeof(err)) ||
	    rerun_only_parse(in->only, &only, err, sizeof(err))) {
		refuse(in, out, id, err);
		return;
	}
	if (!sp->cron) {
		refuse(in, out, id, "the schedule's spec is invalid (see the Ready condition)");
		return;
	}
	if (sp->has_calendar && (!in->calendar || !in->zone)) {
		snprintf(err, sizeof(err), "calendar %s is not ready%s%s", sp->calendar.name,
			 in->calendar_error ? ": " : "",
			 in->calendar_error ? in->calendar_error : "");
		refuse(in, out, id, err);
		return;
	}
	char probe[SPEC_JOB_NAME_MAX + 1];
	if (spec_rerun_job_name(sp->name, in->now, id, probe, sizeof(probe))) {
		snprintf(err, sizeof(err),
			 "the schedule's name is too long for rerun Job names "
			 "\"<name>-<unix-seconds>-r<request hash>\" (%d characters)",
			 SPEC_JOB_NAME_MAX);
		refuse(in, out, id, err);
		return;
	}
	struct rerun_record *recs;
	size_t n = gather_records(in, &recs);
	struct rerun_input ri = {.cron = sp->cron,
				 .zone = in->zone,
				 .calendar = sp->has_calendar ? in->calendar : NULL,
				 .rules = &sp->calendar.rules,
				 .from_day = from,
				 .to_day = to,
				 .only = only,
				 .records = recs,
				 .n_records = n,
				 .now = in->now};
	struct rerun_selection sel;
	rerun_selection_init(&sel);
	int rc = rerun_select(&ri, &sel, err, sizeof(err));
	free(recs);
	if (rc) {
		refuse(in, out, id, err);
		return;
	}
	/* The previous request's slots not started yet are dropped. */
	const char *prog = kobj_str(in->last, "progress");
	size_t dropped = 0;
	for (const char *c = prog; c && *c; c++)
		dropped += *c == '-';
	if (dropped)
		add_event(out, true, "RerunDropped",
			  "rerun %s replaces rerun %s: its %zu slots not started yet are dropped",
			  id, kobj_str(in->last, "requestId"), dropped);

	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "requestId", id);
	set_time(o, "time", in->now);
	cJSON_AddStringToObject(o, "dates", in->dates);
	cJSON_AddStringToObject(o, "only", rerun_only_name(only));
	cJSON *slots = cJSON_AddArrayToObject(o, "slots");
	char *progress = xmalloc(sel.n + 1);
	for (size_t i = 0; i < sel.n; i++) {
		char t[40];
		rfc3339_format(sel.slots[i], false, t, sizeof(t));
		cJSON_AddItemToArray(slots, cJSON_CreateString(t));
		progress[i] = '-';
	}
	progress[sel.n] = 0;
	cJSON_AddStringToObject(o, "progress", progress);
	free(progress);
	cJSON_Delete(out->last);
	out->last = o;
	out->handled_new = true;
	add_event(out, false, "RerunAccepted",
		  "rerun %s: %zu slots of business dates %s to run (only %s; %zu in the range)", id,
		  sel.n, in->dates, rerun_only_name(only), sel.in_range);
	rerun_selection_release(&sel);
}

/* Moves the request on: settles the started runs, starts what may start,
 * recounts. `o` is the lastRerun to update (a copy, owned by the caller). */
static void advance(const struct rerun_step_input *in, struct rerun_step *out, cJSON *o)
{
	const char *id = kobj_str(o, "requestId");
	const cJSON *slots = kobj_get(o, "slots");
	const char *p0 = kobj_str(o, "progress");
	size_t n = (size_t)cJSON_GetArraySize(slots);
	if (!id || !p0 || strlen(p0) != n || !cJSON_IsArray(slots))
		return; /* a refusal, or not ours to read */
	char *progress = xstrdup(p0);
	int64_t *when = xcalloc(n + 1, sizeof(*when));
	size_t i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, slots)
	{
		const char *t = cJSON_GetStringValue(it);
		if (!t || rfc3339_parse(t, &when[i]))
			goto out; /* not written by us: leave it */
		i++;
	}
	char name[SPEC_JOB_NAME_MAX + 1];
	bool running = false;
	for (i = 0; i < n; i++) {
		if (progress[i] != 'A')
			continue;
		if (spec_rerun_job_name(in->spec->name, when[i], id, name, sizeof(name))) {
			progress[i] = 'G';
			continue;
		}
		const struct plan_run *r = find_run(in, name);
		if (!r) {
			if (expected(in, name))
				running = true;
			else
				progress[i] = 'G';
		} else if (run_is_active(r)) {
			running = true;
		} else {
			progress[i] = r->killed ? 'K' : r->succeeded ? 'S' : 'F';
		}
	}
	/* Under Forbid a run whose retry is still to come is active
	 * (docs/api.md, "Retries of failed runs"): the rerun waits for it as
	 * the schedule's own slots do. */
	bool busy = running || in->orphan_pods > 0 || in->n_exps > 0 ||
		    (in->spec->concurrency == SPEC_CONCURRENCY_FORBID && in->pending_retries > 0);
	for (size_t j = 0; j < in->n_runs && !busy; j++)
		busy = in->runs[j].name && run_is_active(&in->runs[j]);
	bool one_at_a_time = in->spec->concurrency != SPEC_CONCURRENCY_ALLOW;
	for (i = 0; i < n; i++) {
		if (progress[i] != '-')
			continue;
		if (one_at_a_time && busy)
			break;
		if (spec_rerun_job_name(in->spec->name, when[i], id, name, sizeof(name))) {
			progress[i] = 'G';
			continue;
		}
		bool refused = false;
		for (size_t k = 0; k < in->n_refused_jobs && !refused; k++)
			refused = str_eq(in->refused_jobs[k], name);
		if (refused) {
			progress[i] = 'F';
			continue;
		}
		XGROW(out->starts, out->cap_starts, out->n_starts + 1);
		struct rerun_start *st = &out->starts[out->n_starts++];
		st->slot = when[i];
		memcpy(st->job_name, name, sizeof(name));
		progress[i] = 'A';
		busy = true;
	}
	if (out->n_starts)
		snprintf(out->request_id, sizeof(out->request_id), "%s", id);

	size_t started = 0, ok = 0, bad = 0, pending = 0, active = 0;
	for (i = 0; i < n; i++) {
		char c = progress[i];
		started += c != '-';
		ok += c == 'S';
		bad += c == 'F' || c == 'K' || c == 'G';
		pending += c == '-';
		active += c == 'A';
	}
	if (strcmp(progress, p0) != 0 || !kobj_get(o, "selected")) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, "progress");
		cJSON_AddStringToObject(o, "progress", progress);
		set_int(o, "selected", n);
		set_int(o, "started", started);
		set_int(o, "succeeded", ok);
		set_int(o, "failed", bad);
		set_int(o, "pending", pending);
		if (pending == 0 && active == 0 && !kobj_get(o, "completionTime")) {
			set_time(o, "completionTime", in->now);
			if (n > 0)
				add_event(out, bad > 0, "RerunDone",
					  "rerun %s done: %zu of %zu slots succeeded, %zu failed",
					  id, ok, n, bad);
		}
	}
out:
	free(progress);
	free(when);
}

int rerun_step_compute(const struct rerun_step_input *in, struct rerun_step *out)
{
	rerun_step_init(out);
	if (!in || !in->spec || !in->spec->name)
		return -EINVAL;
	const char *id = in->request;
	char err[256];
	if (id && !str_eq(kobj_str(in->last, "requestId"), id) && !handled_has(in->handled, id)) {
		if (control_request_id_check(TAKT_ANN_RERUN, id, err, sizeof(err)))
			refuse(in, out, id, err);
		else
			accept(in, out, id);
	}
	/* The request in progress: the new one, or the persisted one. */
	cJSON *o = out->last ? out->last : cJSON_Duplicate(in->last, 1);
	if (o) {
		advance(in, out, o);
		if (!out->last) {
			if (cJSON_Compare(o, in->last, 1))
				cJSON_Delete(o);
			else
				out->last = o;
		}
	}
	return 0;
}
