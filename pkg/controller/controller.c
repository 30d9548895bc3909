/* The BatchSchedule controller; see controller.h. */
#include "controller/controller.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/hmap.h"
#include "base/list.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "controller/calendars.h"
#include "controller/control.h"
#include "controller/control_io.h"
#include "controller/names.h"
#include "controller/planner.h"
#include "controller/project.h"
#include "controller/spec.h"
#include "kube/http.h"
#include "kube/reflector.h"
#include "kube/store.h"
#include "kube/workqueue.h"
#include "loop/loop.h"
#include "tz/civil.h"

#include "kube/obj.h"
#include "base/banned.h"

#define IDX_SCHEDULE "schedule"
#define IDX_JOB	     "job"

/* A POSTed Job not seen in the watch after this long is forgotten (the
 * watch is broken or the Job was deleted at once); a relist settles it. */
#define EXPECTATION_TTL_MS 30000
/* How long a sent history trim is not sent again (see sched.trims). */
#define TRIM_TTL_MS 10000
/* Repeats of one Event reason on one schedule within this window update
 * the same Event (count, lastTimestamp) instead of creating another. */
#define EVENT_AGGREGATE_MS (10 * 60 * 1000)
#define MAX_EVENT_REASONS  8
#define BODY_MAX	   (4u * 1024 * 1024)
/* The longest run of queued reconciles before the loop gets a turn (a due
 * slot waits at most this long behind them). */
#define DRAIN_SLICE_MS 2
/* The longest a status write, DELETE or Event waits for Job POSTs. */
#define HOLD_MAX_MS 500

struct expectation {
	char name[SPEC_JOB_NAME_MAX + 1];
	int64_t slot;
	enum spec_trigger trigger;
	int64_t expires_mono;
	/* From the POST's answer, "" until then (see fill_uids). */
	char uid[64];
};

struct trim_sent {
	char name[SPEC_JOB_NAME_MAX + 1];
	int64_t at_mono;
};

struct agg_event {
	char reason[32];
	char name[128]; /* "" when none is known */
	enum plan_event_type type;
	int64_t count;
	int64_t last_ms;
};

/* Everything the controller remembers about one schedule between
 * reconciles. */
struct sched {
	struct controller *c;
	char *key;
	/* The parsed spec, kept while uid, generation and annotations are
	 * unchanged: parsing loads the time zone, which is file I/O. */
	bool have_spec;
	char *spec_uid;
	int64_t spec_gen;
	char *spec_ann; /* serialized metadata.annotations */
	int spec_rc;
	char spec_err[512];
	struct spec spec;

	struct expectation *exp;
	size_t n_exp, cap_exp;
	/* History trims sent (background DELETEs), kept TRIM_TTL_MS: until
	 * the watch shows the Job gone every reconcile plans its trim again,
	 * and one DELETE is enough. A failed one is forgotten at once. */
	struct trim_sent *trims;
	size_t n_trims, cap_trims;

	/* The runs and orphan pods gathered from the stores for the last
	 * plan, kept while none of the schedule's Jobs and Pods changes (every
	 * change calls child_changed, which clears runs_valid): at a slot the
	 * planner's input is then ready. Strings point into the stored Jobs,
	 * which stay unchanged while the cache is valid. */
	bool runs_valid;
	char *runs_uid; /* the schedule uid they were gathered for */
	struct plan_run *runs;
	size_t n_runs;
	size_t orphans;

	/* What sched_parse last saw (the object and its resourceVersion) and
	 * which raw status the parsed `base` came from: a reconcile of an
	 * unchanged object skips both parses. */
	const cJSON *parsed_obj;
	uint64_t parsed_rv;
	const cJSON *base_raw;
	uint64_t base_rv;
	uint64_t base_mine_seq;
	bool base_valid;
	uint64_t mine_seq; /* bumped whenever `mine` is replaced */

	loop_timer_id wake_timer;
	int64_t wake_at;

	/* The Job body for the next slot, built ahead. */
	int64_t prep_slot;
	int64_t prep_gen;
	char *prep_body;

	/* The status we last decided to write (sent, queued or written): the
	 * planning base until the watch shows it, since planning from an older
	 * status would decide its slots a second time. mine_rv is the
	 * resourceVersion our write produced, 0 while it is on its way. Writes
	 * leave one at a time, in order; a newer one waits in `queued`. */
	cJSON *mine;
	char *mine_uid; /* of the object it was decided for */
	uint64_t mine_rv;
	bool status_inflight;
	cJSON *queued;

	/* The reconcile in progress (the work queue runs one per key). */
	bool busy;
	int pending;
	bool failed;
	struct spec_status base;      /* the status planned from, as it was */
	struct spec_status in_status; /* the same after the kill/run-now hooks */
	bool has_raw;
	bool was_invalid_same;
	bool run_now;
	struct plan plan;
	bool after_pending; /* the plan's DELETEs, Events and status diff are
			       still to do, once its POSTs are answered */
	cJSON *next_status; /* what this reconcile decided; NULL: unchanged */

	struct agg_event events[MAX_EVENT_REASONS];
	size_t n_events;
};

enum op_kind { OP_CREATE, OP_DELETE, OP_STATUS, OP_EVENT_POST, OP_EVENT_PATCH };

/* A request in flight, listed so controller_free can cancel it. */
struct op {
	struct list_node link; /* in controller.ops */
	struct controller *c;
	struct kube_req *req;
	enum op_kind kind;
	char *key;
	char name[SPEC_JOB_NAME_MAX + 1];
	char reason[32];
	int64_t sent_ns;
	/* A write held back while Job POSTs are in flight (op_send): what to
	 * send, and its place in controller.held. */
	enum kube_method held_method;
	char *held_path, *held_body;
	size_t held_len;
	struct list_node held_link;
};

struct controller {
	struct loop *loop;
	struct kube_http *http;
	char *ns;
	char *instance;
	struct store *schedules, *jobs, *pods;
	struct reflector *refl_schedules, *refl_jobs, *refl_pods;
	struct calendars *calendars;
	struct control *control;
	struct wq *queue;
	struct hmap *scheds;	   /* key -> struct sched */
	struct list_node ops;	   /* struct op, in flight or held */
	loop_timer_id drain_timer; /* resumes a drain cut at its slice */
	/* Job POSTs in flight, and the other writes held back meanwhile
	 * (struct op by held_link, oldest first), with the timer that bounds
	 * their wait. */
	int posts_inflight;
	struct list_node held;
	loop_timer_id held_timer;
	bool all_synced;
	struct controller_stats stats;
};

static void drain(struct controller *c);
static void reconcile(struct controller *c, const char *key);
static void send_delete(struct controller *c, struct sched *s, const struct plan_action *a);
static cJSON *changed_status(const struct spec_status *old, bool has_raw,
			     const struct spec_status *next);

/* ---- small helpers ----------------------------------------------------------- */

static int64_t time_ms(const char *s)
{
	int64_t ms;
	if (!s || rfc3339_parse(s, &ms))
		return SPEC_TIME_UNSET;
	return ms;
}

static uint64_t rv_number(const cJSON *obj)
{
	const char *rv = kobj_meta(obj, "resourceVersion");
	return rv ? strtoull(rv, NULL, 10) : 0;
}

