/* Unit tests for pkg/kube/config: kubeconfig files (fixtures in
 * tests/unit/fixtures/kube/), in-cluster service accounts, token rotation,
 * and errors that name what is wrong. Run from the repository root. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube/config.h"

#define FIX "tests/unit/fixtures/kube"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *d = malloc(1 << 16);
	size_t n = fread(d, 1, (1 << 16) - 1, f);
	fclose(f);
	d[n] = '\0';
	if (len)
		*len = n;
	return d;
}

static void spit(const char *path, const char *text)
{
	/* Written aside and renamed, as kubelet swaps projected tokens. */
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

static void assert_blob_is_file(const void *blob, size_t len, const char *path)
{
	size_t flen;
	char *want = slurp(path, &flen);
	assert_non_null(blob);
	assert_int_equal(len, flen);
	assert_memory_equal(blob, want, flen);
	free(want);
}

static void test_inline_current_context(void **state)
{
	struct kube_config *c;
	char err[512] = "";
	assert_int_equal(
	    kube_config_load_file(FIX "/kubeconfig-inline.yaml", NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(kube_config_context(c), "dev");
	assert_string_equal(kube_config_server(c), "https://127.0.0.1:6443");
	assert_string_equal(kube_config_namespace(c), "team-a");
	size_t len;
	const void *ca = kube_config_ca(c, &len);
	assert_blob_is_file(ca, len, FIX "/ca.pem");
	const void *cert = kube_config_client_cert(c, &len);
	assert_blob_is_file(cert, len, FIX "/client.pem");
	const void *key = kube_config_client_key(c, &len);
	assert_blob_is_file(key, len, FIX "/client-key.pem");
	assert_null(kube_config_token(c));
	assert_int_equal(kube_config_insecure(c), 0);
	kube_config_free(c);
}

static void test_explicit_context_token_insecure(void **state)
{
	struct kube_config *c;
	char err[512] = "";
	assert_int_equal(
	    kube_config_load_file(FIX "/kubeconfig-inline.yaml", "prod", &c, err, sizeof(err)), 0);
	assert_string_equal(kube_config_context(c), "prod");
	/* A bare host:port is https, as kubectl reads it. */
	assert_string_equal(kube_config_server(c), "https://prod.example.com:443");
	assert_string_equal(kube_config_namespace(c), "default");
	assert_string_equal(kube_config_token(c), "inline-token-abc");
	assert_int_equal(kube_config_insecure(c), 1);
	size_t len = 99;
	assert_null(kube_config_ca(c, &len));
	assert_int_equal(len, 0);
	kube_config_free(c);
}

static void test_relative_files_and_token_file(void **state)
{
	struct kube_config *c;
	char err[512] = "";
	int rc = kube_config_load_file(FIX "/kubeconfig-files.yaml", NULL, &c, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s\n", err);
	assert_int_equal(rc, 0);
	size_t len;
	const void *ca = kube_config_ca(c, &len);
	assert_blob_is_file(ca, len, FIX "/ca.pem");
	const void *key = kube_config_client_key(c, &len);
	assert_blob_is_file(key, len, FIX "/client-key.pem");
	assert_string_equal(kube_config_token(c), "file-token-1");
	kube_config_free(c);
}

static void test_kubeconfig_env_first_file(void **state)
{
	struct kube_config *c;
	char err[512] = "";
	setenv("KUBECONFIG", FIX "/kubeconfig-inline.yaml:/nonexistent/other", 1);
	assert_int_equal(kube_config_load_file(NULL, "prod", &c, err, sizeof(err)), 0);
	assert_string_equal(kube_config_context(c), "prod");
	kube_config_free(c);
	/* load_default: KUBECONFIG wins over in-cluster. */
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_load_default(NULL, NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(kube_config_context(c), "dev");
	kube_config_free(c);
	/* Without KUBECONFIG, in-cluster comes before ~/.kube/config; the
	 * default service account paths do not exist here. */
	unsetenv("KUBECONFIG");
	assert_int_equal(kube_config_load_default(NULL, NULL, &c, err, sizeof(err)), -1);
	assert_null(c);
	assert_non_null(strstr(err, "in-cluster"));
	assert_non_null(strstr(err, "/var/run/secrets/kubernetes.io/serviceaccount/token"));
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	/* Nothing at all: the error names the file it looked for. */
	setenv("HOME", "/nonexistent-home", 1);
	assert_int_equal(kube_config_load_default(NULL, NULL, &c, err, sizeof(err)), -1);
	assert_string_equal(err, "kubeconfig /nonexistent-home/.kube/config: No such file or "
				 "directory");
}

/* Loads `text` and expects failure with `want` somewhere in the message. */
static void expect_error(const char *text, const char *context, const char *want)
{
	struct kube_config *c = (struct kube_config *)1;
	char err[512] = "";
	assert_int_equal(kube_config_load_text(text, strlen(text), FIX "/mem.yaml", context, &c,
					       err, sizeof(err)),
			 -1);
	assert_null(c);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

#define CLUSTERS "clusters:\n- name: c\n  cluster: {server: https://h:1}\n"
#define CONTEXTS "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"

static void test_errors_name_what_is_wrong(void **state)
{
	expect_error("a: [1,\n", NULL, FIX "/mem.yaml: line 2");
	expect_error("- 1\n- 2\n", NULL, "not a kubeconfig");
	expect_error(CLUSTERS CONTEXTS, NULL, "no current-context is set and no context");
	expect_error(CLUSTERS CONTEXTS "current-context: y\n", NULL, "context \"y\" not found");
	expect_error(CLUSTERS CONTEXTS, "nope", "context \"nope\" not found");
	expect_error("contexts:\n- name: x\n  context: {cluster: zz}\n", "x",
		     "context \"x\": cluster \"zz\" not found");
	expect_error("clusters:\n- name: c\n  cluster: {}\n" CONTEXTS, "x",
		     "cluster \"c\" has no server");
	expect_error("clusters:\n- name: c\n  cluster: {server: ftp://h}\n" CONTEXTS, "x",
		     "is not an http(s) URL");
	expect_error(CLUSTERS CONTEXTS, "x", "context \"x\": user \"u\" not found");
	expect_error("clusters:\n- name: c\n  cluster: {server: https://h, "
		     "certificate-authority-data: '!!notbase64'}\n" CONTEXTS,
		     "x", "cluster \"c\": certificate-authority-data is not valid base64");
	expect_error("clusters:\n- name: c\n  cluster: {server: https://h, "
		     "certificate-authority-data: aGVsbG8=}\n" CONTEXTS,
		     "x", "cluster \"c\": certificate-authority-data does not hold PEM data");
	expect_error("clusters:\n- name: c\n  cluster: {server: https://h, "
		     "certificate-authority: missing.pem}\n" CONTEXTS,
		     "x",
		     "cluster \"c\": certificate-authority " FIX
		     "/missing.pem: No such file or directory");
	expect_error(CLUSTERS CONTEXTS "users:\n- name: u\n  user: {client-certificate: "
				       "client.pem}\n",
		     "x", "user \"u\": client-certificate without client-key");
	expect_error(CLUSTERS CONTEXTS "users:\n- name: u\n  user: {tokenFile: nope}\n", "x",
		     "user \"u\": token file " FIX "/nope: No such file");
	expect_error(CLUSTERS CONTEXTS "users:\n- name: u\n  user:\n    exec: {command: aws}\n",
		     "x", "user \"u\": exec: apiVersion missing is not supported");
	expect_error(CLUSTERS CONTEXTS "users:\n- name: u\n  user:\n    exec: {apiVersion: "
				       "client.authentication.k8s.io/v1, command: "
				       "no-such-plugin-takt, installHint: 'install it'}\n",
		     "x", "user \"u\": exec plugin no-such-plugin-takt: not found: install it");
	expect_error(CLUSTERS CONTEXTS
		     "users:\n- name: u\n  user:\n    auth-provider: {name: gcp}\n",
		     "x", "user \"u\" uses an auth-provider");
}

static void test_user_listed_without_body_has_no_credentials(void **state)
{
	const char *t = CLUSTERS CONTEXTS "users:\n- name: u\n";
	struct kube_config *c;
	char err[512] = "";
	assert_int_equal(kube_config_load_text(t, strlen(t), NULL, "x", &c, err, sizeof(err)), 0);
	assert_null(kube_config_token(c));
	assert_string_equal(kube_config_server(c), "https://h:1");
	kube_config_free(c);
}

struct sa_dir {
	char dir[64];
	char token[128], ca[128], ns[128];
};

static void sa_dir_make(struct sa_dir *d)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/takt-test-sa-XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->token, sizeof(d->token), "%s/token", d->dir);
	snprintf(d->ca, sizeof(d->ca), "%s/ca.crt", d->dir);
	snprintf(d->ns, sizeof(d->ns), "%s/namespace", d->dir);
	spit(d->token, "sa-token-1\n");
	char *ca = slurp(FIX "/ca.pem", NULL);
	spit(d->ca, ca);
	free(ca);
	spit(d->ns, "takt-system\n");
}

static void sa_dir_remove(struct sa_dir *d)
{
	unlink(d->token);
	unlink(d->ca);
	unlink(d->ns);
	rmdir(d->dir);
}

static void test_incluster_and_token_rotation(void **state)
{
	struct sa_dir d;
	sa_dir_make(&d);
	struct kube_incluster_paths p = {.token = d.token, .ca = d.ca, .namespace = d.ns};
	struct kube_config *c;
	char err[512] = "";
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(kube_config_load_incluster(&p, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_load_incluster(&p, &c, err, sizeof(err)), 0);
	assert_string_equal(kube_config_server(c), "https://10.96.0.1:443");
	assert_string_equal(kube_config_namespace(c), "takt-system");
	assert_string_equal(kube_config_context(c), "in-cluster");
	size_t len;
	const void *ca = kube_config_ca(c, &len);
	assert_blob_is_file(ca, len, FIX "/ca.pem");
	assert_string_equal(kube_config_token(c), "sa-token-1");

	/* Rotation: a new file (new inode) is picked up on the next use. */
	spit(d.token, "sa-token-2\n");
	assert_string_equal(kube_config_token(c), "sa-token-2");
	/* A failed re-read keeps the last good token. */
	unlink(d.token);
	assert_int_equal(kube_config_refresh_token(c), -1);
	assert_string_equal(kube_config_token(c), "sa-token-2");
	spit(d.token, "sa-token-3");
	assert_int_equal(kube_config_refresh_token(c), 0);
	assert_string_equal(kube_config_token(c), "sa-token-3");
	kube_config_free(c);

	/* IPv6 service address; no namespace file. */
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	unlink(d.ns);
	assert_int_equal(kube_config_load_incluster(&p, &c, err, sizeof(err)), 0);
	assert_string_equal(kube_config_server(c), "https://[fd00::1]:443");
	assert_string_equal(kube_config_namespace(c), "default");
	kube_config_free(c);

	/* Errors name the file. */
	unlink(d.ca);
	assert_int_equal(kube_config_load_incluster(&p, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, d.ca));
	spit(d.token, "\n");
	assert_int_equal(kube_config_load_incluster(&p, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty"));
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	sa_dir_remove(&d);
}

/* kubelet's projected volume (AtomicWriter): token -> ..data/token, ..data ->
 * ..<timestamp>; a rotation writes a new ..<timestamp> directory, renames a
 * new ..data symlink over the old one and removes the old directory. The
 * path the controller holds never changes, and the new token has the same
 * length: it is seen because stat follows the symlinks to a new file. */
static void kubelet_write(const char *dir, const char *ts, const char *token, const char *old)
{
	char p[512], q[512];
	snprintf(p, sizeof(p), "%s/%s", dir, ts);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/%s/token", dir, ts);
	spit(p, token);
	snprintf(p, sizeof(p), "%s/..data_tmp", dir);
	assert_int_equal(symlink(ts, p), 0);
	snprintf(q, sizeof(q), "%s/..data", dir);
	assert_int_equal(rename(p, q), 0);
	snprintf(p, sizeof(p), "%s/token", dir);
	if (access(p, F_OK) != 0)
		assert_int_equal(symlink("..data/token", p), 0);
	if (old) {
		snprintf(p, sizeof(p), "%s/%s/token", dir, old);
		unlink(p);
		snprintf(p, sizeof(p), "%s/%s", dir, old);
		rmdir(p);
	}
}

static void test_incluster_token_kubelet_swap(void **state)
{
	(void)state;
	char dir[64], token[128], p[160];
	snprintf(dir, sizeof(dir), "/tmp/takt-test-sa-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(token, sizeof(token), "%s/token", dir);
	kubelet_write(dir, "..2026_01_01_00_00_00.1", "token-aaaa", NULL);
	struct kube_incluster_paths paths = {
	    .token = token, .ca = FIX "/ca.pem", .namespace = NULL};
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	struct kube_config *c;
	char err[512] = "";
	assert_int_equal(kube_config_load_incluster(&paths, &c, err, sizeof(err)), 0);
	assert_string_equal(kube_config_token(c), "token-aaaa");
	kubelet_write(dir, "..2026_01_01_00_00_00.2", "token-bbbb", "..2026_01_01_00_00_00.1");
	assert_string_equal(kube_config_token(c), "token-bbbb");
	kubelet_write(dir, "..2026_01_01_00_00_00.3", "token-cccc", "..2026_01_01_00_00_00.2");
	assert_string_equal(kube_config_token(c), "token-cccc");
	kube_config_free(c);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	snprintf(p, sizeof(p), "%s/..2026_01_01_00_00_00.3/token", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/..2026_01_01_00_00_00.3", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/..data", dir);
	unlink(p);
	unlink(token);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_inline_current_context),
	    cmocka_unit_test(test_explicit_context_token_insecure),
	    cmocka_unit_test(test_relative_files_and_token_file),
	    cmocka_unit_test(test_kubeconfig_env_first_file),
	    cmocka_unit_test(test_errors_name_what_is_wrong),
	    cmocka_unit_test(test_user_listed_without_body_has_no_credentials),
	    cmocka_unit_test(test_incluster_and_token_rotation),
	    cmocka_unit_test(test_incluster_token_kubelet_swap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
