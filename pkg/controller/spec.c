/* BatchSchedule spec and status parsing, and the Job built for a slot. */
#include "controller/spec.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/intern.h"
#include "base/xalloc.h"
#include "controller/names.h"
#include "calendar/calsched.h"
#include "cron/cron.h"
#include "tz/civil.h"
#include "tz/tz.h"

#include "base/errmsg.h"
#include "base/banned.h"

#define DEFAULT_SUCCESS 3
#define DEFAULT_FAILED	1
/* cJSON keeps numbers as doubles: integers beyond 2^53 are not exact. */
#define JSON_INT_MAX 9007199254740992.0

static const char *const trigger_names[] = {"schedule", "run-now", "retry", "rerun"};

const char *spec_trigger_name(enum spec_trigger t)
{
	BUG_ON((unsigned)t >= sizeof(trigger_names) / sizeof(trigger_names[0]));
	return trigger_names[t];
}

int spec_trigger_parse(const char *s, enum spec_trigger *out)
{
	for (size_t i = 0; i < sizeof(trigger_names) / sizeof(trigger_names[0]); i++) {
		if (s && strcmp(s, trigger_names[i]) == 0) {
			*out = (enum spec_trigger)i;
			return 0;
		}
	}
	return -1;
}

void spec_init(struct spec *s)
{
	memset(s, 0, sizeof(*s));
	s->starting_deadline_seconds = -1;
	s->successful_history_limit = DEFAULT_SUCCESS;
	s->failed_history_limit = DEFAULT_FAILED;
	s->run_history_limit = SPEC_HISTORY_DEFAULT;
}

const struct spec_retry *spec_retry(const struct spec *s)
{
	static const struct spec_retry none;
	return s->retry ? s->retry : &none;
}

/* Parsed schedules shared by text (issue 15): a parsed expression is
 * immutable (cron.h) and 168 bytes, and a bank's 10,000 schedules have a few
 * hundred distinct texts. Process-wide, loop thread only (as intern.h). */
struct shared_cron {
	size_t refs;
	struct cron_expr *e;
};
static struct hmap *crons; /* text -> struct shared_cron; NULL when empty */

/* `text` is interned (the spec's schedule): the map borrows it, and every
 * spec holding the expression holds a reference on the text too. */
static int cron_share(const char *text, struct cron_expr **out, char *err, size_t errlen)
{
	struct shared_cron *c = crons ? hmap_get(crons, text) : NULL;
	if (!c) {
		struct cron_expr *e;
		int rc = cron_parse(text, &e, err, errlen);
		if (rc)
			return rc;
		if (!crons)
			crons = hmap_new_borrowed();
		c = xcalloc(1, sizeof(*c));
		c->e = e;
		hmap_put(crons, text, c);
	}
	c->refs++;
	*out = c->e;
	return 0;
}

static void cron_unshare(const char *text, struct cron_expr *e)
{
	struct shared_cron *c = crons && text ? hmap_get(crons, text) : NULL;
	if (!c || c->e != e) {
		takt_bug(__FILE__, __LINE__, "a spec's cron not from cron_share");
		return; /* not reached: for cppcheck, which does not read _Noreturn */
	}
	if (--c->refs)
		return;
	hmap_del(crons, text);
	cron_free(c->e);
	free(c);
	if (hmap_len(crons) == 0) {
		hmap_free(crons, NULL);
		crons = NULL;
	}
}

void spec_release(struct spec *s)
{
	free(s->name);
	intern_drop(s->namespace);
	free(s->uid);
	if (s->cron)
		cron_unshare(s->schedule, s->cron);
	intern_drop(s->schedule);
	intern_drop(s->time_zone);
	if (s->zone)
		tz_free(s->zone);
	intern_drop(s->calendar.name);
	free(s->job_template);
	free(s->ann_kill);
	free(s->ann_kill_grace_seconds);
	free(s->ann_run_now);
	free(s->retry);
	spec_init(s);
}

/* ---- small JSON readers ------------------------------------------------ */

