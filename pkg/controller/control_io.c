/* External control by annotation: the I/O; see control_io.h. */
#include "controller/control_io.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hmap.h"
#include "base/list.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "controller/control.h"
#include "controller/project.h"
#include "controller/writes.h"
#include "kube/event.h"
#include "kube/http.h"
#include "kube/reflector.h"
#include "kube/store.h"
#include "loop/loop.h"
#include "tz/civil.h"

#include "kube/obj.h"
#include "base/banned.h"

/* Keys of requests answered or warned about, kept in memory per process
 * (the durable record is the status, or the deterministic Event name). */
#define ANSWERED_MAX 4096

struct control {
	struct writes *writes;
	struct store *schedules, *jobs, *pods;
	char *ns;
	char *idx_schedule, *idx_job;
	struct list_node kills; /* struct kill, their requests unanswered */
	/* "uid/kind/value" of invalid requests already warned about, and
	 * "uid/id" of foreign-pod requests answered. */
	struct hmap *answered;
	/* The foreign-pod watch: a reflector with a sink, no store. */
	struct reflector *pod_watch;
	struct control_stats stats;
};

/* One run to stop: its Job and the request that stops it. */
struct kill_job {
	char *name;
	char *uid;
	char *id;
	char *event;   /* the Event message for the Job */
	bool pods_ok;  /* no pod DELETE of it was refused: phase 2 may go */
	bool deleted;  /* its DELETE was answered 2xx, 404 or 409 */
	char *refused; /* the first refusal for good of one of its writes */
};

/* One request (a schedule's takt.io/kill, or a pod's) in a kill: what it
 * asked for; what it did is read from the answers when they are all in. */
struct kill_req {
	char *id;
	char *pod; /* the pod that carried it; NULL: the schedule */
	char gtxt[64];
	struct req_job {
		size_t job;  /* index in kill.jobs */
		bool counts; /* killed by no earlier request: counted in `killed` */
	} * jobs;
	size_t n_jobs, cap_jobs;
	size_t *pods; /* indices in kill.pods: the pod DELETEs it added */
	size_t n_pods, cap_pods;
};

/* The asynchronous part of one reconcile's kills. */
struct kill {
	struct list_node link; /* in control.kills */
	struct control *c;
	char *ns;
	char *sched_name, *sched_uid; /* for the schedule's Events */
	struct spec_status *st;	      /* the records go here (borrowed) */
	int64_t now;
	char **keep; /* handled entries still requested (control_mark_handled) */
	size_t n_keep;
	control_done_fn *done;
	void *ud;
	int pending;
	/* A write that got no answer or one that may pass on a retry (5xx,
	 * 429...), or that could not be sent: nothing is recorded, the
	 * request is handled again (idempotently) on the retry. */
	bool transient;
	bool phase2; /* the Jobs' requests are sent */
	struct kill_job *jobs;
	size_t n_jobs, cap_jobs;
	struct pod_del {
		char *name, *uid;
		bool grace_set;
		long grace;
		size_t job;   /* index in jobs */
		bool deleted; /* answered 2xx */
	} * pods;
	size_t n_pods, cap_pods;
	struct kill_req *reqs;
	size_t n_reqs, cap_reqs;
};

/* ---- small helpers ---------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h ^ 0xff; /* separates "ab"+"c" from "a"+"bc" */
}

static void grace_text(bool set, long grace, char *out, size_t n)
{
	if (set)
		snprintf(out, n, "grace period %lds", grace);
	else
		snprintf(out, n, "the pods' own grace period");
}

/* ---- requests --------------------------------------------------------------- */

static void kill_step(struct kill *k);

/* A kill's write: a pod DELETE, a Job PATCH or DELETE. Counted in
 * k->pending until answered; one that cannot be sent fails the kill (to
 * be retried: the write path's queue is full or closing). */
static void kill_send(struct kill *k, enum kube_method m, const char *path, const char *body,
		      const char *name, writes_done_fn *done)
{
	struct write w = {.kind = WRITE_KILL,
			  .method = m,
			  .path = path,
			  .body = body,
			  .tag = name,
			  .done = done,
			  .ud = k};
	if (writes_send(k->c->writes, &w) < 0)
		k->transient = true;
	else
		k->pending++;
}

/* ---- Events ------------------------------------------------------------------ */

/* Posts an Event whose name is derived from (object uid, reason, seed): the
 * same request answered twice (a retry, a restart) posts it once — the
 * second POST is AlreadyExists. Fire and forget. */
static void post_event(struct control *c, const char *api_version, const char *kind, const char *ns,
		       const char *name, const char *uid, bool warning, const char *reason,
		       const char *seed, const char *message)
{
	if (!ns || !name)
		return;
	char ev_name[300];
	uint64_t h = fnv1a(fnv1a(fnv1a(14695981039346656037ULL, uid ? uid : name), reason), seed);
	snprintf(ev_name, sizeof(ev_name), "%.200s.%016" PRIx64, name, h);
	struct kube_event ev = {.api_version = api_version,
				.kind = kind,
				.ns = ns,
				.name = name,
				.uid = uid,
				.event_name = ev_name,
				.warning = warning,
				.reason = reason,
				.message = message,
				.count = 1};
	writes_event_post(c->writes, &ev, NULL, NULL);
}

