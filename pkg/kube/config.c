#include "kube/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "kube/execcred.h"
#include "kube/yaml.h"
#include "base/errmsg.h"
#include "base/banned.h"

#define SA_DIR		"/var/run/secrets/kubernetes.io/serviceaccount"
#define MAX_FILE	(16u << 20)
#define TOKEN_REREAD_MS 60000
#define TOKEN_MAX	(1u << 20)
/* A plugin's token is renewed this long before it expires. */
#define EXEC_EXPIRY_MARGIN_MS 10000

struct blob {
	char *data;
	size_t len;
};

struct kube_config {
	char *server;
	char *ns;
	char *context;
	struct blob ca, cert, key;
	int insecure;
	char *token;
	char *token_file;
	int64_t token_read_ms;
	struct stat token_st;
	/* An exec credential plugin (execcred.h): run at load, and again when
	 * its token is about to expire. NULL when the user has none. */
	struct execcred_spec *exec;
	int64_t exec_expires_ms; /* Unix ms, EXECCRED_NO_EXPIRY: never */
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kube_config_free(struct kube_config *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->ns);
	free(c->context);
	/* Key material is wiped, not just freed. */
	if (c->key.data)
		explicit_bzero(c->key.data, c->key.len);
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	free(c->ca.data);
	free(c->cert.data);
	free(c->key.data);
	free(c->token);
	free(c->token_file);
	if (c->exec) {
		execcred_spec_release(c->exec);
		free(c->exec);
	}
	free(c);
}

/* Reads a whole file (NUL-terminated). Returns 0 or -errno. */
static int read_whole(const char *path, size_t max, char **out, size_t *len, struct stat *st_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	struct buf b;
	buf_init(&b, max);
	char chunk[8192];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			close(fd);
			buf_release(&b);
			return e;
		}
		if (n == 0)
			break;
		if (buf_add(&b, chunk, (size_t)n) < 0) {
			close(fd);
			buf_release(&b);
			return -EFBIG;
		}
	}
	close(fd);
	if (st_out)
		*st_out = st;
	*out = buf_detach(&b, len);
	return 0;
}

static const char *errno_text(int neg)
{
	return neg == -EFBIG ? "file too large" : strerror(-neg);
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64, whitespace ignored, padding optional. 0 or -1. */
static int b64_decode(const char *in, struct blob *out)
{
	size_t n = strlen(in);
	char *d = xmalloc(n / 4 * 3 + 4);
	size_t len = 0;
	unsigned acc = 0;
	int bits = 0, pad = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		int v = b64val(c);
		if (v < 0 || pad) {
			free(d);
			return -1;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			d[len++] = (char)((acc >> bits) & 0xff);
		}
	}
	/* Leftover bits must be zero padding of less than a byte. */
	if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0 || pad > 2) {
		free(d);
		return -1;
	}
	d[len] = '\0';
	out->data = d;
	out->len = len;
	return 0;
}

static char *resolve_path(const char *base_dir, const char *p)
{
	if (p[0] == '/' || !base_dir || !*base_dir)
		return xstrdup(p);
	struct buf b;
	buf_init(&b, BUF_UNLIMITED);
	buf_addf(&b, "%s/%s", base_dir, p);
	return buf_detach(&b, NULL);
}

