/* Unit tests for pkg/kube/execcred: exec credential plugins run for real
 * (small shell scripts written to a temp dir), their output parsed, and
 * every failure named; and pkg/kube/config using one, renewing an expired
 * token. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube/config.h"
#include "kube/execcred.h"

#define V1	"client.authentication.k8s.io/v1"
#define V1BETA1 "client.authentication.k8s.io/v1beta1"

struct dir {
	char path[64];
};

static int setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));
	snprintf(d->path, sizeof(d->path), "/tmp/takt-execcred.XXXXXX");
	assert_non_null(mkdtemp(d->path));
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->path);
	assert_int_equal(system(cmd), 0);
	free(d);
	return 0;
}

/* Writes an executable script `name` in the dir. */
static void script(const struct dir *d, const char *name, const char *body)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", d->path, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static cJSON *exec_of(const char *json)
{
	cJSON *e = cJSON_Parse(json);
	assert_non_null(e);
	return e;
}

static int run(const struct dir *d, const char *exec_json, struct execcred *out, char *err,
	       size_t n)
{
	struct execcred_spec sp;
	cJSON *e = exec_of(exec_json);
	int rc = execcred_spec_parse(e, d->path, &sp, err, n);
	cJSON_Delete(e);
	if (rc < 0)
		return rc;
	rc = execcred_run(&sp, "https://h:1", "PEM", 3, out, err, n);
	execcred_spec_release(&sp);
	return rc;
}

static void test_token_with_args_env_and_exec_info(void **state)
{
	struct dir *d = *state;
	/* The script proves what it was given by echoing it into the token. */
	script(d, "plug",
	       "case \"$KUBERNETES_EXEC_INFO\" in\n"
	       "*'\"interactive\":false'*'\"server\":\"https://h:1\"'*'UEVN'*) info=ok;;\n"
	       "*) info=bad;;\nesac\n"
	       "printf '{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":"
	       "{\"token\":\"t-%s-%s-%s\"}}' \"$1\" \"$TAKT_X\" \"$info\"\n");
	struct execcred c;
	char err[512] = "";
	int rc =
	    run(d,
		"{\"apiVersion\":\"" V1 "\",\"command\":\"./plug\",\"args\":[\"a1\"],"
		"\"env\":[{\"name\":\"TAKT_X\",\"value\":\"e1\"}],\"provideClusterInfo\":true}",
		&c, err, sizeof(err));
	if (rc)
		fail_msg("%s", err);
	assert_string_equal(c.token, "t-a1-e1-ok");
	assert_null(c.cert);
	assert_true(c.expires_ms == EXECCRED_NO_EXPIRY);
	execcred_release(&c);
}

static void test_v1beta1_certificate_and_expiry(void **state)
{
	struct dir *d = *state;
	script(d, "plug",
	       "printf '{\"apiVersion\":\"" V1BETA1 "\",\"kind\":\"ExecCredential\",\"status\":"
	       "{\"clientCertificateData\":\"CERT\",\"clientKeyData\":\"KEY\","
	       "\"expirationTimestamp\":\"2030-01-02T03:04:05Z\"}}'\n");
	struct execcred c;
	char err[512] = "";
	assert_int_equal(
	    run(d, "{\"apiVersion\":\"" V1BETA1 "\",\"command\":\"./plug\"}", &c, err, sizeof(err)),
	    0);
	assert_null(c.token);
	assert_string_equal(c.cert, "CERT");
	assert_string_equal(c.key, "KEY");
	assert_true(c.expires_ms == 1893553445000LL);
	execcred_release(&c);
}