static void event_on_schedule(struct control *c, const struct spec *sp, bool warning,
			      const char *reason, const char *seed, const char *message)
{
	post_event(c, TAKT_API_VERSION, TAKT_KIND_SCHEDULE, sp->namespace, sp->name, sp->uid,
		   warning, reason, seed, message);
}

static void event_on(struct control *c, const char *api_version, const char *kind, const cJSON *obj,
		     bool warning, const char *reason, const char *seed, const char *message)
{
	post_event(c, api_version, kind, kobj_meta(obj, "namespace"), kobj_meta(obj, "name"),
		   kobj_meta(obj, "uid"), warning, reason, seed, message);
}

/* Remembers a key; true when it was new (the caller acts once per process). */
static bool answer_once(struct control *c, const char *key)
{
	if (hmap_get(c->answered, key))
		return false;
	if (hmap_len(c->answered) >= ANSWERED_MAX) {
		/* Bounded: forgetting only means a repeated Warning, whose
		 * deterministic name makes the apiserver refuse it anyway. */
		hmap_free(c->answered, NULL);
		c->answered = hmap_new();
	}
	hmap_put(c->answered, key, (void *)1);
	return true;
}

/* A malformed request on an object: one Warning per (object, value) and
 * process; nothing else happens until the annotation changes. */
static void warn_invalid(struct control *c, const char *api_version, const char *kind,
			 const cJSON *obj, const char *what, const char *value, const char *err)
{
	struct buf key;
	buf_init(&key, 1024);
	buf_addf(&key, "%s/%s/%.100s", kobj_meta(obj, "uid") ? kobj_meta(obj, "uid") : "", what,
		 value ? value : "");
	if (answer_once(c, buf_str(&key))) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s: nothing was done", err);
		event_on(c, api_version, kind, obj, true, "InvalidRequest", buf_str(&key), msg);
	}
	buf_release(&key);
}

/* ---- kills -------------------------------------------------------------------- */

static void kill_free(struct kill *k)
{
	for (size_t i = 0; i < k->n_jobs; i++) {
		free(k->jobs[i].name);
		free(k->jobs[i].uid);
		free(k->jobs[i].id);
		free(k->jobs[i].event);
		free(k->jobs[i].refused);
	}
	for (size_t i = 0; i < k->n_pods; i++) {
		free(k->pods[i].name);
		free(k->pods[i].uid);
	}
	for (size_t i = 0; i < k->n_reqs; i++) {
		free(k->reqs[i].id);
		free(k->reqs[i].pod);
		free(k->reqs[i].jobs);
	}
	for (size_t i = 0; i < k->n_keep; i++)
		free(k->keep[i]);
	list_del(&k->link);
	free(k->keep);
	free(k->jobs);
	free(k->pods);
	free(k->reqs);
	free(k->ns);
	free(k->sched_name);
	free(k->sched_uid);
	free(k);
}

/* The index of the Job of that name in the kill, or k->n_jobs. */
static size_t kill_job_index(const struct kill *k, const char *name)
{
	size_t i = 0;
	while (i < k->n_jobs && !str_eq(k->jobs[i].name, name))
		i++;
	return i;
}

/* A request of the kill: what it asked for is added by kill_add_job. */
static struct kill_req *kill_req_new(struct kill *k, const char *id, const char *pod,
				     bool grace_set, long grace)
{
	XGROW(k->reqs, k->cap_reqs, k->n_reqs + 1);
	struct kill_req *q = &k->reqs[k->n_reqs++];
	memset(q, 0, sizeof(*q));
	q->id = xstrdup(id);
	q->pod = pod ? xstrdup(pod) : NULL;
	grace_text(grace_set, grace, q->gtxt, sizeof(q->gtxt));
	return q;
}

/* Adds the run of `job` to request q: its pods to delete with the grace,
 * the Job to annotate and delete (once per kill: a run asked for twice is
 * stopped once, by the first request). `counts`: q is the first request
 * to kill it (counted in `killed`). */
static void kill_add_job(struct control *c, struct kill *k, struct kill_req *q, const cJSON *job,
			 bool grace_set, long grace, const char *event_msg, bool counts)
{
	size_t ji = kill_job_index(k, kobj_meta(job, "name"));
	if (ji == k->n_jobs) {
		XGROW(k->jobs, k->cap_jobs, k->n_jobs + 1);
		struct kill_job *j = &k->jobs[k->n_jobs++];
		memset(j, 0, sizeof(*j));
		j->name = xstrdup(kobj_meta(job, "name"));
		j->uid = kobj_meta(job, "uid") ? xstrdup(kobj_meta(job, "uid")) : NULL;
		j->id = xstrdup(q->id);
		j->event = xstrdup(event_msg);
		j->pods_ok = true;
	}
	XGROW(q->jobs, q->cap_jobs, q->n_jobs + 1);
	q->jobs[q->n_jobs++] = (struct req_job){.job = ji, .counts = counts};

	struct buf key;
	struct store_list pods;
	char why[256];
	buf_init(&key, 1024);
	store_key(job, &key);
	if (store_by_index(c->pods, c->idx_job, buf_str(&key), &pods) < 0)
		pods.n = 0, pods.items = NULL;
	for (size_t i = 0; i < pods.n; i++) {
		const cJSON *pod = pods.items[i];
		if (control_pod_of_job(pod, job, why, sizeof(why)) || !kobj_pod_present(pod))
			continue;
		/* Deleting a terminating pod again changes nothing unless it
		 * shortens its grace period. */
		if (kobj_meta(pod, "deletionTimestamp") && !grace_set)
			continue;
		bool dup = false;
		for (size_t j = 0; j < k->n_pods; j++)
			dup |= str_eq(k->pods[j].uid, kobj_meta(pod, "uid"));
		if (dup)
			continue;
		XGROW(k->pods, k->cap_pods, k->n_pods + 1);
		struct pod_del *d = &k->pods[k->n_pods++];
		memset(d, 0, sizeof(*d));
		d->name = xstrdup(kobj_meta(pod, "name"));
		d->uid = kobj_meta(pod, "uid") ? xstrdup(kobj_meta(pod, "uid")) : NULL;
		d->grace_set = grace_set;
		d->grace = grace;
		d->job = ji;
	}
	store_list_release(&pods);
	buf_release(&key);
}

