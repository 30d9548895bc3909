/* Cron grammar and next-fire computation. See cron.h and docs/cron.md. */
#include "cron/cron.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "tz/civil.h"
#include "tz/tz.h"
#include "base/errmsg.h"
#include "base/banned.h"

enum field_id { F_SEC, F_MIN, F_HOUR, F_DOM, F_MONTH, F_DOW, F_COUNT };

struct field_def {
	const char *name;
	int min, max;
	/* Largest step accepted: the number of values, as croner does; a larger
	 * step could only ever select the start value and is almost surely a typo. */
	int max_step;
};

static const struct field_def FIELDS[F_COUNT] = {
    [F_SEC] = {"second", 0, 59, 60},  [F_MIN] = {"minute", 0, 59, 60},
    [F_HOUR] = {"hour", 0, 23, 24},   [F_DOM] = {"day-of-month", 1, 31, 31},
    [F_MONTH] = {"month", 1, 12, 12}, [F_DOW] = {"day-of-week", 0, 7, 7},
};

static const char *const MONTH_NAMES[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
					    "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const DAY_NAMES[7] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

/* Search horizon: a whole Gregorian cycle, so a pattern that fires at all is
 * found whatever the start (the rarest dates, like the fifth Monday of a
 * February, recur at most every 40 years). */
#define SEARCH_YEARS 400
#define MIN_UNIX     INT64_C(-62135596800) /* 0001-01-01T00:00:00Z */
#define MAX_UNIX     INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
#define MAX_EVERY    INT64_C(315360000)	   /* 87600h, ten years */

struct cron_expr {
	uint64_t sec, min; /* bits 0-59 */
	uint32_t hour;	   /* bits 0-23 */
	uint32_t dom;	   /* bits 1-31: plain days */
	uint32_t dom_w;	   /* bits 1-31: nW */
	uint16_t month;	   /* bits 1-12 */
	uint8_t dow;	   /* bits 0-6: plain weekdays */
	uint8_t dow_last;  /* bits 0-6: dL */
	uint8_t dow_nth[5];
	bool dom_last, dom_lw;
	bool dom_star, dow_star; /* the field is exactly `*` or `?` */
	bool fixed;
	bool every;
	int64_t period;
	/* Matching days of a month (bits 1-31) by the weekday of its first day
	 * and its length (28-31): every day rule folded in at parse time, so the
	 * search does one lookup per month. */
	uint32_t days[7][4];
};

/* Sets the message and yields -EINVAL, so a failure is one statement. */
#define fail(err, errlen, ...) (errmsg_set((err), (errlen), __VA_ARGS__), -EINVAL)

static int ctz64(uint64_t v)
{
	return __builtin_ctzll(v);
}

/* Bits of `set` at positions >= k (k <= 63). */
static uint64_t bits_from(uint64_t set, int k)
{
	return set & (~UINT64_C(0) << k);
}

/* ---- parsing ---------------------------------------------------------- */

/* A token's text for messages, bounded so a huge input gives a short line. */
#define TOK_FMT	      "%.*s"
#define TOK_ARG(s, n) (int)((n) > 40 ? 40 : (n)), (s)

static bool eq_nocase(const char *a, size_t n, const char *b)
{
	if (strlen(b) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (toupper((unsigned char)a[i]) != toupper((unsigned char)b[i]))
			return false;
	return true;
}

/* Parses a number or (month, day-of-week) a name spanning [s, s+n).
 * Returns 0 and the value (unchecked against the range, capped), or -EINVAL. */
static int parse_value(enum field_id f, const char *s, size_t n, long *out, char *err,
		       size_t errlen)
{
	const struct field_def *fd = &FIELDS[f];
	if (n == 0)
		return fail(err, errlen, "%s: a value is missing", fd->name);
	if (isdigit((unsigned char)s[0])) {
		long v = 0;
		for (size_t i = 0; i < n; i++) {
			if (!isdigit((unsigned char)s[i]))
				goto bad;
			if (v < 1000000)
				v = v * 10 + (s[i] - '0');
		}
		if (v < fd->min || v > fd->max)
			return fail(err, errlen, "%s: " TOK_FMT " is out of range %d-%d", fd->name,
				    TOK_ARG(s, n), fd->min, fd->max);
		*out = v;
		return 0;
	}
	if (f == F_MONTH) {
		for (int i = 0; i < 12; i++)
			if (eq_nocase(s, n, MONTH_NAMES[i])) {
				*out = i + 1;
				return 0;
			}
	} else if (f == F_DOW) {
		for (int i = 0; i < 7; i++)
			if (eq_nocase(s, n, DAY_NAMES[i])) {
				*out = i;
				return 0;
			}
	}
bad:
	if (f == F_MONTH)
		return fail(err, errlen,
			    "%s: \"" TOK_FMT "\" is not a number or month name (JAN-DEC)", fd->name,
			    TOK_ARG(s, n));
	if (f == F_DOW)
		return fail(err, errlen,
			    "%s: \"" TOK_FMT "\" is not a number or day name (SUN-SAT)", fd->name,
			    TOK_ARG(s, n));
	return fail(err, errlen, "%s: \"" TOK_FMT "\" is not a number", fd->name, TOK_ARG(s, n));
}

static size_t span_value(const char *p, const char *end)
{
	size_t n = 0;
	while (p + n < end && isalnum((unsigned char)p[n]))
		n++;
	return n;
}

static void set_range(enum field_id f, uint64_t *bits, long a, long b, long step)
{
	for (long v = a; v <= b; v += step)
		*bits |= UINT64_C(1) << (f == F_DOW && v == 7 ? 0 : v);
}

static int parse_step(enum field_id f, const char *elem, size_t elen, const char *s,
		      const char *end, long *step, char *err, size_t errlen)
{
	const struct field_def *fd = &FIELDS[f];
	size_t n = (size_t)(end - s);
	long v = 0;
	if (n == 0)
		return fail(err, errlen, "%s: \"" TOK_FMT "\": the step is missing", fd->name,
			    TOK_ARG(elem, elen));
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return fail(err, errlen,
				    "%s: \"" TOK_FMT "\": step \"" TOK_FMT "\" is not a number",
				    fd->name, TOK_ARG(elem, elen), TOK_ARG(s, n));
		if (v < 1000000)
			v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > fd->max_step)
		return fail(err, errlen,
			    "%s: \"" TOK_FMT "\": step " TOK_FMT " is out of range 1-%d", fd->name,
			    TOK_ARG(elem, elen), TOK_ARG(s, n), fd->max_step);
	*step = v;
	return 0;
}

/* Day-of-month specials: L, LW, nW. Returns 1 when handled, 0 when not one
 * of them, or -EINVAL. */
static int parse_dom_special(struct cron_expr *e, const char *s, size_t n, char *err, size_t errlen)
{
	if (eq_nocase(s, n, "L")) {
		e->dom_last = true;
		return 1;
	}
	if (eq_nocase(s, n, "LW")) {
		e->dom_lw = true;
		return 1;
	}
	if (n >= 2 && toupper((unsigned char)s[n - 1]) == 'W' && isdigit((unsigned char)s[0])) {
		long v;
		if (span_value(s, s + n) != n)
			return fail(err, errlen,
				    "day-of-month: \"" TOK_FMT
				    "\": W takes a single day (such as 15W)",
				    TOK_ARG(s, n));
		int rc = parse_value(F_DOM, s, n - 1, &v, err, errlen);
		if (rc)
			return rc;
		e->dom_w |= UINT32_C(1) << v;
		return 1;
	}
	return 0;
}

/* Day-of-week specials: d#n and dL. Same returns as parse_dom_special. */
static int parse_dow_special(struct cron_expr *e, const char *s, size_t n, char *err, size_t errlen)
{
	const char *hash = memchr(s, '#', n);
	long d;
	int rc;
	if (hash) {
		size_t dn = (size_t)(hash - s), kn = n - dn - 1;
		const char *k = hash + 1;
		if (span_value(s, hash) != dn)
			return fail(err, errlen,
				    "day-of-week: \"" TOK_FMT
				    "\": # takes a single day (such as 5#2)",
				    TOK_ARG(s, n));
		rc = parse_value(F_DOW, s, dn, &d, err, errlen);
		if (rc)
			return rc;
		long v = 0;
		bool digits = kn > 0 && kn < 4;
		for (size_t i = 0; digits && i < kn; i++) {
			if (!isdigit((unsigned char)k[i]))
				digits = false;
			else
				v = v * 10 + (k[i] - '0');
		}
		if (!digits || v < 1 || v > 5)
			return fail(err, errlen,
				    "day-of-week: " TOK_FMT ": occurrence \"" TOK_FMT
				    "\" is out of range 1-5",
				    TOK_ARG(s, n), TOK_ARG(k, kn));
		e->dow_nth[v - 1] |= (uint8_t)(1u << (d % 7));
		return 1;
	}
	if (n >= 2 && toupper((unsigned char)s[n - 1]) == 'L') {
		if (span_value(s, s + n) != n)
			return fail(err, errlen,
				    "day-of-week: \"" TOK_FMT
				    "\": L takes a single day (such as 5L)",
				    TOK_ARG(s, n));
		rc = parse_value(F_DOW, s, n - 1, &d, err, errlen);
		if (rc)
			return rc;
		e->dow_last |= (uint8_t)(1u << (d % 7));
		return 1;
	}
	return 0;
}

/* One comma element of field f: `*`, `?`, a, a-b, with /n on the last three
 * forms (`a/n` runs from a to the field's maximum), or a day special. */
static int parse_element(struct cron_expr *e, enum field_id f, const char *s, size_t n,
			 uint64_t *bits, char *err, size_t errlen)
{
	const struct field_def *fd = &FIELDS[f];
	const char *end = s + n, *p = s;
	long a, b, step = 1;
	int rc;

	if (n == 0)
		return fail(err, errlen, "%s: empty list element", fd->name);
	const char *slash = memchr(s, '/', n);
	const char *body_end = slash ? slash : end;

	if (*p == '*' || *p == '?') {
		if (*p == '?' && f != F_DOM && f != F_DOW)
			return fail(err, errlen,
				    "%s: \"?\" is only allowed in day-of-month and day-of-week",
				    fd->name);
		if (body_end != p + 1)
			return fail(err, errlen, "%s: \"" TOK_FMT "\" is not valid", fd->name,
				    TOK_ARG(s, n));
		if (slash && (rc = parse_step(f, s, n, slash + 1, end, &step, err, errlen)))
			return rc;
		set_range(f, bits, fd->min, f == F_DOW ? 6 : fd->max, step);
		return 0;
	}
	if (!slash) {
		if (f == F_DOM && (rc = parse_dom_special(e, s, n, err, errlen)) != 0)
			return rc < 0 ? rc : 0;
		if (f == F_DOW && (rc = parse_dow_special(e, s, n, err, errlen)) != 0)
			return rc < 0 ? rc : 0;
	}
	size_t an = span_value(p, body_end);
	if ((rc = parse_value(f, p, an, &a, err, errlen)))
		return rc;
	p += an;
	b = a;
	if (p < body_end && *p == '-') {
		p++;
		size_t bn = span_value(p, body_end);
		if ((rc = parse_value(f, p, bn, &b, err, errlen)))
			return rc;
		/* SUN ending a range is 7, so MON-SUN is the whole week (croner
		 * reads it the same way). */
		if (f == F_DOW && b == 0 && !isdigit((unsigned char)*p))
			b = 7;
		p += bn;
		if (a > b)
			return fail(err, errlen,
				    "%s: range " TOK_FMT " is reversed (start after end)", fd->name,
				    TOK_ARG(s, (size_t)(p - s)));
	} else if (slash) {
		/* `a/n`: from a to the end of the field, as Quartz and croner's
		 * sloppy ranges read it. */
		b = f == F_DOW ? 6 : fd->max;
		if (a > b)
			b = a;
	}
	if (p != body_end)
		return fail(err, errlen, "%s: \"" TOK_FMT "\" is not valid", fd->name,
			    TOK_ARG(s, n));
	if (slash && (rc = parse_step(f, s, n, slash + 1, end, &step, err, errlen)))
		return rc;
	set_range(f, bits, a, b, step);
	return 0;
}

static int parse_field(struct cron_expr *e, enum field_id f, const char *s, size_t n,
		       uint64_t *bits, char *err, size_t errlen)
{
	const char *end = s + n;
	*bits = 0;
	while (s <= end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *stop = comma ? comma : end;
		int rc = parse_element(e, f, s, (size_t)(stop - s), bits, err, errlen);
		if (rc)
			return rc;
		s = stop + 1;
	}
	return 0;
}

static int weekday_of(int w1, int day)
{
	return (w1 + day - 1) % 7;
}

/* The matching days (bits 1..dim) of a month whose first day is weekday w1. */
static uint32_t compute_days(const struct cron_expr *e, int w1, int dim)
{
	uint32_t valid = (uint32_t)(((UINT64_C(1) << dim) - 1) << 1);
	uint32_t dom = 0, dow = 0;

	if (e->dom_star) {
		dom = valid;
	} else {
		dom = e->dom & valid;
		if (e->dom_last)
			dom |= UINT32_C(1) << dim;
		if (e->dom_lw) {
			int d = dim, wd = weekday_of(w1, dim);
			d -= wd == 6 ? 1 : wd == 0 ? 2 : 0;
			dom |= UINT32_C(1) << d;
		}
		for (int n = 1; n <= dim; n++) {
			if (!(e->dom_w & (UINT32_C(1) << n)))
				continue;
			int wd = weekday_of(w1, n), d = n;
			/* The nearest weekday, never leaving the month: a Saturday
			 * the 1st moves to Monday the 3rd, a Sunday the last to
			 * Friday. */
			if (wd == 6)
				d = n == 1 ? 3 : n - 1;
			else if (wd == 0)
				d = n == dim ? n - 2 : n + 1;
			dom |= UINT32_C(1) << d;
		}
	}
	if (e->dow_star) {
		dow = valid;
	} else {
		for (int d = 1; d <= dim; d++) {
			int wd = weekday_of(w1, d);
			uint8_t bit = (uint8_t)(1u << wd);
			int nth = (d - 1) / 7; /* 0-based occurrence */
			if ((e->dow & bit) || (e->dow_nth[nth] & bit) ||
			    ((e->dow_last & bit) && d + 7 > dim))
				dow |= UINT32_C(1) << d;
		}
	}
	if (e->dom_star || e->dow_star)
		return dom & dow;
	return dom | dow;
}

static bool fixed_field(const char *s, size_t n, uint64_t bits)
{
	/* As croner: one value, written without `*` or a step. */
	if (memchr(s, '*', n) || memchr(s, '/', n))
		return false;
	return bits && !(bits & (bits - 1));
}

static int never_fires(const struct cron_expr *e, const char *dom_text, size_t dom_n,
		       const char *dow_text, size_t dow_n, const char *mon_text, size_t mon_n,
		       char *err, size_t errlen)
{
	for (int m = 1; m <= 12; m++) {
		if (!(e->month & (1u << m)))
			continue;
		int lo = m == 2 ? 28 : civil_days_in_month(2001, m);
		int hi = m == 2 ? 29 : lo;
		for (int dim = lo; dim <= hi; dim++)
			for (int w1 = 0; w1 < 7; w1++)
				if (e->days[w1][dim - 28])
					return 0;
	}
	if (e->dow_star)
		return fail(err, errlen,
			    "schedule can never fire: day-of-month " TOK_FMT
			    " never occurs in month " TOK_FMT,
			    TOK_ARG(dom_text, dom_n), TOK_ARG(mon_text, mon_n));
	return fail(err, errlen,
		    "schedule can never fire: no day matches day-of-month " TOK_FMT
		    " and day-of-week " TOK_FMT " in month " TOK_FMT,
		    TOK_ARG(dom_text, dom_n), TOK_ARG(dow_text, dow_n), TOK_ARG(mon_text, mon_n));
}

static int parse_every(struct cron_expr *e, const char *s, size_t n, char *err, size_t errlen)
{
	const char *p = s, *end = s + n;
	int64_t total = 0;
	bool any = false;
	if (n == 0)
		return fail(err, errlen,
			    "@every: a duration is missing (such as 90s, 1m30s or 2h)");
	while (p < end) {
		int64_t v = 0;
		const char *d = p;
		while (p < end && isdigit((unsigned char)*p)) {
			if (v <= MAX_EVERY)
				v = v * 10 + (*p - '0');
			p++;
		}
		if (p == d || p == end || (*p != 'h' && *p != 'm' && *p != 's') ||
		    (p + 1 < end && p[1] == 's' && *p == 'm'))
			return fail(err, errlen,
				    "@every: \"" TOK_FMT "\" is not a duration in whole seconds "
				    "(such as 90s, 1m30s or 2h)",
				    TOK_ARG(s, n));
		int64_t unit = *p == 'h' ? 3600 : *p == 'm' ? 60 : 1;
		p++;
		if (v > MAX_EVERY)
			v = MAX_EVERY + 1;
		total += v * unit;
		if (total > MAX_EVERY)
			return fail(err, errlen, "@every: \"" TOK_FMT "\" is longer than 87600h",
				    TOK_ARG(s, n));
		any = true;
	}
	if (!any || total < 1)
		return fail(err, errlen, "@every: \"" TOK_FMT "\" is shorter than 1s",
			    TOK_ARG(s, n));
	e->every = true;
	e->period = total;
	return 0;
}

static const struct {
	const char *name;
	const char *fields;
} MACROS[] = {
    {"@yearly", "0 0 0 1 1 *"}, {"@annually", "0 0 0 1 1 *"}, {"@monthly", "0 0 0 1 * *"},
    {"@weekly", "0 0 0 * * 0"}, {"@daily", "0 0 0 * * *"},    {"@midnight", "0 0 0 * * *"},
    {"@hourly", "0 0 * * * *"},
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int parse_fields(struct cron_expr *e, const char *s, size_t len, char *err, size_t errlen)
{
	const char *tok[7];
	size_t tlen[7];
	int nf = 0;
	const char *p = s, *end = s + len;
	while (p < end) {
		while (p < end && is_blank(*p))
			p++;
		if (p == end)
			break;
		const char *q = p;
		while (q < end && !is_blank(*q))
			q++;
		if (nf < 7) {
			tok[nf] = p;
			tlen[nf] = (size_t)(q - p);
		}
		nf++;
		p = q;
	}
	if (nf != 5 && nf != 6)
		return fail(err, errlen, "expected 5 or 6 fields, got %d", nf);

	static const char zero[] = "0";
	const char *ft[F_COUNT];
	size_t fl[F_COUNT];
	int off = nf == 5 ? 1 : 0;
	if (nf == 5) {
		ft[F_SEC] = zero;
		fl[F_SEC] = 1;
	}
	for (int i = 0; i < nf; i++) {
		ft[i + off] = tok[i];
		fl[i + off] = tlen[i];
	}
	uint64_t b[F_COUNT];
	for (int f = 0; f < F_COUNT; f++) {
		int rc = parse_field(e, (enum field_id)f, ft[f], fl[f], &b[f], err, errlen);
		if (rc)
			return rc;
	}
	e->sec = b[F_SEC];
	e->min = b[F_MIN];
	e->hour = (uint32_t)b[F_HOUR];
	e->dom = (uint32_t)b[F_DOM];
	e->month = (uint16_t)b[F_MONTH];
	e->dow = (uint8_t)b[F_DOW];
	e->dom_star = fl[F_DOM] == 1 && (ft[F_DOM][0] == '*' || ft[F_DOM][0] == '?');
	e->dow_star = fl[F_DOW] == 1 && (ft[F_DOW][0] == '*' || ft[F_DOW][0] == '?');
	e->fixed = fixed_field(ft[F_SEC], fl[F_SEC], e->sec) &&
		   fixed_field(ft[F_MIN], fl[F_MIN], e->min) &&
		   fixed_field(ft[F_HOUR], fl[F_HOUR], e->hour);
	for (int w1 = 0; w1 < 7; w1++)
		for (int dim = 28; dim <= 31; dim++)
			e->days[w1][dim - 28] = compute_days(e, w1, dim);
	return never_fires(e, ft[F_DOM], fl[F_DOM], ft[F_DOW], fl[F_DOW], ft[F_MONTH], fl[F_MONTH],
			   err, errlen);
}

int cron_parse(const char *text, struct cron_expr **out, char *err, size_t errlen)
{
	*out = NULL;
	const char *s = text, *end = text + strlen(text);
	while (s < end && is_blank(*s))
		s++;
	while (end > s && (is_blank(end[-1]) || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	size_t len = (size_t)(end - s);

	struct cron_expr *e = xcalloc(1, sizeof(*e));
	int rc;
	if (len > 0 && *s == '@') {
		size_t wn = 0;
		while (wn < len && !is_blank(s[wn]))
			wn++;
		const char *arg = s + wn;
		while (arg < end && is_blank(*arg))
			arg++;
		if (eq_nocase(s, wn, "@every")) {
			rc = parse_every(e, arg, (size_t)(end - arg), err, errlen);
		} else {
			int found = -1;
			for (size_t i = 0; i < sizeof(MACROS) / sizeof(MACROS[0]); i++)
				if (eq_nocase(s, wn, MACROS[i].name))
					found = (int)i;
			if (found < 0) {
				rc = fail(
				    err, errlen,
				    "unknown macro \"" TOK_FMT "\" (expected @yearly, @annually, "
				    "@monthly, @weekly, @daily, @midnight, @hourly or @every)",
				    TOK_ARG(s, wn));
			} else if (arg != end) {
				rc = fail(err, errlen, "macro %s takes no argument",
					  MACROS[found].name);
			} else {
				rc = parse_fields(e, MACROS[found].fields,
						  strlen(MACROS[found].fields), err, errlen);
				/* api.md: every macro but @every and @hourly is
				 * fixed-time; @hourly is "0 0 * * * *", an interval
				 * pattern that follows real hours (both occurrences
				 * of a repeated hour fire), as its fields say. */
				e->fixed = strcmp(MACROS[found].name, "@hourly") != 0;
			}
		}
	} else {
		rc = parse_fields(e, s, len, err, errlen);
	}
	if (rc) {
		free(e);
		return rc;
	}
	*out = e;
	return 0;
}

void cron_free(struct cron_expr *e)
{
	if (!e)
		return;
	free(e);
}

bool cron_is_fixed_time(const struct cron_expr *e)
{
	return e->fixed;
}

bool cron_is_every(const struct cron_expr *e, int64_t *period)
{
	if (e->every && period)
		*period = e->period;
	return e->every;
}

static uint32_t month_days(const struct cron_expr *e, int year, int month, int64_t *day1)
{
	*day1 = civil_days_from_ymd(year, month, 1);
	int dim = civil_days_in_month(year, month);
	return e->days[civil_weekday(*day1)][dim - 28];
}

bool cron_matches_date(const struct cron_expr *e, int64_t days)
{
	if (e->every)
		return true;
	int y, m, d;
	int64_t day1;
	civil_ymd_from_days(days, &y, &m, &d);
	if (!(e->month & (1u << m)))
		return false;
	return (month_days(e, y, m, &day1) >> d) & 1;
}

/* ---- searching -------------------------------------------------------- */

/* The first local time >= from and < limit matching every field, walking
 * the fields from month down to second with "next set bit" jumps. */
static bool next_local(const struct cron_expr *e, int64_t from, int64_t limit, int64_t *out)
{
	struct civil_time c, lc;
	civil_from_seconds(from, &c);
	civil_from_seconds(limit, &lc);
	int y = c.year, mo = c.month, d = c.day, h = c.hour, mi = c.min, s = c.sec;

	for (;;) {
		if (y > lc.year)
			return false;
		uint64_t mm = bits_from(e->month, mo);
		if (!mm) {
			y++;
			mo = 1;
			d = 1;
			h = mi = s = 0;
			continue;
		}
		if (ctz64(mm) != mo) {
			mo = ctz64(mm);
			d = 1;
			h = mi = s = 0;
		}
		int64_t day1;
		uint64_t dm = bits_from(month_days(e, y, mo, &day1), d);
		if (!dm) {
			if (++mo > 12) {
				y++;
				mo = 1;
			}
			d = 1;
			h = mi = s = 0;
			continue;
		}
		if (ctz64(dm) != d) {
			d = ctz64(dm);
			h = mi = s = 0;
		}
		for (;;) {
			int64_t dstart = (day1 + d - 1) * 86400;
			if (dstart >= limit)
				return false;
			uint64_t hm = bits_from(e->hour, h);
			if (!hm)
				break;
			if (ctz64(hm) != h) {
				h = ctz64(hm);
				mi = s = 0;
			}
			uint64_t mim = bits_from(e->min, mi);
			if (!mim) {
				h++;
				mi = s = 0;
				continue;
			}
			if (ctz64(mim) != mi) {
				mi = ctz64(mim);
				s = 0;
			}
			uint64_t sm = bits_from(e->sec, s);
			if (!sm) {
				mi++;
				s = 0;
				continue;
			}
			s = ctz64(sm);
			int64_t t = dstart + h * 3600 + mi * 60 + s;
			if (t >= limit)
				return false;
			*out = t;
			return true;
		}
		d++;
		h = mi = s = 0;
	}
}

static int64_t search_limit(int64_t after)
{
	int64_t lim = after + (int64_t)SEARCH_YEARS * 31556952; /* mean Gregorian year */
	return lim > MAX_UNIX + 1 ? MAX_UNIX + 1 : lim;
}

/* Non-fixed patterns fire at every UTC instant whose wall-clock reading
 * matches: walk the spans of constant offset, so a gap is never matched
 * and an overlap's local times are met once in each span. */
static int next_interval(const struct cron_expr *e, const struct tz *z, int64_t after,
			 int64_t *next)
{
	int64_t limit = search_limit(after);
	int64_t t = after + 1;
	while (t < limit) {
		int64_t off = z ? tz_offset_at(z, t) : 0;
		int64_t end = z ? tz_next_transition(z, t) : INT64_MAX;
		if (end <= t || end > limit)
			end = limit;
		int64_t local;
		if (next_local(e, t + off, end + off, &local)) {
			*next = local - off;
			return 0;
		}
		t = end;
	}
	return -ENOENT;
}

static int64_t fire_of(const struct tz_mapping *m)
{
	return m->kind == TZ_GAP ? m->gap_end : m->utc[0];
}

/* Fixed-time patterns fire once per matching local time: at its first
 * occurrence, or at the gap's end. That instant never decreases as the local
 * time grows, so the first match after the local reading of `after` whose
 * instant lies after `after` is the answer. */
static int next_fixed(const struct cron_expr *e, const struct tz *z, int64_t after, int64_t *next)
{
	int64_t limit = search_limit(after);
	int64_t lfrom = (z ? tz_utc_to_local(z, after) : after) + 1;
	int64_t llimit = limit + 2 * 86400;
	int64_t local;
	while (next_local(e, lfrom, llimit, &local)) {
		int64_t f = local;
		if (z) {
			struct tz_mapping m;
			tz_local_to_utc(z, local, &m);
			f = fire_of(&m);
		}
		if (f > after) {
			if (f >= limit)
				break;
			*next = f;
			return 0;
		}
		lfrom = local + 1;
	}
	return -ENOENT;
}

int cron_next(const struct cron_expr *e, const struct tz *z, int64_t after, int64_t *next)
{
	if (after < MIN_UNIX || after > MAX_UNIX)
		return -ERANGE;
	if (e->every) {
		int64_t n = (civil_floor_div(after, e->period) + 1) * e->period;
		if (n > MAX_UNIX)
			return -ENOENT;
		*next = n;
		return 0;
	}
	if (e->fixed)
		return next_fixed(e, z, after, next);
	return next_interval(e, z, after, next);
}

int cron_local_to_fire(const struct cron_expr *e, const struct tz *z, int64_t local, int64_t utc[2],
		       int *n)
{
	if (e->every) {
		*n = 0;
		return -EINVAL;
	}
	struct tz_mapping m;
	if (z) {
		tz_local_to_utc(z, local, &m);
	} else {
		m.kind = TZ_UNIQUE;
		m.utc[0] = local;
	}
	switch (m.kind) {
	case TZ_UNIQUE:
		utc[0] = m.utc[0];
		*n = 1;
		break;
	case TZ_GAP:
		utc[0] = m.gap_end;
		*n = e->fixed ? 1 : 0;
		break;
	case TZ_OVERLAP:
		utc[0] = m.utc[0];
		utc[1] = m.utc[1];
		*n = e->fixed ? 1 : 2;
		break;
	}
	return 0;
}