/* The controller ownerReference's uid, or NULL. */
static const char *controller_uid(const cJSON *obj, const char *kind)
{
	const cJSON *it;
	const cJSON *refs = kobj_get(kobj_get(obj, "metadata"), "ownerReferences");
	cJSON_ArrayForEach(it, refs)
	{
		if (cJSON_IsTrue(kobj_get(it, "controller")) && kobj_str(it, "kind") &&
		    !strcmp(kobj_str(it, "kind"), kind))
			return kobj_str(it, "uid");
	}
	return NULL;
}

/* ---- per-schedule state --------------------------------------------------------- */

static struct sched *sched_get(struct controller *c, const char *key)
{
	struct sched *s = hmap_get(c->scheds, key);
	if (s)
		return s;
	s = xcalloc(1, sizeof(*s));
	s->c = c;
	s->key = xstrdup(key);
	spec_init(&s->spec);
	plan_init(&s->plan);
	spec_status_init(&s->base);
	spec_status_init(&s->in_status);
	s->prep_slot = SPEC_TIME_UNSET;
	s->wake_at = SPEC_TIME_UNSET;
	hmap_put(c->scheds, key, s);
	return s;
}

static void sched_forget_spec(struct sched *s)
{
	spec_release(&s->spec);
	free(s->spec_uid);
	free(s->spec_ann);
	s->spec_uid = s->spec_ann = NULL;
	s->have_spec = false;
}

static void sched_free(void *p)
{
	struct sched *s = p;
	sched_forget_spec(s);
	plan_release(&s->plan);
	spec_status_release(&s->base);
	spec_status_release(&s->in_status);
	free(s->exp);
	free(s->trims);
	free(s->runs);
	free(s->runs_uid);
	free(s->prep_body);
	cJSON_Delete(s->mine);
	cJSON_Delete(s->queued);
	cJSON_Delete(s->next_status);
	free(s->mine_uid);
	free(s->key);
	free(s);
}

static void expectation_drop(struct sched *s, const char *name)
{
	for (size_t i = 0; i < s->n_exp; i++) {
		if (!strcmp(s->exp[i].name, name)) {
			s->exp[i] = s->exp[--s->n_exp];
			return;
		}
	}
}

/* The created Job's uid, from the POST's answer, onto its expectation. */
static void expectation_set_uid(struct sched *s, const char *name, const char *body)
{
	for (size_t i = 0; i < s->n_exp; i++) {
		if (strcmp(s->exp[i].name, name))
			continue;
		cJSON *job = cJSON_Parse(body);
		const char *uid = kobj_meta(job, "uid");
		if (uid && strlen(uid) < sizeof(s->exp[i].uid))
			snprintf(s->exp[i].uid, sizeof(s->exp[i].uid), "%s", uid);
		cJSON_Delete(job);
		return;
	}
}

/* The slot's status lists the run it created before the watch has shown
 * the Job, so without its uid; the POST's answer (or the watch, when it
 * came first) knows it. Written now, the entry is the one the next
 * reconcile computes from the watched Job: no second write for it. */
static void fill_uids(struct controller *c, struct sched *s, struct spec_status *st)
{
	for (size_t i = 0; i < st->n_active; i++) {
		struct spec_active *a = &st->active[i];
		if (a->uid)
			continue;
		for (size_t j = 0; j < s->n_exp && !a->uid; j++)
			if (!strcmp(s->exp[j].name, a->name) && s->exp[j].uid[0])
				a->uid = xstrdup(s->exp[j].uid);
		if (a->uid)
			continue;
		const cJSON *job = store_get_ns(c->jobs, s->spec.namespace, a->name);
		const char *owner = job ? controller_uid(job, "BatchSchedule") : NULL;
		const char *uid = job ? kobj_meta(job, "uid") : NULL;
		if (uid && owner && s->spec.uid && !strcmp(owner, s->spec.uid))
			a->uid = xstrdup(uid);
	}
}

/* Whether a trim of `name` was sent less than TRIM_TTL_MS ago; forgets the
 * older ones. */
static bool trim_recent(struct sched *s, const char *name)
{
	int64_t now = loop_now_monotonic_ms();
	bool found = false;
	for (size_t i = 0; i < s->n_trims;) {
		if (now - s->trims[i].at_mono > TRIM_TTL_MS) {
			s->trims[i] = s->trims[--s->n_trims];
			continue;
		}
		found |= !strcmp(s->trims[i].name, name);
		i++;
	}
	return found;
}

/* The trim's DELETE failed: the next reconcile may send it again. */
static void trim_forget(struct sched *s, const char *name)
{
	for (size_t i = 0; i < s->n_trims; i++) {
		if (!strcmp(s->trims[i].name, name)) {
			s->trims[i] = s->trims[--s->n_trims];
			return;
		}
	}
}

static void drop_mine(struct sched *s)
{
	cJSON_Delete(s->mine);
	cJSON_Delete(s->queued);
	free(s->mine_uid);
	s->mine = s->queued = NULL;
	s->mine_uid = NULL;
	s->mine_rv = 0;
	s->mine_seq++;
}

/* The status to plan from: ours until the watch has shown our write, else
 * the store's. Borrowed. */
static const cJSON *base_status(struct sched *s, const cJSON *stored)
{
	if (s->mine) {
		const char *uid = kobj_meta(stored, "uid");
		/* A schedule deleted and created again under the same name
		 * starts from its own (empty) status. */
		bool same = uid && s->mine_uid && !strcmp(uid, s->mine_uid);
		if (same &&
		    (s->status_inflight || s->mine_rv == 0 || rv_number(stored) < s->mine_rv))
			return s->mine;
		if (!s->status_inflight)
			drop_mine(s);
	}
	return kobj_get(stored, "status");
}

/* Parses the spec unless the cached parse is of the same object version
 * (uid, generation, annotations: status writes change nothing here). */
static void sched_parse(struct sched *s, const cJSON *obj)
{
	/* The same stored object as last time: nothing to compare. (A
	 * changed object is a new one in the store, with a new version.) */
	uint64_t rv = rv_number(obj);
	if (s->have_spec && obj == s->parsed_obj && rv == s->parsed_rv)
		return;
	s->parsed_obj = obj;
	s->parsed_rv = rv;
	const char *uid = kobj_meta(obj, "uid");
	int64_t gen =
	    (int64_t)cJSON_GetNumberValue(kobj_get(kobj_get(obj, "metadata"), "generation"));
	char *ann = cJSON_PrintUnformatted(kobj_get(kobj_get(obj, "metadata"), "annotations"));
	if (!ann)
		ann = xstrdup("");
	if (s->have_spec && uid && s->spec_uid && !strcmp(uid, s->spec_uid) && gen == s->spec_gen &&
	    !strcmp(ann, s->spec_ann)) {
		free(ann);
		return;
	}
	sched_forget_spec(s);
	s->spec_err[0] = 0;
	s->spec_rc = spec_parse(obj, &s->spec, s->spec_err, sizeof(s->spec_err));
	s->spec_uid = uid ? xstrdup(uid) : NULL;
	s->spec_gen = gen;
	s->spec_ann = ann;
	s->have_spec = true;
	/* A body built for the old version must not be sent. */
	free(s->prep_body);
	s->prep_body = NULL;
	s->prep_slot = SPEC_TIME_UNSET;
}

/* ---- gathering the planner's input ---------------------------------------------- */

