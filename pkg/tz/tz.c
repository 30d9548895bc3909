#include "tz/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "tz/civil.h"

#include "base/errmsg.h"
#include "base/banned.h"

/* The zone is one sorted table of (instant, offset from then on), holding
 * only real offset changes: the TZif transitions followed by the footer
 * rule's transitions expanded over one whole 400-year Gregorian cycle. The
 * rule's transitions repeat exactly every 400 years (146097 days, a whole
 * number of weeks), so an instant past the expanded cycle is shifted back by
 * whole cycles and answered from the table: every query is one binary search,
 * for any instant, with no per-zone mutable cache. */

#define SECS_PER_DAY   86400
#define CYCLE_SECS     ((int64_t)146097 * SECS_PER_DAY)
#define TZIF_MAX_BYTES (1 << 20)
#define NAME_MAX_LEN   255
/* RFC 8536 bounds for a UT offset (just under +-25h / 26h). */
#define OFF_MIN (-89999)
#define OFF_MAX 93599

struct tz {
	char *name;
	size_t n;
	int64_t *at;  /* ascending instants of offset changes */
	int32_t *off; /* off[i]: offset from at[i] until at[i+1] */
	int32_t off0; /* offset before at[0] (or always, when n == 0) */
	int32_t min_off, max_off;
	/* Periodic extension: instants >= cyc_lo + CYCLE_SECS (and, when the
	 * rule also governs the past, those in (below_from, cyc_lo)) are
	 * reduced into [cyc_lo, cyc_lo + cycle). */
	bool periodic;
	bool periodic_below;
	int64_t cyc_lo;
	int64_t below_from; /* reduce from below only past this instant */
	/* Loaded from a file by tz_load: shared through `cache` by every
	 * caller that loads the same file, freed when the last one frees it. */
	unsigned refs;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct tz *next_cached;
};

/* The zones tz_load has loaded from files and that are still held: 10,000
 * schedules in Asia/Seoul hold one zone, not 10,000 copies. Keyed by name
 * and the file's identity (device, inode, size, mtime), so an updated
 * zone database is read again by the next load while older holders keep
 * what they loaded. A handful of zones: a list is enough. */
static struct tz *cache;

static struct tz *cache_find(const char *name, const struct stat *st)
{
	for (struct tz *z = cache; z; z = z->next_cached)
		if (!strcmp(z->name, name) && z->dev == st->st_dev && z->ino == st->st_ino &&
		    z->size == st->st_size && z->mtime.tv_sec == st->st_mtim.tv_sec &&
		    z->mtime.tv_nsec == st->st_mtim.tv_nsec)
			return z;
	return NULL;
}

static const struct tz tz_utc = {
    .name = (char *)"UTC",
};

/* ---- small helpers ---- */

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* A name as it may appear in a message: printable, bounded, so a hostile
 * name cannot forge log lines. */
