/* Business-day table: building (spec listings, CSV) and queries. */
#include "calendar/calendar.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "base/xalloc.h"
#include "tz/civil.h"
#include "base/errmsg.h"
#include "base/banned.h"

enum listing_origin { FROM_HOLIDAYS, FROM_EXTRA, FROM_CSV };

struct calendar_listing {
	int64_t day;
	uint32_t index;	 /* holidays[i] / extraBusinessDays[i] / CSV row */
	uint16_t source; /* CSV: index into builder->sources */
	uint8_t origin;
	uint8_t business;
};

/* Per month of the coverage: bit d-1 stands for day d of the month. */
struct calendar_month {
	uint32_t business;
	uint32_t covered;
	uint32_t full; /* every day of the month */
	int64_t start; /* day number of its 1st */
};

struct calendar {
	char *zone;
	unsigned weekend_mask;
	int64_t first, last;
	uint32_t ndays;
	uint32_t nbusiness;
	uint64_t *bits;
	int64_t first_month; /* year * 12 + month - 1 of `first` */
	uint32_t nmonths;
	struct calendar_month *months;
};

/* --- messages -------------------------------------------------------------- */

/* A value from the input, quoted into a message: bounded and printable, so a
 * hostile table cannot put control characters or megabytes into an Event. */