/* A pod counts for overlap until it is gone: running, pending, or being
 * deleted. A pod that has ended (and is not being deleted) does not. */
static bool pod_present(const cJSON *pod)
{
	if (kobj_meta(pod, "deletionTimestamp"))
		return true;
	const char *phase = kobj_str(kobj_get(pod, "status"), "phase");
	return !phase || (strcmp(phase, "Succeeded") && strcmp(phase, "Failed"));
}

static void job_outcome(const cJSON *job, struct plan_run *r)
{
	const cJSON *st = kobj_get(job, "status");
	const cJSON *it;
	r->finished = false;
	r->succeeded = false;
	r->completion = SPEC_TIME_UNSET;
	cJSON_ArrayForEach(it, kobj_get(st, "conditions"))
	{
		const char *type = kobj_str(it, "type"), *status = kobj_str(it, "status");
		if (!type || !status || strcmp(status, "True"))
			continue;
		if (!strcmp(type, "Complete")) {
			r->finished = r->succeeded = true;
			r->completion = time_ms(kobj_str(st, "completionTime"));
			if (r->completion == SPEC_TIME_UNSET)
				r->completion = time_ms(kobj_str(it, "lastTransitionTime"));
		} else if (!strcmp(type, "Failed")) {
			r->finished = true;
			r->succeeded = false;
			r->completion = time_ms(kobj_str(it, "lastTransitionTime"));
		}
	}
}

struct gathered {
	struct plan_expectation *exps;
	size_t n_exps;
};

static void gathered_release(struct gathered *g)
{
	free(g->exps);
}

/* The runs (the Jobs whose controller is the schedule of this uid, with
 * their pods present) and the orphan pods, from the stores, into s->runs. */
static void gather_runs(struct controller *c, struct sched *s, const char *uid)
{
	struct buf k;
	struct store_list jobs, pods;
	buf_init(&k, 1024);
	store_by_index(c->jobs, IDX_SCHEDULE, s->key, &jobs);
	free(s->runs);
	s->runs = xcalloc(jobs.n + 1, sizeof(*s->runs));
	s->n_runs = 0;
	for (size_t i = 0; i < jobs.n; i++) {
		const cJSON *job = jobs.items[i];
		const char *owner = controller_uid(job, "BatchSchedule");
		/* Same name, other schedule (deleted and re-created): not ours. */
		if (!owner || !uid || strcmp(owner, uid))
			continue;
		struct plan_run *r = &s->runs[s->n_runs++];
		r->name = kobj_meta(job, "name");
		r->uid = kobj_meta(job, "uid");
		r->slot = time_ms(kobj_annotation(job, TAKT_ANN_SCHEDULED));
		if (spec_trigger_parse(kobj_annotation(job, TAKT_ANN_TRIGGER), &r->trigger))
			r->trigger = SPEC_TRIGGER_SCHEDULE;
		r->creation = time_ms(kobj_meta(job, "creationTimestamp"));
		job_outcome(job, r);
		r->deleting = kobj_meta(job, "deletionTimestamp") != NULL;
		r->killed = kobj_annotation(job, TAKT_ANN_KILLED) != NULL;
		struct store_list jp;
		buf_reset(&k);
		store_key(job, &k);
		store_by_index(c->pods, IDX_JOB, buf_str(&k), &jp);
		for (size_t j = 0; j < jp.n; j++)
			if (pod_present(jp.items[j]))
				r->pods_present++;
		store_list_release(&jp);
	}
	store_list_release(&jobs);
	/* Pods of the schedule whose Job is gone still hold Forbid/Replace. */
	s->orphans = 0;
	store_by_index(c->pods, IDX_SCHEDULE, s->key, &pods);
	for (size_t i = 0; i < pods.n; i++) {
		const cJSON *pod = pods.items[i];
		if (!pod_present(pod))
			continue;
		buf_reset(&k);
		if (store_index_controller(pod, "Job", &k) != 1)
			continue;
		if (!store_get(c->jobs, buf_str(&k)))
			s->orphans++;
	}
	store_list_release(&pods);
	buf_release(&k);
	free(s->runs_uid);
	s->runs_uid = uid ? xstrdup(uid) : NULL;
	s->runs_valid = true;
}

static void gather(struct controller *c, struct sched *s, const char *uid, struct gathered *g)
{
	memset(g, 0, sizeof(*g));
	if (!s->runs_valid || !uid || !s->runs_uid || strcmp(uid, s->runs_uid))
		gather_runs(c, s, uid);
	/* Expectations: drop those the watch has shown, or that expired. */
	int64_t now = loop_now_monotonic_ms();
	const char *ns = s->spec.namespace;
	for (size_t i = 0; i < s->n_exp;) {
		if (store_get_ns(c->jobs, ns, s->exp[i].name) || now > s->exp[i].expires_mono) {
			s->exp[i] = s->exp[--s->n_exp];
			continue;
		}
		i++;
	}
	g->exps = xcalloc(s->n_exp + 1, sizeof(*g->exps));
	for (size_t i = 0; i < s->n_exp; i++) {
		g->exps[i].name = s->exp[i].name;
		g->exps[i].slot = s->exp[i].slot;
		g->exps[i].trigger = s->exp[i].trigger;
		g->exps[i].uid = s->exp[i].uid[0] ? s->exp[i].uid : NULL;
	}
	g->n_exps = s->n_exp;
}

/* ---- requests -------------------------------------------------------------------- */

static struct op *op_new(struct controller *c, enum op_kind kind, const char *key)
{
	struct op *o = xcalloc(1, sizeof(*o));
	o->c = c;
	o->kind = kind;
	o->key = xstrdup(key);
	o->sent_ns = loop_now_realtime_ns();
	list_add(&c->ops, &o->link);
	list_init(&o->held_link);
	return o;
}

static void op_free(struct op *o)
{
	list_del(&o->link);
	list_del(&o->held_link);
	free(o->held_path);
	free(o->held_body);
	free(o->key);
	free(o);
}

static void op_done(struct kube_req *req, const struct kube_result *res, void *ud);

static int op_start(struct op *o, enum kube_method m, const char *path, const char *body,
		    size_t len);

/* Sends the held writes, in the order they were decided. */
static void release_held(struct controller *c)
{
	loop_timer_cancel(c->loop, c->held_timer);
	c->held_timer = 0;
	/* These, not the writes their answers may hold back in turn. */
	struct list_node batch;
	list_init(&batch);
	while (!list_empty(&c->held)) {
		struct list_node *n = c->held.next;
		list_del(n);
		list_add(batch.prev, n);
	}
	while (!list_empty(&batch)) {
		struct op *o = LIST_ENTRY(batch.next, struct op, held_link);
		list_del(&o->held_link);
		if (op_start(o, o->held_method, o->held_path, o->held_body, o->held_len) < 0) {
			/* Answered as the transport failure it is. */
			struct kube_result res = {.err = -EIO,
						  .body = "",
						  .reason = "",
						  .message = "",
						  .transport_error = "request not queued"};
			op_done(NULL, &res, o);
		}
	}
}

static void on_held_timer(struct loop *l, loop_timer_id id, void *ud)
{
	struct controller *c = ud;
	c->held_timer = 0;
	release_held(c);
}

