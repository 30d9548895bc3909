/* takt-controller: flags, signals, wiring. Everything else is in
 * pkg/controller. */
#include <errno.h>
#include <malloc.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "controller/controller.h"
#include "httpd/httpd.h"
#include "kube/config.h"
#include "kube/http.h"
#include "leader/leader.h"
#include "loop/loop.h"
#include "metrics/prom.h"

#include "base/banned.h"

/* client-go's 5 qps would throttle a schedule firing every second (a Job
 * POST, status writes and Events per slot): the defaults leave room for
 * about a hundred such schedules. */
#define DEFAULT_QPS   200.0
#define DEFAULT_BURST 400

/* Where a pod finds its own namespace. */
#define SA_NAMESPACE_FILE "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
/* On SIGTERM the passes under way finish and their writes are answered,
 * for this long at most: a Job created just before the signal gets its
 * status written (else the next leader finds a run the status does not
 * know of), and an apiserver that does not answer cannot hold the exit
 * (the kubelet's grace period is 30 s by default). Then a leader releases
 * the lease: the next leader's first write comes after our last. Past the
 * bound, the next leader's writes are answered 409 or AlreadyExists where
 * they meet ours. */
#define SHUTDOWN_DRAIN_MS 5000

struct flags {
	const char *kubeconfig;
	const char *context;
	const char *namespace;
	double qps;
	int burst;
	const char *log_level;
	bool leader_elect;
	const char *le_name;
	const char *le_namespace; /* NULL: the pod's, the context's, "default" */
	int64_t le_lease_ms, le_renew_deadline_ms, le_retry_ms;
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
		"  --leader-elect      leader election on a Lease: only the leader writes\n"
		"                      (default off: this process is always the leader)\n"
		"  --leader-elect-name NAME       the Lease (default %s)\n"
		"  --leader-elect-namespace NS    its namespace (default: the pod's own, else\n"
		"                                 the kubeconfig context's, else default)\n"
		"  --leader-elect-lease-duration D    (default 15s)\n"
		"  --leader-elect-renew-deadline D    (default 10s)\n"
		"  --leader-elect-retry-period D      (default 2s)\n"
		"                      durations as Go writes them (15s, 500ms, 1m30s);\n"
		"                      lease duration > renew deadline > 1.2 x retry period\n"
		"  --http-addr ADDR    /metrics, /healthz, /readyz on ADDR: :PORT, IP:PORT or\n"
		"                      [IPv6]:PORT (default :8080; \"\" for none)\n"
		"  --help              this text\n",
		DEFAULT_QPS, DEFAULT_BURST, LEADER_DEFAULT_NAME);
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

