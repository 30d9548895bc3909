/* Exec credential plugins (client.authentication.k8s.io), as kubectl runs
 * them: the default kubeconfigs of EKS (`aws eks get-token`), GKE
 * (`gke-gcloud-auth-plugin`) and AKS (`kubelogin`) name a command whose
 * standard output is an ExecCredential with a bearer token (or a client
 * certificate) and, usually, when it expires.
 *
 * What runs: the kubeconfig's `exec.command` (a bare name is looked up in
 * PATH; a relative path is resolved against the kubeconfig's directory, as
 * kubectl does) with `exec.args`, the process environment plus `exec.env`,
 * and KUBERNETES_EXEC_INFO holding an ExecCredential whose spec says the
 * session is not interactive (and carries the cluster when
 * provideClusterInfo is set). Its standard error goes to ours, so a
 * plugin's own message reaches the user. It must answer within
 * EXECCRED_TIMEOUT_MS; its output is capped at EXECCRED_OUTPUT_MAX.
 *
 * The run blocks the calling thread: kubectl-takt runs it before its first
 * request, and again when the token is about to expire. takt-controller in
 * a cluster uses its service account and never runs one; run out of
 * cluster with such a kubeconfig, its loop waits while the plugin runs
 * (config.c logs how long), which delays slots: give the controller a
 * token or a certificate instead. A token revoked early (or one without an
 * expiry) is not renewed on a 401 yet.
 *
 * Ownership: execcred_spec_parse fills a caller's struct, released with
 * execcred_spec_release; execcred_run and execcred_parse_output fill a
 * caller's struct execcred, released with execcred_release (key material is
 * wiped). Errors are one line in err naming the plugin and what failed.
 */
#ifndef TAKT_KUBE_EXECCRED_H
#define TAKT_KUBE_EXECCRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define EXECCRED_TIMEOUT_MS 60000
#define EXECCRED_OUTPUT_MAX (1u << 20)
/* "No expiry given": the credential is used until a request is refused. */
#define EXECCRED_NO_EXPIRY INT64_MAX

struct execcred_spec {
	char *api_version; /* client.authentication.k8s.io/v1 or /v1beta1 */
	char *command;	   /* resolved: absolute, or a bare name for PATH */
	char **args;	   /* argv[1..], NULL-terminated */
	size_t n_args;
	char **env; /* "NAME=value", NULL-terminated */
	size_t n_env;
	bool provide_cluster_info;
	char *install_hint; /* NULL when none */
};

/* Parses users[].user.exec. base_dir resolves a relative command ("./x",
 * "bin/x"); NULL: the working directory. 0, or -1 with err. */
int execcred_spec_parse(const cJSON *exec, const char *base_dir, struct execcred_spec *out,
			char *err, size_t errlen);
void execcred_spec_release(struct execcred_spec *s);

struct execcred {
	char *token;	    /* NULL when the plugin gave a certificate */
	char *cert, *key;   /* PEM, NULL unless both were given */
	int64_t expires_ms; /* Unix ms, or EXECCRED_NO_EXPIRY */
};

/* Parses a plugin's output: an ExecCredential of api_version with
 * status.token, or status.clientCertificateData and clientKeyData, and an
 * optional status.expirationTimestamp (RFC 3339). Pure. 0, or -1 with err. */
int execcred_parse_output(const char *text, size_t len, const char *api_version,
			  struct execcred *out, char *err, size_t errlen);

/* Runs the plugin for the cluster at `server` (with its CA, PEM, when
 * provideClusterInfo is set; ca may be NULL). 0, or -1 with err: not found
 * (with the install hint), did not start, exit status or signal, timed
 * out, output too long or not an ExecCredential. */
int execcred_run(const struct execcred_spec *s, const char *server, const void *ca, size_t ca_len,
		 struct execcred *out, char *err, size_t errlen);

void execcred_release(struct execcred *c);

/* From now on execcred_run refuses to run anything (for fuzzers: a
 * kubeconfig's exec.command comes from their input). */
void execcred_forbid_runs(void);

#endif