static void expect_fail(const struct dir *d, const char *exec_json, const char *want)
{
	struct execcred c;
	char err[512] = "";
	assert_int_equal(run(d, exec_json, &c, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void test_failures_named(void **state)
{
	struct dir *d = *state;
	script(d, "exit3", "echo 'sso session expired' >&2\nexit 3\n");
	script(d, "notjson", "echo hello\n");
	script(d, "wrongkind", "echo '{\"kind\":\"Secret\"}'\n");
	script(d, "wrongapi",
	       "echo '{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1BETA1
	       "\",\"status\":{\"token\":\"t\"}}'\n");
	script(d, "empty",
	       "echo '{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1 "\",\"status\":{}}'\n");
	script(d, "halfcert",
	       "echo '{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1
	       "\",\"status\":{\"clientKeyData\":\"K\"}}'\n");
	script(d, "badtime",
	       "echo '{\"kind\":\"ExecCredential\",\"apiVersion\":\"" V1
	       "\",\"status\":{\"token\":\"t\",\"expirationTimestamp\":\"soon\"}}'\n");
	script(d, "killed", "kill -9 $$\n");
#define E(cmd) "{\"apiVersion\":\"" V1 "\",\"command\":\"./" cmd "\"}"
	expect_fail(d, E("exit3"),
		    "exec plugin "
		    "/tmp/");
	expect_fail(d, E("exit3"), "exit3: exit status 3");
	expect_fail(d, E("notjson"), "notjson: its output is not JSON");
	expect_fail(d, E("wrongkind"), "not an ExecCredential (kind Secret)");
	expect_fail(d, E("wrongapi"),
		    "it answered apiVersion " V1BETA1 ", the kubeconfig asks for " V1);
	expect_fail(d, E("empty"), "status has neither a token nor a client certificate");
	expect_fail(d, E("halfcert"), "status.clientKeyData without status.clientCertificateData");
	expect_fail(d, E("badtime"), "expirationTimestamp \"soon\" is not RFC 3339");
	expect_fail(d, E("killed"), "killed by signal 9");
	expect_fail(d, E("missing"), "missing: not found");
#undef E
	expect_fail(d,
		    "{\"apiVersion\":\"" V1 "\",\"command\":\"takt-no-such-plugin\","
		    "\"installHint\":\"brew install it\"}",
		    "exec plugin takt-no-such-plugin: not found: brew install it");
	expect_fail(d,
		    "{\"apiVersion\":\"client.authentication.k8s.io/v1alpha1\",\"command\":\"x\"}",
		    "apiVersion \"client.authentication.k8s.io/v1alpha1\" is not supported");
	expect_fail(d, "{\"apiVersion\":\"" V1 "\"}", "exec: command is required");
	expect_fail(d,
		    "{\"apiVersion\":\"" V1 "\",\"command\":\"x\",\"env\":[{\"name\":\"A=B\","
		    "\"value\":\"c\"}]}",
		    "env entries need a name");
}

/* A kubeconfig whose user has an exec plugin: the token comes from it, and
 * an expired one is renewed before the next request carries it. */
static void test_config_uses_plugin_and_renews(void **state)
{
	struct dir *d = *state;
	/* Each run hands out the next token; the first is already expired. */
	char body[1024];
	snprintf(body, sizeof(body),
		 "n=$(cat %s/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s/count\n"
		 "if [ $n = 1 ]; then exp=2000-01-01T00:00:00Z; else exp=2100-01-01T00:00:00Z; fi\n"
		 "printf '{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":"
		 "{\"token\":\"tok-%%s\",\"expirationTimestamp\":\"%%s\"}}' $n $exp\n",
		 d->path, d->path);
	script(d, "plug", body);
	char kc[1024];
	snprintf(kc, sizeof(kc),
		 "clusters:\n- name: c\n  cluster: {server: https://h:1}\n"
		 "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
		 "users:\n- name: u\n  user:\n    exec:\n      apiVersion: " V1 "\n"
		 "      command: %s/plug\n",
		 d->path);
	struct kube_config *c;
	char err[512] = "";
	if (kube_config_load_text(kc, strlen(kc), NULL, "x", &c, err, sizeof(err)))
		fail_msg("%s", err);
	/* Loaded with tok-1, expired: renewed on first use. */
	assert_string_equal(kube_config_token(c), "tok-2");
	/* Valid until 2100: not run again. */
	assert_string_equal(kube_config_token(c), "tok-2");
	kube_config_free(c);
}

/* exec.env wins: the variable appears once, with the kubeconfig's value
 * (glibc's getenv and Go read the first of duplicates); the plugin starts
 * with no signal blocked although the caller blocks some (the loop does,
 * for its signalfd). */
static void test_env_override_and_signals(void **state)
{
	struct dir *d = *state;
	script(d, "plug",
	       "n=$(env | grep -c '^TAKT_X=')\n"
	       "blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' /proc/self/status)\n"
	       "printf '{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":"
	       "{\"token\":\"%s-%s-%s\"}}' \"$n\" \"$TAKT_X\" \"$blk\"\n");
	setenv("TAKT_X", "process", 1);
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	struct execcred c;
	char err[512] = "";
	int rc = run(d,
		     "{\"apiVersion\":\"" V1 "\",\"command\":\"./plug\","
		     "\"env\":[{\"name\":\"TAKT_X\",\"value\":\"kubeconfig\"}]}",
		     &c, err, sizeof(err));
	sigprocmask(SIG_SETMASK, &old, NULL);
	unsetenv("TAKT_X");
	if (rc)
		fail_msg("%s", err);
	assert_string_equal(c.token, "1-kubeconfig-0000000000000000");
	execcred_release(&c);
}

/* A bare command is looked up in the absolute PATH entries only: an empty
 * entry (a trailing ':') must not run a program of the working directory. */
static void test_path_never_the_working_directory(void **state)
{
	struct dir *d = *state;
	script(d, "takt-cwd-plugin", "echo '{}'\n");
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	char *path = strdup(getenv("PATH") ? getenv("PATH") : "");
	assert_int_equal(chdir(d->path), 0);
	setenv("PATH", "/usr/bin:", 1);
	struct execcred c;
	char err[512] = "";
	struct execcred_spec sp;
	cJSON *e = exec_of("{\"apiVersion\":\"" V1 "\",\"command\":\"takt-cwd-plugin\"}");
	assert_int_equal(execcred_spec_parse(e, NULL, &sp, err, sizeof(err)), 0);
	cJSON_Delete(e);
	int rc = execcred_run(&sp, "https://h:1", NULL, 0, &c, err, sizeof(err));
	execcred_spec_release(&sp);
	assert_int_equal(chdir(cwd), 0);
	setenv("PATH", path, 1);
	free(path);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "takt-cwd-plugin: not found"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_token_with_args_env_and_exec_info, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_v1beta1_certificate_and_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failures_named, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_uses_plugin_and_renews, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_env_override_and_signals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_path_never_the_working_directory, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