static const char *jstr(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* Loads one piece of TLS material from `<what>-data` (base64) or `<what>`
 * (a file path). `owner` names it in errors ("cluster \"c\""). */
static int load_material(const char *origin, const char *owner, const cJSON *obj, const char *what,
			 const char *base_dir, struct blob *out, char *err, size_t errlen)
{
	char data_key[64];
	snprintf(data_key, sizeof(data_key), "%s-data", what);
	const char *data = jstr(obj, data_key);
	const char *file = jstr(obj, what);
	if (data) {
		if (b64_decode(data, out) < 0) {
			errmsg_set(err, errlen, "%s: %s: %s is not valid base64", origin, owner,
				   data_key);
			return -1;
		}
	} else if (file) {
		char *path = resolve_path(base_dir, file);
		int rc = read_whole(path, MAX_FILE, &out->data, &out->len, NULL);
		if (rc < 0) {
			errmsg_set(err, errlen, "%s: %s: %s %s: %s", origin, owner, what, path,
				   errno_text(rc));
			free(path);
			return -1;
		}
		free(path);
	} else {
		return 0;
	}
	if (!memmem(out->data, out->len, "-----BEGIN ", 11)) {
		errmsg_set(err, errlen, "%s: %s: %s does not hold PEM data", origin, owner,
			   data ? data_key : what);
		free(out->data);
		out->data = NULL;
		out->len = 0;
		return -1;
	}
	return 0;
}

static void trim_right(char *s)
{
	size_t n = strlen(s);
	while (n > 0 &&
	       (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

static int token_read(struct kube_config *c, char *err, size_t errlen)
{
	char *t;
	size_t len;
	struct stat st;
	int rc = read_whole(c->token_file, TOKEN_MAX, &t, &len, &st);
	if (rc < 0) {
		errmsg_set(err, errlen, "token file %s: %s", c->token_file, errno_text(rc));
		return -1;
	}
	if (strlen(t) != len) {
		errmsg_set(err, errlen, "token file %s: contains a NUL byte", c->token_file);
		free(t);
		return -1;
	}
	trim_right(t);
	if (!*t) {
		errmsg_set(err, errlen, "token file %s: empty", c->token_file);
		free(t);
		return -1;
	}
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	c->token = t;
	c->token_st = st;
	c->token_read_ms = mono_ms();
	return 0;
}

int kube_config_refresh_token(struct kube_config *c)
{
	if (!c->token_file)
		return 0;
	char err[512];
	if (token_read(c, err, sizeof(err)) < 0) {
		LOG_WARN("token re-read failed, keeping the last one", "err=\"%s\"", err);
		return -1;
	}
	return 0;
}

/* Runs the exec plugin and takes what it gives: a token, or (at load only:
 * TLS material is set up once per connection) a client certificate. */
static int exec_refresh(struct kube_config *c, bool at_load, char *err, size_t errlen)
{
	struct execcred cred;
	size_t ca_len = 0;
	const void *ca = kube_config_ca(c, &ca_len);
	int64_t t0 = mono_ms();
	int rc = execcred_run(c->exec, c->server, ca, ca_len, &cred, err, errlen);
	/* The caller's thread waited that long (the controller's loop, when
	 * it runs out of cluster with a plugin: see execcred.h). */
	LOG_DEBUG("exec credential plugin ran", "command=%s ms=%lld ok=%d", c->exec->command,
		  (long long)(mono_ms() - t0), rc == 0);
	if (rc < 0)
		return -1;
	if (cred.token) {
		if (c->token) {
			explicit_bzero(c->token, strlen(c->token));
			free(c->token);
		}
		c->token = cred.token;
		cred.token = NULL;
	} else if (at_load) {
		c->cert.data = cred.cert;
		c->cert.len = strlen(cred.cert);
		c->key.data = cred.key;
		c->key.len = strlen(cred.key);
		cred.cert = cred.key = NULL;
	}
	c->exec_expires_ms = cred.expires_ms;
	execcred_release(&cred);
	return 0;
}

static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *kube_config_token(struct kube_config *c)
{
	/* A token about to expire is replaced before a request carries it (as
	 * client-go does), with a margin for the request's own time. */
	if (c->exec && c->exec_expires_ms != EXECCRED_NO_EXPIRY &&
	    real_ms() >= c->exec_expires_ms - EXEC_EXPIRY_MARGIN_MS) {
		char err[512];
		if (exec_refresh(c, false, err, sizeof(err)) < 0) {
			LOG_WARN("exec credential not renewed, keeping the last one", "err=\"%s\"",
				 err);
			/* Not again on every request. */
			c->exec_expires_ms = real_ms() + EXEC_EXPIRY_MARGIN_MS + 5000;
		}
	}
	if (c->token_file) {
		struct stat st;
		bool changed =
		    stat(c->token_file, &st) == 0 &&
		    (st.st_ino != c->token_st.st_ino || st.st_dev != c->token_st.st_dev ||
		     st.st_size != c->token_st.st_size ||
		     st.st_mtim.tv_sec != c->token_st.st_mtim.tv_sec ||
		     st.st_mtim.tv_nsec != c->token_st.st_mtim.tv_nsec);
		if (changed || mono_ms() - c->token_read_ms >= TOKEN_REREAD_MS) {
			/* A failure must not retry on every request: the clock of the
			 * once-a-minute check restarts either way. */
			if (kube_config_refresh_token(c) < 0)
				c->token_read_ms = mono_ms();
		}
	}
	return c->token;
}

static const cJSON *find_named(const cJSON *list, const char *name, const char *member)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
	{
		const char *n = jstr(e, "name");
		if (n && strcmp(n, name) == 0) {
			const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, member);
			return cJSON_IsObject(m) ? m : NULL;
		}
	}
	return NULL;
}

static bool has_named(const cJSON *list, const char *name)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, list)
	{
		const char *n = jstr(e, "name");
		if (n && strcmp(n, name) == 0)
			return true;
	}
	return false;
}

