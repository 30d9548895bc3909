/* The BatchSchedule planner (pure). The order of decisions:
 *   1. runs: which are active, which finished since the last status (counted
 *      once, when they leave status.active), which history to trim;
 *   2. validity, calendar, zone;
 *   3. the cursor: restarted at `now` on first sight and after every edit;
 *   4. suspend / calendar not ready: nothing fires;
 *   5. the due slots in (cursor, now]: missed-run policy, deadline, then the
 *      concurrency policy for the one slot that may run;
 *   6. run-now, the retries that are due (from status.recentRuns, settled
 *      right after the zone is known, step 2), the next slot, the wake-up,
 *      and the history's bound.
 */
#include "controller/planner.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "calendar/calsched.h"
#include "controller/names.h"
#include "cron/cron.h"
#include "tz/civil.h"
#include "tz/tz.h"

#include "base/banned.h"

void plan_init(struct plan *p)
{
	memset(p, 0, sizeof(*p));
	spec_status_init(&p->status);
	p->wake = SPEC_TIME_UNSET;
	p->next_slot = SPEC_TIME_UNSET;
}

void plan_release(struct plan *p)
{
	free(p->actions);
	spec_status_release(&p->status);
	plan_init(p);
}

static struct plan_action *add_action(struct plan *p, enum plan_action_kind kind)
{
	XGROW(p->actions, p->cap_actions, p->n_actions + 1);
	struct plan_action *a = &p->actions[p->n_actions++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->slot = SPEC_TIME_UNSET;
	return a;
}

static void add_event(struct plan *p, enum plan_event_type type, const char *reason, int64_t count,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add_event(struct plan *p, enum plan_event_type type, const char *reason, int64_t count,
		      const char *fmt, ...)
{
	struct plan_action *a = add_action(p, PLAN_EVENT);
	va_list ap;
	a->event_type = type;
	snprintf(a->reason, sizeof(a->reason), "%s", reason);
	a->count = count;
	va_start(ap, fmt);
	vsnprintf(a->message, sizeof(a->message), fmt, ap);
	va_end(ap);
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static void format_time(int64_t ms, char *out, size_t n)
{
	if (rfc3339_format(ms, false, out, n) < 0)
		snprintf(out, n, "%" PRId64 "ms", ms);
}

/* ---- failed creates ------------------------------------------------------------ */

bool plan_create_failure_permanent(const struct plan_create_failure *f)
{
	switch (f->code) {
	case 401: /* credentials being rotated */
	case 408: /* request timeout */
	case 409: /* a conflict inside admission (AlreadyExists is success) */
	case 429: /* throttled */
		return false;
	default:
		return f->code >= 400 && f->code < 500;
	}
}

static const struct plan_create_failure *failure_of(const struct plan_input *in, const char *name)
{
	for (size_t i = 0; i < in->n_create_failures; i++)
		if (in->create_failures[i].job_name &&
		    !strcmp(in->create_failures[i].job_name, name))
			return &in->create_failures[i];
	return NULL;
}

static bool refused_for_good(const struct plan_input *in, const char *name)
{
	const struct plan_create_failure *f = failure_of(in, name);
	return f && plan_create_failure_permanent(f);
}

/* The apiserver's answer as a user reads it: "422 Invalid: <message>". */
static void failure_answer(const struct plan_create_failure *f, char *out, size_t n)
{
	const char *msg = f->message && *f->message ? f->message : "(no message)";
	if (f->code == 0)
		snprintf(out, n, "no answer: %s", msg);
	else if (f->reason && *f->reason)
		snprintf(out, n, "%d %s: %s", f->code, f->reason, msg);
	else
		snprintf(out, n, "%d: %s", f->code, msg);
}

/* ---- 1. runs ---------------------------------------------------------------- */

static bool run_active(const struct plan_run *r)
{
	return !r->finished || r->pods_present > 0;
}

static const struct plan_run *find_run(const struct plan_input *in, const char *name)
{
	for (size_t i = 0; i < in->n_runs; i++)
		if (in->runs[i].name && strcmp(in->runs[i].name, name) == 0)
			return &in->runs[i];
	return NULL;
}

static bool in_active(const struct spec_status *st, const char *name)
{
	for (size_t i = 0; i < st->n_active; i++)
		if (strcmp(st->active[i].name, name) == 0)
			return true;
	return false;
}

static int64_t run_order(const struct plan_run *r)
{
	return r->slot != SPEC_TIME_UNSET ? r->slot : r->creation;
}

static int cmp_active(const void *a, const void *b)
{
	const struct spec_active *x = a, *y = b;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Rebuilds status.active from what is seen, counting each run once as it
 * leaves the list: the persisted list is what makes this idempotent across
 * restarts. A Job deleted by hand just disappears (counted nowhere). */
static void update_active(const struct plan_input *in, struct spec_status *st)
{
	struct spec_status fresh;
	spec_status_init(&fresh);
	for (size_t i = 0; i < in->n_runs; i++) {
		const struct plan_run *r = &in->runs[i];
		if (r->name && run_active(r))
			spec_status_add_active(&fresh, r->name, r->uid, r->slot, r->trigger);
		if (r->finished && r->succeeded && r->completion != SPEC_TIME_UNSET)
			st->last_successful_time = max64(st->last_successful_time, r->completion);
	}
	for (size_t i = 0; i < in->n_expectations; i++) {
		const struct plan_expectation *e = &in->expectations[i];
		if (e->name && !find_run(in, e->name) && !in_active(&fresh, e->name))
			spec_status_add_active(&fresh, e->name, e->uid, e->slot, e->trigger);
	}
	for (size_t i = 0; i < st->n_active; i++) {
		const char *name = st->active[i].name;
		const struct plan_run *r = find_run(in, name);
		if (!r || in_active(&fresh, name) || r->killed)
			continue;
		if (r->succeeded)
			st->counters.runs_succeeded++;
		else
			st->counters.runs_failed++;
	}
	if (fresh.n_active > 1)
		qsort(fresh.active, fresh.n_active, sizeof(*fresh.active), cmp_active);
	/* Move the fresh list into st. */
	for (size_t i = 0; i < st->n_active; i++) {
		free(st->active[i].name);
		free(st->active[i].uid);
	}
	free(st->active);
	st->active = fresh.active;
	st->n_active = fresh.n_active;
	st->cap_active = fresh.cap_active;
}

static int cmp_run_newest_first(const void *a, const void *b)
{
	const struct plan_run *x = *(const struct plan_run *const *)a;
	const struct plan_run *y = *(const struct plan_run *const *)b;
	int64_t ox = run_order(x), oy = run_order(y);
	if (ox != oy)
		return ox > oy ? -1 : 1;
	return strcmp(y->name, x->name);
}

/* Keeps the newest `limit` finished runs of one outcome. Runs whose pods are
 * still around are left for a later pass, so that no pod loses its Job while
 * it still counts for overlap. */
static void trim_outcome(const struct plan_input *in, struct plan *p, bool succeeded, int32_t limit)
{
	const struct plan_run **v = xcalloc(in->n_runs + 1, sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < in->n_runs; i++) {
		const struct plan_run *r = &in->runs[i];
		/* A failed attempt whose exit code is still being read keeps its
		 * Job (and pods) until its record is settled. */
		if (r->name && r->finished && r->succeeded == succeeded && !r->deleting &&
		    !(r->exit_pending && !r->succeeded))
			v[n++] = r;
	}
	qsort(v, n, sizeof(*v), cmp_run_newest_first);
	for (size_t i = (size_t)(limit > 0 ? limit : 0); i < n; i++) {
		if (v[i]->pods_present > 0)
			continue;
		struct plan_action *a = add_action(p, PLAN_DELETE_JOB);
		snprintf(a->job_name, sizeof(a->job_name), "%s", v[i]->name);
		a->slot = v[i]->slot;
		a->trigger = v[i]->trigger;
		a->propagation = PLAN_PROPAGATION_BACKGROUND;
	}
	free(v);
}

/* ---- slots ------------------------------------------------------------------- */

/* Where slots come from: the cron pattern in the zone, through the calendar
 * rules when the schedule has a calendar (calendar NULL: none). */
struct source {
	const struct spec *spec;
	const struct tz *zone;
	const struct calendar *calendar;
};

enum { SRC_OK = 0, SRC_NONE = 1, SRC_NOT_COVERED = 2 };

/* The first slot strictly after `after` (seconds). SRC_NOT_COVERED: the slot
 * at *next cannot be placed because the calendar does not cover what it
 * needs (*missing_day); it does not run. */
static int source_next(const struct source *src, int64_t after, int64_t *next, int64_t *missing_day)
{
	struct calsched_result res;
	int rc = calsched_next(src->spec->cron, src->zone, src->calendar,
			       &src->spec->calendar.rules, after, &res);
	if (rc == 0) {
		*next = res.at;
		return SRC_OK;
	}
	if (rc == -ENODATA) {
		*next = res.at;
		if (missing_day)
			*missing_day = res.missing_day;
		return SRC_NOT_COVERED;
	}
	return SRC_NONE;
}

struct scan {
	int64_t fired;	     /* slots that fire */
	int64_t latest;	     /* the latest of them (seconds), -1 when none */
	int64_t uncovered;   /* slots the calendar cannot place */
	int64_t missing_day; /* the first day it lacks, when uncovered > 0 */
	int64_t last_seen;   /* the latest slot of any kind (seconds), -1: none */
};

/* Walks the slots in (after, upto] (seconds), at most `max` of them. When
 * there are more, the latest is found by stepping back from `upto` in
 * doubling strides; the counts are then lower bounds. */
static void scan_slots(const struct source *src, int64_t after, int64_t upto, int64_t max,
		       struct scan *sc)
{
	int64_t t = after, next, missing = 0, steps = 0;
	memset(sc, 0, sizeof(*sc));
	sc->latest = -1;
	sc->last_seen = -1;
	while (steps < max) {
		int rc = source_next(src, t, &next, &missing);
		if (rc == SRC_NONE || next > upto)
			return;
		steps++;
		sc->last_seen = next;
		if (rc == SRC_NOT_COVERED) {
			if (sc->uncovered++ == 0)
				sc->missing_day = missing;
		} else {
			sc->fired++;
			sc->latest = next;
		}
		t = next;
	}
	for (int64_t stride = 1; stride < upto - t; stride *= 2) {
		int64_t cand;
		if (source_next(src, upto - stride, &cand, NULL) == SRC_OK && cand <= upto) {
			int64_t c2;
			while (source_next(src, cand, &c2, NULL) == SRC_OK && c2 <= upto)
				cand = c2;
			sc->latest = max64(sc->latest, cand);
			sc->last_seen = max64(sc->last_seen, cand);
			return;
		}
	}
}

static void not_covered(const struct plan_input *in, struct plan *p, int64_t day);

/* ---- the plan ------------------------------------------------------------------- */

/* ---- history and retries ----------------------------------------------------------- */

/* status.recentRuns is the record retries are planned from (docs/api.md,
 * "Retries of failed runs"; docs/semantics.md, "Retries"): an attempt's
 * entry is added when it is created (or first seen, for a Job that has no
 * entry and is still running) and settled once when its Job ends. A
 * pending retry is never held in memory: it is the newest attempt of a run
 * whose entry says Failed while the next attempt's Job exists nowhere, and
 * its instant follows from that entry and the spec. The next attempt's
 * name is the lock. */

static struct spec_run_record *find_record(const struct spec_status *st, const char *job)
{
	for (size_t i = 0; i < st->n_recent; i++)
		if (!strcmp(st->recent[i].job, job))
			return &st->recent[i];
	return NULL;
}

static bool expected(const struct plan_input *in, const char *name)
{
	for (size_t i = 0; i < in->n_expectations; i++)
		if (in->expectations[i].name && !strcmp(in->expectations[i].name, name))
			return true;
	return false;
}

/* The local date of `ms` in `zone` (NULL: UTC), "YYYY-MM-DD". */
static void business_date(const struct tz *zone, int64_t ms, char *out, size_t n)
{
	int64_t secs = civil_floor_div(ms, 1000);
	int64_t local = zone ? tz_utc_to_local(zone, secs) : secs;
	if (ms == SPEC_TIME_UNSET || civil_format_date(civil_floor_div(local, 86400), out, n) < 0)
		out[0] = '\0';
}

/* The instant of local time `secs` (since midnight) on the record's
 * business date, by the DST rules of fixed-time patterns (docs/cron.md): a
 * time in a gap moves to the gap's end, a time in an overlap is its first
 * occurrence. ms. */
static int64_t local_instant(const struct tz *zone, const struct spec_run_record *rec, int64_t secs)
{
	char d[SPEC_BUSINESS_DATE_SZ];
	int64_t days;
	const char *date = rec->business_date;
	if (!date[0]) {
		business_date(zone, rec->scheduled, d, sizeof(d));
		date = d;
	}
	if (civil_parse_date(date, strlen(date), &days))
		days = civil_floor_div(rec->scheduled, 86400 * 1000);
	int64_t local = days * 86400 + secs;
	if (!zone)
		return local * 1000;
	struct tz_mapping m;
	tz_local_to_utc(zone, local, &m);
	return (m.kind == TZ_GAP ? m.gap_end : m.utc[0]) * 1000;
}

/* The first attempt's name of the run `rec` belongs to: attempt n >= 2 is
 * "<first>-<n>" (spec_attempt_job_name). */
static void first_attempt_name(const struct spec_run_record *rec, char *out, size_t n)
{
	snprintf(out, n, "%s", rec->job);
	if (rec->attempt < 2)
		return;
	char *dash = strrchr(out, '-');
	if (dash)
		*dash = '\0';
}

enum retry_kind { RETRY_NONE, RETRY_AT };

struct retry {
	enum retry_kind kind;
	int64_t at; /* RETRY_AT: ms */
	int32_t attempt;
	char name[SPEC_JOB_NAME_MAX + 1];
	char why[160]; /* RETRY_NONE: why the run ends for good */
	/* spec.retry.notAfter on the run's business date (ms), or
	 * SPEC_TIME_UNSET; late: the retry was due before it and did not
	 * start by then. */
	int64_t not_after;
	bool late;
};

static void fmt_clock(int64_t secs, char *out, size_t n)
{
	snprintf(out, n, "%02d:%02d:%02d", (int)(secs / 3600), (int)(secs / 60 % 60),
		 (int)(secs % 60));
}

/* What spec.retry says of the failed attempt `rec`, the newest of its run. */
static void retry_of(const struct spec *s, const struct tz *zone, const struct spec_run_record *rec,
		     int64_t now, struct retry *out)
{
	const struct spec_retry *rt = spec_retry(s);
	char first[SPEC_JOB_NAME_MAX + 1], clock[16];
	memset(out, 0, sizeof(*out));
	out->kind = RETRY_NONE;
	out->not_after = SPEC_TIME_UNSET;
	/* A rerun's attempt is the rerun request's (rerun.h: lastRerun counts
	 * it failed, RerunDone says so); retrying it is not there yet
	 * (docs/runs.md). */
	if (rec->trigger == SPEC_TRIGGER_RERUN) {
		snprintf(out->why, sizeof(out->why), "a rerun's attempt is not retried");
		return;
	}
	if (rec->reason && !strcmp(rec->reason, PLAN_RETRY_LOST)) {
		snprintf(out->why, sizeof(out->why), "its attempt %d was lost (never run twice)",
			 (int)rec->attempt);
		return;
	}
	if (rec->attempt - 1 >= rt->limit) {
		if (rt->limit == 0)
			snprintf(out->why, sizeof(out->why), "no spec.retry");
		else
			snprintf(out->why, sizeof(out->why), "spec.retry.limit %d reached",
				 (int)rt->limit);
		return;
	}
	if (!spec_retry_exit_code_matches(rt, rec->has_exit_code, rec->exit_code)) {
		snprintf(out->why, sizeof(out->why),
			 "its exit code is not in spec.retry.onExitCodes");
		return;
	}
	size_t i = (size_t)(rec->attempt - 1);
	const struct spec_retry_step *step = &rt->after[i < rt->n_after ? i : rt->n_after - 1];
	int64_t ended = rec->completion != SPEC_TIME_UNSET ? rec->completion : rec->start;
	if (ended == SPEC_TIME_UNSET)
		ended = rec->scheduled;
	out->at =
	    step->local ? local_instant(zone, rec, step->seconds) : ended + step->seconds * 1000;
	/* A local time already past: at once, which is when the attempt ended. */
	out->at = max64(out->at, ended);
	if (rt->has_not_after) {
		out->not_after = local_instant(zone, rec, rt->not_after);
		fmt_clock(rt->not_after, clock, sizeof(clock));
		if (out->at > out->not_after) {
			snprintf(out->why, sizeof(out->why),
				 "the next retry would start after notAfter %s", clock);
			return;
		}
		/* Due in time, but not started by then (the controller was
		 * down, or Forbid kept it behind another run): no retry starts
		 * after notAfter. */
		if (now > out->not_after) {
			out->late = true;
			snprintf(out->why, sizeof(out->why),
				 "notAfter %s passed before the retry could start", clock);
			return;
		}
	}
	out->attempt = rec->attempt + 1;
	first_attempt_name(rec, first, sizeof(first));
	if (spec_attempt_job_name(first, out->attempt, out->name, sizeof(out->name))) {
		snprintf(out->why, sizeof(out->why),
			 "the retry's Job name \"%s-%d\" would not fit %d characters", first,
			 (int)out->attempt, SPEC_JOB_NAME_MAX);
		return;
	}
	out->kind = RETRY_AT;
}

static void exit_text(const struct spec_run_record *rec, char *out, size_t n)
{
	if (rec->has_exit_code)
		snprintf(out, n, "exit code %d%s%s%s", (int)rec->exit_code, rec->reason ? " (" : "",
			 rec->reason ? rec->reason : "", rec->reason ? ")" : "");
	else
		snprintf(out, n, "no exit code%s%s%s", rec->reason ? " (" : "",
			 rec->reason ? rec->reason : "", rec->reason ? ")" : "");
}

static void run_failed_event(struct plan *p, const struct spec_run_record *rec, const char *why)
{
	char first[SPEC_JOB_NAME_MAX + 1], ex[160];
	first_attempt_name(rec, first, sizeof(first));
	exit_text(rec, ex, sizeof(ex));
	add_event(p, PLAN_EVENT_WARNING, "RunFailed", 1,
		  "run %s (business date %s) failed for good: attempt %d (Job %s) ended with %s; "
		  "not retried: %s",
		  first, rec->business_date[0] ? rec->business_date : "?", (int)rec->attempt,
		  rec->job, ex, why);
}

/* A Job the planner has not recorded: a first attempt created before the
 * record existed (an upgrade), or a record lost to a hand edit. Only a
 * running one is adopted: a finished Job without a record is one the
 * history already let go (runHistoryLimit), and must not come back. */
static void adopt_run(struct plan *p, const struct plan_run *r)
{
	struct spec_run_record rec = {0};
	rec.job = (char *)r->name;
	rec.trigger = r->trigger;
	rec.scheduled = r->slot != SPEC_TIME_UNSET ? r->slot : r->creation;
	if (rec.scheduled == SPEC_TIME_UNSET)
		return;
	business_date(p->zone, rec.scheduled, rec.business_date, sizeof(rec.business_date));
	rec.attempt = r->attempt > 1 ? r->attempt : 1;
	rec.start = r->creation;
	rec.completion = SPEC_TIME_UNSET;
	rec.result = SPEC_RESULT_ACTIVE;
	spec_status_add_record(&p->status, &rec);
}

static void set_reason(struct spec_run_record *rec, const char *reason)
{
	free(rec->reason);
	rec->reason = reason && *reason ? xstrdup(reason) : NULL;
}

/* Settles the records of attempts whose Job ended. A failed attempt that is
 * the last of its run raises RunFailed here, once: the plan that settles
 * it is the one whose status records it. */
static void record_runs(const struct plan_input *in, struct plan *p)
{
	struct spec_status *st = &p->status;
	for (size_t i = 0; i < in->n_runs; i++) {
		const struct plan_run *r = &in->runs[i];
		if (!r->name)
			continue;
		struct spec_run_record *rec = find_record(st, r->name);
		if (!rec) {
			if (!r->finished && !r->killed && !r->deleting)
				adopt_run(p, r);
			continue;
		}
		if (rec->result != SPEC_RESULT_ACTIVE)
			continue;
		if (r->killed) {
			rec->result = SPEC_RESULT_KILLED;
			rec->completion =
			    r->completion != SPEC_TIME_UNSET ? r->completion : in->now;
			continue;
		}
		if (!r->finished || (!r->succeeded && r->exit_pending))
			continue;
		rec->completion = r->completion != SPEC_TIME_UNSET ? r->completion : in->now;
		if (r->succeeded) {
			rec->result = SPEC_RESULT_SUCCEEDED;
			continue;
		}
		rec->result = SPEC_RESULT_FAILED;
		rec->has_exit_code = r->has_exit_code;
		rec->exit_code = r->exit_code;
		set_reason(rec, r->exit_reason);
		struct retry rt;
		retry_of(in->spec, p->zone, rec, in->now, &rt);
		if (rt.kind == RETRY_NONE && rec->trigger != SPEC_TRIGGER_RERUN)
			run_failed_event(p, rec, rt.why);
	}
	/* An attempt whose Job is gone before it was seen to end (deleted by
	 * hand, or by a TTL while the controller was down): how it ended is
	 * unknown. Killed: it is not a failure to retry. */
	for (size_t i = 0; i < st->n_recent; i++) {
		struct spec_run_record *rec = &st->recent[i];
		/* A claimed attempt's Job may not be POSTed yet:
		 * decide_retry_claims says what it became. */
		if (rec->result != SPEC_RESULT_ACTIVE || rec->claimed || find_run(in, rec->job) ||
		    expected(in, rec->job))
			continue;
		rec->result = SPEC_RESULT_KILLED;
		rec->completion = in->now;
		set_reason(rec, "JobDeleted");
	}
}

/* The first attempt's record of a run created now. */
static void record_first_attempt(struct plan *p, const char *name, int64_t slot,
				 enum spec_trigger trigger, int64_t now)
{
	if (find_record(&p->status, name))
		return;
	struct spec_run_record rec = {0};
	rec.job = (char *)name;
	rec.trigger = trigger;
	rec.scheduled = slot;
	business_date(p->zone, slot, rec.business_date, sizeof(rec.business_date));
	rec.attempt = 1;
	rec.start = now;
	rec.completion = SPEC_TIME_UNSET;
	rec.result = SPEC_RESULT_ACTIVE;
	spec_status_add_record(&p->status, &rec);
}

/* Whether the failed record `rec` is the newest attempt of its run (its
 * next attempt exists nowhere: no Job, no expectation, no record). */
static bool newest_attempt(const struct plan_input *in, const struct plan *p,
			   const struct spec_run_record *rec)
{
	char first[SPEC_JOB_NAME_MAX + 1], next[SPEC_JOB_NAME_MAX + 1];
	first_attempt_name(rec, first, sizeof(first));
	if (spec_attempt_job_name(first, rec->attempt + 1, next, sizeof(next)))
		return true;
	return !find_run(in, next) && !expected(in, next) && !in_active(&p->status, next) &&
	       !find_record(&p->status, next);
}

/* Replace: a run started after `rec`'s run replaced it, so its retries are
 * dropped. The first attempt that did it, or NULL. */
static const struct spec_run_record *replaced_by(const struct plan_input *in, const struct plan *p,
						 const struct spec_run_record *rec)
{
	if (in->spec->concurrency != SPEC_CONCURRENCY_REPLACE)
		return NULL;
	for (size_t i = 0; i < p->status.n_recent; i++) {
		const struct spec_run_record *o = &p->status.recent[i];
		if (o->attempt == 1 && o != rec && o->start != SPEC_TIME_UNSET &&
		    o->start >= rec->start && strcmp(o->job, rec->job))
			return o;
	}
	return NULL;
}

/* The runs with a retry still to come: failed newest attempts that
 * spec.retry retries and no newer run replaced. */
static size_t pending_retries(const struct plan_input *in, const struct plan *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->status.n_recent; i++) {
		const struct spec_run_record *rec = &p->status.recent[i];
		struct retry rt;
		if (rec->result != SPEC_RESULT_FAILED || !newest_attempt(in, p, rec) ||
		    replaced_by(in, p, rec))
			continue;
		retry_of(in->spec, p->zone, rec, in->now, &rt);
		if (rt.kind == RETRY_AT)
			n++;
	}
	return n;
}

/* A takt.io/kill on the schedule, acted on in this pass (in->kill), covers
 * the runs whose retry is still to come too: the SRE who kills a
 * schedule's work expects no new attempt to start (docs/api.md, "External
 * control by annotation"). Each such run ends for good here: its newest
 * attempt's entry turns Killed with reason RetryCancelled (the exit code
 * stays), which is what every later decision, of this process or another
 * after a restart, reads as "no retry to come" (a killed attempt is never
 * retried); RunFailed says so once, and status.lastKill.retriesCancelled
 * names the attempts. The kill is handled once (handledRequests), so this
 * runs once per request, in the plan whose status write records it. */
static void cancel_retries(const struct plan_input *in, struct plan *p)
{
	struct spec_status *st = &p->status;
	cJSON *names = NULL;
	if (!in->kill)
		return;
	for (size_t i = 0; i < st->n_recent; i++) {
		struct spec_run_record *rec = &st->recent[i];
		struct retry rt;
		char why[160];
		if (rec->result != SPEC_RESULT_FAILED || !newest_attempt(in, p, rec) ||
		    replaced_by(in, p, rec))
			continue;
		retry_of(in->spec, p->zone, rec, in->now, &rt);
		if (rt.kind != RETRY_AT)
			continue;
		snprintf(why, sizeof(why),
			 "its retry (attempt %d) was cancelled by kill request %s", (int)rt.attempt,
			 in->kill);
		run_failed_event(p, rec, why);
		rec->result = SPEC_RESULT_KILLED;
		set_reason(rec, "RetryCancelled");
		if (!names)
			names = cJSON_CreateArray();
		cJSON_AddItemToArray(names, cJSON_CreateString(rec->job));
	}
	if (!names)
		return;
	const char *id =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st->last_kill, "requestId"));
	if (id && !strcmp(id, in->kill)) {
		cJSON_DeleteItemFromObjectCaseSensitive(st->last_kill, "retriesCancelled");
		cJSON_AddItemToObject(st->last_kill, "retriesCancelled", names);
	} else {
		cJSON_Delete(names);
	}
}

size_t plan_pending_retries(const struct plan_input *in)
{
	if (!in || !in->spec || !in->status || in->spec_error || !in->spec->name)
		return 0;
	struct plan p;
	plan_init(&p);
	spec_status_copy(&p.status, in->status);
	p.zone =
	    spec_zone(in->spec, in->spec->has_calendar && in->calendar_state == PLAN_CALENDAR_OK
				    ? in->calendar_zone
				    : NULL);
	/* The attempts whose Job ended since the status was written count
	 * as the planner will settle them: a failed one's retry is to come. */
	record_runs(in, &p);
	size_t n = pending_retries(in, &p);
	plan_release(&p);
	return n;
}

static bool created_now(const struct plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_actions; i++)
		if (p->actions[i].kind == PLAN_CREATE_JOB && !strcmp(p->actions[i].job_name, name))
			return true;
	return false;
}

