/* Reruns and backfill: the slots of a business-date range to run again
 * (rerun.h). */
#include "controller/rerun.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/errmsg.h"
#include "base/xalloc.h"
#include "calendar/calsched.h"
#include "controller/names.h"
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
