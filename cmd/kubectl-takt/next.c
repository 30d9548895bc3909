/* kubectl takt next: the next fire instants of a schedule, offline.
 *
 * Options are collected into `struct next_opts` first and acted on after.
 * The schedule comes from --schedule or from a BatchSchedule manifest (-f,
 * read with the controller's own spec_parse, so the CLI and the controller
 * agree on what is valid); the calendar from a BusinessCalendar manifest
 * (--calendar, with its table from --calendar-table or a ConfigMap in the
 * manifest), built as the controller builds it; the rule flags override the
 * manifest's. Fires come from calsched_next, which without a calendar is
 * cron_next. A hidden `--batch` mode reads many cases from stdin (the
 * crosscheck's fast path, see tests/crosscheck/). */
#include "cmds.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/xalloc.h"
#include "calendar/calendar.h"
#include "calendar/calsched.h"
#include "controller/spec.h"
#include "cron/cron.h"
#include "manifest.h"
#include "tz/civil.h"
#include "tz/tz.h"
#include "base/banned.h"

#define MAX_COUNT 10000

enum next_opt {
	OPT_SCHEDULE,
	OPT_FILE,
	OPT_NAME,
	OPT_TIME_ZONE,
	OPT_FROM,
	OPT_COUNT,
	OPT_CALENDAR,
	OPT_CALENDAR_TABLE,
	OPT_DAYS,
	OPT_BDOM,
	OPT_SHIFT,
	OPT_BATCH,
	OPT_HELP
};

static const struct {
	const char *name;
	enum next_opt id;
	bool takes_value;
} NEXT_OPTIONS[] = {
    {"--schedule", OPT_SCHEDULE, true},
    {"-f", OPT_FILE, true},
    {"--filename", OPT_FILE, true},
    {"--name", OPT_NAME, true},
    {"--time-zone", OPT_TIME_ZONE, true},
    {"--from", OPT_FROM, true},
    {"--count", OPT_COUNT, true},
    {"--calendar", OPT_CALENDAR, true},
    {"--calendar-table", OPT_CALENDAR_TABLE, true},
    {"--days", OPT_DAYS, true},
    {"--business-day-of-month", OPT_BDOM, true},
    {"--on-non-business-day", OPT_SHIFT, true},
    {"--batch", OPT_BATCH, false},
    {"--help", OPT_HELP, false},
    {"-h", OPT_HELP, false},
};

struct next_opts {
	const char *schedule;
	const char *file;
	const char *name;
	const char *time_zone;
	const char *from;
	const char *count;
	const char *calendar;
	const char *calendar_table;
	const char *days;
	const char *bdom;
	const char *shift;
	bool batch;
	bool help;
};