/* The answers. A 404 or 409 means gone already, or replaced by another
 * object of the same name (the uid precondition): either way nothing of
 * this run is left there. */
static bool kill_gone(const struct kube_result *res)
{
	return res->err == 0 && (res->status == 404 || res->status == 409);
}

/* What one answer means: 0 done (2xx, or gone); 1 refused for good — the
 * same request would get the same answer (403: the controller may not
 * delete pods; 400, 422...) — with the refusal kept in *refused (the
 * first one wins); -1 worth a retry (no answer, 5xx, 429, 408, 401: the
 * same classes as a Job create, plan_create_failure_permanent). */
static int kill_answer(struct kill *k, const char *log_msg, const char *what, const char *name,
		       const struct kube_result *res, char **refused)
{
	if ((res->err == 0 && res->status >= 200 && res->status < 300) || kill_gone(res))
		return 0;
	LOG_ERROR(log_msg, "obj=%s/%s status=%d reason=%s message=\"%s\" %s", k->ns, name,
		  res->status, res->reason, res->message, res->transport_error);
	struct plan_create_failure f = {.code = res->err < 0 ? 0 : res->status};
	if (!plan_create_failure_permanent(&f)) {
		k->transient = true;
		return -1;
	}
	if (!*refused) {
		struct buf b;
		buf_init(&b, 2048);
		buf_addf(&b, "the apiserver refused to %s %s: %d", what, name, res->status);
		if (res->reason && *res->reason)
			buf_addf(&b, " %s", res->reason);
		buf_addf(&b, ": %.600s",
			 res->message && *res->message ? res->message : "(no message)");
		*refused = xstrdup(buf_str(&b));
		buf_release(&b);
	}
	return 1;
}

static struct pod_del *pod_of(struct kill *k, const char *name)
{
	for (size_t i = 0; i < k->n_pods; i++)
		if (str_eq(k->pods[i].name, name))
			return &k->pods[i];
	return NULL;
}

static void pod_deleted(void *ud, const char *name, const struct kube_result *res, double ms)
{
	struct kill *k = ud;
	(void)ms;
	struct pod_del *d = pod_of(k, name);
	struct kill_job *j = d ? &k->jobs[d->job] : NULL;
	char *dummy = NULL;
	int rc =
	    kill_answer(k, "pod delete failed", "delete pod", name, res, j ? &j->refused : &dummy);
	free(dummy);
	/* A Job whose pods are not all gone is left alone (kill_phase2). */
	if (rc != 0 && j)
		j->pods_ok = false;
	if (rc == 0 && !kill_gone(res)) {
		k->c->stats.pods_deleted++;
		if (d)
			d->deleted = true;
	}
	if (rc == 0)
		LOG_INFO("pod deleted", "obj=%s/%s status=%d", k->ns, name, res->status);
	k->pending--;
	kill_step(k);
}

static void job_marked(void *ud, const char *name, const struct kube_result *res, double ms)
{
	struct kill *k = ud;
	(void)ms;
	size_t ji = kill_job_index(k, name);
	char *dummy = NULL;
	kill_answer(k, "job mark failed", "annotate Job", name, res,
		    ji < k->n_jobs ? &k->jobs[ji].refused : &dummy);
	free(dummy);
	k->pending--;
	kill_step(k);
}

static void job_deleted(void *ud, const char *name, const struct kube_result *res, double ms)
{
	struct kill *k = ud;
	(void)ms;
	size_t ji = kill_job_index(k, name);
	struct kill_job *j = ji < k->n_jobs ? &k->jobs[ji] : NULL;
	char *dummy = NULL;
	int rc =
	    kill_answer(k, "job delete failed", "delete Job", name, res, j ? &j->refused : &dummy);
	free(dummy);
	if (rc == 0 && res->status != 409)
		k->c->stats.jobs_deleted++;
	if (rc == 0 && j) {
		j->deleted = true;
		/* Told once the Job's DELETE is answered: the run is stopped. */
		char seed[CONTROL_REQUEST_ID_MAX + 16];
		snprintf(seed, sizeof(seed), "kill:%s", j->id);
		post_event(k->c, "batch/v1", "Job", k->ns, j->name, j->uid, false, "Killed", seed,
			   j->event);
	}
	k->pending--;
	kill_step(k);
}

