/* The HTTP endpoint; see httpd.h. */
#include "httpd/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "base/errmsg.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "loop/loop.h"

#include "base/banned.h"

struct httpd {
	struct loop *loop;
	struct MHD_Daemon *d;
	int epoll_fd;
	int port;
	loop_timer_id timer;
	struct httpd_route *routes;
	size_t n_routes;
	struct buf body; /* the handler's output, reused */
};

static void drive(struct httpd *h);

static void on_timer(struct loop *l, loop_timer_id id, void *ud)
{
	struct httpd *h = ud;
	(void)l;
	(void)id;
	h->timer = 0;
	drive(h);
}

static void on_ready(struct loop *l, int fd, unsigned events, void *ud)
{
	(void)l;
	(void)fd;
	(void)events;
	drive(ud);
}

/* Lets libmicrohttpd do what is ready, then arms the loop timer at its
 * next deadline (a connection's timeout). */
static void drive(struct httpd *h)
{
	MHD_run(h->d);
	loop_timer_cancel(h->loop, h->timer);
	h->timer = 0;
	MHD_UNSIGNED_LONG_LONG ms;
	if (MHD_get_timeout(h->d, &ms) == MHD_YES)
		h->timer = loop_timer_after(h->loop, (int64_t)ms, on_timer, h);
}

static enum MHD_Result respond(struct MHD_Connection *conn, int status, const char *body,
			       size_t len, const char *type)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct httpd *h = cls;
	(void)version;
	(void)upload_data;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		static const char msg[] = "only GET and HEAD\n";
		return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, msg, sizeof(msg) - 1,
			       "text/plain; charset=utf-8");
	}
	/* A GET with a body: the body is not read, and not wanted. */
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	(void)con_cls;
	for (size_t i = 0; i < h->n_routes; i++) {
		if (strcmp(url, h->routes[i].path))
			continue;
		const char *type = "text/plain; charset=utf-8";
		buf_reset(&h->body);
		int status = h->routes[i].fn(h->routes[i].ud, &h->body, &type);
		return respond(conn, status, h->body.data ? h->body.data : "", h->body.len, type);
	}
	static const char nf[] = "not found\n";
	return respond(conn, MHD_HTTP_NOT_FOUND, nf, sizeof(nf) - 1, "text/plain; charset=utf-8");
}

/* Parses ":P", "A.B.C.D:P" or "[v6]:P" into sa. 0, or -1. */
static int parse_addr(const char *addr, struct sockaddr_in6 *sa6, struct sockaddr_in *sa4, bool *v6,
		      bool *any)
{
	const char *colon = strrchr(addr, ':');
	if (!colon || !colon[1])
		return -1;
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port > 65535)
		return -1;
	size_t hlen = (size_t)(colon - addr);
	char host[64];
	if (hlen >= sizeof(host))
		return -1;
	memcpy(host, addr, hlen);
	host[hlen] = 0;
	*any = hlen == 0;
	memset(sa6, 0, sizeof(*sa6));
	memset(sa4, 0, sizeof(*sa4));
	if (*any) {
		*v6 = true;
		sa6->sin6_family = AF_INET6;
		sa6->sin6_port = htons((uint16_t)port);
		sa6->sin6_addr = in6addr_any;
		return 0;
	}
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
		host[hlen - 1] = 0;
		*v6 = true;
		sa6->sin6_family = AF_INET6;
		sa6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &sa6->sin6_addr) == 1 ? 0 : -1;
	}
	*v6 = false;
	sa4->sin_family = AF_INET;
	sa4->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa4->sin_addr) == 1 ? 0 : -1;
}

int httpd_start(struct loop *l, const char *addr, const struct httpd_route *routes, size_t n_routes,
		struct httpd **out, char *err, size_t errlen)
{
	struct sockaddr_in6 sa6;
	struct sockaddr_in sa4;
	bool v6, any;
	*out = NULL;
	if (!addr || parse_addr(addr, &sa6, &sa4, &v6, &any) < 0) {
		errmsg_set(err, errlen,
			   "--http-addr \"%s\": expected :PORT, HOST:PORT (IPv4) or [IPv6]:PORT",
			   addr ? addr : "");
		return -1;
	}
	struct httpd *h = xcalloc(1, sizeof(*h));
	h->loop = l;
	h->routes = xcalloc(n_routes + 1, sizeof(*h->routes));
	for (size_t i = 0; i < n_routes; i++) {
		h->routes[i] = routes[i];
		h->routes[i].path = xstrdup(routes[i].path);
	}
	h->n_routes = n_routes;
	buf_init(&h->body, BUF_UNLIMITED);
	unsigned flags = MHD_USE_EPOLL | (any ? MHD_USE_DUAL_STACK : v6 ? MHD_USE_IPv6 : 0);
	h->d = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
	    v6 ? (struct sockaddr *)&sa6 : (struct sockaddr *)&sa4, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)HTTPD_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTPD_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_MEMORY, MHD_OPTION_END);
	if (!h->d) {
		errmsg_set(err, errlen, "--http-addr \"%s\": cannot listen: %s", addr,
			   strerror(errno ? errno : EADDRINUSE));
		httpd_free(h);
		return -1;
	}
	const union MHD_DaemonInfo *fdi = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	const union MHD_DaemonInfo *pi = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->epoll_fd = fdi ? fdi->epoll_fd : -1;
	h->port = pi ? pi->port : 0;
	if (h->epoll_fd < 0 || loop_fd_watch(l, h->epoll_fd, LOOP_READ, on_ready, h) < 0) {
		errmsg_set(err, errlen, "--http-addr \"%s\": cannot watch the server", addr);
		httpd_free(h);
		return -1;
	}
	LOG_INFO("http endpoint", "addr=%s port=%d", addr, h->port);
	*out = h;
	return 0;
}

int httpd_port(const struct httpd *h)
{
	return h->port;
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	if (h->d) {
		if (h->epoll_fd >= 0)
			loop_fd_unwatch(h->loop, h->epoll_fd);
		MHD_stop_daemon(h->d);
	}
	loop_timer_cancel(h->loop, h->timer);
	for (size_t i = 0; i < h->n_routes; i++)
		free((char *)h->routes[i].path);
	free(h->routes);
	buf_release(&h->body);
	free(h);
}