void cmd_next_usage(void)
{
	printf("usage: kubectl takt next (--schedule EXPR | -f MANIFEST [--name NAME])\n"
	       "           [--time-zone TZ] [--from RFC3339] [--count N] [--calendar MANIFEST]\n"
	       "           [--calendar-table FILE] [--days BusinessDays|NonBusinessDays]\n"
	       "           [--business-day-of-month LIST]\n"
	       "           [--on-non-business-day Skip|NextBusinessDay|PreviousBusinessDay]\n"
	       "\n"
	       "Prints the next N fire instants of a schedule strictly after --from, one per\n"
	       "line, in UTC (2026-03-08T07:00:00Z). Works offline.\n"
	       "\n"
	       "  --schedule EXPR   cron expression (5 or 6 fields, macros, @every D)\n"
	       "  -f MANIFEST       a BatchSchedule manifest: its schedule, time zone and\n"
	       "                    calendar rules (flags given too override them)\n"
	       "  --name NAME       which BatchSchedule of -f's file (when it holds several)\n"
	       "  --time-zone TZ    IANA zone the schedule runs in (default: the manifest's,\n"
	       "                    else the calendar's, else UTC)\n"
	       "  --from RFC3339    start instant, e.g. 2026-03-08T00:00:00Z (default now)\n"
	       "  --count N         how many instants, 1-%d (default 5)\n"
	       "  --calendar MANIFEST       a BusinessCalendar manifest (default: the one in\n"
	       "                    -f's file, if any); with its ConfigMap when the table\n"
	       "                    comes from one\n"
	       "  --calendar-table FILE     the calendar's table: a CSV file, or a manifest\n"
	       "                    holding the ConfigMap\n"
	       "  --days D          BusinessDays (default) or NonBusinessDays\n"
	       "  --business-day-of-month LIST   e.g. 1,-1: the first and the last business day\n"
	       "  --on-non-business-day S        Skip (default), NextBusinessDay,\n"
	       "                    PreviousBusinessDay\n"
	       "\n"
	       "Stops early, with a warning on stderr and exit status 0, where the calendar's\n"
	       "coverage ends; slots before the coverage starts are passed over with a\n"
	       "warning. Exit status 2, with one line on stderr, for a bad schedule, zone,\n"
	       "calendar, time or count.\n",
	       MAX_COUNT);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("kubectl takt next: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

static int find_option(const char *a, size_t nlen)
{
	for (size_t k = 0; k < sizeof(NEXT_OPTIONS) / sizeof(NEXT_OPTIONS[0]); k++)
		if (strlen(NEXT_OPTIONS[k].name) == nlen && !strncmp(a, NEXT_OPTIONS[k].name, nlen))
			return (int)k;
	return -1;
}

static int parse_args(int argc, char **argv, struct next_opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		size_t nlen = strcspn(a, "=");
		int k = find_option(a, nlen);
		if (k < 0)
			return usage_error("unknown option \"%s\" (try --help)", a);
		if (NEXT_OPTIONS[k].takes_value) {
			if (a[nlen] == '=')
				val = a + nlen + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return usage_error("option %s needs a value", NEXT_OPTIONS[k].name);
		} else if (a[nlen] == '=') {
			return usage_error("option %s takes no value", NEXT_OPTIONS[k].name);
		}
		switch (NEXT_OPTIONS[k].id) {
		case OPT_SCHEDULE:
			o->schedule = val;
			break;
		case OPT_FILE:
			o->file = val;
			break;
		case OPT_NAME:
			o->name = val;
			break;
		case OPT_CALENDAR:
			o->calendar = val;
			break;
		case OPT_CALENDAR_TABLE:
			o->calendar_table = val;
			break;
		case OPT_DAYS:
			o->days = val;
			break;
		case OPT_BDOM:
			o->bdom = val;
			break;
		case OPT_SHIFT:
			o->shift = val;
			break;
		case OPT_TIME_ZONE:
			o->time_zone = val;
			break;
		case OPT_FROM:
			o->from = val;
			break;
		case OPT_COUNT:
			o->count = val;
			break;
		case OPT_BATCH:
			o->batch = true;
			break;
		case OPT_HELP:
			o->help = true;
			break;
		}
	}
	return 0;
}

static int parse_count(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 1 || v > MAX_COUNT)
		return -1;
	*out = v;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Instants are whole seconds: "strictly after" a fractional start is
 * "strictly after" its whole second. */
static int64_t floor_sec(int64_t ms)
{
	return civil_floor_div(ms, 1000);
}

/* Batch protocol, one case per line: FROM_UNIX_SEC TAB ZONE TAB COUNT TAB
 * EXPR. Answers one line per case: the instants as Unix seconds separated by
 * spaces, or "error: <reason>". Zones are loaded once per name. */
#define ZONE_CACHE 64
static int run_batch(void)
{
	struct {
		char *name;
		struct tz *z;
	} zones[ZONE_CACHE];
	int nz = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	char err[256];
	int rc = 0;

	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		char *f[4], *p = line;
		int nf = 0;
		for (; nf < 3; nf++) {
			f[nf] = p;
			p = strchr(p, '\t');
			if (!p)
				break;
			*p++ = 0;
		}
		if (nf != 3) {
			printf("error: malformed batch line\n");
			rc = 1;
			continue;
		}
		f[3] = p;
		char *end;
		long long from = strtoll(f[0], &end, 10);
		long count = strtol(f[2], NULL, 10);
		if (count > MAX_COUNT)
			count = MAX_COUNT;
		struct tz *z = NULL;
		for (int i = 0; i < nz && !z; i++)
			if (!strcmp(zones[i].name, f[1]))
				z = zones[i].z;
		if (!z) {
			if (tz_load(f[1], &z, err, sizeof(err))) {
				printf("error: %s\n", err);
				continue;
			}
			if (nz == ZONE_CACHE) {
				free(zones[0].name);
				tz_free(zones[0].z);
				memmove(zones, zones + 1, sizeof(zones[0]) * (ZONE_CACHE - 1));
				nz--;
			}
			zones[nz].name = xstrdup(f[1]);
			zones[nz].z = z;
			nz++;
		}
		struct cron_expr *e;
		if (cron_parse(f[3], &e, err, sizeof(err))) {
			printf("error: %s\n", err);
			continue;
		}
		int64_t t = from;
		for (long i = 0; i < count; i++) {
			if (cron_next(e, z, t, &t))
				break;
			printf("%s%" PRId64, i ? " " : "", t);
		}
		putchar('\n');
		cron_free(e);
	}
	fflush(stdout);
	free(line);
	for (int i = 0; i < nz; i++) {
		free(zones[i].name);
		tz_free(zones[i].z);
	}
	return rc;
}