static void quote_value(const char *s, size_t len, char *out, size_t n)
{
	size_t o = 0, max = 40;
	for (size_t i = 0; i < len && o + 4 < n; i++) {
		if (i == max) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char ch = (unsigned char)s[i];
		out[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	out[o] = '\0';
}

static void fmt_day(int64_t day, char out[16])
{
	if (civil_format_date(day, out, 16) < 0)
		snprintf(out, 16, "day %" PRId64, day);
}

/* --- builder --------------------------------------------------------------- */

void calendar_builder_init(struct calendar_builder *b)
{
	memset(b, 0, sizeof(*b));
	b->weekend_mask = CALENDAR_WEEKEND_DEFAULT;
}

void calendar_builder_release(struct calendar_builder *b)
{
	free(b->zone);
	free(b->list);
	for (size_t i = 0; i < b->nsources; i++)
		free(b->sources[i]);
	free(b->sources);
	calendar_builder_init(b);
}

int calendar_builder_set_zone(struct calendar_builder *b, const char *zone, char *err,
			      size_t errlen)
{
	if (zone && (!*zone || strlen(zone) > 255)) {
		errmsg_set(err, errlen, "timeZone must be a non-empty name of at most 255 bytes");
		return -EINVAL;
	}
	free(b->zone);
	b->zone = zone ? xstrdup(zone) : NULL;
	return 0;
}

void calendar_builder_set_weekend(struct calendar_builder *b, unsigned mask)
{
	b->weekend_mask = mask & 0x7f;
}

void calendar_builder_set_valid_from(struct calendar_builder *b, int64_t day)
{
	b->has_from = true;
	b->from = day;
}

void calendar_builder_set_valid_until(struct calendar_builder *b, int64_t day)
{
	b->has_until = true;
	b->until = day;
}

static void add_listing(struct calendar_builder *b, int64_t day, enum listing_origin origin,
			uint32_t index, uint16_t source, bool business)
{
	XGROW(b->list, b->caplist, b->nlist + 1);
	b->list[b->nlist++] = (struct calendar_listing){
	    .day = day,
	    .index = index,
	    .source = source,
	    .origin = (uint8_t)origin,
	    .business = business,
	};
}

void calendar_builder_add_holiday(struct calendar_builder *b, int64_t day)
{
	add_listing(b, day, FROM_HOLIDAYS, (uint32_t)b->nholidays++, 0, false);
}

void calendar_builder_add_extra_business_day(struct calendar_builder *b, int64_t day)
{
	add_listing(b, day, FROM_EXTRA, (uint32_t)b->nextra++, 0, true);
}

/* --- CSV ------------------------------------------------------------------- */

struct csv_field {
	const char *p;
	size_t len;
	bool quoted;
};

struct csv_reader {
	const char *s;
	size_t len, pos;
	uint32_t line; /* line number of the next character */
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(struct csv_field *f)
{
	if (f->quoted)
		return;
	while (f->len && is_blank(f->p[0])) {
		f->p++;
		f->len--;
	}
	while (f->len && is_blank(f->p[f->len - 1]))
		f->len--;
}

/* Consumes a line end at pos if there is one ("\r\n", "\n" or a lone "\r"). */
static bool take_eol(struct csv_reader *r)
{
	if (r->pos >= r->len)
		return false;
	if (r->s[r->pos] == '\r') {
		r->pos++;
		if (r->pos < r->len && r->s[r->pos] == '\n')
			r->pos++;
		r->line++;
		return true;
	}
	if (r->s[r->pos] == '\n') {
		r->pos++;
		r->line++;
		return true;
	}
	return false;
}

#define CSV_MAX_FIELDS 3

/* Reads one record (RFC 4180 quoting; a quote inside an unquoted field is an
 * ordinary character). Keeps the first CSV_MAX_FIELDS fields and counts all.
 * Returns 0, or -EINVAL with the reason in `why`. */
static int csv_record(struct csv_reader *r, struct csv_field *f, size_t *nfields, const char **why)
{
	size_t n = 0;
	for (;;) {
		struct csv_field cur = {.p = r->s + r->pos, .len = 0, .quoted = false};
		if (r->pos < r->len && r->s[r->pos] == '"') {
			cur.quoted = true;
			r->pos++;
			cur.p = r->s + r->pos;
			for (;;) {
				if (r->pos >= r->len) {
					*why = "unterminated quoted field";
					return -EINVAL;
				}
				char c = r->s[r->pos];
				if (c == '"') {
					if (r->pos + 1 < r->len && r->s[r->pos + 1] == '"') {
						r->pos += 2;
						continue;
					}
					break;
				}
				if (c == '\n' || (c == '\r' && !(r->pos + 1 < r->len &&
								 r->s[r->pos + 1] == '\n')))
					r->line++;
				r->pos++;
			}
			cur.len = (size_t)(r->s + r->pos - cur.p);
			r->pos++; /* closing quote */
			while (r->pos < r->len && is_blank(r->s[r->pos]))
				r->pos++;
			if (r->pos < r->len && r->s[r->pos] != ',' && r->s[r->pos] != '\r' &&
			    r->s[r->pos] != '\n') {
				*why = "unexpected character after a closing quote";
				return -EINVAL;
			}
		} else {
			while (r->pos < r->len && r->s[r->pos] != ',' && r->s[r->pos] != '\r' &&
			       r->s[r->pos] != '\n')
				r->pos++;
			cur.len = (size_t)(r->s + r->pos - cur.p);
		}
		if (n < CSV_MAX_FIELDS)
			f[n] = cur;
		n++;
		if (r->pos < r->len && r->s[r->pos] == ',') {
			r->pos++;
			continue;
		}
		take_eol(r);
		*nfields = n;
		return 0;
	}
}

static bool field_is(const struct csv_field *f, const char *word)
{
	size_t n = strlen(word);
	if (f->len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)f->p[i]) != word[i])
			return false;
	return true;
}

/* Flags compare without regard to case: "Y", "y", "TRUE" and "True" are the
 * same answer from different exporters. */
static int parse_flag(const struct csv_field *f, bool *business)
{
	static const char *const yes[] = {"y", "1", "true"}, *const no[] = {"n", "0", "false"};
	for (size_t i = 0; i < 3; i++) {
		if (field_is(f, yes[i])) {
			*business = true;
			return 0;
		}
		if (field_is(f, no[i])) {
			*business = false;
			return 0;
		}
	}
	return -EINVAL;
}

int calendar_builder_add_csv(struct calendar_builder *b, const char *name, const char *text,
			     size_t len, char *err, size_t errlen)
{
	/* The name comes from the spec: printable and bounded like any value. */
	char safe[48], pre[56];
	quote_value(name ? name : "table", strlen(name ? name : "table"), safe, sizeof(safe));
	if (name)
		snprintf(pre, sizeof(pre), "%s ", safe);
	else
		pre[0] = '\0';
	if (len > CALENDAR_CSV_MAX) {
		errmsg_set(err, errlen, "%s is %zu bytes; at most %u", safe, len, CALENDAR_CSV_MAX);
		return -EFBIG;
	}
	if (b->nsources >= UINT16_MAX) {
		errmsg_set(err, errlen, "%stoo many tables", pre);
		return -EINVAL;
	}
	size_t keep = b->nlist;
	uint16_t source = (uint16_t)b->nsources;
	struct csv_reader r = {.s = text, .len = len, .pos = 0, .line = 1};
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		r.pos = 3;
	bool first_record = true;
	while (r.pos < r.len) {
		uint32_t row = r.line;
		size_t scan = r.pos;
		while (scan < r.len && is_blank(r.s[scan]))
			scan++;
		if (scan == r.len || r.s[scan] == '\r' || r.s[scan] == '\n') {
			r.pos = scan;
			if (!take_eol(&r))
				break;
			continue;
		}
		struct csv_field f[CSV_MAX_FIELDS];
		size_t nf = 0;
		const char *why = NULL;
		if (csv_record(&r, f, &nf, &why) < 0) {
			errmsg_set(err, errlen, "%srow %" PRIu32 ": %s", pre, row, why);
			goto fail;
		}
		for (size_t i = 0; i < nf && i < CSV_MAX_FIELDS; i++)
			trim(&f[i]);
		bool header = first_record && field_is(&f[0], "date");
		first_record = false;
		if (header) {
			if (nf < 2 || nf > 3 || !field_is(&f[1], "business")) {
				errmsg_set(err, errlen,
					   "%srow %" PRIu32
					   ": a header must be date,business[,description]",
					   pre, row);
				goto fail;
			}
			continue;
		}
		if (nf > CSV_MAX_FIELDS) {
			errmsg_set(err, errlen,
				   "%srow %" PRIu32
				   ": %zu fields; expected date,flag[,description] "
				   "(quote a description that holds commas)",
				   pre, row, nf);
			goto fail;
		}
		char q[48];
		int64_t day;
		if (civil_parse_date(f[0].p, f[0].len, &day) < 0) {
			quote_value(f[0].p, f[0].len, q, sizeof(q));
			errmsg_set(err, errlen, "%srow %" PRIu32 ": \"%s\" is not a valid date",
				   pre, row, q);
			goto fail;
		}
		if (nf < 2) {
			errmsg_set(err, errlen,
				   "%srow %" PRIu32
				   ": missing flag; expected date,flag[,description]",
				   pre, row);
			goto fail;
		}
		bool business;
		if (parse_flag(&f[1], &business) < 0) {
			quote_value(f[1].p, f[1].len, q, sizeof(q));
			errmsg_set(err, errlen,
				   "%srow %" PRIu32
				   ": flag \"%s\" is not one of Y N 1 0 true false",
				   pre, row, q);
			goto fail;
		}
		add_listing(b, day, FROM_CSV, row, source, business);
	}
	XGROW(b->sources, b->capsources, b->nsources + 1);
	b->sources[b->nsources++] = xstrdup(safe);
	return 0;
fail:
	b->nlist = keep;
	return -EINVAL;
}

/* --- build ----------------------------------------------------------------- */

static void describe_listing(const struct calendar_builder *b, const struct calendar_listing *l,
			     char *out, size_t n)
{
	switch (l->origin) {
	case FROM_HOLIDAYS:
		snprintf(out, n, "holidays[%" PRIu32 "]", l->index);
		break;
	case FROM_EXTRA:
		snprintf(out, n, "extraBusinessDays[%" PRIu32 "]", l->index);
		break;
	default:
		snprintf(out, n, "%s row %" PRIu32, b->sources[l->source], l->index);
		break;
	}
}

static const struct calendar_listing *find_listing(const struct calendar_builder *b, int64_t day,
						   bool business)
{
	for (size_t i = 0; i < b->nlist; i++)
		if (b->list[i].day == day && b->list[i].business == business)
			return &b->list[i];
	return NULL;
}

static int64_t month_index(int64_t day)
{
	int y, m, d;
	civil_ymd_from_days(day, &y, &m, &d);
	return (int64_t)y * 12 + (m - 1);
}

int calendar_builder_build(const struct calendar_builder *b, struct calendar **out, char *err,
			   size_t errlen)
{
	int64_t from = b->from, until = b->until;
	bool have_from = b->has_from, have_until = b->has_until;
	/* Without explicit bounds the CSV rows span the coverage; the spec's own
	 * lists do not, as they are usually written a year ahead by hand. */
	for (size_t i = 0; i < b->nlist; i++) {
		const struct calendar_listing *l = &b->list[i];
		if (l->origin != FROM_CSV)
			continue;
		if (!b->has_from && (!have_from || l->day < from)) {
			from = l->day;
			have_from = true;
		}
		if (!b->has_until && (!have_until || l->day > until)) {
			until = l->day;
			have_until = true;
		}
	}
	if (!have_from || !have_until) {
		errmsg_set(err, errlen, "%s is required when no table gives the coverage",
			   !have_from ? "validFrom" : "validUntil");
		return -EINVAL;
	}
	char d1[16], d2[16];
	fmt_day(from, d1);
	fmt_day(until, d2);
	if (from > until) {
		errmsg_set(err, errlen, "validFrom %s is after validUntil %s", d1, d2);
		return -EINVAL;
	}
	if (until - from + 1 > CALENDAR_MAX_DAYS) {
		errmsg_set(err, errlen,
			   "coverage %s..%s is %" PRId64 " days; at most %d (100 years)", d1, d2,
			   until - from + 1, CALENDAR_MAX_DAYS);
		return -EINVAL;
	}
	uint32_t ndays = (uint32_t)(until - from + 1);

	/* bit 0: listed as not a business day, bit 1: listed as one. */
	uint8_t *mark = xcalloc(ndays, 1);
	for (size_t i = 0; i < b->nlist; i++) {
		const struct calendar_listing *l = &b->list[i];
		if (l->day < from || l->day > until)
			continue;
		mark[l->day - from] |= l->business ? 2 : 1;
	}
	for (uint32_t i = 0; i < ndays; i++) {
		if (mark[i] != 3)
			continue;
		int64_t day = from + i;
		char what1[96], what2[96], ds[16];
		const struct calendar_listing *no = find_listing(b, day, false);
		const struct calendar_listing *yes = find_listing(b, day, true);
		describe_listing(b, no, what1, sizeof(what1));
		describe_listing(b, yes, what2, sizeof(what2));
		fmt_day(day, ds);
		errmsg_set(err, errlen,
			   "%s is listed both as a holiday and as a business day (%s, %s)", ds,
			   what1, what2);
		free(mark);
		return -EINVAL;
	}

	struct calendar *c = xcalloc(1, sizeof(*c));
	c->zone = b->zone ? xstrdup(b->zone) : NULL;
	c->weekend_mask = b->weekend_mask;
	c->first = from;
	c->last = until;
	c->ndays = ndays;
	c->bits = xcalloc((ndays + 63) / 64, sizeof(uint64_t));
	c->first_month = month_index(from);
	c->nmonths = (uint32_t)(month_index(until) - c->first_month + 1);
	c->months = xcalloc(c->nmonths, sizeof(*c->months));

	int y, m, d;
	civil_ymd_from_days(from, &y, &m, &d);
	int dim = civil_days_in_month(y, m);
	int wd = civil_weekday(from);
	uint32_t mi = 0;
	c->months[0].start = from - (d - 1);
	c->months[0].full = (uint32_t)((UINT64_C(1) << dim) - 1);
	for (uint32_t i = 0; i < ndays; i++) {
		bool business;
		if (mark[i] & 2)
			business = true;
		else if (mark[i] & 1)
			business = false;
		else
			business = !(c->weekend_mask & (1u << wd));
		c->months[mi].covered |= 1u << (d - 1);
		if (business) {
			c->bits[i / 64] |= UINT64_C(1) << (i % 64);
			c->months[mi].business |= 1u << (d - 1);
			c->nbusiness++;
		}
		wd = wd == 6 ? 0 : wd + 1;
		if (++d > dim) {
			d = 1;
			mi++;
			if (++m > 12) {
				m = 1;
				y++;
			}
			dim = civil_days_in_month(y, m);
			if (mi < c->nmonths) {
				c->months[mi].start = from + i + 1;
				c->months[mi].full = (uint32_t)((UINT64_C(1) << dim) - 1);
			}
		}
	}
	free(mark);
	*out = c;
	return 0;
}

/* --- the spec as JSON ------------------------------------------------------ */

static int json_date(const cJSON *v, const char *field, int idx, int64_t *day, char *err,
		     size_t errlen)
{
	char where[64];
	if (idx >= 0)
		snprintf(where, sizeof(where), "%s[%d]", field, idx);
	else
		snprintf(where, sizeof(where), "%s", field);
	if (!cJSON_IsString(v) || !v->valuestring) {
		errmsg_set(err, errlen, "%s: must be a date string \"YYYY-MM-DD\"", where);
		return -EINVAL;
	}
	size_t n = strlen(v->valuestring);
	if (civil_parse_date(v->valuestring, n, day) < 0) {
		char q[48];
		quote_value(v->valuestring, n, q, sizeof(q));
		errmsg_set(err, errlen, "%s: \"%s\" is not a valid date", where, q);
		return -EINVAL;
	}
	return 0;
}

static int json_day_list(const cJSON *spec, const char *field, struct calendar_builder *b,
			 char *err, size_t errlen)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(spec, field);
	if (!a || cJSON_IsNull(a))
		return 0;
	if (!cJSON_IsArray(a)) {
		errmsg_set(err, errlen, "%s: must be a list of dates", field);
		return -EINVAL;
	}
	int idx = 0;
	const cJSON *v;
	cJSON_ArrayForEach(v, a)
	{
		int64_t day;
		if (json_date(v, field, idx, &day, err, errlen) < 0)
			return -EINVAL;
		if (strcmp(field, "holidays") == 0)
			calendar_builder_add_holiday(b, day);
		else
			calendar_builder_add_extra_business_day(b, day);
		idx++;
	}
	return 0;
}