static char *normalize_server(const char *s)
{
	struct buf b;
	buf_init(&b, BUF_UNLIMITED);
	/* kubectl takes a bare host:port as https. */
	if (!strstr(s, "://"))
		buf_adds(&b, "https://");
	buf_adds(&b, s);
	while (b.len > 0 && b.data[b.len - 1] == '/')
		b.data[--b.len] = '\0';
	return buf_detach(&b, NULL);
}

static int from_doc(const cJSON *doc, const char *origin, const char *base_dir, const char *context,
		    struct kube_config **out, char *err, size_t errlen)
{
	struct kube_config *c = xcalloc(1, sizeof(*c));
	char owner[300];
	if (!cJSON_IsObject(doc)) {
		errmsg_set(err, errlen, "%s: not a kubeconfig (the document is not a mapping)",
			   origin);
		goto fail;
	}
	const char *ctx_name = context && *context ? context : jstr(doc, "current-context");
	if (!ctx_name) {
		errmsg_set(err, errlen, "%s: no current-context is set and no context was given",
			   origin);
		goto fail;
	}
	const cJSON *ctx =
	    find_named(cJSON_GetObjectItemCaseSensitive(doc, "contexts"), ctx_name, "context");
	if (!ctx) {
		errmsg_set(err, errlen, "%s: context \"%s\" not found", origin, ctx_name);
		goto fail;
	}
	c->context = xstrdup(ctx_name);
	const char *cluster_name = jstr(ctx, "cluster");
	if (!cluster_name) {
		errmsg_set(err, errlen, "%s: context \"%s\" names no cluster", origin, ctx_name);
		goto fail;
	}
	const cJSON *cluster =
	    find_named(cJSON_GetObjectItemCaseSensitive(doc, "clusters"), cluster_name, "cluster");
	if (!cluster) {
		errmsg_set(err, errlen, "%s: context \"%s\": cluster \"%s\" not found", origin,
			   ctx_name, cluster_name);
		goto fail;
	}
	snprintf(owner, sizeof(owner), "cluster \"%s\"", cluster_name);
	const char *server = jstr(cluster, "server");
	if (!server) {
		errmsg_set(err, errlen, "%s: %s has no server", origin, owner);
		goto fail;
	}
	c->server = normalize_server(server);
	if (strncmp(c->server, "https://", 8) != 0 && strncmp(c->server, "http://", 7) != 0) {
		errmsg_set(err, errlen, "%s: %s: server \"%s\" is not an http(s) URL", origin,
			   owner, server);
		goto fail;
	}
	c->insecure =
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cluster, "insecure-skip-tls-verify"));
	if (load_material(origin, owner, cluster, "certificate-authority", base_dir, &c->ca, err,
			  errlen) < 0)
		goto fail;

	const char *user_name = jstr(ctx, "user");
	if (user_name) {
		const cJSON *users = cJSON_GetObjectItemCaseSensitive(doc, "users");
		/* A user listed without a `user:` body simply has no credentials. */
		const cJSON *user = find_named(users, user_name, "user");
		if (!user && !has_named(users, user_name)) {
			errmsg_set(err, errlen, "%s: context \"%s\": user \"%s\" not found", origin,
				   ctx_name, user_name);
			goto fail;
		}
		snprintf(owner, sizeof(owner), "user \"%s\"", user_name);
		if (user) {
			if (load_material(origin, owner, user, "client-certificate", base_dir,
					  &c->cert, err, errlen) < 0 ||
			    load_material(origin, owner, user, "client-key", base_dir, &c->key, err,
					  errlen) < 0)
				goto fail;
			if (!c->cert.data != !c->key.data) {
				errmsg_set(err, errlen, "%s: %s: %s without %s", origin, owner,
					   c->cert.data ? "client-certificate" : "client-key",
					   c->cert.data ? "client-key" : "client-certificate");
				goto fail;
			}
			const char *tok = jstr(user, "token");
			const char *tok_file = jstr(user, "tokenFile");
			if (tok)
				c->token = xstrdup(tok);
			if (tok_file) {
				c->token_file = resolve_path(base_dir, tok_file);
				char terr[400];
				if (token_read(c, terr, sizeof(terr)) < 0) {
					errmsg_set(err, errlen, "%s: %s: %s", origin, owner, terr);
					goto fail;
				}
			}
			const cJSON *exec = cJSON_GetObjectItemCaseSensitive(user, "exec");
			if (exec && !c->token && !c->cert.data) {
				char eerr[512];
				c->exec = xcalloc(1, sizeof(*c->exec));
				if (execcred_spec_parse(exec, base_dir, c->exec, eerr,
							sizeof(eerr)) < 0 ||
				    exec_refresh(c, true, eerr, sizeof(eerr)) < 0) {
					errmsg_set(err, errlen, "%s: %s: %s", origin, owner, eerr);
					goto fail;
				}
			}
			/* The legacy in-tree providers (gcp, azure, oidc) were removed
			 * from kubectl in 1.26; their replacements are exec plugins. */
			if (cJSON_GetObjectItemCaseSensitive(user, "auth-provider") && !c->token &&
			    !c->cert.data) {
				errmsg_set(err, errlen,
					   "%s: %s uses an auth-provider, which kubectl itself no "
					   "longer supports; use its exec plugin (e.g. "
					   "gke-gcloud-auth-plugin, kubelogin) instead",
					   origin, owner);
				goto fail;
			}
		}
	}
	const char *ns = jstr(ctx, "namespace");
	c->ns = xstrdup(ns ? ns : "default");
	*out = c;
	return 0;
