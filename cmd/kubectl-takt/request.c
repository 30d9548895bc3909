/* Shared plumbing of the plugin's subcommands that talk to the cluster; see
 * request.h. */
#include "controller/names.h"
#include "request.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/buf.h"
#include "cmds.h"
#include "kube/config.h"
#include "kube/http.h"
#include "loop/loop.h"
#include "tz/civil.h"

#include "base/banned.h"

static const char *value_of(const char *prog, int argc, char **argv, int *i, const char *name,
			    int *bad)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != 0)
		return NULL;
	if (*i + 1 >= argc) {
		fprintf(stderr, "kubectl takt %s: option %s needs a value\n", prog, name);
		*bad = 1;
		return NULL;
	}
	return argv[++*i];
}

int req_option(const char *prog, int argc, char **argv, int *i, const char *name, const char **out)
{
	int bad = 0;
	const char *v = value_of(prog, argc, argv, i, name, &bad);
	if (bad)
		return EXIT_USAGE;
	if (!v)
		return 0;
	*out = v;
	return 1;
}

int req_common_arg(const char *prog, int argc, char **argv, int *i, struct req_common *o)
{
	int bad = 0;
	const char *v;
	if ((v = value_of(prog, argc, argv, i, "-n", &bad)) ||
	    (v = value_of(prog, argc, argv, i, "--namespace", &bad))) {
		o->namespace = v;
		return 1;
	}
	if (!bad && (v = value_of(prog, argc, argv, i, "--kubeconfig", &bad))) {
		o->kubeconfig = v;
		return 1;
	}
	if (!bad && (v = value_of(prog, argc, argv, i, "--context", &bad))) {
		o->context = v;
		return 1;
	}
	if (!bad && (v = value_of(prog, argc, argv, i, "--timeout", &bad))) {
		char *end;
		errno = 0;
		long t = strtol(v, &end, 10);
		/* "30" or "30s": seconds. */
		if (*end == 's')
			end++;
		if (!*v || *end || errno || t < 1 || t > 86400) {
			fprintf(stderr,
				"kubectl takt %s: --timeout: \"%s\" is not a number of seconds "
				"from 1 to 86400\n",
				prog, v);
			return EXIT_USAGE;
		}
		o->timeout_s = t;
		return 1;
	}
	return bad ? EXIT_USAGE : 0;
}

int req_usage_error(const char *prog, const char *msg, const char *arg)
{
	fprintf(stderr, "kubectl takt %s: %s%s%s (try --help)\n", prog, msg, arg ? " " : "",
		arg ? arg : "");
	return EXIT_USAGE;
}

int req_client_open(const char *prog, const struct req_common *o, struct req_client *cl)
{
	char err[512];
	memset(cl, 0, sizeof(*cl));
	if (kube_config_load_default(o->kubeconfig, o->context, &cl->cfg, err, sizeof(err))) {
		fprintf(stderr, "kubectl takt %s: %s\n", prog, err);
		return 1;
	}
	if (loop_new(&cl->loop) < 0) {
		fprintf(stderr, "kubectl takt %s: cannot create the event loop\n", prog);
		req_client_close(cl);
		return 1;
	}
	struct kube_http_opts ho = {.timeout_ms = 15000, .user_agent = "kubectl-takt/0.1"};
	if (kube_http_new(cl->loop, cl->cfg, &ho, &cl->http) < 0) {
		fprintf(stderr, "kubectl takt %s: cannot create the HTTP client for %s\n", prog,
			kube_config_server(cl->cfg) ? kube_config_server(cl->cfg) : "(no server)");
		req_client_close(cl);
		return 1;
	}
	cl->ns = o->namespace ? o->namespace : kube_config_namespace(cl->cfg);
	return 0;
}

void req_client_close(struct req_client *cl)
{
	kube_http_free(cl->http);
	loop_free(cl->loop);
	kube_config_free(cl->cfg);
	memset(cl, 0, sizeof(*cl));
}

