/* Unit tests for pkg/kube/http against a small HTTP/1.1 server that runs in
 * the same event loop (no cluster needed): methods and content types,
 * Status parsing, transport errors, timeouts, connection reuse, FIFO rate
 * limiting, streaming and cancellation, dead connections, path helpers. The live apiserver is
 * exercised by tests/integration/itest_kube_http.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/buf.h"
#include "kube/config.h"
#include "kube/http.h"
#include "loop/loop.h"

/* ---- the fake server ---- */

#define MAX_CONNS 16
#define MAX_LOG	  64

struct conn {
	int fd;
	struct buf in;
	bool streaming;
};

struct server {
	struct loop *l;
	int lfd;
	int port;
	int accepted;
	struct conn conns[MAX_CONNS];
	/* One line per request: "METHOD PATH|content-type|body". */
	char *log[MAX_LOG];
	int nlog;
	char auth[128];
	/* Reads and answers nothing, on every connection (new ones too): a
	 * connection whose packets are dropped, as the client sees it. */
	bool deaf;
	char accept[128]; /* the last request's Accept header */
};

static struct server srv;

static void conn_close(struct conn *c)
{
	loop_fd_unwatch(srv.l, c->fd);
	close(c->fd);
	c->fd = -1;
	buf_release(&c->in);
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void respond(struct conn *c, int status, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n",
			 status, strlen(body));
	send_all(c->fd, head, (size_t)n);
	send_all(c->fd, body, strlen(body));
}

static void send_chunk(struct conn *c, const char *s)
{
	char head[32];
	int n = snprintf(head, sizeof(head), "%zx\r\n", strlen(s));
	send_all(c->fd, head, (size_t)n);
	send_all(c->fd, s, strlen(s));
	send_all(c->fd, "\r\n", 2);
}

static void on_stream_tick(struct loop *l, loop_timer_id id, void *ud)
{
	struct conn *c = ud;
	if (c->fd < 0 || !c->streaming)
		return;
	send_chunk(c, "line2\n");
	send_all(c->fd, "0\r\n\r\n", 5);
	c->streaming = false;
}

static const char *header_value(const char *req, const char *name, char *out, size_t outlen)
{
	out[0] = '\0';
	size_t nl = strlen(name);
	for (const char *p = strstr(req, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
			const char *v = p + 2 + nl + 1;
			while (*v == ' ')
				v++;
			const char *e = strstr(v, "\r\n");
			snprintf(out, outlen, "%.*s", (int)(e - v), v);
			return out;
		}
	}
	return out;
}

static void handle(struct conn *c, const char *req, const char *body, size_t blen)
{
	char method[16], path[256], ctype[128];
	sscanf(req, "%15s %255s", method, path);
	header_value(req, "Content-Type", ctype, sizeof(ctype));
	header_value(req, "Authorization", srv.auth, sizeof(srv.auth));
	header_value(req, "Accept", srv.accept, sizeof(srv.accept));
	if (srv.nlog < MAX_LOG) {
		struct buf line;
		buf_init(&line, BUF_UNLIMITED);
		buf_addf(&line, "%s %s|%s|%.*s", method, path, ctype, (int)blen, body);
		srv.log[srv.nlog++] = buf_detach(&line, NULL);
	}
	if (strncmp(path, "/ok", 3) == 0) {
		respond(c, 200, "{\"kind\":\"Thing\",\"n\":1}");
	} else if (strcmp(path, "/big") == 0) {
		respond(c, 200, "{\"kind\":\"Thing\",\"padding\":\"0123456789012345678901234\"}");
	} else if (strcmp(path, "/notfound") == 0) {
		respond(c, 404,
			"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
			"\"message\":\"configmaps \\\"x\\\" not found\",\"reason\":\"NotFound\","
			"\"details\":{\"name\":\"x\",\"kind\":\"configmaps\"},\"code\":404}");
	} else if (strcmp(path, "/gone") == 0) {
		respond(c, 410,
			"{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"too old "
			"resource version: 1 (5)\",\"reason\":\"Expired\",\"code\":410}");
	} else if (strcmp(path, "/html") == 0) {
		respond(c, 502, "<html>bad gateway</html>");
	} else if (strcmp(path, "/version") == 0) {
		respond(c, 200, "{\"major\":\"1\"}");
	} else if (strcmp(path, "/hang") == 0) {
		/* A watch with nothing to say after its first event. */
		const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
		send_all(c->fd, head, strlen(head));
		send_chunk(c, "line1\n");
	} else if (strcmp(path, "/slow") == 0) {
		/* Never answers: the client's timeout must fire. */
	} else if (strncmp(path, "/api/", 5) == 0 || strncmp(path, "/apis/", 6) == 0) {
		/* A resource: a watch opens and stays open, a POST creates, the
		 * rest read. */
		if (strstr(path, "watch=")) {
			const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
					   "Transfer-Encoding: chunked\r\n\r\n";
			send_all(c->fd, head, strlen(head));
			send_chunk(c, "{\"type\":\"ADDED\"}\n");
		} else {
			respond(c, strcmp(method, "POST") ? 200 : 201, "{\"kind\":\"Thing\"}");
		}
	} else if (strcmp(path, "/stream") == 0) {
		const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
		send_all(c->fd, head, strlen(head));
		send_chunk(c, "line1\n");
		c->streaming = true;
		loop_timer_after(srv.l, 30, on_stream_tick, c);
	} else {
		respond(c, 500, "{}");
	}
}