static void send_pod_delete(struct kill *k, const struct pod_del *d)
{
	struct buf path, body;
	buf_init(&path, 4096);
	buf_init(&body, 1024);
	kube_path(&path, "", "v1", k->ns, "pods", d->name, NULL);
	struct kube_delete_opts o = {
	    .grace_period_seconds = d->grace_set ? &d->grace : NULL,
	    .precondition_uid = d->uid,
	};
	kube_delete_body(&body, &o);
	kill_send(k, KUBE_DELETE, buf_str(&path), buf_str(&body), d->name, pod_deleted);
	buf_release(&path);
	buf_release(&body);
}

static void send_job_ops(struct kill *k, const struct kill_job *j)
{
	struct buf path, body;
	buf_init(&path, 4096);
	buf_init(&body, 1024);
	kube_path(&path, "batch", "v1", k->ns, "jobs", j->name, NULL);

	/* The mark that makes the run count as killed, not failed. */
	cJSON *patch = cJSON_CreateObject();
	cJSON *anns =
	    cJSON_AddObjectToObject(cJSON_AddObjectToObject(patch, "metadata"), "annotations");
	cJSON_AddStringToObject(anns, TAKT_ANN_KILLED, j->id);
	char *pbody = cJSON_PrintUnformatted(patch);
	cJSON_Delete(patch);
	kill_send(k, KUBE_PATCH_MERGE, buf_str(&path), pbody, j->name, job_marked);
	free(pbody);

	/* Foreground: the Job stays, with a deletionTimestamp (so it creates
	 * no pod), until its pods are gone; the run stays active meanwhile. */
	struct kube_delete_opts o = {.propagation_policy = "Foreground",
				     .precondition_uid = j->uid};
	kube_delete_body(&body, &o);
	kill_send(k, KUBE_DELETE, buf_str(&path), buf_str(&body), j->name, job_deleted);
	buf_release(&path);
	buf_release(&body);
}

/* Phase 2: the Jobs whose pod DELETEs all succeeded. A Job deleted while
 * its pods were not would hand them to the garbage collector, which
 * deletes them with their own grace period, not the one asked for; so a
 * Job with a pod refused is left alone (the kill fails for that run). */
static void kill_phase2(struct kill *k)
{
	k->phase2 = true;
	for (size_t i = 0; i < k->n_jobs; i++)
		if (k->jobs[i].pods_ok)
			send_job_ops(k, &k->jobs[i]);
}

/* Every answer is in: each request is recorded as the apiserver answered
 * it (the runs whose Job DELETE succeeded, the pods whose DELETE did;
 * failed, with the refusal, when a write was refused for good), with a
 * Normal Event `Killed` or a Warning `KillFailed` on the schedule. */
static void kill_record(struct kill *k)
{
	char seed[CONTROL_REQUEST_ID_MAX + 16];
	for (size_t r = 0; r < k->n_reqs; r++) {
		const struct kill_req *q = &k->reqs[r];
		const char **names = xcalloc(q->n_jobs + 1, sizeof(*names));
		size_t n = 0, fresh = 0;
		int64_t pods = 0;
		const char *refused = NULL;
		for (size_t i = 0; i < q->n_jobs; i++) {
			const struct kill_job *j = &k->jobs[q->jobs[i].job];
			if (!refused && j->refused)
				refused = j->refused;
			for (size_t p = 0; p < k->n_pods; p++)
				pods += k->pods[p].job == q->jobs[i].job && k->pods[p].deleted;
			if (!j->deleted)
				continue;
			names[n++] = j->name;
			fresh += q->jobs[i].counts;
		}
		control_record_kill(k->st,
				    &(struct control_kill_record){.id = q->id,
								  .now_ms = k->now,
								  .jobs = names,
								  .n_jobs = n,
								  .jobs_new = fresh,
								  .pods_deleted = pods,
								  .failed = refused},
				    (const char *const *)k->keep, k->n_keep);
		k->c->stats.kills++;

		struct buf msg;
		buf_init(&msg, 4096);
		buf_addf(&msg, "kill request %s", q->id);
		if (q->pod)
			buf_addf(&msg, " on pod %s", q->pod);
		if (refused)
			buf_addf(&msg, " failed: %s; not retried; ", refused);
		else
			buf_addf(&msg, ": ");
		if (q->pod && q->n_jobs == 1) {
			buf_addf(&msg, "run %s %s", k->jobs[q->jobs[0].job].name,
				 n ? "killed" : "not killed");
		} else {
			buf_addf(&msg, "%zu run%s killed", n, n == 1 ? "" : "s");
			for (size_t i = 0; i < n; i++)
				buf_addf(&msg, "%s%s", i ? ", " : " (", names[i]);
			if (n)
				buf_addf(&msg, ")");
		}
		buf_addf(&msg, ", %" PRId64 " pod%s deleted with %s", pods, pods == 1 ? "" : "s",
			 q->gtxt);
		snprintf(seed, sizeof(seed), "kill:%s", q->id);
		post_event(k->c, TAKT_API_VERSION, TAKT_KIND_SCHEDULE, k->ns, k->sched_name,
			   k->sched_uid, refused != NULL, refused ? "KillFailed" : "Killed", seed,
			   buf_str(&msg));
		buf_release(&msg);
		free(names);
	}
}

/* Phase 1 (pods) answered: phase 2 (Jobs), unless a write is to be
 * retried; phase 2 answered, or nothing to send in it: done. */
