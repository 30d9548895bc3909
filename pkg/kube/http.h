/* The Kubernetes HTTP client: asynchronous, on one curl multi handle driven
 * by the event loop (curl's socket and timer callbacks, the ephiperfifo
 * pattern). Connections are kept alive and reused by the multi handle's
 * connection cache (HTTP/2 over TLS when the server offers it, so many
 * requests and watches share one connection). TLS is verified unless the
 * kubeconfig says insecure-skip-tls-verify.
 *
 * Every request ends in exactly one `done` callback (unless cancelled, see
 * kube_req_cancel) with a struct kube_result: the HTTP status, the body, and
 * for failures the apiserver's Status reason/message/code parsed from the
 * body — never thrown away. Transport failures (connect refused, TLS,
 * timeout) have err < 0 and curl's message, and status 0 unless headers had
 * already arrived (a stream cut midway keeps its 200).
 *
 * A dead connection (its packets dropped: a NAT or load balancer that forgot
 * it, a peer gone without a FIN) is found within seconds, as client-go finds
 * it with its HTTP/2 read-idle PING: when a request has waited stall_ms (or
 * only streams are open and idle_ms passed) and nothing at all arrived from
 * the server meanwhile, the client sends a probe (a GET of probe_path, on the
 * shared connection). When nothing arrives within probe_timeout_ms of it
 * either, every transfer in flight fails with -ETIMEDOUT ("connection to the
 * apiserver is dead"), the connections are closed, and later requests open
 * a new one. The owners retry as after any timeout: watches relist or
 * rewatch; a POST that got no answer may have been applied.
 *
 * Rate limiting: a token bucket (qps, burst) shared by all requests of a
 * client; requests that find no token wait in FIFO order. Streaming requests
 * (watches) and requests marked `exempt` never wait.
 *
 * Requests may be submitted and cancelled from any callback, including a
 * stream's on_data (curl is then on the stack: the start is deferred to the
 * next loop turn, invisibly to the caller).
 *
 * Streaming (watches): with `on_data` set, a 2xx response body is delivered
 * chunk by chunk as it arrives (not split into lines — the reflector does
 * that) and `done` runs when the stream ends, with an empty body. A non-2xx
 * response is not streamed: its body is collected and given to `done` with
 * the Status parsed (e.g. 403 Forbidden). Note that the apiserver reports an
 * expired resourceVersion on an established watch as a 200 stream carrying
 * one {"type":"ERROR","object":{"kind":"Status","code":410,...}} event —
 * that arrives through on_data like any event.
 *
 * Ownership: kube_http_new borrows the loop and the config, which must
 * outlive the client; kube_http_free cancels in-flight requests without
 * calling their callbacks. A struct kube_req is owned by the client: the
 * handle the caller gets is valid until its `done` callback returns or until
 * kube_req_cancel. Everything in a kube_result is borrowed for the duration
 * of the callback; keep the body with kube_req_detach_body. Request options
 * (path, body) are copied at submission.
 * All functions are called from the loop's thread.
 */
#ifndef TAKT_KUBE_HTTP_H
#define TAKT_KUBE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct loop;
struct kube_config;
struct kube_http;
struct kube_req;

enum kube_method {
	KUBE_GET = 0,
	KUBE_POST,
	KUBE_PUT,
	KUBE_PATCH_MERGE,     /* application/merge-patch+json */
	KUBE_PATCH_JSON,      /* application/json-patch+json */
	KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
	KUBE_PATCH_APPLY,     /* application/apply-patch+yaml (put fieldManager in the query) */
	KUBE_DELETE,
};

struct kube_result {
	/* HTTP status; 0 when no response header arrived (see err). */
	int status;
	/* 0 when the response arrived complete (whatever its status); else
	 * negative: -ETIMEDOUT (the request's timeout, or its connection found
	 * dead: see transport_error), -ECONNREFUSED,
	 * -EFBIG (body over max_body), -EIO (other transport or TLS failures;
	 * also a stream the server cut). status may be set with err < 0 when
	 * the failure came after the headers (a watch that timed out). */
	int err;
	/* The response body (NUL-terminated; "" when empty). For a streamed
	 * 2xx response it is empty: the chunks went to on_data. */
	const char *body;
	size_t body_len;
	/* For status >= 400: the apiserver's Status fields. When the body is not a Status (a
	 * proxy's HTML page), reason is derived from the HTTP status as client-go does
	 * ("NotFound", "Conflict", ...) and message is the start of the body.
	 * Empty strings, never NULL, when there is nothing. */
	const char *reason;
	const char *message;
	int code;
	/* curl's message for transport failures; "" otherwise. */
	const char *transport_error;
};

