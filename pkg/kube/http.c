/* The Kubernetes HTTP client on one curl multi handle; see http.h. curl's
 * socket and timer callbacks are wired to the event loop (the ephiperfifo
 * pattern): a transfer's sockets are watched by epoll and curl's single
 * timeout is one loop timer. Everything curl-specific stays in this file. */
#include "kube/http.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "kube/config.h"
#include "kube/ratelimit.h"
#include "loop/loop.h"
#include "base/banned.h"

#define DEFAULT_TIMEOUT_MS	   30000
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_BURST		   10
#define DEFAULT_MAX_BODY	   (64L << 20)
#define MAX_IDLE_EASY		   16
#define MESSAGE_EXCERPT		   1024
#define DEFAULT_STALL_MS	   3000
#define DEFAULT_IDLE_MS		   30000
#define DEFAULT_PROBE_TIMEOUT_MS   3000
#define DEFAULT_PROBE_PATH	   "/version"
#define DEAD_MESSAGE		   "connection to the apiserver is dead (no answer to a probe): dropped"

/* QUEUED: waiting for a rate-limit token; DEFERRED: to be handed to curl on
 * the next loop turn; ACTIVE: in curl; FINISHING: done or failed to start. */
enum req_state { REQ_QUEUED, REQ_DEFERRED, REQ_ACTIVE, REQ_FINISHING };

struct kube_req {
	struct kube_http *h;
	struct kube_req *prev, *next; /* all live requests of the client */
	CURL *easy;
	enum kube_method method;
	enum req_state state;
	char *path;
	char *url;
	char *body;
	size_t body_len;
	char *accept; /* NULL: application/json */
	long timeout_ms;
	kube_done_fn *done;
	kube_data_fn *on_data;
	void *ud;
	struct curl_slist *headers;
	struct buf resp;
	char errbuf[CURL_ERROR_SIZE];
	long status; /* cached once known, for the write callback */
	bool cancelled;
	bool in_done;
	bool overflow;
	bool body_detached;
	loop_timer_id kick_timer; /* a deferred start, or a failed one to report */
	int start_err;
	const char *fail_msg; /* with start_err: why (static) */
	int64_t started_ms;   /* monotonic, when handed to curl */
	const char *verb;     /* kube_verb's, for the answer counts */
	bool counted;	      /* its answer is in h->codes */
};

struct kube_http {
	struct loop *loop;
	struct kube_config *cfg;
	CURLM *multi;
	loop_timer_id curl_timer;
	loop_timer_id rl_timer;
	struct ratelimit_queue rlq;
	struct kube_http_opts opts;
	char *user_agent;
	struct kube_req *reqs;
	CURL *idle[MAX_IDLE_EASY];
	int idle_len;
	/* > 0 while curl is on the stack: curl_multi_remove_handle is refused
	 * from inside its callbacks, so cancellations wait for the sweep. */
	int in_curl;
	bool sweep_needed;
	struct kube_http_stats st;
	/* Dead-connection detection (see http.h). heard_ms: the last time
	 * anything was read from the server, or the start of the current busy
	 * spell (nothing was owed before it). The check timer runs while
	 * transfers are in flight. */
	int64_t heard_ms;
	loop_timer_id check_timer;
	struct kube_req *probe;
	int64_t probe_sent_ms;
	char *probe_path;
	/* Answers by verb and status (kube_http_codes). */
	struct kube_http_code codes[KUBE_HTTP_CODES_MAX];
	size_t n_codes;
};

static const char *const method_names[] = {
    [KUBE_GET] = "GET",		  [KUBE_POST] = "POST",	       [KUBE_PUT] = "PUT",
    [KUBE_PATCH_MERGE] = "PATCH", [KUBE_PATCH_JSON] = "PATCH", [KUBE_PATCH_STRATEGIC] = "PATCH",
    [KUBE_PATCH_APPLY] = "PATCH", [KUBE_DELETE] = "DELETE",
};

/* Counts r's answer once: when its headers end (a watch is counted when
 * its stream opens, not minutes later when it ends), else when it
 * completes (status 0: no answer). */
static void count_answer(struct kube_http *h, struct kube_req *r, long status)
{
	if (r->counted)
		return;
	r->counted = true;
	int st = status < 0 || status > 999 ? 0 : (int)status;
	size_t i = 0;
	while (i < h->n_codes && (h->codes[i].status != st || strcmp(h->codes[i].verb, r->verb)))
		i++;
	if (i == h->n_codes) {
		if (h->n_codes == KUBE_HTTP_CODES_MAX)
			i = KUBE_HTTP_CODES_MAX - 1; /* bounded: the rest share the last */
		else
			h->codes[h->n_codes++] =
			    (struct kube_http_code){.verb = r->verb, .status = st};
	}
	h->codes[i].n++;
}

