/* A fake struct kube_transport for unit tests (the seam of kube/http.h):
 * what a module sends is recorded instead of sent, and the test answers it.
 *
 *   - Every request() is recorded in order, as a struct kube_req the test
 *     can read: method, path, body, exempt flag, whether it streams, and the
 *     clocks at which it was made. Records live until fake_tr_free, so a
 *     test can look at a request after it was answered or cancelled.
 *   - The test answers a request with fake_answer (status + body) or
 *     fake_fail (a transport error). A streaming request (a watch: on_data
 *     set) stays open until the test ends it; fake_feed hands it a chunk.
 *   - List GETs can be answered by the fake itself from a table of JSON
 *     bodies per path (the path before '?'), with an optional default for
 *     paths not in the table (typically an empty list).
 *   - Cancels are counted, and a cancel the contract forbids (of a request
 *     already answered, outside its own done; of one cancelled twice; of a
 *     handle not from this fake) fails the test.
 *
 * Answers never run inside request(): the real client promises that the
 * callback never runs before request() returns, and an owner may rely on it
 * (the write path does). Answers the fake gives on its own (list GETs,
 * fake_answer_soon) go through a 0 ms loop timer; fake_answer and fake_fail
 * deliver at once and assert they are not called from inside request().
 *
 * Use: one fake per test, with the loop the module under test runs on:
 *   struct fake_tr *f = fake_tr_new(loop);
 *   writes_new(loop, &f->tr, "x");      // f->tr is the transport
 *   ...
 *   struct kube_req *r = fake_run_until_req(f, 0, KUBE_POST, "/apis/...", 1000);
 *   fake_answer(r, 201, "{...}");
 *   ...                                  // free the module first: it cancels
 *   fake_tr_free(f);
 *
 * Header-only; include it after <cmocka.h>'s prerequisites or let it
 * include them. A test binary includes it once (it defines struct kube_req,
 * which the transport leaves to its implementation).
 */
#ifndef TAKT_TESTS_FAKE_TRANSPORT_H
#define TAKT_TESTS_FAKE_TRANSPORT_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "kube/http.h"
#include "loop/loop.h"

struct fake_tr;

enum fake_req_state {
	FAKE_OPEN,	/* waiting for its answer, or a stream still open */
	FAKE_ANSWERED,	/* done was called */
	FAKE_CANCELLED, /* the owner cancelled it */
};

/* One recorded request. The owner holds it as its opaque handle. */
struct kube_req {
	struct fake_tr *f;
	size_t index; /* 0-based, in the order request() was called */
	enum kube_method method;
	char *path;
	char *body;   /* NULL: none */
	char *accept; /* NULL: the default (application/json) */
	int exempt;
	bool stream; /* on_data was set */
	long timeout_ms;
	enum fake_req_state state;
	int64_t at_mono_ms, at_real_ms; /* when request() was called */
	int answer_status;		/* what it was answered with */
	kube_done_fn *done;
	kube_data_fn *on_data;
	void *ud;
	/* An answer the fake gives from the loop (fake_answer_soon, lists). */
	loop_timer_id soon_timer;
	int soon_status;
	char *soon_body;
};

struct fake_list_entry {
	char *path; /* without the query */
	char *body;
};

struct fake_tr {
	struct kube_transport tr; /* hand &f->tr to the module under test */
	struct loop *loop;
	struct kube_req **reqs;
	size_t n, cap;
	int cancels;		  /* requests cancelled while open */
	int refuse;		  /* the next `refuse` requests return -EIO */
	bool in_request;	  /* inside request(): answering is forbidden */
	struct kube_req *in_done; /* the request whose done is running */
	struct fake_list_entry *lists;
	size_t n_lists;
	char *list_default; /* NULL: list GETs not in the table stay open */
	/* GETs whose path starts with this are left to the test (an object
	 * GET), even when list_default is set. NULL: none. */
	const char *manual_get_prefix;
};

/* ---- answering ---------------------------------------------------------------- */

/* The apiserver's Status reason for an HTTP status, as the real client
 * derives it when the body is not a Status. */