static void start_retry(const struct plan_input *in, struct plan *p,
			const struct spec_run_record *rec, const struct retry *rt)
{
	struct spec_status *st = &p->status;
	struct plan_action *a = add_action(p, PLAN_CREATE_JOB);
	char ex[160], first[SPEC_JOB_NAME_MAX + 1];
	snprintf(a->job_name, sizeof(a->job_name), "%s", rt->name);
	a->slot = rec->scheduled;
	a->trigger = SPEC_TRIGGER_RETRY;
	a->attempt = rt->attempt;
	snprintf(a->business_date, sizeof(a->business_date), "%s", rec->business_date);
	st->counters.runs_started++;
	spec_status_add_active(st, rt->name, NULL, rec->scheduled, SPEC_TRIGGER_RETRY);
	qsort(st->active, st->n_active, sizeof(*st->active), cmp_active);
	first_attempt_name(rec, first, sizeof(first));
	exit_text(rec, ex, sizeof(ex));
	add_event(p, PLAN_EVENT_NORMAL, "Retry", 1,
		  "run %s (business date %s): attempt %d started as Job %s; attempt %d ended "
		  "with %s",
		  first, rec->business_date[0] ? rec->business_date : "?", (int)rt->attempt,
		  rt->name, (int)rec->attempt, ex);
	struct spec_run_record nr = *rec;
	nr.job = (char *)rt->name;
	nr.trigger = SPEC_TRIGGER_RETRY;
	nr.attempt = rt->attempt;
	nr.start = in->now;
	nr.completion = SPEC_TIME_UNSET;
	nr.result = SPEC_RESULT_ACTIVE;
	nr.has_exit_code = false;
	nr.exit_code = 0;
	nr.reason = NULL;
	spec_status_add_record(st, &nr);
}

