/* Exec credential plugins; see execcred.h. */
#include "kube/execcred.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "base/errmsg.h"
#include "base/xalloc.h"
#include "tz/civil.h"

#include "base/banned.h"

extern char **environ;

#define API_V1	    "client.authentication.k8s.io/v1"
#define API_V1BETA1 "client.authentication.k8s.io/v1beta1"

static const char *str_of(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int execcred_spec_parse(const cJSON *exec, const char *base_dir, struct execcred_spec *out,
			char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const char *api = str_of(exec, "apiVersion");
	const char *cmd = str_of(exec, "command");
	if (!cJSON_IsObject(exec) || !cmd || !*cmd) {
		errmsg_set(err, errlen, "exec: command is required");
		return -1;
	}
	/* kubectl requires it; the two versions it speaks are the ones takt
	 * speaks (v1alpha1 was removed in Kubernetes 1.24). */
	if (!api || (strcmp(api, API_V1) && strcmp(api, API_V1BETA1))) {
		errmsg_set(err, errlen, "exec: apiVersion %s%s%s is not supported (use %s or %s)",
			   api ? "\"" : "", api ? api : "missing", api ? "\"" : "", API_V1,
			   API_V1BETA1);
		return -1;
	}
	out->api_version = xstrdup(api);
	if (strchr(cmd, '/') && cmd[0] != '/' && base_dir) {
		struct buf p;
		buf_init(&p, BUF_UNLIMITED);
		buf_addf(&p, "%s/%s", base_dir, cmd);
		out->command = buf_detach(&p, NULL);
	} else {
		out->command = xstrdup(cmd);
	}
	const cJSON *it;
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(exec, "args");
	out->args = xcalloc((size_t)cJSON_GetArraySize(args) + 1, sizeof(char *));
	cJSON_ArrayForEach(it, args)
	{
		if (!cJSON_IsString(it)) {
			errmsg_set(err, errlen, "exec: args must be strings");
			goto fail;
		}
		out->args[out->n_args++] = xstrdup(it->valuestring);
	}
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(exec, "env");
	out->env = xcalloc((size_t)cJSON_GetArraySize(env) + 1, sizeof(char *));
	cJSON_ArrayForEach(it, env)
	{
		const char *name = str_of(it, "name"), *value = str_of(it, "value");
		if (!name || !*name || strchr(name, '=') || !value) {
			errmsg_set(err, errlen,
				   "exec: env entries need a name (without '=') and a value");
			goto fail;
		}
		struct buf kv;
		buf_init(&kv, BUF_UNLIMITED);
		buf_addf(&kv, "%s=%s", name, value);
		out->env[out->n_env++] = buf_detach(&kv, NULL);
	}
	out->provide_cluster_info =
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(exec, "provideClusterInfo"));
	const char *hint = str_of(exec, "installHint");
	out->install_hint = hint && *hint ? xstrdup(hint) : NULL;
	return 0;
fail:
	execcred_spec_release(out);
	return -1;
}

void execcred_spec_release(struct execcred_spec *s)
{
	free(s->api_version);
	free(s->command);
	strv_free(s->args, s->n_args);
	strv_free(s->env, s->n_env);
	free(s->install_hint);
	memset(s, 0, sizeof(*s));
}

int execcred_parse_output(const char *text, size_t len, const char *api_version,
			  struct execcred *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->expires_ms = EXECCRED_NO_EXPIRY;
	cJSON *doc = cJSON_ParseWithLength(text, len);
	int rc = -1;
	if (!cJSON_IsObject(doc)) {
		errmsg_set(err, errlen, "its output is not JSON");
		goto done;
	}
	const char *kind = str_of(doc, "kind"), *api = str_of(doc, "apiVersion");
	if (!kind || strcmp(kind, "ExecCredential")) {
		errmsg_set(err, errlen, "its output is not an ExecCredential (kind %s)",
			   kind ? kind : "missing");
		goto done;
	}
	if (!api || strcmp(api, api_version)) {
		errmsg_set(err, errlen, "it answered apiVersion %s, the kubeconfig asks for %s",
			   api ? api : "(missing)", api_version);
		goto done;
	}
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "status");
	const char *token = str_of(st, "token");
	const char *cert = str_of(st, "clientCertificateData");
	const char *key = str_of(st, "clientKeyData");
	if (!cert != !key) {
		errmsg_set(err, errlen, "status.%s without status.%s",
			   cert ? "clientCertificateData" : "clientKeyData",
			   cert ? "clientKeyData" : "clientCertificateData");
		goto done;
	}
	if (!(token && *token) && !(cert && *cert)) {
		errmsg_set(err, errlen, "status has neither a token nor a client certificate");
		goto done;
	}
	const char *exp = str_of(st, "expirationTimestamp");
	if (exp && rfc3339_parse(exp, &out->expires_ms)) {
		errmsg_set(err, errlen, "status.expirationTimestamp \"%.64s\" is not RFC 3339",
			   exp);
		goto done;
	}
	out->token = token && *token ? xstrdup(token) : NULL;
	out->cert = cert ? xstrdup(cert) : NULL;
	out->key = key ? xstrdup(key) : NULL;
	rc = 0;