static inline const char *fake_reason(enum kube_method m, int status)
{
	switch (status) {
	case 404:
		return "NotFound";
	case 409:
		return m == KUBE_POST ? "AlreadyExists" : "Conflict";
	case 410:
		return "Expired";
	case 422:
		return "Invalid";
	case 429:
		return "TooManyRequests";
	case 500:
		return "InternalError";
	default:
		return "";
	}
}

static inline void fake_deliver(struct kube_req *r, const struct kube_result *res)
{
	struct fake_tr *f = r->f;
	assert_false(f->in_request);
	if (r->state != FAKE_OPEN)
		fail_msg("answering request #%zu %s, which is not open", r->index, r->path);
	loop_timer_cancel(f->loop, r->soon_timer);
	r->soon_timer = 0;
	r->state = FAKE_ANSWERED;
	r->answer_status = res->status;
	struct kube_req *outer = f->in_done;
	f->in_done = r;
	r->done(r, res, r->ud);
	f->in_done = outer;
}

/* Answers r with an HTTP status and body (NULL: ""); for status >= 400 the
 * reason is derived as the real client does, the message is the body. */
static inline void fake_answer(struct kube_req *r, int status, const char *body)
{
	const char *b = body ? body : "";
	struct kube_result res = {.status = status,
				  .body = b,
				  .body_len = strlen(b),
				  .reason = status >= 400 ? fake_reason(r->method, status) : "",
				  .message = status >= 400 ? b : "",
				  .code = status >= 400 ? status : 0,
				  .transport_error = ""};
	fake_deliver(r, &res);
}

/* Answers r as the apiserver answers a failure: a Status body with that
 * code, reason and message, and the result's reason and message taken from
 * it, as the real client parses them. */
static inline void fake_answer_status(struct kube_req *r, int code, const char *reason,
				      const char *message)
{
	cJSON *st = cJSON_CreateObject();
	cJSON_AddStringToObject(st, "kind", "Status");
	cJSON_AddStringToObject(st, "apiVersion", "v1");
	cJSON_AddStringToObject(st, "status", "Failure");
	cJSON_AddStringToObject(st, "message", message);
	cJSON_AddStringToObject(st, "reason", reason);
	cJSON_AddNumberToObject(st, "code", code);
	char *b = cJSON_PrintUnformatted(st);
	cJSON_Delete(st);
	struct kube_result res = {.status = code,
				  .body = b,
				  .body_len = strlen(b),
				  .reason = reason,
				  .message = message,
				  .code = code,
				  .transport_error = ""};
	fake_deliver(r, &res);
	free(b);
}

/* Answers r with a transport failure (err negative: -EIO, -ETIMEDOUT...). */
static inline void fake_fail(struct kube_req *r, int err)
{
	struct kube_result res = {.err = err,
				  .body = "",
				  .reason = "",
				  .message = "",
				  .transport_error = "fake transport error"};
	fake_deliver(r, &res);
}

static inline void fake_soon_cb(struct loop *l, loop_timer_id id, void *ud)
{
	struct kube_req *r = ud;
	(void)l;
	(void)id;
	r->soon_timer = 0;
	char *body = r->soon_body;
	r->soon_body = NULL;
	fake_answer(r, r->soon_status, body);
	free(body);
}

/* Answers r from the loop, on its next turn (as the real client would). */
static inline void fake_answer_soon(struct kube_req *r, int status, const char *body)
{
	assert_int_equal(r->state, FAKE_OPEN);
	assert_int_equal(r->soon_timer, 0);
	r->soon_status = status;
	r->soon_body = strdup(body ? body : "");
	r->soon_timer = loop_timer_after(r->f->loop, 0, fake_soon_cb, r);
}

/* Hands an open stream a chunk (a watch event line ends in '\n'). */
static inline void fake_feed(struct kube_req *r, const char *chunk)
{
	assert_true(r->stream);
	assert_int_equal(r->state, FAKE_OPEN);
	assert_false(r->f->in_request);
	r->on_data(r, chunk, strlen(chunk), r->ud);
}