static void on_conn_readable(struct loop *l, int fd, unsigned ev, void *ud)
{
	struct conn *c = ud;
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));
	if (n <= 0) {
		conn_close(c);
		return;
	}
	if (srv.deaf)
		return;
	buf_add(&c->in, tmp, (size_t)n);
	for (;;) {
		const char *s = buf_str(&c->in);
		const char *end = strstr(s, "\r\n\r\n");
		if (!end)
			return;
		size_t hlen = (size_t)(end - s) + 4;
		char cl[32];
		header_value(s, "Content-Length", cl, sizeof(cl));
		size_t blen = cl[0] ? strtoul(cl, NULL, 10) : 0;
		if (c->in.len < hlen + blen)
			return;
		char *req = strndup(s, hlen);
		char *body = strndup(s + hlen, blen);
		buf_consume(&c->in, hlen + blen);
		handle(c, req, body, blen);
		free(req);
		free(body);
	}
}

static void on_accept(struct loop *l, int fd, unsigned ev, void *ud)
{
	int cfd = accept(fd, NULL, NULL);
	assert_true(cfd >= 0);
	srv.accepted++;
	for (int i = 0; i < MAX_CONNS; i++) {
		if (srv.conns[i].fd < 0) {
			srv.conns[i].fd = cfd;
			buf_init(&srv.conns[i].in, 1 << 20);
			assert_int_equal(
			    loop_fd_watch(l, cfd, LOOP_READ, on_conn_readable, &srv.conns[i]), 0);
			return;
		}
	}
	fail_msg("too many connections");
}

