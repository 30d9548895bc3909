/* Calendar rules on a schedule: the fire set and its next element.
 *
 * The search works on landing days, not on slots. The pattern's times of day
 * are the same on every date it matches, so a landing day L fires at the
 * same instants however many slots land on it (which is also why slots that
 * land together fire once). calsched_next walks the pattern's matching dates
 * D in order (cron jumps over the rest), maps each to its landing day, and
 * asks for the first instant after `after` on that day. Landing days never
 * move backwards as D advances, so the walk stops two days past the best
 * candidate: anything later reads at least a day later on the wall clock.
 */
#include "calendar/calsched.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "calendar/calendar.h"
#include "cron/cron.h"
#include "tz/civil.h"
#include "tz/tz.h"
#include "base/errmsg.h"
#include "base/banned.h"

#define DAY INT64_C(86400)

/* A value quoted into a message: printable and bounded, as it may come from
 * any user's spec and end up in an Event. */
static const char *safe(const char *s, char out[48])
{
	size_t o = 0;
	for (size_t i = 0; s && s[i] && o < 40; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	if (s && o == 40 && s[40]) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* --- rules ----------------------------------------------------------------- */

void calsched_rules_init(struct calsched_rules *r)
{
	memset(r, 0, sizeof(*r));
	r->days = CALSCHED_BUSINESS_DAYS;
	r->shift = CALSCHED_SKIP;
}

int calsched_parse_days(const char *s, enum calsched_days *out, char *err, size_t errlen)
{
	if (s && strcmp(s, "BusinessDays") == 0)
		*out = CALSCHED_BUSINESS_DAYS;
	else if (s && strcmp(s, "NonBusinessDays") == 0)
		*out = CALSCHED_NON_BUSINESS_DAYS;
	else {
		char q[48];
		errmsg_set(err, errlen, "days: \"%s\" is not one of BusinessDays NonBusinessDays",
			   safe(s, q));
		return -EINVAL;
	}
	return 0;
}

int calsched_parse_shift(const char *s, enum calsched_shift *out, char *err, size_t errlen)
{
	if (s && strcmp(s, "Skip") == 0)
		*out = CALSCHED_SKIP;
	else if (s && strcmp(s, "NextBusinessDay") == 0)
		*out = CALSCHED_NEXT_BUSINESS_DAY;
	else if (s && strcmp(s, "PreviousBusinessDay") == 0)
		*out = CALSCHED_PREVIOUS_BUSINESS_DAY;
	else {
		char q[48];
		errmsg_set(err, errlen,
			   "onNonBusinessDay: \"%s\" is not one of Skip NextBusinessDay "
			   "PreviousBusinessDay",
			   safe(s, q));
		return -EINVAL;
	}
	return 0;
}

_Static_assert(CALSCHED_MAX_NTH <= INT8_MAX, "bdom values are bytes");

static int add_bdom(struct calsched_rules *r, long n, char *err, size_t errlen)
{
	if (n == 0 || n > CALSCHED_MAX_NTH || n < -CALSCHED_MAX_NTH) {
		errmsg_set(
		    err, errlen,
		    "businessDayOfMonth: %ld must be 1..%d (from the start) or -1..-%d (from "
		    "the end)",
		    n, CALSCHED_MAX_NTH, CALSCHED_MAX_NTH);
		return -EINVAL;
	}
	for (int i = 0; i < r->nbdom; i++)
		if (r->bdom[i] == n)
			return 0;
	if (r->nbdom == CALSCHED_MAX_BDOM) {
		errmsg_set(err, errlen, "businessDayOfMonth: at most %d values", CALSCHED_MAX_BDOM);
		return -EINVAL;
	}
	r->bdom[r->nbdom++] = (int8_t)n;
	return 0;
}

int calsched_parse_bdom_list(const char *s, struct calsched_rules *r, char *err, size_t errlen)
{
	char q[48];
	r->nbdom = 0;
	const char *p = s;
	for (;;) {
		char *end;
		errno = 0;
		long n = strtol(p, &end, 10);
		if (end == p || errno) {
			errmsg_set(err, errlen,
				   "businessDayOfMonth: \"%s\" is not a list of integers",
				   safe(s, q));
			return -EINVAL;
		}
		if (add_bdom(r, n, err, errlen) < 0)
			return -EINVAL;
		if (*end == '\0')
			return 0;
		if (*end != ',') {
			errmsg_set(err, errlen,
				   "businessDayOfMonth: \"%s\" is not a list of integers",
				   safe(s, q));
			return -EINVAL;
		}
		p = end + 1;
	}
}

int calsched_rules_from_json(const struct cJSON *calendar, struct calsched_rules *r, char *err,
			     size_t errlen)
{
	char why[200];
	calsched_rules_init(r);
	if (!calendar || cJSON_IsNull(calendar))
		return 0;
	if (!cJSON_IsObject(calendar)) {
		errmsg_set(err, errlen, "calendar: must be an object");
		return -EINVAL;
	}
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(calendar, "days");
	if (v && !cJSON_IsNull(v) &&
	    calsched_parse_days(cJSON_IsString(v) ? v->valuestring : NULL, &r->days, why,
				sizeof(why)) < 0)
		goto bad;
	v = cJSON_GetObjectItemCaseSensitive(calendar, "onNonBusinessDay");
	if (v && !cJSON_IsNull(v) &&
	    calsched_parse_shift(cJSON_IsString(v) ? v->valuestring : NULL, &r->shift, why,
				 sizeof(why)) < 0)
		goto bad;
	v = cJSON_GetObjectItemCaseSensitive(calendar, "businessDayOfMonth");
	if (v && !cJSON_IsNull(v)) {
		if (!cJSON_IsArray(v)) {
			snprintf(why, sizeof(why),
				 "businessDayOfMonth: must be a list of integers");
			goto bad;
		}
		const cJSON *n;
		cJSON_ArrayForEach(n, v)
		{
			if (!cJSON_IsNumber(n) || n->valuedouble != (double)(long)n->valuedouble) {
				snprintf(why, sizeof(why),
					 "businessDayOfMonth: must be a list of integers");
				goto bad;
			}
			if (add_bdom(r, (long)n->valuedouble, why, sizeof(why)) < 0)
				goto bad;
		}
	}
	if (calsched_validate(r, NULL, why, sizeof(why)) < 0)
		goto bad;
	return 0;
bad:
	errmsg_set(err, errlen, "calendar.%s", why);
	return -EINVAL;
}

int calsched_validate(const struct calsched_rules *r, const struct cron_expr *e, char *err,
		      size_t errlen)
{
	static const char *const shifts[] = {"Skip", "NextBusinessDay", "PreviousBusinessDay"};
	if ((unsigned)r->days > CALSCHED_NON_BUSINESS_DAYS ||
	    (unsigned)r->shift > CALSCHED_PREVIOUS_BUSINESS_DAY || r->nbdom < 0 ||
	    r->nbdom > CALSCHED_MAX_BDOM) {
		errmsg_set(err, errlen, "calendar rules are corrupt");
		return -EINVAL;
	}
	for (int i = 0; i < r->nbdom; i++) {
		if (r->bdom[i] == 0 || r->bdom[i] > CALSCHED_MAX_NTH ||
		    r->bdom[i] < -CALSCHED_MAX_NTH) {
			errmsg_set(err, errlen, "businessDayOfMonth: %d must be 1..%d or -1..-%d",
				   r->bdom[i], CALSCHED_MAX_NTH, CALSCHED_MAX_NTH);
			return -EINVAL;
		}
	}
	if (r->days == CALSCHED_NON_BUSINESS_DAYS && r->shift != CALSCHED_SKIP) {
		errmsg_set(err, errlen, "onNonBusinessDay: %s requires days: BusinessDays",
			   shifts[r->shift]);
		return -EINVAL;
	}
	if (r->days == CALSCHED_NON_BUSINESS_DAYS && r->nbdom) {
		errmsg_set(err, errlen, "businessDayOfMonth: requires days: BusinessDays");
		return -EINVAL;
	}
	if (e && r->shift != CALSCHED_SKIP && cron_is_every(e, NULL)) {
		errmsg_set(
		    err, errlen,
		    "onNonBusinessDay: %s cannot move @every slots, which are not wall-clock "
		    "times; use Skip",
		    shifts[r->shift]);
		return -EINVAL;
	}
	return 0;
}

/* --- landing days ---------------------------------------------------------- */

enum landing_kind { LAND_NONE, LAND_FIRE, LAND_UNKNOWN };

struct landing {
	enum landing_kind kind;
	int64_t day;	 /* LAND_FIRE: L */
	int64_t lower;	 /* no instant from this or a later date reads before this day */
	int64_t missing; /* LAND_UNKNOWN: the uncovered day that decides it */
};

static int64_t month_edge_missing(const struct calendar *cal, int64_t day)
{
	int y, m, d;
	civil_ymd_from_days(day, &y, &m, &d);
	return civil_days_from_ymd(y, m, 1) < calendar_first_day(cal) ? calendar_first_day(cal) - 1
								      : calendar_last_day(cal) + 1;
}

static void land(const struct calendar *cal, const struct calsched_rules *r, int64_t d,
		 struct landing *out)
{
	*out = (struct landing){.kind = LAND_NONE, .day = d, .lower = d, .missing = 0};
	if (!cal) {
		out->kind = LAND_FIRE;
		return;
	}
	int b = calendar_is_business_day(cal, d);
	if (b < 0) {
		out->kind = LAND_UNKNOWN;
		out->missing = d;
		return;
	}
	if (r->days == CALSCHED_NON_BUSINESS_DAYS) {
		if (b == 0)
			out->kind = LAND_FIRE;
		return;
	}
	int64_t l = d;
	if (b == 0) {
		int rc;
		if (r->shift == CALSCHED_SKIP)
			return;
		if (r->shift == CALSCHED_NEXT_BUSINESS_DAY)
			rc = calendar_next_business_day(cal, d, &l);
		else
			rc = calendar_prev_business_day(cal, d, &l);
		if (rc < 0) {
			out->kind = LAND_UNKNOWN;
			out->missing = r->shift == CALSCHED_NEXT_BUSINESS_DAY
					   ? calendar_last_day(cal) + 1
					   : calendar_first_day(cal) - 1;
			return;
		}
	}
	out->day = l;
	out->lower = l < d ? l : d;
	if (r->nbdom) {
		bool match = false, unknown = false;
		for (int i = 0; i < r->nbdom && !match; i++) {
			int m = calendar_is_nth_business_day(cal, l, r->bdom[i]);
			if (m == 1)
				match = true;
			else if (m < 0)
				unknown = true;
		}
		if (!match) {
			if (unknown) {
				out->kind = LAND_UNKNOWN;
				out->missing = month_edge_missing(cal, l);
			}
			return;
		}
	}
	out->kind = LAND_FIRE;
}

/* --- instants on a day ----------------------------------------------------- */

struct search {
	const struct cron_expr *e;
	const struct tz *z;
	int64_t after;
	/* The largest local time whose first instant is not after `after`:
	 * first instants grow with local time, so every later local time's
	 * first instant is a candidate. */
	int64_t theta;
	bool fixed;
};

static int64_t reading(const struct tz *z, int64_t utc)
{
	return z ? tz_utc_to_local(z, utc) : utc;
}

static int64_t first_threshold(const struct tz *z, int64_t after)
{
	if (!z)
		return after;
	int64_t ra = tz_utc_to_local(z, after);
	struct tz_mapping m;
	tz_local_to_utc(z, ra, &m);
	if (m.kind == TZ_OVERLAP && after >= m.utc[1]) {
		/* In the repeated hour: local times up to the end of it have
		 * already had their first instant. */
		int64_t t = tz_next_transition(z, m.utc[0]);
		if (t != INT64_MAX && t <= after)
			return tz_utc_to_local(z, t - 1);
	}
	return ra;
}

/* The first time of day >= tod0 that the pattern matches on date `ref` (any
 * date it matches: times of day do not depend on the date). */
static int next_tod(const struct search *s, int64_t ref, int64_t tod0, int64_t *tod)
{
	if (tod0 >= DAY)
		return -ENOENT;
	int64_t nx;
	int rc = cron_next(s->e, NULL, ref * DAY + tod0 - 1, &nx);
	if (rc < 0)
		return rc;
	if (nx >= (ref + 1) * DAY)
		return -ENOENT;
	*tod = nx - ref * DAY;
	return 0;
}

/* The first instant after s->after at which the pattern's times of day fire
 * on local date `day`. Returns 0 and *at, -ENOENT for none, or an error. */
static int first_on_day(const struct search *s, int64_t day, int64_t ref, int64_t *at)
{
	int64_t base = day * DAY, best = INT64_MAX, tod;
	int64_t tod0 = s->theta - base + 1;
	if (tod0 < 0)
		tod0 = 0;
	while (tod0 < DAY) {
		int rc = next_tod(s, ref, tod0, &tod);
		if (rc == -ENOENT)
			break;
		if (rc < 0)
			return rc;
		int64_t u[2];
		int n = 0;
		cron_local_to_fire(s->e, s->z, base + tod, u, &n);
		for (int i = 0; i < n; i++)
			if (u[i] > s->after && u[i] < best)
				best = u[i];
		if (best != INT64_MAX)
			break;
		tod0 = tod + 1;
		if (n == 0 && s->z) {
			/* Inside a gap where the pattern does not fire: resume at its end. */
			struct tz_mapping m;
			tz_local_to_utc(s->z, base + tod, &m);
			if (m.kind == TZ_GAP) {
				int64_t resume = tz_utc_to_local(s->z, m.gap_end) - base;
				if (resume > tod0)
					tod0 = resume;
			}
		}
	}
	/* Second occurrences in a repeated hour (patterns that are not
	 * fixed-time fire at both); they may come before the first instant of a
	 * later local time. */
	if (s->z && !s->fixed) {
		int64_t t = tz_next_transition(s->z, base - 2 * DAY);
		while (t != INT64_MAX && t < base + 2 * DAY) {
			int32_t on = tz_offset_at(s->z, t), old = tz_offset_at(s->z, t - 1);
			if (on < old) {
				int64_t lo = t + on, hi = t + old - 1;
				if (lo < base)
					lo = base;
				if (lo < s->after + on + 1)
					lo = s->after + on + 1;
				if (hi > base + DAY - 1)
					hi = base + DAY - 1;
				if (lo <= hi && next_tod(s, ref, lo - base, &tod) == 0 &&
				    base + tod <= hi && base + tod - on < best)
					best = base + tod - on;
			}
			t = tz_next_transition(s->z, t);
		}
	}
	if (best == INT64_MAX)
		return -ENOENT;
	*at = best;
	return 0;
}

/* The next date >= day on which the pattern matches. */
static int next_date(const struct cron_expr *e, int64_t day, int64_t *out)
{
	int64_t nx;
	int rc = cron_next(e, NULL, day * DAY - 1, &nx);
	if (rc < 0)
		return rc;
	*out = civil_floor_div(nx, DAY);
	return 0;
}

/* @every: its slots are instants, not times of day, so they are only
 * filtered by the date they fall on. */
static int every_next(const struct cron_expr *e, const struct tz *z, const struct calendar *cal,
		      const struct calsched_rules *r, int64_t after, struct calsched_result *res)
{
	int64_t cur = after;
	for (;;) {
		int64_t s;
		int rc = cron_next(e, z, cur, &s);
		if (rc < 0)
			return rc;
		int64_t d = civil_floor_div(reading(z, s), DAY);
		struct landing l;
		land(cal, r, d, &l);
		if (l.kind == LAND_FIRE) {
			*res = (struct calsched_result){.at = s, .date = d, .missing_day = 0};
			return 0;
		}
		if (l.kind == LAND_UNKNOWN) {
			*res =
			    (struct calsched_result){.at = s, .date = d, .missing_day = l.missing};
			return -ENODATA;
		}
		/* Not this day: resume at the first instant of the next one. */
		int64_t next = (d + 1) * DAY;
		if (z) {
			struct tz_mapping m;
			tz_local_to_utc(z, next, &m);
			next = m.kind == TZ_GAP ? m.gap_end : m.utc[0];
		}
		cur = next - 1 > s ? next - 1 : s;
	}
}

int calsched_next(const struct cron_expr *e, const struct tz *z, const struct calendar *cal,
		  const struct calsched_rules *r, int64_t after, struct calsched_result *res)
{
	struct calsched_rules none;
	if (!cal || !r) {
		calsched_rules_init(&none);
		r = &none;
	}
	if (calsched_validate(r, e, NULL, 0) < 0)
		return -EINVAL;
	/* cron's range (years 1..9999); also keeps the day arithmetic below
	 * far from overflow for any int64 a caller passes. */
	if (after < INT64_C(-62135596800) || after > INT64_C(253402300799))
		return -ERANGE;
	if (cron_is_every(e, NULL))
		return every_next(e, z, cal, r, after, res);

	struct search s = {
	    .e = e,
	    .z = z,
	    .after = after,
	    .theta = first_threshold(z, after),
	    .fixed = cron_is_fixed_time(e),
	};
	int64_t adate = civil_floor_div(reading(z, after), DAY);
	/* Nothing landing before this day can fire after `after`. */
	int64_t lstart = adate - 2, d = lstart;
	if (cal && r->days == CALSCHED_BUSINESS_DAYS && r->shift == CALSCHED_NEXT_BUSINESS_DAY) {
		/* ...but a run of non-business days before it lands on or after it. */
		int64_t first = calendar_first_day(cal), pb;
		if (lstart > first && lstart <= calendar_last_day(cal))
			d = calendar_prev_business_day(cal, lstart, &pb) == 0 ? pb + 1 : first;
	}

	int64_t best = INT64_MAX, stop = INT64_MAX, last_landing = INT64_MIN;
	bool best_unknown = false;
	struct calsched_result out = {0};
	int rc = next_date(e, d, &d);
	while (rc == 0) {
		struct landing l;
		land(cal, r, d, &l);
		if (l.lower >= stop)
			break;
		int64_t at;
		if (l.kind == LAND_FIRE && l.day != last_landing) {
			last_landing = l.day;
			rc = first_on_day(&s, l.day, d, &at);
			if (rc == 0 && (at < best || (at == best && best_unknown))) {
				best = at;
				best_unknown = false;
				out = (struct calsched_result){.at = at, .date = l.day};
			}
		} else if (l.kind == LAND_UNKNOWN) {
			rc = first_on_day(&s, d, d, &at);
			if (rc == 0 && at < best) {
				best = at;
				best_unknown = true;
				out = (struct calsched_result){
				    .at = at, .date = d, .missing_day = l.missing};
			}
		}
		if (rc < 0 && rc != -ENOENT)
			return rc;
		if (best != INT64_MAX)
			stop = civil_floor_div(reading(z, best), DAY) + 2;
		rc = next_date(e, d + 1, &d);
	}
	if (best == INT64_MAX)
		return rc < 0 ? rc : -ENOENT;
	*res = out;
	return best_unknown ? -ENODATA : 0;
}

int calsched_fires_at(const struct cron_expr *e, const struct tz *z, const struct calendar *cal,
		      const struct calsched_rules *r, int64_t t, int64_t *date)
{
	struct calsched_result res;
	if (t == INT64_MIN)
		return -ERANGE;
	int rc = calsched_next(e, z, cal, r, t - 1, &res);
	if (rc == -ENODATA && res.at > t)
		return 0;
	if (rc < 0)
		return rc;
	if (res.at != t)
		return 0;
	if (date)
		*date = res.date;
	return 1;
}

int calsched_format_nodata(const struct calsched_result *res, const struct calendar *cal, char *out,
			   size_t n)
{
	char at[32] = "?", date[16] = "?", missing[16] = "?", first[16] = "?", last[16] = "?";
	rfc3339_format(res->at * 1000, false, at, sizeof(at));
	civil_format_date(res->date, date, sizeof(date));
	civil_format_date(res->missing_day, missing, sizeof(missing));
	if (!cal)
		return snprintf(out, n,
				"the slot at %s (local date %s) needs %s, outside the "
				"calendar's coverage",
				at, date, missing);
	civil_format_date(calendar_first_day(cal), first, sizeof(first));
	civil_format_date(calendar_last_day(cal), last, sizeof(last));
	return snprintf(out, n,
			"the slot at %s (local date %s) needs %s, outside the calendar's coverage "
			"%s..%s",
			at, date, missing, first, last);
}