/* ---- the transport -------------------------------------------------------------- */

static inline const struct fake_list_entry *fake_list_find(const struct fake_tr *f,
							   const char *path)
{
	size_t n = strcspn(path, "?");
	for (size_t i = 0; i < f->n_lists; i++)
		if (strlen(f->lists[i].path) == n && !strncmp(f->lists[i].path, path, n))
			return &f->lists[i];
	return NULL;
}

static inline int fake_request(void *ctx, const struct kube_req_opts *o, struct kube_req **out)
{
	struct fake_tr *f = ctx;
	assert_non_null(o->path);
	assert_non_null(o->done);
	if (f->refuse > 0) {
		f->refuse--;
		return -EIO;
	}
	struct kube_req *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->f = f;
	r->index = f->n;
	r->method = o->method;
	r->path = strdup(o->path);
	r->body = o->body ? strndup(o->body, o->body_len) : NULL;
	r->accept = o->accept ? strdup(o->accept) : NULL;
	r->exempt = o->exempt;
	r->stream = o->on_data != NULL;
	r->timeout_ms = o->timeout_ms;
	r->state = FAKE_OPEN;
	r->at_mono_ms = loop_now_monotonic_ms();
	r->at_real_ms = loop_now_realtime_ms();
	r->done = o->done;
	r->on_data = o->on_data;
	r->ud = o->ud;
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->reqs = realloc(f->reqs, f->cap * sizeof(*f->reqs));
		assert_non_null(f->reqs);
	}
	f->reqs[f->n++] = r;
	if (out)
		*out = r;
	/* A list GET the table knows: answered from the loop, never here. */
	if (o->method == KUBE_GET && !r->stream && !strstr(o->path, "watch=1")) {
		const struct fake_list_entry *e = fake_list_find(f, o->path);
		const char *body = e ? e->body : f->list_default;
		if (!e && f->manual_get_prefix &&
		    !strncmp(o->path, f->manual_get_prefix, strlen(f->manual_get_prefix)))
			body = NULL;
		if (body)
			fake_answer_soon(r, 200, body);
	}
	return 0;
}

static inline void fake_cancel(void *ctx, struct kube_req *r)
{
	struct fake_tr *f = ctx;
	assert_non_null(r);
	assert_ptr_equal(r->f, f);
	if (r->state == FAKE_ANSWERED) {
		/* Allowed from its own done only (a no-op there): anywhere else
		 * the handle is no longer valid. */
		if (f->in_done != r)
			fail_msg("cancel of request #%zu %s after its answer", r->index, r->path);
		return;
	}
	if (r->state == FAKE_CANCELLED)
		fail_msg("request #%zu %s cancelled twice", r->index, r->path);
	loop_timer_cancel(f->loop, r->soon_timer);
	r->soon_timer = 0;
	r->state = FAKE_CANCELLED;
	f->cancels++;
}

/* request() wrapped so answering from inside it is caught. */
static inline int fake_request_guarded(void *ctx, const struct kube_req_opts *o,
				       struct kube_req **out)
{
	struct fake_tr *f = ctx;
	f->in_request = true;
	int rc = fake_request(ctx, o, out);
	f->in_request = false;
	return rc;
}

static inline struct fake_tr *fake_tr_new(struct loop *l)
{
	struct fake_tr *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->loop = l;
	f->tr = (struct kube_transport){fake_request_guarded, fake_cancel, f};
	return f;
}

/* List GETs of `path` (no query) are answered 200 with `body` (copied). */
static inline void fake_set_list(struct fake_tr *f, const char *path, const char *body)
{
	f->lists = realloc(f->lists, (f->n_lists + 1) * sizeof(*f->lists));
	assert_non_null(f->lists);
	f->lists[f->n_lists].path = strdup(path);
	f->lists[f->n_lists].body = strdup(body);
	f->n_lists++;
}

/* List GETs of paths not in the table are answered with `body` (NULL:
 * left open for the test). */