static void server_start(struct loop *l)
{
	memset(&srv, 0, sizeof(srv));
	srv.l = l;
	for (int i = 0; i < MAX_CONNS; i++)
		srv.conns[i].fd = -1;
	srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(srv.lfd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(srv.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t alen = sizeof(a);
	getsockname(srv.lfd, (struct sockaddr *)&a, &alen);
	srv.port = ntohs(a.sin_port);
	assert_int_equal(listen(srv.lfd, 16), 0);
	assert_int_equal(loop_fd_watch(l, srv.lfd, LOOP_READ, on_accept, NULL), 0);
}

static void server_stop(void)
{
	for (int i = 0; i < MAX_CONNS; i++)
		if (srv.conns[i].fd >= 0)
			conn_close(&srv.conns[i]);
	loop_fd_unwatch(srv.l, srv.lfd);
	close(srv.lfd);
	for (int i = 0; i < srv.nlog; i++)
		free(srv.log[i]);
}

/* ---- fixture: loop + server + client ---- */

struct fx {
	struct loop *l;
	struct kube_config *cfg;
	struct kube_http *h;
};

static struct kube_config *config_for_port(int port)
{
	char text[512], err[256];
	snprintf(text, sizeof(text),
		 "current-context: t\nclusters:\n- name: c\n  cluster: {server: "
		 "'http://127.0.0.1:%d'}\ncontexts:\n- name: t\n  context: {cluster: c, user: "
		 "u}\nusers:\n- name: u\n  user: {token: sekrit}\n",
		 port);
	struct kube_config *c;
	assert_int_equal(
	    kube_config_load_text(text, strlen(text), NULL, NULL, &c, err, sizeof(err)), 0);
	return c;
}

static int fx_setup_opts(void **state, const struct kube_http_opts *opts)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_int_equal(loop_new(&f->l), 0);
	server_start(f->l);
	f->cfg = config_for_port(srv.port);
	assert_int_equal(kube_http_new(f->l, f->cfg, opts, &f->h), 0);
	*state = f;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_opts(state, NULL);
}

static int fx_setup_limited(void **state)
{
	struct kube_http_opts o = {.qps = 10, .burst = 1};
	return fx_setup_opts(state, &o);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	kube_http_free(f->h);
	server_stop();
	kube_config_free(f->cfg);
	loop_free(f->l);
	free(f);
	return 0;
}

/* ---- async helpers ---- */

struct got {
	int calls;
	int status, err, code;
	char reason[64], message[256], transport[256];
	char body[512];
	char data[512];
	int order;
};

static int g_done_seq;

static void on_done(struct kube_req *req, const struct kube_result *res, void *ud)
{
	struct got *g = ud;
	g->calls++;
	g->status = res->status;
	g->err = res->err;
	g->code = res->code;
	g->order = ++g_done_seq;
	snprintf(g->reason, sizeof(g->reason), "%s", res->reason);
	snprintf(g->message, sizeof(g->message), "%s", res->message);
	snprintf(g->transport, sizeof(g->transport), "%s", res->transport_error);
	snprintf(g->body, sizeof(g->body), "%.*s", (int)res->body_len, res->body);
}

static void on_data(struct kube_req *req, const char *d, size_t n, void *ud)
{
	struct got *g = ud;
	size_t have = strlen(g->data);
	snprintf(g->data + have, sizeof(g->data) - have, "%.*s", (int)n, d);
}

static void run_until(struct loop *l, const int *counter, int want)
{
	int64_t give_up = loop_now_monotonic_ms() + 10000;
	while (*counter < want) {
		assert_true(loop_now_monotonic_ms() < give_up);
		assert_true(loop_run_once(l, 100) >= 0);
	}
}

/* ---- tests ---- */

static void test_get_sends_token_and_accept(void **state)
{
	struct fx *f = *state;
	struct kube_response r;
	assert_int_equal(kube_http_do(f->h, KUBE_GET, "/ok?x=1", NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.err, 0);
	assert_string_equal(r.body, "{\"kind\":\"Thing\",\"n\":1}");
	assert_string_equal(r.reason, "");
	assert_string_equal(r.transport_error, "");
	kube_response_release(&r);
	assert_int_equal(srv.nlog, 1);
	assert_string_equal(srv.log[0], "GET /ok?x=1||");
	assert_string_equal(srv.auth, "Bearer sekrit");
	assert_string_equal(srv.accept, "application/json");
}

/* opts.accept: metadata-only lists and watches (PartialObjectMetadata); a
 * value that would end the header line is not sent (the default is). */
static void test_accept_metadata(void **state)
{
	struct fx *f = *state;
	struct got g = {0};
	struct kube_req_opts o = {.method = KUBE_GET,
				  .path = "/ok",
				  .done = on_done,
				  .ud = &g,
				  .accept = KUBE_ACCEPT_METADATA};
	assert_int_equal(kube_http_request(f->h, &o, NULL), 0);
	run_until(f->l, &g.calls, 1);
	assert_int_equal(g.status, 200);
	assert_string_equal(srv.accept, KUBE_ACCEPT_METADATA);
	o.accept = "application/json\r\nX-Evil: 1";
	assert_int_equal(kube_http_request(f->h, &o, NULL), 0);
	run_until(f->l, &g.calls, 2);
	assert_string_equal(srv.accept, "application/json");
}

static void test_methods_and_content_types(void **state)
{
	struct fx *f = *state;
	static const struct {
		enum kube_method m;
		const char *want;
	} cases[] = {
	    {KUBE_POST, "POST /ok|application/json|{\"a\":1}"},
	    {KUBE_PUT, "PUT /ok|application/json|{\"a\":1}"},
	    {KUBE_PATCH_MERGE, "PATCH /ok|application/merge-patch+json|{\"a\":1}"},
	    {KUBE_PATCH_JSON, "PATCH /ok|application/json-patch+json|{\"a\":1}"},
	    {KUBE_PATCH_STRATEGIC, "PATCH /ok|application/strategic-merge-patch+json|{\"a\":1}"},
	    {KUBE_PATCH_APPLY, "PATCH /ok|application/apply-patch+yaml|{\"a\":1}"},
	    {KUBE_DELETE, "DELETE /ok|application/json|{\"a\":1}"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kube_response r;
		assert_int_equal(kube_http_do(f->h, cases[i].m, "/ok", "{\"a\":1}", 7, &r), 0);
		assert_int_equal(r.status, 200);
		kube_response_release(&r);
		assert_string_equal(srv.log[i], cases[i].want);
	}
	/* DELETE without a body. */
	struct kube_response r;
	assert_int_equal(kube_http_do(f->h, KUBE_DELETE, "/ok", NULL, 0, &r), 0);
	kube_response_release(&r);
	assert_string_equal(srv.log[7], "DELETE /ok||");
}

static void test_error_status_is_parsed_and_kept(void **state)
{
	struct fx *f = *state;
	struct kube_response r;
	assert_int_equal(kube_http_do(f->h, KUBE_GET, "/notfound", NULL, 0, &r), 0);
	assert_int_equal(r.status, 404);
	assert_int_equal(r.err, 0);
	assert_string_equal(r.reason, "NotFound");
	assert_string_equal(r.message, "configmaps \"x\" not found");
	assert_int_equal(r.code, 404);
	/* The whole body is still there. */
	assert_non_null(strstr(r.body, "\"details\""));
	kube_response_release(&r);

	/* Not a Status: reason from the HTTP status, message is the body. */
	assert_int_equal(kube_http_do(f->h, KUBE_GET, "/html", NULL, 0, &r), 0);
	assert_int_equal(r.status, 502);
	assert_string_equal(r.reason, "Unknown");
	assert_string_equal(r.message, "<html>bad gateway</html>");
	assert_int_equal(r.code, 502);
	kube_response_release(&r);
}

static void test_connection_refused(void **state)
{
	struct fx *f = *state;
	/* A port that was just free: bind, read the port, close. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(s, (struct sockaddr *)&a, sizeof(a));
	socklen_t alen = sizeof(a);
	getsockname(s, (struct sockaddr *)&a, &alen);
	close(s);
	struct kube_config *cfg = config_for_port(ntohs(a.sin_port));
	struct kube_http *h;
	assert_int_equal(kube_http_new(f->l, cfg, NULL, &h), 0);
	struct kube_response r;
	assert_int_equal(kube_http_do(h, KUBE_GET, "/ok", NULL, 0, &r), 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.err, -ECONNREFUSED);
	assert_true(strlen(r.transport_error) > 0);
	kube_response_release(&r);
	kube_http_free(h);
	kube_config_free(cfg);
}

static void test_request_timeout(void **state)
{
	struct fx *f = *state;
	struct got g = {0};
	struct kube_req_opts o = {
	    .method = KUBE_GET, .path = "/slow", .timeout_ms = 150, .done = on_done, .ud = &g};
	assert_int_equal(kube_http_request(f->h, &o, NULL), 0);
	assert_int_equal(g.calls, 0); /* never inside kube_http_request */
	run_until(f->l, &g.calls, 1);
	assert_int_equal(g.err, -ETIMEDOUT);
	assert_int_equal(g.status, 0);
	assert_true(strlen(g.transport) > 0);
}

static void test_connection_reused(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < 5; i++) {
		struct kube_response r;
		assert_int_equal(kube_http_do(f->h, KUBE_GET, "/ok", NULL, 0, &r), 0);
		assert_int_equal(r.status, 200);
		kube_response_release(&r);
	}
	/* An error status does not cost the connection either. */
	struct kube_response r;
	assert_int_equal(kube_http_do(f->h, KUBE_GET, "/notfound", NULL, 0, &r), 0);
	kube_response_release(&r);
	assert_int_equal(srv.accepted, 1);
	struct kube_http_stats st;
	kube_http_stats(f->h, &st);
	assert_int_equal(st.connects, 1);
	assert_int_equal(st.requests_done, 6);
	assert_int_equal(st.in_flight, 0);
}

static void test_rate_limit_fifo(void **state)
{
	struct fx *f = *state; /* qps 10, burst 1 */
	struct got g[6];
	memset(g, 0, sizeof(g));
	int64_t t0 = loop_now_monotonic_ms();
	char path[32];
	for (int i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "/ok/%d", i);
		struct kube_req_opts o = {
		    .method = KUBE_GET, .path = path, .done = on_done, .ud = &g[i]};
		assert_int_equal(kube_http_request(f->h, &o, NULL), 0);
	}
	struct kube_http_stats st;
	kube_http_stats(f->h, &st);
	assert_int_equal(st.requests_started, 1);
	assert_int_equal(st.waiting, 5);
	assert_int_equal(st.requests_queued, 5);
	run_until(f->l, &g[5].calls, 1);
	for (int i = 0; i < 6; i++) {
		char want[32];
		snprintf(want, sizeof(want), "GET /ok/%d||", i);
		assert_string_equal(srv.log[i], want);
		assert_int_equal(g[i].calls, 1);
	}
	/* Five waited for tokens at 10/s: at least 500 ms in all (a lower
	 * bound, so a slow machine cannot break it). */
	assert_true(loop_now_monotonic_ms() - t0 >= 495);
}

static void test_exempt_request_overtakes_the_queue(void **state)
{
	struct fx *f = *state; /* qps 10, burst 1 */
	struct got g[4];
	memset(g, 0, sizeof(g));
	for (int i = 0; i < 3; i++) {
		struct kube_req_opts o = {
		    .method = KUBE_GET, .path = "/ok/queued", .done = on_done, .ud = &g[i]};
		assert_int_equal(kube_http_request(f->h, &o, NULL), 0);
	}
	struct kube_req_opts o = {.method = KUBE_POST,
				  .path = "/ok/urgent",
				  .body = "{}",
				  .body_len = 2,
				  .exempt = 1,
				  .done = on_done,
				  .ud = &g[3]};
	assert_int_equal(kube_http_request(f->h, &o, NULL), 0);
	struct kube_http_stats st;
	kube_http_stats(f->h, &st);
	assert_int_equal(st.requests_started, 2); /* the first queued one and the urgent one */
	assert_int_equal(st.waiting, 2);
	run_until(f->l, &g[2].calls, 1);
	run_until(f->l, &g[3].calls, 1);
	assert_int_equal(g[3].status, 200);
}

static void test_cancel_queued_request(void **state)
{
	struct fx *f = *state; /* qps 10, burst 1 */
	struct got g[3];
	memset(g, 0, sizeof(g));
	struct kube_req *reqs[3];
	for (int i = 0; i < 3; i++) {
		struct kube_req_opts o = {
		    .method = KUBE_GET, .path = "/ok", .done = on_done, .ud = &g[i]};
		assert_int_equal(kube_http_request(f->h, &o, &reqs[i]), 0);
	}
	assert_string_equal(kube_req_path(reqs[1]), "/ok");
	kube_req_cancel(reqs[1]);
	run_until(f->l, &g[2].calls, 1);
	assert_int_equal(g[0].calls, 1);
	assert_int_equal(g[1].calls, 0);
	assert_int_equal(srv.nlog, 2);
	struct kube_http_stats st;
	kube_http_stats(f->h, &st);
	assert_int_equal(st.waiting, 0);
}

static void test_stream_chunks_then_done_and_exempt(void **state)
{
	struct fx *f = *state; /* qps 10, burst 1: the stream must not wait */
	struct got plain = {0}, s = {0};
	struct kube_req_opts o = {.method = KUBE_GET, .path = "/ok", .done = on_done, .ud = &plain};
	assert_int_equal(kube_http_request(f->h, &o, NULL), 0);
	struct kube_req_opts so = {
	    .method = KUBE_GET, .path = "/stream", .done = on_done, .on_data = on_data, .ud = &s};
	assert_int_equal(kube_http_request(f->h, &so, NULL), 0);
	struct kube_http_stats st;
	kube_http_stats(f->h, &st);
	assert_int_equal(st.requests_started, 2);
	run_until(f->l, &s.calls, 1);
	assert_string_equal(s.data, "line1\nline2\n");
	assert_int_equal(s.status, 200);
	assert_int_equal(s.err, 0);
	assert_string_equal(s.body, "");
}

static void on_data_cancel(struct kube_req *req, const char *d, size_t n, void *ud)
{
	on_data(req, d, n, ud);
	kube_req_cancel(req);
}

static void test_cancel_stream_from_its_data_callback(void **state)
{
	struct fx *f = *state;
	struct got s = {0};
	struct kube_req_opts so = {.method = KUBE_GET,
				   .path = "/stream",
				   .done = on_done,
				   .on_data = on_data_cancel,
				   .ud = &s};
	assert_int_equal(kube_http_request(f->h, &so, NULL), 0);
	int64_t give_up = loop_now_monotonic_ms() + 10000;
	while (s.data[0] == '\0') {
		assert_true(loop_now_monotonic_ms() < give_up);
		assert_true(loop_run_once(f->l, 20) >= 0);
	}
	/* The server sends line2 and the end 30 ms later: give them time to
	 * arrive, and see that nothing is delivered. */
	int64_t until = loop_now_monotonic_ms() + 150;
	while (loop_now_monotonic_ms() < until)
		assert_true(loop_run_once(f->l, 20) >= 0);
	assert_string_equal(s.data, "line1\n");
	assert_int_equal(s.calls, 0);
	struct kube_http_stats st;
	kube_http_stats(f->h, &st);
	assert_int_equal(st.in_flight, 0);
}

static struct got g_nested;
static struct kube_http *g_nested_h;
static int g_nested_submitted;

static void on_data_submit(struct kube_req *req, const char *d, size_t n, void *ud)
{
	on_data(req, d, n, ud);
	/* Inside curl's write callback: the client must defer the start. */
	if (g_nested_submitted++)
		return;
	struct kube_req_opts o = {
	    .method = KUBE_GET, .path = "/ok/nested", .done = on_done, .ud = &g_nested};
	assert_int_equal(kube_http_request(g_nested_h, &o, NULL), 0);
}

static void test_request_from_inside_a_stream_callback(void **state)
{
	struct fx *f = *state;
	struct got s = {0};
	memset(&g_nested, 0, sizeof(g_nested));
	g_nested_submitted = 0;
	g_nested_h = f->h;
	struct kube_req_opts so = {.method = KUBE_GET,
				   .path = "/stream",
				   .done = on_done,
				   .on_data = on_data_submit,
				   .ud = &s};
	assert_int_equal(kube_http_request(f->h, &so, NULL), 0);
	run_until(f->l, &s.calls, 1);
	run_until(f->l, &g_nested.calls, 1);
	assert_int_equal(g_nested.status, 200);
	assert_int_equal(g_nested.err, 0);
	assert_string_equal(g_nested.body, "{\"kind\":\"Thing\",\"n\":1}");
}

static void test_stream_error_status_not_streamed(void **state)
{
	struct fx *f = *state;
	struct got s = {0};
	struct kube_req_opts so = {
	    .method = KUBE_GET, .path = "/gone", .done = on_done, .on_data = on_data, .ud = &s};
	assert_int_equal(kube_http_request(f->h, &so, NULL), 0);
	run_until(f->l, &s.calls, 1);
	assert_string_equal(s.data, "");
	assert_int_equal(s.status, 410);
	assert_string_equal(s.reason, "Expired");
	assert_string_equal(s.message, "too old resource version: 1 (5)");
}

static void test_cancel_in_flight_from_timer(void **state)
{
	struct fx *f = *state;
	struct got g = {0};
	struct kube_req *r;
	struct kube_req_opts o = {.method = KUBE_GET, .path = "/slow", .done = on_done, .ud = &g};
	assert_int_equal(kube_http_request(f->h, &o, &r), 0);
	run_until(f->l, &srv.nlog, 1); /* the server has it, and will not answer */
	kube_req_cancel(r);
	int64_t until = loop_now_monotonic_ms() + 50;
	while (loop_now_monotonic_ms() < until)
		assert_true(loop_run_once(f->l, 10) >= 0);
	assert_int_equal(g.calls, 0);
}

static void test_body_cap(void **state)
{
	struct loop *l;
	assert_int_equal(loop_new(&l), 0);
	server_start(l);
	struct kube_config *cfg = config_for_port(srv.port);
	struct kube_http_opts o = {.max_body = 16};
	struct kube_http *h;
	assert_int_equal(kube_http_new(l, cfg, &o, &h), 0);
	struct kube_response r;
	assert_int_equal(kube_http_do(h, KUBE_GET, "/big", NULL, 0, &r), 0);
	assert_int_equal(r.err, -EFBIG);
	assert_int_equal(r.status, 200);
	kube_response_release(&r);
	kube_http_free(h);
	server_stop();
	kube_config_free(cfg);
	loop_free(l);
}

static void on_done_cancel_self(struct kube_req *req, const struct kube_result *res, void *ud)
{
	on_done(req, res, ud);
	kube_req_cancel(req); /* a no-op: it is finishing */
}

static void test_cancel_from_own_done_is_harmless(void **state)
{
	struct fx *f = *state;
	struct got g = {0};
	struct kube_req_opts o = {
	    .method = KUBE_GET, .path = "/ok", .done = on_done_cancel_self, .ud = &g};
	assert_int_equal(kube_http_request(f->h, &o, NULL), 0);
	run_until(f->l, &g.calls, 1);
	assert_int_equal(g.status, 200);
	struct kube_http_stats st;
	kube_http_stats(f->h, &st);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.requests_done, 1);
}