void req_new_id(const char *kind, char *out, size_t n)
{
	unsigned char r[3] = {0};
	char ts[40];
	int64_t now = loop_now_realtime_ms();
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		/* No entropy: the clock's nanoseconds and the pid still make
		 * two requests of one second differ. */
		uint64_t x = (uint64_t)loop_now_monotonic_ns() ^ ((uint64_t)getpid() << 20);
		r[0] = (unsigned char)x;
		r[1] = (unsigned char)(x >> 8);
		r[2] = (unsigned char)(x >> 16);
	}
	if (rfc3339_format(now, false, ts, sizeof(ts)) < 0)
		snprintf(ts, sizeof(ts), "0000-00-00T00:00:00Z");
	/* 2026-11-22T08:01:02Z -> 20261122T080102Z */
	char compact[20];
	size_t j = 0;
	for (size_t i = 0; ts[i] && j + 1 < sizeof(compact); i++)
		if (ts[i] != '-' && ts[i] != ':')
			compact[j++] = ts[i];
	compact[j] = 0;
	snprintf(out, n, "%s-%s-%02x%02x%02x", kind, compact, r[0], r[1], r[2]);
}

static int api_error(const char *prog, const char *what, const struct kube_response *r)
{
	if (r->status == 0)
		fprintf(stderr, "kubectl takt %s: %s: cannot reach the apiserver: %s\n", prog, what,
			r->transport_error && *r->transport_error ? r->transport_error
								  : strerror(-r->err));
	else if (r->status == 404)
		fprintf(stderr, "kubectl takt %s: %s not found\n", prog, what);
	else
		fprintf(stderr, "kubectl takt %s: %s: %d %s: %s\n", prog, what, r->status,
			r->reason ? r->reason : "", r->message ? r->message : "");
	return 1;
}

/* One request, sent again (up to 3 times, 300 ms apart) when no answer
 * came back at all: a connection the apiserver closed under us (a restart,
 * a GOAWAY) is not the user's error, and both requests made here are
 * idempotent (GET, and a merge patch setting fixed values). */
static int do_retry(struct req_client *cl, enum kube_method m, const char *path, const char *body,
		    struct kube_response *r)
{
	for (int attempt = 1;; attempt++) {
		if (kube_http_do(cl->http, m, path, body, body ? strlen(body) : 0, r) < 0)
			return -1;
		if (r->status != 0 || attempt == 3)
			return 0;
		kube_response_release(r);
		loop_run_once(cl->loop, 300);
	}
}

static void object_path(struct buf *p, struct req_client *cl, const char *group,
			const char *version, const char *resource, const char *name)
{
	kube_path(p, group, version, cl->ns, resource, name, NULL);
}

int req_annotate(const char *prog, struct req_client *cl, const char *group, const char *version,
		 const char *resource, const char *name, const char *const *kv, size_t n_kv)
{
	struct buf path, what;
	struct kube_response r = {0};
	int rc = 0;
	buf_init(&path, 4096);
	buf_init(&what, 512);
	object_path(&path, cl, group, version, resource, name);
	buf_addf(&what, "%s %s/%s", resource, cl->ns, name);
	cJSON *patch = cJSON_CreateObject();
	cJSON *anns =
	    cJSON_AddObjectToObject(cJSON_AddObjectToObject(patch, "metadata"), "annotations");
	for (size_t i = 0; i + 1 < n_kv; i += 2) {
		if (kv[i + 1])
			cJSON_AddStringToObject(anns, kv[i], kv[i + 1]);
		else
			cJSON_AddNullToObject(anns, kv[i]);
	}
	char *body = cJSON_PrintUnformatted(patch);
	cJSON_Delete(patch);
	if (do_retry(cl, KUBE_PATCH_MERGE, buf_str(&path), body, &r) < 0) {
		fprintf(stderr, "kubectl takt %s: %s: request not sent\n", prog, buf_str(&what));
		rc = 1;
	} else {
		if (r.err || r.status < 200 || r.status >= 300)
			rc = api_error(prog, buf_str(&what), &r);
		kube_response_release(&r);
	}
	free(body);
	buf_release(&path);
	buf_release(&what);
	return rc;
}

/* GET path and parse the answer as a JSON object; what names it in the
 * error line, which quiet leaves out. */