/* Sends, or holds back: a status write, a DELETE or an Event decided while
 * Job POSTs are in flight waits until they are answered (at most
 * HOLD_MAX_MS), so that when a hundred schedules fire at one instant the
 * apiserver creates their Jobs before it works on the bookkeeping they
 * cause. Returns 0, or < 0 when the request could not be queued (the op is
 * then freed). */
static int op_send(struct op *o, enum kube_method m, const char *path, const char *body, size_t len)
{
	struct controller *c = o->c;
	if (o->kind != OP_CREATE && c->posts_inflight > 0) {
		o->held_method = m;
		o->held_path = xstrdup(path);
		o->held_body = body ? xstrndup(body, len) : NULL;
		o->held_len = body ? len : 0;
		list_add(c->held.prev, &o->held_link); /* last */
		if (!c->held_timer)
			c->held_timer = loop_timer_after(c->loop, HOLD_MAX_MS, on_held_timer, c);
		return 0;
	}
	int rc = op_start(o, m, path, body, len);
	if (rc < 0)
		op_free(o);
	else if (o->kind == OP_CREATE)
		c->posts_inflight++;
	return rc;
}

/* Hands the request to the HTTP client; the op is the caller's on failure. */
static int op_start(struct op *o, enum kube_method m, const char *path, const char *body,
		    size_t len)
{
	struct kube_req_opts ro = {
	    .method = m,
	    .path = path,
	    .body = body,
	    .body_len = body ? len : 0,
	    .done = op_done,
	    .ud = o,
	    /* The slot's Job leaves at its instant: it never waits in the
	     * rate-limit queue behind status writes and Events. */
	    .exempt = o->kind == OP_CREATE,
	};
	int rc = kube_http_request(o->c->http, &ro, &o->req);
	if (rc < 0) {
		LOG_ERROR("request not queued", "obj=%s path=%s rc=%d", o->key, path, rc);
	}
	return rc;
}

static void split_key(const char *key, char *ns, size_t nsz, const char **name)
{
	const char *slash = strchr(key, '/');
	size_t n = slash ? (size_t)(slash - key) : 0;
	if (n >= nsz)
		n = nsz - 1;
	memcpy(ns, key, n);
	ns[n] = 0;
	*name = slash ? slash + 1 : key;
}

/* ---- Events ---------------------------------------------------------------------- */

static struct agg_event *agg_find(struct sched *s, const char *reason)
{
	for (size_t i = 0; i < s->n_events; i++)
		if (!strcmp(s->events[i].reason, reason))
			return &s->events[i];
	if (s->n_events < MAX_EVENT_REASONS) {
		struct agg_event *a = &s->events[s->n_events++];
		memset(a, 0, sizeof(*a));
		snprintf(a->reason, sizeof(a->reason), "%s", reason);
		return a;
	}
	return NULL;
}

/* Posts an Event on the schedule, or bumps the count of the last one with
 * the same reason (the apiserver's own Events aggregate the same way). Fire
 * and forget: a lost Event never blocks a run. */
static void emit_event(struct controller *c, struct sched *s, enum plan_event_type type,
		       const char *reason, const char *message, int64_t count)
{
	const struct spec *sp = &s->spec;
	if (!sp->name || !sp->namespace)
		return;
	int64_t now = loop_now_realtime_ms();
	char ts[40];
	rfc3339_format(now, false, ts, sizeof(ts));
	if (count < 1)
		count = 1;
	struct agg_event *a = agg_find(s, reason);
	struct buf path;
	buf_init(&path, 4096);
	cJSON *ev = cJSON_CreateObject();
	struct op *o;
	if (a && a->name[0] && a->type == type && now - a->last_ms < EVENT_AGGREGATE_MS) {
		a->count += count;
		a->last_ms = now;
		cJSON_AddNumberToObject(ev, "count", (double)a->count);
		cJSON_AddStringToObject(ev, "lastTimestamp", ts);
		cJSON_AddStringToObject(ev, "message", message);
		kube_path(&path, "", "v1", sp->namespace, "events", a->name, NULL);
		o = op_new(c, OP_EVENT_PATCH, s->key);
		snprintf(o->reason, sizeof(o->reason), "%s", reason);
		char *body = cJSON_PrintUnformatted(ev);
		op_send(o, KUBE_PATCH_MERGE, buf_str(&path), body, strlen(body));
		free(body);
	} else {
		char name[128];
		snprintf(name, sizeof(name), "%s.%" PRIx64, sp->name,
			 (uint64_t)loop_now_realtime_ns());
		if (a) {
			snprintf(a->name, sizeof(a->name), "%s", name);
			a->type = type;
			a->count = count;
			a->last_ms = now;
		}
		cJSON_AddStringToObject(ev, "apiVersion", "v1");
		cJSON_AddStringToObject(ev, "kind", "Event");
		cJSON *md = cJSON_AddObjectToObject(ev, "metadata");
		cJSON_AddStringToObject(md, "name", name);
		cJSON_AddStringToObject(md, "namespace", sp->namespace);
		cJSON *io = cJSON_AddObjectToObject(ev, "involvedObject");
		cJSON_AddStringToObject(io, "apiVersion", TAKT_API_VERSION);
		cJSON_AddStringToObject(io, "kind", "BatchSchedule");
		cJSON_AddStringToObject(io, "namespace", sp->namespace);
		cJSON_AddStringToObject(io, "name", sp->name);
		if (sp->uid)
			cJSON_AddStringToObject(io, "uid", sp->uid);
		cJSON_AddStringToObject(ev, "reason", reason);
		cJSON_AddStringToObject(ev, "message", message);
		cJSON_AddStringToObject(ev, "type",
					type == PLAN_EVENT_WARNING ? "Warning" : "Normal");
		cJSON_AddNumberToObject(ev, "count", (double)count);
		cJSON_AddStringToObject(ev, "firstTimestamp", ts);
		cJSON_AddStringToObject(ev, "lastTimestamp", ts);
		cJSON *src = cJSON_AddObjectToObject(ev, "source");
		cJSON_AddStringToObject(src, "component", TAKT_COMPONENT);
		cJSON_AddStringToObject(ev, "reportingComponent", TAKT_COMPONENT);
		cJSON_AddStringToObject(ev, "reportingInstance", c->instance);
		kube_path(&path, "", "v1", sp->namespace, "events", NULL, NULL);
		o = op_new(c, OP_EVENT_POST, s->key);
		snprintf(o->reason, sizeof(o->reason), "%s", reason);
		char *body = cJSON_PrintUnformatted(ev);
		op_send(o, KUBE_POST, buf_str(&path), body, strlen(body));
		free(body);
	}
	LOG_INFO("event", "obj=%s reason=%s type=%s count=%" PRId64 " message=\"%s\"", s->key,
		 reason, type == PLAN_EVENT_WARNING ? "Warning" : "Normal", count, message);
	cJSON_Delete(ev);
	buf_release(&path);
}

/* ---- reconcile --------------------------------------------------------------------- */

static void wake_cb(struct loop *l, loop_timer_id id, void *ud);

/* The end of a reconcile: arm the wake-up, build the next Job ahead, hand
 * the key back to the queue. */