static int json_weekend(const cJSON *spec, struct calendar_builder *b, char *err, size_t errlen)
{
	static const char *const names[7] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(spec, "weekendDays");
	if (!a || cJSON_IsNull(a))
		return 0;
	if (!cJSON_IsArray(a)) {
		errmsg_set(err, errlen, "weekendDays: must be a list of day names");
		return -EINVAL;
	}
	unsigned mask = 0;
	int idx = 0;
	const cJSON *v;
	cJSON_ArrayForEach(v, a)
	{
		int found = -1;
		if (cJSON_IsString(v) && v->valuestring)
			for (int i = 0; i < 7; i++)
				if (strcasecmp(v->valuestring, names[i]) == 0)
					found = i;
		if (found < 0) {
			char q[48] = "";
			if (cJSON_IsString(v) && v->valuestring)
				quote_value(v->valuestring, strlen(v->valuestring), q, sizeof(q));
			errmsg_set(
			    err, errlen,
			    "weekendDays[%d]: \"%s\" is not one of SUN MON TUE WED THU FRI SAT",
			    idx, q);
			return -EINVAL;
		}
		mask |= 1u << found;
		idx++;
	}
	calendar_builder_set_weekend(b, mask);
	return 0;
}

static const char *json_string(const cJSON *o, const char *field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int calendar_spec_source(const struct cJSON *spec, struct calendar_source_ref *ref, char *err,
			 size_t errlen)
{
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(spec, "source");
	if (!src || cJSON_IsNull(src))
		return 0;
	const cJSON *cm = cJSON_GetObjectItemCaseSensitive(src, "configMapRef");
	if (!cJSON_IsObject(src) || !cJSON_IsObject(cm)) {
		errmsg_set(err, errlen, "source: must hold configMapRef {namespace, name, key}");
		return -EINVAL;
	}
	ref->namespace_ = json_string(cm, "namespace");
	ref->name = json_string(cm, "name");
	ref->key = json_string(cm, "key");
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(cm, "key");
	if (!ref->namespace_ || !*ref->namespace_ || !ref->name || !*ref->name ||
	    (key && !cJSON_IsNull(key) && (!ref->key || !*ref->key))) {
		errmsg_set(err, errlen,
			   "source.configMapRef: namespace and name are required strings (key is "
			   "optional, default table.csv)");
		return -EINVAL;
	}
	if (!ref->key)
		ref->key = "table.csv";
	return 1;
}

int calendar_from_spec_json(const struct cJSON *spec, const char *csv, size_t csvlen,
			    struct calendar **out, char *err, size_t errlen)
{
	if (!cJSON_IsObject(spec)) {
		errmsg_set(err, errlen, "spec: must be an object");
		return -EINVAL;
	}
	struct calendar_builder b;
	calendar_builder_init(&b);
	int rc = -EINVAL;
	const cJSON *zone = cJSON_GetObjectItemCaseSensitive(spec, "timeZone");
	if (zone && !cJSON_IsNull(zone)) {
		if (!cJSON_IsString(zone) || !zone->valuestring) {
			errmsg_set(err, errlen, "timeZone: must be a string");
			goto out;
		}
		if (calendar_builder_set_zone(&b, zone->valuestring, err, errlen) < 0)
			goto out;
	}
	if (json_weekend(spec, &b, err, errlen) < 0)
		goto out;
	int64_t day;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, "validFrom");
	if (v && !cJSON_IsNull(v)) {
		if (json_date(v, "validFrom", -1, &day, err, errlen) < 0)
			goto out;
		calendar_builder_set_valid_from(&b, day);
	}
	v = cJSON_GetObjectItemCaseSensitive(spec, "validUntil");
	if (v && !cJSON_IsNull(v)) {
		if (json_date(v, "validUntil", -1, &day, err, errlen) < 0)
			goto out;
		calendar_builder_set_valid_until(&b, day);
	}
	if (json_day_list(spec, "holidays", &b, err, errlen) < 0 ||
	    json_day_list(spec, "extraBusinessDays", &b, err, errlen) < 0)
		goto out;
	struct calendar_source_ref ref;
	int has_source = calendar_spec_source(spec, &ref, err, errlen);
	if (has_source < 0)
		goto out;
	if (has_source && !csv) {
		char ns[48], nm[48], key[48];
		quote_value(ref.namespace_, strlen(ref.namespace_), ns, sizeof(ns));
		quote_value(ref.name, strlen(ref.name), nm, sizeof(nm));
		quote_value(ref.key, strlen(ref.key), key, sizeof(key));
		errmsg_set(err, errlen, "source: the table %s/%s key %s was not supplied", ns, nm,
			   key);
		goto out;
	}
	if (csv) {
		rc = calendar_builder_add_csv(&b, has_source ? ref.key : "table.csv", csv, csvlen,
					      err, errlen);
		if (rc < 0)
			goto out;
	}
	rc = calendar_builder_build(&b, out, err, errlen);
out:
	calendar_builder_release(&b);
	return rc;
}