static void test_bad_requests_refused(void **state)
{
	struct fx *f = *state;
	struct got g = {0};
	struct kube_req_opts o = {.method = KUBE_GET, .path = "ok", .done = on_done, .ud = &g};
	assert_int_equal(kube_http_request(f->h, &o, NULL), -EINVAL);
	o.path = "/ok";
	o.done = NULL;
	assert_int_equal(kube_http_request(f->h, &o, NULL), -EINVAL);
}

/* ---- dead connections ---- */

/* The probe's answer crosses this process's own loop (the server runs on
 * it): a probe timeout of 150 ms declared a live connection dead whenever
 * a loaded machine paused the process that long. 1 s is beyond any
 * pause of a loaded machine, and still far below the requests' own
 * timeouts, which is what tells the two failures apart. */
#define PROBE_MS 1000

static int fx_setup_probing(void **state)
{
	struct kube_http_opts o = {.stall_ms = 100, .probe_timeout_ms = PROBE_MS, .idle_ms = 400};
	return fx_setup_opts(state, &o);
}

static int count_log(const char *line)
{
	int n = 0;
	for (int i = 0; i < srv.nlog; i++)
		n += strcmp(srv.log[i], line) == 0;
	return n;
}

static void run_for(struct loop *l, int64_t ms)
{
	int64_t until = loop_now_monotonic_ms() + ms;
	while (loop_now_monotonic_ms() < until)
		assert_true(loop_run_once(l, 10) >= 0);
}