/* What to compute, gathered from the flags and the manifests. */
struct next_input {
	struct spec spec; /* -f: the parsed BatchSchedule (owns cron, zone) */
	bool have_spec;
	struct cron_expr *own_cron; /* --schedule */
	struct calendar *cal;
	struct tz *own_zone; /* loaded here (not the spec's) */
	struct calsched_rules rules;
	const struct cron_expr *cron; /* borrowed from spec or own_cron */
	const struct tz *zone;
};

static void input_release(struct next_input *in)
{
	if (in->have_spec)
		spec_release(&in->spec);
	cron_free(in->own_cron);
	calendar_free(in->cal);
	tz_free(in->own_zone);
}

/* Loads the schedule, the calendar, the rules and the zone. Returns 0 or
 * EXIT_USAGE after one line on stderr. */
static int load_input(const struct next_opts *o, struct next_input *in)
{
	char err[640];
	cJSON *fdocs = NULL, *cdocs = NULL;
	char *table = NULL;
	size_t tablelen = 0;
	int rc = EXIT_USAGE;
	const char *cal_name = NULL;
	bool want_cal = o->calendar != NULL;

	calsched_rules_init(&in->rules);
	if (o->schedule && o->file) {
		usage_error("give --schedule or -f, not both");
		goto out;
	}
	if (o->name && !o->file) {
		usage_error("--name needs -f");
		goto out;
	}
	if (!o->schedule && !o->file) {
		usage_error("--schedule is required, or -f MANIFEST (try --help)");
		goto out;
	}
	if (o->schedule) {
		if (cron_parse(o->schedule, &in->own_cron, err, sizeof(err))) {
			usage_error("invalid --schedule \"%s\": %s", o->schedule, err);
			goto out;
		}
		in->cron = in->own_cron;
	} else {
		if (manifest_load(o->file, &fdocs, err, sizeof(err)) < 0) {
			usage_error("invalid -f %s: %s", o->file, err);
			goto out;
		}
		const cJSON *bs = manifest_find(fdocs, "BatchSchedule", o->name, err, sizeof(err));
		if (!bs) {
			usage_error("invalid -f %s: %s%s", o->file, err,
				    o->name ? "" : "; choose one with --name");
			goto out;
		}
		spec_init(&in->spec);
		in->have_spec = true;
		if (spec_parse(bs, &in->spec, err, sizeof(err)) < 0) {
			usage_error("invalid -f %s: %s", o->file, err);
			goto out;
		}
		in->cron = in->spec.cron;
		if (in->spec.has_calendar) {
			in->rules = in->spec.calendar.rules;
			cal_name = in->spec.calendar.name;
			want_cal = true;
		}
	}
	if (!want_cal && (o->calendar_table || o->days || o->bdom || o->shift)) {
		usage_error("%s needs a calendar (--calendar MANIFEST)",
			    o->calendar_table ? "--calendar-table"
			    : o->days	      ? "--days"
			    : o->bdom	      ? "--business-day-of-month"
					      : "--on-non-business-day");
		goto out;
	}
	if (want_cal) {
		/* Without --calendar, the BusinessCalendar may sit in -f's file. */
		const char *cfile = o->calendar ? o->calendar : o->file;
		const char *flag = o->calendar ? "--calendar" : "-f";
		if (o->calendar && manifest_load(o->calendar, &cdocs, err, sizeof(err)) < 0) {
			usage_error("invalid --calendar %s: %s", o->calendar, err);
			goto out;
		}
		if (!o->calendar &&
		    !manifest_find(fdocs, "BusinessCalendar", cal_name, err, sizeof(err))) {
			usage_error("the schedule uses BusinessCalendar \"%s\": give its manifest "
				    "with --calendar MANIFEST",
				    cal_name);
			goto out;
		}
		if (o->calendar_table && manifest_read_file(o->calendar_table, &table, &tablelen,
							    err, sizeof(err)) < 0) {
			usage_error("invalid --calendar-table: %s", err);
			goto out;
		}
		if (manifest_calendar(o->calendar ? cdocs : fdocs, cal_name, table, tablelen,
				      &in->cal, err, sizeof(err)) < 0) {
			usage_error("invalid %s %s: %s", flag, cfile, err);
			goto out;
		}
	}
	if (o->days && calsched_parse_days(o->days, &in->rules.days, err, sizeof(err))) {
		usage_error("invalid --days: %s", err);
		goto out;
	}
	if (o->shift && calsched_parse_shift(o->shift, &in->rules.shift, err, sizeof(err))) {
		usage_error("invalid --on-non-business-day: %s", err);
		goto out;
	}
	if (o->bdom && calsched_parse_bdom_list(o->bdom, &in->rules, err, sizeof(err))) {
		usage_error("invalid --business-day-of-month: %s", err);
		goto out;
	}
	if (in->cal && calsched_validate(&in->rules, in->cron, err, sizeof(err))) {
		usage_error("invalid calendar rules: %s", err);
		goto out;
	}

	/* The zone: --time-zone, else the manifest's, else the calendar's,
	 * else UTC (docs/api.md). */
	const char *zname = o->time_zone;
	const char *zflag = "--time-zone";
	if (!zname && in->have_spec && in->spec.time_zone) {
		in->zone = in->spec.zone;
	} else {
		if (!zname && in->cal && calendar_zone(in->cal)) {
			zname = calendar_zone(in->cal);
			zflag = "the calendar's timeZone";
		}
		if (tz_load(zname ? zname : "UTC", &in->own_zone, err, sizeof(err))) {
			usage_error("invalid %s: %s", zflag, err);
			goto out;
		}
		in->zone = in->own_zone;
	}
	rc = 0;
out:
	cJSON_Delete(fdocs);
	cJSON_Delete(cdocs);
	free(table);
	return rc;
}