const struct kube_http_code *kube_http_codes(const struct kube_http *h, size_t *n)
{
	*n = h->n_codes;
	return h->codes;
}

/* Whether a query parameter's value is a true bool as the apiserver reads
 * it ("1", "true", "t", any case). */
static bool query_true(const char *v, size_t len)
{
	static const char *const yes[] = {"1", "t", "true"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
		if (strlen(yes[i]) == len && !strncasecmp(v, yes[i], len))
			return true;
	return false;
}

/* Whether the query (after '?') asks for a watch. */
static bool query_watch(const char *q)
{
	while (q && *q) {
		const char *end = strchr(q, '&');
		size_t len = end ? (size_t)(end - q) : strlen(q);
		if (len > 6 && !strncmp(q, "watch=", 6) && query_true(q + 6, len - 6))
			return true;
		q = end ? end + 1 : NULL;
	}
	return false;
}

static bool seg_is(const char *seg, size_t len, const char *s)
{
	return strlen(s) == len && !strncmp(seg, s, len);
}

/* As the apiserver's RequestInfoFactory reads a path: /api/v1 or
 * /apis/<group>/<version>, then namespaces/<ns> (unless that is the
 * namespace itself, or its status or finalize), then the resource, and a
 * name when there is one. A GET without a name is a LIST, or a WATCH. */
const char *kube_verb(enum kube_method m, const char *path)
{
	if ((unsigned)m > (unsigned)KUBE_DELETE)
		return "OTHER";
	if (m != KUBE_GET)
		return method_names[m];
	if (!path)
		return "GET";
	const char *q = strchr(path, '?');
	size_t plen = q ? (size_t)(q - path) : strlen(path);
	/* Segments; a resource path has at most 8 (apis, group, version,
	 * namespaces, ns, resource, name, subresource). */
	const char *seg[9];
	size_t len[9], n = 0;
	for (size_t i = 0; i < plen && n < 9;) {
		while (i < plen && path[i] == '/')
			i++;
		size_t j = i;
		while (j < plen && path[j] != '/')
			j++;
		if (j > i) {
			seg[n] = path + i;
			len[n++] = j - i;
		}
		i = j;
	}
	size_t at;
	if (n >= 1 && seg_is(seg[0], len[0], "api"))
		at = 2;
	else if (n >= 1 && seg_is(seg[0], len[0], "apis"))
		at = 3;
	else
		return "GET"; /* not a resource: /version, /healthz */
	if (n <= at)
		return "GET"; /* discovery */
	if (seg_is(seg[at], len[at], "namespaces") && n - at > 2 &&
	    !seg_is(seg[at + 2], len[at + 2], "status") &&
	    !seg_is(seg[at + 2], len[at + 2], "finalize"))
		at += 2;
	if (n - at >= 2)
		return "GET"; /* a named object (or its subresource) */
	return q && query_watch(q + 1) ? "WATCH" : "LIST";
}

static const char *content_type(enum kube_method m)
{
	switch (m) {
	case KUBE_PATCH_MERGE:
		return "Content-Type: application/merge-patch+json";
	case KUBE_PATCH_JSON:
		return "Content-Type: application/json-patch+json";
	case KUBE_PATCH_STRATEGIC:
		return "Content-Type: application/strategic-merge-patch+json";
	case KUBE_PATCH_APPLY:
		return "Content-Type: application/apply-patch+yaml";
	default:
		return "Content-Type: application/json";
	}
}

/* ---- request bookkeeping ---- */

static void req_link(struct kube_http *h, struct kube_req *r)
{
	r->next = h->reqs;
	if (h->reqs)
		h->reqs->prev = r;
	h->reqs = r;
}

static void req_unlink(struct kube_http *h, struct kube_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		h->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static void easy_recycle(struct kube_http *h, CURL *e)
{
	if (!e)
		return;
	if (h->idle_len < MAX_IDLE_EASY) {
		curl_easy_reset(e);
		h->idle[h->idle_len++] = e;
	} else {
		curl_easy_cleanup(e);
	}
}

/* Removes the request from curl (if there) and frees it. Never called with
 * curl on the stack. */
static void req_destroy(struct kube_http *h, struct kube_req *r)
{
	if (r->easy) {
		if (r->state == REQ_ACTIVE) {
			curl_multi_remove_handle(h->multi, r->easy);
			h->st.in_flight--;
		}
		easy_recycle(h, r->easy);
	}
	loop_timer_cancel(h->loop, r->kick_timer);
	req_unlink(h, r);
	curl_slist_free_all(r->headers);
	buf_release(&r->resp);
	free(r->path);
	free(r->url);
	free(r->body);
	free(r->accept);
	free(r);
}

static void sweep_cancelled(struct kube_http *h)
{
	if (!h->sweep_needed || h->in_curl > 0)
		return;
	h->sweep_needed = false;
	struct kube_req *r = h->reqs, *next;
	for (; r; r = next) {
		next = r->next;
		if (r->cancelled && !r->in_done)
			req_destroy(h, r);
	}
}

/* ---- results ---- */

static const char *reason_for_status(long status)
{
	switch (status) {
	case 400:
		return "BadRequest";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "NotFound";
	case 405:
		return "MethodNotAllowed";
	case 406:
		return "NotAcceptable";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 413:
		return "RequestEntityTooLarge";
	case 415:
		return "UnsupportedMediaType";
	case 422:
		return "Invalid";
	case 429:
		return "TooManyRequests";
	case 500:
		return "InternalError";
	case 503:
		return "ServiceUnavailable";
	case 504:
		return "Timeout";
	default:
		return "Unknown";
	}
}

static int curl_to_errno(CURLcode c, bool overflow)
{
	switch (c) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_WRITE_ERROR:
		return overflow ? -EFBIG : -EIO;
	default:
		return -EIO;
	}
}

struct status_fields {
	char *reason;
	char *message;
	int code;
};

/* The apiserver's Status from an error body; a body that is not a Status
 * still yields a reason (from the HTTP status) and its start as message. */
static void parse_status(const char *body, size_t len, long http_status, struct status_fields *sf)
{
	sf->reason = NULL;
	sf->message = NULL;
	sf->code = (int)http_status;
	cJSON *j = cJSON_ParseWithLength(body, len);
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
	if (cJSON_IsString(kind) && strcmp(kind->valuestring, "Status") == 0) {
		const cJSON *reason = cJSON_GetObjectItemCaseSensitive(j, "reason");
		const cJSON *message = cJSON_GetObjectItemCaseSensitive(j, "message");
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "code");
		if (cJSON_IsString(reason))
			sf->reason = xstrdup(reason->valuestring);
		if (cJSON_IsString(message))
			sf->message = xstrdup(message->valuestring);
		if (cJSON_IsNumber(code))
			sf->code = code->valueint;
	} else {
		sf->message = xstrndup(body, len < MESSAGE_EXCERPT ? len : MESSAGE_EXCERPT);
	}
	if (!sf->reason || !sf->reason[0]) {
		free(sf->reason);
		sf->reason = xstrdup(reason_for_status(http_status));
	}
	if (!sf->message)
		sf->message = xstrdup("");
	cJSON_Delete(j);
}

