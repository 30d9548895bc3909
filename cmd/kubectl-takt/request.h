/* The plumbing the subcommands that talk to the cluster share (kill, run,
 * rerun, history): the common options, a client from the kubeconfig, a
 * fresh request id, GETs and LISTs, the annotation patch, and waiting for
 * the controller's answer in the BatchSchedule's status
 * (docs/external-control.md).
 *
 * Ownership: struct req_client is the caller's; req_client_open fills it and
 * req_client_close frees what it holds. cJSON trees returned are the
 * caller's (cJSON_Delete). */
#ifndef TAKT_CMD_KUBECTL_TAKT_REQUEST_H
#define TAKT_CMD_KUBECTL_TAKT_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct loop;
struct kube_config;
struct kube_http;

struct req_common {
	const char *kubeconfig;
	const char *context;
	const char *namespace; /* NULL: the kubeconfig context's */
	long timeout_s;	       /* waiting for the answer; default 30 */
};

struct req_client {
	struct loop *loop;
	struct kube_config *cfg;
	struct kube_http *http;
	const char *ns; /* borrowed from the options or the config */
};

/* Recognises -n/--namespace, --kubeconfig, --context, --timeout (as
 * "--x v" or "--x=v"). Returns 1 when argv[*i] was one of them (and *i moved
 * past its value), 0 when it was not, or EXIT_USAGE after printing one line
 * on stderr (prog names the command in it). */
int req_common_arg(const char *prog, int argc, char **argv, int *i, struct req_common *o);

/* A command's own option with a value, "--x v" or "--x=v", read as
 * req_common_arg reads the common ones: 1 with *out set (borrowed from
 * argv) and *i past the value, 0 when argv[*i] is not `name`, EXIT_USAGE
 * after one line on stderr when the value is missing. */
int req_option(const char *prog, int argc, char **argv, int *i, const char *name, const char **out);

/* Prints "kubectl takt <prog>: <msg>[ <arg>] (try --help)" on stderr (arg
 * may be NULL) and returns EXIT_USAGE, for `return req_usage_error(...)`. */
int req_usage_error(const char *prog, const char *msg, const char *arg);

/* Returns 0, or 1 with one line on stderr. */
int req_client_open(const char *prog, const struct req_common *o, struct req_client *cl);
void req_client_close(struct req_client *cl);

/* "<kind>-<UTC yyyymmddThhmmssZ>-<6 hex>": unique enough (random bits and
 * the second) and a valid request id. out needs 64 bytes. */
void req_new_id(const char *kind, char *out, size_t n);

/* Merge-patches metadata.annotations of one object (pairs of key, value;
 * value NULL removes the key). group "" is the core group. Returns 0, or 1
 * with one line on stderr naming the object and the apiserver's answer. */
int req_annotate(const char *prog, struct req_client *cl, const char *group, const char *version,
		 const char *resource, const char *name, const char *const *kv, size_t n_kv);

/* GETs an object; returns 0 and *out, or 1 with one line on stderr. */
int req_get(const char *prog, struct req_client *cl, const char *group, const char *version,
	    const char *resource, const char *name, cJSON **out);

/* GETs an object of namespace ns (NULL: a cluster-scoped object); returns 0
 * and *out, or 1 with one line on stderr. */
int req_get_in(const char *prog, struct req_client *cl, const char *group, const char *version,
	       const char *ns, const char *resource, const char *name, cJSON **out);

/* LISTs a collection of the client's namespace, with a labelSelector when
 * not NULL. Returns 0 and *out (the List object), or 1 with one line on
 * stderr. */
int req_list(const char *prog, struct req_client *cl, const char *group, const char *version,
	     const char *resource, const char *label_selector, cJSON **out);

/* LISTs a collection of the client's namespace, with a fieldSelector when
 * not NULL. Returns 0 and *out (the List object), or 1 and prints nothing:
 * for lookups the caller can do without (an account that may not list
 * them, say). */
int req_list_quiet(struct req_client *cl, const char *group, const char *version,
		   const char *resource, const char *field_selector, cJSON **out);

/* Called by req_wait after each poll in which the schedule had not answered:
 * 0 to keep waiting, or 1 when the answer came another way (the callback
 * has printed its one line on stderr). */
typedef int req_poll_fn(void *ud);

/* Polls the BatchSchedule until status.<field>.requestId equals id (field
 * "lastKill" or "lastRunNow"), every 200 ms, for timeout_s, calling poll
 * (when not NULL) in between. Returns 0 and *record (a copy of that status
 * field), or 1 with one line on stderr (timed out, not found, forbidden, or
 * poll stopped it). */
int req_wait(const char *prog, struct req_client *cl, const char *schedule, const char *field,
	     const char *id, long timeout_s, req_poll_fn *poll, void *ud, cJSON **record);

#endif
