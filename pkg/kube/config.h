/* How to reach the apiserver: kubeconfig files and in-cluster service
 * accounts.
 *
 * The result is one resolved context: the server URL, TLS material held in
 * memory (PEM bytes, handed to curl as blobs — never written to files), and
 * credentials. A bearer token read from a file (in-cluster, or a kubeconfig
 * `tokenFile`) is re-read when the file changes (kubelet rotates projected
 * tokens by swapping a symlink) and at least once a minute.
 *
 * Ownership: every loader returns a config owned by the caller, freed with
 * kube_config_free. Accessors return pointers borrowed from the config:
 * valid until kube_config_free, except kube_config_token, valid until the
 * next kube_config_token or kube_config_refresh_token call.
 * Errors: each loader returns 0, or -1 with one line in err that names what
 * is wrong and where ("kubeconfig /x: context \"dev\" not found",
 * "kubeconfig /x: user \"u\": client-key-data is not valid base64", ...).
 */
#ifndef TAKT_KUBE_CONFIG_H
#define TAKT_KUBE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct kube_config;

/* Loads a kubeconfig file. path NULL: the first file of $KUBECONFIG
 * (colon-separated), else ~/.kube/config. context NULL: current-context.
 * Relative certificate/key/token file paths are resolved against the
 * kubeconfig file's directory, as kubectl does. */
int kube_config_load_file(const char *path, const char *context, struct kube_config **out,
			  char *err, size_t errlen);

/* Parses kubeconfig text already in memory. `origin` names it in errors and
 * is the directory base for relative paths (NULL: "kubeconfig", cwd). */
int kube_config_load_text(const char *text, size_t len, const char *origin, const char *context,
			  struct kube_config **out, char *err, size_t errlen);

/* The service account paths; NULL members take the defaults. For tests. */
struct kube_incluster_paths {
	const char *token;     /* /var/run/secrets/kubernetes.io/serviceaccount/token */
	const char *ca;	       /* .../ca.crt */
	const char *namespace; /* .../namespace */
};

/* In-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT with
 * the service account's token, CA and namespace. paths may be NULL. */
int kube_config_load_incluster(const struct kube_incluster_paths *paths, struct kube_config **out,
			       char *err, size_t errlen);

/* What the controller and the CLI call, in client-go's order: an explicit
 * path (or context) wins; else $KUBECONFIG; else in-cluster when
 * KUBERNETES_SERVICE_HOST is set; else ~/.kube/config. */
int kube_config_load_default(const char *path, const char *context, struct kube_config **out,
			     char *err, size_t errlen);

void kube_config_free(struct kube_config *c);

/* "https://host:port" without a trailing slash. */
const char *kube_config_server(const struct kube_config *c);
/* The context's namespace, else the service account's, else "default". */
const char *kube_config_namespace(const struct kube_config *c);
/* The context name ("in-cluster" for in-cluster configs). */
const char *kube_config_context(const struct kube_config *c);
/* PEM bytes, or NULL with *len 0 when absent (CA absent: the system's trust
 * store is used). */
const void *kube_config_ca(const struct kube_config *c, size_t *len);
const void *kube_config_client_cert(const struct kube_config *c, size_t *len);
const void *kube_config_client_key(const struct kube_config *c, size_t *len);
/* insecure-skip-tls-verify: true. Off unless the kubeconfig asks for it. */
int kube_config_insecure(const struct kube_config *c);

/* The bearer token, or NULL for none. When it comes from a file, the file is
 * checked (stat) and re-read if it changed or was read more than 60 s ago;
 * a failed re-read keeps the last good token (and logs a warning). */
const char *kube_config_token(struct kube_config *c);
/* Forces the token file to be re-read now. Returns 0, -1 on failure (the old
 * token is kept), or 0 when there is no token file. */
int kube_config_refresh_token(struct kube_config *c);

#endif