static int duration_flag(const char *name, const char *v, int64_t *ms)
{
	if (leader_parse_duration(v, ms) == 0)
		return 0;
	fprintf(stderr, "takt-controller: %s: \"%s\" is not a duration (15s, 500ms, 1m)\n", name,
		v);
	return -1;
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
		} else if (!strcmp(argv[i], "--leader-elect") ||
			   !strcmp(argv[i], "--leader-elect=true")) {
			f->leader_elect = true;
		} else if (!strcmp(argv[i], "--leader-elect=false")) {
			f->leader_elect = false;
		} else if ((v = flag_value(argc, argv, &i, "--leader-elect-name"))) {
			f->le_name = v;
		} else if ((v = flag_value(argc, argv, &i, "--leader-elect-namespace"))) {
			f->le_namespace = v;
		} else if ((v = flag_value(argc, argv, &i, "--leader-elect-lease-duration"))) {
			if (duration_flag("--leader-elect-lease-duration", v, &f->le_lease_ms) < 0)
				return -1;
		} else if ((v = flag_value(argc, argv, &i, "--leader-elect-renew-deadline"))) {
			if (duration_flag("--leader-elect-renew-deadline", v,
					  &f->le_renew_deadline_ms) < 0)
				return -1;
		} else if ((v = flag_value(argc, argv, &i, "--leader-elect-retry-period"))) {
			if (duration_flag("--leader-elect-retry-period", v, &f->le_retry_ms) < 0)
				return -1;
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

/* The Lease's namespace when not given: the pod's own, else the
 * kubeconfig context's (which kube_config_namespace falls back to
 * "default" from). */
static void lease_namespace(const struct kube_config *cfg, char *out, size_t n)
{
	FILE *fp = fopen(SA_NAMESPACE_FILE, "r");
	out[0] = 0;
	if (fp) {
		if (!fgets(out, (int)n, fp))
			out[0] = 0;
		fclose(fp);
		out[strcspn(out, " \t\r\n")] = 0;
	}
	if (!out[0])
		snprintf(out, n, "%s", kube_config_namespace(cfg));
}

/* What the callbacks share. */
struct app {
	struct loop *loop;
	struct controller *ctl;
	struct leader *le; /* NULL without --leader-elect */
	int rc;
	bool stopping;
};

static void le_started(void *ud)
{
	struct app *a = ud;
	LOG_INFO("started leading", "synced=%d", controller_synced(a->ctl));
	controller_set_leader(a->ctl, true);
}

/* client-go's way: a leader that could not renew exits, and comes back
 * (the Deployment restarts it) as a candidate. Its writes stop first. */
static void le_stopped(void *ud)
{
	struct app *a = ud;
	controller_set_leader(a->ctl, false);
	LOG_ERROR("lost the lease: exiting", "rc=%d", 1);
	a->rc = 1;
	loop_stop(a->loop);
}

/* Before every write: the elector's view, which includes its clock. */
static bool still_leader(const void *ud)
{
	return leader_is_leader(ud);
}

static void le_new_leader(void *ud, const char *identity)
{
	(void)ud;
	LOG_INFO("new leader", "identity=%s", identity);
}

static void released(void *ud, bool ok)
{
	struct app *a = ud;
	(void)ok;
	loop_stop(a->loop);
}

/* The passes under way have ended and their writes are answered (or the
 * bound passed): a leader closes the gate and gives the lease up. */
static void drained(void *ud, bool quiet)
{
	struct app *a = ud;
	(void)quiet;
	if (!a->le) {
		loop_stop(a->loop);
		return;
	}
	controller_set_leader(a->ctl, false);
	/* 0: not leading, nothing to give up (`released` is not called). */
	if (leader_release(a->le, released, a) == 0)
		loop_stop(a->loop);
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

/* /readyz: every cache has been listed once; a leader and a standby alike
 * (a standby with warm caches is ready to take over). */
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
	struct app *a = ud;
	LOG_INFO("stopping", "signal=%d drain_ms=%d", signo, SHUTDOWN_DRAIN_MS);
	if (a->stopping) {
		/* A second signal: now. */
		loop_stop(l);
		return;
	}
	a->stopping = true;
	/* No pass starts from here; those under way finish, then `drained`. */
	controller_shutdown(a->ctl, SHUTDOWN_DRAIN_MS, drained, a);
}

int main(int argc, char **argv)
{
	struct flags f = {.qps = DEFAULT_QPS,
			  .burst = DEFAULT_BURST,
			  .log_level = "info",
			  .le_name = LEADER_DEFAULT_NAME,
			  .le_lease_ms = LEADER_DEFAULT_LEASE_MS,
			  .le_renew_deadline_ms = LEADER_DEFAULT_RENEW_DEADLINE_MS,
			  .le_retry_ms = LEADER_DEFAULT_RETRY_MS,
			  .http_addr = ":8080"};
	struct httpd *httpd = NULL;
	struct kube_config *cfg = NULL;
	struct kube_http *http = NULL;
	struct app a = {.rc = 1};
	char err[512], identity[400], lease_ns[256];
	int rc = 1;
	/* Buffers of 128 KB and more (a list page's body, ~2 MB of JSON) are
	 * mapped and given back when freed. glibc otherwise raises this
	 * threshold to the largest such buffer freed, and from then on takes
	 * them from the heap, where the schedules' records allocated around
	 * them keep the pages in use. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);

	if (parse_flags(argc, argv, &f) < 0)
		return 2;
	if (log_set_level(f.log_level) < 0) {
		fprintf(
		    stderr,
		    "takt-controller: --log-level: \"%s\" is not one of error warn info debug\n",
		    f.log_level);
		return 2;
	}
	struct leader_opts lo = {.name = f.le_name,
				 .namespace = "-", /* known once the config is */
				 .identity = "-",
				 .lease_ms = f.le_lease_ms,
				 .renew_deadline_ms = f.le_renew_deadline_ms,
				 .retry_ms = f.le_retry_ms,
				 .started = le_started,
				 .stopped = le_stopped,
				 .new_leader = le_new_leader,
				 .ud = &a};
	if (f.leader_elect && leader_opts_validate(&lo, err, sizeof(err)) < 0) {
		fprintf(stderr, "takt-controller: leader election: %s\n", err);
		return 2;
	}
	if (f.leader_elect && leader_identity(identity, sizeof(identity)) < 0) {
		fprintf(stderr, "takt-controller: leader election: no identity\n");
		return 1;
	}
	/* A peer closing a connection must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (load_config(&f, &cfg, err, sizeof(err)) < 0) {
		LOG_ERROR("no usable configuration", "err=\"%s\"", err);
		return 1;
	}
	if (loop_new(&a.loop) < 0) {
		LOG_ERROR("event loop", "err=\"cannot create it\"");
		goto out;
	}
	struct kube_http_opts ho = {
	    .qps = f.qps, .burst = f.burst, .user_agent = "takt-controller"};
	if (kube_http_new(a.loop, cfg, &ho, &http) < 0) {
		LOG_ERROR("http client", "server=%s", kube_config_server(cfg));
		goto out;
	}
	struct controller_opts co = {
	    .namespace = f.namespace, .instance = f.leader_elect ? identity : NULL, .http = http};
	struct kube_transport tr = kube_transport_http(http);
	if (controller_new(a.loop, &tr, &co, &a.ctl) < 0)
		goto out;
	if (f.leader_elect) {
		if (f.le_namespace)
			snprintf(lease_ns, sizeof(lease_ns), "%s", f.le_namespace);
		else
			lease_namespace(cfg, lease_ns, sizeof(lease_ns));
		lo.namespace = lease_ns;
		lo.identity = identity;
		if (leader_new(a.loop, &tr, &lo, &a.le, err, sizeof(err)) < 0) {
			LOG_ERROR("leader election", "err=\"%s\"", err);
			goto out;
		}
		/* A standby until the lease is ours. */
		controller_set_leader(a.ctl, false);
		controller_set_leader_check(a.ctl, still_leader, a.le);
	}
	if (*f.http_addr) {
		const struct httpd_route routes[] = {{"/healthz", serve_health, a.ctl},
						     {"/readyz", serve_ready, a.ctl},
						     {"/metrics", serve_metrics, a.ctl}};
		if (httpd_start(a.loop, f.http_addr, routes, 3, &httpd, err, sizeof(err)) < 0) {
			LOG_ERROR("no http endpoint", "err=\"%s\"", err);
			goto out;
		}
	}
	loop_signal_watch(a.loop, SIGTERM, on_signal, &a);
	loop_signal_watch(a.loop, SIGINT, on_signal, &a);
	LOG_INFO("starting", "server=%s context=%s namespace=%s qps=%g burst=%d leader_elect=%d",
		 kube_config_server(cfg), kube_config_context(cfg),
		 f.namespace ? f.namespace : "(all)", f.qps, f.burst, f.leader_elect);
	controller_start(a.ctl);
	if (a.le)
		leader_start(a.le);
	a.rc = 0;
	rc = loop_run(a.loop) < 0 ? 1 : a.rc;
	struct controller_stats st;
	struct kube_http_stats hs;
	controller_get_stats(a.ctl, &st);
	kube_http_stats(http, &hs);
	LOG_INFO("stopped",
		 "rc=%d reconciles=%" PRIu64 " waited=%" PRIu64 " jobs_created=%" PRIu64
		 " jobs_deleted=%" PRIu64 " status_writes=%" PRIu64 " events=%" PRIu64
		 " relists=%" PRIu64 " connects=%" PRIu64 " probes=%" PRIu64
		 " dead_connections=%" PRIu64,
		 rc, st.reconciles, st.waited, st.jobs_created, st.jobs_deleted, st.status_writes,
		 st.events_posted, st.relists, hs.connects, hs.probes, hs.dead);
out:
	httpd_free(httpd);
	leader_free(a.le);
	controller_free(a.ctl);
	kube_http_free(http);
	loop_free(a.loop);
	kube_config_free(cfg);
	return rc;
}