static const cJSON *field(const cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static const char *string_field(const cJSON *obj, const char *key)
{
	const cJSON *v = field(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool json_integer(const cJSON *v, int64_t *out)
{
	if (!cJSON_IsNumber(v))
		return false;
	double d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || d > JSON_INT_MAX || d < -JSON_INT_MAX)
		return false;
	*out = (int64_t)d;
	return true;
}

/* Sets the message and yields -EINVAL, so a failure is one statement. */
#define fail(err, errlen, ...) (errmsg_set((err), (errlen), __VA_ARGS__), -EINVAL)

/* Reads an optional string that must be one of `names` (NULL-terminated); the
 * index goes to *out, which keeps its default when the field is absent. */
static int parse_enum(const cJSON *obj, const char *key, const char *path, const char *const *names,
		      int *out, char *err, size_t errlen)
{
	const cJSON *v = field(obj, key);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsString(v)) {
		for (int i = 0; names[i]; i++) {
			if (strcmp(v->valuestring, names[i]) == 0) {
				*out = i;
				return 0;
			}
		}
	}
	char list[128] = "";
	size_t len = 0;
	for (int i = 0; names[i]; i++) {
		int n = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", names[i]);
		if (n < 0 || (size_t)n >= sizeof(list) - len)
			break;
		len += (size_t)n;
	}
	if (cJSON_IsString(v))
		return fail(err, errlen, "%s: \"%s\" is not one of %s", path, v->valuestring, list);
	return fail(err, errlen, "%s: must be a string, one of %s", path, list);
}

/* An optional integer >= 0 (and <= max); absent leaves *out. */
static int parse_count(const cJSON *obj, const char *key, const char *path, int64_t max,
		       int64_t *out, char *err, size_t errlen)
{
	const cJSON *v = field(obj, key);
	if (!v || cJSON_IsNull(v))
		return 0;
	int64_t n;
	if (!json_integer(v, &n))
		return fail(err, errlen, "%s: must be an integer", path);
	if (n < 0)
		return fail(err, errlen, "%s: %" PRId64 " must be >= 0", path, n);
	if (n > max)
		return fail(err, errlen, "%s: %" PRId64 " must be <= %" PRId64, path, n, max);
	*out = n;
	return 0;
}

static char *dup_opt(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* ---- spec ---------------------------------------------------------------- */

static int parse_metadata(const cJSON *obj, struct spec *s, char *err, size_t errlen)
{
	const cJSON *md = field(obj, "metadata");
	if (!cJSON_IsObject(md))
		return fail(err, errlen, "metadata: missing");
	const char *name = string_field(md, "name");
	if (!name || !*name)
		return fail(err, errlen, "metadata.name: missing");
	s->name = xstrdup(name);
	s->namespace = intern(string_field(md, "namespace"));
	s->uid = dup_opt(string_field(md, "uid"));
	int64_t gen = 0;
	if (json_integer(field(md, "generation"), &gen) && gen > 0)
		s->generation = gen;
	const cJSON *ann = field(md, "annotations");
	s->ann_kill = dup_opt(string_field(ann, TAKT_ANN_KILL));
	s->ann_kill_grace_seconds = dup_opt(string_field(ann, TAKT_ANN_KILL_GRACE));
	s->ann_run_now = dup_opt(string_field(ann, TAKT_ANN_RUN_NOW));
	if (strlen(name) > SPEC_SCHEDULE_NAME_MAX)
		return fail(err, errlen,
			    "metadata.name: \"%s\" is too long: Job names "
			    "\"<name>-<unix-seconds>\" must fit %d characters",
			    name, SPEC_JOB_NAME_MAX);
	return 0;
}

static int parse_calendar(const cJSON *cal, struct spec *s, char *err, size_t errlen)
{
	char sub[256];
	if (!cJSON_IsObject(cal))
		return fail(err, errlen, "spec.calendar: must be an object");
	const char *name = string_field(cal, "name");
	if (!name || !*name)
		return fail(err, errlen, "spec.calendar.name: missing");
	s->has_calendar = true;
	s->calendar.name = intern(name);
	/* The calendar module owns the rules' grammar; its messages name the
	 * field from "calendar." on. */
	if (calsched_rules_from_json(cal, &s->calendar.rules, sub, sizeof(sub)) ||
	    calsched_validate(&s->calendar.rules, s->cron, sub, sizeof(sub))) {
		if (strncmp(sub, "calendar", 8) == 0)
			return fail(err, errlen, "spec.%s", sub);
		return fail(err, errlen, "spec.calendar: %s", sub);
	}
	return 0;
}

/* A duration as in "30m", "90s", "1h30m": whole hours, minutes and
 * seconds, each unit at most once and in that order; at most 7 days. */
static int parse_duration(const char *t, int64_t *out)
{
	static const char units[] = "hms";
	static const int64_t mult[] = {3600, 60, 1};
	int64_t total = 0;
	size_t next_unit = 0;
	const char *p = t;
	if (!*p)
		return -1;
	while (*p) {
		int64_t n = 0;
		const char *d = p;
		while (*p >= '0' && *p <= '9') {
			if (n > 1000000)
				return -1;
			n = n * 10 + (*p - '0');
			p++;
		}
		if (p == d)
			return -1;
		const char *u = *p ? strchr(units + next_unit, *p) : NULL;
		if (!u)
			return -1;
		next_unit = (size_t)(u - units) + 1;
		total += n * mult[u - units];
		p++;
	}
	if (total > 7 * 86400)
		return -1;
	*out = total;
	return 0;
}

/* A local time of day "HH:MM" or "HH:MM:SS" (00:00 to 23:59:59). */
static int parse_clock(const char *t, int64_t *out)
{
	int v[3] = {0, 0, 0}, n = 0;
	const char *p = t;
	for (;;) {
		if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
			return -1;
		v[n++] = (p[0] - '0') * 10 + (p[1] - '0');
		p += 2;
		if (!*p)
			break;
		if (*p != ':' || n == 3)
			return -1;
		p++;
	}
	if (n < 2 || v[0] > 23 || v[1] > 59 || v[2] > 59)
		return -1;
	*out = v[0] * 3600 + v[1] * 60 + v[2];
	return 0;
}

static int parse_retry(const cJSON *r, struct spec *s, char *err, size_t errlen)
{
	struct spec_retry *rt = s->retry = xcalloc(1, sizeof(*rt));
	const cJSON *it;
	int64_t n;
	if (!cJSON_IsObject(r))
		return fail(err, errlen, "spec.retry: must be an object");
	const cJSON *after = field(r, "after");
	if (after && !cJSON_IsNull(after)) {
		if (!cJSON_IsArray(after))
			return fail(err, errlen, "spec.retry.after: must be a list");
		size_t i = 0;
		cJSON_ArrayForEach(it, after)
		{
			if (i == SPEC_RETRY_STEPS_MAX)
				return fail(err, errlen, "spec.retry.after: at most %d entries",
					    SPEC_RETRY_STEPS_MAX);
			struct spec_retry_step *st = &rt->after[i];
			const char *t = cJSON_IsString(it) ? it->valuestring : NULL;
			if (t && strchr(t, ':')) {
				st->local = true;
				if (parse_clock(t, &st->seconds))
					return fail(err, errlen,
						    "spec.retry.after[%zu]: \"%s\" is not a local "
						    "time HH:MM[:SS] (00:00 to 23:59:59)",
						    i, t);
			} else if (!t || parse_duration(t, &st->seconds)) {
				return fail(err, errlen,
					    "spec.retry.after[%zu]: %s%s%s is neither a duration "
					    "(\"30m\", \"90s\", \"1h30m\"; at most 7 days) nor a "
					    "local time HH:MM[:SS]",
					    i, t ? "\"" : "", t ? t : "a non-string",
					    t ? "\"" : "");
			}
			i++;
		}
		rt->n_after = i;
	}
	int64_t limit = (int64_t)rt->n_after;
	if (parse_count(r, "limit", "spec.retry.limit", SPEC_RETRY_LIMIT_MAX, &limit, err, errlen))
		return -EINVAL;
	if (limit > 0 && rt->n_after == 0)
		return fail(err, errlen,
			    "spec.retry.after: at least one entry is needed for limit %" PRId64,
			    limit);
	rt->limit = (int32_t)limit;
	const char *na = string_field(r, "notAfter");
	const cJSON *nav = field(r, "notAfter");
	if (nav && !cJSON_IsNull(nav)) {
		if (!na || parse_clock(na, &rt->not_after))
			return fail(err, errlen,
				    "spec.retry.notAfter: must be a local time HH:MM[:SS] "
				    "(00:00 to 23:59:59)");
		rt->has_not_after = true;
	}
	const cJSON *codes = field(r, "onExitCodes");
	if (codes && !cJSON_IsNull(codes)) {
		if (!cJSON_IsArray(codes))
			return fail(err, errlen, "spec.retry.onExitCodes: must be a list");
		size_t i = 0;
		cJSON_ArrayForEach(it, codes)
		{
			if (i == SPEC_EXIT_CODES_MAX)
				return fail(err, errlen,
					    "spec.retry.onExitCodes: at most %d entries",
					    SPEC_EXIT_CODES_MAX);
			if (!json_integer(it, &n) || n < 0 || n > 255)
				return fail(err, errlen,
					    "spec.retry.onExitCodes[%zu]: must be an exit code "
					    "0-255",
					    i);
			rt->exit_codes[i++] = (int32_t)n;
		}
		rt->n_exit_codes = i;
	}
	return 0;
}

bool spec_retry_exit_code_matches(const struct spec_retry *r, bool known, int32_t code)
{
	if (r->n_exit_codes == 0)
		return true;
	for (size_t i = 0; known && i < r->n_exit_codes; i++)
		if (r->exit_codes[i] == code)
			return true;
	return false;
}

int spec_parse(const cJSON *obj, struct spec *s, char *err, size_t errlen)
{
	static const char *const conc[] = {"Forbid", "Allow", "Replace", NULL};
	static const char *const missed[] = {"Latest", "None", NULL};
	char sub[256];
	int rc;

	spec_init(s);
	if (err && errlen)
		err[0] = '\0';
	if (!cJSON_IsObject(obj))
		return fail(err, errlen, "object: not a JSON object");
	if ((rc = parse_metadata(obj, s, err, errlen)))
		return rc;
	const cJSON *sp = field(obj, "spec");
	if (!cJSON_IsObject(sp))
		return fail(err, errlen, "spec: missing");

	const cJSON *sched = field(sp, "schedule");
	if (!sched || cJSON_IsNull(sched))
		return fail(err, errlen, "spec.schedule: missing");
	if (!cJSON_IsString(sched))
		return fail(err, errlen, "spec.schedule: must be a string");
	s->schedule = intern(sched->valuestring);
	if (cron_share(s->schedule, &s->cron, sub, sizeof(sub)))
		return fail(err, errlen, "spec.schedule: %s", sub);

	const cJSON *tzv = field(sp, "timeZone");
	if (tzv && !cJSON_IsNull(tzv)) {
		if (!cJSON_IsString(tzv))
			return fail(err, errlen, "spec.timeZone: must be a string");
		s->time_zone = intern(tzv->valuestring);
	}
	const cJSON *cal = field(sp, "calendar");
	if (cal && !cJSON_IsNull(cal) && (rc = parse_calendar(cal, s, err, errlen)))
		return rc;
	/* Without spec.timeZone the zone is the calendar's: only known once the
	 * calendar is, so it stays NULL here (spec_zone). */
	if (s->time_zone || !s->has_calendar) {
		if (tz_load(s->time_zone ? s->time_zone : "UTC", &s->zone, sub, sizeof(sub)))
			return fail(err, errlen, "spec.timeZone: %s", sub);
	}

	int c = SPEC_CONCURRENCY_FORBID, m = SPEC_MISSED_LATEST;
	if (parse_enum(sp, "concurrencyPolicy", "spec.concurrencyPolicy", conc, &c, err, errlen))
		return -EINVAL;
	s->concurrency = (enum spec_concurrency)c;
	/* 100 years: anything longer means "no deadline" and would only
	 * overflow the millisecond arithmetic. */
	if (parse_count(sp, "startingDeadlineSeconds", "spec.startingDeadlineSeconds",
			INT64_C(3155760000), &s->starting_deadline_seconds, err, errlen))
		return -EINVAL;
	if (parse_enum(sp, "missedRunPolicy", "spec.missedRunPolicy", missed, &m, err, errlen))
		return -EINVAL;
	s->missed_policy = (enum spec_missed_policy)m;
	const cJSON *susp = field(sp, "suspend");
	if (susp && !cJSON_IsNull(susp)) {
		if (!cJSON_IsBool(susp))
			return fail(err, errlen, "spec.suspend: must be true or false");
		s->suspend = cJSON_IsTrue(susp);
	}
	int64_t lim = s->successful_history_limit;
	if (parse_count(sp, "successfulJobsHistoryLimit", "spec.successfulJobsHistoryLimit",
			INT32_MAX, &lim, err, errlen))
		return -EINVAL;
	s->successful_history_limit = (int32_t)lim;
	lim = s->failed_history_limit;
	if (parse_count(sp, "failedJobsHistoryLimit", "spec.failedJobsHistoryLimit", INT32_MAX,
			&lim, err, errlen))
		return -EINVAL;
	s->failed_history_limit = (int32_t)lim;
	lim = s->run_history_limit;
	if (parse_count(sp, "runHistoryLimit", "spec.runHistoryLimit", SPEC_HISTORY_MAX, &lim, err,
			errlen))
		return -EINVAL;
	s->run_history_limit = (int32_t)lim;
	const cJSON *retry = field(sp, "retry");
	if (retry && !cJSON_IsNull(retry) && (rc = parse_retry(retry, s, err, errlen)))
		return rc;

	const cJSON *jt = field(sp, "jobTemplate");
	if (!jt || cJSON_IsNull(jt))
		return fail(err, errlen, "spec.jobTemplate: missing");
	if (!cJSON_IsObject(jt))
		return fail(err, errlen, "spec.jobTemplate: must be an object");
	if (!cJSON_IsObject(field(jt, "spec")))
		return fail(err, errlen, "spec.jobTemplate.spec: missing");
	const cJSON *jmd = field(jt, "metadata");
	if (jmd && !cJSON_IsNull(jmd) && !cJSON_IsObject(jmd))
		return fail(err, errlen, "spec.jobTemplate.metadata: must be an object");
	/* Kept serialized (a few hundred bytes instead of a tree of ~40
	 * nodes): it is read only when a Job is built. */
	s->job_template = cJSON_PrintUnformatted(jt);
	if (!s->job_template)
		return fail(err, errlen, "spec.jobTemplate: out of memory");
	return 0;
}

const struct tz *spec_zone(const struct spec *s, const struct tz *calendar_zone)
{
	if (s->time_zone || !s->has_calendar)
		return s->zone;
	return calendar_zone;
}

int spec_job_name(const char *schedule_name, int64_t slot_ms, char *out, size_t outsz)
{
	if (slot_ms < 0)
		return -ERANGE;
	int n = snprintf(out, outsz, "%s-%" PRId64, schedule_name, slot_ms / 1000);
	if (n < 0 || (size_t)n >= outsz || n > SPEC_JOB_NAME_MAX)
		return -ERANGE;
	return 0;
}

/* The request id's hash as n characters of [0-9a-v] (64-bit FNV-1a, its top
 * bits, 5 at a time: FNV's high bits mix best). */
static void request_hash(const char *request_id, char *out, int n)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
	uint64_t h = 14695981039346656037ULL;
	for (const char *c = request_id; *c; c++) {
		h ^= (unsigned char)*c;
		h *= 1099511628211ULL;
	}
	for (int i = 0; i < n; i++)
		out[i] = digits[(h >> (59 - 5 * i)) & 31];
	out[n] = 0;
}

int spec_rerun_job_name(const char *schedule_name, int64_t slot_ms, const char *request_id,
			char *out, size_t outsz)
{
	char suffix[7];
	if (!request_id || !*request_id)
		return -EINVAL;
	if (slot_ms < 0)
		return -ERANGE;
	request_hash(request_id, suffix, 6);
	int n = snprintf(out, outsz, "%s-%" PRId64 "-r%s", schedule_name, slot_ms / 1000, suffix);
	if (n < 0 || (size_t)n >= outsz || n > SPEC_JOB_NAME_MAX)
		return -ERANGE;
	return 0;
}

int spec_request_job_name(const char *schedule_name, const char *request_id, char *out,
			  size_t outsz)
{
	char suffix[9];
	if (!request_id || !*request_id)
		return -EINVAL;
	request_hash(request_id, suffix, 8);
	int n = snprintf(out, outsz, "%s-r-%s", schedule_name, suffix);
	if (n < 0 || (size_t)n >= outsz || n > SPEC_JOB_NAME_MAX)
		return -ERANGE;
	return 0;
}

/* ---- the Job --------------------------------------------------------------- */

/* obj[key] as an object, created (or replacing a non-object) when needed. */
static cJSON *ensure_object(cJSON *obj, const char *key)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsObject(v))
		return v;
	if (v)
		cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	return cJSON_AddObjectToObject(obj, key);
}

