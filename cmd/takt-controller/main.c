/* takt-controller: flags, signals, wiring. Everything else is in
 * pkg/controller. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "controller/controller.h"
#include "httpd/httpd.h"
#include "metrics/prom.h"
#include "kube/config.h"
#include "kube/http.h"
#include "loop/loop.h"

#include "base/banned.h"

/* client-go's 5 qps would throttle a schedule firing every second (a Job
 * POST, status writes and Events per slot): the defaults leave room for
 * about a hundred such schedules. */
#define DEFAULT_QPS   200.0
#define DEFAULT_BURST 400

struct flags {
	const char *kubeconfig;
	const char *context;
	const char *namespace;
	double qps;
	int burst;
	const char *log_level;
	const char *http_addr;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: takt-controller [options]\n"
		"\n"
		"Runs the BatchSchedule controller until SIGTERM or SIGINT.\n"
		"\n"
		"  --kubeconfig PATH   kubeconfig file (default: in-cluster service account,\n"
		"                      then $KUBECONFIG, then ~/.kube/config)\n"
		"  --context NAME      kubeconfig context (default: current-context)\n"
		"  --namespace NS      watch only this namespace (default: all)\n"
		"  --qps N             API requests per second (default %.0f)\n"
		"  --burst N           API request burst (default %d)\n"
		"  --log-level LEVEL   error|warn|info|debug (default info)\n"
		"  --http-addr ADDR    /metrics, /healthz, /readyz on ADDR: :PORT, IP:PORT or\n"
		"                      [IPv6]:PORT (default :8080; \"\" for none)\n"
		"  --help              this text\n",
		DEFAULT_QPS, DEFAULT_BURST);
}

/* Accepts "--name value" and "--name=value". Returns the value or NULL. */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != 0)
		return NULL;
	if (*i + 1 >= argc) {
		fprintf(stderr, "takt-controller: %s needs a value\n", name);
		exit(2);
	}
	return argv[++*i];
}

static int parse_flags(int argc, char **argv, struct flags *f)
{
	for (int i = 1; i < argc; i++) {
		const char *v;
		char *end;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			exit(0);
		} else if ((v = flag_value(argc, argv, &i, "--kubeconfig"))) {
			f->kubeconfig = v;
		} else if ((v = flag_value(argc, argv, &i, "--context"))) {
			f->context = v;
		} else if ((v = flag_value(argc, argv, &i, "--namespace"))) {
			f->namespace = v;
		} else if ((v = flag_value(argc, argv, &i, "--qps"))) {
			errno = 0;
			f->qps = strtod(v, &end);
			if (errno || *end || end == v || f->qps < 0) {
				fprintf(stderr,
					"takt-controller: --qps: \"%s\" is not a number >= 0\n", v);
				return -1;
			}
		} else if ((v = flag_value(argc, argv, &i, "--burst"))) {
			errno = 0;
			long b = strtol(v, &end, 10);
			if (errno || *end || end == v || b < 1 || b > 1000000) {
				fprintf(stderr,
					"takt-controller: --burst: \"%s\" is not an integer >= 1\n",
					v);
				return -1;
			}
			f->burst = (int)b;
		} else if ((v = flag_value(argc, argv, &i, "--log-level"))) {
			f->log_level = v;
		} else if ((v = flag_value(argc, argv, &i, "--http-addr"))) {
			f->http_addr = v;
		} else {
			fprintf(stderr, "takt-controller: unknown option \"%s\" (try --help)\n",
				argv[i]);
			return -1;
		}
	}
	return 0;
}

/* The brief's order: an explicit file, else in-cluster when running in a
 * pod, else $KUBECONFIG, else ~/.kube/config. */
static int load_config(const struct flags *f, struct kube_config **cfg, char *err, size_t errlen)
{
	if (f->kubeconfig)
		return kube_config_load_file(f->kubeconfig, f->context, cfg, err, errlen);
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	if (host && *host && !f->context)
		return kube_config_load_incluster(NULL, cfg, err, errlen);
	return kube_config_load_default(NULL, f->context, cfg, err, errlen);
}