/* Never twice for a retry: under claim_gate a due attempt is first only
 * recorded, claimed (result Active, "claimed": true), and its POST waits
 * until that status has landed (decide_retry_claims). A controller killed
 * after the POST leaves the claim behind, so the next one does not create
 * the attempt again once its Job is gone: it is lost instead. */
static void claim_retry(const struct plan_input *in, struct plan *p,
			const struct spec_run_record *rec, const struct retry *rt)
{
	struct spec_run_record nr = *rec;
	nr.job = (char *)rt->name;
	nr.trigger = SPEC_TRIGGER_RETRY;
	nr.attempt = rt->attempt;
	nr.start = in->now;
	nr.completion = SPEC_TIME_UNSET;
	nr.result = SPEC_RESULT_ACTIVE;
	nr.has_exit_code = false;
	nr.exit_code = 0;
	nr.reason = NULL;
	nr.claimed = true;
	spec_status_add_record(&p->status, &nr);
	snprintf(p->retry_claim_job, sizeof(p->retry_claim_job), "%s", rt->name);
	p->claim_first = true;
}

/* Starts the retries that are due; returns the earliest one still to come
 * (ms) or SPEC_TIME_UNSET. Under Forbid a due retry waits while another
 * run is active. A retry whose create the apiserver refused for good is
 * recorded as that attempt, Failed (FailedCreate): the run goes on from
 * there as spec.retry says, so a refusal never loops. */