/* --- queries --------------------------------------------------------------- */

void calendar_free(struct calendar *c)
{
	if (!c)
		return;
	free(c->zone);
	free(c->bits);
	free(c->months);
	free(c);
}

bool calendar_equal(const struct calendar *a, const struct calendar *b)
{
	if (a == b)
		return true;
	if (!a || !b || a->first != b->first || a->last != b->last ||
	    a->weekend_mask != b->weekend_mask || (!a->zone) != (!b->zone) ||
	    (a->zone && strcmp(a->zone, b->zone) != 0))
		return false;
	/* Bits past the last day are always zero, so whole words compare. */
	return memcmp(a->bits, b->bits, (a->ndays + 63) / 64 * sizeof(uint64_t)) == 0;
}

const char *calendar_zone(const struct calendar *c)
{
	return c->zone;
}

unsigned calendar_weekend_mask(const struct calendar *c)
{
	return c->weekend_mask;
}

int64_t calendar_first_day(const struct calendar *c)
{
	return c->first;
}

int64_t calendar_last_day(const struct calendar *c)
{
	return c->last;
}

bool calendar_covers(const struct calendar *c, int64_t day)
{
	return day >= c->first && day <= c->last;
}

uint32_t calendar_day_count(const struct calendar *c)
{
	return c->ndays;
}

