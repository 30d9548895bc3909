/* kubectl takt rerun: asks takt-controller to run again the slots of a
 * business-date range (a backfill) through the takt.io/rerun annotations
 * (docs/api.md "External control by annotation"; docs/runs.md). With
 * --dry-run it changes nothing: it reads the schedule, its calendar, its
 * status.recentRuns and its Jobs, and lists the slots the controller would
 * run, computed by the controller's own selection (pkg/controller/rerun). */
#include "controller/names.h"
#include "cmds.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/xalloc.h"
#include "calendar/calendar.h"
#include "controller/rerun.h"
#include "controller/spec.h"
#include "kube/obj.h"
#include "loop/loop.h"
#include "request.h"
#include "tz/civil.h"
#include "tz/tz.h"

#include "base/banned.h"

#define PROG "rerun"

/* The request's annotations (docs/api.md). */
#define ANN_RERUN	TAKT_PREFIX "rerun"
#define ANN_RERUN_DATES TAKT_PREFIX "rerun-dates"
#define ANN_RERUN_ONLY	TAKT_PREFIX "rerun-only"

void cmd_rerun_usage(void)
{
	printf("usage: kubectl takt rerun NAME --dates D[..D] [--only missing|failed|all]\n"
	       "                         [--dry-run] [--no-wait] [-n NS] [--timeout S]\n"
	       "\n"
	       "Runs again the slots of the BatchSchedule NAME whose business date lies in\n"
	       "the range (YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD), as the schedule and its\n"
	       "calendar define them, each with its original TAKT_SCHEDULED_TIME and\n"
	       "TAKT_BUSINESS_DATE. Under Forbid they run one at a time in slot order.\n"
	       "Sets the annotations takt.io/rerun (a fresh request id), takt.io/rerun-dates\n"
	       "and takt.io/rerun-only, then waits until the controller has recorded the\n"
	       "request in status.lastRerun.\n"
	       "\n"
	       "  --dates D[..D]       the business dates (required)\n"
	       "  --only WHICH         missing: slots with no recorded run; failed (default):\n"
	       "                       those and the slots whose last attempt failed or was\n"
	       "                       killed; all: every slot\n"
	       "  --dry-run            list the slots it would run, change nothing\n"
	       "  --no-wait            set the annotations and return\n"
	       "  -n, --namespace NS   namespace (default: the kubeconfig context's)\n"
	       "  --timeout S          how long to wait for the controller (default 30)\n"
	       "  --kubeconfig PATH, --context NAME\n"
	       "\n"
	       "More than 1000 slots is refused. Exit status: 0 accepted (or listed),\n"
	       "1 refused, failed or timed out, 2 bad usage or input.\n");
}

/* The data the selection needs, read from the cluster. */
struct dry {
	struct spec spec;
	struct calendar *cal;
	struct tz *cal_zone;
	struct rerun_record *recs;
	size_t n_recs, cap_recs;
};

static void dry_release(struct dry *d)
{
	spec_release(&d->spec);
	calendar_free(d->cal);
	tz_free(d->cal_zone);
	free(d->recs);
}

/* The schedule's BusinessCalendar, built as the controller builds it (its
 * source table read from its ConfigMap). Returns 0, or 1 with a line. */
static int load_calendar(struct req_client *cl, struct dry *d)
{
	char err[512];
	cJSON *bcal = NULL, *cm = NULL;
	int rc = 1;
	if (req_get_in(PROG, cl, TAKT_GROUP, TAKT_VERSION, NULL, TAKT_RES_CALENDARS,
		       d->spec.calendar.name, &bcal))
		return 1;
	const cJSON *cspec = kobj_get(bcal, "spec");
	struct calendar_source_ref ref;
	const char *csv = NULL;
	int src = calendar_spec_source(cspec, &ref, err, sizeof(err));
	if (src < 0)
		goto bad;
	if (src == 1) {
		if (req_get_in(PROG, cl, "", "v1", ref.namespace_, "configmaps", ref.name, &cm))
			goto out;
		csv = kobj_str(kobj_get(cm, "data"), ref.key);
		if (!csv) {
			snprintf(err, sizeof(err), "ConfigMap %s/%s has no key \"%s\"",
				 ref.namespace_, ref.name, ref.key);
			goto bad;
		}
	}
	if (calendar_from_spec_json(cspec, csv, csv ? strlen(csv) : 0, &d->cal, err, sizeof(err)))
		goto bad;
	const char *zname = calendar_zone(d->cal);
	if (zname && tz_load(zname, &d->cal_zone, err, sizeof(err)))
		goto bad;
	rc = 0;
	goto out;
bad:
	fprintf(stderr, "kubectl takt " PROG ": BusinessCalendar %s is not usable: %s\n",
		d->spec.calendar.name, err);
out:
	cJSON_Delete(bcal);
	cJSON_Delete(cm);
	return rc;
}