static int get_json(const char *prog, struct req_client *cl, const char *path, const char *what,
		    bool quiet, cJSON **out)
{
	struct kube_response r = {0};
	int rc = 0;
	*out = NULL;
	if (do_retry(cl, KUBE_GET, path, NULL, &r) < 0) {
		if (!quiet)
			fprintf(stderr, "kubectl takt %s: %s: request not sent\n", prog, what);
		return 1;
	}
	if (r.err || r.status < 200 || r.status >= 300) {
		rc = quiet ? 1 : api_error(prog, what, &r);
	} else {
		*out = cJSON_ParseWithLength(r.body, r.body_len);
		if (!cJSON_IsObject(*out)) {
			cJSON_Delete(*out);
			*out = NULL;
			if (!quiet)
				fprintf(stderr, "kubectl takt %s: %s: the answer is not JSON\n",
					prog, what);
			rc = 1;
		}
	}
	kube_response_release(&r);
	return rc;
}

int req_get(const char *prog, struct req_client *cl, const char *group, const char *version,
	    const char *resource, const char *name, cJSON **out)
{
	struct buf path, what;
	buf_init(&path, 4096);
	buf_init(&what, 512);
	object_path(&path, cl, group, version, resource, name);
	buf_addf(&what, "%s %s/%s", resource, cl->ns, name);
	int rc = get_json(prog, cl, buf_str(&path), buf_str(&what), false, out);
	buf_release(&path);
	buf_release(&what);
	return rc;
}

int req_get_in(const char *prog, struct req_client *cl, const char *group, const char *version,
	       const char *ns, const char *resource, const char *name, cJSON **out)
{
	struct buf path, what;
	buf_init(&path, 4096);
	buf_init(&what, 512);
	kube_path(&path, group, version, ns, resource, name, NULL);
	if (ns)
		buf_addf(&what, "%s %s/%s", resource, ns, name);
	else
		buf_addf(&what, "%s %s", resource, name);
	int rc = get_json(prog, cl, buf_str(&path), buf_str(&what), false, out);
	buf_release(&path);
	buf_release(&what);
	return rc;
}

int req_list(const char *prog, struct req_client *cl, const char *group, const char *version,
	     const char *resource, const char *label_selector, cJSON **out)
{
	struct buf path, what;
	buf_init(&path, 4096);
	buf_init(&what, 512);
	kube_path(&path, group, version, cl->ns, resource, NULL, NULL);
	if (label_selector)
		kube_query_add(&path, "labelSelector", label_selector);
	buf_addf(&what, "%s in %s", resource, cl->ns);
	int rc = get_json(prog, cl, buf_str(&path), buf_str(&what), false, out);
	buf_release(&path);
	buf_release(&what);
	return rc;
}

int req_list_quiet(struct req_client *cl, const char *group, const char *version,
		   const char *resource, const char *field_selector, cJSON **out)
{
	struct buf path;
	buf_init(&path, 4096);
	kube_path(&path, group, version, cl->ns, resource, NULL, NULL);
	if (field_selector)
		kube_query_add(&path, "fieldSelector", field_selector);
	int rc = get_json("", cl, buf_str(&path), "", true, out);
	buf_release(&path);
	return rc;
}

int req_wait(const char *prog, struct req_client *cl, const char *schedule, const char *field,
	     const char *id, long timeout_s, req_poll_fn *poll, void *ud, cJSON **record)
{
	int64_t deadline = loop_now_monotonic_ms() + (int64_t)timeout_s * 1000;
	*record = NULL;
	for (;;) {
		cJSON *obj = NULL;
		if (req_get(prog, cl, TAKT_GROUP, TAKT_VERSION, TAKT_RES_SCHEDULES, schedule, &obj))
			return 1;
		cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
		cJSON *rec = cJSON_GetObjectItemCaseSensitive(st, field);
		const char *got =
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "requestId"));
		if (got && !strcmp(got, id)) {
			*record = cJSON_Duplicate(rec, 1);
			cJSON_Delete(obj);
			return 0;
		}
		cJSON_Delete(obj);
		if (poll && poll(ud))
			return 1;
		int64_t left = deadline - loop_now_monotonic_ms();
		if (left <= 0)
			break;
		/* Runs the client's loop meanwhile (keep-alive housekeeping). */
		loop_run_once(cl->loop, left < 200 ? (int)left : 200);
	}
	fprintf(stderr,
		"kubectl takt %s: timed out after %lds: BatchSchedule %s/%s has not answered "
		"request %s (is takt-controller running? see `kubectl describe bs %s`)\n",
		prog, timeout_s, cl->ns, schedule, id, schedule);
	return 1;
}