static void set_string(cJSON *obj, const char *key, const char *value)
{
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	cJSON_AddStringToObject(obj, key, value);
}

struct env_kv {
	const char *name;
	const char *value;
};

/* Our variables come first so that the user's own entries can refer to them
 * with $(TAKT_RUN_ID); same-named user entries are dropped (ours win). */
static void inject_env(cJSON *containers, const struct env_kv *env, size_t n)
{
	cJSON *c;
	if (!cJSON_IsArray(containers))
		return;
	cJSON_ArrayForEach(c, containers)
	{
		if (!cJSON_IsObject(c))
			continue;
		cJSON *fresh = cJSON_CreateArray();
		for (size_t i = 0; i < n; i++) {
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "name", env[i].name);
			cJSON_AddStringToObject(e, "value", env[i].value);
			cJSON_AddItemToArray(fresh, e);
		}
		cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(c, "env");
		if (cJSON_IsArray(old)) {
			while (old->child) {
				cJSON *e = cJSON_DetachItemViaPointer(old, old->child);
				const char *nm = string_field(e, "name");
				bool ours = false;
				for (size_t i = 0; nm && i < n; i++)
					ours = ours || strcmp(nm, env[i].name) == 0;
				if (ours)
					cJSON_Delete(e);
				else
					cJSON_AddItemToArray(fresh, e);
			}
		}
		cJSON_Delete(old);
		cJSON_AddItemToObject(c, "env", fresh);
	}
}