uint32_t calendar_business_day_count(const struct calendar *c)
{
	return c->nbusiness;
}

static bool bit(const struct calendar *c, uint32_t i)
{
	return (c->bits[i / 64] >> (i % 64)) & 1;
}

int calendar_is_business_day(const struct calendar *c, int64_t day)
{
	if (day < c->first || day > c->last)
		return -ENODATA;
	return bit(c, (uint32_t)(day - c->first));
}

int calendar_next_business_day(const struct calendar *c, int64_t day, int64_t *out)
{
	if (day < c->first - 1 || day >= c->last)
		return -ENODATA;
	uint32_t i = (uint32_t)(day + 1 - c->first);
	uint32_t w = i / 64;
	uint64_t word = c->bits[w] & (~UINT64_C(0) << (i % 64));
	uint32_t nwords = (c->ndays + 63) / 64;
	for (;;) {
		if (word) {
			uint32_t found = w * 64 + (uint32_t)__builtin_ctzll(word);
			if (found >= c->ndays)
				return -ENODATA;
			*out = c->first + found;
			return 0;
		}
		if (++w >= nwords)
			return -ENODATA;
		word = c->bits[w];
	}
}

int calendar_prev_business_day(const struct calendar *c, int64_t day, int64_t *out)
{
	if (day <= c->first || day > c->last + 1)
		return -ENODATA;
	uint32_t i = (uint32_t)(day - 1 - c->first);
	int64_t w = i / 64;
	uint32_t sh = i % 64;
	uint64_t word = c->bits[w] & (sh == 63 ? ~UINT64_C(0) : ((UINT64_C(1) << (sh + 1)) - 1));
	for (;;) {
		if (word) {
			*out = c->first + w * 64 + (63 - __builtin_clzll(word));
			return 0;
		}
		if (--w < 0)
			return -ENODATA;
		word = c->bits[w];
	}
}

