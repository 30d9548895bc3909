/* kubectl takt kill: asks takt-controller to kill the active runs of a
 * BatchSchedule, or the run a pod belongs to, through the takt.io/kill
 * annotation with a fresh request id, then waits for the schedule's
 * status.lastKill to carry that id and prints what was done. */
#include "controller/names.h"
#include "cmds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "controller/control.h"
#include "request.h"

#include "base/banned.h"

#define PROG "kill"

void cmd_kill_usage(void)
{
	printf("usage: kubectl takt kill NAME [-n NS] [--grace-seconds N] [--timeout S]\n"
	       "       kubectl takt kill --pod POD [-n NS] [--grace-seconds N] [--timeout S]\n"
	       "\n"
	       "Kills every active run of the BatchSchedule NAME, or the run the pod POD\n"
	       "belongs to: its pods are deleted and its Job does not replace them. Sets the\n"
	       "annotation takt.io/kill (a fresh request id) and waits until the controller\n"
	       "has recorded the request in the schedule's status.lastKill.\n"
	       "\n"
	       "  -n, --namespace NS   namespace (default: the kubeconfig context's)\n"
	       "  --grace-seconds N    grace period of the pod deletes, 0 = immediate\n"
	       "                       (default: each pod's own terminationGracePeriodSeconds)\n"
	       "  --timeout S          how long to wait for the controller (default 30)\n"
	       "  --kubeconfig PATH, --context NAME\n"
	       "\n"
	       "Exit status: 0 done, 1 refused, failed or timed out, 2 bad usage.\n");
}

static void print_result(const char *ns, const char *schedule, const char *id, const cJSON *rec)
{
	const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(rec, "jobs");
	double pods = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(rec, "podsDeleted"));
	int n = cJSON_GetArraySize(jobs);
	if (n == 0) {
		printf("no active run of %s/%s to kill (request %s)\n", ns, schedule, id);
		return;
	}
	printf("killed %d run%s of %s/%s (request %s): ", n, n == 1 ? "" : "s", ns, schedule, id);
	const cJSON *it;
	int i = 0;
	cJSON_ArrayForEach(it, jobs)
	{
		printf("%s%s", i++ ? ", " : "", cJSON_GetStringValue(it) ? it->valuestring : "?");
	}
	long p = pods == pods ? (long)pods : 0; /* NaN when absent */
	printf("; %ld pod%s deleted\n", p, p == 1 ? "" : "s");
}

/* A kill --pod on a pod labelled takt.io/schedule that is not part of one of
 * that schedule's runs: the controller records no lastKill, only a Warning
 * Event KillIgnored on the pod whose message begins "takt.io/kill=<id>
 * ignored" (docs/external-control.md). Seeing it ends the wait. */
struct ignored_watch {
	struct req_client *cl;
	const char *pod;
	const char *id;
	char selector[256];
	bool off; /* the Events cannot be listed: wait for lastKill only */
};

static int kill_ignored(void *ud)
{
	struct ignored_watch *w = ud;
	cJSON *list = NULL;
	if (w->off)
		return 0;
	/* Without `list` on events (an older Role) the wait stays as it was:
	 * the status, then the timeout. */
	if (req_list_quiet(w->cl, "", "v1", "events", w->selector, &list)) {
		w->off = true;
		return 0;
	}
	char prefix[128];
	snprintf(prefix, sizeof(prefix), TAKT_ANN_KILL "=%s ignored", w->id);
	const cJSON *ev;
	int found = 0;
	cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		const char *msg =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "message"));
		if (msg && !strncmp(msg, prefix, strlen(prefix))) {
			fprintf(stderr, "kubectl takt " PROG ": pod %s/%s: %s\n", w->cl->ns, w->pod,
				msg);
			found = 1;
			break;
		}
	}
	cJSON_Delete(list);
	return found;
}