int spec_attempt_job_name(const char *first, int32_t attempt, char *out, size_t outsz)
{
	if (attempt < 2)
		return -ERANGE;
	int n = snprintf(out, outsz, "%s-%" PRId32, first, attempt);
	if (n < 0 || (size_t)n >= outsz || n > SPEC_JOB_NAME_MAX)
		return -ERANGE;
	return 0;
}

/* The Job of any attempt: `retry_name` NULL for a first attempt (named
 * after the slot or the request), else the retry's name, its attempt and
 * the run's recorded business date ("" or NULL: computed). */
static int build_job(const struct spec *s, const struct tz *zone, int64_t slot_ms,
		     enum spec_trigger trigger, const char *request_id, const char *retry_name,
		     const char *business_date, int32_t attempt, cJSON **out, char *err,
		     size_t errlen)
{
	char name[SPEC_JOB_NAME_MAX + 1], when_ms[40], when[40], date[16], att[16];

	*out = NULL;
	if (!s->name || !s->job_template)
		return fail(err, errlen, "job: the schedule has no valid spec");
	if (retry_name) {
		if (attempt < 2 || strlen(retry_name) > SPEC_JOB_NAME_MAX)
			return fail(err, errlen, "job: retry \"%s\" attempt %" PRId32 " is invalid",
				    retry_name, attempt);
		snprintf(name, sizeof(name), "%s", retry_name);
		trigger = SPEC_TRIGGER_RETRY;
	} else if (trigger == SPEC_TRIGGER_RUN_NOW) {
		if (!request_id || !*request_id)
			return fail(err, errlen,
				    "job: a run-now run is named after its request id");
		if (spec_request_job_name(s->name, request_id, name, sizeof(name)))
			return fail(err, errlen,
				    "metadata.name: \"%s\" is too long: Job names "
				    "\"<name>-r-<request hash>\" must fit %d characters",
				    s->name, SPEC_JOB_NAME_MAX);
	} else if (trigger == SPEC_TRIGGER_RERUN) {
		if (!request_id || !*request_id)
			return fail(err, errlen, "job: a rerun is named after its request id");
		if (spec_rerun_job_name(s->name, slot_ms, request_id, name, sizeof(name)))
			return fail(
			    err, errlen,
			    "metadata.name: \"%s\" is too long: rerun Job names "
			    "\"<name>-<unix-seconds>-r<request hash>\" must fit %d characters",
			    s->name, SPEC_JOB_NAME_MAX);
	} else if (spec_job_name(s->name, slot_ms, name, sizeof(name))) {
		return fail(err, errlen,
			    "metadata.name: \"%s\" is too long: Job names "
			    "\"<name>-<unix-seconds>\" must fit %d characters",
			    s->name, SPEC_JOB_NAME_MAX);
	}
	int64_t secs = slot_ms / 1000;
	int64_t local = zone ? tz_utc_to_local(zone, secs) : secs;
	if (rfc3339_format(slot_ms, true, when_ms, sizeof(when_ms)) < 0 ||
	    rfc3339_format(slot_ms, slot_ms % 1000 != 0, when, sizeof(when)) < 0 ||
	    civil_format_date(civil_floor_div(local, 86400), date, sizeof(date)) < 0)
		return fail(err, errlen, "job: slot %" PRId64 " ms cannot be formatted", slot_ms);
	if (business_date && *business_date)
		snprintf(date, sizeof(date), "%s", business_date);
	snprintf(att, sizeof(att), "%" PRId32, attempt < 1 ? 1 : attempt);

	cJSON *jt = cJSON_Parse(s->job_template);
	if (!cJSON_IsObject(jt)) {
		cJSON_Delete(jt);
		return fail(err, errlen, "job: the schedule's jobTemplate does not parse");
	}
	cJSON *job = cJSON_CreateObject();
	cJSON_AddStringToObject(job, "apiVersion", "batch/v1");
	cJSON_AddStringToObject(job, "kind", "Job");
	cJSON *md = cJSON_AddObjectToObject(job, "metadata");
	cJSON_AddStringToObject(md, "name", name);
	if (s->namespace)
		cJSON_AddStringToObject(md, "namespace", s->namespace);

	const cJSON *tmd = field(jt, "metadata");
	const cJSON *tl = field(tmd, "labels");
	const cJSON *ta = field(tmd, "annotations");
	cJSON *labels = cJSON_IsObject(tl) ? cJSON_Duplicate(tl, 1) : cJSON_CreateObject();
	cJSON *anns = cJSON_IsObject(ta) ? cJSON_Duplicate(ta, 1) : cJSON_CreateObject();
	cJSON_AddItemToObject(md, "labels", labels);
	cJSON_AddItemToObject(md, "annotations", anns);
	set_string(labels, TAKT_LABEL_SCHEDULE, s->name);
	set_string(anns, TAKT_ANN_SCHEDULED, when_ms);
	set_string(anns, TAKT_ANN_TRIGGER, spec_trigger_name(trigger));
	if (trigger == SPEC_TRIGGER_RUN_NOW || trigger == SPEC_TRIGGER_RERUN)
		set_string(anns, TAKT_ANN_REQUEST, request_id);
	if (retry_name)
		set_string(anns, TAKT_ANN_ATTEMPT, att);

	cJSON *owners = cJSON_AddArrayToObject(md, "ownerReferences");
	cJSON *ref = cJSON_CreateObject();
	cJSON_AddStringToObject(ref, "apiVersion", TAKT_API_VERSION);
	cJSON_AddStringToObject(ref, "kind", TAKT_KIND_SCHEDULE);
	cJSON_AddStringToObject(ref, "name", s->name);
	if (s->uid)
		cJSON_AddStringToObject(ref, "uid", s->uid);
	cJSON_AddBoolToObject(ref, "controller", 1);
	cJSON_AddBoolToObject(ref, "blockOwnerDeletion", 1);
	cJSON_AddItemToArray(owners, ref);

	/* Moved, not copied: jt is ours. */
	cJSON *spec = cJSON_DetachItemFromObjectCaseSensitive(jt, "spec");
	if (!spec)
		spec = cJSON_CreateObject();
	cJSON_AddItemToObject(job, "spec", spec);
	cJSON *tpl = ensure_object(spec, "template");
	cJSON *tpl_md = ensure_object(tpl, "metadata");
	set_string(ensure_object(tpl_md, "labels"), TAKT_LABEL_SCHEDULE, s->name);
	cJSON *pod = cJSON_GetObjectItemCaseSensitive(tpl, "spec");
	const struct env_kv env[] = {
	    {"TAKT_SCHEDULE", s->name}, {"TAKT_SCHEDULED_TIME", when}, {"TAKT_BUSINESS_DATE", date},
	    {"TAKT_RUN_ID", name},	{"TAKT_ATTEMPT", att},
	};
	/* TAKT_ATTEMPT only on retries: a first attempt's Job stays as before. */
	size_t n_env = retry_name ? 5 : 4;
	if (cJSON_IsObject(pod)) {
		inject_env(cJSON_GetObjectItemCaseSensitive(pod, "initContainers"), env, n_env);
		inject_env(cJSON_GetObjectItemCaseSensitive(pod, "containers"), env, n_env);
	}
	cJSON_Delete(jt);
	*out = job;
	return 0;
}