static void kill_step(struct kill *k)
{
	if (k->pending > 0)
		return;
	if (!k->phase2 && !k->transient) {
		kill_phase2(k);
		if (k->pending > 0)
			return;
	}
	control_done_fn *done = k->done;
	void *ud = k->ud;
	/* A write worth a retry: nothing recorded, the request is handled
	 * again, from phase 1, on the retry (every step is idempotent). */
	int err = k->transient ? -EIO : 0;
	if (!err)
		kill_record(k);
	kill_free(k);
	done(ud, err);
}

/* Active Jobs of the schedule: not finished, or with pods still there. */
static bool job_active(struct control *c, const cJSON *job)
{
	if (!kobj_job_finished(job))
		return true;
	struct buf key;
	struct store_list pods;
	bool any = false;
	buf_init(&key, 1024);
	store_key(job, &key);
	if (store_by_index(c->pods, c->idx_job, buf_str(&key), &pods) == 0) {
		for (size_t i = 0; i < pods.n && !any; i++)
			any = kobj_pod_present(pods.items[i]);
		store_list_release(&pods);
	}
	buf_release(&key);
	return any;
}

struct keep {
	char **v;
	size_t n, cap;
};

static void keep_add(struct keep *kp, enum control_kind kind, const char *id)
{
	char e[CONTROL_REQUEST_ID_MAX + 16];
	if (!id || control_handled_entry(kind, id, e, sizeof(e)))
		return;
	XGROW(kp->v, kp->cap, kp->n + 1);
	kp->v[kp->n++] = xstrdup(e);
}

static void keep_release(struct keep *kp)
{
	for (size_t i = 0; i < kp->n; i++)
		free(kp->v[i]);
	free(kp->v);
}

/* The requests still present in annotations: their handled entries must
 * outlive newer ones while the annotation stays. */
static void keep_collect(const struct spec *sp, const struct store_list *pods, struct keep *kp)
{
	memset(kp, 0, sizeof(*kp));
	keep_add(kp, CONTROL_KILL, sp->ann_kill);
	keep_add(kp, CONTROL_RUN_NOW, sp->ann_run_now);
	for (size_t i = 0; pods && i < pods->n; i++)
		keep_add(kp, CONTROL_KILL, kobj_annotation(pods->items[i], TAKT_ANN_KILL));
}

/* One reconcile's requests on a schedule and its pods: what
 * control_before_plan works through. */
struct kill_ctx {
	struct control *c;
	const cJSON *schedule;
	const struct spec *sp;
	struct spec_status *st; /* the kill records go here */
	int64_t now;
	struct keep kp;
	struct kill *k; /* created with the first run to kill */
	control_done_fn *done;
	void *ud;
};

static struct kill *kill_get(struct kill_ctx *x)
{
	if (!x->k) {
		struct kill *k = xcalloc(1, sizeof(*k));
		k->c = x->c;
		k->ns = xstrdup(x->sp->namespace);
		k->sched_name = xstrdup(x->sp->name);
		k->sched_uid = xstrdup(x->sp->uid);
		k->st = x->st;
		k->now = x->now;
		k->keep = xcalloc(x->kp.n + 1, sizeof(*k->keep));
		for (size_t i = 0; i < x->kp.n; i++)
			k->keep[i] = xstrdup(x->kp.v[i]);
		k->n_keep = x->kp.n;
		k->done = x->done;
		k->ud = x->ud;
		list_add(&x->c->kills, &k->link);
		x->k = k;
	}
	return x->k;
}

/* A request that needs no write (no active run): recorded at once. */
static void record_now(struct kill_ctx *x, const char *id, const char *msg)
{
	control_record_kill(x->st, &(struct control_kill_record){.id = id, .now_ms = x->now},
			    (const char *const *)x->kp.v, x->kp.n);
	x->c->stats.kills++;
	char seed[CONTROL_REQUEST_ID_MAX + 16];
	snprintf(seed, sizeof(seed), "kill:%s", id);
	event_on_schedule(x->c, x->sp, false, "Killed", seed, msg);
}

static void kill_schedule(struct kill_ctx *x)
{
	struct control *c = x->c;
	const struct spec *sp = x->sp;
	const cJSON *schedule = x->schedule;
	const char *id = sp->ann_kill;
	char err[256], why[256], gtxt[64];
	bool grace_set;
	long grace;
	if (control_request_id_check(TAKT_ANN_KILL, id, err, sizeof(err))) {
		warn_invalid(c, TAKT_API_VERSION, TAKT_KIND_SCHEDULE, schedule, TAKT_ANN_KILL, id,
			     err);
		return;
	}
	if (control_handled(x->st, CONTROL_KILL, id))
		return;
	if (control_grace_choose(NULL, sp->ann_kill_grace_seconds, &grace_set, &grace, err,
				 sizeof(err))) {
		char what[128];
		snprintf(what, sizeof(what), "kill %s grace", id);
		warn_invalid(c, TAKT_API_VERSION, TAKT_KIND_SCHEDULE, schedule, what,
			     sp->ann_kill_grace_seconds, err);
		return;
	}
	grace_text(grace_set, grace, gtxt, sizeof(gtxt));

	struct buf key;
	struct store_list jobs;
	buf_init(&key, 1024);
	buf_addf(&key, "%s/%s", sp->namespace, sp->name);
	if (store_by_index(c->jobs, c->idx_schedule, buf_str(&key), &jobs) < 0)
		jobs.n = 0, jobs.items = NULL;
	struct kill_req *q = NULL;
	char jmsg[512];
	snprintf(jmsg, sizeof(jmsg),
		 "killed by request %s (takt.io/kill on BatchSchedule %s), pods deleted with %s",
		 id, sp->name, gtxt);
	for (size_t i = 0; i < jobs.n; i++) {
		const cJSON *job = jobs.items[i];
		if (control_job_of_schedule(job, schedule, why, sizeof(why)) || !job_active(c, job))
			continue;
		struct kill *k = kill_get(x);
		if (!q)
			q = kill_req_new(k, id, NULL, grace_set, grace);
		kill_add_job(c, k, q, job, grace_set, grace, jmsg, !control_job_killed(job));
	}
	if (!q) {
		char msg[256];
		snprintf(msg, sizeof(msg), "kill request %s: no active run to kill", id);
		record_now(x, id, msg);
	}
	store_list_release(&jobs);
	buf_release(&key);
}

