/* The controller's HTTP endpoint (/metrics, /healthz, /readyz): a small,
 * GET-only server on the event loop. libmicrohttpd does the HTTP parsing
 * (Debian's libmicrohttpd, a well-kept server library, rather than a
 * hand-written parser); it runs in external-epoll mode, so its epoll fd is
 * one of the loop's fds and its timeout one loop timer: no thread, and the
 * handlers read the controller's state without locks.
 *
 * Bounded: at most HTTPD_CONNECTIONS connections, HTTPD_TIMEOUT_S of
 * inactivity per connection, HTTPD_MEMORY bytes per connection for the
 * request line and headers (a longer request is refused by libmicrohttpd
 * with 431/413), no request body accepted. GET and HEAD only (405 with
 * Allow otherwise); an unknown path is 404.
 *
 * Ownership: httpd_start borrows the loop and copies the routes (paths are
 * copied; each handler's ud is borrowed and must outlive the server).
 * httpd_free closes every connection and the socket. A handler writes the
 * body into `out` (the server's buffer, sent and reset after it returns)
 * and returns the HTTP status. Loop thread only.
 */
#ifndef TAKT_HTTPD_HTTPD_H
#define TAKT_HTTPD_HTTPD_H

#include <stddef.h>

#include "base/buf.h"

struct loop;
struct httpd;

#define HTTPD_CONNECTIONS 16
#define HTTPD_TIMEOUT_S	  5
#define HTTPD_MEMORY	  (32u * 1024)

/* Returns the status; *content_type may be set (default text/plain). */
typedef int httpd_handler_fn(void *ud, struct buf *out, const char **content_type);

struct httpd_route {
	const char *path; /* exact match, e.g. "/metrics" */
	httpd_handler_fn *fn;
	void *ud;
};

/* addr: ":PORT" (every interface, IPv4 and IPv6), "HOST:PORT" with an IPv4
 * address, or "[IPv6]:PORT"; PORT 0 picks a free one (httpd_port tells).
 * 0, or -1 with err ("--http-addr \"x\": ..."). */
int httpd_start(struct loop *l, const char *addr, const struct httpd_route *routes, size_t n_routes,
		struct httpd **out, char *err, size_t errlen);
/* The port bound. */
int httpd_port(const struct httpd *h);
void httpd_free(struct httpd *h);

#endif