/* Lists the slots `rerun_select` picks, as the controller would at this
 * instant. Returns 0, 1 (refused: the line says why) or EXIT_USAGE. */
static int dry_run(struct req_client *cl, const char *name, const char *dates, int64_t from,
		   int64_t to, enum rerun_only only)
{
	struct dry d = {0};
	char err[512];
	cJSON *obj = NULL, *jobs = NULL;
	int rc = 1;
	spec_init(&d.spec);
	if (req_get(PROG, cl, TAKT_GROUP, TAKT_VERSION, TAKT_RES_SCHEDULES, name, &obj))
		goto out;
	if (spec_parse(obj, &d.spec, err, sizeof(err))) {
		fprintf(stderr, "kubectl takt " PROG ": BatchSchedule %s/%s is invalid: %s\n",
			cl->ns, name, err);
		goto out;
	}
	if (d.spec.has_calendar && load_calendar(cl, &d))
		goto out;
	const struct tz *zone = spec_zone(&d.spec, d.cal_zone);
	if (d.spec.has_calendar && !zone) {
		fprintf(stderr,
			"kubectl takt " PROG ": BatchSchedule %s/%s has no time zone: neither "
			"spec.timeZone nor its calendar's\n",
			cl->ns, name);
		goto out;
	}
	rerun_records_from_history(kobj_get(kobj_get(obj, "status"), "recentRuns"), &d.recs,
				   &d.n_recs, &d.cap_recs);
	char sel[320];
	snprintf(sel, sizeof(sel), TAKT_LABEL_SCHEDULE "=%s", name);
	if (req_list(PROG, cl, "batch", "v1", "jobs", sel, &jobs))
		goto out;
	const cJSON *j;
	const char *uid = kobj_meta(obj, "uid");
	cJSON_ArrayForEach(j, kobj_get(jobs, "items"))
	{
		struct rerun_record r;
		const char *owner = kobj_controller_uid(j, TAKT_KIND_SCHEDULE);
		if (!owner || !uid || strcmp(owner, uid) != 0 || rerun_record_from_job(j, &r))
			continue;
		XGROW(d.recs, d.cap_recs, d.n_recs + 1);
		d.recs[d.n_recs++] = r;
	}

	struct rerun_input in = {
	    .cron = d.spec.cron,
	    .zone = zone,
	    .calendar = d.spec.has_calendar ? d.cal : NULL,
	    .rules = &d.spec.calendar.rules,
	    .from_day = from,
	    .to_day = to,
	    .only = only,
	    .records = d.recs,
	    .n_records = d.n_recs,
	    .now = loop_now_realtime_ms(),
	};
	struct rerun_selection s;
	rerun_selection_init(&s);
	if (rerun_select(&in, &s, err, sizeof(err))) {
		fprintf(stderr,
			"kubectl takt " PROG ": %s/%s: a rerun of %s would be refused: %s\n",
			cl->ns, name, dates, err);
		goto out;
	}
	for (size_t i = 0; i < s.n; i++) {
		char when[40], day[16];
		int64_t secs = s.slots[i] / 1000;
		int64_t local = zone ? tz_utc_to_local(zone, secs) : secs;
		rfc3339_format(s.slots[i], false, when, sizeof(when));
		civil_format_date(civil_floor_div(local, 86400), day, sizeof(day));
		printf("%s %s\n", when, day);
	}
	fprintf(stderr,
		"dry run: %zu of the %zu slots of %s (business dates %s) would run "
		"(only=%s); nothing was changed\n",
		s.n, s.in_range, name, dates, rerun_only_name(only));
	rerun_selection_release(&s);
	rc = 0;
out:
	cJSON_Delete(obj);
	cJSON_Delete(jobs);
	dry_release(&d);
	return rc;
}