fail:
	kube_config_free(c);
	*out = NULL;
	return -1;
}

int kube_config_load_text(const char *text, size_t len, const char *origin, const char *context,
			  struct kube_config **out, char *err, size_t errlen)
{
	cJSON *doc;
	struct kyaml_error yerr;
	const char *name = origin ? origin : "kubeconfig";
	*out = NULL;
	if (kyaml_parse_one(text, len, &doc, &yerr) < 0) {
		char where[300];
		kyaml_error_format(&yerr, where, sizeof(where));
		errmsg_set(err, errlen, "%s: %s", name, where);
		return -1;
	}
	char *dir = NULL;
	if (origin) {
		const char *slash = strrchr(origin, '/');
		if (slash)
			dir = xstrndup(origin, (size_t)(slash - origin) + (slash == origin));
	}
	int rc = from_doc(doc, name, dir, context, out, err, errlen);
	free(dir);
	cJSON_Delete(doc);
	return rc;
}

static char *default_path(char *err, size_t errlen)
{
	const char *kc = getenv("KUBECONFIG");
	if (kc && *kc) {
		const char *colon = strchr(kc, ':');
		size_t n = colon ? (size_t)(colon - kc) : strlen(kc);
		if (n > 0)
			return xstrndup(kc, n);
	}
	const char *home = getenv("HOME");
	if (!home || !*home) {
		errmsg_set(err, errlen, "no kubeconfig: KUBECONFIG and HOME are both unset");
		return NULL;
	}
	struct buf b;
	buf_init(&b, BUF_UNLIMITED);
	buf_addf(&b, "%s/.kube/config", home);
	return buf_detach(&b, NULL);
}

int kube_config_load_file(const char *path, const char *context, struct kube_config **out,
			  char *err, size_t errlen)
{
	char *p = path ? xstrdup(path) : default_path(err, errlen);
	*out = NULL;
	if (!p)
		return -1;
	char *text;
	size_t len;
	int rc = read_whole(p, MAX_FILE, &text, &len, NULL);
	if (rc < 0) {
		errmsg_set(err, errlen, "kubeconfig %s: %s", p, errno_text(rc));
		free(p);
		return -1;
	}
	struct buf origin;
	buf_init(&origin, BUF_UNLIMITED);
	buf_addf(&origin, "kubeconfig %s", p);
	/* Relative paths resolve against the file's directory; "kubeconfig "
	 * must not become part of that directory, so resolve it here. */
	cJSON *doc;
	struct kyaml_error yerr;
	if (kyaml_parse_one(text, len, &doc, &yerr) < 0) {
		char where[300];
		kyaml_error_format(&yerr, where, sizeof(where));
		errmsg_set(err, errlen, "%s: %s", buf_str(&origin), where);
		rc = -1;
	} else {
		const char *slash = strrchr(p, '/');
		char *dir = slash ? xstrndup(p, (size_t)(slash - p) + (slash == p)) : NULL;
		rc = from_doc(doc, buf_str(&origin), dir, context, out, err, errlen);
		free(dir);
		cJSON_Delete(doc);
	}
	buf_release(&origin);
	free(text);
	free(p);
	return rc;
}