static void quote_name(const char *name, char *out, size_t n)
{
	/* Room for "..." and the NUL after at most 64 characters. */
	size_t limit = n > 4 ? n - 4 : 0, j = 0;
	const char *p = name;
	for (; *p && j < limit && j < 64; p++) {
		unsigned char c = (unsigned char)*p;
		out[j++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
	}
	if (*p && n >= 4) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	if (n > 0)
		out[j] = '\0';
}

/* Number of entries of a[0..n) that are <= x. */
static size_t count_le(const int64_t *a, size_t n, int64_t x)
{
	const int64_t *base = a;
	if (n == 0)
		return 0;
	while (n > 1) {
		size_t half = n / 2;
		base = base[half - 1] <= x ? base + half : base;
		n -= half;
	}
	return (size_t)(base - a) + (*base <= x);
}

static int32_t seg_off(const struct tz *z, size_t i)
{
	return i == 0 ? z->off0 : z->off[i - 1];
}

/* Shifts x by whole 400-year cycles into the expanded table when the zone
 * repeats there; without overflow for any x. */
static int64_t reduce(const struct tz *z, int64_t x)
{
	if (!z->periodic)
		return x;
	int64_t hi = z->cyc_lo + CYCLE_SECS;
	if (x < hi && (x >= z->cyc_lo || !z->periodic_below || x <= z->below_from))
		return x;
	int64_t qx = civil_floor_div(x, CYCLE_SECS), rx = x - qx * CYCLE_SECS;
	int64_t ql = civil_floor_div(z->cyc_lo, CYCLE_SECS), rl = z->cyc_lo - ql * CYCLE_SECS;
	return z->cyc_lo - rl + rx + (rx < rl ? CYCLE_SECS : 0);
}

/* Maps v, found for the reduced x_r, back next to the original x. */
static int64_t unreduce(int64_t x, int64_t x_r, int64_t v)
{
	if (x == x_r)
		return v;
	/* Reduced: v lies within a few years of x_r, so the difference is small. */
	return sat_add(x, v - x_r);
}

/* ---- POSIX TZ strings (the TZif footer) ---- */

enum rule_kind { RULE_JULIAN1, RULE_ZERO, RULE_MWD };
struct rule_date {
	enum rule_kind kind;
	int day; /* Jn: 1-365; n: 0-365; M: weekday 0-6 */
	int month, week;
	int32_t time; /* seconds after local midnight, may be negative / > 24h */
};
struct posix_tz {
	int32_t std_off, dst_off; /* seconds east of UTC */
	bool has_dst;
	struct rule_date start, end;
};

static int parse_abbr(const char **pp)
{
	const char *p = *pp;
	size_t len = 0;
	if (*p == '<') {
		p++;
		while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		       (*p >= '0' && *p <= '9') || *p == '+' || *p == '-') {
			p++;
			len++;
		}
		if (*p != '>')
			return -1;
		p++;
	} else {
		while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
			p++;
			len++;
		}
	}
	if (len < 3)
		return -1;
	*pp = p;
	return 0;
}

static int parse_num(const char **pp, int min, int max, int *v)
{
	const char *p = *pp;
	int n = 0, digits = 0;
	while (*p >= '0' && *p <= '9') {
		n = n * 10 + (*p - '0');
		p++;
		if (++digits > 3)
			return -1;
	}
	if (digits == 0 || n < min || n > max)
		return -1;
	*v = n;
	*pp = p;
	return 0;
}