static void req_complete(struct kube_http *h, struct kube_req *r, CURLcode cc)
{
	struct kube_result res;
	struct status_fields sf = {NULL, NULL, 0};
	long status = r->status;
	long connects = 0;

	if (r->easy) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
			h->st.connects += (uint64_t)connects;
		curl_multi_remove_handle(h->multi, r->easy);
		h->st.in_flight--;
		easy_recycle(h, r->easy);
		r->easy = NULL;
	}
	r->state = REQ_FINISHING;
	if (!r->cancelled)
		count_answer(h, r, status);
	if (r->cancelled) {
		req_destroy(h, r);
		return;
	}
	memset(&res, 0, sizeof(res));
	res.status = (int)status;
	res.err = r->start_err ? r->start_err : curl_to_errno(cc, r->overflow);
	res.body = buf_str(&r->resp);
	res.body_len = r->resp.len;
	res.reason = "";
	res.message = "";
	res.transport_error = "";
	if (res.err) {
		if (r->start_err)
			res.transport_error =
			    r->fail_msg ? r->fail_msg : "could not set up the request";
		else if (r->overflow)
			res.transport_error = "response body larger than max_body";
		else
			res.transport_error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc);
	}
	if (status >= 400) {
		parse_status(res.body, res.body_len, status, &sf);
		res.reason = sf.reason;
		res.message = sf.message;
		res.code = sf.code;
	}
	h->st.requests_done++;
	r->in_done = true;
	r->done(r, &res, r->ud);
	r->in_done = false;
	free(sf.reason);
	free(sf.message);
	req_destroy(h, r);
}

/* ---- curl glue: socket and timer callbacks ---- */

static void check_multi_info(struct kube_http *h)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(h->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct kube_req *r = NULL;
		CURLcode cc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r)
			req_complete(h, r, cc);
		else
			takt_bug(__FILE__, __LINE__, "a curl transfer without its request");
	}
	sweep_cancelled(h);
}

