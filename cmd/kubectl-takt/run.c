/* kubectl takt run: asks takt-controller for one run of a BatchSchedule now,
 * through the takt.io/run-now annotation with a fresh request id, then waits
 * for status.lastRunNow to carry that id: the Job started, or why not. */
#include "controller/names.h"
#include "cmds.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "controller/control.h"
#include "request.h"

#include "base/banned.h"

#define PROG "run"

void cmd_run_usage(void)
{
	printf("usage: kubectl takt run NAME [-n NS] [--timeout S]\n"
	       "\n"
	       "Starts one run of the BatchSchedule NAME now, with its concurrencyPolicy\n"
	       "applied as for a slot (Forbid refuses while a run is active). Sets the\n"
	       "annotation takt.io/run-now (a fresh request id) and waits until the\n"
	       "controller has recorded the answer in status.lastRunNow.\n"
	       "\n"
	       "  -n, --namespace NS   namespace (default: the kubeconfig context's)\n"
	       "  --timeout S          how long to wait for the controller (default 30)\n"
	       "  --kubeconfig PATH, --context NAME\n"
	       "\n"
	       "Exit status: 0 started, 1 refused, failed or timed out, 2 bad usage.\n");
}

int cmd_run(int argc, char **argv)
{
	struct req_common common = {.timeout_s = 30};
	const char *name = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc = req_common_arg(PROG, argc, argv, &i, &common);
		if (rc == EXIT_USAGE)
			return rc;
		if (rc == 1)
			continue;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			cmd_run_usage();
			return 0;
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

	struct req_client cl;
	if (req_client_open(PROG, &common, &cl))
		return 1;
	int rc = 1;
	cJSON *rec = NULL;
	char id[64];
	req_new_id("run", id, sizeof(id));
	const char *kv[] = {TAKT_ANN_RUN_NOW, id};
	if (req_annotate(PROG, &cl, TAKT_GROUP, TAKT_VERSION, TAKT_RES_SCHEDULES, name, kv, 2))
		goto out;
	if (req_wait(PROG, &cl, name, "lastRunNow", id, common.timeout_s, NULL, NULL, &rec))
		goto out;
	const char *refused =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "refused"));
	const char *job = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "jobName"));
	if (refused) {
		fprintf(stderr, "kubectl takt " PROG ": %s/%s refused request %s: %s\n", cl.ns,
			name, id, refused);
		goto out;
	}
	printf("started Job %s of %s/%s (request %s)\n", job ? job : "?", cl.ns, name, id);
	rc = 0;
out:
	cJSON_Delete(rec);
	req_client_close(&cl);
	return rc;
}