typedef void kube_done_fn(struct kube_req *req, const struct kube_result *res, void *ud);
/* A chunk of a streamed 2xx body, borrowed for the call. Calling
 * kube_req_cancel(req) from here is allowed. */
typedef void kube_data_fn(struct kube_req *req, const char *data, size_t len, void *ud);

struct kube_http_opts {
	double qps;		 /* <= 0: unlimited. client-go's default is 5 */
	int burst;		 /* default 10 when 0 */
	long timeout_ms;	 /* default per-request timeout; 0: 30000 */
	long connect_timeout_ms; /* 0: 10000 */
	const char *user_agent;	 /* NULL: "takt/<version>" */
	long max_body;		 /* cap on a collected body, bytes; 0: 64 MiB */
	/* Dead-connection detection (above). 0: the defaults 3000, 30000,
	 * 3000 ms and "/version" (readable by everyone: the
	 * system:public-info-viewer role); stall_ms < 0 turns it off. */
	long stall_ms;
	long idle_ms;
	long probe_timeout_ms;
	const char *probe_path;
};

/* Returns 0, or a negative errno (-EINVAL for a config without a server). */
int kube_http_new(struct loop *loop, struct kube_config *cfg, const struct kube_http_opts *opts,
		  struct kube_http **out);
void kube_http_free(struct kube_http *h);

struct kube_req_opts {
	enum kube_method method;
	/* The path and query, starting with '/': "/api/v1/namespaces/x/pods?
	 * labelSelector=..." (build it with kube_path/kube_query_add). */
	const char *path;
	/* Request body, copied; NULL for none. Content-Type follows the method
	 * (application/json for POST/PUT/DELETE). */
	const char *body;
	size_t body_len;
	/* Per-request timeout in ms; 0: the client's default; < 0: none (the
	 * default for streaming requests). */
	long timeout_ms;
	kube_done_fn *done;    /* required */
	kube_data_fn *on_data; /* non-NULL: streaming mode, rate-limit exempt */
	void *ud;
	/* Skip the rate-limit queue (it still spends a token when one is
	 * there): for the few writes that must leave at an instant, such as a
	 * Job created at its fire time, or a lease renewal. */
	int exempt;
	/* The Accept header; NULL: "application/json". A reflector that
	 * needs only metadata asks for KUBE_ACCEPT_METADATA. Copied. */
	const char *accept;
};

/* Objects as PartialObjectMetadata: apiVersion, kind and metadata, no
 * spec, no status (the apiserver has served it since 1.15). A watch asks
 * for PartialObjectMetadata (its events carry them), a list for
 * PartialObjectMetadataList: the apiserver answers 406 to the other. */
#define KUBE_ACCEPT_METADATA	  "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
#define KUBE_ACCEPT_METADATA_LIST "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"

/* Queues a request. *out (optional) receives its handle. Returns 0, or
 * -EINVAL for a missing path/done. The callback never runs before this
 * returns. */
int kube_http_request(struct kube_http *h, const struct kube_req_opts *o, struct kube_req **out);

/* Stops a request (queued, in flight, or streaming): its callbacks never run
 * again and the handle is invalid once this returns. Safe from any callback,
 * including the request's own on_data; from its own done it does nothing
 * (the request is finishing anyway). */
void kube_req_cancel(struct kube_req *r);

/* During `done` only: takes the body (caller frees it), leaving the result's
 * body pointer dangling for the rest of the callback. *len may be NULL. */
char *kube_req_detach_body(struct kube_req *r, size_t *len);
/* The path (and query) the request was made with, borrowed from it. */
const char *kube_req_path(const struct kube_req *r);

/* The blocking convenience for the CLI and tests: submits one request and
 * runs the loop (other watches keep being served) until it completes.
 * Must not be called from a loop callback. */