static int64_t decide_retries(const struct plan_input *in, struct plan *p)
{
	struct spec_status *st = &p->status;
	int64_t wake = SPEC_TIME_UNSET;
	/* Records are added while walking: walk the ones there at the start. */
	size_t n = st->n_recent;
	for (size_t i = 0; i < n; i++) {
		struct spec_run_record *rec = &st->recent[i];
		struct retry rt;
		if (rec->result != SPEC_RESULT_FAILED || !newest_attempt(in, p, rec))
			continue;
		retry_of(in->spec, p->zone, rec, in->now, &rt);
		if (rt.kind != RETRY_AT) {
			/* Said by the decision woken at notAfter (below): a
			 * controller that was down then says nothing more. */
			if (rt.late && in->now - rt.not_after <= PLAN_WAIT_MS &&
			    !replaced_by(in, p, rec))
				run_failed_event(p, rec, rt.why);
			continue;
		}
		/* Whatever holds the retry back, look again when notAfter
		 * passes. */
		if (rt.not_after != SPEC_TIME_UNSET &&
		    (wake == SPEC_TIME_UNSET || rt.not_after + 1 < wake))
			wake = rt.not_after + 1;
		const struct spec_run_record *by = replaced_by(in, p, rec);
		if (by) {
			/* Said once: in the plan that started the newer run. */
			if (created_now(p, by->job)) {
				char why[160];
				snprintf(why, sizeof(why),
					 "its pending retry was dropped: run %s replaced it "
					 "(concurrencyPolicy Replace)",
					 by->job);
				run_failed_event(p, rec, why);
			}
			continue;
		}
		if (rt.at > in->now) {
			if (wake == SPEC_TIME_UNSET || rt.at < wake)
				wake = rt.at;
			continue;
		}
		const struct plan_create_failure *cf = failure_of(in, rt.name);
		if (cf && plan_create_failure_permanent(cf)) {
			char answer[512], reason[600];
			struct spec_run_record nr = *rec;
			failure_answer(cf, answer, sizeof(answer));
			snprintf(reason, sizeof(reason), "FailedCreate: %s", answer);
			nr.job = rt.name;
			nr.trigger = SPEC_TRIGGER_RETRY;
			nr.attempt = rt.attempt;
			nr.start = nr.completion = in->now;
			nr.result = SPEC_RESULT_FAILED;
			nr.has_exit_code = false;
			nr.reason = reason;
			rec = spec_status_add_record(st, &nr);
			struct retry again;
			retry_of(in->spec, p->zone, rec, in->now, &again);
			if (again.kind == RETRY_NONE)
				run_failed_event(p, rec, again.why);
			else if (wake == SPEC_TIME_UNSET || again.at < wake)
				wake = max64(again.at, in->now + 1);
			continue;
		}
		if (in->spec->concurrency == SPEC_CONCURRENCY_FORBID &&
		    (st->n_active > 0 || in->orphan_pods > 0))
			continue; /* the run's end comes through the watch */
		if (in->claim_gate) {
			claim_retry(in, p, rec, &rt);
			continue;
		}
		start_retry(in, p, rec, &rt);
	}
	return wake;
}

static int cmp_record_newest_first(const void *a, const void *b)
{
	const struct spec_run_record *x = a, *y = b;
	int64_t sx = x->start != SPEC_TIME_UNSET ? x->start : x->scheduled;
	int64_t sy = y->start != SPEC_TIME_UNSET ? y->start : y->scheduled;
	if (sx != sy)
		return sx > sy ? -1 : 1;
	return strcmp(y->job, x->job);
}

/* Newest first, at most spec.runHistoryLimit entries, except that an
 * attempt still running or a failed one whose retry is still to come is
 * never let go: the record is what the retry is planned from. */
static void trim_history(const struct plan_input *in, struct plan *p)
{
	struct spec_status *st = &p->status;
	if (st->n_recent > 1)
		qsort(st->recent, st->n_recent, sizeof(*st->recent), cmp_record_newest_first);
	size_t kept = 0;
	for (size_t i = 0; i < st->n_recent;) {
		struct spec_run_record *rec = &st->recent[i];
		bool needed = rec->result == SPEC_RESULT_ACTIVE;
		if (!needed && rec->result == SPEC_RESULT_FAILED && newest_attempt(in, p, rec) &&
		    !replaced_by(in, p, rec)) {
			struct retry rt;
			retry_of(in->spec, p->zone, rec, in->now, &rt);
			needed = rt.kind == RETRY_AT;
		}
		if (kept < (size_t)in->spec->run_history_limit || needed) {
			kept++;
			i++;
		} else {
			spec_status_remove_record(st, i);
		}
	}
	/* The schema's bound (maxItems): a longer list would fail the whole
	 * status write. Only a hundred runs active at once get here. */
	while (st->n_recent > SPEC_HISTORY_MAX)
		spec_status_remove_record(st, st->n_recent - 1);
}

/* The request a run-now answers: `request` when given, else the one
 * status.lastRunNow records — a run-now that waited for Replace's deletes
 * was recorded there by the decision that made it wait. NULL: unknown. */
