/* kubectl takt history: the run table of a BatchSchedule, read from
 * status.recentRuns (docs/api.md "Run history"): the record that outlives
 * the Jobs the history limits delete. Nothing is computed but the duration;
 * the table shows what the controller recorded, newest first. */
#include "controller/names.h"
#include "cmds.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kube/obj.h"
#include "loop/loop.h"
#include "request.h"
#include "tz/civil.h"

#include "base/banned.h"

#define PROG "history"

void cmd_history_usage(void)
{
	printf("usage: kubectl takt history NAME [-n NS] [--business-date YYYY-MM-DD] [-o json]\n"
	       "\n"
	       "Prints the recorded attempts of the BatchSchedule NAME (status.recentRuns,\n"
	       "the last spec.runHistoryLimit of them), newest first: job, trigger, business\n"
	       "date, attempt, start, duration, result and the exit code of the first\n"
	       "container that failed.\n"
	       "\n"
	       "  -n, --namespace NS       namespace (default: the kubeconfig context's)\n"
	       "  --business-date D        only the attempts for business date D\n"
	       "  -o, --output json        the entries as a JSON array instead of a table\n"
	       "  --kubeconfig PATH, --context NAME\n"
	       "\n"
	       "Exit status: 0 shown (also when nothing is recorded), 1 the schedule could\n"
	       "not be read, 2 bad usage.\n");
}

/* "1h2m3s", "4m0s", "12s" (kubectl's style for durations). */
static void format_duration(int64_t ms, char *out, size_t n)
{
	int64_t s = ms / 1000;
	if (s < 0)
		s = 0;
	if (s >= 3600)
		snprintf(out, n, "%" PRId64 "h%" PRId64 "m%" PRId64 "s", s / 3600, s % 3600 / 60,
			 s % 60);
	else if (s >= 60)
		snprintf(out, n, "%" PRId64 "m%" PRId64 "s", s / 60, s % 60);
	else
		snprintf(out, n, "%" PRId64 "s", s);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* The start as "2026-12-01T07:00:03Z" (seconds are enough to read). */
static void format_start(const char *rfc, char *out, size_t n)
{
	int64_t ms;
	if (!rfc || rfc3339_parse(rfc, &ms) || rfc3339_format(ms, false, out, n) < 0)
		snprintf(out, n, "%s", or_dash(rfc));
}

static void print_table(const cJSON *runs, int64_t now)
{
	const cJSON *e;
	printf("%-40s %-8s %-13s %-7s %-20s %-9s %-9s %s\n", "JOB", "TRIGGER", "BUSINESS DATE",
	       "ATTEMPT", "START", "DURATION", "RESULT", "EXIT CODE");
	cJSON_ArrayForEach(e, runs)
	{
		char start[40], dur[32] = "-", attempt[16] = "-", code[32] = "-";
		const char *st = kobj_str(e, "startTime"), *done = kobj_str(e, "completionTime");
		const char *result = kobj_str(e, "result");
		int64_t s_ms, d_ms;
		format_start(st, start, sizeof(start));
		if (st && !rfc3339_parse(st, &s_ms)) {
			if (done && !rfc3339_parse(done, &d_ms))
				format_duration(d_ms - s_ms, dur, sizeof(dur));
			else if (result && !strcmp(result, "Active"))
				format_duration(now - s_ms, dur, sizeof(dur));
		}
		const cJSON *a = kobj_get(e, "attempt");
		if (cJSON_IsNumber(a))
			snprintf(attempt, sizeof(attempt), "%d", a->valueint);
		const cJSON *c = kobj_get(e, "exitCode");
		const char *reason = kobj_str(e, "reason");
		if (cJSON_IsNumber(c))
			snprintf(code, sizeof(code), "%d%s%.20s%s", c->valueint, reason ? " (" : "",
				 reason ? reason : "", reason ? ")" : "");
		else if (reason)
			snprintf(code, sizeof(code), "(%.24s)", reason);
		printf("%-40s %-8s %-13s %-7s %-20s %-9s %-9s %s\n", or_dash(kobj_str(e, "job")),
		       or_dash(kobj_str(e, "trigger")), or_dash(kobj_str(e, "businessDate")),
		       attempt, start, dur, or_dash(result), code);
	}
}

int cmd_history(int argc, char **argv)
{
	struct req_common common = {.timeout_s = 30};
	const char *name = NULL, *date = NULL, *output = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc = req_common_arg(PROG, argc, argv, &i, &common);
		if (rc == EXIT_USAGE)
			return rc;
		if (rc == 1)
			continue;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			cmd_history_usage();
			return 0;
		}
		if ((rc = req_option(PROG, argc, argv, &i, "--business-date", &date)) ||
		    (rc = req_option(PROG, argc, argv, &i, "--output", &output)) ||
		    (rc = req_option(PROG, argc, argv, &i, "-o", &output))) {
			if (rc == EXIT_USAGE)
				return rc;
			continue;
		}
		if (!strncmp(a, "-o", 2)) {
			output = a[2] == '=' ? a + 3 : a + 2;
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
	int64_t day;
	if (date && civil_parse_date(date, strlen(date), &day)) {
		fprintf(stderr,
			"kubectl takt " PROG ": --business-date: \"%s\" is not a date YYYY-MM-DD\n",
			date);
		return EXIT_USAGE;
	}
	bool json = false;
	if (output) {
		if (strcmp(output, "json") != 0) {
			fprintf(stderr,
				"kubectl takt " PROG ": -o: \"%s\" is not a known output format "
				"(json; the default is a table)\n",
				output);
			return EXIT_USAGE;
		}
		json = true;
	}

	struct req_client cl;
	if (req_client_open(PROG, &common, &cl))
		return 1;
	cJSON *obj = NULL;
	int rc = 1;
	if (req_get(PROG, &cl, TAKT_GROUP, TAKT_VERSION, TAKT_RES_SCHEDULES, name, &obj))
		goto out;
	/* The entries to show, in the recorded order (newest first). */
	cJSON *runs = cJSON_CreateArray();
	const cJSON *e;
	cJSON_ArrayForEach(e, kobj_get(kobj_get(obj, "status"), "recentRuns"))
	{
		const char *bd = kobj_str(e, "businessDate");
		if (!cJSON_IsObject(e) || (date && (!bd || strcmp(bd, date) != 0)))
			continue;
		cJSON_AddItemToArray(runs, cJSON_Duplicate(e, 1));
	}
	if (json) {
		char *text = cJSON_Print(runs);
		printf("%s\n", text ? text : "[]");
		cJSON_free(text);
	} else if (cJSON_GetArraySize(runs) == 0) {
		fprintf(stderr, "No runs recorded for BatchSchedule %s/%s%s%s.\n", cl.ns, name,
			date ? " on business date " : "", date ? date : "");
	} else {
		print_table(runs, loop_now_realtime_ms());
	}
	cJSON_Delete(runs);
	rc = 0;
out:
	cJSON_Delete(obj);
	req_client_close(&cl);
	return rc;
}