/* A pod annotated takt.io/kill that is not part of a run: a Warning on the
 * pod, once per (pod, request), and nothing else. */
static void ignore_pod(struct control *c, const cJSON *pod, const char *id, const char *why)
{
	struct buf key;
	buf_init(&key, 1024);
	buf_addf(&key, "%s/%.100s", kobj_meta(pod, "uid") ? kobj_meta(pod, "uid") : "",
		 id ? id : "");
	if (answer_once(c, buf_str(&key))) {
		char msg[768];
		snprintf(msg, sizeof(msg),
			 TAKT_ANN_KILL
			 "=%.100s ignored: this pod is not part of a BatchSchedule run "
			 "(%s); nothing was deleted",
			 id ? id : "", why);
		c->stats.ignored++;
		event_on(c, "v1", "Pod", pod, true, "KillIgnored", buf_str(&key), msg);
	}
	buf_release(&key);
}

static void kill_pods(struct kill_ctx *x, const struct store_list *pods)
{
	struct control *c = x->c;
	const struct spec *sp = x->sp;
	char err[256], why[256], gtxt[64];
	for (size_t i = 0; i < pods->n; i++) {
		const cJSON *pod = pods->items[i];
		const char *id = kobj_annotation(pod, TAKT_ANN_KILL);
		if (!id)
			continue;
		if (control_request_id_check(TAKT_ANN_KILL, id, err, sizeof(err))) {
			warn_invalid(c, "v1", "Pod", pod, TAKT_ANN_KILL, id, err);
			continue;
		}
		if (control_handled(x->st, CONTROL_KILL, id))
			continue;
		const cJSON *ref = control_controller_ref(pod);
		const cJSON *job = ref && str_eq(kobj_str(ref, "kind"), "Job")
				       ? store_get_ns(c->jobs, sp->namespace, kobj_str(ref, "name"))
				       : NULL;
		if (control_pod_of_run(pod, job, x->schedule, why, sizeof(why))) {
			ignore_pod(c, pod, id, why);
			continue;
		}
		bool grace_set;
		long grace;
		/* The grace comes with the request, from the same object: a
		 * value left on the schedule by an earlier kill must not
		 * change what a pod's request means. */
		if (control_grace_choose(kobj_annotation(pod, TAKT_ANN_KILL_GRACE), NULL,
					 &grace_set, &grace, err, sizeof(err))) {
			char what[128];
			snprintf(what, sizeof(what), "kill %s grace", id);
			warn_invalid(c, "v1", "Pod", pod, what,
				     kobj_annotation(pod, TAKT_ANN_KILL_GRACE), err);
			continue;
		}
		if (!job_active(c, job)) {
			/* The run is over: its Job is history, not to be deleted. */
			char msg[768];
			snprintf(
			    msg, sizeof(msg),
			    "kill request %s on pod %s: run %s has already ended, nothing to kill",
			    id, kobj_meta(pod, "name"), kobj_meta(job, "name"));
			record_now(x, id, msg);
			continue;
		}
		grace_text(grace_set, grace, gtxt, sizeof(gtxt));
		char jmsg[512];
		snprintf(jmsg, sizeof(jmsg),
			 "killed by request %s (takt.io/kill on Pod %s), pods deleted with %s", id,
			 kobj_meta(pod, "name"), gtxt);
		/* Killed by an earlier request, or already in this pass. */
		bool counted =
		    control_job_killed(job) ||
		    (x->k && kill_job_index(x->k, kobj_meta(job, "name")) < x->k->n_jobs);
		struct kill *k = kill_get(x);
		struct kill_req *q = kill_req_new(k, id, kobj_meta(pod, "name"), grace_set, grace);
		kill_add_job(c, k, q, job, grace_set, grace, jmsg, !counted);
	}
}

/* A run-now Job already created for this request (the create went through,
 * the status write did not): its name, or NULL. */
static const char *run_now_job(struct control *c, const cJSON *schedule, const struct spec *sp,
			       const char *id)
{
	struct buf key;
	struct store_list jobs;
	const char *found = NULL;
	char why[256];
	buf_init(&key, 1024);
	buf_addf(&key, "%s/%s", sp->namespace, sp->name);
	if (store_by_index(c->jobs, c->idx_schedule, buf_str(&key), &jobs) == 0) {
		for (size_t i = 0; i < jobs.n && !found; i++)
			if (str_eq(kobj_annotation(jobs.items[i], TAKT_ANN_REQUEST), id) &&
			    !control_job_of_schedule(jobs.items[i], schedule, why, sizeof(why)))
				found = kobj_meta(jobs.items[i], "name");
		store_list_release(&jobs);
	}
	buf_release(&key);
	return found; /* borrowed from the store: valid for this loop turn */
}