static const char *run_now_request(const struct spec_status *st, const char *request)
{
	if (request)
		return request;
	return cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(st->last_run_now, "requestId"));
}

/* The name of the run that starts `slot` with `trigger` (docs/api.md, "Run
 * names"): "<name>-<unix-seconds>" for a slot, a name derived from the
 * request id for a run-now (see run_now_request). *used is that request
 * (NULL for a slot). Returns 0, or a negative code when no name can be
 * made (it would not fit; a run-now whose request is unknown). */
static int run_name(const struct plan_input *in, const struct spec_status *st, int64_t slot,
		    enum spec_trigger trigger, const char *request, const char **used, char *out,
		    size_t n)
{
	const char *req = trigger == SPEC_TRIGGER_RUN_NOW ? run_now_request(st, request) : NULL;
	if (used)
		*used = req;
	if (trigger == SPEC_TRIGGER_RUN_NOW)
		return req ? spec_request_job_name(in->spec->name, req, out, n) : -ENOENT;
	return spec_job_name(in->spec->name, slot, out, n);
}

/* Returns false when the run cannot be named (a slot before 1970, or after
 * 2286 with a 52-character name; a waiting run-now whose request is no
 * longer recorded): it is then counted missed, with a Warning. */
static bool create_job(const struct plan_input *in, struct plan *p, int64_t slot,
		       enum spec_trigger trigger, const char *request, char *name_out,
		       size_t name_size)
{
	struct spec_status *st = &p->status;
	char name[SPEC_JOB_NAME_MAX + 1], when[40];
	const char *req = NULL;
	if (run_name(in, st, slot, trigger, request, &req, name, sizeof(name))) {
		format_time(slot, when, sizeof(when));
		st->counters.missed++;
		if (trigger == SPEC_TRIGGER_RUN_NOW && !req)
			add_event(p, PLAN_EVENT_WARNING, "Missed", 1,
				  "run-now of %s cannot start: status.lastRunNow no longer names "
				  "its request",
				  when);
		else
			add_event(
			    p, PLAN_EVENT_WARNING, "Missed", 1,
			    "slot %s cannot run: its Job name \"%s-<unix-seconds>\" would not "
			    "fit %d characters",
			    when, in->spec->name, SPEC_JOB_NAME_MAX);
		return false;
	}
	struct plan_action *a = add_action(p, PLAN_CREATE_JOB);
	memcpy(a->job_name, name, sizeof(name));
	a->slot = slot;
	a->trigger = trigger;
	if (req)
		snprintf(a->request_id, sizeof(a->request_id), "%s", req);
	st->counters.runs_started++;
	record_first_attempt(p, a->job_name, slot, trigger, in->now);
	if (trigger == SPEC_TRIGGER_SCHEDULE)
		st->last_schedule_time = max64(st->last_schedule_time, slot);
	if (!in_active(st, a->job_name)) {
		spec_status_add_active(st, a->job_name, NULL, slot, trigger);
		qsort(st->active, st->n_active, sizeof(*st->active), cmp_active);
	}
	if (name_out)
		snprintf(name_out, name_size, "%s", a->job_name);
	return true;
}

/* Replace: terminate every active run; the new run starts once they are gone
 * (Foreground: the Job stays, with a deletionTimestamp, until its pods are
 * gone, so "active" keeps covering them). Returns true when deletes were
 * planned now (false: they were already under way). */
static bool delete_active(const struct plan_input *in, struct plan *p)
{
	bool any = false;
	for (size_t i = 0; i < p->status.n_active; i++) {
		const struct spec_active *a = &p->status.active[i];
		const struct plan_run *r = find_run(in, a->name);
		if (r && r->deleting)
			continue;
		struct plan_action *d = add_action(p, PLAN_DELETE_JOB);
		snprintf(d->job_name, sizeof(d->job_name), "%s", a->name);
		d->slot = a->slot;
		d->trigger = a->trigger;
		d->propagation = PLAN_PROPAGATION_FOREGROUND;
		any = true;
	}
	return any;
}

/* Forbid also counts a run with a retry still to come as active
 * (docs/api.md); Replace does not wait for a retry, it drops it. */
static bool busy(const struct plan_input *in, const struct plan *p)
{
	if (p->status.n_active > 0 || in->orphan_pods > 0)
		return true;
	return in->spec->concurrency == SPEC_CONCURRENCY_FORBID && pending_retries(in, p) > 0;
}

static const struct plan_attempt *attempt_of(const struct plan_input *in, const char *name)
{
	for (size_t i = 0; i < in->n_attempts; i++)
		if (in->attempts[i].name && !strcmp(in->attempts[i].name, name))
			return &in->attempts[i];
	return NULL;
}

/* Whether the process that decided before this one may have POSTed the
 * slot's Job: it was alive then (the slot is before this process started
 * deciding) and had claimed it. */
static bool predecessor_may_have(const struct plan_input *in, int64_t slot)
{
	return in->deciding_since > 0 && slot < in->deciding_since &&
	       in->status->claim != SPEC_TIME_UNSET && slot <= in->status->claim;
}

/* Never twice: a slot that may have had its Job created, and whose Job is
 * neither seen nor expected, is not created again (the Job may have run
 * and been deleted already: ttlSecondsAfterFinished, a history trim, a
 * user). Returns true when the slot is decided so. */
static bool never_twice(const struct plan_input *in, struct plan *p, int64_t slot,
			enum spec_trigger trigger, const char *name)
{
	struct spec_status *st = &p->status;
	char when[40];
	const struct plan_attempt *at = attempt_of(in, name);
	if (at && at->created) {
		/* Created by this process, gone before the status that
		 * records it landed: the run started. */
		st->counters.runs_started++;
		if (trigger == SPEC_TRIGGER_SCHEDULE)
			st->last_schedule_time = max64(st->last_schedule_time, slot);
		return true;
	}
	if (!at && !predecessor_may_have(in, slot))
		return false;
	format_time(slot, when, sizeof(when));
	st->counters.missed++;
	add_event(p, PLAN_EVENT_WARNING, "Missed", 1,
		  "slot %s not run: %s, and the Job %s is not there (it may have run and been "
		  "deleted); a slot is never run twice",
		  when,
		  at ? "its create had no certain answer"
		     : "the controller before this one may have created it",
		  name);
	return true;
}

/* The concurrency policy for one slot that is allowed to run. */
static void run_slot(const struct plan_input *in, struct plan *p, int64_t slot,
		     enum spec_trigger trigger)
{
	struct spec_status *st = &p->status;
	char when[40], name[SPEC_JOB_NAME_MAX + 1];
	bool named = run_name(in, st, slot, trigger, NULL, NULL, name, sizeof(name)) == 0;
	/* Its Job exists already (created, then the status write was lost):
	 * the slot is running, not overlapping with itself. */
	if (named && (find_run(in, name) || in_active(st, name)))
		return;
	/* The apiserver refused its Job for good: asking again gets the same
	 * answer, so the slot failed to start (report_create_failures says
	 * why). */
	if (named && refused_for_good(in, name)) {
		st->counters.missed++;
		return;
	}
	if (named && never_twice(in, p, slot, trigger, name))
		return;
	format_time(slot, when, sizeof(when));
	switch (in->spec->concurrency) {
	case SPEC_CONCURRENCY_FORBID:
		if (busy(in, p)) {
			st->counters.skipped_overlap++;
			add_event(
			    p, PLAN_EVENT_NORMAL, "SkippedOverlap", 1,
			    "slot %s skipped: a run is still active (concurrencyPolicy Forbid)",
			    when);
			return;
		}
		break;
	case SPEC_CONCURRENCY_REPLACE:
		if (busy(in, p)) {
			if (delete_active(in, p))
				add_event(p, PLAN_EVENT_NORMAL, "Replacing", 1,
					  "slot %s: terminating the active runs first "
					  "(concurrencyPolicy Replace)",
					  when);
			st->pending_slot = slot;
			st->pending_trigger = trigger;
			return;
		}
		break;
	case SPEC_CONCURRENCY_ALLOW:
		break;
	}
	/* The slot is POSTed only once a status claiming it has landed: a
	 * crash after the POST then finds it claimed (lost at most, never
	 * twice). Normally the previous slot's write claimed it. */
	if (in->claim_gate && trigger == SPEC_TRIGGER_SCHEDULE &&
	    (in->claim_landed == SPEC_TIME_UNSET || slot > in->claim_landed)) {
		st->pending_slot = slot;
		st->pending_trigger = trigger;
		p->claim_first = true;
		return;
	}
	create_job(in, p, slot, trigger, NULL, NULL, 0);
}

static bool within_deadline(const struct spec *s, int64_t slot, int64_t now)
{
	return s->starting_deadline_seconds < 0 ||
	       now - slot <= s->starting_deadline_seconds * 1000;
}

static void count_missed(struct plan *p, int64_t n, int64_t latest, const char *why)
{
	char when[40];
	if (n <= 0)
		return;
	p->status.counters.missed += n;
	format_time(latest, when, sizeof(when));
	add_event(p, PLAN_EVENT_WARNING, "Missed", n, "%" PRId64 " slot%s missed (up to %s): %s", n,
		  n == 1 ? "" : "s", when, why);
}