static void socket_action(struct kube_http *h, curl_socket_t s, int flags)
{
	int running;
	h->in_curl++;
	curl_multi_socket_action(h->multi, s, flags, &running);
	h->in_curl--;
	check_multi_info(h);
}

static void on_socket_ready(struct loop *l, int fd, unsigned events, void *ud)
{
	struct kube_http *h = ud;
	int flags = 0;
	if (events & LOOP_READ) {
		/* Bytes (or a FIN) from the server: the connection lives. With
		 * HTTP/2 there is one connection, so any read is about it. */
		h->heard_ms = loop_now_monotonic_ms();
		flags |= CURL_CSELECT_IN;
	}
	if (events & LOOP_WRITE)
		flags |= CURL_CSELECT_OUT;
	if (events & LOOP_ERROR)
		flags |= CURL_CSELECT_ERR;
	socket_action(h, fd, flags);
}

static int curl_socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct kube_http *h = userp;
	if (what == CURL_POLL_REMOVE) {
		loop_fd_unwatch(h->loop, s);
		return 0;
	}
	unsigned ev = 0;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= LOOP_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= LOOP_WRITE;
	if (loop_fd_watch(h->loop, s, ev, on_socket_ready, h) < 0)
		return -1;
	return 0;
}

static void on_curl_timer(struct loop *l, loop_timer_id id, void *ud)
{
	struct kube_http *h = ud;
	h->curl_timer = 0;
	socket_action(h, CURL_SOCKET_TIMEOUT, 0);
}

/* curl asks for one timer; calling back into curl from here is not allowed,
 * so even "now" (0 ms) goes through the loop. */
static int curl_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct kube_http *h = userp;
	loop_timer_cancel(h->loop, h->curl_timer);
	h->curl_timer = 0;
	if (timeout_ms >= 0)
		h->curl_timer = loop_timer_after(h->loop, timeout_ms, on_curl_timer, h);
	return 0;
}

/* Each header line; the blank one ends a block. The first block of 2xx
 * or more (1xx ones come before it) is the answer: counted now. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct kube_req *r = ud;
	size_t n = size * nmemb;
	if (!r->counted && (n == 0 || ptr[0] == '\r' || ptr[0] == '\n')) {
		long st = 0;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
		if (st >= 200)
			count_answer(r->h, r, st);
	}
	return n;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct kube_req *r = ud;
	size_t n = size * nmemb;
	if (r->cancelled)
		return 0;
	if (r->status == 0)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->on_data && r->status >= 200 && r->status < 300) {
		r->on_data(r, ptr, n, r->ud);
		/* Cancelled from its own callback: stop reading; the sweep
		 * frees it once curl has returned. */
		return r->cancelled ? 0 : n;
	}
	if (buf_add(&r->resp, ptr, n) < 0) {
		r->overflow = true;
		return 0;
	}
	return n;
}

/* ---- starting requests ---- */

/* A request that failed outside curl (could not start, or its connection
 * was found dead) is reported from the loop, never from the call that
 * failed it. */
static void on_start_failed(struct loop *l, loop_timer_id id, void *ud)
{
	struct kube_req *r = ud;
	r->kick_timer = 0;
	req_complete(r->h, r, CURLE_FAILED_INIT);
}

static void req_start(struct kube_http *h, struct kube_req *r);

/* ---- dead connections ----
 * libcurl 7.88 sends HTTP/2 PINGs from curl_easy_upkeep but never says
 * whether one was answered, and TCP keepalive never fires while sent data
 * is unacknowledged; so the probe is a request of our own, and the proof of
 * life is any byte read from the server (an answer to the probe, a watch
 * event, a response to anything). */

static void multi_setup(struct kube_http *h);
static void on_check(struct loop *l, loop_timer_id id, void *ud);

static bool detection_on(const struct kube_http *h)
{
	return h->opts.stall_ms > 0;
}

static void check_arm(struct kube_http *h)
{
	if (!detection_on(h) || h->check_timer || h->st.in_flight == 0)
		return;
	/* Ticks at a quarter of the shortest deadline: a dead connection is
	 * found within stall + probe timeout plus a quarter of either. */
	long t = h->opts.stall_ms < h->opts.probe_timeout_ms ? h->opts.stall_ms
							     : h->opts.probe_timeout_ms;
	t /= 4;
	h->check_timer = loop_timer_after(h->loop, t < 50 ? 50 : t, on_check, h);
}

static void on_probe_done(struct kube_req *req, const struct kube_result *res, void *ud)
{
	struct kube_http *h = ud;
	if (h->probe == req)
		h->probe = NULL;
	/* An answer was a read (heard_ms moved); a failure is judged by the
	 * check, which looks at what was read, not at this answer. */
	if (res->err)
		LOG_DEBUG("apiserver probe failed", "err=%d %s", res->err, res->transport_error);
}