/* `replacing`: under Replace the active runs are being deleted; the
 * request's Job is created when they are gone. */
static void run_now_event(struct control *c, const struct spec *sp, const char *id, const char *job,
			  const char *refused, bool replacing)
{
	char msg[512], seed[CONTROL_REQUEST_ID_MAX + 16];
	snprintf(seed, sizeof(seed), "run-now:%s", id);
	bool lost = refused && !strncmp(refused, "lost:", 5);
	if (lost)
		snprintf(msg, sizeof(msg), "run-now request %s %s", id, refused);
	else if (refused)
		snprintf(msg, sizeof(msg), "run-now request %s refused: %s", id, refused);
	else if (replacing)
		snprintf(msg, sizeof(msg),
			 "run-now request %s: replacing the active runs (concurrencyPolicy "
			 "Replace); Job %s starts when they are gone",
			 id, job);
	else
		snprintf(msg, sizeof(msg), "run-now request %s: started Job %s", id, job);
	event_on_schedule(c, sp, refused != NULL,
			  lost	    ? "RunNowLost"
			  : refused ? "RunNowRefused"
				    : "RunNow",
			  seed, msg);
}

int control_before_plan(struct control *c, const cJSON *schedule, const struct spec *sp,
			struct spec_status *st, int64_t now, control_done_fn *done, void *ud,
			bool *run_now)
{
	*run_now = false;
	if (!sp->namespace || !sp->name || !sp->uid)
		return 0;
	struct kill_ctx x = {
	    .c = c, .schedule = schedule, .sp = sp, .st = st, .now = now, .done = done, .ud = ud};
	struct buf key;
	struct store_list pods = {0};
	char err[256];
	buf_init(&key, 1024);
	buf_addf(&key, "%s/%s", sp->namespace, sp->name);
	if (store_by_index(c->pods, c->idx_schedule, buf_str(&key), &pods) < 0)
		pods.n = 0, pods.items = NULL;
	keep_collect(sp, &pods, &x.kp);

	if (sp->ann_kill)
		kill_schedule(&x);
	kill_pods(&x, &pods);

	if (sp->ann_run_now) {
		const char *id = sp->ann_run_now;
		if (control_request_id_check(TAKT_ANN_RUN_NOW, id, err, sizeof(err))) {
			warn_invalid(c, TAKT_API_VERSION, TAKT_KIND_SCHEDULE, schedule,
				     TAKT_ANN_RUN_NOW, id, err);
		} else if (!control_handled(st, CONTROL_RUN_NOW, id)) {
			const char *job = run_now_job(c, schedule, sp, id);
			if (job) {
				control_record_run_now(st, id, now, job, NULL,
						       (const char *const *)x.kp.v, x.kp.n);
				run_now_event(c, sp, id, job, NULL, false);
			} else {
				*run_now = true;
			}
		}
	}
	keep_release(&x.kp);
	store_list_release(&pods);
	buf_release(&key);
	struct kill *k = x.k;
	if (!k)
		return 0;
	for (size_t i = 0; i < k->n_pods; i++)
		send_pod_delete(k, &k->pods[i]);
	/* Nothing to wait for in phase 1: go on to the Jobs, unless a pod
	 * delete could not even be sent (the Job must not go before its pods:
	 * the same rule as kill_step). */
	if (k->pending == 0 && !k->transient)
		kill_phase2(k);
	if (k->pending == 0) {
		/* Nothing could be queued: done(ud) must not run from here. */
		kill_free(k);
		return -EIO;
	}
	return 1;
}

void control_after_plan(struct control *c, const cJSON *schedule, const struct spec *sp,
			struct plan *plan, int64_t now)
{
	(void)schedule;
	if (plan->run_now == PLAN_RUN_NOW_NONE || !sp->ann_run_now)
		return;
	if (plan->run_now == PLAN_RUN_NOW_CLAIMED) {
		/* Recorded, not handled: the POST follows once this lands. */
		control_claim_run_now(&plan->status, sp->ann_run_now, now, plan->run_now_job);
		return;
	}
	struct keep kp;
	keep_collect(sp, NULL, &kp);
	if (plan->run_now == PLAN_RUN_NOW_LOST) {
		control_record_run_now(&plan->status, sp->ann_run_now, now, NULL, NULL,
				       (const char *const *)kp.v, kp.n);
		cJSON_AddStringToObject(plan->status.last_run_now, "jobName", plan->run_now_job);
		cJSON_AddStringToObject(plan->status.last_run_now, "lost", plan->run_now_refused);
		run_now_event(c, sp, sp->ann_run_now, plan->run_now_job, plan->run_now_refused,
			      false);
		keep_release(&kp);
		return;
	}
	const char *refused = plan->run_now == PLAN_RUN_NOW_REFUSED ? plan->run_now_refused : NULL;
	control_record_run_now(&plan->status, sp->ann_run_now, now, plan->run_now_job, refused,
			       (const char *const *)kp.v, kp.n);
	/* A refusal is final now; a start is told once its Job's create is
	 * answered (control_run_now_posted). */
	if (refused)
		run_now_event(c, sp, sp->ann_run_now, NULL, refused, false);
	keep_release(&kp);
}