/* Decides the slots in (cursor, now]. */
static void decide_due(const struct plan_input *in, struct plan *p, const struct source *src)
{
	const struct spec *s = in->spec;
	struct spec_status *st = &p->status;
	int64_t now = in->now;
	int64_t after = civil_floor_div(st->cursor, 1000);
	int64_t upto = civil_floor_div(now, 1000);
	int64_t count = 0, latest = -1, seen = -1;

	if (upto > after) {
		struct scan sc;
		scan_slots(src, after, upto, PLAN_SCAN_MAX, &sc);
		count = sc.fired;
		latest = sc.latest;
		seen = sc.last_seen;
		int64_t dropped = sc.uncovered;
		if (src->calendar) {
			/* Slots of the bare pattern that produced no fire were
			 * dropped by the calendar (rules or coverage). */
			struct source bare = {.spec = s, .zone = src->zone};
			struct scan ps;
			/* Only a statistic, walked right before a fire:
			 * a smaller budget (see PLAN_COUNT_MAX). */
			scan_slots(&bare, after, upto, PLAN_COUNT_MAX, &ps);
			dropped = max64(dropped, ps.fired - sc.fired);
			seen = max64(seen, ps.last_seen);
		}
		if (dropped > 0) {
			st->counters.skipped_calendar += dropped;
			add_event(p, sc.uncovered ? PLAN_EVENT_WARNING : PLAN_EVENT_NORMAL,
				  "SkippedCalendar", dropped, "%" PRId64 " slot%s not run: %s",
				  dropped, dropped == 1 ? "" : "s",
				  sc.uncovered ? "the calendar does not cover them"
					       : "not a day the calendar rules allow");
		}
		if (sc.uncovered > 0)
			not_covered(in, p, sc.missing_day);
	}

	int64_t pending = st->pending_slot;
	enum spec_trigger ptrig = st->pending_trigger;
	/* A waiting slot was considered, so it lies at or before the cursor;
	 * anything else is a status edited by hand: dropped. */
	if (pending != SPEC_TIME_UNSET && (pending < 0 || pending > st->cursor))
		pending = SPEC_TIME_UNSET;
	st->pending_slot = SPEC_TIME_UNSET;
	int64_t cand = SPEC_TIME_UNSET;
	enum spec_trigger ctrig = SPEC_TRIGGER_SCHEDULE;

	if (count > 0) {
		int64_t l = latest * 1000;
		if (pending != SPEC_TIME_UNSET) /* superseded by a newer slot */
			count_missed(p, 1, pending, "superseded by a newer slot");
		if (s->missed_policy == SPEC_MISSED_LATEST) {
			count_missed(p, count - 1, l,
				     "missedRunPolicy Latest runs only the most recent");
			if (within_deadline(s, l, now))
				cand = l;
			else
				count_missed(p, 1, l, "past startingDeadlineSeconds");
		} else {
			int64_t grace = s->starting_deadline_seconds >= 0
					    ? s->starting_deadline_seconds * 1000
					    : PLAN_NONE_GRACE_MS;
			if (count == 1 && now - l <= grace)
				cand = l;
			else
				count_missed(p, count, l, "missedRunPolicy None");
		}
	} else if (pending != SPEC_TIME_UNSET) {
		if (within_deadline(s, pending, now)) {
			cand = pending;
			ctrig = ptrig;
		} else {
			count_missed(p, 1, pending, "past startingDeadlineSeconds");
		}
	}
	/* Every slot up to now is decided. The cursor moves only when a slot
	 * passed, so a decision with nothing new yields the same status (no
	 * status write, no watch event, no loop). */
	if (seen >= 0)
		st->cursor = max64(st->cursor, seen * 1000);
	if (cand != SPEC_TIME_UNSET)
		run_slot(in, p, cand, ctrig);
}

static void set_calendar(const struct plan_input *in, struct plan *p, bool ok, const char *reason,
			 const char *msg);

/* Fail closed: the calendar lacks `day`, needed to place a slot. */
static void not_covered(const struct plan_input *in, struct plan *p, int64_t day)
{
	char d[16] = "?", msg[256];
	civil_format_date(day, d, sizeof(d));
	snprintf(msg, sizeof(msg),
		 "BusinessCalendar \"%s\" does not cover %s: slots that need it do not run "
		 "until the calendar is extended",
		 in->spec->calendar.name, d);
	set_calendar(in, p, false, "NotCovered", msg);
}

static void set_ready(const struct plan_input *in, struct plan *p, bool ok, const char *reason,
		      const char *msg)
{
	spec_status_set_condition(&p->status, TAKT_COND_READY, ok, reason, msg,
				  in->spec->generation, in->now);
}

static void set_calendar(const struct plan_input *in, struct plan *p, bool ok, const char *reason,
			 const char *msg)
{
	spec_status_set_condition(&p->status, TAKT_COND_CALENDAR_READY, ok, reason, msg,
				  in->spec->generation, in->now);
	if (ok)
		return;
	/* Failing closed is what a user must see at once (docs/api.md), not
	 * only when the skipped slots are counted later: one Warning Event
	 * when CalendarReady turns False or changes its reason. */
	const struct spec_condition *old =
	    spec_status_condition(in->status, TAKT_COND_CALENDAR_READY);
	if (old && old->status && !strcmp(old->status, "False") && old->reason &&
	    !strcmp(old->reason, reason))
		return;
	for (size_t i = 0; i < p->n_actions; i++)
		if (p->actions[i].kind == PLAN_EVENT && !strcmp(p->actions[i].reason, reason))
			return;
	add_event(p, PLAN_EVENT_WARNING, reason, 1, "%s", msg);
}

/* The retry attempts recorded claimed (claim_retry). Its Job there (or its
 * POST sent and answered by this process): the claim is spent. This
 * process's own landed claim, not POSTed yet: the POST leaves now, once.
 * Any other claim with no Job: the attempt may have been created by the
 * controller before this one and deleted since (ttlSecondsAfterFinished):
 * it is recorded Failed (RetryLost) and the run ends — never twice. */
static void decide_retry_claims(const struct plan_input *in, struct plan *p)
{
	struct spec_status *st = &p->status;
	for (size_t i = 0; i < st->n_recent; i++) {
		struct spec_run_record *rec = &st->recent[i];
		if (!rec->claimed)
			continue;
		const struct plan_attempt *at = attempt_of(in, rec->job);
		if (rec->result != SPEC_RESULT_ACTIVE || find_run(in, rec->job) ||
		    expected(in, rec->job) || in_active(st, rec->job) || (at && at->created)) {
			rec->claimed = false;
			continue;
		}
		bool mine = in->retry_claim_mine && !strcmp(in->retry_claim_mine, rec->job);
		if (mine && !at) {
			char first[SPEC_JOB_NAME_MAX + 1], prev[SPEC_JOB_NAME_MAX + 1];
			const struct spec_run_record *before = NULL;
			first_attempt_name(rec, first, sizeof(first));
			if (rec->attempt > 1 &&
			    !spec_attempt_job_name(first, rec->attempt - 1, prev, sizeof(prev)))
				before = find_record(st, prev);
			struct retry rt = {.kind = RETRY_AT};
			snprintf(rt.name, sizeof(rt.name), "%s", rec->job);
			rt.attempt = rec->attempt;
			/* start_retry adds the record again: take this one out
			 * (copied first: removal frees its strings). */
			struct spec_run_record base = *rec;
			if (before) {
				base = *before;
			} else {
				base.attempt = rec->attempt - 1;
				base.result = SPEC_RESULT_FAILED;
			}
			char job[SPEC_JOB_NAME_MAX + 1], bdate[SPEC_BUSINESS_DATE_SZ];
			char reason[256];
			snprintf(job, sizeof(job), "%s", base.job);
			snprintf(bdate, sizeof(bdate), "%s", base.business_date);
			snprintf(reason, sizeof(reason), "%s", base.reason ? base.reason : "");
			bool has_reason = base.reason != NULL;
			base.claimed = false;
			base.job = job;
			base.reason = has_reason ? reason : NULL;
			spec_status_remove_record(st, i);
			start_retry(in, p, &base, &rt);
			return; /* the records moved: one claim per decision */
		}
		rec->claimed = false;
		rec->result = SPEC_RESULT_FAILED;
		rec->completion = in->now;
		rec->has_exit_code = false;
		set_reason(rec, PLAN_RETRY_LOST);
		add_event(p, PLAN_EVENT_WARNING, PLAN_RETRY_LOST, 1,
			  "attempt %d (Job %s) lost: %s, and it is not there (it may have run and "
			  "been deleted); an attempt never runs twice, so the run ends here",
			  (int)rec->attempt, rec->job,
			  at ? "its create had no certain answer"
			     : "it may have been created by the controller before this one");
	}
}