/* The server falls silent on every connection: a request and a stream in
 * flight fail within stall + probe timeout (not at the request's own 10 s),
 * as -ETIMEDOUT saying why; the next request opens a new connection. */
static void test_dead_connection_fails_transfers_and_reconnects(void **state)
{
	struct fx *f = *state;
	struct got gs = {0}, gr = {0};
	struct kube_req_opts so = {
	    .method = KUBE_GET, .path = "/hang", .done = on_done, .on_data = on_data, .ud = &gs};
	assert_int_equal(kube_http_request(f->h, &so, NULL), 0);
	while (strcmp(gs.data, "line1\n") != 0)
		assert_true(loop_run_once(f->l, 100) >= 0);
	srv.deaf = true;
	int64_t t0 = loop_now_monotonic_ms();
	struct kube_req_opts ro = {
	    .method = KUBE_GET, .path = "/ok", .timeout_ms = 10000, .done = on_done, .ud = &gr};
	assert_int_equal(kube_http_request(f->h, &ro, NULL), 0);
	run_until(f->l, &gr.calls, 1);
	int64_t took = loop_now_monotonic_ms() - t0;
	assert_int_equal(gr.err, -ETIMEDOUT);
	assert_int_equal(gr.status, 0);
	assert_non_null(strstr(gr.transport, "dead"));
	/* Not before stall 100 + the probe's timeout; "dead" above says the
	 * probe failed it, not the request's own timeout (10 s), which also
	 * bounds the wait. */
	assert_true(took >= 100 + PROBE_MS);
	assert_true(took < 10000);
	run_until(f->l, &gs.calls, 1);
	assert_int_equal(gs.err, -ETIMEDOUT);
	assert_int_equal(gs.status, 200); /* the stream had begun */
	struct kube_http_stats st;
	kube_http_stats(f->h, &st);
	assert_int_equal(st.dead, 1);
	assert_true(st.probes >= 1);
	assert_int_equal(st.in_flight, 0);

	srv.deaf = false;
	int before = srv.accepted;
	struct kube_response r;
	assert_int_equal(kube_http_do(f->h, KUBE_GET, "/ok", NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.err, 0);
	kube_response_release(&r);
	assert_int_equal(srv.accepted, before + 1);
}

/* A slow answer on a connection that answers the probe is the server's
 * business: the request keeps its own timeout and nothing is dropped. */
static void test_slow_answer_on_live_connection_is_not_dead(void **state)
{
	struct fx *f = *state;
	struct got g = {0};
	/* Once an answer has shown the connection is HTTP/1.1 (no
	 * multiplexing), curl sends the probe on a second one; before that it
	 * would wait to learn whether the first multiplexes (PIPEWAIT), as it
	 * would with an HTTP/2 connection, which is what the probe is for. */
	struct kube_response r;
	assert_int_equal(kube_http_do(f->h, KUBE_GET, "/ok", NULL, 0, &r), 0);
	kube_response_release(&r);
	struct kube_req_opts o = {.method = KUBE_GET,
				  .path = "/slow",
				  /* Past stall + probe timeout: a probe not counted as answered
				   * would fail it as dead first. */
				  .timeout_ms = 100 + PROBE_MS + 1000,
				  .done = on_done,
				  .ud = &g};
	assert_int_equal(kube_http_request(f->h, &o, NULL), 0);
	run_until(f->l, &g.calls, 1);
	assert_int_equal(g.err, -ETIMEDOUT);
	assert_null(strstr(g.transport, "dead"));
	struct kube_http_stats st;
	kube_http_stats(f->h, &st);
	assert_int_equal(st.dead, 0);
	assert_true(st.probes >= 1);
	assert_true(count_log("GET /version||") >= 1);
}

/* Only a quiet stream open: probed every idle_ms, not every stall_ms; kept
 * while the probes are answered, failed once they are not. */
static void test_quiet_stream_probed_after_idle(void **state)
{
	struct fx *f = *state;
	struct got g = {0};
	struct kube_req_opts o = {
	    .method = KUBE_GET, .path = "/hang", .done = on_done, .on_data = on_data, .ud = &g};
	assert_int_equal(kube_http_request(f->h, &o, NULL), 0);
	run_for(f->l, 1100);
	int probes = count_log("GET /version||");
	assert_true(probes >= 1);
	assert_true(probes <= 3); /* 1100 / 400, not 1100 / 100 */
	assert_int_equal(g.calls, 0);
	srv.deaf = true;
	run_until(f->l, &g.calls, 1);
	assert_int_equal(g.err, -ETIMEDOUT);
	assert_non_null(strstr(g.transport, "dead"));
}

/* stall_ms < 0: no probe; a silent server costs the request's timeout. */
static void test_probing_off(void **state)
{
	struct kube_http_opts o = {.stall_ms = -1};
	fx_setup_opts(state, &o);
	struct fx *f = *state;
	struct got g = {0};
	srv.deaf = true;
	struct kube_req_opts ro = {
	    .method = KUBE_GET, .path = "/ok", .timeout_ms = 400, .done = on_done, .ud = &g};
	assert_int_equal(kube_http_request(f->h, &ro, NULL), 0);
	run_until(f->l, &g.calls, 1);
	assert_int_equal(g.err, -ETIMEDOUT);
	assert_null(strstr(g.transport, "dead"));
	struct kube_http_stats st;
	kube_http_stats(f->h, &st);
	assert_int_equal(st.probes, 0);
	fx_teardown(state);
}

static void test_paths_and_queries(void **state)
{
	struct buf b;
	buf_init(&b, BUF_UNLIMITED);
	assert_int_equal(kube_path(&b, "takt.io", "v1alpha1", "trading", "batchschedules",
				   "publish-quotes", "status"),
			 0);
	assert_string_equal(buf_str(&b), "/apis/takt.io/v1alpha1/namespaces/trading/batchschedules/"
					 "publish-quotes/status");
	buf_reset(&b);
	assert_int_equal(kube_path(&b, "", "v1", "default", "configmaps", NULL, NULL), 0);
	assert_string_equal(buf_str(&b), "/api/v1/namespaces/default/configmaps");
	buf_reset(&b);
	assert_int_equal(kube_path(&b, NULL, NULL, NULL, "namespaces", "a b/c", NULL), 0);
	assert_string_equal(buf_str(&b), "/api/v1/namespaces/a%20b%2Fc");
	buf_reset(&b);
	kube_path(&b, "batch", "v1", NULL, "jobs", NULL, NULL);
	assert_int_equal(kube_query_add(&b, "labelSelector", "takt.io/schedule=a,b in (x)"), 0);
	assert_int_equal(kube_query_add(&b, "watch", "1"), 0);
	assert_string_equal(buf_str(&b), "/apis/batch/v1/jobs?labelSelector=takt.io%2Fschedule%3Da"
					 "%2Cb%20in%20%28x%29&watch=1");
	buf_release(&b);

	struct buf small;
	buf_init(&small, 8);
	assert_int_equal(kube_path(&small, "takt.io", "v1alpha1", NULL, "x", NULL, NULL), -ENOSPC);
	buf_release(&small);
}

/* The client's answer count for (verb, status); 0 when absent. */
static uint64_t answers(const struct kube_http *h, const char *verb, int status)
{
	size_t n;
	const struct kube_http_code *c = kube_http_codes(h, &n);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(c[i].verb, verb) && c[i].status == status)
			return c[i].n;
	return 0;
}