struct kube_response {
	int status;
	int err;
	char *body; /* owned, NUL-terminated */
	size_t body_len;
	char *reason; /* owned, "" when none */
	char *message;
	int code;
	char *transport_error;
};
/* Returns 0 once the request completed, whatever its outcome (see
 * resp->status and resp->err), or -EINVAL; resp is then the caller's to
 * release with kube_response_release. */
int kube_http_do(struct kube_http *h, enum kube_method m, const char *path, const char *body,
		 size_t body_len, struct kube_response *resp);
void kube_response_release(struct kube_response *resp);

struct kube_http_stats {
	uint64_t requests_started; /* handed to curl */
	uint64_t requests_done;	   /* done callbacks run */
	uint64_t requests_queued;  /* ever had to wait for a token */
	uint64_t connects;	   /* new connections curl made (CURLINFO_NUM_CONNECTS) */
	uint64_t in_flight;	   /* now */
	uint64_t waiting;	   /* now, in the rate-limit queue */
	uint64_t probes;	   /* dead-connection probes sent */
	uint64_t dead;		   /* connections found dead and dropped */
};
void kube_http_stats(const struct kube_http *h, struct kube_http_stats *st);

/* Every request answered, by verb and HTTP status, for /metrics
 * (takt_api_requests_total). The verb is Kubernetes' (kube_verb); the
 * status 0 when no answer came (a transport failure, a request that could
 * not start). A request is counted once: when its response headers end (a
 * watch when its stream opens), or when it completes without them. One
 * cancelled before its answer is not counted. At most
 * KUBE_HTTP_CODES_MAX pairs are told apart; the rest are counted in the
 * last. Borrowed until the next answer. */
#define KUBE_HTTP_CODES_MAX 48
struct kube_http_code {
	const char *verb; /* static */
	int status;
	uint64_t n;
};
const struct kube_http_code *kube_http_codes(const struct kube_http *h, size_t *n);
/* The verb of a request as Kubernetes names it (the apiserver's audit and
 * client-go's metrics): GET, LIST (a GET of a collection), WATCH (one with
 * watch=true or watch=1), POST, PUT, PATCH, DELETE. A path that is not a
 * resource (/version) is GET. Static. */
const char *kube_verb(enum kube_method m, const char *path);

/* The seam in front of the API: how a module sends its requests. Every
 * sender in takt (the reflectors, the write path) takes one of these, so a
 * unit test puts a fake in the client's place (tests/unit/fake_transport.h).
 * request and cancel have kube_http_request's and kube_req_cancel's
 * contracts; the handle is the transport's own (a fake's may be anything). */
struct kube_transport {
	int (*request)(void *ctx, const struct kube_req_opts *o, struct kube_req **out);
	void (*cancel)(void *ctx, struct kube_req *r);
	void *ctx;
};
/* The real client as a transport (h borrowed). */
struct kube_transport kube_transport_http(struct kube_http *h);

/* Paths. group "" or NULL is the core group (/api/v1); ns NULL or "" is
 * cluster-scoped or all namespaces; name NULL is the collection; subresource
 * NULL for none. Segments are percent-escaped. Appends to out; 0 or -ENOSPC.
 *   kube_path(&b, "takt.io", "v1alpha1", "trading", "batchschedules",
 *             "publish-quotes", "status")
 *   -> /apis/takt.io/v1alpha1/namespaces/trading/batchschedules/publish-quotes/status */
int kube_path(struct buf *out, const char *group, const char *version, const char *ns,
	      const char *resource, const char *name, const char *subresource);
/* Appends "?key=value" or "&key=value" (the first one in out decides),
 * percent-escaping both. 0 or -ENOSPC. */
int kube_query_add(struct buf *out, const char *key, const char *value);
/* Appends s percent-escaped (RFC 3986 unreserved characters kept). */
int kube_escape(struct buf *out, const char *s);

/* A DeleteOptions body. NULL members are left out, so a zeroed struct asks
 * for nothing (in particular not for gracePeriodSeconds 0). */
struct kube_delete_opts {
	const char *propagation_policy;	  /* "Foreground" | "Background" | "Orphan" */
	const long *grace_period_seconds; /* NULL: the object's own grace period */
	const char *precondition_uid;
	const char *precondition_resource_version;
};
/* Appends the JSON body ({"kind":"DeleteOptions",...}). 0 or -ENOSPC. */
int kube_delete_body(struct buf *out, const struct kube_delete_opts *o);

#endif