int spec_build_job(const struct spec *s, const struct tz *zone, int64_t slot_ms,
		   enum spec_trigger trigger, const char *request_id, cJSON **out, char *err,
		   size_t errlen)
{
	return build_job(s, zone, slot_ms, trigger, request_id, NULL, NULL, 1, out, err, errlen);
}

int spec_build_retry(const struct spec *s, const struct tz *zone, int64_t slot_ms,
		     const char *job_name, const char *business_date, int32_t attempt, cJSON **out,
		     char *err, size_t errlen)
{
	if (!job_name) {
		*out = NULL;
		return fail(err, errlen, "job: a retry needs its name");
	}
	return build_job(s, zone, slot_ms, SPEC_TRIGGER_RETRY, NULL, job_name, business_date,
			 attempt, out, err, errlen);
}

/* ---- status ---------------------------------------------------------------- */

void spec_status_init(struct spec_status *st)
{
	memset(st, 0, sizeof(*st));
	st->last_schedule_time = SPEC_TIME_UNSET;
	st->last_successful_time = SPEC_TIME_UNSET;
	st->next_schedule_time = SPEC_TIME_UNSET;
	st->cursor = SPEC_TIME_UNSET;
	st->claim = SPEC_TIME_UNSET;
	st->pending_slot = SPEC_TIME_UNSET;
}