static void finish(struct controller *c, struct sched *s)
{
	struct plan *p = &s->plan;
	if (!s->failed && s->spec_rc == 0) {
		/* Build the next slot's Job now, so that firing is sending. */
		if (p->next_slot != SPEC_TIME_UNSET &&
		    (s->prep_slot != p->next_slot || s->prep_gen != s->spec_gen || !s->prep_body)) {
			cJSON *job = NULL;
			char err[256];
			free(s->prep_body);
			s->prep_body = NULL;
			s->prep_slot = SPEC_TIME_UNSET;
			if (spec_build_job(&s->spec, p->zone, p->next_slot, SPEC_TRIGGER_SCHEDULE,
					   &job, err, sizeof(err)) == 0) {
				s->prep_body = cJSON_PrintUnformatted(job);
				s->prep_slot = p->next_slot;
				s->prep_gen = s->spec_gen;
			}
			cJSON_Delete(job);
		}
	}
	int64_t wake = p->wake;
	if (wake != s->wake_at || !s->wake_timer) {
		loop_timer_cancel(c->loop, s->wake_timer);
		s->wake_timer = 0;
		s->wake_at = wake;
		if (wake != SPEC_TIME_UNSET)
			s->wake_timer = loop_timer_at_realtime(c->loop, wake, wake_cb, s);
	}
	char *key = xstrdup(s->key);
	bool failed = s->failed;
	bool exp_left = s->n_exp > 0;
	s->busy = false;
	wq_done(c->queue, key);
	if (failed)
		wq_add_rate_limited(c->queue, key);
	else
		wq_forget(c->queue, key);
	/* Look again when an expectation would expire unseen. */
	if (exp_left)
		wq_add_after(c->queue, key, EXPECTATION_TTL_MS + 100);
	free(key);
}

static void wake_cb(struct loop *l, loop_timer_id id, void *ud)
{
	struct sched *s = ud;
	s->wake_timer = 0;
	s->wake_at = SPEC_TIME_UNSET;
	LOG_DEBUG("wake", "obj=%s", s->key);
	struct controller *c = s->c;
	/* Straight to reconcile in this callback, ahead of the keys queued by
	 * watch events: no loop turn and no other schedule's bookkeeping is
	 * between the slot's instant and the POST. A key still busy (its
	 * previous POSTs unanswered) is reconciled again when they are. */
	const char *key = c->all_synced ? wq_take(c->queue, s->key) : NULL;
	if (!key) {
		wq_add(c->queue, s->key);
		return;
	}
	char *k = xstrdup(key);
	reconcile(c, k);
	free(k);
}

/* Sends the queued status write unless one is on its way (its answer sends
 * the next): merge patches must apply in the order they were decided. */
static void send_status(struct controller *c, struct sched *s)
{
	char ns[256];
	const char *name;
	struct buf path;
	if (s->status_inflight || !s->queued)
		return;
	split_key(s->key, ns, sizeof(ns), &name);
	buf_init(&path, 4096);
	kube_path(&path, TAKT_GROUP, TAKT_VERSION, ns, TAKT_RES_SCHEDULES, name, "status");
	struct op *o = op_new(c, OP_STATUS, s->key);
	char *body = cJSON_PrintUnformatted(s->queued);
	cJSON_Delete(s->queued);
	s->queued = NULL;
	s->status_inflight = true;
	if (op_send(o, KUBE_PATCH_MERGE, buf_str(&path), body, strlen(body)) < 0) {
		s->status_inflight = false;
		drop_mine(s);
		wq_add_rate_limited(c->queue, s->key);
	}
	free(body);
	buf_release(&path);
}

/* Every status field we write: a merge patch keeps what it does not
 * mention, so the fields we no longer set are sent as null. */
static const char *const STATUS_FIELDS[] = {
    "observedGeneration",
    "timeZone",
    "conditions",
    "active",
    "activeCount",
    "lastScheduleTime",
    "lastSuccessfulTime",
    "nextScheduleTime",
    "lastSlotConsidered",
    "pendingSlot",
    "pendingTrigger",
    "runsStarted",
    "runsSucceeded",
    "runsFailed",
    "skippedOverlap",
    "skippedCalendar",
    "missed",
    "killed",
    "lastKill",
    "lastRunNow",
    "handledRequests",
};

/* The Jobs of this reconcile are answered: record its status (unless a
 * create failed: that run is not recorded, and the retry decides the slot
 * again) and hand the key back. The write does not hold the key, so the
 * next slot never waits for it. */
static void creates_done(struct controller *c, struct sched *s)
{
	if (s->pending > 0)
		return;
	if (s->after_pending) {
		/* The plan's other actions: they hold no slot, so they follow the
		 * POSTs. The plan and the base status stay as they were while
		 * the key is busy. */
		s->after_pending = false;
		for (size_t i = 0; i < s->plan.n_actions; i++) {
			const struct plan_action *a = &s->plan.actions[i];
			if (a->kind == PLAN_DELETE_JOB)
				send_delete(c, s, a);
			else if (a->kind == PLAN_EVENT)
				emit_event(c, s, a->event_type, a->reason, a->message, a->count);
		}
		if (s->spec_rc && !s->was_invalid_same) {
			LOG_WARN("invalid spec", "obj=%s err=\"%s\"", s->key, s->spec_err);
			emit_event(c, s, PLAN_EVENT_WARNING, "InvalidSpec", s->spec_err, 1);
		}
		cJSON_Delete(s->next_status);
		fill_uids(c, s, &s->plan.status);
		s->next_status = changed_status(&s->base, s->has_raw, &s->plan.status);
	}
	if (!s->failed && s->next_status) {
		cJSON *st = s->next_status;
		s->next_status = NULL;
		cJSON *patch = cJSON_CreateObject();
		cJSON *body = cJSON_Duplicate(st, 1);
		cJSON_AddItemToObject(patch, "status", body);
		for (size_t i = 0; i < sizeof(STATUS_FIELDS) / sizeof(STATUS_FIELDS[0]); i++)
			if (!cJSON_GetObjectItemCaseSensitive(st, STATUS_FIELDS[i]))
				cJSON_AddNullToObject(body, STATUS_FIELDS[i]);
		cJSON_Delete(s->mine);
		free(s->mine_uid);
		s->mine = st;
		s->mine_seq++;
		s->mine_uid = s->spec_uid ? xstrdup(s->spec_uid) : NULL;
		s->mine_rv = 0;
		cJSON_Delete(s->queued);
		s->queued = patch;
		send_status(c, s);
	}
	cJSON_Delete(s->next_status);
	s->next_status = NULL;
	finish(c, s);
}