int cmd_kill(int argc, char **argv)
{
	struct req_common common = {.timeout_s = 30};
	const char *name = NULL, *pod = NULL, *grace = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc = req_common_arg(PROG, argc, argv, &i, &common);
		if (rc == EXIT_USAGE)
			return rc;
		if (rc == 1)
			continue;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			cmd_kill_usage();
			return 0;
		}
		if (!strcmp(a, "--pod") || !strncmp(a, "--pod=", 6)) {
			pod = a[5] == '=' ? a + 6 : (i + 1 < argc ? argv[++i] : NULL);
			if (!pod || !*pod)
				return req_usage_error(PROG, "option --pod needs a value", NULL);
			continue;
		}
		if (!strcmp(a, "--grace-seconds") || !strncmp(a, "--grace-seconds=", 16)) {
			grace = a[15] == '=' ? a + 16 : (i + 1 < argc ? argv[++i] : NULL);
			if (!grace)
				return req_usage_error(PROG, "option --grace-seconds needs a value",
						       NULL);
			continue;
		}
		if (a[0] == '-')
			return req_usage_error(PROG, "unknown option", a);
		if (name)
			return req_usage_error(PROG, "one BatchSchedule at a time; extra argument",
					       a);
		name = a;
	}
	if (!name == !pod)
		return req_usage_error(PROG,
				       pod ? "give either NAME or --pod POD, not both"
					   : "missing NAME (a BatchSchedule) or --pod POD",
				       NULL);
	long g;
	char err[256];
	/* The controller would refuse it: say so now, before annotating. */
	if (grace && control_grace_parse(grace, &g, err, sizeof(err))) {
		fprintf(stderr,
			"kubectl takt " PROG ": --grace-seconds: \"%s\" is not a whole "
			"number of seconds from 0 to %ld\n",
			grace, CONTROL_GRACE_MAX);
		return EXIT_USAGE;
	}

	struct req_client cl;
	if (req_client_open(PROG, &common, &cl))
		return 1;
	int rc = 1;
	cJSON *obj = NULL, *rec = NULL;
	char id[64];
	req_new_id("kill", id, sizeof(id));
	/* No --grace-seconds removes an earlier value: the pods' own applies. */
	const char *kv[] = {TAKT_ANN_KILL, id, TAKT_ANN_KILL_GRACE, grace};
	const char *schedule = name;
	struct ignored_watch iw = {.cl = &cl, .pod = pod, .id = id, .off = true};
	if (pod) {
		if (req_get(PROG, &cl, "", "v1", "pods", pod, &obj))
			goto out;
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "labels");
		schedule = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(labels, TAKT_LABEL_SCHEDULE));
		if (req_annotate(PROG, &cl, "", "v1", "pods", pod, kv, 4))
			goto out;
		if (!schedule) {
			/* The controller answers with a Warning Event on the pod
			 * and deletes nothing. */
			fprintf(stderr,
				"kubectl takt " PROG
				": pod %s/%s is not part of a BatchSchedule run "
				"(no " TAKT_LABEL_SCHEDULE " label): nothing will be deleted\n",
				cl.ns, pod);
			goto out;
		}
		const char *uid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "uid"));
		/* By uid: not the Events of an earlier pod of that name. */
		if (uid && (size_t)snprintf(iw.selector, sizeof(iw.selector),
					    "involvedObject.uid=%s,reason=KillIgnored",
					    uid) < sizeof(iw.selector))
			iw.off = false;
	} else if (req_annotate(PROG, &cl, TAKT_GROUP, TAKT_VERSION, TAKT_RES_SCHEDULES, name, kv,
				4)) {
		goto out;
	}
	if (req_wait(PROG, &cl, schedule, "lastKill", id, common.timeout_s, kill_ignored, &iw,
		     &rec))
		goto out;
	const char *failed = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "failed"));
	if (failed) {
		/* Recorded as failed for good (the controller does not retry). */
		fprintf(stderr, "kubectl takt " PROG ": %s/%s request %s failed: %s\n", cl.ns,
			schedule, id, failed);
		goto out;
	}
	print_result(cl.ns, schedule, id, rec);
	rc = 0;
out:
	cJSON_Delete(obj);
	cJSON_Delete(rec);
	req_client_close(&cl);
	return rc;
}