static void test_answers_counted_by_verb_and_code(void **state)
{
	struct fx *f = *state;
	size_t n;
	kube_http_codes(f->h, &n);
	assert_int_equal(n, 0);
	struct kube_response r;
	assert_int_equal(kube_http_do(f->h, KUBE_GET,
				      "/api/v1/namespaces/x/pods?labelSelector=a%3Db", NULL, 0, &r),
			 0);
	assert_int_equal(r.status, 200);
	kube_response_release(&r);
	assert_int_equal(
	    kube_http_do(f->h, KUBE_GET, "/apis/batch/v1/namespaces/x/jobs/j", NULL, 0, &r), 0);
	kube_response_release(&r);
	assert_int_equal(
	    kube_http_do(f->h, KUBE_POST, "/apis/batch/v1/namespaces/x/jobs", "{}", 2, &r), 0);
	assert_int_equal(r.status, 201);
	kube_response_release(&r);
	assert_int_equal(kube_http_do(f->h, KUBE_GET, "/notfound", NULL, 0, &r), 0);
	kube_response_release(&r);
	/* A watch is counted when its stream opens, not when it ends. */
	struct got w = {0};
	struct kube_req *wr;
	struct kube_req_opts wo = {.method = KUBE_GET,
				   .path = "/api/v1/pods?watch=1&resourceVersion=5",
				   .done = on_done,
				   .on_data = on_data,
				   .ud = &w};
	assert_int_equal(kube_http_request(f->h, &wo, &wr), 0);
	int64_t give_up = loop_now_monotonic_ms() + 10000;
	while (!w.data[0]) {
		assert_true(loop_now_monotonic_ms() < give_up);
		assert_true(loop_run_once(f->l, 100) >= 0);
	}
	assert_int_equal(w.calls, 0);
	assert_int_equal(answers(f->h, "WATCH", 200), 1);
	kube_req_cancel(wr);
	assert_int_equal(answers(f->h, "LIST", 200), 1);
	assert_int_equal(answers(f->h, "GET", 200), 1);
	assert_int_equal(answers(f->h, "POST", 201), 1);
	assert_int_equal(answers(f->h, "GET", 404), 1);
	kube_http_codes(f->h, &n);
	assert_int_equal(n, 5);
	/* Cancelled after its answer: still counted once. */
	assert_int_equal(answers(f->h, "WATCH", 200), 1);
}