static inline void fake_set_list_default(struct fake_tr *f, const char *body)
{
	free(f->list_default);
	f->list_default = body ? strdup(body) : NULL;
}

/* Frees the records. The module under test must be freed first (its
 * requests cancelled); the fake's own pending answers are dropped. */
static inline void fake_tr_free(struct fake_tr *f)
{
	for (size_t i = 0; i < f->n; i++) {
		struct kube_req *r = f->reqs[i];
		loop_timer_cancel(f->loop, r->soon_timer);
		free(r->soon_body);
		free(r->path);
		free(r->body);
		free(r->accept);
		free(r);
	}
	for (size_t i = 0; i < f->n_lists; i++) {
		free(f->lists[i].path);
		free(f->lists[i].body);
	}
	free(f->lists);
	free(f->list_default);
	free(f->reqs);
	free(f);
}

/* ---- looking at what was sent ---------------------------------------------------- */

/* Writes: every method but GET. */
#define FAKE_ANY_WRITE (-1)
/* Any method. */
#define FAKE_ANY (-2)

static inline bool fake_method_is(const struct kube_req *r, int method)
{
	if (method == FAKE_ANY)
		return true;
	if (method == FAKE_ANY_WRITE)
		return r->method != KUBE_GET;
	return (int)r->method == method;
}

/* The first request at or after index `from` with that method whose path
 * starts with `prefix` (NULL: any), or NULL. */
static inline struct kube_req *fake_find(const struct fake_tr *f, size_t from, int method,
					 const char *prefix)
{
	for (size_t i = from; i < f->n; i++) {
		struct kube_req *r = f->reqs[i];
		if (fake_method_is(r, method) &&
		    (!prefix || !strncmp(r->path, prefix, strlen(prefix))))
			return r;
	}
	return NULL;
}

/* How many requests at or after `from` match (as fake_find). */
static inline size_t fake_count(const struct fake_tr *f, size_t from, int method,
				const char *prefix)
{
	size_t n = 0;
	for (size_t i = from; i < f->n; i++)
		n += fake_method_is(f->reqs[i], method) &&
		     (!prefix || !strncmp(f->reqs[i]->path, prefix, strlen(prefix)));
	return n;
}

/* Requests still open (streams included). */
static inline size_t fake_open(const struct fake_tr *f)
{
	size_t n = 0;
	for (size_t i = 0; i < f->n; i++)
		n += f->reqs[i]->state == FAKE_OPEN;
	return n;
}

/* The open stream whose path starts with prefix, or NULL. */
static inline struct kube_req *fake_stream(const struct fake_tr *f, const char *prefix)
{
	for (size_t i = f->n; i-- > 0;) {
		struct kube_req *r = f->reqs[i];
		if (r->stream && r->state == FAKE_OPEN && !strncmp(r->path, prefix, strlen(prefix)))
			return r;
	}
	return NULL;
}

/* ---- running the loop -------------------------------------------------------------- */

/* Runs the loop for `ms` milliseconds (timers fire on their own). */
static inline void fake_run_for(struct fake_tr *f, int64_t ms)
{
	int64_t end = loop_now_monotonic_ms() + ms;
	for (int64_t now = loop_now_monotonic_ms(); now < end; now = loop_now_monotonic_ms())
		loop_run_once(f->loop, (int)(end - now));
}

/* Runs the loop until a request as fake_find(from, method, prefix) exists,
 * for at most timeout_ms; returns it, or NULL at the timeout. */
static inline struct kube_req *fake_run_until_req(struct fake_tr *f, size_t from, int method,
						  const char *prefix, int64_t timeout_ms)
{
	int64_t end = loop_now_monotonic_ms() + timeout_ms;
	struct kube_req *r;
	while (!(r = fake_find(f, from, method, prefix))) {
		int64_t now = loop_now_monotonic_ms();
		if (now >= end)
			return NULL;
		/* Short waits: a request made by a callback of this turn is
		 * seen at once. */
		loop_run_once(f->loop, (int)(end - now < 10 ? end - now : 10));
	}
	return r;
}

#endif