static void send_probe(struct kube_http *h, int64_t now)
{
	struct kube_req_opts o = {
	    .method = KUBE_GET,
	    .path = h->probe_path,
	    /* Its own deadline only guards against a probe outliving the
	     * check's verdict; the check decides first. */
	    .timeout_ms = 2 * h->opts.probe_timeout_ms,
	    .done = on_probe_done,
	    .ud = h,
	    .exempt = 1,
	};
	h->probe_sent_ms = now;
	h->st.probes++;
	if (kube_http_request(h, &o, &h->probe) < 0)
		h->probe = NULL;
}

/* Fails every transfer in curl with -ETIMEDOUT and replaces the multi
 * handle, which closes its connections: requests made from here on (the
 * owners' retries among them) open a new one. */
static void drop_connections(struct kube_http *h, int64_t now)
{
	LOG_WARN("apiserver connection dead: reconnecting", "silent_ms=%lld in_flight=%llu",
		 (long long)(now - h->heard_ms), (unsigned long long)h->st.in_flight);
	h->st.dead++;
	h->probe = NULL;
	for (struct kube_req *r = h->reqs, *next; r; r = next) {
		next = r->next;
		if (r->state != REQ_ACTIVE)
			continue;
		if (r->status == 0)
			curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
		curl_multi_remove_handle(h->multi, r->easy);
		h->st.in_flight--;
		easy_recycle(h, r->easy);
		r->easy = NULL;
		r->state = REQ_FINISHING;
		if (r->cancelled) {
			req_destroy(h, r);
			continue;
		}
		r->start_err = -ETIMEDOUT;
		r->fail_msg = DEAD_MESSAGE;
		r->kick_timer = loop_timer_after(h->loop, 0, on_start_failed, r);
	}
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, NULL);
	curl_multi_cleanup(h->multi);
	loop_timer_cancel(h->loop, h->curl_timer);
	h->curl_timer = 0;
	h->multi = curl_multi_init();
	/* Only out of memory fails here, which xalloc treats as fatal too. */
	BUG_ON(!h->multi);
	multi_setup(h);
	h->heard_ms = now;
}

static void on_check(struct loop *l, loop_timer_id id, void *ud)
{
	struct kube_http *h = ud;
	int64_t now = loop_now_monotonic_ms();
	h->check_timer = 0;
	if (h->st.in_flight == 0)
		return;
	int64_t silent = now - h->heard_ms;
	if (h->probe) {
		if (h->heard_ms < h->probe_sent_ms &&
		    now - h->probe_sent_ms >= h->opts.probe_timeout_ms)
			drop_connections(h, now);
	} else if (silent >= h->opts.stall_ms) {
		/* A request waiting that long with nothing read: ask. Only
		 * streams open: they may be quiet for long, ask less often. */
		bool waiting = silent >= h->opts.idle_ms;
		for (struct kube_req *r = h->reqs; r && !waiting; r = r->next)
			waiting = r->state == REQ_ACTIVE && !r->on_data && !r->cancelled &&
				  now - r->started_ms >= h->opts.stall_ms;
		if (waiting)
			send_probe(h, now);
	}
	check_arm(h);
}

static void on_deferred_start(struct loop *l, loop_timer_id id, void *ud)
{
	struct kube_req *r = ud;
	r->kick_timer = 0;
	if (r->cancelled)
		req_destroy(r->h, r);
	else
		req_start(r->h, r);
}

/* The PEM blobs belong to the config, which outlives every easy handle (it
 * is borrowed for the client's life): curl may point at them instead of
 * copying them into each transfer, a few KB per request in flight. */
static int set_blob(CURL *e, CURLoption opt, const void *data, size_t len)
{
	struct curl_blob blob = {(void *)data, len, CURL_BLOB_NOCOPY};
	return curl_easy_setopt(e, opt, &blob) == CURLE_OK ? 0 : -1;
}