static void condition_release(struct spec_condition *c)
{
	free(c->type);
	free(c->status);
	free(c->reason);
	free(c->message);
}

void spec_status_release(struct spec_status *st)
{
	for (size_t i = 0; i < st->n_conditions; i++)
		condition_release(&st->conditions[i]);
	free(st->conditions);
	for (size_t i = 0; i < st->n_active; i++) {
		free(st->active[i].name);
		free(st->active[i].uid);
	}
	free(st->active);
	free(st->time_zone);
	cJSON_Delete(st->last_kill);
	cJSON_Delete(st->last_run_now);
	cJSON_Delete(st->last_rerun);
	cJSON_Delete(st->handled_requests);
	for (size_t i = 0; i < st->n_recent; i++) {
		free(st->recent[i].job);
		free(st->recent[i].reason);
	}
	free(st->recent);
	spec_status_init(st);
}

static const char *const result_names[] = {"Active", "Succeeded", "Failed", "Killed"};

const char *spec_result_name(enum spec_result r)
{
	BUG_ON((unsigned)r >= sizeof(result_names) / sizeof(result_names[0]));
	return result_names[r];
}

struct spec_run_record *spec_status_add_record(struct spec_status *st,
					       const struct spec_run_record *r)
{
	XGROW(st->recent, st->cap_recent, st->n_recent + 1);
	struct spec_run_record *d = &st->recent[st->n_recent++];
	*d = *r;
	d->job = xstrdup(r->job);
	d->reason = dup_opt(r->reason);
	return d;
}

void spec_status_remove_record(struct spec_status *st, size_t i)
{
	BUG_ON(i >= st->n_recent);
	free(st->recent[i].job);
	free(st->recent[i].reason);
	memmove(&st->recent[i], &st->recent[i + 1], (st->n_recent - i - 1) * sizeof(*st->recent));
	st->n_recent--;
}

static cJSON *dup_json(const cJSON *j)
{
	return j ? cJSON_Duplicate(j, 1) : NULL;
}

void spec_status_copy(struct spec_status *dst, const struct spec_status *src)
{
	spec_status_release(dst);
	dst->observed_generation = src->observed_generation;
	dst->time_zone = dup_opt(src->time_zone);
	for (size_t i = 0; i < src->n_conditions; i++) {
		const struct spec_condition *c = &src->conditions[i];
		XGROW(dst->conditions, dst->cap_conditions, dst->n_conditions + 1);
		struct spec_condition *d = &dst->conditions[dst->n_conditions++];
		d->type = xstrdup(c->type);
		d->status = xstrdup(c->status);
		d->reason = dup_opt(c->reason);
		d->message = dup_opt(c->message);
		d->last_transition = c->last_transition;
		d->observed_generation = c->observed_generation;
	}
	for (size_t i = 0; i < src->n_active; i++)
		spec_status_add_active(dst, src->active[i].name, src->active[i].uid,
				       src->active[i].slot, src->active[i].trigger);
	dst->last_schedule_time = src->last_schedule_time;
	dst->last_successful_time = src->last_successful_time;
	dst->next_schedule_time = src->next_schedule_time;
	dst->cursor = src->cursor;
	dst->claim = src->claim;
	dst->pending_slot = src->pending_slot;
	dst->pending_trigger = src->pending_trigger;
	dst->counters = src->counters;
	dst->last_kill = dup_json(src->last_kill);
	dst->last_run_now = dup_json(src->last_run_now);
	dst->last_rerun = dup_json(src->last_rerun);
	dst->handled_requests = dup_json(src->handled_requests);
	for (size_t i = 0; i < src->n_recent; i++)
		spec_status_add_record(dst, &src->recent[i]);
}

static int64_t time_field(const cJSON *obj, const char *key)
{
	const char *s = string_field(obj, key);
	int64_t ms;
	if (!s || rfc3339_parse(s, &ms))
		return SPEC_TIME_UNSET;
	return ms;
}

static int64_t counter_field(const cJSON *obj, const char *key)
{
	int64_t n;
	if (!json_integer(field(obj, key), &n) || n < 0)
		return 0;
	return n;
}

void spec_status_add_active(struct spec_status *st, const char *name, const char *uid, int64_t slot,
			    enum spec_trigger trigger)
{
	XGROW(st->active, st->cap_active, st->n_active + 1);
	struct spec_active *a = &st->active[st->n_active++];
	a->name = xstrdup(name);
	a->uid = dup_opt(uid);
	a->slot = slot;
	a->trigger = trigger;
}

/* A status field's key (names.h: the one list the merge patch clears). */
#define F(f) takt_status_field_name(TAKT_ST_##f)