/* Never twice for a run-now: its request is recorded (claimed, with its
 * Job name) in a status that lands before the POST, so a controller that
 * crashes after the POST and before recording the request handled leaves
 * the claim behind, and the next one does not create the Job again when it
 * is gone (ttlSecondsAfterFinished, a history trim, a user): the request is
 * lost instead. Returns true when the POST may leave now. */
static bool run_now_may_post(const struct plan_input *in, struct plan *p, const char *name)
{
	struct spec_status *st = &p->status;
	const struct plan_attempt *at = attempt_of(in, name);
	snprintf(p->run_now_job, sizeof(p->run_now_job), "%s", name);
	if (at && at->created) {
		/* Created by this process, gone before the status that
		 * records the request landed: the run started. */
		st->counters.runs_started++;
		p->run_now = PLAN_RUN_NOW_CREATED;
		return false;
	}
	const cJSON *rec = st->last_run_now;
	const char *rid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "requestId"));
	bool claimed = rid && !strcmp(rid, in->run_now) &&
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "claimed"));
	bool mine = in->run_now_claim_mine && !strcmp(in->run_now_claim_mine, in->run_now);
	if (!claimed && !at) {
		p->run_now = PLAN_RUN_NOW_CLAIMED;
		p->claim_first = true;
		return false;
	}
	if (claimed && !at && mine)
		return true;
	st->counters.missed++;
	p->run_now = PLAN_RUN_NOW_LOST;
	snprintf(p->run_now_refused, sizeof(p->run_now_refused),
		 "lost: its Job %s %s, and it is not there (it may have run and been deleted); "
		 "a run-now never runs twice",
		 name,
		 at ? "had a create with no certain answer"
		    : "may have been created by the controller before this one");
	return false;
}

/* The request's run is named after the request id; its slot (the run's
 * TAKT_SCHEDULED_TIME) is the second the request is answered in. */
static void run_now(const struct plan_input *in, struct plan *p)
{
	int64_t slot = civil_floor_div(in->now, 1000) * 1000;
	char name[SPEC_JOB_NAME_MAX + 1];
	if (spec_request_job_name(in->spec->name, in->run_now, name, sizeof(name))) {
		p->run_now = PLAN_RUN_NOW_REFUSED;
		snprintf(p->run_now_refused, sizeof(p->run_now_refused),
			 "the Job name would not fit %d characters", SPEC_JOB_NAME_MAX);
		return;
	}
	/* The request's run exists or is expected (its create went through,
	 * the status write did not): it is the answer (the name is the lock). */
	if (find_run(in, name) || in_active(&p->status, name)) {
		p->run_now = PLAN_RUN_NOW_CREATED;
		snprintf(p->run_now_job, sizeof(p->run_now_job), "%s", name);
		return;
	}
	const struct plan_create_failure *cf = failure_of(in, name);
	if (cf && plan_create_failure_permanent(cf)) {
		size_t k = (size_t)snprintf(p->run_now_refused, sizeof(p->run_now_refused),
					    "the apiserver refused its Job %s: ", name);
		failure_answer(cf, p->run_now_refused + k, sizeof(p->run_now_refused) - k);
		p->run_now = PLAN_RUN_NOW_REFUSED;
		return;
	}
	if (in->spec->concurrency == SPEC_CONCURRENCY_FORBID && busy(in, p)) {
		p->run_now = PLAN_RUN_NOW_REFUSED;
		snprintf(p->run_now_refused, sizeof(p->run_now_refused),
			 "a run is still active (concurrencyPolicy Forbid)");
		p->status.counters.skipped_overlap++;
		return;
	}
	if (in->spec->concurrency == SPEC_CONCURRENCY_REPLACE && busy(in, p)) {
		delete_active(in, p);
		/* Every slot up to now is decided by now: the cursor may cover
		 * the request's second, which keeps it a valid pending slot. */
		p->status.cursor = max64(p->status.cursor, slot);
		p->status.pending_slot = slot;
		p->status.pending_trigger = SPEC_TRIGGER_RUN_NOW;
		p->run_now = PLAN_RUN_NOW_CREATED;
		snprintf(p->run_now_job, sizeof(p->run_now_job), "%s", name);
		return;
	}
	if (in->claim_gate && !run_now_may_post(in, p, name))
		return;
	if (create_job(in, p, slot, SPEC_TRIGGER_RUN_NOW, in->run_now, p->run_now_job,
		       sizeof(p->run_now_job)))
		p->run_now = PLAN_RUN_NOW_CREATED;
}

/* The cursor lies beyond now + PLAN_CURSOR_SKEW_MS: no slot up to it can
 * have passed, so it was written while the clock ran ahead. Every slot
 * from now on is decided afresh; the slots between now and the old cursor
 * were decided under the wrong clock and count as nothing (what ran then
 * is tracked as the runs it left). A slot among them may therefore run
 * twice: better than no slot running until the clock reaches the cursor. */
static void distrust_cursor(struct plan *p, int64_t now)
{
	struct spec_status *st = &p->status;
	char cursor[40], at[40];
	format_time(st->cursor, cursor, sizeof(cursor));
	format_time(now, at, sizeof(at));
	add_event(p, PLAN_EVENT_WARNING, "ClockSkew", 1,
		  "status.lastSlotConsidered %s is %" PRId64
		  " s ahead of the clock (%s), more than the %lld s tolerated: it was written "
		  "by a clock that ran ahead; slots are decided again from now",
		  cursor, (st->cursor - now) / 1000, at, PLAN_CURSOR_SKEW_MS / 1000);
	st->cursor = now;
	st->pending_slot = SPEC_TIME_UNSET;
}

/* The status this plan writes claims every slot it creates or leaves
 * waiting, and the next slot: when that slot comes, its claim has landed
 * with this write and firing is one POST. The claim never moves back. */
static void claim(struct plan *p)
{
	struct spec_status *st = &p->status;
	st->claim = max64(st->claim, p->next_slot);
	st->claim = max64(st->claim, st->pending_slot);
	for (size_t i = 0; i < p->n_actions; i++)
		if (p->actions[i].kind == PLAN_CREATE_JOB &&
		    p->actions[i].trigger == SPEC_TRIGGER_SCHEDULE)
			st->claim = max64(st->claim, p->actions[i].slot);
}

static bool creates(const struct plan *p)
{
	for (size_t i = 0; i < p->n_actions; i++)
		if (p->actions[i].kind == PLAN_CREATE_JOB)
			return true;
	return false;
}

/* What the user sees of the failed creates fed in: a Warning Event
 * FailedCreate for each, and for one refused for good Ready=False
 * (FailedCreate, the apiserver's answer). That condition stays while no
 * create is planned, until a create succeeds (a plan that creates says
 * Ready=True/Valid, and is written only when its POSTs succeeded; else the
 * next decision is fed the new failure) or the spec is edited (the
 * condition describes the spec that was refused: its observedGeneration). */
static void report_create_failures(const struct plan_input *in, struct plan *p)
{
	char what[160], answer[1024];
	size_t ready_event = SIZE_MAX; /* the Event whose message Ready carries */
	for (size_t i = 0; i < in->n_create_failures; i++) {
		const struct plan_create_failure *f = &in->create_failures[i];
		char when[40];
		format_time(f->slot, when, sizeof(when));
		snprintf(what, sizeof(what), "Job %s (%s %s)", f->job_name ? f->job_name : "?",
			 f->trigger == SPEC_TRIGGER_RUN_NOW ? "run-now at" : "slot", when);
		failure_answer(f, answer, sizeof(answer));
		if (plan_create_failure_permanent(f)) {
			add_event(p, PLAN_EVENT_WARNING, "FailedCreate", 1,
				  "%s was refused by the apiserver: %s; not retried", what, answer);
			ready_event = p->n_actions - 1;
		} else {
			add_event(p, PLAN_EVENT_WARNING, "FailedCreate", 1,
				  "%s was not created: %s; retried while the slot is due", what,
				  answer);
		}
	}
	/* A plan that creates is written only when its creates succeeded:
	 * then they are the latest word, and Ready stays True/Valid. */
	if (creates(p))
		return;
	if (ready_event != SIZE_MAX) {
		set_ready(in, p, false, "FailedCreate", p->actions[ready_event].message);
		return;
	}
	const struct spec_condition *old = spec_status_condition(in->status, TAKT_COND_READY);
	if (old && old->status && !strcmp(old->status, "False") && old->reason &&
	    !strcmp(old->reason, "FailedCreate") &&
	    old->observed_generation == in->spec->generation)
		set_ready(in, p, false, "FailedCreate", old->message ? old->message : "");
}

/* A condition may be set more than once in one decision (CalendarReady:
 * loaded, then not covered); its lastTransitionTime moves only when the
 * final status differs from the persisted one. */
static void keep_transition_times(const struct spec_status *old, struct spec_status *st)
{
	for (size_t i = 0; i < st->n_conditions; i++) {
		struct spec_condition *c = &st->conditions[i];
		const struct spec_condition *o = spec_status_condition(old, c->type);
		if (o && o->status && o->last_transition != SPEC_TIME_UNSET &&
		    strcmp(o->status, c->status) == 0)
			c->last_transition = o->last_transition;
	}
}