int kube_config_load_incluster(const struct kube_incluster_paths *paths, struct kube_config **out,
			       char *err, size_t errlen)
{
	const char *token = paths && paths->token ? paths->token : SA_DIR "/token";
	const char *ca = paths && paths->ca ? paths->ca : SA_DIR "/ca.crt";
	const char *nsf = paths && paths->namespace ? paths->namespace : SA_DIR "/namespace";
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	*out = NULL;
	if (!host || !*host || !port || !*port) {
		errmsg_set(err, errlen,
			   "not in a cluster: KUBERNETES_SERVICE_HOST and "
			   "KUBERNETES_SERVICE_PORT must both be set");
		return -1;
	}
	struct kube_config *c = xcalloc(1, sizeof(*c));
	struct buf b;
	buf_init(&b, BUF_UNLIMITED);
	/* An IPv6 service address needs brackets in a URL. */
	if (strchr(host, ':') && host[0] != '[')
		buf_addf(&b, "https://[%s]:%s", host, port);
	else
		buf_addf(&b, "https://%s:%s", host, port);
	c->server = buf_detach(&b, NULL);
	c->context = xstrdup("in-cluster");
	c->token_file = xstrdup(token);
	char terr[400];
	if (token_read(c, terr, sizeof(terr)) < 0) {
		errmsg_set(err, errlen, "in-cluster: service account %s", terr);
		goto fail;
	}
	int rc = read_whole(ca, MAX_FILE, &c->ca.data, &c->ca.len, NULL);
	if (rc < 0) {
		errmsg_set(err, errlen, "in-cluster: service account CA %s: %s", ca,
			   errno_text(rc));
		goto fail;
	}
	if (!memmem(c->ca.data, c->ca.len, "-----BEGIN ", 11)) {
		errmsg_set(err, errlen, "in-cluster: service account CA %s does not hold PEM data",
			   ca);
		goto fail;
	}
	char *ns = NULL;
	size_t nslen;
	if (read_whole(nsf, 4096, &ns, &nslen, NULL) == 0) {
		trim_right(ns);
		if (!*ns) {
			free(ns);
			ns = NULL;
		}
	}
	c->ns = ns ? ns : xstrdup("default");
	*out = c;
	return 0;
fail:
	kube_config_free(c);
	return -1;
}

int kube_config_load_default(const char *path, const char *context, struct kube_config **out,
			     char *err, size_t errlen)
{
	if (path && *path)
		return kube_config_load_file(path, context, out, err, errlen);
	const char *kc = getenv("KUBECONFIG");
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	if ((!kc || !*kc) && host && *host && !(context && *context))
		return kube_config_load_incluster(NULL, out, err, errlen);
	return kube_config_load_file(NULL, context, out, err, errlen);
}

const char *kube_config_server(const struct kube_config *c)
{
	return c->server;
}

const char *kube_config_namespace(const struct kube_config *c)
{
	return c->ns;
}

const char *kube_config_context(const struct kube_config *c)
{
	return c->context;
}

static const void *blob_get(const struct blob *b, size_t *len)
{
	if (len)
		*len = b->data ? b->len : 0;
	return b->data;
}

const void *kube_config_ca(const struct kube_config *c, size_t *len)
{
	return blob_get(&c->ca, len);
}

const void *kube_config_client_cert(const struct kube_config *c, size_t *len)
{
	return blob_get(&c->cert, len);
}

const void *kube_config_client_key(const struct kube_config *c, size_t *len)
{
	return blob_get(&c->key, len);
}

int kube_config_insecure(const struct kube_config *c)
{
	return c->insecure;
}