int cmd_rerun(int argc, char **argv)
{
	struct req_common common = {.timeout_s = 30};
	const char *name = NULL, *dates = NULL, *only_s = NULL;
	bool dry = false, no_wait = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc = req_common_arg(PROG, argc, argv, &i, &common);
		if (rc == EXIT_USAGE)
			return rc;
		if (rc == 1)
			continue;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			cmd_rerun_usage();
			return 0;
		}
		if (!strcmp(a, "--dry-run")) {
			dry = true;
			continue;
		}
		if (!strcmp(a, "--no-wait")) {
			no_wait = true;
			continue;
		}
		if ((rc = req_option(PROG, argc, argv, &i, "--dates", &dates)) ||
		    (rc = req_option(PROG, argc, argv, &i, "--only", &only_s))) {
			if (rc == EXIT_USAGE)
				return rc;
			continue;
		}
		if (a[0] == '-')
			return req_usage_error(PROG, "unknown option", a);
		if (name)
			return req_usage_error(PROG, "one BatchSchedule at a time; extra argument",
					       a);
		name = a;
	}
	if (!name)
		return req_usage_error(PROG, "missing NAME (a BatchSchedule)", NULL);
	if (!dates)
		return req_usage_error(PROG, "missing --dates D[..D]", NULL);
	char err[512];
	int64_t from, to;
	enum rerun_only only;
	if (rerun_dates_parse("--dates", dates, &from, &to, err, sizeof(err)) ||
	    rerun_only_parse(only_s, &only, err, sizeof(err))) {
		/* The parser names the annotation; the user typed the flag. */
		const char *msg = err;
		if (!strncmp(msg, ANN_RERUN_ONLY ": ", strlen(ANN_RERUN_ONLY) + 2))
			msg += strlen(ANN_RERUN_ONLY) + 2;
		fprintf(stderr, "kubectl takt " PROG ": %s%s\n",
			only_s && msg != err ? "--only: " : "", msg);
		return EXIT_USAGE;
	}

	struct req_client cl;
	if (req_client_open(PROG, &common, &cl))
		return 1;
	int rc = 1;
	cJSON *rec = NULL;
	if (dry) {
		rc = dry_run(&cl, name, dates, from, to, only);
		goto out;
	}
	char id[64];
	req_new_id("rerun", id, sizeof(id));
	const char *kv[] = {
	    ANN_RERUN, id, ANN_RERUN_DATES, dates, ANN_RERUN_ONLY, rerun_only_name(only)};
	if (req_annotate(PROG, &cl, TAKT_GROUP, TAKT_VERSION, TAKT_RES_SCHEDULES, name, kv, 6))
		goto out;
	if (no_wait) {
		printf("requested rerun %s of %s/%s: business dates %s, only %s\n", id, cl.ns, name,
		       dates, rerun_only_name(only));
		rc = 0;
		goto out;
	}
	if (req_wait(PROG, &cl, name, "lastRerun", id, common.timeout_s, NULL, NULL, &rec))
		goto out;
	const char *refused =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "refused"));
	if (refused) {
		fprintf(stderr, "kubectl takt " PROG ": %s/%s refused rerun %s: %s\n", cl.ns, name,
			id, refused);
		goto out;
	}
	const cJSON *selected = cJSON_GetObjectItemCaseSensitive(rec, "selected");
	int n = cJSON_IsNumber(selected) ? selected->valueint : 0;
	printf("rerun %s of %s/%s accepted: %d slot%s selected (business dates %s, only %s)\n", id,
	       cl.ns, name, n, n == 1 ? "" : "s", dates, rerun_only_name(only));
	rc = 0;
out:
	cJSON_Delete(rec);
	req_client_close(&cl);
	return rc;
}