/* The instant just before local midnight starting `day` in zone z: from
 * there calsched_next looks at `day` first. */
static int64_t before_local_day(const struct tz *z, int64_t day)
{
	struct tz_mapping m;
	tz_local_to_utc(z, day * 86400, &m);
	return (m.kind == TZ_GAP ? m.gap_end : m.utc[0]) - 1;
}

int cmd_next(int argc, char **argv)
{
	struct next_opts o;
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc;
	if (o.help) {
		cmd_next_usage();
		return 0;
	}
	if (o.batch)
		return run_batch();

	long count = 5;
	if (o.count && parse_count(o.count, &count))
		return usage_error("invalid --count \"%s\": expected a whole number 1-%d", o.count,
				   MAX_COUNT);
	int64_t from_ms = now_ms();
	if (o.from && rfc3339_parse(o.from, &from_ms))
		return usage_error("invalid --from \"%s\": expected RFC 3339 such as "
				   "2026-03-08T07:00:00Z",
				   o.from);

	struct next_input in;
	memset(&in, 0, sizeof(in));
	rc = load_input(&o, &in);
	if (rc) {
		input_release(&in);
		return rc;
	}

	int64_t t = floor_sec(from_ms);
	bool warned_before = false;
	for (long i = 0; i < count;) {
		char out[32], msg[320];
		struct calsched_result res;
		int r = calsched_next(in.cron, in.zone, in.cal, &in.rules, t, &res);
		if (r == -ENODATA && res.missing_day < calendar_first_day(in.cal)) {
			/* Before the coverage: nothing there can fire; go on from
			 * the first day that may (every slot of one local date is
			 * decided alike, so the rest of res.date goes too). */
			if (!warned_before) {
				calsched_format_nodata(&res, in.cal, msg, sizeof(msg));
				fprintf(stderr,
					"kubectl takt next: warning: passing over the slots before "
					"the calendar's coverage: %s\n",
					msg);
				warned_before = true;
			}
			int64_t day = res.date < calendar_first_day(in.cal)
					  ? calendar_first_day(in.cal)
					  : res.date + 1;
			int64_t next = before_local_day(in.zone, day);
			t = next > res.at ? next : res.at;
			continue;
		}
		if (r == -ENODATA) {
			calsched_format_nodata(&res, in.cal, msg, sizeof(msg));
			fprintf(stderr,
				"kubectl takt next: warning: stopped where the calendar's coverage "
				"ends: %s\n",
				msg);
			break;
		}
		if (r == -ERANGE) {
			fprintf(stderr, "kubectl takt next: --from is outside years 1-9999\n");
			rc = EXIT_USAGE;
			break;
		}
		if (r) {
			fprintf(stderr,
				"kubectl takt next: warning: the schedule does not fire again "
				"before the year 9999 or within 400 years\n");
			break;
		}
		t = res.at;
		if (rfc3339_format(t * 1000, false, out, sizeof(out)) < 0) {
			rc = 1;
			break;
		}
		puts(out);
		i++;
	}
	input_release(&in);
	return rc;
}