static void op_done(struct kube_req *req, const struct kube_result *res, void *ud)
{
	struct op *o = ud;
	struct controller *c = o->c;
	struct sched *s = hmap_get(c->scheds, o->key);
	bool ok = res->err == 0 && res->status >= 200 && res->status < 300;
	double ms = (double)(loop_now_realtime_ns() - o->sent_ns) / 1e6;

	switch (o->kind) {
	case OP_CREATE:
		if (--c->posts_inflight == 0 && !list_empty(&c->held))
			release_held(c);
		if (ok || res->status == 409) {
			c->stats.jobs_created++;
			if (ok && s)
				expectation_set_uid(s, o->name, res->body);
			LOG_INFO(ok ? "job created" : "job already exists", "obj=%s job=%s ms=%.1f",
				 o->key, o->name, ms);
		} else {
			LOG_ERROR("job create failed",
				  "obj=%s job=%s status=%d reason=%s message=\"%s\" %s", o->key,
				  o->name, res->status, res->reason, res->message,
				  res->transport_error);
			if (s) {
				expectation_drop(s, o->name);
				s->failed = true;
			}
		}
		break;
	case OP_DELETE:
		if (ok || res->status == 404) {
			c->stats.jobs_deleted++;
			LOG_INFO("job deleted", "obj=%s job=%s", o->key, o->name);
		} else {
			LOG_ERROR("job delete failed",
				  "obj=%s job=%s status=%d reason=%s message=\"%s\" %s", o->key,
				  o->name, res->status, res->reason, res->message,
				  res->transport_error);
			if (s)
				trim_forget(s, o->name);
			wq_add_rate_limited(c->queue, o->key);
		}
		op_free(o);
		return;
	case OP_STATUS:
		if (s)
			s->status_inflight = false;
		if (ok) {
			c->stats.status_writes++;
			if (s && s->queued) {
				send_status(c, s);
			} else if (s && s->mine) {
				cJSON *obj = cJSON_ParseWithLength(res->body, res->body_len);
				s->mine_rv = rv_number(obj);
				cJSON_Delete(obj);
			}
		} else {
			if (res->status != 404)
				LOG_ERROR("status write failed",
					  "obj=%s status=%d reason=%s message=\"%s\" %s", o->key,
					  res->status, res->reason, res->message,
					  res->transport_error);
			/* Plan from the store again; it decides what to write. */
			if (s)
				drop_mine(s);
			if (res->status != 404)
				wq_add_rate_limited(c->queue, o->key);
		}
		op_free(o);
		return;
	case OP_EVENT_POST:
	case OP_EVENT_PATCH:
		if (ok) {
			c->stats.events_posted++;
		} else {
			LOG_WARN("event not recorded",
				 "obj=%s reason=%s status=%d message=\"%s\" %s", o->key, o->reason,
				 res->status, res->message, res->transport_error);
			/* The aggregated Event is gone: the next one starts anew. */
			struct agg_event *a = s ? agg_find(s, o->reason) : NULL;
			if (a)
				a->name[0] = 0;
		}
		op_free(o);
		return;
	}
	op_free(o);
	if (s && s->busy) {
		s->pending--;
		creates_done(c, s);
	}
}

/* The status decided, or NULL when it equals the one planned from: the
 * planner keeps the status stable between slots, so our own status events
 * do not answer themselves with another write. */
static cJSON *changed_status(const struct spec_status *old, bool has_raw,
			     const struct spec_status *next)
{
	cJSON *a = spec_status_to_json(old);
	cJSON *b = spec_status_to_json(next);
	bool same = has_raw && cJSON_Compare(a, b, 1);
	cJSON_Delete(a);
	if (same) {
		cJSON_Delete(b);
		return NULL;
	}
	return b;
}

static void send_create(struct controller *c, struct sched *s, const struct plan_action *a)
{
	char *body = NULL;
	char err[256];
	if (a->trigger == SPEC_TRIGGER_SCHEDULE && s->prep_body && s->prep_slot == a->slot &&
	    s->prep_gen == s->spec_gen) {
		body = s->prep_body;
		s->prep_body = NULL;
		s->prep_slot = SPEC_TIME_UNSET;
	} else {
		cJSON *job = NULL;
		if (spec_build_job(&s->spec, s->plan.zone, a->slot, a->trigger, &job, err,
				   sizeof(err))) {
			LOG_ERROR("job not built", "obj=%s job=%s err=\"%s\"", s->key, a->job_name,
				  err);
			s->failed = true;
			return;
		}
		control_tag_job(job, &s->spec, a->trigger);
		body = cJSON_PrintUnformatted(job);
		cJSON_Delete(job);
	}
	/* Counted active from now: a second reconcile before the watch shows
	 * the Job must not start another run. */
	XGROW(s->exp, s->cap_exp, s->n_exp + 1);
	struct expectation *e = &s->exp[s->n_exp++];
	snprintf(e->name, sizeof(e->name), "%s", a->job_name);
	e->slot = a->slot;
	e->trigger = a->trigger;
	e->expires_mono = loop_now_monotonic_ms() + EXPECTATION_TTL_MS;

	struct buf path;
	buf_init(&path, 4096);
	kube_path(&path, "batch", "v1", s->spec.namespace, "jobs", NULL, NULL);
	struct op *o = op_new(c, OP_CREATE, s->key);
	snprintf(o->name, sizeof(o->name), "%s", a->job_name);
	s->pending++;
	if (op_send(o, KUBE_POST, buf_str(&path), body, strlen(body)) < 0) {
		s->pending--;
		s->failed = true;
		expectation_drop(s, a->job_name);
	} else {
		LOG_DEBUG("job sent", "obj=%s job=%s late_ms=%" PRId64, s->key, a->job_name,
			  loop_now_realtime_ms() - a->slot);
	}
	free(body);
	buf_release(&path);
}

static void send_delete(struct controller *c, struct sched *s, const struct plan_action *a)
{
	bool trim = a->propagation == PLAN_PROPAGATION_BACKGROUND;
	if (trim) {
		if (trim_recent(s, a->job_name))
			return;
		XGROW(s->trims, s->cap_trims, s->n_trims + 1);
		struct trim_sent *t = &s->trims[s->n_trims++];
		snprintf(t->name, sizeof(t->name), "%s", a->job_name);
		t->at_mono = loop_now_monotonic_ms();
	}
	struct buf path, body;
	buf_init(&path, 4096);
	buf_init(&body, 1024);
	kube_path(&path, "batch", "v1", s->spec.namespace, "jobs", a->job_name, NULL);
	struct kube_delete_opts d = {
	    .propagation_policy =
		a->propagation == PLAN_PROPAGATION_FOREGROUND ? "Foreground" : "Background",
	};
	kube_delete_body(&body, &d);
	/* Not waited for: a failed delete only asks for another look. */
	struct op *o = op_new(c, OP_DELETE, s->key);
	snprintf(o->name, sizeof(o->name), "%s", a->job_name);
	if (op_send(o, KUBE_DELETE, buf_str(&path), buf_str(&body), body.len) < 0) {
		if (trim)
			trim_forget(s, a->job_name);
		wq_add_rate_limited(c->queue, s->key);
	}
	buf_release(&path);
	buf_release(&body);
}

/* The second half of a reconcile: plan from the stores and act. */
static void plan_and_act(struct controller *c, struct sched *s)
{
	const cJSON *obj = store_get(c->schedules, s->key);
	if (!obj) {
		finish(c, s); /* deleted meanwhile: the next pass forgets it */
		return;
	}
	struct gathered g;
	gather(c, s, s->spec.uid, &g);
	struct plan_input in = {
	    .spec = &s->spec,
	    .spec_error = s->spec_rc ? s->spec_err : NULL,
	    .status = &s->in_status,
	    .runs = s->runs,
	    .n_runs = s->n_runs,
	    .expectations = g.exps,
	    .n_expectations = g.n_exps,
	    .orphan_pods = s->orphans,
	    .run_now = s->run_now,
	    .now = loop_now_realtime_ms(),
	};
	if (s->spec.has_calendar) {
		struct calendar_view cv;
		calendars_lookup(c->calendars, s->spec.calendar.name, &cv);
		in.calendar_state = cv.state;
		in.calendar = cv.calendar;
		in.calendar_zone = cv.zone;
		in.calendar_error = cv.error;
	}
	int rc = plan_compute(&in, &s->plan);
	gathered_release(&g);
	if (rc < 0) {
		LOG_ERROR("plan failed", "obj=%s rc=%d", s->key, rc);
		s->failed = true;
		finish(c, s);
		return;
	}
	if (s->run_now)
		control_after_plan(c->control, obj, &s->spec, &s->plan, in.now);
	else if (s->has_raw && plan_may_wait(&s->plan, &s->base, in.now)) {
		/* A run started or ended just before a slot: the slot's
		 * reconcile writes it (see plan_may_wait). */
		c->stats.waited++;
		finish(c, s);
		return;
	}
	/* The Job POSTs first: they are what must leave on time. The rest of
	 * the plan (DELETEs, Events, the status diff) waits for their answers
	 * (creates_done), so that when many schedules share a slot every POST
	 * leaves before any of that bookkeeping. */
	for (size_t i = 0; i < s->plan.n_actions; i++)
		if (s->plan.actions[i].kind == PLAN_CREATE_JOB)
			send_create(c, s, &s->plan.actions[i]);
	s->after_pending = true;
	creates_done(c, s);
}