/* /healthz: the loop answers, so it turns (a stuck loop answers nothing
 * and the probe times out). */
static int serve_health(void *ud, struct buf *out, const char **type)
{
	(void)ud;
	(void)type;
	buf_addf(out, "ok\n");
	return 200;
}

/* /readyz: every cache has been listed once. */
static int serve_ready(void *ud, struct buf *out, const char **type)
{
	(void)type;
	bool ok = controller_synced(ud);
	buf_addf(out, ok ? "ok\n" : "caches not synced\n");
	return ok ? 200 : 503;
}

static int serve_metrics(void *ud, struct buf *out, const char **type)
{
	controller_metrics(ud, out);
	*type = PROM_CONTENT_TYPE;
	return 200;
}

static void on_signal(struct loop *l, int signo, void *ud)
{
	(void)ud;
	LOG_INFO("stopping", "signal=%d", signo);
	loop_stop(l);
}

int main(int argc, char **argv)
{
	struct flags f = {
	    .qps = DEFAULT_QPS, .burst = DEFAULT_BURST, .log_level = "info", .http_addr = ":8080"};
	struct httpd *httpd = NULL;
	struct kube_config *cfg = NULL;
	struct kube_http *http = NULL;
	struct controller *ctl = NULL;
	struct loop *loop = NULL;
	char err[512];
	int rc = 1;

	if (parse_flags(argc, argv, &f) < 0)
		return 2;
	if (log_set_level(f.log_level) < 0) {
		fprintf(
		    stderr,
		    "takt-controller: --log-level: \"%s\" is not one of error warn info debug\n",
		    f.log_level);
		return 2;
	}
	/* A peer closing a connection must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (load_config(&f, &cfg, err, sizeof(err)) < 0) {
		LOG_ERROR("no usable configuration", "err=\"%s\"", err);
		return 1;
	}
	if (loop_new(&loop) < 0) {
		LOG_ERROR("event loop", "err=\"cannot create it\"");
		goto out;
	}
	struct kube_http_opts ho = {
	    .qps = f.qps, .burst = f.burst, .user_agent = "takt-controller"};
	if (kube_http_new(loop, cfg, &ho, &http) < 0) {
		LOG_ERROR("http client", "server=%s", kube_config_server(cfg));
		goto out;
	}
	struct controller_opts co = {.namespace = f.namespace};
	struct kube_transport tr = kube_transport_http(http);
	if (controller_new(loop, &tr, &co, &ctl) < 0)
		goto out;
	if (*f.http_addr) {
		const struct httpd_route routes[] = {{"/healthz", serve_health, ctl},
						     {"/readyz", serve_ready, ctl},
						     {"/metrics", serve_metrics, ctl}};
		if (httpd_start(loop, f.http_addr, routes, 3, &httpd, err, sizeof(err)) < 0) {
			LOG_ERROR("no http endpoint", "err=\"%s\"", err);
			goto out;
		}
	}
	loop_signal_watch(loop, SIGTERM, on_signal, NULL);
	loop_signal_watch(loop, SIGINT, on_signal, NULL);
	LOG_INFO("starting", "server=%s context=%s namespace=%s qps=%g burst=%d",
		 kube_config_server(cfg), kube_config_context(cfg),
		 f.namespace ? f.namespace : "(all)", f.qps, f.burst);
	controller_start(ctl);
	rc = loop_run(loop) < 0 ? 1 : 0;
	struct controller_stats st;
	controller_get_stats(ctl, &st);
	LOG_INFO("stopped",
		 "rc=%d reconciles=%" PRIu64 " waited=%" PRIu64 " jobs_created=%" PRIu64
		 " jobs_deleted=%" PRIu64 " status_writes=%" PRIu64 " events=%" PRIu64
		 " relists=%" PRIu64,
		 rc, st.reconciles, st.waited, st.jobs_created, st.jobs_deleted, st.status_writes,
		 st.events_posted, st.relists);
out:
	httpd_free(httpd);
	controller_free(ctl);
	kube_http_free(http);
	loop_free(loop);
	kube_config_free(cfg);
	return rc;
}