void spec_status_parse(const cJSON *obj, struct spec_status *st)
{
	spec_status_init(st);
	const cJSON *s = field(obj, "status");
	if (!s)
		return;
	int64_t gen;
	if (json_integer(field(s, F(OBSERVED_GENERATION)), &gen) && gen > 0)
		st->observed_generation = gen;
	st->time_zone = dup_opt(string_field(s, F(TIME_ZONE)));
	const cJSON *it;
	const cJSON *conds = field(s, F(CONDITIONS));
	if (cJSON_IsArray(conds)) {
		cJSON_ArrayForEach(it, conds)
		{
			const char *type = string_field(it, "type");
			const char *status = string_field(it, "status");
			if (!type || !status || spec_status_condition(st, type))
				continue;
			XGROW(st->conditions, st->cap_conditions, st->n_conditions + 1);
			struct spec_condition *c = &st->conditions[st->n_conditions++];
			c->type = xstrdup(type);
			c->status = xstrdup(status);
			c->reason = dup_opt(string_field(it, "reason"));
			c->message = dup_opt(string_field(it, "message"));
			c->last_transition = time_field(it, "lastTransitionTime");
			int64_t g = 0;
			c->observed_generation =
			    json_integer(field(it, "observedGeneration"), &g) ? g : 0;
		}
	}
	const cJSON *act = field(s, F(ACTIVE));
	if (cJSON_IsArray(act)) {
		cJSON_ArrayForEach(it, act)
		{
			const char *name = string_field(it, "name");
			enum spec_trigger t = SPEC_TRIGGER_SCHEDULE;
			if (!name)
				continue;
			if (spec_trigger_parse(string_field(it, "trigger"), &t))
				t = SPEC_TRIGGER_SCHEDULE;
			spec_status_add_active(st, name, string_field(it, "uid"),
					       time_field(it, "scheduledTime"), t);
		}
	}
	st->last_schedule_time = time_field(s, F(LAST_SCHEDULE_TIME));
	st->last_successful_time = time_field(s, F(LAST_SUCCESSFUL_TIME));
	st->next_schedule_time = time_field(s, F(NEXT_SCHEDULE_TIME));
	st->cursor = time_field(s, F(LAST_SLOT_CONSIDERED));
	st->claim = time_field(s, F(LAST_SLOT_CLAIMED));
	st->pending_slot = time_field(s, F(PENDING_SLOT));
	if (spec_trigger_parse(string_field(s, F(PENDING_TRIGGER)), &st->pending_trigger))
		st->pending_trigger = SPEC_TRIGGER_SCHEDULE;
	st->counters.runs_started = counter_field(s, F(RUNS_STARTED));
	st->counters.runs_succeeded = counter_field(s, F(RUNS_SUCCEEDED));
	st->counters.runs_failed = counter_field(s, F(RUNS_FAILED));
	st->counters.skipped_overlap = counter_field(s, F(SKIPPED_OVERLAP));
	st->counters.skipped_calendar = counter_field(s, F(SKIPPED_CALENDAR));
	st->counters.missed = counter_field(s, F(MISSED));
	st->counters.killed = counter_field(s, F(KILLED));
	st->last_kill = dup_json(field(s, F(LAST_KILL)));
	st->last_run_now = dup_json(field(s, F(LAST_RUN_NOW)));
	st->last_rerun = dup_json(field(s, F(LAST_RERUN)));
	st->handled_requests = dup_json(field(s, F(HANDLED_REQUESTS)));
	const cJSON *recent = field(s, F(RECENT_RUNS));
	if (cJSON_IsArray(recent)) {
		cJSON_ArrayForEach(it, recent)
		{
			struct spec_run_record r = {0};
			const char *job = string_field(it, "job");
			const char *res = string_field(it, "result");
			const char *bd = string_field(it, "businessDate");
			int64_t n;
			r.job = (char *)job;
			r.scheduled = time_field(it, "scheduledTime");
			/* An entry without its job or slot cannot be planned
			 * from: left out (a hand edit). */
			if (!job || r.scheduled == SPEC_TIME_UNSET ||
			    st->n_recent >= SPEC_HISTORY_MAX)
				continue;
			if (spec_trigger_parse(string_field(it, "trigger"), &r.trigger))
				r.trigger = SPEC_TRIGGER_SCHEDULE;
			if (bd && strlen(bd) < sizeof(r.business_date))
				snprintf(r.business_date, sizeof(r.business_date), "%s", bd);
			r.attempt = json_integer(field(it, "attempt"), &n) && n >= 1 && n <= 1000
					? (int32_t)n
					: 1;
			r.start = time_field(it, "startTime");
			r.completion = time_field(it, "completionTime");
			r.result = SPEC_RESULT_ACTIVE;
			for (size_t k = 0; res && k < sizeof(result_names) / sizeof(*result_names);
			     k++)
				if (!strcmp(res, result_names[k]))
					r.result = (enum spec_result)k;
			if (json_integer(field(it, "exitCode"), &n) && n >= INT32_MIN &&
			    n <= INT32_MAX) {
				r.has_exit_code = true;
				r.exit_code = (int32_t)n;
			}
			r.reason = (char *)string_field(it, "reason");
			r.claimed = cJSON_IsTrue(field(it, "claimed"));
			spec_status_add_record(st, &r);
		}
	}
}

#undef F

static void add_time(cJSON *obj, const char *key, int64_t ms)
{
	char b[40];
	if (ms == SPEC_TIME_UNSET || rfc3339_format(ms, true, b, sizeof(b)) < 0)
		return;
	cJSON_AddStringToObject(obj, key, b);
}

#define F(f) takt_status_field_name(TAKT_ST_##f)