done:
	/* The document held the secret too. */
	if (doc) {
		char *t = (char *)str_of(cJSON_GetObjectItemCaseSensitive(doc, "status"), "token");
		char *k = (char *)str_of(cJSON_GetObjectItemCaseSensitive(doc, "status"),
					 "clientKeyData");
		if (t)
			explicit_bzero(t, strlen(t));
		if (k)
			explicit_bzero(k, strlen(k));
	}
	cJSON_Delete(doc);
	return rc;
}

/* Whether exec.env sets the variable of "NAME=value" entry e. */
static bool env_overridden(const struct execcred_spec *s, const char *e)
{
	const char *eq = strchr(e, '=');
	size_t n = eq ? (size_t)(eq - e) : strlen(e);
	for (size_t i = 0; i < s->n_env; i++)
		if (!strncmp(s->env[i], e, n) && s->env[i][n] == '=')
			return true;
	return false;
}

/* KUBERNETES_EXEC_INFO: what kubectl tells a plugin about the session. */
static char *exec_info(const struct execcred_spec *s, const char *server, const void *ca,
		       size_t ca_len)
{
	cJSON *info = cJSON_CreateObject();
	cJSON_AddStringToObject(info, "apiVersion", s->api_version);
	cJSON_AddStringToObject(info, "kind", "ExecCredential");
	cJSON *spec = cJSON_AddObjectToObject(info, "spec");
	cJSON_AddBoolToObject(spec, "interactive", 0);
	if (s->provide_cluster_info) {
		cJSON *cl = cJSON_AddObjectToObject(spec, "cluster");
		cJSON_AddStringToObject(cl, "server", server ? server : "");
		if (ca && ca_len) {
			char *b64 = xmalloc(4 * ((ca_len + 2) / 3) + 1);
			EVP_EncodeBlock((unsigned char *)b64, ca, (int)ca_len);
			cJSON_AddStringToObject(cl, "certificate-authority-data", b64);
			free(b64);
		}
	}
	char *text = cJSON_PrintUnformatted(info);
	cJSON_Delete(info);
	if (!text)
		abort(); /* cJSON allocates with malloc: out of memory */
	return text;
}

/* The program to run: a command with a '/' as it is, a bare name from
 * PATH (as execvp would). NULL when there is none that may be executed.
 * Decided here, not by posix_spawnp's error: where exec failures are not
 * reported back (valgrind, some libcs) the child would just exit 127. */
static char *resolve_command(const char *cmd)
{
	if (strchr(cmd, '/'))
		return access(cmd, X_OK) == 0 ? xstrdup(cmd) : NULL;
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		/* Only absolute entries: an empty or relative one would run a
		 * program of the working directory (a cloned repository's
		 * "aws") with the user's credentials in its environment; Go's
		 * LookPath refuses those too (ErrDot). */
		if (n && path[0] == '/') {
			struct buf p;
			struct stat st;
			buf_init(&p, BUF_UNLIMITED);
			buf_addf(&p, "%.*s/%s", (int)n, path, cmd);
			if (stat(buf_str(&p), &st) == 0 && S_ISREG(st.st_mode) &&
			    access(buf_str(&p), X_OK) == 0)
				return buf_detach(&p, NULL);
			buf_release(&p);
		}
		path += n + (end ? 1 : 0);
	}
	return NULL;
}

/* Plugins may be forbidden to run in this process: the kubeconfig fuzzer
 * must never execute what its input names. */
static bool runs_forbidden;

void execcred_forbid_runs(void)
{
	runs_forbidden = true;
}

static int64_t now_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the child's stdout until EOF, the cap or the deadline. 0, -EFBIG,
 * -ETIMEDOUT or -errno. */
static int read_all(int fd, struct buf *out, int64_t deadline)
{
	char chunk[4096];
	for (;;) {
		int64_t left = deadline - now_mono_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return 0;
		if (out->len + (size_t)r > EXECCRED_OUTPUT_MAX)
			return -EFBIG;
		buf_add(out, chunk, (size_t)r);
	}
}