static int easy_setup(struct kube_http *h, struct kube_req *r)
{
	CURL *e = r->easy;
	size_t len;
	const void *blob;
	int bad = 0;

	bad |= curl_easy_setopt(e, CURLOPT_URL, r->url);
	bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
	bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->opts.connect_timeout_ms);
	bad |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	bad |= curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	/* With HTTP/2, wait for the existing connection's multiplexing answer
	 * rather than opening a second connection. */
	bad |= curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	bad |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	/* Request bodies are a few KB (a Job, a patch): curl's default 64 KB
	 * upload buffer, one per transfer in flight, was most of the
	 * controller's heap when a hundred Job POSTs were on their way. 16 KB
	 * is curl's minimum. */
	bad |= curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (r->timeout_ms > 0)
		bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);

	if ((blob = kube_config_ca(h->cfg, &len)))
		bad |= set_blob(e, CURLOPT_CAINFO_BLOB, blob, len);
	if ((blob = kube_config_client_cert(h->cfg, &len))) {
		bad |= set_blob(e, CURLOPT_SSLCERT_BLOB, blob, len);
		bad |= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if ((blob = kube_config_client_key(h->cfg, &len))) {
		bad |= set_blob(e, CURLOPT_SSLKEY_BLOB, blob, len);
		bad |= curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (kube_config_insecure(h->cfg)) {
		bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}

	if (r->accept) {
		struct buf acc;
		buf_init(&acc, BUF_UNLIMITED);
		buf_addf(&acc, "Accept: %s", r->accept);
		r->headers = curl_slist_append(r->headers, buf_str(&acc));
		buf_release(&acc);
	} else {
		r->headers = curl_slist_append(r->headers, "Accept: application/json");
	}
	/* No "Expect: 100-continue" round trip before a body. */
	r->headers = curl_slist_append(r->headers, "Expect:");
	if (r->body)
		r->headers = curl_slist_append(r->headers, content_type(r->method));
	const char *token = kube_config_token(h->cfg);
	if (token) {
		struct buf auth;
		buf_init(&auth, BUF_UNLIMITED);
		buf_addf(&auth, "Authorization: Bearer %s", token);
		r->headers = curl_slist_append(r->headers, buf_str(&auth));
		explicit_bzero(auth.data, auth.len);
		buf_release(&auth);
	}
	bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);

	if (r->method != KUBE_GET && r->method != KUBE_POST)
		bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method_names[r->method]);
	if (r->body || r->method == KUBE_POST) {
		bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
	}
	return bad ? -1 : 0;
}

static void req_start(struct kube_http *h, struct kube_req *r)
{
	if (h->in_curl > 0) {
		/* Submitted from inside a curl callback (a watch's on_data):
		 * curl refuses to take new handles there. */
		r->state = REQ_DEFERRED;
		r->kick_timer = loop_timer_after(h->loop, 0, on_deferred_start, r);
		return;
	}
	r->easy = h->idle_len > 0 ? h->idle[--h->idle_len] : curl_easy_init();
	if (!r->easy || easy_setup(h, r) < 0 || curl_multi_add_handle(h->multi, r->easy)) {
		/* Reported like any other failure, from the loop: the caller's
		 * callback never runs inside kube_http_request. */
		LOG_ERROR("could not start request", "path=%s", r->path);
		easy_recycle(h, r->easy);
		r->easy = NULL;
		r->start_err = -EIO;
		r->state = REQ_FINISHING;
		r->kick_timer = loop_timer_after(h->loop, 0, on_start_failed, r);
		return;
	}
	r->state = REQ_ACTIVE;
	r->started_ms = loop_now_monotonic_ms();
	h->st.requests_started++;
	if (h->st.in_flight++ == 0)
		h->heard_ms = r->started_ms; /* a busy spell starts: nothing was owed before */
	check_arm(h);
}

static void on_rl_timer(struct loop *l, loop_timer_id id, void *ud);

static void pump_queue(struct kube_http *h)
{
	int64_t wait;
	struct kube_req *r;
	while ((r = ratelimit_queue_pop(&h->rlq, loop_now_monotonic_ms(), &wait)))
		req_start(h, r);
	if (wait > 0 && h->rl_timer == 0)
		h->rl_timer = loop_timer_after(h->loop, wait, on_rl_timer, h);
}

static void on_rl_timer(struct loop *l, loop_timer_id id, void *ud)
{
	struct kube_http *h = ud;
	h->rl_timer = 0;
	pump_queue(h);
}

/* ---- public API ---- */

static void multi_setup(struct kube_http *h)
{
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
}

