/* libFuzzer target for watch events: arbitrary bytes as the body of a live
 * watch stream, through the reflector (line framing, event JSON, ERROR
 * Status) into an indexed store, in chunks the input chooses. Nothing may
 * crash, leak or corrupt the store: at the end every object the store holds
 * must be found again by its own key and through the label index. Bits 6-7
 * of the first byte choose a transform: none, or the controller's Job or Pod
 * projection (pkg/controller/project), which then sees every shape too.
 * Bit 5 chooses sink mode (no store, opts.on_event): every object the sink
 * is handed is read whole (so ASan sees a freed or half-built one), carries
 * no managedFields, and there is exactly one delivery per listed item and
 * per event the reflector counted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "controller/project.h"
#include "kube/http.h"
#include "kube/reflector.h"
#include "kube/store.h"
#include "loop/loop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct kube_req {
	int live;
};

struct fake {
	struct kube_req req;
	kube_done_fn *done;
	kube_data_fn *on_data;
	void *ud;
};

static int fake_request(void *ctx, const struct kube_req_opts *o, struct kube_req **out)
{
	struct fake *f = ctx;
	f->req.live = 1;
	f->done = o->done;
	f->on_data = o->on_data;
	f->ud = o->ud;
	*out = &f->req;
	return 0;
}

static void fake_cancel(void *ctx, struct kube_req *r)
{
	r->live = 0;
}

static void reply(struct fake *f, int status, const char *body)
{
	struct kube_result res = {.status = status,
				  .body = body,
				  .body_len = strlen(body),
				  .reason = "",
				  .message = "",
				  .transport_error = ""};
	f->req.live = 0;
	f->done(&f->req, &res, f->ud);
}

struct sink {
	uint64_t delivered;
};

static void on_sink(void *ud, enum store_event ev, const cJSON *obj)
{
	struct sink *k = ud;
	if (ev != STORE_ADDED && ev != STORE_UPDATED && ev != STORE_DELETED)
		abort();
	if (!cJSON_IsObject(obj))
		abort();
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	if (cJSON_GetObjectItemCaseSensitive(md, "managedFields"))
		abort();
	char *txt = cJSON_PrintUnformatted(obj);
	free(txt);
	k->delivered++;
}

static void check_store(const struct store *s)
{
	struct store_list all;
	struct buf key, lbl;
	buf_init(&key, BUF_UNLIMITED);
	buf_init(&lbl, BUF_UNLIMITED);
	if (store_list(s, NULL, NULL, &all) != 0)
		abort();
	for (size_t i = 0; i < all.n; i++) {
		buf_reset(&key);
		if (store_key(all.items[i], &key) != 0 ||
		    store_get(s, buf_str(&key)) != all.items[i])
			abort();
		buf_reset(&lbl);
		if (store_index_label(all.items[i], "app", &lbl) == 1) {
			struct store_list l;
			int found = 0;
			if (store_by_index(s, "app", buf_str(&lbl), &l) != 0)
				abort();
			for (size_t j = 0; j < l.n; j++)
				found |= l.items[j] == all.items[i];
			store_list_release(&l);
			if (!found)
				abort();
		}
	}
	store_list_release(&all);
	buf_release(&key);
	buf_release(&lbl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	if (!quiet) {
		log_set_level("error");
		quiet = 1;
	}
	struct loop *l;
	if (loop_new(&l) != 0)
		abort();
	int sink_mode = size && (data[0] & 0x20);
	struct sink k = {0};
	struct store *s = NULL;
	if (!sink_mode) {
		s = store_new("fuzz");
		store_add_index(s, "app", store_index_label, "app");
	}
	struct fake f = {0};
	struct kube_transport tr = {fake_request, fake_cancel, &f};
	static void (*const transforms[4])(cJSON *) = {NULL, project_job, project_pod, NULL};
	struct reflector_opts o = {.version = "v1",
				   .resource = "configmaps",
				   .max_line = 4096,
				   .backoff_base_ms = 1,
				   .backoff_max_ms = 1,
				   .transform = transforms[size ? data[0] >> 6 : 0],
				   .on_event = sink_mode ? on_sink : NULL};
	struct reflector *r = reflector_new(l, &tr, s, &o, NULL, &k);
	reflector_start(r);
	loop_run_once(l, 0);
	reply(&f, 200,
	      "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{\"metadata\":{\"name\":\"a\","
	      "\"namespace\":\"n\",\"resourceVersion\":\"1\",\"labels\":{\"app\":\"x\"}}}]}");
	loop_run_once(l, 0);

	/* First byte, bits 0-4: chunk size; the stream is fed while the watch
	 * lives. */
	size_t step = size ? 1 + data[0] % 32 : 1;
	size_t off = size ? 1 : 0;
	while (off < size && f.req.live && f.on_data) {
		size_t n = size - off < step ? size - off : step;
		f.on_data(&f.req, (const char *)data + off, n, f.ud);
		off += n;
	}
	if (f.req.live)
		reply(&f, 200, "");
	if (sink_mode) {
		struct reflector_stats st;
		reflector_get_stats(r, &st);
		if (k.delivered != st.events + 1) /* + the one listed item */
			abort();
	} else {
		check_store(s);
	}
	reflector_free(r);
	store_free(s);
	loop_free(l);
	return 0;
}