static void plan_finish(const struct plan_input *in, struct plan *p)
{
	keep_transition_times(in->status, &p->status);
}

int plan_compute(const struct plan_input *in, struct plan *p)
{
	if (!in || !in->spec || !in->status || !in->spec->name)
		return -EINVAL;
	const struct spec *s = in->spec;
	struct spec_status *st = &p->status;
	int64_t now = in->now;
	char msg[512];

	plan_release(p);
	spec_status_copy(st, in->status);
	update_active(in, st);

	if (in->spec_error) {
		/* Nothing runs; the cursor restarts once the spec is fixed (that
		 * is an edit: the generation changes). */
		set_ready(in, p, false, "InvalidSpec", in->spec_error);
		st->observed_generation = s->generation;
		st->next_schedule_time = SPEC_TIME_UNSET;
		st->pending_slot = SPEC_TIME_UNSET;
		if (in->run_now) {
			p->run_now = PLAN_RUN_NOW_REFUSED;
			snprintf(p->run_now_refused, sizeof(p->run_now_refused),
				 "the spec is invalid");
		}
		plan_finish(in, p);
		return 0;
	}
	trim_outcome(in, p, true, s->successful_history_limit);
	trim_outcome(in, p, false, s->failed_history_limit);

	/* Calendar and zone. */
	bool cal_ok = true;
	const struct calendar *cal = NULL;
	if (s->has_calendar) {
		switch (in->calendar_state) {
		case PLAN_CALENDAR_OK:
			cal = in->calendar;
			cal_ok = cal != NULL && spec_zone(s, in->calendar_zone) != NULL;
			if (!cal_ok)
				snprintf(msg, sizeof(msg),
					 "BusinessCalendar \"%s\" has no usable time zone",
					 s->calendar.name);
			else
				snprintf(msg, sizeof(msg), "BusinessCalendar \"%s\" is loaded",
					 s->calendar.name);
			set_calendar(in, p, cal_ok, cal_ok ? "CalendarLoaded" : "CalendarInvalid",
				     msg);
			break;
		case PLAN_CALENDAR_MISSING:
			cal_ok = false;
			snprintf(msg, sizeof(msg), "BusinessCalendar \"%s\" not found",
				 s->calendar.name);
			set_calendar(in, p, false, "CalendarNotFound", msg);
			break;
		case PLAN_CALENDAR_INVALID:
			cal_ok = false;
			snprintf(msg, sizeof(msg), "BusinessCalendar \"%s\" is invalid: %s",
				 s->calendar.name,
				 in->calendar_error ? in->calendar_error : "unknown reason");
			set_calendar(in, p, false, "CalendarInvalid", msg);
			break;
		}
	} else {
		set_calendar(in, p, true, "NoCalendar", "no calendar: every day counts");
	}
	p->zone = spec_zone(s, cal_ok ? in->calendar_zone : NULL);
	free(st->time_zone);
	st->time_zone = p->zone ? xstrdup(tz_name(p->zone)) : NULL;
	snprintf(msg, sizeof(msg), "schedule \"%s\" in %s", s->schedule,
		 p->zone ? tz_name(p->zone) : "the calendar's zone");
	set_ready(in, p, true, "Valid", msg);
	record_runs(in, p);
	/* Before the slots: under Forbid a cancelled retry no longer holds
	 * them back. */
	cancel_retries(in, p);

	/* The cursor: first sight and every edit restart it at now; so does a
	 * cursor from a clock that ran ahead. */
	if (st->observed_generation != s->generation || st->cursor == SPEC_TIME_UNSET) {
		st->cursor = now;
		st->pending_slot = SPEC_TIME_UNSET;
	} else if (st->cursor > now + PLAN_CURSOR_SKEW_MS) {
		distrust_cursor(p, now);
	}
	st->observed_generation = s->generation;

	struct source src = {.spec = s, .zone = p->zone, .calendar = cal};

	if (s->suspend) {
		spec_status_set_condition(st, TAKT_COND_SUSPENDED, true, "Suspended",
					  "spec.suspend is true: no slot runs", s->generation, now);
		/* The cursor stays: resuming is an edit, which restarts it. */
		st->pending_slot = SPEC_TIME_UNSET;
		st->next_schedule_time = SPEC_TIME_UNSET;
	} else {
		spec_status_set_condition(st, TAKT_COND_SUSPENDED, false, "Active",
					  "slots run as scheduled", s->generation, now);
		if (!cal_ok) {
			/* Fail closed: the slots pass without running, counted. */
			int64_t after = civil_floor_div(st->cursor, 1000);
			int64_t upto = civil_floor_div(now, 1000);
			int64_t n = 0;
			if (upto > after) {
				/* Counted in the schedule's own zone, or UTC when
				 * that zone is the (unknown) calendar's. */
				struct source bare = {.spec = s, .zone = spec_zone(s, NULL)};
				struct scan sc;
				scan_slots(&bare, after, upto, PLAN_COUNT_MAX, &sc);
				n = sc.fired;
				if (sc.last_seen >= 0)
					st->cursor = max64(st->cursor, sc.last_seen * 1000);
			}
			if (n > 0) {
				st->counters.skipped_calendar += n;
				add_event(p, PLAN_EVENT_WARNING, "SkippedCalendar", n,
					  "%" PRId64 " slot%s not run: the calendar is not ready",
					  n, n == 1 ? "" : "s");
			}
			st->pending_slot = SPEC_TIME_UNSET;
			st->next_schedule_time = SPEC_TIME_UNSET;
		} else {
			decide_due(in, p, &src);
		}
	}

	if (in->run_now)
		run_now(in, p);
	/* Retries go on while the schedule is suspended or its calendar is
	 * not ready: they belong to a run already started. */
	if (in->claim_gate)
		decide_retry_claims(in, p);
	int64_t retry_wake = decide_retries(in, p);

	/* The next slot: strictly after both the cursor and now, so a clock
	 * stepped back never fires a slot twice. */
	p->wake = SPEC_TIME_UNSET;
	if (!s->suspend && cal_ok) {
		int64_t after = civil_floor_div(max64(st->cursor, now), 1000), next, missing = 0;
		int rc = source_next(&src, after, &next, &missing);
		st->next_schedule_time = SPEC_TIME_UNSET;
		if (rc == SRC_OK) {
			st->next_schedule_time = next * 1000;
			p->next_slot = p->wake = next * 1000;
		} else if (rc == SRC_NOT_COVERED) {
			/* Nothing can fire until the calendar changes, and its
			 * changes arrive through the watch: no wake-up. */
			not_covered(in, p, missing);
		}
		/* A Replace slot waiting for the old runs: decide it again when
		 * its deadline passes, even if nothing else happens. */
		if (st->pending_slot != SPEC_TIME_UNSET && s->starting_deadline_seconds >= 0) {
			int64_t dl = st->pending_slot + s->starting_deadline_seconds * 1000 + 1;
			if (p->wake == SPEC_TIME_UNSET || dl < p->wake)
				p->wake = dl;
		}
	}
	if (retry_wake != SPEC_TIME_UNSET && (p->wake == SPEC_TIME_UNSET || retry_wake < p->wake))
		p->wake = retry_wake;
	trim_history(in, p);
	claim(p);
	report_create_failures(in, p);
	plan_finish(in, p);
	return 0;
}

bool plan_may_wait(const struct plan *p, const struct spec_status *base, int64_t now)
{
	if (p->next_slot == SPEC_TIME_UNSET || p->wake != p->next_slot ||
	    p->next_slot - now > PLAN_WAIT_MS || p->run_now != PLAN_RUN_NOW_NONE)
		return false;
	for (size_t i = 0; i < p->n_actions; i++) {
		const struct plan_action *a = &p->actions[i];
		if (a->kind != PLAN_DELETE_JOB || a->propagation != PLAN_PROPAGATION_BACKGROUND)
			return false;
	}
	/* Compared as written, less the fields that follow the runs: any
	 * other difference, including fields added later, writes. */
	/* recentRuns: a settled attempt is settled again, the same, by the
	 * slot's plan (record_runs is a function of the runs it is shown). */
	static const enum takt_status_field follow[] = {
	    TAKT_ST_ACTIVE,	 TAKT_ST_ACTIVE_COUNT,	       TAKT_ST_RUNS_SUCCEEDED,
	    TAKT_ST_RUNS_FAILED, TAKT_ST_LAST_SUCCESSFUL_TIME, TAKT_ST_RECENT_RUNS};
	cJSON *a = spec_status_to_json(&p->status);
	cJSON *b = spec_status_to_json(base);
	for (size_t i = 0; i < sizeof(follow) / sizeof(follow[0]); i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(a, takt_status_field_name(follow[i]));
		cJSON_DeleteItemFromObjectCaseSensitive(b, takt_status_field_name(follow[i]));
	}
	bool same = cJSON_Compare(a, b, 1);
	cJSON_Delete(a);
	cJSON_Delete(b);
	return same;
}