int kube_http_new(struct loop *loop, struct kube_config *cfg, const struct kube_http_opts *opts,
		  struct kube_http **out)
{
	static bool curl_ready;
	*out = NULL;
	if (!loop || !cfg || !kube_config_server(cfg))
		return -EINVAL;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -EIO;
		curl_ready = true;
	}
	struct kube_http *h = xcalloc(1, sizeof(*h));
	h->loop = loop;
	h->cfg = cfg;
	if (opts)
		h->opts = *opts;
	if (h->opts.burst <= 0)
		h->opts.burst = DEFAULT_BURST;
	if (h->opts.timeout_ms == 0)
		h->opts.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (h->opts.connect_timeout_ms <= 0)
		h->opts.connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	if (h->opts.max_body <= 0)
		h->opts.max_body = DEFAULT_MAX_BODY;
	if (h->opts.stall_ms == 0)
		h->opts.stall_ms = DEFAULT_STALL_MS;
	if (h->opts.idle_ms <= 0)
		h->opts.idle_ms = DEFAULT_IDLE_MS;
	if (h->opts.probe_timeout_ms <= 0)
		h->opts.probe_timeout_ms = DEFAULT_PROBE_TIMEOUT_MS;
	h->probe_path = xstrdup(h->opts.probe_path ? h->opts.probe_path : DEFAULT_PROBE_PATH);
	h->opts.probe_path = NULL;
	h->user_agent = xstrdup(h->opts.user_agent ? h->opts.user_agent : "takt/0.1");
	h->opts.user_agent = NULL;
	ratelimit_queue_init(&h->rlq, h->opts.qps, h->opts.burst, loop_now_monotonic_ms());
	h->multi = curl_multi_init();
	if (!h->multi) {
		kube_http_free(h);
		return -EIO;
	}
	multi_setup(h);
	*out = h;
	return 0;
}

void kube_http_free(struct kube_http *h)
{
	if (!h)
		return;
	BUG_ON(h->in_curl > 0);
	while (h->reqs)
		req_destroy(h, h->reqs);
	loop_timer_cancel(h->loop, h->rl_timer);
	loop_timer_cancel(h->loop, h->check_timer);
	for (int i = 0; i < h->idle_len; i++)
		curl_easy_cleanup(h->idle[i]);
	/* Cleanup closes the cached connections, calling the socket callback
	 * to unwatch their fds; a timer it might still ask for would outlive h. */
	if (h->multi) {
		curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, NULL);
		curl_multi_cleanup(h->multi);
	}
	loop_timer_cancel(h->loop, h->curl_timer);
	ratelimit_queue_release(&h->rlq);
	free(h->user_agent);
	free(h->probe_path);
	free(h);
}

int kube_http_request(struct kube_http *h, const struct kube_req_opts *o, struct kube_req **out)
{
	if (out)
		*out = NULL;
	if (!o || !o->path || o->path[0] != '/' || !o->done ||
	    (unsigned)o->method > (unsigned)KUBE_DELETE)
		return -EINVAL;
	struct kube_req *r = xcalloc(1, sizeof(*r));
	r->h = h;
	r->method = o->method;
	r->path = xstrdup(o->path);
	r->verb = kube_verb(o->method, o->path);
	struct buf url;
	buf_init(&url, BUF_UNLIMITED);
	buf_addf(&url, "%s%s", kube_config_server(h->cfg), o->path);
	r->url = buf_detach(&url, NULL);
	if (o->body) {
		r->body = xmalloc(o->body_len + 1);
		memcpy(r->body, o->body, o->body_len);
		r->body[o->body_len] = '\0';
		r->body_len = o->body_len;
	}
	/* A header value: one line, nothing that could end it. */
	if (o->accept && !strpbrk(o->accept, "\r\n"))
		r->accept = xstrdup(o->accept);
	r->done = o->done;
	r->on_data = o->on_data;
	r->ud = o->ud;
	if (o->timeout_ms != 0)
		r->timeout_ms = o->timeout_ms;
	else
		r->timeout_ms = o->on_data ? -1 : h->opts.timeout_ms;
	buf_init(&r->resp, (size_t)h->opts.max_body);
	r->state = REQ_QUEUED;
	req_link(h, r);
	if (out)
		*out = r;
	if (o->on_data) {
		/* Watches are long-lived and exempt, as in client-go. */
		req_start(h, r);
		return 0;
	}
	if (o->exempt) {
		/* Counted against the bucket when it has a token, so the others
		 * still see the overall rate; never waits for one. */
		ratelimit_try_take(&h->rlq.rl, loop_now_monotonic_ms());
		req_start(h, r);
		return 0;
	}
	ratelimit_queue_push(&h->rlq, r);
	pump_queue(h);
	if (r->state == REQ_QUEUED)
		h->st.requests_queued++;
	return 0;
}

void kube_req_cancel(struct kube_req *r)
{
	/* From its own done callback it is already finishing: nothing to do. */
	if (!r || r->cancelled || r->in_done)
		return;
	struct kube_http *h = r->h;
	r->cancelled = true;
	if (r->state == REQ_QUEUED) {
		ratelimit_queue_remove(&h->rlq, r);
		req_destroy(h, r);
		return;
	}
	h->sweep_needed = true;
	sweep_cancelled(h);
}

char *kube_req_detach_body(struct kube_req *r, size_t *len)
{
	BUG_ON(!r->in_done);
	return buf_detach(&r->resp, len);
}

const char *kube_req_path(const struct kube_req *r)
{
	return r->path;
}