int execcred_run(const struct execcred_spec *s, const char *server, const void *ca, size_t ca_len,
		 struct execcred *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (runs_forbidden) {
		errmsg_set(err, errlen, "exec plugin %s: plugins may not run in this process",
			   s->command);
		return -1;
	}
	char *prog = resolve_command(s->command);
	if (!prog) {
		errmsg_set(err, errlen, "exec plugin %s: not found%s%s", s->command,
			   s->install_hint ? ": " : "", s->install_hint ? s->install_hint : "");
		return -1;
	}
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		errmsg_set(err, errlen, "exec plugin %s: pipe: %s", s->command, strerror(errno));
		free(prog);
		return -1;
	}
	/* The environment: ours less every name exec.env or the exec info
	 * sets, then those (kubectl's dedupEnv): a name given twice would be
	 * read from its first entry by glibc's getenv and by Go, the language
	 * of nearly every plugin, so the kubeconfig's value must be the only
	 * one. */
	size_t n_env = 0;
	while (environ && environ[n_env])
		n_env++;
	char **envp = xcalloc(n_env + s->n_env + 2, sizeof(char *));
	size_t k = 0;
	for (size_t i = 0; i < n_env; i++)
		if (strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) &&
		    !env_overridden(s, environ[i]))
			envp[k++] = environ[i];
	for (size_t i = 0; i < s->n_env; i++)
		envp[k++] = s->env[i];
	char *info = exec_info(s, server, ca, ca_len);
	struct buf info_kv;
	buf_init(&info_kv, BUF_UNLIMITED);
	buf_addf(&info_kv, "KUBERNETES_EXEC_INFO=%s", info);
	free(info);
	envp[k++] = (char *)buf_str(&info_kv);
	char **argv = xcalloc(s->n_args + 2, sizeof(char *));
	argv[0] = s->command;
	for (size_t i = 0; i < s->n_args; i++)
		argv[i + 1] = s->args[i];

	/* The loop blocks the signals it takes through a signalfd; the plugin
	 * must get them as any program does (Ctrl-C ends a hung plugin). */
	posix_spawnattr_t attr;
	sigset_t none, deflt;
	sigemptyset(&none);
	sigemptyset(&deflt);
	sigaddset(&deflt, SIGINT);
	sigaddset(&deflt, SIGTERM);
	sigaddset(&deflt, SIGPIPE);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &deflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	pid_t pid;
	int src = posix_spawn(&pid, prog, &fa, &attr, argv, envp);
	free(prog);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	free(argv);
	free(envp);
	buf_release(&info_kv);
	if (src != 0) {
		close(pipefd[0]);
		errmsg_set(err, errlen, "exec plugin %s: %s", s->command, strerror(src));
		return -1;
	}
	struct buf text;
	buf_init(&text, BUF_UNLIMITED);
	int64_t deadline = now_mono_ms() + EXECCRED_TIMEOUT_MS;
	int rrc = read_all(pipefd[0], &text, deadline);
	close(pipefd[0]);
	if (rrc < 0)
		kill(pid, SIGKILL); /* timed out or too long: it gets no more time */
	/* Its output is complete; its exit is waited for within the same
	 * deadline (a plugin that closes stdout and hangs is killed). */
	int status = 0;
	for (;;) {
		pid_t w = waitpid(pid, &status, rrc < 0 ? 0 : WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (w == 0 && now_mono_ms() >= deadline) {
			kill(pid, SIGKILL);
			rrc = -ETIMEDOUT;
		} else if (w == 0) {
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	int rc = -1;
	char why[256];
	if (rrc == -ETIMEDOUT) {
		errmsg_set(err, errlen, "exec plugin %s: no answer within %d s", s->command,
			   EXECCRED_TIMEOUT_MS / 1000);
	} else if (rrc == -EFBIG) {
		errmsg_set(err, errlen, "exec plugin %s: output longer than %u bytes", s->command,
			   EXECCRED_OUTPUT_MAX);
	} else if (rrc < 0) {
		errmsg_set(err, errlen, "exec plugin %s: reading its output: %s", s->command,
			   strerror(-rrc));
	} else if (WIFSIGNALED(status)) {
		errmsg_set(err, errlen, "exec plugin %s: killed by signal %d", s->command,
			   WTERMSIG(status));
	} else if (WEXITSTATUS(status) != 0) {
		errmsg_set(err, errlen, "exec plugin %s: exit status %d", s->command,
			   WEXITSTATUS(status));
	} else if (execcred_parse_output(buf_str(&text), text.len, s->api_version, out, why,
					 sizeof(why)) < 0) {
		errmsg_set(err, errlen, "exec plugin %s: %s", s->command, why);
	} else {
		rc = 0;
	}
	if (text.data)
		explicit_bzero(text.data, text.len);
	buf_release(&text);
	return rc;
}

void execcred_release(struct execcred *c)
{
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	if (c->key)
		explicit_bzero(c->key, strlen(c->key));
	free(c->token);
	free(c->cert);
	free(c->key);
	memset(c, 0, sizeof(*c));
}