void control_run_now_posted(struct control *c, const struct spec *sp, const struct plan *plan)
{
	if (plan->run_now != PLAN_RUN_NOW_CREATED || !sp->ann_run_now)
		return;
	bool creates = false;
	for (size_t i = 0; i < plan->n_actions; i++)
		creates |= plan->actions[i].kind == PLAN_CREATE_JOB &&
			   !strcmp(plan->actions[i].job_name, plan->run_now_job);
	bool replacing = !creates && plan->status.pending_trigger == SPEC_TRIGGER_RUN_NOW &&
			 plan->status.pending_slot != SPEC_TIME_UNSET;
	run_now_event(c, sp, sp->ann_run_now, plan->run_now_job, NULL, replacing);
}

/* ---- the watch of pods outside takt's runs ---------------------------------------- */

static void foreign_pod(struct control *c, const cJSON *pod)
{
	const char *id = kobj_annotation(pod, TAKT_ANN_KILL);
	char why[256];
	if (!id)
		return;
	/* A pod labelled takt.io/schedule is in the controller's pod store:
	 * its schedule's reconcile checks it (and this watch may start before
	 * the stores are synced, so nothing here may depend on them for such
	 * a pod). */
	if (kobj_label(pod, TAKT_LABEL_SCHEDULE))
		return;
	const char *ns = kobj_meta(pod, "namespace");
	const cJSON *ref = control_controller_ref(pod);
	const cJSON *job = ref && str_eq(kobj_str(ref, "kind"), "Job")
			       ? store_get_ns(c->jobs, ns, kobj_str(ref, "name"))
			       : NULL;
	const cJSON *jref = job ? control_controller_ref(job) : NULL;
	const cJSON *sched = jref && str_eq(kobj_str(jref, "kind"), "BatchSchedule")
				 ? store_get_ns(c->schedules, ns, kobj_str(jref, "name"))
				 : NULL;
	if (ref && str_eq(kobj_str(ref, "kind"), "Job") && !job) {
		/* The store holds the Jobs labelled takt.io/schedule only. */
		snprintf(why, sizeof(why), "its Job %s is not a BatchSchedule run",
			 kobj_str(ref, "name") ? kobj_str(ref, "name") : "?");
	} else if (control_pod_of_run(pod, job, sched, why, sizeof(why)) == 0) {
		/* Part of a run, but its label was taken off: the schedule's
		 * reconcile never sees it. */
		snprintf(why, sizeof(why),
			 "it is not labelled " TAKT_LABEL_SCHEDULE
			 "=%s; annotate the BatchSchedule instead",
			 kobj_meta(sched, "name"));
	}
	ignore_pod(c, pod, id, why);
}

/* The watch's sink: every pod, listed or as it changes (a relist hands
 * them all again; ignore_pod answers once per request). */
static void pod_seen(void *ud, enum store_event ev, const cJSON *pod)
{
	struct control *c = ud;
	c->stats.watch_events++;
	if (ev != STORE_DELETED)
		foreign_pod(c, pod);
}

/* ---- lifecycle ----------------------------------------------------------------------- */

int control_new(struct loop *l, const struct kube_transport *tr, struct writes *w,
		struct store *schedules, struct store *jobs, struct store *pods,
		const struct control_opts *o, struct control **out)
{
	if (!o || !o->idx_schedule || !o->idx_job)
		return -EINVAL;
	struct control *c = xcalloc(1, sizeof(*c));
	list_init(&c->kills);
	c->writes = w;
	c->schedules = schedules;
	c->jobs = jobs;
	c->pods = pods;
	c->ns = o->namespace && *o->namespace ? xstrdup(o->namespace) : NULL;
	c->idx_schedule = xstrdup(o->idx_schedule);
	c->idx_job = xstrdup(o->idx_job);
	c->answered = hmap_new();
	/* The pods are only looked at as they go by: kept are the fields
	 * foreign_pod reads (project.h), and nothing after. Those are all
	 * metadata (annotations, labels, owners), and this watch sees every
	 * pod of the cluster, so it asks for metadata only: the apiserver
	 * sends no spec or status, and nothing of them is parsed. */
	struct reflector_opts ro = {.version = "v1",
				    .resource = "pods",
				    .ns = c->ns,
				    .transform = project_pod,
				    .metadata_only = true,
				    .on_event = pod_seen};
	c->pod_watch = reflector_new(l, tr, NULL, &ro, NULL, c);
	*out = c;
	return 0;
}

void control_start(struct control *c)
{
	reflector_start(c->pod_watch);
}

void control_free(struct control *c)
{
	if (!c)
		return;
	reflector_free(c->pod_watch);
	/* Their writes still go out, calling nothing. */
	while (!list_empty(&c->kills)) {
		struct kill *k = LIST_ENTRY(c->kills.next, struct kill, link);
		writes_forget(c->writes, k);
		kill_free(k);
	}
	hmap_free(c->answered, NULL);
	free(c->ns);
	free(c->idx_schedule);
	free(c->idx_job);
	free(c);
}

void control_get_stats(const struct control *c, struct control_stats *st)
{
	*st = c->stats;
}