void kube_http_stats(const struct kube_http *h, struct kube_http_stats *st)
{
	*st = h->st;
	st->waiting = ratelimit_queue_len(&h->rlq);
}

/* ---- blocking convenience ---- */

struct sync_ctx {
	struct kube_response *resp;
	bool done;
};

static void on_sync_done(struct kube_req *req, const struct kube_result *res, void *ud)
{
	struct sync_ctx *s = ud;
	struct kube_response *o = s->resp;
	o->status = res->status;
	o->err = res->err;
	o->body = kube_req_detach_body(req, &o->body_len);
	o->reason = xstrdup(res->reason);
	o->message = xstrdup(res->message);
	o->code = res->code;
	o->transport_error = xstrdup(res->transport_error);
	s->done = true;
}

int kube_http_do(struct kube_http *h, enum kube_method m, const char *path, const char *body,
		 size_t body_len, struct kube_response *resp)
{
	struct sync_ctx s = {resp, false};
	memset(resp, 0, sizeof(*resp));
	struct kube_req_opts o = {
	    .method = m,
	    .path = path,
	    .body = body,
	    .body_len = body_len,
	    .done = on_sync_done,
	    .ud = &s,
	};
	int rc = kube_http_request(h, &o, NULL);
	if (rc < 0)
		return rc;
	while (!s.done) {
		rc = loop_run_once(h->loop, -1);
		BUG_ON(rc < 0); /* epoll itself failing leaves nothing to recover */
	}
	return 0;
}

void kube_response_release(struct kube_response *resp)
{
	free(resp->body);
	free(resp->reason);
	free(resp->message);
	free(resp->transport_error);
	memset(resp, 0, sizeof(*resp));
}

/* ---- paths and bodies ---- */

int kube_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int rc;
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			rc = buf_addc(out, (char)*p);
		} else {
			char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			rc = buf_add(out, enc, 3);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int add_segment(struct buf *out, const char *seg)
{
	int rc = buf_addc(out, '/');
	return rc < 0 ? rc : kube_escape(out, seg);
}

int kube_path(struct buf *out, const char *group, const char *version, const char *ns,
	      const char *resource, const char *name, const char *subresource)
{
	int rc;
	if (group && *group)
		rc = buf_addf(out, "/apis/%s/%s", group, version);
	else
		rc = buf_addf(out, "/api/%s", version && *version ? version : "v1");
	if (rc == 0 && ns && *ns) {
		rc = buf_adds(out, "/namespaces");
		if (rc == 0)
			rc = add_segment(out, ns);
	}
	if (rc == 0 && resource && *resource)
		rc = add_segment(out, resource);
	if (rc == 0 && name && *name)
		rc = add_segment(out, name);
	if (rc == 0 && subresource && *subresource)
		rc = add_segment(out, subresource);
	return rc;
}

int kube_query_add(struct buf *out, const char *key, const char *value)
{
	int rc = buf_addc(out, memchr(buf_str(out), '?', out->len) ? '&' : '?');
	if (rc == 0)
		rc = kube_escape(out, key);
	if (rc == 0)
		rc = buf_addc(out, '=');
	if (rc == 0)
		rc = kube_escape(out, value ? value : "");
	return rc;
}

int kube_delete_body(struct buf *out, const struct kube_delete_opts *o)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "kind", "DeleteOptions");
	cJSON_AddStringToObject(j, "apiVersion", "v1");
	if (o && o->propagation_policy)
		cJSON_AddStringToObject(j, "propagationPolicy", o->propagation_policy);
	if (o && o->grace_period_seconds)
		cJSON_AddNumberToObject(j, "gracePeriodSeconds", (double)*o->grace_period_seconds);
	if (o && (o->precondition_uid || o->precondition_resource_version)) {
		cJSON *pre = cJSON_AddObjectToObject(j, "preconditions");
		if (o->precondition_uid)
			cJSON_AddStringToObject(pre, "uid", o->precondition_uid);
		if (o->precondition_resource_version)
			cJSON_AddStringToObject(pre, "resourceVersion",
						o->precondition_resource_version);
	}
	char *txt = cJSON_PrintUnformatted(j);
	int rc = buf_adds(out, txt);
	free(txt);
	cJSON_Delete(j);
	return rc;
}

static int transport_request(void *ctx, const struct kube_req_opts *o, struct kube_req **out)
{
	return kube_http_request(ctx, o, out);
}

static void transport_cancel(void *ctx, struct kube_req *r)
{
	(void)ctx;
	kube_req_cancel(r);
}

struct kube_transport kube_transport_http(struct kube_http *h)
{
	return (struct kube_transport){transport_request, transport_cancel, h};
}
