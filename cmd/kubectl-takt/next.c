/* kubectl takt next: the next fire instants of a schedule, offline.
 *
 * Options are collected into `struct next_opts` first and acted on after, so
 * more sources (-f MANIFEST) and the calendar flags slot in as new table rows
 * and fields without touching the flow. A hidden `--batch` mode reads many
 * cases from stdin (the crosscheck's fast path, see tests/crosscheck/). */
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
#include "cron/cron.h"
#include "tz/civil.h"
#include "tz/tz.h"
#include "base/banned.h"

#define MAX_COUNT 10000

enum next_opt { OPT_SCHEDULE, OPT_TIME_ZONE, OPT_FROM, OPT_COUNT, OPT_BATCH, OPT_HELP };

static const struct {
	const char *name;
	enum next_opt id;
	bool takes_value;
} NEXT_OPTIONS[] = {
    {"--schedule", OPT_SCHEDULE, true},
    {"--time-zone", OPT_TIME_ZONE, true},
    {"--from", OPT_FROM, true},
    {"--count", OPT_COUNT, true},
    {"--batch", OPT_BATCH, false},
    {"--help", OPT_HELP, false},
    {"-h", OPT_HELP, false},
};

struct next_opts {
	const char *schedule;
	const char *time_zone;
	const char *from;
	const char *count;
	bool batch;
	bool help;
};

void cmd_next_usage(void)
{
	printf("usage: kubectl takt next --schedule EXPR [--time-zone TZ] [--from RFC3339] "
	       "[--count N]\n"
	       "\n"
	       "Prints the next N fire instants of a schedule strictly after --from, one per\n"
	       "line, in UTC (2026-03-08T07:00:00Z). Works offline.\n"
	       "\n"
	       "  --schedule EXPR   cron expression (5 or 6 fields, macros, @every D)\n"
	       "  --time-zone TZ    IANA zone the schedule runs in (default UTC)\n"
	       "  --from RFC3339    start instant, e.g. 2026-03-08T00:00:00Z (default now)\n"
	       "  --count N         how many instants, 1-%d (default 5)\n"
	       "\n"
	       "Exit status 2, with one line on stderr, for a bad schedule, zone, time or count.\n",
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
	if (!o.schedule)
		return usage_error("--schedule is required (try --help)");

	long count = 5;
	if (o.count && parse_count(o.count, &count))
		return usage_error("invalid --count \"%s\": expected a whole number 1-%d", o.count,
				   MAX_COUNT);
	int64_t from_ms = now_ms();
	if (o.from && rfc3339_parse(o.from, &from_ms))
		return usage_error("invalid --from \"%s\": expected RFC 3339 such as "
				   "2026-03-08T07:00:00Z",
				   o.from);

	char err[256];
	struct cron_expr *e = NULL;
	struct tz *z = NULL;
	if (cron_parse(o.schedule, &e, err, sizeof(err)))
		return usage_error("invalid --schedule \"%s\": %s", o.schedule, err);
	if (tz_load(o.time_zone ? o.time_zone : "UTC", &z, err, sizeof(err))) {
		cron_free(e);
		return usage_error("invalid --time-zone: %s", err);
	}

	int64_t t = floor_sec(from_ms);
	rc = 0;
	for (long i = 0; i < count; i++) {
		char out[32];
		int r = cron_next(e, z, t, &t);
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
		if (rfc3339_format(t * 1000, false, out, sizeof(out)) < 0) {
			rc = 1;
			break;
		}
		puts(out);
	}
	cron_free(e);
	tz_free(z);
	return rc;
}