static void test_failed_request_counted_as_code_0(void **state)
{
	struct fx *f = *state;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(s, (struct sockaddr *)&a, sizeof(a));
	socklen_t alen = sizeof(a);
	getsockname(s, (struct sockaddr *)&a, &alen);
	close(s);
	struct kube_config *cfg = config_for_port(ntohs(a.sin_port));
	struct kube_http *h;
	assert_int_equal(kube_http_new(f->l, cfg, NULL, &h), 0);
	struct kube_response r;
	assert_int_equal(
	    kube_http_do(h, KUBE_GET, "/apis/takt.io/v1alpha1/batchschedules", NULL, 0, &r), 0);
	assert_int_equal(r.err, -ECONNREFUSED);
	kube_response_release(&r);
	assert_int_equal(answers(h, "LIST", 0), 1);
	size_t n;
	kube_http_codes(h, &n);
	assert_int_equal(n, 1);
	kube_http_free(h);
	kube_config_free(cfg);
}

static void test_verbs(void **state)
{
	(void)state;
	static const struct {
		enum kube_method m;
		const char *path, *verb;
	} cases[] = {
	    {KUBE_GET, "/api/v1/pods", "LIST"},
	    {KUBE_GET, "/api/v1/namespaces/ns/pods?labelSelector=x", "LIST"},
	    {KUBE_GET, "/api/v1/namespaces/ns/pods/p", "GET"},
	    {KUBE_GET, "/api/v1/namespaces/ns/pods/p/log", "GET"},
	    {KUBE_GET, "/api/v1/namespaces", "LIST"},
	    {KUBE_GET, "/api/v1/namespaces/ns", "GET"},
	    {KUBE_GET, "/api/v1/namespaces/ns/status", "GET"},
	    {KUBE_GET, "/apis/batch/v1/jobs?watch=true", "WATCH"},
	    {KUBE_GET, "/apis/batch/v1/namespaces/ns/jobs?resourceVersion=1&watch=1", "WATCH"},
	    {KUBE_GET, "/apis/batch/v1/namespaces/ns/jobs?watch=false", "LIST"},
	    {KUBE_GET, "/apis/batch/v1/namespaces/ns/jobs?watch=0", "LIST"},
	    {KUBE_GET, "/apis/batch/v1/namespaces/ns/jobs?watchy=1", "LIST"},
	    {KUBE_GET, "/apis/batch/v1/namespaces/ns/jobs/j?watch=1", "GET"},
	    {KUBE_GET, "/apis/coordination.k8s.io/v1/namespaces/ns/leases/takt", "GET"},
	    {KUBE_GET, "/apis/takt.io/v1alpha1", "GET"},
	    {KUBE_GET, "/version", "GET"},
	    {KUBE_GET, "/", "GET"},
	    {KUBE_POST, "/apis/batch/v1/namespaces/ns/jobs", "POST"},
	    {KUBE_PUT, "/apis/coordination.k8s.io/v1/namespaces/ns/leases/takt", "PUT"},
	    {KUBE_PATCH_MERGE, "/apis/takt.io/v1alpha1/namespaces/ns/batchschedules/b/status",
	     "PATCH"},
	    {KUBE_PATCH_APPLY, "/apis/x/v1/namespaces/ns/ys/z", "PATCH"},
	    {KUBE_DELETE, "/apis/batch/v1/namespaces/ns/jobs/j", "DELETE"},
	    {(enum kube_method)99, "/api/v1/pods", "OTHER"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *v = kube_verb(cases[i].m, cases[i].path);
		if (strcmp(v, cases[i].verb))
			fail_msg("%s: %s, not %s", cases[i].path, v, cases[i].verb);
	}
}

static void test_delete_body(void **state)
{
	struct buf b;
	buf_init(&b, BUF_UNLIMITED);
	struct kube_delete_opts none = {0};
	assert_int_equal(kube_delete_body(&b, &none), 0);
	assert_string_equal(buf_str(&b), "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\"}");
	buf_reset(&b);
	long zero = 0;
	struct kube_delete_opts all = {.propagation_policy = "Foreground",
				       .grace_period_seconds = &zero,
				       .precondition_uid = "u-1",
				       .precondition_resource_version = "42"};
	assert_int_equal(kube_delete_body(&b, &all), 0);
	assert_string_equal(
	    buf_str(&b), "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":"
			 "\"Foreground\",\"gracePeriodSeconds\":0,\"preconditions\":{\"uid\":"
			 "\"u-1\",\"resourceVersion\":\"42\"}}");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_get_sends_token_and_accept, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_accept_metadata, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_methods_and_content_types, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_error_status_is_parsed_and_kept, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_connection_refused, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_request_timeout, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_connection_reused, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_rate_limit_fifo, fx_setup_limited, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_exempt_request_overtakes_the_queue,
					    fx_setup_limited, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_queued_request, fx_setup_limited,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_stream_chunks_then_done_and_exempt,
					    fx_setup_limited, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_stream_from_its_data_callback, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_request_from_inside_a_stream_callback, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_stream_error_status_not_streamed, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_cancel_in_flight_from_timer, fx_setup,
					    fx_teardown),
	    cmocka_unit_test(test_body_cap),
	    cmocka_unit_test_setup_teardown(test_cancel_from_own_done_is_harmless, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_bad_requests_refused, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_dead_connection_fails_transfers_and_reconnects,
					    fx_setup_probing, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_slow_answer_on_live_connection_is_not_dead,
					    fx_setup_probing, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_quiet_stream_probed_after_idle, fx_setup_probing,
					    fx_teardown),
	    cmocka_unit_test(test_probing_off),
	    cmocka_unit_test(test_paths_and_queries),
	    cmocka_unit_test(test_delete_body),
	    cmocka_unit_test_setup_teardown(test_answers_counted_by_verb_and_code, fx_setup,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_failed_request_counted_as_code_0, fx_setup,
					    fx_teardown),
	    cmocka_unit_test(test_verbs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