/* The month's masks, or NULL when the month lies wholly outside. */
static const struct calendar_month *month_at(const struct calendar *c, int year, int month)
{
	int64_t idx = (int64_t)year * 12 + (month - 1) - c->first_month;
	if (idx < 0 || idx >= c->nmonths)
		return NULL;
	return &c->months[idx];
}

/* The month holding a covered day, without a civil conversion: estimate
 * the index from the mean Gregorian month, then step to the exact one. */
static const struct calendar_month *month_of(const struct calendar *c, int64_t day)
{
	int64_t i = (day - c->months[0].start) * 4800 / 146097;
	if (i >= c->nmonths)
		i = c->nmonths - 1;
	if (i < 0)
		i = 0;
	while (i + 1 < c->nmonths && c->months[i + 1].start <= day)
		i++;
	while (i > 0 && c->months[i].start > day)
		i--;
	return &c->months[i];
}

static int select_bit(uint32_t mask, int n)
{
	while (--n > 0)
		mask &= mask - 1;
	return __builtin_ctz(mask);
}

int calendar_nth_business_day(const struct calendar *c, int year, int month, int n, int64_t *out)
{
	if (n == 0 || month < 1 || month > 12)
		return -EINVAL;
	const struct calendar_month *cm = month_at(c, year, month);
	if (!cm || cm->covered != cm->full)
		return -ENODATA;
	int count = __builtin_popcount(cm->business);
	int k = n > 0 ? n : count + n + 1;
	if (k < 1 || k > count)
		return -ENOENT;
	*out = cm->start + select_bit(cm->business, k);
	return 0;
}

int calendar_is_nth_business_day(const struct calendar *c, int64_t day, int n)
{
	if (day < c->first || day > c->last)
		return -ENODATA;
	const struct calendar_month *cm = month_of(c, day);
	int d = (int)(day - cm->start) + 1;
	uint32_t upto = (uint32_t)((UINT64_C(1) << d) - 1); /* days 1..d */
	uint32_t from = cm->full & ~(upto >> 1);	    /* days d..end */
	uint32_t need = n > 0 ? upto : from;
	if ((cm->covered & need) != need)
		return -ENODATA;
	if (n == 0 || !((cm->business >> (d - 1)) & 1))
		return 0;
	int rank = n > 0 ? __builtin_popcount(cm->business & upto)
			 : -__builtin_popcount(cm->business & from);
	return rank == n;
}

int calendar_business_days_in_month(const struct calendar *c, int year, int month)
{
	if (month < 1 || month > 12)
		return -EINVAL;
	const struct calendar_month *cm = month_at(c, year, month);
	if (!cm || cm->covered != cm->full)
		return -ENODATA;
	return __builtin_popcount(cm->business);
}