/* The kill requests' deletes are answered. */
static void control_done(void *ud, int err)
{
	struct sched *s = ud;
	if (err < 0) {
		/* Not recorded: the request is handled again on the retry. */
		s->failed = true;
		finish(s->c, s);
		return;
	}
	plan_and_act(s->c, s);
}

static void reconcile(struct controller *c, const char *key)
{
	struct sched *s = sched_get(c, key);
	c->stats.reconciles++;
	const cJSON *obj = store_get(c->schedules, key);
	if (!obj) {
		/* Deleted: its Jobs go with it (ownerReferences); forget it. */
		LOG_INFO("schedule gone", "obj=%s", key);
		loop_timer_cancel(c->loop, s->wake_timer);
		wq_done(c->queue, key);
		wq_forget(c->queue, key);
		sched_free(hmap_del(c->scheds, key));
		return;
	}
	sched_parse(s, obj);
	s->busy = true;
	s->pending = 0;
	s->failed = false;

	/* spec_status_parse reads obj.status: lend it the base status. Not
	 * again when it is the same one (ours, or the same stored version). */
	const cJSON *raw = base_status(s, obj);
	uint64_t rv = rv_number(obj);
	if (!s->base_valid || raw != s->base_raw || rv != s->base_rv ||
	    s->mine_seq != s->base_mine_seq) {
		cJSON *holder = cJSON_CreateObject();
		if (raw)
			cJSON_AddItemReferenceToObject(holder, "status", (cJSON *)raw);
		spec_status_release(&s->base);
		spec_status_parse(holder, &s->base);
		cJSON_Delete(holder);
		s->base_raw = raw;
		s->base_rv = rv;
		s->base_mine_seq = s->mine_seq;
		s->base_valid = true;
	}
	s->has_raw = raw != NULL;
	const struct spec_condition *ready = spec_status_condition(&s->base, TAKT_COND_READY);
	s->was_invalid_same = ready && ready->status && !strcmp(ready->status, "False") &&
			      ready->message && !strcmp(ready->message, s->spec_err);
	spec_status_copy(&s->in_status, &s->base);

	/* Kill and run-now requests first: a kill frees the slot it ends. */
	bool run_now = false;
	int n = control_before_plan(c->control, obj, &s->spec, &s->in_status,
				    loop_now_realtime_ms(), control_done, s, &run_now);
	s->run_now = run_now;
	if (n < 0) {
		s->failed = true;
		finish(c, s);
		return;
	}
	if (n == 0)
		plan_and_act(c, s);
}

static void on_drain_timer(struct loop *l, loop_timer_id id, void *ud)
{
	struct controller *c = ud;
	c->drain_timer = 0;
	drain(c);
}

/* Reconciles the queued keys, for at most DRAIN_SLICE_MS: a burst of watch
 * events (a hundred Jobs changing at once) is worked off in slices, with
 * the loop's other work in between — the slot timers first, since the
 * loop fires its wall-clock timers after the monotonic one that resumes
 * the drain. */
static void drain(struct controller *c)
{
	const char *key;
	if (!c->all_synced)
		return;
	int64_t start = loop_now_monotonic_ns();
	while ((key = wq_get(c->queue)) != NULL) {
		char *k = xstrdup(key);
		reconcile(c, k);
		free(k);
		if (wq_len(c->queue) > 0 &&
		    loop_now_monotonic_ns() - start >= DRAIN_SLICE_MS * 1000000) {
			if (!c->drain_timer)
				c->drain_timer = loop_timer_after(c->loop, 0, on_drain_timer, c);
			return;
		}
	}
}

static void queue_ready(struct wq *q, void *ud)
{
	(void)q;
	drain(ud);
}

/* ---- event handlers ---------------------------------------------------------------- */

static void enqueue_all(struct controller *c)
{
	struct store_list l;
	struct buf k;
	buf_init(&k, 1024);
	store_list(c->schedules, NULL, NULL, &l);
	for (size_t i = 0; i < l.n; i++) {
		buf_reset(&k);
		if (store_key(l.items[i], &k) == 0)
			wq_add(c->queue, buf_str(&k));
	}
	store_list_release(&l);
	/* Schedules we know that the store no longer has: reconcile forgets
	 * them. */
	size_t pos = 0;
	const char *key;
	void *v;
	while (hmap_next(c->scheds, &pos, &key, &v)) {
		/* After a gap or a clock jump nothing cached is trusted. */
		((struct sched *)v)->runs_valid = false;
		((struct sched *)v)->base_valid = false;
		if (!store_get(c->schedules, key))
			wq_add(c->queue, key);
	}
	buf_release(&k);
}

static void schedule_changed(void *ud, enum store_event ev, const char *key, const cJSON *old_obj,
			     const cJSON *new_obj)
{
	struct controller *c = ud;
	(void)ev;
	(void)old_obj;
	(void)new_obj;
	wq_add(c->queue, key);
}

/* A Job or Pod changed: its schedule is the label plus the namespace. The
 * runs gathered for that schedule are stale (and may point into the object
 * the store has just replaced). */
static void child_changed(struct controller *c, const cJSON *obj)
{
	const char *sched = kobj_label(obj, TAKT_LABEL_SCHEDULE);
	const char *ns = kobj_meta(obj, "namespace");
	if (!sched || !ns)
		return;
	struct buf k;
	buf_init(&k, 1024);
	buf_addf(&k, "%s/%s", ns, sched);
	struct sched *s = hmap_get(c->scheds, buf_str(&k));
	if (s)
		s->runs_valid = false;
	wq_add(c->queue, buf_str(&k));
	buf_release(&k);
}

/* Both versions: an object whose label changed leaves one schedule and
 * joins another. */
static void child_versions_changed(struct controller *c, const cJSON *old_obj, const cJSON *new_obj)
{
	const char *a = old_obj ? kobj_label(old_obj, TAKT_LABEL_SCHEDULE) : NULL;
	const char *b = new_obj ? kobj_label(new_obj, TAKT_LABEL_SCHEDULE) : NULL;
	if (old_obj && (!new_obj || !a || !b || strcmp(a, b)))
		child_changed(c, old_obj);
	if (new_obj)
		child_changed(c, new_obj);
}