cJSON *spec_status_to_json(const struct spec_status *st)
{
	cJSON *s = cJSON_CreateObject();
	if (st->observed_generation > 0)
		cJSON_AddNumberToObject(s, F(OBSERVED_GENERATION), (double)st->observed_generation);
	if (st->time_zone)
		cJSON_AddStringToObject(s, F(TIME_ZONE), st->time_zone);
	cJSON *conds = cJSON_AddArrayToObject(s, F(CONDITIONS));
	for (size_t i = 0; i < st->n_conditions; i++) {
		const struct spec_condition *c = &st->conditions[i];
		/* metav1.Condition requires lastTransitionTime: a condition
		 * without one (hand-edited) would make the whole write fail. */
		if (c->last_transition == SPEC_TIME_UNSET)
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "type", c->type);
		cJSON_AddStringToObject(o, "status", c->status);
		if (c->observed_generation > 0)
			cJSON_AddNumberToObject(o, "observedGeneration",
						(double)c->observed_generation);
		add_time(o, "lastTransitionTime", c->last_transition);
		/* metav1.Condition requires a non-empty reason. */
		cJSON_AddStringToObject(o, "reason",
					c->reason && *c->reason ? c->reason : "Unknown");
		cJSON_AddStringToObject(o, "message", c->message ? c->message : "");
		cJSON_AddItemToArray(conds, o);
	}
	cJSON *act = cJSON_AddArrayToObject(s, F(ACTIVE));
	for (size_t i = 0; i < st->n_active; i++) {
		const struct spec_active *a = &st->active[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "apiVersion", "batch/v1");
		cJSON_AddStringToObject(o, "kind", "Job");
		cJSON_AddStringToObject(o, "name", a->name);
		if (a->uid)
			cJSON_AddStringToObject(o, "uid", a->uid);
		add_time(o, "scheduledTime", a->slot);
		cJSON_AddStringToObject(o, "trigger", spec_trigger_name(a->trigger));
		cJSON_AddItemToArray(act, o);
	}
	cJSON_AddNumberToObject(s, F(ACTIVE_COUNT), (double)st->n_active);
	add_time(s, F(LAST_SCHEDULE_TIME), st->last_schedule_time);
	add_time(s, F(LAST_SUCCESSFUL_TIME), st->last_successful_time);
	add_time(s, F(NEXT_SCHEDULE_TIME), st->next_schedule_time);
	add_time(s, F(LAST_SLOT_CONSIDERED), st->cursor);
	add_time(s, F(LAST_SLOT_CLAIMED), st->claim);
	add_time(s, F(PENDING_SLOT), st->pending_slot);
	if (st->pending_slot != SPEC_TIME_UNSET)
		cJSON_AddStringToObject(s, F(PENDING_TRIGGER),
					spec_trigger_name(st->pending_trigger));
	const struct {
		enum takt_status_field key;
		int64_t v;
	} counters[] = {
	    {TAKT_ST_RUNS_STARTED, st->counters.runs_started},
	    {TAKT_ST_RUNS_SUCCEEDED, st->counters.runs_succeeded},
	    {TAKT_ST_RUNS_FAILED, st->counters.runs_failed},
	    {TAKT_ST_SKIPPED_OVERLAP, st->counters.skipped_overlap},
	    {TAKT_ST_SKIPPED_CALENDAR, st->counters.skipped_calendar},
	    {TAKT_ST_MISSED, st->counters.missed},
	    {TAKT_ST_KILLED, st->counters.killed},
	};
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		cJSON_AddNumberToObject(s, takt_status_field_name(counters[i].key),
					(double)counters[i].v);
	if (st->last_kill)
		cJSON_AddItemToObject(s, F(LAST_KILL), cJSON_Duplicate(st->last_kill, 1));
	if (st->last_run_now)
		cJSON_AddItemToObject(s, F(LAST_RUN_NOW), cJSON_Duplicate(st->last_run_now, 1));
	if (st->last_rerun)
		cJSON_AddItemToObject(s, F(LAST_RERUN), cJSON_Duplicate(st->last_rerun, 1));
	if (st->handled_requests)
		cJSON_AddItemToObject(s, F(HANDLED_REQUESTS),
				      cJSON_Duplicate(st->handled_requests, 1));
	cJSON *recent = cJSON_AddArrayToObject(s, F(RECENT_RUNS));
	for (size_t i = 0; i < st->n_recent; i++) {
		const struct spec_run_record *r = &st->recent[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "job", r->job);
		cJSON_AddStringToObject(o, "trigger", spec_trigger_name(r->trigger));
		add_time(o, "scheduledTime", r->scheduled);
		if (r->business_date[0])
			cJSON_AddStringToObject(o, "businessDate", r->business_date);
		cJSON_AddNumberToObject(o, "attempt", r->attempt);
		add_time(o, "startTime", r->start);
		add_time(o, "completionTime", r->completion);
		cJSON_AddStringToObject(o, "result", spec_result_name(r->result));
		if (r->has_exit_code)
			cJSON_AddNumberToObject(o, "exitCode", r->exit_code);
		if (r->reason)
			cJSON_AddStringToObject(o, "reason", r->reason);
		if (r->claimed)
			cJSON_AddBoolToObject(o, "claimed", true);
		cJSON_AddItemToArray(recent, o);
	}
	return s;
}

#undef F

const struct spec_condition *spec_status_condition(const struct spec_status *st, const char *type)
{
	for (size_t i = 0; i < st->n_conditions; i++)
		if (strcmp(st->conditions[i].type, type) == 0)
			return &st->conditions[i];
	return NULL;
}

void spec_status_set_condition(struct spec_status *st, const char *type, bool status,
			       const char *reason, const char *message, int64_t generation,
			       int64_t now)
{
	const char *sv = status ? "True" : "False";
	struct spec_condition *c = (struct spec_condition *)spec_status_condition(st, type);
	if (!c) {
		XGROW(st->conditions, st->cap_conditions, st->n_conditions + 1);
		c = &st->conditions[st->n_conditions++];
		memset(c, 0, sizeof(*c));
		c->type = xstrdup(type);
		c->last_transition = SPEC_TIME_UNSET;
	}
	if (!c->status || strcmp(c->status, sv) != 0 || c->last_transition == SPEC_TIME_UNSET) {
		free(c->status);
		c->status = xstrdup(sv);
		c->last_transition = now;
	}
	free(c->reason);
	free(c->message);
	c->reason = xstrdup(reason);
	c->message = xstrdup(message ? message : "");
	c->observed_generation = generation;
}