/* [+-]hh[:mm[:ss]] with hh up to max_h; returns seconds (sign applied). */
static int parse_hms(const char **pp, int max_h, int32_t *out)
{
	const char *p = *pp;
	int sign = 1, h, m = 0, s = 0;
	if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		p++;
	}
	if (parse_num(&p, 0, max_h, &h) < 0)
		return -1;
	if (*p == ':') {
		p++;
		if (parse_num(&p, 0, 59, &m) < 0)
			return -1;
		if (*p == ':') {
			p++;
			if (parse_num(&p, 0, 59, &s) < 0)
				return -1;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	*pp = p;
	return 0;
}

static int parse_rule_date(const char **pp, struct rule_date *d)
{
	const char *p = *pp;
	if (*p == 'J') {
		p++;
		d->kind = RULE_JULIAN1;
		if (parse_num(&p, 1, 365, &d->day) < 0)
			return -1;
	} else if (*p == 'M') {
		p++;
		d->kind = RULE_MWD;
		if (parse_num(&p, 1, 12, &d->month) < 0 || *p++ != '.' ||
		    parse_num(&p, 1, 5, &d->week) < 0 || *p++ != '.' ||
		    parse_num(&p, 0, 6, &d->day) < 0)
			return -1;
	} else {
		d->kind = RULE_ZERO;
		if (parse_num(&p, 0, 365, &d->day) < 0)
			return -1;
	}
	d->time = 7200;
	if (*p == '/') {
		p++;
		/* RFC 8536 extends the POSIX 0-24h to -167..167 hours. */
		if (parse_hms(&p, 167, &d->time) < 0)
			return -1;
	}
	*pp = p;
	return 0;
}

static int parse_posix_tz(const char *s, struct posix_tz *r)
{
	const char *p = s;
	int32_t v;
	memset(r, 0, sizeof(*r));
	if (parse_abbr(&p) < 0 || parse_hms(&p, 24, &v) < 0)
		return -1;
	r->std_off = -v; /* POSIX counts hours west */
	if (*p == '\0')
		return 0;
	if (parse_abbr(&p) < 0)
		return -1;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (*p != ',' && *p != '\0') {
		if (parse_hms(&p, 24, &v) < 0)
			return -1;
		r->dst_off = -v;
	}
	if (*p == '\0') {
		/* No rule: the US rules, as tzcode and glibc assume. */
		r->start = (struct rule_date){RULE_MWD, 0, 3, 2, 7200};
		r->end = (struct rule_date){RULE_MWD, 0, 11, 1, 7200};
		return 0;
	}
	if (*p++ != ',' || parse_rule_date(&p, &r->start) < 0 || *p++ != ',' ||
	    parse_rule_date(&p, &r->end) < 0 || *p != '\0')
		return -1;
	return 0;
}

/* Local midnight of the rule's day in `year`, in days since the epoch. */
static int64_t rule_day(const struct rule_date *d, int year)
{
	int64_t jan1 = civil_days_from_ymd(year, 1, 1);
	switch (d->kind) {
	case RULE_JULIAN1:
		return jan1 + d->day - 1 + (civil_is_leap(year) && d->day >= 60);
	case RULE_ZERO:
		return jan1 + d->day;
	case RULE_MWD:
	default: {
		int64_t first = civil_days_from_ymd(year, d->month, 1);
		int mday = 1 + (d->day - civil_weekday(first) + 7) % 7 + (d->week - 1) * 7;
		if (mday > civil_days_in_month(year, d->month))
			mday -= 7;
		return first + mday - 1;
	}
	}
}

/* ---- building the table ---- */

struct trans {
	int64_t at;
	int32_t off;
	uint32_t seq; /* generation order: breaks ties, the later one wins */
};

static int cmp_trans(const void *a, const void *b)
{
	const struct trans *x = a, *y = b;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

struct builder {
	struct trans *v;
	size_t n, cap;
};

static void push(struct builder *b, int64_t at, int32_t off)
{
	XGROW(b->v, b->cap, b->n + 1);
	b->v[b->n] = (struct trans){at, off, (uint32_t)b->n};
	b->n++;
}

/* The rule's transitions of years [y0, y1], sorted, ties resolved. */
static void expand_rule(const struct posix_tz *r, int y0, int y1, struct builder *b)
{
	for (int y = y0; y <= y1; y++) {
		/* The start is read on the standard clock, the end on the DST one. */
		int64_t s = rule_day(&r->start, y) * SECS_PER_DAY + r->start.time - r->std_off;
		int64_t e = rule_day(&r->end, y) * SECS_PER_DAY + r->end.time - r->dst_off;
		push(b, s, r->dst_off);
		push(b, e, r->std_off);
	}
	qsort(b->v, b->n, sizeof(b->v[0]), cmp_trans);
}

/* Fills z's table from TZif transitions (times ascending, offsets per
 * transition), the type-0 offset and an optional footer rule. */
static void build_table(struct tz *z, const int64_t *times, const int32_t *offs, size_t count,
			int32_t off_first, const struct posix_tz *rule)
{
	struct builder out = {0};
	struct builder gen = {0};
	int64_t last = count ? times[count - 1] : INT64_MIN;
	int64_t base_year = 1970;
	bool below = count == 0;
	/* Rule instants up to `from` only set the state in force at `from`;
	 * those in [from, upto) become transitions. */
	int64_t from = last, upto = INT64_MAX;
	if (rule && rule->has_dst) {
		if (count) {
			struct civil_time t;
			civil_from_seconds(last, &t);
			base_year = (int64_t)t.year + 2;
		}
		/* A last transition absurdly far away (zic's "big bang" instant, or
		 * a hostile file): the cycle is placed in the present, and instants
		 * between it and the last transition are reduced into it too. */
		if (base_year < -1000000 || base_year > 1000000) {
			below = base_year < 0;
			base_year = base_year < 0 ? 1970 : 1000000;
		}
		/* Two years before the cycle (the state at its start) to two years
		 * past it (a reduced instant always finds its next transition),
		 * plus one more year on each side: transition times may lie up to a
		 * week outside their own year. */
		int y0 = (int)base_year - 3, y1 = (int)base_year + 403;
		expand_rule(rule, y0, y1, &gen);
		if (count == 0)
			from = civil_days_from_ymd(y0 + 1, 1, 1) * SECS_PER_DAY;
		upto = civil_days_from_ymd(y1, 1, 1) * SECS_PER_DAY;
	}

	int32_t cur = off_first;
	size_t keep = rule && count ? count - 1 : count;
	for (size_t i = 0; i < keep; i++) {
		if (offs[i] != cur)
			push(&out, times[i], offs[i]);
		cur = offs[i];
	}
	z->off0 = off_first;
	bool rule_changes = false;
	if (rule) {
		/* From the last transition on the footer is authoritative, as in
		 * glibc; with no transitions at all it governs all time (RFC 8536). */
		int32_t state = rule->std_off;
		for (size_t i = 0; i < gen.n && gen.v[i].at <= from; i++)
			state = gen.v[i].off;
		if (count == 0)
			z->off0 = cur = state;
		else if (state != cur)
			push(&out, last, state);
		cur = state;
		for (size_t i = 0; i < gen.n && gen.v[i].at < upto; i++) {
			/* Coinciding rule instants (DST all year: one year's end is the
			 * next one's start) net out: only the later one counts. */
			if (gen.v[i].at <= from ||
			    (i + 1 < gen.n && gen.v[i + 1].at == gen.v[i].at))
				continue;
			if (gen.v[i].off != cur) {
				push(&out, gen.v[i].at, gen.v[i].off);
				rule_changes = true;
			}
			cur = gen.v[i].off;
		}
	}
	free(gen.v);

	z->n = out.n;
	z->at = xcalloc(out.n, sizeof(int64_t));
	z->off = xcalloc(out.n, sizeof(int32_t));
	z->min_off = z->max_off = z->off0;
	for (size_t i = 0; i < out.n; i++) {
		z->at[i] = out.v[i].at;
		z->off[i] = out.v[i].off;
		if (z->off[i] < z->min_off)
			z->min_off = z->off[i];
		if (z->off[i] > z->max_off)
			z->max_off = z->off[i];
	}
	free(out.v);
	if (rule_changes) {
		z->periodic = true;
		z->periodic_below = below;
		z->below_from = count ? sat_add(last, 2 * SECS_PER_DAY) : INT64_MIN;
		z->cyc_lo = civil_days_from_ymd((int)base_year, 1, 1) * SECS_PER_DAY;
	}
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_hdr {
	char version;
	uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int read_hdr(const unsigned char *p, size_t len, struct tzif_hdr *h)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return -1;
	h->version = (char)p[4];
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	return 0;
}

static uint64_t block_size(const struct tzif_hdr *h, unsigned tsize)
{
	return (uint64_t)h->timecnt * tsize + h->timecnt + (uint64_t)h->typecnt * 6 + h->charcnt +
	       (uint64_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

#define CORRUPT(...)                                                                               \
	do {                                                                                       \
		errmsg_set(err, errlen, "corrupt TZif file for time zone \"%s\": " __VA_ARGS__);   \
		goto fail;                                                                         \
	} while (0)

static int parse_tzif(struct tz *z, const unsigned char *data, size_t len, const char *qname,
		      char *err, size_t errlen)
{
	struct tzif_hdr h;
	int64_t *times = NULL;
	int32_t *offs = NULL;
	char *footer = NULL;
	int rc = -1;

	if (read_hdr(data, len, &h) < 0)
		CORRUPT("%s", qname, "not a TZif file");
	if (h.version != 0 && (h.version < '2' || h.version > '4'))
		CORRUPT("%s", qname, "unsupported version");
	unsigned tsize = 4;
	const unsigned char *p = data + 44;
	size_t left = len - 44;
	uint64_t bs = block_size(&h, 4);
	if (bs > left)
		CORRUPT("%s", qname, "truncated");
	if (h.version != 0) {
		/* The 32-bit block is only for old readers: skip to the 64-bit one. */
		p += bs;
		left -= (size_t)bs;
		if (read_hdr(p, left, &h) < 0)
			CORRUPT("%s", qname, "missing 64-bit header");
		p += 44;
		left -= 44;
		tsize = 8;
		bs = block_size(&h, 8);
		if (bs > left)
			CORRUPT("%s", qname, "truncated");
	}
	if (h.typecnt == 0 || h.typecnt > 256 || h.charcnt == 0)
		CORRUPT("%s", qname, "bad type count");
	if ((h.isutcnt != 0 && h.isutcnt != h.typecnt) ||
	    (h.isstdcnt != 0 && h.isstdcnt != h.typecnt))
		CORRUPT("%s", qname, "bad indicator count");
	if (h.leapcnt != 0)
		CORRUPT("%s", qname, "leap-second zones (right/...) are not supported");

	const unsigned char *tp = p;
	const unsigned char *ip = tp + (size_t)h.timecnt * tsize;
	const unsigned char *ttp = ip + h.timecnt;
	int32_t type_off[256];
	for (uint32_t i = 0; i < h.typecnt; i++) {
		int32_t o = (int32_t)be32(ttp + 6 * i);
		if (o < OFF_MIN || o > OFF_MAX || ttp[6 * i + 4] > 1 || ttp[6 * i + 5] >= h.charcnt)
			CORRUPT("%s", qname, "bad local time type");
		type_off[i] = o;
	}
	times = xcalloc(h.timecnt, sizeof(*times));
	offs = xcalloc(h.timecnt, sizeof(*offs));
	for (uint32_t i = 0; i < h.timecnt; i++) {
		times[i] = tsize == 8 ? be64(tp + 8 * i) : (int64_t)(int32_t)be32(tp + 4 * i);
		if (i > 0 && times[i] <= times[i - 1])
			CORRUPT("%s", qname, "transition times not ascending");
		if (ip[i] >= h.typecnt)
			CORRUPT("%s", qname, "bad transition type");
		offs[i] = type_off[ip[i]];
	}

	struct posix_tz rule;
	bool has_rule = false;
	if (h.version != 0) {
		const unsigned char *f = p + bs;
		size_t flen = left - (size_t)bs;
		if (flen < 2 || f[0] != '\n')
			CORRUPT("%s", qname, "missing footer");
		const unsigned char *nl = memchr(f + 1, '\n', flen - 1);
		if (!nl)
			CORRUPT("%s", qname, "unterminated footer");
		size_t tzlen = (size_t)(nl - f - 1);
		if (tzlen > 0) {
			footer = xstrndup((const char *)f + 1, tzlen);
			if (strlen(footer) != tzlen || parse_posix_tz(footer, &rule) < 0)
				CORRUPT("%s", qname, "bad TZ rule in footer");
			has_rule = true;
		}
	}
	build_table(z, times, offs, h.timecnt, type_off[0], has_rule ? &rule : NULL);
	rc = 0;
fail:
	free(times);
	free(offs);
	free(footer);
	return rc;
}

/* ---- loading ---- */

static bool is_utc_name(const char *name)
{
	return strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0;
}

static int check_name(const char *name, const char *qname, char *err, size_t errlen)
{
	size_t len = strlen(name);
	if (len == 0) {
		errmsg_set(err, errlen, "invalid time zone name \"\": empty");
		return -1;
	}
	if (len > NAME_MAX_LEN) {
		errmsg_set(err, errlen, "invalid time zone name \"%s\": longer than %d characters",
			   qname, NAME_MAX_LEN);
		return -1;
	}
	if (name[0] == '/') {
		errmsg_set(err, errlen,
			   "invalid time zone name \"%s\": absolute paths are not allowed", qname);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '+' || c == '.' ||
			  c == '/';
		if (!ok) {
			errmsg_set(err, errlen,
				   "invalid time zone name \"%s\": character %zu is not allowed",
				   qname, i + 1);
			return -1;
		}
	}
	/* Every path component must be a plain name: no "", "." or "..". */
	for (const char *c = name; *c;) {
		const char *e = strchr(c, '/');
		size_t cl = e ? (size_t)(e - c) : strlen(c);
		if (cl == 0 || (cl == 1 && c[0] == '.') ||
		    (cl == 2 && c[0] == '.' && c[1] == '.') || c[0] == '-') {
			errmsg_set(
			    err, errlen,
			    "invalid time zone name \"%s\": \"..\", \".\", empty or option-like "
			    "path components are not allowed",
			    qname);
			return -1;
		}
		if (!e)
			break;
		c = e + 1;
		if (*c == '\0') {
			errmsg_set(err, errlen, "invalid time zone name \"%s\": trailing \"/\"",
				   qname);
			return -1;
		}
	}
	return 0;
}

int tz_load_from_memory(const char *name, const void *data, size_t len, struct tz **out, char *err,
			size_t errlen)
{
	char qname[80];
	*out = NULL;
	if (!name)
		name = "";
	quote_name(name, qname, sizeof(qname));
	if (!data && len) {
		errmsg_set(err, errlen, "corrupt TZif file for time zone \"%s\": no data", qname);
		return -1;
	}
	struct tz *z = xcalloc(1, sizeof(*z));
	if (parse_tzif(z, data, len, qname, err, errlen) < 0) {
		tz_free(z);
		return -1;
	}
	z->name = xstrdup(name);
	*out = z;
	return 0;
}

static int read_file(int fd, unsigned char **data, size_t *len)
{
	size_t cap = 4096, n = 0;
	unsigned char *b = xmalloc(cap);
	for (;;) {
		if (n == cap) {
			if (cap >= TZIF_MAX_BYTES) {
				free(b);
				errno = EFBIG;
				return -1;
			}
			cap *= 2;
			b = xrealloc(b, cap);
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(b);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*data = b;
	*len = n;
	return 0;
}

int tz_load(const char *name, struct tz **out, char *err, size_t errlen)
{
	char qname[80];
	*out = NULL;
	if (!name) {
		errmsg_set(err, errlen, "invalid time zone name: none given");
		return -1;
	}
	quote_name(name, qname, sizeof(qname));
	if (check_name(name, qname, err, errlen) < 0)
		return -1;
	if (is_utc_name(name)) {
		struct tz *z = xcalloc(1, sizeof(*z));
		z->name = xstrdup(name);
		*out = z;
		return 0;
	}
	const char *dir = getenv("TZDIR");
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	char path[PATH_MAX];
	int pl = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (pl < 0 || (size_t)pl >= sizeof(path)) {
		errmsg_set(err, errlen, "unknown time zone \"%s\": path too long", qname);
		return -1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			errmsg_set(err, errlen, "unknown time zone \"%s\"", qname);
		else
			errmsg_set(err, errlen, "cannot read time zone \"%s\": %s", qname,
				   strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errmsg_set(err, errlen, "unknown time zone \"%s\"", qname);
		return -1;
	}
	struct tz *held = cache_find(name, &st);
	if (held) {
		close(fd);
		held->refs++;
		*out = held;
		return 0;
	}
	unsigned char *data;
	size_t len;
	int r = read_file(fd, &data, &len);
	int saved = errno;
	close(fd);
	if (r < 0) {
		errmsg_set(err, errlen, "cannot read time zone \"%s\": %s", qname, strerror(saved));
		return -1;
	}
	r = tz_load_from_memory(name, data, len, out, err, errlen);
	free(data);
	if (r == 0) {
		struct tz *z = *out;
		z->refs = 1;
		z->dev = st.st_dev;
		z->ino = st.st_ino;
		z->size = st.st_size;
		z->mtime = st.st_mtim;
		z->next_cached = cache;
		cache = z;
	}
	return r;
}

void tz_free(struct tz *z)
{
	if (!z || z == &tz_utc)
		return;
	if (z->refs > 0) {
		if (--z->refs > 0)
			return;
		for (struct tz **p = &cache; *p; p = &(*p)->next_cached) {
			if (*p == z) {
				*p = z->next_cached;
				break;
			}
		}
	}
	free(z->name);
	free(z->at);
	free(z->off);
	free(z);
}

const char *tz_name(const struct tz *z)
{
	return z ? z->name : tz_utc.name;
}

/* ---- queries ---- */

int32_t tz_offset_at(const struct tz *z, int64_t utc)
{
	if (!z || z->n == 0)
		return z ? z->off0 : 0;
	utc = reduce(z, utc);
	return seg_off(z, count_le(z->at, z->n, utc));
}

int64_t tz_utc_to_local(const struct tz *z, int64_t utc)
{
	return sat_add(utc, tz_offset_at(z, utc));
}

void tz_local_to_utc(const struct tz *z, int64_t local, struct tz_mapping *out)
{
	out->gap_end = 0;
	out->utc[1] = 0;
	if (!z)
		z = &tz_utc;
	if (z->n == 0) {
		out->kind = TZ_UNIQUE;
		out->utc[0] = sat_sub(local, z->off0);
		return;
	}
	/* Work on the reduced reading; offsets are the same, instants shift by
	 * the same whole cycles. */
	int64_t lr = reduce(z, local);
	/* Any instant u showing `lr` has u = lr - off(u), so it lies in
	 * [lr - max_off, lr - min_off]: walk the segments crossing that window. */
	int64_t lo = sat_sub(lr, z->max_off), hi = sat_sub(lr, z->min_off);
	size_t i = count_le(z->at, z->n, lo);
	int nsol = 0;
	bool gap = false;
	int64_t sol[2] = {0, 0}, gap_at = 0;
	for (;;) {
		int32_t o = seg_off(z, i);
		int64_t start = i == 0 ? INT64_MIN : z->at[i - 1];
		int64_t end = i == z->n ? INT64_MAX : z->at[i];
		int64_t u = sat_sub(lr, o);
		if (u >= start && (u < end || end == INT64_MAX)) {
			if (nsol < 2)
				sol[nsol] = u;
			nsol++;
		} else if (u >= end && !gap && nsol == 0 && i < z->n &&
			   sat_sub(lr, z->off[i]) < end) {
			gap = true;
			gap_at = end;
		}
		if (i == z->n || z->at[i] > hi)
			break;
		i++;
	}
	if (nsol >= 2) {
		out->kind = TZ_OVERLAP;
		out->utc[0] = unreduce(local, lr, sol[0]);
		out->utc[1] = unreduce(local, lr, sol[1]);
	} else if (nsol == 1) {
		out->kind = TZ_UNIQUE;
		out->utc[0] = unreduce(local, lr, sol[0]);
	} else if (gap) {
		out->kind = TZ_GAP;
		out->gap_end = unreduce(local, lr, gap_at);
		out->utc[0] = out->gap_end;
	} else {
		/* Only reachable at the ends of the int64 range. */
		out->kind = TZ_UNIQUE;
		out->utc[0] = sat_sub(local, tz_offset_at(z, local));
	}
}

int64_t tz_next_transition(const struct tz *z, int64_t utc)
{
	if (!z || z->n == 0)
		return INT64_MAX;
	int64_t r = reduce(z, utc);
	size_t i = count_le(z->at, z->n, r);
	if (i == z->n)
		return INT64_MAX;
	return unreduce(utc, r, z->at[i]);
}
