/* Unit tests for pkg/httpd: the endpoint on a real loopback socket, driven
 * by the real event loop (the client side is a plain socket polled between
 * loop turns, since the server runs on this very thread). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "httpd/httpd.h"
#include "loop/loop.h"

static int calls;

static int serve_hello(void *ud, struct buf *out, const char **type)
{
	calls++;
	buf_addf(out, "hello %s\n", (const char *)ud);
	*type = "text/x-test";
	return 200;
}

/* Sends `req` raw and returns what came back until the server closed
 * (or 3 s passed). The caller frees it. */
static char *exchange(struct loop *l, int port, const char *req)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	size_t len = strlen(req);
	assert_int_equal(send(fd, req, len, 0), (ssize_t)len);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	struct buf b;
	buf_init(&b, BUF_UNLIMITED);
	/* A bound on waiting only: the loop ends when the server closes. */
	int64_t end = loop_now_monotonic_ms() + 10000;
	while (loop_now_monotonic_ms() < end) {
		assert_true(loop_run_once(l, 10) >= 0);
		char chunk[4096];
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
		if (n > 0)
			buf_add(&b, chunk, (size_t)n);
		else if (n == 0)
			break;
		else if (errno != EAGAIN)
			break;
	}
	close(fd);
	return buf_detach(&b, NULL);
}

static void test_routes_methods_and_limits(void **state)
{
	(void)state;
	struct loop *l;
	assert_int_equal(loop_new(&l), 0);
	struct httpd *h;
	char err[256] = "";
	const struct httpd_route routes[] = {{"/hello", serve_hello, "there"}};
	if (httpd_start(l, "127.0.0.1:0", routes, 1, &h, err, sizeof(err)))
		fail_msg("%s", err);
	int port = httpd_port(h);
	assert_true(port > 0);

	char *r = exchange(l, port, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 200"));
	assert_non_null(strstr(r, "Content-Type: text/x-test"));
	assert_non_null(strstr(r, "\r\n\r\nhello there\n"));
	free(r);
	assert_int_equal(calls, 1);

	r = exchange(l, port, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 404"));
	free(r);

	r = exchange(l, port,
		     "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
		     "Connection: close\r\n\r\nab");
	assert_non_null(strstr(r, "HTTP/1.1 405"));
	assert_non_null(strstr(r, "Allow: GET, HEAD"));
	free(r);
	assert_int_equal(calls, 1); /* the handler never ran for those */

	/* Headers larger than a connection may hold: refused, not served. */
	size_t big = HTTPD_MEMORY + 1024;
	char *req = malloc(big + 128);
	int n = snprintf(req, big + 128, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + n, 'a', big);
	snprintf(req + n + big, 32, "\r\n\r\n");
	r = exchange(l, port, req);
	assert_null(strstr(r, "HTTP/1.1 200"));
	free(r);
	free(req);
	assert_int_equal(calls, 1);

	httpd_free(h);
	loop_free(l);
}

static void test_bad_addresses(void **state)
{
	(void)state;
	struct loop *l;
	assert_int_equal(loop_new(&l), 0);
	struct httpd *h;
	char err[256] = "";
	const char *bad[] = {"8080", ":", ":99999", "localhost:80", "1.2.3:80", ":8o"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(httpd_start(l, bad[i], NULL, 0, &h, err, sizeof(err)), -1);
		assert_null(h);
		assert_non_null(strstr(err, "--http-addr"));
	}
	/* A port already taken. */
	struct httpd *first;
	assert_int_equal(httpd_start(l, "127.0.0.1:0", NULL, 0, &first, err, sizeof(err)), 0);
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", httpd_port(first));
	assert_int_equal(httpd_start(l, addr, NULL, 0, &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot listen"));
	httpd_free(first);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_routes_methods_and_limits),
	    cmocka_unit_test(test_bad_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