static void job_changed(void *ud, enum store_event ev, const char *key, const cJSON *old_obj,
			const cJSON *new_obj)
{
	struct controller *c = ud;
	const cJSON *obj = new_obj ? new_obj : old_obj;
	(void)key;
	if (ev == STORE_ADDED) {
		/* The watch shows our POST: the expectation is met. */
		struct buf k;
		buf_init(&k, 1024);
		buf_addf(&k, "%s/%s",
			 kobj_meta(obj, "namespace") ? kobj_meta(obj, "namespace") : "",
			 kobj_label(obj, TAKT_LABEL_SCHEDULE) ? kobj_label(obj, TAKT_LABEL_SCHEDULE) : "");
		struct sched *s = hmap_get(c->scheds, buf_str(&k));
		if (s && kobj_meta(obj, "name"))
			expectation_drop(s, kobj_meta(obj, "name"));
		buf_release(&k);
	}
	child_versions_changed(c, old_obj, new_obj);
}

static void pod_changed(void *ud, enum store_event ev, const char *key, const cJSON *old_obj,
			const cJSON *new_obj)
{
	struct controller *c = ud;
	(void)ev;
	(void)key;
	child_versions_changed(c, old_obj, new_obj);
}

static bool everything_synced(const struct controller *c)
{
	return reflector_synced(c->refl_schedules) && reflector_synced(c->refl_jobs) &&
	       reflector_synced(c->refl_pods) && calendars_synced(c->calendars);
}

/* A calendar changed (name NULL: any may have): re-plan its schedules. */
static void calendar_changed(void *ud, const char *name)
{
	struct controller *c = ud;
	if (!c->all_synced) {
		if (!everything_synced(c))
			return;
		c->all_synced = true;
		LOG_INFO("caches synced", "schedules=%zu jobs=%zu pods=%zu",
			 store_len(c->schedules), store_len(c->jobs), store_len(c->pods));
		enqueue_all(c);
		drain(c);
		return;
	}
	size_t pos = 0;
	const char *key;
	void *v;
	while (hmap_next(c->scheds, &pos, &key, &v)) {
		const struct sched *s = v;
		if (s->spec.has_calendar &&
		    (!name || (s->spec.calendar.name && !strcmp(s->spec.calendar.name, name))))
			wq_add(c->queue, key);
	}
}

static void reflector_listed(struct reflector *r, bool relist, void *ud)
{
	struct controller *c = ud;
	bool was = c->all_synced;
	c->all_synced = everything_synced(c);
	if (relist)
		c->stats.relists++;
	if (!c->all_synced)
		return;
	if (!was)
		LOG_INFO("caches synced", "schedules=%zu jobs=%zu pods=%zu",
			 store_len(c->schedules), store_len(c->jobs), store_len(c->pods));
	else
		LOG_INFO("relisted", "resource=%s relist=%d", reflector_what(r), relist);
	/* After a watch gap every decision may be stale. */
	enqueue_all(c);
	drain(c);
}

static void clock_jumped(struct loop *l, int64_t delta_ms, void *ud)
{
	struct controller *c = ud;
	(void)l;
	LOG_WARN("wall clock jumped: recomputing every schedule", "delta_ms=%" PRId64, delta_ms);
	/* Wall-clock timers keep their instants; the plans may not. */
	enqueue_all(c);
	drain(c);
}

/* ---- lifecycle ------------------------------------------------------------------------ */

int controller_new(struct loop *l, struct kube_http *h, const struct controller_opts *o,
		   struct controller **out)
{
	struct controller *c = xcalloc(1, sizeof(*c));
	char host[256] = TAKT_COMPONENT;
	list_init(&c->ops);
	list_init(&c->held);
	c->loop = l;
	c->http = h;
	c->ns = o && o->namespace && *o->namespace ? xstrdup(o->namespace) : NULL;
	if (o && o->instance)
		snprintf(host, sizeof(host), "%s", o->instance);
	else if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "%s", TAKT_COMPONENT);
	host[sizeof(host) - 1] = 0;
	c->instance = xstrdup(host);
	c->scheds = hmap_new();

	c->schedules = store_new(TAKT_GROUP "/" TAKT_RES_SCHEDULES);
	c->jobs = store_new("jobs");
	c->pods = store_new("pods");
	store_add_index(c->jobs, IDX_SCHEDULE, store_index_label, TAKT_LABEL_SCHEDULE);
	store_add_index(c->pods, IDX_SCHEDULE, store_index_label, TAKT_LABEL_SCHEDULE);
	store_add_index(c->pods, IDX_JOB, store_index_controller, "Job");
	store_on_change(c->schedules, schedule_changed, c);
	store_on_change(c->jobs, job_changed, c);
	store_on_change(c->pods, pod_changed, c);

	struct kube_transport tr = kube_transport_http(h);
	struct reflector_opts io = {
	    .group = TAKT_GROUP, .version = TAKT_VERSION, .resource = TAKT_RES_SCHEDULES, .ns = c->ns};
	c->refl_schedules = reflector_new(l, &tr, c->schedules, &io, reflector_listed, c);
	io = (struct reflector_opts){.group = "batch",
				     .version = "v1",
				     .resource = "jobs",
				     .ns = c->ns,
				     .label_selector = TAKT_LABEL_SCHEDULE,
				     .transform = project_job};
	c->refl_jobs = reflector_new(l, &tr, c->jobs, &io, reflector_listed, c);
	io.group = "";
	io.resource = "pods";
	io.transform = project_pod;
	c->refl_pods = reflector_new(l, &tr, c->pods, &io, reflector_listed, c);

	c->calendars = calendars_new(l, h, calendar_changed, c);
	struct control_opts cop = {.namespace = c->ns,
				   .instance = c->instance,
				   .idx_schedule = IDX_SCHEDULE,
				   .idx_job = IDX_JOB};
	int rc = control_new(l, h, c->schedules, c->jobs, c->pods, &cop, &c->control);
	if (rc < 0) {
		controller_free(c);
		return rc;
	}
	c->queue = wq_new_loop(l, NULL, queue_ready, c);
	loop_on_clock_jump(l, clock_jumped, c);
	*out = c;
	return 0;
}

void controller_start(struct controller *c)
{
	reflector_start(c->refl_schedules);
	reflector_start(c->refl_jobs);
	reflector_start(c->refl_pods);
	calendars_start(c->calendars);
	control_start(c->control);
}

static void sched_free_timer(void *p)
{
	struct sched *s = p;
	loop_timer_cancel(s->c->loop, s->wake_timer);
	sched_free(s);
}

void controller_free(struct controller *c)
{
	if (!c)
		return;
	while (!list_empty(&c->ops)) {
		struct op *o = LIST_ENTRY(c->ops.next, struct op, link);
		kube_req_cancel(o->req);
		op_free(o);
	}
	loop_timer_cancel(c->loop, c->drain_timer);
	loop_timer_cancel(c->loop, c->held_timer);
	reflector_free(c->refl_schedules);
	reflector_free(c->refl_jobs);
	reflector_free(c->refl_pods);
	calendars_free(c->calendars);
	control_free(c->control);
	hmap_free(c->scheds, sched_free_timer);
	wq_free(c->queue);
	store_free(c->schedules);
	store_free(c->jobs);
	store_free(c->pods);
	free(c->ns);
	free(c->instance);
	free(c);
}

void controller_get_stats(const struct controller *c, struct controller_stats *st)
{
	*st = c->stats;
}
