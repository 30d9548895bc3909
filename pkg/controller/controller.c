/* The BatchSchedule controller; see controller.h. */
#include "controller/controller.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "controller/calendars.h"
#include "controller/control.h"
#include "controller/control_io.h"
#include "controller/rerun.h"
#include "controller/names.h"
#include "controller/planner.h"
#include "controller/project.h"
#include "controller/spec.h"
#include "controller/writes.h"
#include "metrics/prom.h"
#include "controller/exits.h"
#include "kube/event.h"
#include "kube/http.h"
#include "kube/obj.h"
#include "kube/reflector.h"
#include "kube/store.h"
#include "kube/workqueue.h"
#include "loop/loop.h"
#include "tz/civil.h"

#include "base/banned.h"

#define IDX_SCHEDULE "schedule"
#define IDX_JOB	     "job"

/* How long an answered history trim is not sent again (see struct trims). */
#define TRIM_TTL_MS 10000
/* A trim's at_mono while its DELETE is unanswered: never expires. */
#define TRIM_UNANSWERED INT64_MAX
/* Repeats of one Event reason on one schedule within this window update
 * the same Event (count, lastTimestamp) instead of creating another. */
#define EVENT_AGGREGATE_MS (10 * 60 * 1000)
#define MAX_EVENT_REASONS  8
/* The longest run of queued reconciles before the loop gets a turn (a due
 * slot waits at most this long behind them). */
#define DRAIN_SLICE_MS 2
/* A slot's Job body is built this long before the slot at most, not when
 * the slot is planned: a daily or monthly schedule would hold a ~1.5 KB
 * body for hours or months. A schedule whose next slot is further away is
 * woken this long before it (its one timer, armed earlier) to build it. */
#define PREP_AHEAD_MS 5000
/* A status write that claims a slot due within this long (or one a slot
 * waits for now: plan.claim_first) goes ahead of the other routine writes
 * held (writes.h, `urgent`): the slot's POST waits for it to land. At a
 * first start 10,000 status writes wait ~50 s at 200 QPS; a minute covers
 * that backlog, and costs nothing when there is none. */
#define CLAIM_AHEAD_MS 60000
/* A wall-clock step this small recomputes nothing (see clock_jumped). */
#define CLOCK_JUMP_IGNORE_MS 2
/* trim_cb: how much work makes a burst, and how long after a drain the
 * heap is trimmed. */
#define TRIM_AFTER_WORK 1000
#define TRIM_DELAY_MS	10000
/* A schedule whose next wake-up is further away keeps no parsed status
 * between passes (struct base_cache). */
#define BASE_KEEP_MS 60000

/* ---- a schedule's state, by concern -------------------------------------------- */

/* What the parsed spec (sched.spec) was parsed from: it is kept while uid,
 * generation and annotations are unchanged, since parsing loads the time
 * zone (file I/O). */
struct spec_cache {
	bool have;
	uint64_t uid; /* uid_hash */
	int64_t gen;
	char *ann; /* serialized metadata.annotations, NULL when none */
	int rc;
	char *err; /* spec_parse's message, NULL when valid: see spec_err */
	/* The stored object last looked at, and its resourceVersion: a
	 * reconcile of an unchanged object compares nothing. */
	const cJSON *obj;
	uint64_t rv;
};

/* Runs POSTed. Until `met` one counts as active (an expectation); it is
 * met only by evidence, never by a timer: the Jobs store shows the Job, or
 * the store's resourceVersion reaches the Job's own (known from the 201 or
 * from a GET: the Job was created and is gone since), or a GET finds no Job.
 * A create answered AlreadyExists, or with no certain answer (a timeout, a
 * 5xx: "maybe created"), is settled by a GET of the Job and is never sent
 * again. A scheduled run is kept, met, as an attempt (struct plan_attempt)
 * until a status that records its slot has landed: its slot is then never
 * created again, whatever happened to its Job. */
struct expectation {
	char name[SPEC_JOB_NAME_MAX + 1];
	int64_t slot;
	enum spec_trigger trigger;
	/* From the POST's answer or a GET, "" until then (see fill_uids). */
	char uid[64];
	uint64_t rv;   /* the Job's resourceVersion when created; 0: unknown */
	bool created;  /* 201, AlreadyExists, or seen */
	bool maybe;    /* no certain answer: settled by a GET */
	bool met;      /* seen, or known gone: no longer counts as active */
	bool need_get; /* AlreadyExists or maybe created: a GET settles it */
	bool getting;  /* its GET is on its way */
};
struct expectations {
	struct expectation *v;
	size_t n, cap;
};

/* History trims sent (background DELETEs), kept TRIM_TTL_MS: until the
 * watch shows the Job gone every reconcile plans its trim again, and one
 * DELETE is enough. A failed one is forgotten at once. */
struct trim_sent {
	char name[SPEC_JOB_NAME_MAX + 1];
	int64_t at_mono;
};
struct trims {
	struct trim_sent *v;
	size_t n, cap;
};

/* The runs and orphan pods gathered from the stores for the last plan,
 * kept while none of the schedule's Jobs and Pods changes (every change
 * calls child_changed, which clears `valid`): at a slot the planner's input
 * is then ready. Strings point into the stored Jobs, which stay unchanged
 * while the cache is valid. */
struct runs_cache {
	bool valid;
	uint64_t uid; /* uid_hash of the schedule uid they were gathered for */
	struct plan_run *v;
	size_t n;
	size_t orphans;
};

/* The status we last decided to write (sent, queued or written): the
 * planning base until the watch shows it, since planning from an older
 * status would decide its slots a second time. rv is the resourceVersion
 * our write produced, 0 while it is on its way. */
struct mine {
	cJSON *status; /* a string node: the status's JSON */
	uint64_t uid;  /* uid_hash of the object it was decided for */
	uint64_t rv;
	uint64_t seq; /* bumped whenever `status` is replaced */
	struct writes_status w;
};

/* The parse of the status planned from, and which raw status it came
 * from: a reconcile of the same one parses nothing. Kept between passes
 * only by a schedule that wakes again within BASE_KEEP_MS: an idle one
 * (daily, monthly) parses its status again at its next pass rather than
 * hold it twice, as JSON in the store and as this parse (~1 KB with its
 * strings). The figures /metrics serves are kept either way. */
struct base_cache {
	struct spec_status *st; /* NULL between passes of an idle schedule */
	const cJSON *raw;
	uint64_t rv, mine_seq;
	bool valid;
	bool have_metrics;
	struct spec_counters counters;
	int64_t last_success, next_slot;
};

/* Job POSTs that failed, as answered, until the next plan is fed them
 * (plan_input.create_failures): the planner decides whether the run is
 * created again or failed to start, and what the user sees. One plan
 * creates at most two runs (a slot and a run-now). */
#define CREATE_FAILURES_MAX 2
struct create_failure {
	char name[SPEC_JOB_NAME_MAX + 1];
	int64_t slot;
	enum spec_trigger trigger;
	int code;
	char reason[64];
	char message[768];
};
struct create_failures {
	struct create_failure v[CREATE_FAILURES_MAX];
	size_t n;
};

/* The Job body for the next slot, built ahead (PREP_AHEAD_MS before it at
 * most): firing is sending. */
struct prep {
	int64_t slot, gen;
	char *body;
};

/* The run-now claim this process wrote and saw land (id "" when none): its
 * POST may leave, once. `posted` is set when it is sent, and cleared again
 * when the apiserver answers that it created nothing (a failure with a
 * certain answer). Then the same for a retry attempt's claim (its record
 * in status.recentRuns, "claimed": true): job "" when none. Allocated at
 * a schedule's first claim: 200 bytes most schedules never use. */
struct claims {
	struct {
		char id[CONTROL_REQUEST_ID_MAX + 1];
		char job[SPEC_JOB_NAME_MAX + 1];
		bool acked; /* our write of it answered 2xx */
		bool posted;
	} rn;
	struct {
		char job[SPEC_JOB_NAME_MAX + 1];
		bool acked;
		bool posted;
	} rt;
};
static const struct claims NO_CLAIMS;

struct agg_event {
	char reason[32];
	char name[128]; /* "" when none is known */
	enum plan_event_type type;
	int64_t count;
	int64_t last_ms;
};

/* One reconcile of a schedule (the work queue runs one per key):
 *
 *   IDLE --reconcile--> KILLING --kills answered (at once when none)--> POSTING
 *                          |                                               |
 *                          | nothing planned, plan_may_wait, kill failed   | POSTs answered:
 *                          v                                               v DELETEs, Events,
 *                        IDLE <------------------------------------------- status leave
 *
 * Every pass goes through KILLING; IDLE hands the key back (pass_end).
 * Changed only through pass_to. */
enum pass_phase { PASS_IDLE, PASS_KILLING, PASS_POSTING };

struct pass {
	enum pass_phase phase;
	int posts; /* Job POSTs unanswered (POSTING) */
	bool failed;
	bool planned; /* `plan` is this pass's: its wake-up may be armed */
	/* The base after the kill/run-now hooks: allocated with `plan`, for
	 * the pass only. */
	struct spec_status *in_status;
	bool has_raw;
	bool was_invalid_same;
	bool run_now;
	/* This pass's plan: allocated when the pass starts, freed when it
	 * ends (824 bytes a schedule would keep between passes). */
	struct plan *plan;
	/* The resourceVersion of the status planned from: the status write is
	 * conditional on it ("" while our own write is on its way: then on
	 * the version that write produces). */
	char base_rv[32];
};

struct sched {
	struct controller *c;
	struct spec spec;
	struct spec_cache sc;
	struct expectations exp;
	struct trims trims;
	struct runs_cache runs;
	struct mine mine;
	struct base_cache base;
	struct prep prep;
	struct create_failures *failed; /* NULL until a POST fails */
	/* What the last status write answered 2xx recorded (for the object
	 * of that uid): with the store's status, what has landed. */
	struct {
		uint64_t uid; /* uid_hash of the object's uid */
		int64_t cursor, claim;
	} acked;
	struct claims *cl;    /* NULL until the first run-now or retry claim */
	bool claim_wait;      /* a claim is being written: plan again once it lands */
	bool status_deferred; /* its key waits in controller.deferred */
	loop_timer_id wake_timer;
	int64_t wake_at;
	struct pass pass;
	/* NULL until the first Event: most schedules never raise one. */
	struct agg_event *events; /* MAX_EVENT_REASONS */
	size_t n_events;
	/* Retries whose Job POST this process saw created, for
	 * takt_runs_total{result="retried"} (a counter: it starts again at 0
	 * with the process, as Prometheus counters may). */
	uint64_t retries_started;
	/* "namespace/name": inline, one allocation less per schedule; also the
	 * borrowed key of controller.scheds. */
	char key[];
};

struct controller {
	struct loop *loop;
	char *ns;
	struct writes *writes;
	const struct kube_http *http; /* for /metrics; NULL under a fake transport */
	struct store *schedules, *jobs, *pods;
	struct reflector *refl_schedules, *refl_jobs, *refl_pods;
	struct calendars *calendars;
	struct control *control;
	struct wq *queue;
	struct hmap *scheds;	   /* key -> struct sched */
	loop_timer_id drain_timer; /* resumes a drain cut at its slice */
	/* Armed after a drain (never while idle): gives memory freed by a
	 * burst back to the system (trim_cb). */
	loop_timer_id trim_timer;
	uint64_t trimmed_at_work; /* work_done() when it last trimmed */
	/* Schedules whose status write waits for the backlog to drain
	 * (status_defer), oldest first: copies of their keys. */
	struct {
		char **v;
		size_t head, n, cap;
		uint64_t total; /* deferred since the backlog last ran dry */
	} deferred;
	bool all_synced;
	/* Reconciles and writes: false for a standby (controller_set_leader). */
	bool leader;
	/* Since when this process alone decides (it started, or became the
	 * leader): plan_input.deciding_since. */
	int64_t deciding_since;
	/* controller_shutdown: no pass starts; the poll timer watches the
	 * passes and writes under way until they end or the deadline. */
	bool stopping;
	loop_timer_id stop_timer;
	int64_t stop_deadline_mono;
	controller_shutdown_fn *stop_done;
	void *stop_ud;
	struct controller_stats stats;
	/* For /metrics: the slot instant to the Job created, and the time a
	 * reconcile's synchronous part takes. */
	struct prom_histogram slot_lag, reconcile_time;
	struct exits *exits; /* failed runs' exit codes, read from their pods */
};

static void drain(struct controller *c);
static void reconcile(struct controller *c, const char *key);
static void on_drain_timer(struct loop *l, loop_timer_id id, void *ud);

/* ---- small helpers ----------------------------------------------------------- */

static int64_t time_ms(const char *s)
{
	int64_t ms;
	if (!s || rfc3339_parse(s, &ms))
		return SPEC_TIME_UNSET;
	return ms;
}

/* A uid as 64 bits (hmap's FNV-1a), for the records that only ask "the same
 * object?": 8 bytes instead of a 37-byte copy. 0 for none; never 0
 * otherwise. */
static uint64_t uid_hash(const char *uid)
{
	if (!uid || !*uid)
		return 0;
	uint64_t h = hmap_hash_str(uid);
	return h ? h : 1;
}

static uint64_t rv_number(const cJSON *obj)
{
	const char *rv = kobj_meta(obj, "resourceVersion");
	return rv ? strtoull(rv, NULL, 10) : 0;
}

static bool answer_ok(const struct kube_result *res)
{
	return res->err == 0 && res->status >= 200 && res->status < 300;
}

/* ---- per-schedule state --------------------------------------------------------- */

static struct sched *sched_get(struct controller *c, const char *key)
{
	struct sched *s = hmap_get(c->scheds, key);
	if (s)
		return s;
	size_t klen = strlen(key) + 1;
	s = xcalloc(1, sizeof(*s) + klen);
	s->c = c;
	memcpy(s->key, key, klen);
	spec_init(&s->spec);
	writes_status_init(&s->mine.w);
	s->prep.slot = SPEC_TIME_UNSET;
	s->wake_at = SPEC_TIME_UNSET;
	hmap_put(c->scheds, s->key, s); /* borrowed: s->key lives as long */
	return s;
}

/* spec_parse's message: "" for a valid spec. */
static const char *spec_err(const struct sched *s)
{
	return s->sc.err ? s->sc.err : "";
}

static void sched_forget_spec(struct sched *s)
{
	spec_release(&s->spec);
	free(s->sc.err);
	s->sc.err = NULL;
	free(s->sc.ann);
	s->sc.uid = 0;
	s->sc.ann = NULL;
	s->sc.have = false;
}

static void base_drop(struct sched *s)
{
	if (s->base.st)
		spec_status_release(s->base.st);
	free(s->base.st);
	s->base.st = NULL;
	s->base.valid = false;
}

/* The plan and input status a pass holds, freed when it ends. */
static void pass_free_mem(struct sched *s)
{
	if (s->pass.plan)
		plan_release(s->pass.plan);
	free(s->pass.plan);
	s->pass.plan = NULL;
	if (s->pass.in_status)
		spec_status_release(s->pass.in_status);
	free(s->pass.in_status);
	s->pass.in_status = NULL;
}

static void sched_free(void *p)
{
	struct sched *s = p;
	struct controller *c = s->c;
	/* Its DELETEs and Events still leave; their answers find no one. */
	writes_forget(c->writes, s);
	writes_status_release(c->writes, &s->mine.w);
	loop_timer_cancel(c->loop, s->wake_timer);
	sched_forget_spec(s);
	pass_free_mem(s);
	base_drop(s);
	free(s->cl);
	free(s->exp.v);
	free(s->trims.v);
	free(s->runs.v);
	free(s->prep.body);
	free(s->events);
	free(s->failed);
	cJSON_Delete(s->mine.status);
	free(s);
}

static void expectation_drop(struct sched *s, const char *name)
{
	for (size_t i = 0; i < s->exp.n; i++) {
		if (!strcmp(s->exp.v[i].name, name)) {
			s->exp.v[i] = s->exp.v[--s->exp.n];
			return;
		}
	}
}

static struct expectation *expectation_find(struct sched *s, const char *name)
{
	for (size_t i = 0; i < s->exp.n; i++)
		if (!strcmp(s->exp.v[i].name, name))
			return &s->exp.v[i];
	return NULL;
}

/* The created Job (a POST's or a GET's answer): its uid and
 * resourceVersion onto its expectation. */
static void expectation_set_job(struct sched *s, const char *name, const char *body)
{
	struct expectation *e = expectation_find(s, name);
	if (!e)
		return;
	cJSON *job = cJSON_Parse(body);
	const char *uid = kobj_meta(job, "uid");
	if (uid && strlen(uid) < sizeof(e->uid))
		snprintf(e->uid, sizeof(e->uid), "%s", uid);
	e->rv = rv_number(job);
	e->created = true;
	e->maybe = false;
	e->need_get = false;
	cJSON_Delete(job);
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
		for (size_t j = 0; j < s->exp.n && !a->uid; j++)
			if (!strcmp(s->exp.v[j].name, a->name) && s->exp.v[j].uid[0])
				a->uid = xstrdup(s->exp.v[j].uid);
		if (a->uid)
			continue;
		const cJSON *job = store_get_ns(c->jobs, s->spec.namespace, a->name);
		const char *owner = job ? kobj_controller_uid(job, TAKT_KIND_SCHEDULE) : NULL;
		const char *uid = job ? kobj_meta(job, "uid") : NULL;
		if (uid && owner && s->spec.uid && !strcmp(owner, s->spec.uid))
			a->uid = xstrdup(uid);
	}
}

/* Whether a trim of `name` is unanswered or was answered less than
 * TRIM_TTL_MS ago; forgets the older ones. */
static bool trim_recent(struct sched *s, const char *name)
{
	int64_t now = loop_now_monotonic_ms();
	bool found = false;
	for (size_t i = 0; i < s->trims.n;) {
		if (now - s->trims.v[i].at_mono > TRIM_TTL_MS) {
			s->trims.v[i] = s->trims.v[--s->trims.n];
			continue;
		}
		found |= !strcmp(s->trims.v[i].name, name);
		i++;
	}
	return found;
}

/* The trim's DELETE was answered: not sent again for TRIM_TTL_MS from now
 * (the watch shows the Job gone meanwhile). */
static void trim_answered(struct sched *s, const char *name)
{
	for (size_t i = 0; i < s->trims.n; i++)
		if (!strcmp(s->trims.v[i].name, name) && s->trims.v[i].at_mono == TRIM_UNANSWERED)
			s->trims.v[i].at_mono = loop_now_monotonic_ms();
}

/* The trim's DELETE failed: the next reconcile may send it again. */
static void trim_forget(struct sched *s, const char *name)
{
	for (size_t i = 0; i < s->trims.n; i++) {
		if (!strcmp(s->trims.v[i].name, name)) {
			s->trims.v[i] = s->trims.v[--s->trims.n];
			return;
		}
	}
}

static void drop_mine(struct sched *s)
{
	cJSON_Delete(s->mine.status);
	writes_status_drop(&s->mine.w);
	s->mine.status = NULL;
	s->mine.uid = 0;
	s->mine.rv = 0;
	s->mine.seq++;
}

/* The status to plan from: ours until the watch has shown our write, else
 * the store's. Borrowed. */
static const cJSON *base_status(struct sched *s, const cJSON *stored)
{
	bool writing = writes_status_busy(&s->mine.w);
	if (s->mine.status) {
		const char *uid = kobj_meta(stored, "uid");
		/* A schedule deleted and created again under the same name
		 * starts from its own (empty) status. */
		bool same = uid && s->mine.uid && s->mine.uid == uid_hash(uid);
		if (same && (writing || s->mine.rv == 0 || rv_number(stored) < s->mine.rv))
			return s->mine.status;
		if (!writing)
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
	if (s->sc.have && obj == s->sc.obj && rv == s->sc.rv)
		return;
	s->sc.obj = obj;
	s->sc.rv = rv;
	const char *uid = kobj_meta(obj, "uid");
	int64_t gen =
	    (int64_t)cJSON_GetNumberValue(kobj_get(kobj_get(obj, "metadata"), "generation"));
	/* NULL when there are none (the projection drops an empty set): most
	 * schedules, which then keep no copy. */
	const cJSON *anns = kobj_get(kobj_get(obj, "metadata"), "annotations");
	char *ann = anns ? cJSON_PrintUnformatted(anns) : NULL;
	if (s->sc.have && uid && s->sc.uid && s->sc.uid == uid_hash(uid) && gen == s->sc.gen &&
	    (ann && s->sc.ann ? !strcmp(ann, s->sc.ann) : ann == s->sc.ann)) {
		free(ann);
		return;
	}
	sched_forget_spec(s);
	char err[512] = "";
	/* The store keeps the spec as its JSON (project.h): parsed here, for
	 * this moment only. */
	cJSON *spec_tree = NULL;
	const cJSON *sp = project_unblob(kobj_get(obj, "spec"), &spec_tree);
	cJSON *holder = cJSON_CreateObject();
	if (kobj_get(obj, "metadata"))
		cJSON_AddItemReferenceToObject(holder, "metadata",
					       (cJSON *)kobj_get(obj, "metadata"));
	if (sp)
		cJSON_AddItemReferenceToObject(holder, "spec", (cJSON *)sp);
	s->sc.rc = spec_parse(holder, &s->spec, err, sizeof(err));
	s->sc.err = s->sc.rc ? xstrdup(err) : NULL;
	/* The template is read from the stored spec when a Job is built
	 * (template_load): a copy kept here was ~550 bytes a schedule, for
	 * one read a slot. */
	free(s->spec.job_template);
	s->spec.job_template = NULL;
	cJSON_Delete(holder);
	cJSON_Delete(spec_tree);
	s->sc.uid = uid_hash(uid);
	s->sc.gen = gen;
	s->sc.ann = ann;
	s->sc.have = true;
	/* A body built for the old version must not be sent. */
	free(s->prep.body);
	s->prep.body = NULL;
	s->prep.slot = SPEC_TIME_UNSET;
}

/* ---- gathering the planner's input ---------------------------------------------- */

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
	struct plan_attempt *attempts;
	size_t n_attempts;
};

static void gathered_release(struct gathered *g)
{
	free(g->exps);
	free(g->attempts);
}

/* The attempt number, and for a failed attempt whose record waits for it
 * (status.recentRuns says Active) its exit code, read from its pods
 * (exits.h): only then, so Jobs whose record is settled or gone cost no
 * read. */
static void runs_exit(struct controller *c, struct sched *s, const cJSON *job, struct plan_run *r)
{
	const char *att = kobj_annotation(job, TAKT_ANN_ATTEMPT);
	char *end = NULL;
	long n = att ? strtol(att, &end, 10) : 1;
	r->attempt = att && end && !*end && n >= 1 && n <= 1000 ? (int32_t)n : 1;
	if (!r->finished || r->succeeded || r->killed || !r->name)
		return;
	const struct spec_status *st = s->pass.in_status;
	bool waits = false;
	for (size_t i = 0; i < st->n_recent && !waits; i++)
		waits = !strcmp(st->recent[i].job, r->name) &&
			st->recent[i].result == SPEC_RESULT_ACTIVE;
	if (!waits)
		return;
	const struct exit_info *x =
	    exits_lookup(c->exits, kobj_meta(job, "namespace"), r->name, r->uid, s->key);
	r->exit_pending = x->pending;
	r->has_exit_code = x->has_code;
	r->exit_code = x->code;
	r->exit_reason = x->reason[0] ? x->reason : NULL;
}

/* An exit code read was answered: plan the schedule again with it (after
 * a backoff when the read failed and is to be sent again). */
static void exit_read(void *ud, const char *key, bool failed)
{
	struct controller *c = ud;
	struct sched *s = hmap_get(c->scheds, key);
	if (s)
		s->runs.valid = false;
	if (failed)
		wq_add_rate_limited(c->queue, key);
	else
		wq_add(c->queue, key);
}

/* The runs (the Jobs whose controller is the schedule of this uid, with
 * their pods present) and the orphan pods, from the stores, into s->runs. */
static void gather_runs(struct controller *c, struct sched *s, const char *uid)
{
	struct buf k;
	struct store_list jobs, pods;
	buf_init(&k, 1024);
	store_by_index(c->jobs, IDX_SCHEDULE, s->key, &jobs);
	free(s->runs.v);
	/* NULL when the schedule has no Job: most, at 10,000 idle ones. */
	s->runs.v = jobs.n ? xcalloc(jobs.n, sizeof(*s->runs.v)) : NULL;
	s->runs.n = 0;
	for (size_t i = 0; i < jobs.n; i++) {
		const cJSON *job = jobs.items[i];
		const char *owner = kobj_controller_uid(job, TAKT_KIND_SCHEDULE);
		/* Same name, other schedule (deleted and re-created): not ours. */
		if (!owner || !uid || strcmp(owner, uid))
			continue;
		struct plan_run *r = &s->runs.v[s->runs.n++];
		r->name = kobj_meta(job, "name");
		r->uid = kobj_meta(job, "uid");
		r->slot = time_ms(kobj_annotation(job, TAKT_ANN_SCHEDULED));
		if (spec_trigger_parse(kobj_annotation(job, TAKT_ANN_TRIGGER), &r->trigger))
			r->trigger = SPEC_TRIGGER_SCHEDULE;
		r->creation = time_ms(kobj_meta(job, "creationTimestamp"));
		job_outcome(job, r);
		r->deleting = kobj_meta(job, "deletionTimestamp") != NULL;
		r->killed = kobj_annotation(job, TAKT_ANN_KILLED) != NULL;
		runs_exit(c, s, job, r);
		struct store_list jp;
		buf_reset(&k);
		store_key(job, &k);
		store_by_index(c->pods, IDX_JOB, buf_str(&k), &jp);
		for (size_t j = 0; j < jp.n; j++)
			if (kobj_pod_present(jp.items[j]))
				r->pods_present++;
		store_list_release(&jp);
	}
	store_list_release(&jobs);
	/* Pods of the schedule whose Job is gone still hold Forbid/Replace. */
	s->runs.orphans = 0;
	store_by_index(c->pods, IDX_SCHEDULE, s->key, &pods);
	for (size_t i = 0; i < pods.n; i++) {
		const cJSON *pod = pods.items[i];
		if (!kobj_pod_present(pod))
			continue;
		buf_reset(&k);
		if (store_index_controller(pod, "Job", &k) != 1)
			continue;
		if (!store_get(c->jobs, buf_str(&k)))
			s->runs.orphans++;
	}
	store_list_release(&pods);
	buf_release(&k);
	s->runs.uid = uid_hash(uid);
	s->runs.valid = true;
}

static void gather(struct controller *c, struct sched *s, const char *uid, int64_t landed_cursor,
		   struct gathered *g)
{
	memset(g, 0, sizeof(*g));
	if (!s->runs.valid || !uid || s->runs.uid != uid_hash(uid))
		gather_runs(c, s, uid);
	/* Expectations are met by evidence only (struct expectation); the
	 * met ones are forgotten once a landed status records their slot. */
	const char *ns = s->spec.namespace;
	uint64_t store_rv = strtoull(store_resource_version(c->jobs), NULL, 10);
	for (size_t i = 0; i < s->exp.n;) {
		struct expectation *e = &s->exp.v[i];
		if (store_get_ns(c->jobs, ns, e->name)) {
			e->met = e->created = true;
			e->need_get = false;
			e->maybe = false;
		} else if (e->rv && store_rv >= e->rv) {
			e->met = true; /* created, and gone since */
		}
		if (e->met && (e->trigger != SPEC_TRIGGER_SCHEDULE || landed_cursor >= e->slot)) {
			*e = s->exp.v[--s->exp.n];
			continue;
		}
		i++;
	}
	g->exps = xcalloc(s->exp.n + 1, sizeof(*g->exps));
	g->attempts = xcalloc(s->exp.n + 1, sizeof(*g->attempts));
	for (size_t i = 0; i < s->exp.n; i++) {
		const struct expectation *e = &s->exp.v[i];
		if (!e->met) {
			struct plan_expectation *x = &g->exps[g->n_exps++];
			x->name = e->name;
			x->slot = e->slot;
			x->trigger = e->trigger;
			x->uid = e->uid[0] ? e->uid : NULL;
		}
		if (e->trigger == SPEC_TRIGGER_SCHEDULE)
			g->attempts[g->n_attempts++] = (struct plan_attempt){
			    .name = e->name, .slot = e->slot, .created = e->created};
	}
}

/* ---- Events ---------------------------------------------------------------------- */

static struct agg_event *agg_find(struct sched *s, const char *reason)
{
	for (size_t i = 0; i < s->n_events; i++)
		if (!strcmp(s->events[i].reason, reason))
			return &s->events[i];
	if (s->n_events < MAX_EVENT_REASONS) {
		if (!s->events)
			s->events = xcalloc(MAX_EVENT_REASONS, sizeof(*s->events));
		struct agg_event *a = &s->events[s->n_events++];
		memset(a, 0, sizeof(*a));
		snprintf(a->reason, sizeof(a->reason), "%s", reason);
		return a;
	}
	return NULL;
}

static void event_answered(void *ud, const char *reason, const struct kube_result *res, double ms)
{
	struct sched *s = ud;
	(void)ms;
	struct agg_event *a = answer_ok(res) ? NULL : agg_find(s, reason);
	/* The aggregated Event is gone: the next one starts anew. */
	if (a)
		a->name[0] = 0;
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
	if (count < 1)
		count = 1;
	struct agg_event *a = agg_find(s, reason);
	if (a && a->name[0] && a->type == type && now - a->last_ms < EVENT_AGGREGATE_MS) {
		a->count += count;
		a->last_ms = now;
		if (writes_event_update(c->writes, sp->namespace, a->name, reason, a->count,
					message, event_answered, s) < 0)
			a->name[0] = 0;
		return;
	}
	char name[128];
	snprintf(name, sizeof(name), "%s.%" PRIx64, sp->name, (uint64_t)loop_now_realtime_ns());
	if (a) {
		snprintf(a->name, sizeof(a->name), "%s", name);
		a->type = type;
		a->count = count;
		a->last_ms = now;
	}
	struct kube_event ev = {.api_version = TAKT_API_VERSION,
				.kind = TAKT_KIND_SCHEDULE,
				.ns = sp->namespace,
				.name = sp->name,
				.uid = sp->uid,
				.event_name = name,
				.warning = type == PLAN_EVENT_WARNING,
				.reason = reason,
				.message = message,
				.count = count};
	/* Refused (too many Events in flight): no Event of that name exists,
	 * so a repeat must not update it. */
	if (writes_event_post(c->writes, &ev, event_answered, s) < 0 && a)
		a->name[0] = 0;
}

/* ---- the pass ---------------------------------------------------------------------- */

static const char *const PHASE_NAMES[] = {"IDLE", "KILLING", "POSTING"};

/* The one place a pass changes phase. */
static void pass_to(struct sched *s, enum pass_phase to)
{
	enum pass_phase from = s->pass.phase;
	/* IDLE -> KILLING -> POSTING -> IDLE, or KILLING -> IDLE (no plan). */
	BUG_ON(!((from == PASS_IDLE && to == PASS_KILLING) ||
		 (from == PASS_KILLING && to != PASS_KILLING) ||
		 (from == PASS_POSTING && to == PASS_IDLE)));
	LOG_DEBUG("pass", "obj=%s from=%s to=%s", s->key, PHASE_NAMES[from], PHASE_NAMES[to]);
	s->pass.phase = to;
	if (to != PASS_IDLE)
		return;
	s->pass.posts = 0;
}

static void wake_cb(struct loop *l, loop_timer_id id, void *ud);

/* Lends s->spec the jobTemplate of the stored object, serialized, for a
 * Job to be built (template_drop takes it back). The stored spec is the one
 * parsed: a pass parses the stored object when it starts, and a newer one
 * (a user's edit that arrived while the pass waited for a kill's answer)
 * is the user's latest template, which is what the Job should run.
 * Returns false when the object is gone or holds no template. */
static bool template_load(struct sched *s)
{
	const cJSON *obj = store_get(s->c->schedules, s->key);
	cJSON *tree = NULL;
	const cJSON *sp = project_unblob(kobj_get(obj, "spec"), &tree);
	const cJSON *jt = kobj_get(sp, "jobTemplate");
	s->spec.job_template = cJSON_IsObject(jt) ? cJSON_PrintUnformatted(jt) : NULL;
	cJSON_Delete(tree);
	return s->spec.job_template != NULL;
}

static void template_drop(struct sched *s)
{
	free(s->spec.job_template);
	s->spec.job_template = NULL;
}

/* Builds the next slot's Job now when the slot is at most PREP_AHEAD_MS
 * away, so that firing is sending; a body built for another slot goes. */
static void prepare_next(struct sched *s)
{
	struct plan *p = s->pass.plan;
	if (s->prep.slot == p->next_slot && s->prep.gen == s->sc.gen && s->prep.body)
		return;
	cJSON *job = NULL;
	char err[256];
	free(s->prep.body);
	s->prep.body = NULL;
	s->prep.slot = SPEC_TIME_UNSET;
	if (p->next_slot == SPEC_TIME_UNSET ||
	    p->next_slot - loop_now_realtime_ms() > PREP_AHEAD_MS)
		return;
	if (template_load(s) &&
	    spec_build_job(&s->spec, p->zone, p->next_slot, SPEC_TRIGGER_SCHEDULE, NULL, &job, err,
			   sizeof(err)) == 0) {
		s->prep.body = cJSON_PrintUnformatted(job);
		s->prep.slot = p->next_slot;
		s->prep.gen = s->sc.gen;
		/* The apiserver quiet at the slot: its POST first. */
		writes_slot_coming(s->c->writes, p->next_slot);
	}
	template_drop(s);
	cJSON_Delete(job);
}

/* The end of a pass: build the next Job ahead, arm the wake-up, hand the
 * key back to the queue. */
static void pass_end(struct controller *c, struct sched *s)
{
	if (!s->pass.failed && s->sc.rc == 0)
		prepare_next(s);
	/* A pass that ended before planning (a kill that failed) keeps the
	 * timer it had: the last plan's wake-up may be past by now, and arming
	 * it would reconcile again at once, a request storm while the kill
	 * keeps failing. The failure's backoff brings the key back. */
	int64_t wake = s->pass.planned ? s->pass.plan->wake : s->wake_at;
	/* A slot further away than PREP_AHEAD_MS: wake shortly before it to
	 * build its body (that pass plans the same and writes nothing). */
	int64_t prep_at = s->pass.plan->next_slot - PREP_AHEAD_MS;
	if (s->pass.planned && !s->pass.failed && s->sc.rc == 0 &&
	    s->pass.plan->next_slot != SPEC_TIME_UNSET && !s->prep.body &&
	    prep_at > loop_now_realtime_ms() && (wake == SPEC_TIME_UNSET || prep_at < wake))
		wake = prep_at;
	if (wake != s->wake_at || (!s->wake_timer && s->pass.planned)) {
		loop_timer_cancel(c->loop, s->wake_timer);
		s->wake_timer = 0;
		s->wake_at = wake;
		if (wake != SPEC_TIME_UNSET)
			s->wake_timer = loop_timer_at_realtime(c->loop, wake, wake_cb, s);
	}
	if (wake == SPEC_TIME_UNSET || wake - loop_now_realtime_ms() > BASE_KEEP_MS)
		base_drop(s);
	pass_to(s, PASS_IDLE);
	/* Between passes a schedule keeps no plan: the next pass computes its
	 * own (at 10,000 schedules the kept plans and their statuses were
	 * ~10 MB). */
	pass_free_mem(s);
	char *key = xstrdup(s->key);
	bool failed = s->pass.failed;
	wq_done(c->queue, key);
	if (failed)
		wq_add_rate_limited(c->queue, key);
	else
		wq_forget(c->queue, key);
	free(key);
}

static void wake_cb(struct loop *l, loop_timer_id id, void *ud)
{
	struct sched *s = ud;
	s->wake_timer = 0;
	s->wake_at = SPEC_TIME_UNSET;
	LOG_DEBUG("wake", "obj=%s", s->key);
	struct controller *c = s->c;
	/* A standby decides nothing: becoming the leader queues every
	 * schedule, and their reconciles arm the timers again. */
	if (!c->leader || c->stopping)
		return;
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

/* ---- status ------------------------------------------------------------------------ */

static bool retry_claimed_in(const cJSON *status, const char *job);

static bool rn_is(const char *a, const char *b)
{
	return a && b && b[0] && !strcmp(a, b);
}

static void status_answered(void *ud, const char *tag, const struct kube_result *res, double ms)
{
	struct sched *s = ud;
	struct controller *c = s->c;
	(void)tag;
	(void)ms;
	/* Room in the backlog: deferred statuses may go (the drain ends by
	 * looking, status_resume). */
	if (c->deferred.n && !c->drain_timer)
		c->drain_timer = loop_timer_after(c->loop, 0, on_drain_timer, c);
	if (answer_ok(res)) {
		c->stats.status_writes++;
		/* The last of a series: the watch shows ours at this version. */
		if (!writes_status_busy(&s->mine.w) && s->mine.status) {
			s->mine.rv = strtoull(writes_status_version(&s->mine.w), NULL, 10);
			/* What it recorded has landed. */
			cJSON *tree = NULL;
			const cJSON *mst = project_unblob(s->mine.status, &tree);
			int64_t cur = time_ms(kobj_str(mst, "lastSlotConsidered"));
			int64_t clm = time_ms(kobj_str(mst, "lastSlotClaimed"));
			const cJSON *rn = kobj_get(mst, "lastRunNow");
			if (s->cl && rn_is(kobj_str(rn, "requestId"), s->cl->rn.id) &&
			    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rn, "claimed")))
				s->cl->rn.acked = true;
			if (s->cl && s->cl->rt.job[0] && retry_claimed_in(mst, s->cl->rt.job))
				s->cl->rt.acked = true;
			cJSON_Delete(tree);
			s->acked.uid = s->mine.uid;
			s->acked.cursor = cur;
			s->acked.claim = clm;
			if (s->claim_wait) {
				s->claim_wait = false;
				wq_add(c->queue, s->key);
			}
		}
		return;
	}
	s->claim_wait = false;
	if (res->status == 409) {
		/* Written from an older picture than the object has now
		 * (another writer, or our cache behind): nothing of it
		 * landed. Plan again from what the watch brings. */
		c->stats.status_conflicts++;
		LOG_INFO("status conflict", "obj=%s message=\"%s\"", s->key, res->message);
	} else if (res->status != 404) {
		LOG_ERROR("status write failed", "obj=%s status=%d reason=%s message=\"%s\" %s",
			  s->key, res->status, res->reason, res->message, res->transport_error);
	}
	/* Plan from the store again; it decides what to write. */
	drop_mine(s);
	if (res->status != 404)
		wq_add_rate_limited(c->queue, s->key);
}

/* Records `st` (taken) as the status decided and queues its write: a merge
 * patch that also sends null for every status field `st` leaves out (a
 * merge patch keeps what it does not mention). The write does not hold the
 * key, so the next slot never waits for it. */
static void write_status(struct controller *c, struct sched *s, cJSON *st)
{
	char ns[256];
	struct buf path;
	const char *slash = strchr(s->key, '/');
	snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - s->key) : 0, s->key);
	cJSON *patch = cJSON_CreateObject();
	cJSON *body = cJSON_AddObjectToObject(patch, "status");
	for (int f = 0; f < TAKT_ST_COUNT; f++) {
		const char *name = takt_status_field_name((enum takt_status_field)f);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, name);
		cJSON_AddItemToObject(body, name, v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
	}
	cJSON_Delete(s->mine.status);
	/* Kept packed, as the store keeps statuses (project.h), until the
	 * watch shows it: at a first start every schedule has one waiting
	 * (870 bytes of JSON each at 10,000 schedules, ~100 packed; a tree
	 * is five times the JSON). */
	s->mine.status = project_status_blob(st);
	cJSON_Delete(st);
	s->mine.seq++;
	s->mine.uid = s->sc.uid;
	s->mine.rv = 0;
	buf_init(&path, 4096);
	kube_path(&path, TAKT_GROUP, TAKT_VERSION, ns, TAKT_RES_SCHEDULES,
		  slash ? slash + 1 : s->key, "status");
	if (writes_status_put(c->writes, &s->mine.w, buf_str(&path), patch, s->pass.base_rv,
			      status_answered, s) < 0) {
		drop_mine(s);
		wq_add_rate_limited(c->queue, s->key);
	}
	buf_release(&path);
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

/* ---- the plan's actions -------------------------------------------------------------- */

static void after_posts(struct controller *c, struct sched *s);

/* The slot of a scheduled run, from its name (<schedule>-<unix seconds>,
 * docs/api.md "Run names"): the expectation, which also knows it, is often
 * gone by the time the POST is answered (the watch showed the Job first).
 * SPEC_TIME_UNSET for other names (run-now, retries). */
static int64_t slot_of_name(const struct sched *s, const char *name)
{
	size_t n = s->spec.name ? strlen(s->spec.name) : 0;
	if (!n || strncmp(name, s->spec.name, n) || name[n] != '-' || !name[n + 1])
		return SPEC_TIME_UNSET;
	int64_t secs = 0;
	for (const char *p = name + n + 1; *p; p++) {
		if (*p < '0' || *p > '9' || secs > INT64_MAX / 10000)
			return SPEC_TIME_UNSET;
		secs = secs * 10 + (*p - '0');
	}
	return secs * 1000;
}

/* Whether `name` is a retry this pass's plan creates. */
static bool is_retry(const struct sched *s, const char *name)
{
	const struct plan *p = s->pass.plan;
	if (!p)
		return false;
	for (size_t i = 0; i < p->n_actions; i++)
		if (p->actions[i].kind == PLAN_CREATE_JOB && !strcmp(p->actions[i].job_name, name))
			return p->actions[i].trigger == SPEC_TRIGGER_RETRY;
	return false;
}

/* A failed POST of this pass's plan, kept for the next plan. */
static void create_failed(struct sched *s, const char *name, const struct kube_result *res)
{
	const struct plan *p = s->pass.plan;
	const struct plan_action *a = NULL;
	for (size_t i = 0; i < p->n_actions && !a; i++)
		if (p->actions[i].kind == PLAN_CREATE_JOB && !strcmp(p->actions[i].job_name, name))
			a = &p->actions[i];
	if (!s->failed)
		s->failed = xcalloc(1, sizeof(*s->failed));
	if (!a || s->failed->n == CREATE_FAILURES_MAX)
		return; /* then only retried: the next plan decides it anew */
	struct create_failure *f = &s->failed->v[s->failed->n++];
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->slot = a->slot;
	f->trigger = a->trigger;
	f->code = res->err < 0 ? 0 : res->status;
	snprintf(f->reason, sizeof(f->reason), "%s", res->reason ? res->reason : "");
	const char *msg = res->err < 0 ? res->transport_error : res->message;
	snprintf(f->message, sizeof(f->message), "%s", msg ? msg : "");
}

/* A create's answer that leaves it uncertain whether the Job was
 * created: no answer after the request may have left (a timeout, a cut
 * connection), or a 5xx (an etcd timeout may follow a commit). A refused
 * connection never sent it. */
static bool maybe_created(const struct kube_result *res)
{
	if (res->err < 0)
		return res->err != -ECONNREFUSED;
	return res->status >= 500;
}

static void get_answered(void *ud, const char *name, const struct kube_result *res, double ms)
{
	struct sched *s = ud;
	struct controller *c = s->c;
	(void)ms;
	struct expectation *e = expectation_find(s, name);
	if (!e)
		return;
	e->getting = false;
	if (answer_ok(res)) {
		expectation_set_job(s, name, res->body);
	} else if (res->err == 0 && res->status == 404) {
		/* Not there now: never created, or created and gone. Either
		 * way it is not sent again. */
		e->met = true;
		e->need_get = false;
		if (e->maybe) {
			char msg[768];
			LOG_WARN("job create uncertain, job absent", "obj=%s job=%s", s->key, name);
			snprintf(msg, sizeof(msg),
				 "Job %s: its create had no certain answer and the Job does not "
				 "exist (it was not created, or it ran and was deleted); not sent "
				 "again",
				 name);
			emit_event(c, s, PLAN_EVENT_WARNING, "FailedCreate", msg, 1);
		}
	} else {
		LOG_WARN("job get failed", "obj=%s job=%s status=%d %s", s->key, name, res->status,
			 res->transport_error);
		wq_add_rate_limited(c->queue, s->key);
		return;
	}
	wq_add(c->queue, s->key);
}

/* GETs the Jobs whose creation is uncertain, or known without its
 * resourceVersion (AlreadyExists), and that the store does not show. */
static void settle_expectations(struct controller *c, struct sched *s)
{
	for (size_t i = 0; i < s->exp.n; i++) {
		struct expectation *e = &s->exp.v[i];
		if (e->met || e->getting || !e->need_get)
			continue;
		struct buf path;
		buf_init(&path, 1024);
		kube_path(&path, "batch", "v1", s->spec.namespace, "jobs", e->name, NULL);
		struct write w = {.kind = WRITE_ROUTINE,
				  .method = KUBE_GET,
				  .path = buf_str(&path),
				  .tag = e->name,
				  .done = get_answered,
				  .ud = s};
		if (writes_send(c->writes, &w) == 0)
			e->getting = true;
		buf_release(&path);
	}
}

static void create_answered(void *ud, const char *name, const struct kube_result *res, double ms)
{
	struct sched *s = ud;
	struct controller *c = s->c;
	bool ok = answer_ok(res);
	/* Only AlreadyExists says the Job is there; another 409 is a conflict
	 * inside admission (a ResourceQuota update), to be retried. */
	bool exists = res->err == 0 && res->status == 409 && res->reason &&
		      !strcmp(res->reason, "AlreadyExists");
	struct expectation *e = expectation_find(s, name);
	if (ok || exists) {
		c->stats.jobs_created++;
		int64_t slot = slot_of_name(s, name);
		if (ok && slot != SPEC_TIME_UNSET)
			prom_histogram_observe(&c->slot_lag,
					       (double)(loop_now_realtime_ms() - slot) / 1000.0);
		if (ok)
			expectation_set_job(s, name, res->body);
		else if (e) {
			e->created = true; /* its resourceVersion comes from a GET */
			e->need_get = true;
			if (!store_get_ns(c->jobs, s->spec.namespace, name))
				settle_expectations(c, s);
		}
		if (ok && is_retry(s, name))
			s->retries_started++;
		LOG_INFO(ok ? "job created" : "job already exists", "obj=%s job=%s ms=%.1f", s->key,
			 name, ms);
	} else if (maybe_created(res) && e) {
		/* Maybe created: it stays expected (active) and is recorded as
		 * started; a GET settles it. Never sent again: it may have
		 * been created and deleted meanwhile. */
		LOG_ERROR("job create uncertain",
			  "obj=%s job=%s status=%d reason=%s message=\"%s\" %s", s->key, name,
			  res->status, res->reason, res->message, res->transport_error);
		e->maybe = true;
		e->need_get = true;
		settle_expectations(c, s);
	} else {
		LOG_ERROR("job create failed",
			  "obj=%s job=%s status=%d reason=%s message=\"%s\" %s", s->key, name,
			  res->status, res->reason, res->message, res->transport_error);
		expectation_drop(s, name);
		/* Nothing was created: the claimed run-now may be POSTed again. */
		if (s->cl && !strcmp(name, s->cl->rn.job))
			s->cl->rn.posted = false;
		if (s->cl && !strcmp(name, s->cl->rt.job))
			s->cl->rt.posted = false;
		/* This plan counted the run as started: its status is not
		 * written. The retry (with backoff) plans again, told of the
		 * answer. */
		create_failed(s, name, res);
		s->pass.failed = true;
	}
	if (--s->pass.posts == 0)
		after_posts(c, s);
}

static void send_create(struct controller *c, struct sched *s, const struct plan_action *a)
{
	char *body = NULL;
	char err[256];
	if (a->trigger == SPEC_TRIGGER_SCHEDULE && s->prep.body && s->prep.slot == a->slot &&
	    s->prep.gen == s->sc.gen) {
		body = s->prep.body;
		s->prep.body = NULL;
		s->prep.slot = SPEC_TIME_UNSET;
	} else {
		cJSON *job = NULL;
		template_load(s); /* none: spec_build_* says the spec is not valid */
		int rc =
		    a->trigger == SPEC_TRIGGER_RETRY
			? spec_build_retry(&s->spec, s->pass.plan->zone, a->slot, a->job_name,
					   a->business_date, a->attempt, &job, err, sizeof(err))
			: spec_build_job(&s->spec, s->pass.plan->zone, a->slot, a->trigger,
					 a->request_id[0] ? a->request_id : NULL, &job, err,
					 sizeof(err));
		template_drop(s);
		if (rc) {
			LOG_ERROR("job not built", "obj=%s job=%s err=\"%s\"", s->key, a->job_name,
				  err);
			s->pass.failed = true;
			return;
		}
		body = cJSON_PrintUnformatted(job);
		cJSON_Delete(job);
	}
	/* Counted active from now: a second reconcile before the watch shows
	 * the Job must not start another run. */
	XGROW(s->exp.v, s->exp.cap, s->exp.n + 1);
	struct expectation *e = &s->exp.v[s->exp.n++];
	/* XGROW does not zero: the uid is "" until an answer gives it. */
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", a->job_name);
	e->slot = a->slot;
	e->trigger = a->trigger;

	struct buf path;
	buf_init(&path, 4096);
	kube_path(&path, "batch", "v1", s->spec.namespace, "jobs", NULL, NULL);
	struct write w = {.kind = WRITE_JOB_POST,
			  .method = KUBE_POST,
			  .path = buf_str(&path),
			  .body = body,
			  .tag = a->job_name,
			  .done = create_answered,
			  .ud = s};
	if (writes_send(c->writes, &w) < 0) {
		s->pass.failed = true;
		expectation_drop(s, a->job_name);
	} else {
		s->pass.posts++;
		LOG_DEBUG("job sent", "obj=%s job=%s late_ms=%" PRId64, s->key, a->job_name,
			  loop_now_realtime_ms() - a->slot);
	}
	free(body);
	buf_release(&path);
}

static void delete_answered(void *ud, const char *name, const struct kube_result *res, double ms)
{
	struct sched *s = ud;
	struct controller *c = s->c;
	(void)ms;
	if (answer_ok(res) || res->status == 404) {
		trim_answered(s, name);
		c->stats.jobs_deleted++;
		LOG_INFO("job deleted", "obj=%s job=%s", s->key, name);
		return;
	}
	LOG_ERROR("job delete failed", "obj=%s job=%s status=%d reason=%s message=\"%s\" %s",
		  s->key, name, res->status, res->reason, res->message, res->transport_error);
	trim_forget(s, name);
	wq_add_rate_limited(c->queue, s->key);
}

/* Not waited for: a failed delete only asks for another look. */
static void send_delete(struct controller *c, struct sched *s, const struct plan_action *a)
{
	bool trim = a->propagation == PLAN_PROPAGATION_BACKGROUND;
	if (trim) {
		if (trim_recent(s, a->job_name))
			return;
		XGROW(s->trims.v, s->trims.cap, s->trims.n + 1);
		struct trim_sent *t = &s->trims.v[s->trims.n++];
		snprintf(t->name, sizeof(t->name), "%s", a->job_name);
		/* Its TTL starts at the answer (trim_answered): a DELETE held
		 * behind a start-up's status writes waited 50 s, and one more
		 * was queued every TRIM_TTL_MS meanwhile (5 for one Job). */
		t->at_mono = TRIM_UNANSWERED;
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
	struct write w = {.kind = WRITE_ROUTINE,
			  .method = KUBE_DELETE,
			  .path = buf_str(&path),
			  .body = buf_str(&body),
			  .tag = a->job_name,
			  .done = delete_answered,
			  .ud = s};
	if (writes_send(c->writes, &w) < 0) {
		if (trim)
			trim_forget(s, a->job_name);
		wq_add_rate_limited(c->queue, s->key);
	}
	buf_release(&path);
	buf_release(&body);
}

/* ---- status catch-up -------------------------------------------------------------
 *
 * A first start at 10,000 schedules decides 10,000 status writes at once;
 * the writes leave at the client's QPS (~50 s), and held, each was its
 * serialized body (~1 KB) and our decided status: 20 MB at the peak, and
 * the schedules' records allocated in between kept that heap in use after
 * (glibc cannot give back a page with one live record on it). A first
 * status (the object has none yet) that nothing waits for (no claim due
 * within CLAIM_AHEAD_MS, no run started, deleted or announced by this
 * pass, a valid spec) is therefore not decided while CONTROLLER_STATUS_HELD_MAX
 * writes are held: the pass ends without it and the key waits here; as
 * answers drain the backlog, keys go back to the work queue and plan again
 * (the same plan: nothing happened to them). The catch-up takes as long,
 * holds ~64 bodies, and its order is the schedules' first passes'. Only
 * first statuses wait: any later one may record a run's end, which must
 * land before its Job can go (ttlSecondsAfterFinished). */
static bool status_may_wait(struct controller *c, const struct sched *s, const struct plan *p,
			    bool urgent)
{
	return !urgent && !s->pass.has_raw && p->n_actions == 0 && s->sc.rc == 0 &&
	       !s->pass.run_now && p->run_now == PLAN_RUN_NOW_NONE && !p->retry_claim_job[0] &&
	       !s->mine.status && !writes_status_busy(&s->mine.w) && !c->stopping &&
	       writes_backlog(c->writes) >= CONTROLLER_STATUS_HELD_MAX;
}

static void status_defer(struct controller *c, struct sched *s)
{
	if (s->status_deferred)
		return;
	if (c->deferred.total == 0)
		LOG_INFO("status writes paced", "held=%zu", writes_backlog(c->writes));
	s->status_deferred = true;
	c->deferred.total++;
	if (c->deferred.head + c->deferred.n == c->deferred.cap && c->deferred.head > 0) {
		memmove(c->deferred.v, c->deferred.v + c->deferred.head,
			c->deferred.n * sizeof(*c->deferred.v));
		c->deferred.head = 0;
	}
	XGROW(c->deferred.v, c->deferred.cap, c->deferred.head + c->deferred.n + 1);
	c->deferred.v[c->deferred.head + c->deferred.n++] = xstrdup(s->key);
}

/* Gives keys back to the work queue while the backlog has room. */
static void status_resume(struct controller *c)
{
	size_t held = writes_backlog(c->writes);
	if (!c->deferred.n || held >= CONTROLLER_STATUS_HELD_MAX / 2)
		return;
	for (size_t room = CONTROLLER_STATUS_HELD_MAX - held; room > 0 && c->deferred.n; room--) {
		char *key = c->deferred.v[c->deferred.head++];
		c->deferred.n--;
		struct sched *s = hmap_get(c->scheds, key);
		if (s)
			s->status_deferred = false;
		wq_add(c->queue, key);
		free(key);
	}
	if (!c->deferred.n) {
		LOG_INFO("status catch-up done", "deferred=%" PRIu64, c->deferred.total);
		free(c->deferred.v);
		memset(&c->deferred, 0, sizeof(c->deferred));
	}
}

/* Forgets every deferred key (no longer the leader, or stopping): the
 * next leadership plans every schedule again. */
static void status_deferred_clear(struct controller *c)
{
	for (size_t i = 0; i < c->deferred.n; i++) {
		char *key = c->deferred.v[c->deferred.head + i];
		struct sched *s = hmap_get(c->scheds, key);
		if (s)
			s->status_deferred = false;
		free(key);
	}
	free(c->deferred.v);
	memset(&c->deferred, 0, sizeof(c->deferred));
}

/* The POSTs are answered: the plan's other actions, which hold no slot,
 * and its status (unless a create failed: that run is not recorded, and
 * the retry decides the slot again). The plan and the base status stay as
 * they were while the key is busy. */
static void after_posts(struct controller *c, struct sched *s)
{
	struct plan *p = s->pass.plan;
	for (size_t i = 0; i < p->n_actions; i++) {
		const struct plan_action *a = &p->actions[i];
		if (a->kind == PLAN_DELETE_JOB)
			send_delete(c, s, a);
		else if (a->kind == PLAN_EVENT)
			emit_event(c, s, a->event_type, a->reason, a->message, a->count);
	}
	if (s->sc.rc && !s->pass.was_invalid_same) {
		LOG_WARN("invalid spec", "obj=%s err=\"%s\"", s->key, spec_err(s));
		emit_event(c, s, PLAN_EVENT_WARNING, "InvalidSpec", spec_err(s), 1);
	}
	if (!s->pass.failed) {
		if (s->pass.run_now)
			control_run_now_posted(c->control, &s->spec, p);
		fill_uids(c, s, &p->status);
		cJSON *st = changed_status(s->base.st, s->pass.has_raw, &p->status);
		if (p->run_now == PLAN_RUN_NOW_CLAIMED) {
			/* Ours from now on: once it has landed (our write's
			 * 2xx, or the watch showing it first), one POST. */
			if (!s->cl)
				s->cl = xcalloc(1, sizeof(*s->cl));
			snprintf(s->cl->rn.id, sizeof(s->cl->rn.id), "%s",
				 control_run_now_id(&s->spec) ? control_run_now_id(&s->spec) : "");
			snprintf(s->cl->rn.job, sizeof(s->cl->rn.job), "%s", p->run_now_job);
			s->cl->rn.acked = false;
			s->cl->rn.posted = false;
		}
		if (p->retry_claim_job[0]) {
			if (!s->cl)
				s->cl = xcalloc(1, sizeof(*s->cl));
			snprintf(s->cl->rt.job, sizeof(s->cl->rt.job), "%s", p->retry_claim_job);
			s->cl->rt.acked = false;
			s->cl->rt.posted = false;
		}
		bool urgent =
		    p->claim_first || (p->next_slot != SPEC_TIME_UNSET &&
				       p->next_slot - loop_now_realtime_ms() <= CLAIM_AHEAD_MS);
		if (st && status_may_wait(c, s, p, urgent)) {
			cJSON_Delete(st);
			status_defer(c, s);
		} else if (st) {
			s->mine.w.urgent = urgent;
			write_status(c, s, st);
			s->claim_wait = p->claim_first && s->mine.status;
		} else if (p->claim_first) {
			/* The claim is in what we wrote last; it has not landed
			 * yet (or it would have passed the gate). */
			s->claim_wait = s->mine.status != NULL;
		}
	}
	pass_end(c, s);
}

/* Whether `status` (a stored or written one, unblobbed) records the retry
 * attempt `job` as claimed. */
static bool retry_claimed_in(const cJSON *status, const char *job)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, kobj_get(status, "recentRuns"))
	{
		const char *j = kobj_str(it, "job");
		if (j && !strcmp(j, job))
			return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "claimed"));
	}
	return false;
}

/* Whether this process's unspent retry claim has landed (as
 * rn_claim_landed). */
static bool rt_claim_landed(const struct sched *s, const cJSON *stored)
{
	const struct claims *cl = s->cl ? s->cl : &NO_CLAIMS;
	if (!cl->rt.job[0] || cl->rt.posted)
		return false;
	if (cl->rt.acked && s->spec.uid && s->acked.uid == uid_hash(s->spec.uid))
		return true;
	return retry_claimed_in(stored, cl->rt.job);
}

/* Whether this process's unspent run-now claim has landed: our write of it
 * was answered 2xx, or the stored object (what landed) shows it. */
static bool rn_claim_landed(const struct sched *s, const cJSON *stored)
{
	const struct claims *cl = s->cl ? s->cl : &NO_CLAIMS;
	if (!cl->rn.id[0] || cl->rn.posted)
		return false;
	if (cl->rn.acked && s->spec.uid && s->acked.uid == uid_hash(s->spec.uid))
		return true;
	const cJSON *rn = kobj_get(stored, "lastRunNow");
	return rn_is(kobj_str(rn, "requestId"), cl->rn.id) &&
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rn, "claimed"));
}

/* The rerun step's input from the stores, the base status and the plan's
 * input (the calendar as the planner sees it). The stored status is its
 * JSON (project.h): parsed into *status_tree, the caller's to delete once
 * the step is released (the step may point into it). */
static void rerun_decide(struct sched *s, const cJSON *obj, const struct plan_input *in,
			 struct rerun_step *rs, cJSON **status_tree)
{
	const cJSON *stored_status = project_unblob(kobj_get(obj, "status"), status_tree);
	bool cal_ok = s->spec.has_calendar && in->calendar_state == PLAN_CALENDAR_OK;
	const char *refused[CREATE_FAILURES_MAX];
	size_t n_refused = 0;
	for (size_t i = 0; i < in->n_create_failures; i++)
		if (in->create_failures[i].trigger == SPEC_TRIGGER_RERUN &&
		    plan_create_failure_permanent(&in->create_failures[i]))
			refused[n_refused++] = in->create_failures[i].job_name;
	struct rerun_step_input ri = {
	    .spec = &s->spec,
	    .zone = spec_zone(&s->spec, cal_ok ? in->calendar_zone : NULL),
	    .calendar = cal_ok ? in->calendar : NULL,
	    .calendar_error = in->calendar_state == PLAN_CALENDAR_MISSING ? "it does not exist"
									  : in->calendar_error,
	    .request = kobj_annotation(obj, TAKT_ANN_RERUN),
	    .dates = kobj_annotation(obj, TAKT_ANN_RERUN_DATES),
	    .only = kobj_annotation(obj, TAKT_ANN_RERUN_ONLY),
	    .last = s->pass.in_status->last_rerun,
	    .handled = s->pass.in_status->handled_requests,
	    .history = kobj_get(stored_status, "recentRuns"),
	    .runs = in->runs,
	    .n_runs = in->n_runs,
	    .exps = in->expectations,
	    .n_exps = in->n_expectations,
	    .orphan_pods = in->orphan_pods,
	    /* Counted only for a request: it copies the status. */
	    .pending_retries = kobj_annotation(obj, TAKT_ANN_RERUN) ? plan_pending_retries(in) : 0,
	    .refused_jobs = refused,
	    .n_refused_jobs = n_refused,
	    .now = in->now,
	};
	rerun_step_compute(&ri, rs);
}

/* The rerun step into the plan: its status, its Job creates (trigger
 * rerun, named after the request and the slot) and its Events. */
static void rerun_apply(struct rerun_step *rs, const char *request, struct plan *p)
{
	struct spec_status *st = &p->status;
	if (rs->last) {
		cJSON_Delete(st->last_rerun);
		st->last_rerun = rs->last;
		rs->last = NULL;
	}
	if (rs->handled_new && request)
		rerun_mark_handled(&st->handled_requests, request, CONTROL_HANDLED_MAX);
	for (size_t i = 0; i < rs->n_starts; i++) {
		XGROW(p->actions, p->cap_actions, p->n_actions + 1);
		struct plan_action *a = &p->actions[p->n_actions++];
		memset(a, 0, sizeof(*a));
		a->kind = PLAN_CREATE_JOB;
		snprintf(a->job_name, sizeof(a->job_name), "%s", rs->starts[i].job_name);
		a->slot = rs->starts[i].slot;
		a->trigger = SPEC_TRIGGER_RERUN;
		snprintf(a->request_id, sizeof(a->request_id), "%s", rs->request_id);
		st->counters.runs_started++;
	}
	for (size_t i = 0; i < rs->n_events; i++) {
		XGROW(p->actions, p->cap_actions, p->n_actions + 1);
		struct plan_action *a = &p->actions[p->n_actions++];
		memset(a, 0, sizeof(*a));
		a->kind = PLAN_EVENT;
		a->event_type = rs->events[i].warning ? PLAN_EVENT_WARNING : PLAN_EVENT_NORMAL;
		snprintf(a->reason, sizeof(a->reason), "%s", rs->events[i].reason);
		snprintf(a->message, sizeof(a->message), "%s", rs->events[i].message);
		a->count = 1;
	}
}

/* The second half of a reconcile: plan from the stores and act. */
static void plan_and_act(struct controller *c, struct sched *s)
{
	const cJSON *obj = store_get(c->schedules, s->key);
	if (!obj) {
		pass_end(c, s); /* deleted meanwhile: the next pass forgets it */
		return;
	}
	/* What has landed: the stored status, or our last write answered. */
	cJSON *stored_tree = NULL;
	const cJSON *stored = project_unblob(kobj_get(obj, "status"), &stored_tree);
	int64_t landed_cursor = time_ms(kobj_str(stored, "lastSlotConsidered"));
	int64_t landed_claim = time_ms(kobj_str(stored, "lastSlotClaimed"));
	bool rn_landed = rn_claim_landed(s, stored);
	bool rt_landed = rt_claim_landed(s, stored);
	cJSON_Delete(stored_tree);
	if (s->spec.uid && s->acked.uid == uid_hash(s->spec.uid)) {
		landed_cursor = landed_cursor > s->acked.cursor ? landed_cursor : s->acked.cursor;
		landed_claim = landed_claim > s->acked.claim ? landed_claim : s->acked.claim;
	}
	struct gathered g;
	gather(c, s, s->spec.uid, landed_cursor, &g);
	struct plan_create_failure failures[CREATE_FAILURES_MAX];
	size_t n_failed = s->failed ? s->failed->n : 0;
	for (size_t i = 0; i < n_failed; i++) {
		const struct create_failure *f = &s->failed->v[i];
		failures[i] = (struct plan_create_failure){.job_name = f->name,
							   .slot = f->slot,
							   .trigger = f->trigger,
							   .code = f->code,
							   .reason = f->reason,
							   .message = f->message};
	}
	struct plan_input in = {
	    .spec = &s->spec,
	    .spec_error = s->sc.rc ? spec_err(s) : NULL,
	    .status = s->pass.in_status,
	    .runs = s->runs.v,
	    .n_runs = s->runs.n,
	    .expectations = g.exps,
	    .n_expectations = g.n_exps,
	    .orphan_pods = s->runs.orphans,
	    .run_now = s->pass.run_now ? control_run_now_id(&s->spec) : NULL,
	    .kill = control_kill_acted(&s->spec, s->base.st, s->pass.in_status),
	    .create_failures = failures,
	    .n_create_failures = n_failed,
	    .attempts = g.attempts,
	    .n_attempts = g.n_attempts,
	    .deciding_since = c->deciding_since,
	    .claim_gate = true,
	    .claim_landed = landed_claim,
	    .run_now_claim_mine = rn_landed ? s->cl->rn.id : NULL,
	    .retry_claim_mine = rt_landed ? s->cl->rt.job : NULL,
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
	/* A rerun request (rerun.h) is decided first: the runs it starts are
	 * expectations to the planner, active for the schedule's own slots. */
	struct rerun_step rs;
	struct plan_expectation *exps = NULL;
	cJSON *rerun_status = NULL;
	rerun_step_init(&rs);
	if (!s->sc.rc)
		rerun_decide(s, obj, &in, &rs, &rerun_status);
	if (rs.n_starts) {
		exps = xcalloc(g.n_exps + rs.n_starts, sizeof(*exps));
		memcpy(exps, g.exps, g.n_exps * sizeof(*exps));
		for (size_t i = 0; i < rs.n_starts; i++)
			exps[g.n_exps + i] = (struct plan_expectation){
			    .name = rs.starts[i].job_name,
			    .slot = rs.starts[i].slot,
			    .trigger = SPEC_TRIGGER_RERUN,
			};
		in.expectations = exps;
		in.n_expectations = g.n_exps + rs.n_starts;
	}
	int rc = plan_compute(&in, s->pass.plan);
	if (rc == 0)
		rerun_apply(&rs, kobj_annotation(obj, TAKT_ANN_RERUN), s->pass.plan);
	rerun_step_release(&rs);
	cJSON_Delete(rerun_status);
	free(exps);
	gathered_release(&g);
	settle_expectations(c, s);
	s->pass.planned = rc == 0;
	/* Told once: this plan's own POSTs may fail anew. */
	free(s->failed);
	s->failed = NULL;
	if (rc < 0) {
		LOG_ERROR("plan failed", "obj=%s rc=%d", s->key, rc);
		s->pass.failed = true;
		pass_end(c, s);
		return;
	}
	if (s->pass.run_now) {
		control_after_plan(c->control, obj, &s->spec, s->pass.plan, in.now);
	} else if (s->pass.has_raw && plan_may_wait(s->pass.plan, s->base.st, in.now)) {
		/* A run started or ended just before a slot: the slot's
		 * reconcile writes it (see plan_may_wait). */
		c->stats.waited++;
		pass_end(c, s);
		return;
	}
	/* The Job POSTs first: they are what must leave on time. The rest of
	 * the plan (DELETEs, Events, the status diff) waits for their answers
	 * (after_posts), so that when many schedules share a slot every POST
	 * leaves before any of that bookkeeping. */
	pass_to(s, PASS_POSTING);
	for (size_t i = 0; i < s->pass.plan->n_actions; i++)
		if (s->pass.plan->actions[i].kind == PLAN_CREATE_JOB) {
			if (s->cl && !strcmp(s->pass.plan->actions[i].job_name, s->cl->rn.job))
				s->cl->rn.posted = true;
			if (s->cl && !strcmp(s->pass.plan->actions[i].job_name, s->cl->rt.job))
				s->cl->rt.posted = true;
			send_create(c, s, &s->pass.plan->actions[i]);
		}
	if (s->pass.posts == 0)
		after_posts(c, s);
}

/* The kill requests' deletes are answered. */
static void kills_answered(void *ud, int err)
{
	struct sched *s = ud;
	if (err < 0) {
		/* Not recorded: the request is handled again on the retry. */
		s->pass.failed = true;
		pass_end(s->c, s);
		return;
	}
	plan_and_act(s->c, s);
}

static void reconcile_pass(struct controller *c, const char *key);

static void reconcile(struct controller *c, const char *key)
{
	int64_t t0 = loop_now_monotonic_ns();
	reconcile_pass(c, key);
	prom_histogram_observe(&c->reconcile_time, (double)(loop_now_monotonic_ns() - t0) / 1e9);
}

static void reconcile_pass(struct controller *c, const char *key)
{
	struct sched *s = sched_get(c, key);
	c->stats.reconciles++;
	const cJSON *obj = store_get(c->schedules, key);
	if (!obj) {
		/* Deleted: its Jobs go with it (ownerReferences); forget it. */
		LOG_INFO("schedule gone", "obj=%s", key);
		wq_done(c->queue, key);
		wq_forget(c->queue, key);
		sched_free(hmap_del(c->scheds, key));
		return;
	}
	sched_parse(s, obj);
	s->pass.failed = false;
	s->pass.planned = false;
	if (!s->pass.plan) {
		s->pass.plan = xmalloc(sizeof(*s->pass.plan));
		plan_init(s->pass.plan);
		s->pass.in_status = xmalloc(sizeof(*s->pass.in_status));
		spec_status_init(s->pass.in_status);
	}

	/* spec_status_parse reads obj.status: lend it the base status. Not
	 * again when it is the same one (ours, or the same stored version). */
	const cJSON *raw = base_status(s, obj);
	uint64_t rv = rv_number(obj);
	struct base_cache *b = &s->base;
	if (!b->st) {
		b->st = xmalloc(sizeof(*b->st));
		spec_status_init(b->st);
		b->valid = false;
	}
	if (!b->valid || raw != b->raw || rv != b->rv || s->mine.seq != b->mine_seq) {
		/* The stored status is its JSON (project.h); ours a tree. */
		cJSON *tree = NULL;
		const cJSON *st = project_unblob(raw, &tree);
		cJSON *holder = cJSON_CreateObject();
		if (st)
			cJSON_AddItemReferenceToObject(holder, "status", (cJSON *)st);
		spec_status_release(b->st);
		spec_status_parse(holder, b->st);
		cJSON_Delete(holder);
		cJSON_Delete(tree);
		b->raw = raw;
		b->rv = rv;
		b->mine_seq = s->mine.seq;
		b->valid = true;
		b->have_metrics = true;
		b->counters = b->st->counters;
		b->last_success = b->st->last_successful_time;
		b->next_slot = b->st->next_schedule_time;
	}
	s->pass.has_raw = raw != NULL;
	if (raw && raw == s->mine.status)
		snprintf(s->pass.base_rv, sizeof(s->pass.base_rv), "%s",
			 s->mine.rv ? writes_status_version(&s->mine.w) : "");
	else
		snprintf(s->pass.base_rv, sizeof(s->pass.base_rv), "%.31s",
			 kobj_meta(obj, "resourceVersion") ? kobj_meta(obj, "resourceVersion")
							   : "");
	const struct spec_condition *ready = spec_status_condition(b->st, TAKT_COND_READY);
	s->pass.was_invalid_same = ready && ready->status && !strcmp(ready->status, "False") &&
				   ready->message && !strcmp(ready->message, spec_err(s));
	spec_status_copy(s->pass.in_status, b->st);

	/* Kill and run-now requests first: a kill frees the slot it ends. */
	pass_to(s, PASS_KILLING);
	int n = control_before_plan(c->control, obj, &s->spec, s->pass.in_status,
				    loop_now_realtime_ms(), kills_answered, s, &s->pass.run_now);
	if (n < 0) {
		s->pass.failed = true;
		pass_end(c, s);
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
/* Reconciles and answered writes so far: the measure of a burst. */
static uint64_t work_done(const struct controller *c)
{
	struct controller_stats st;
	controller_get_stats(c, &st);
	return st.reconciles + st.status_writes + st.jobs_created + st.jobs_deleted +
	       st.events_posted;
}

/* After a burst of TRIM_AFTER_WORK reconciles and writes (a start, a
 * relist, thousands of schedules sharing a slot) the heap holds the
 * burst's freed buffers between the schedules' records: glibc returns
 * only the top of the heap by itself. malloc_trim gives back every free
 * page (at 10,000 schedules a few MB after the start-up). Re-armed by the
 * next drain while work goes on, so an idle controller has no timer. */
static void trim_cb(struct loop *l, loop_timer_id id, void *ud)
{
	struct controller *c = ud;
	(void)l;
	(void)id;
	c->trim_timer = 0;
	if (work_done(c) - c->trimmed_at_work < TRIM_AFTER_WORK)
		return;
	struct writes_stats ws;
	writes_get_stats(c->writes, &ws);
	if (wq_len(c->queue) > 0 || ws.inflight > 0) {
		/* Still going: look again once it is over. */
		c->trim_timer = loop_timer_after(c->loop, TRIM_DELAY_MS, trim_cb, c);
		return;
	}
	c->trimmed_at_work = work_done(c);
	malloc_trim(0);
}

static void drain(struct controller *c)
{
	const char *key;
	if (!c->all_synced || !c->leader || c->stopping)
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
	status_resume(c);
	if (!c->trim_timer && work_done(c) - c->trimmed_at_work >= TRIM_AFTER_WORK)
		c->trim_timer = loop_timer_after(c->loop, TRIM_DELAY_MS, trim_cb, c);
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
		((struct sched *)v)->runs.valid = false;
		((struct sched *)v)->base.valid = false;
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
		s->runs.valid = false;
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
			 kobj_label(obj, TAKT_LABEL_SCHEDULE) ? kobj_label(obj, TAKT_LABEL_SCHEDULE)
							      : "");
		struct sched *s = hmap_get(c->scheds, buf_str(&k));
		struct expectation *e = s && kobj_meta(obj, "name")
					    ? expectation_find(s, kobj_meta(obj, "name"))
					    : NULL;
		if (e) {
			e->met = e->created = true;
			e->need_get = false;
			e->maybe = false;
		}
		buf_release(&k);
	}
	if (ev == STORE_DELETED && old_obj)
		exits_forget(c->exits, kobj_meta(old_obj, "uid"));
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
	/* The clock was set to what it read (another process's settimeofday,
	 * an NTP step under a few ms; the loop's delta, the change of realtime
	 * minus monotonic in whole ms, reads -1, 0 or 1 for it): no plan
	 * changes (slots are whole seconds, the wall-clock timers keep their
	 * instants), and recomputing 10,000 schedules for each of those was
	 * the only CPU an idle minute cost (four in four minutes, measured). */
	if (delta_ms >= -CLOCK_JUMP_IGNORE_MS && delta_ms <= CLOCK_JUMP_IGNORE_MS)
		return;
	LOG_WARN("wall clock jumped: recomputing every schedule", "delta_ms=%" PRId64, delta_ms);
	/* Wall-clock timers keep their instants; the plans may not. */
	enqueue_all(c);
	drain(c);
}

/* ---- lifecycle ------------------------------------------------------------------------ */

int controller_new(struct loop *l, const struct kube_transport *tr, const struct controller_opts *o,
		   struct controller **out)
{
	struct controller *c = xcalloc(1, sizeof(*c));
	char host[256] = TAKT_COMPONENT;
	c->loop = l;
	c->ns = o && o->namespace && *o->namespace ? xstrdup(o->namespace) : NULL;
	c->http = o ? o->http : NULL;
	if (o && o->instance)
		snprintf(host, sizeof(host), "%s", o->instance);
	else if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "%s", TAKT_COMPONENT);
	host[sizeof(host) - 1] = 0;
	c->writes = writes_new(l, tr, host);
	c->exits = exits_new(c->writes, exit_read, c);
	/* From 1 ms: the CronJob controller's skew histogram starts at 1 s,
	 * and takt's lag is milliseconds. */
	static const double lag_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					    0.25,  0.5,	   1,	  2.5,	5,     10};
	static const double time_bounds[] = {0.00001, 0.00005, 0.0001, 0.0005, 0.001,
					     0.005,   0.01,    0.05,   0.1};
	prom_histogram_init(&c->slot_lag, lag_bounds, sizeof(lag_bounds) / sizeof(*lag_bounds));
	prom_histogram_init(&c->reconcile_time, time_bounds,
			    sizeof(time_bounds) / sizeof(*time_bounds));
	c->leader = true;
	c->deciding_since = loop_now_realtime_ms();
	c->scheds = hmap_new_borrowed();

	c->schedules = store_new(TAKT_GROUP "/" TAKT_RES_SCHEDULES);
	c->jobs = store_new("jobs");
	c->pods = store_new("pods");
	/* One allocation per object (issue 15): 10,000 schedules, and in a
	 * bank's steady state the Jobs and Pods their history keeps, several
	 * per schedule. Nothing here writes to a stored object. */
	store_set_frozen(c->schedules, true);
	store_set_frozen(c->jobs, true);
	store_set_frozen(c->pods, true);
	store_add_index(c->jobs, IDX_SCHEDULE, store_index_label, TAKT_LABEL_SCHEDULE);
	store_add_index(c->pods, IDX_SCHEDULE, store_index_label, TAKT_LABEL_SCHEDULE);
	store_add_index(c->pods, IDX_JOB, store_index_controller, "Job");
	store_on_change(c->schedules, schedule_changed, c);
	store_on_change(c->jobs, job_changed, c);
	store_on_change(c->pods, pod_changed, c);

	struct reflector_opts io = {.group = TAKT_GROUP,
				    .version = TAKT_VERSION,
				    .resource = TAKT_RES_SCHEDULES,
				    .ns = c->ns,
				    .transform = project_schedule,
				    .page_limit = 100};
	c->refl_schedules = reflector_new(l, tr, c->schedules, &io, reflector_listed, c);
	io = (struct reflector_opts){.group = "batch",
				     .version = "v1",
				     .resource = "jobs",
				     .ns = c->ns,
				     .label_selector = TAKT_LABEL_SCHEDULE,
				     .transform = project_job,
				     /* Jobs and (io reused below) Pods: a
				      * page of full Pods is ~5 KB an item as
				      * JSON and several times that parsed;
				      * 100 bound the transient tree, as for
				      * schedules. */
				     .page_limit = 100};
	c->refl_jobs = reflector_new(l, tr, c->jobs, &io, reflector_listed, c);
	io.group = "";
	io.resource = "pods";
	io.transform = project_pod;
	c->refl_pods = reflector_new(l, tr, c->pods, &io, reflector_listed, c);

	c->calendars = calendars_new(l, tr, c->writes, calendar_changed, c);
	struct control_opts cop = {
	    .namespace = c->ns, .idx_schedule = IDX_SCHEDULE, .idx_job = IDX_JOB};
	int rc = control_new(l, tr, c->writes, c->schedules, c->jobs, c->pods, &cop, &c->control);
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

void controller_free(struct controller *c)
{
	if (!c)
		return;
	loop_off_clock_jump(c->loop, clock_jumped, c);
	loop_timer_cancel(c->loop, c->drain_timer);
	loop_timer_cancel(c->loop, c->trim_timer);
	loop_timer_cancel(c->loop, c->stop_timer);
	reflector_free(c->refl_schedules);
	reflector_free(c->refl_jobs);
	reflector_free(c->refl_pods);
	calendars_free(c->calendars);
	control_free(c->control);
	status_deferred_clear(c);
	hmap_free(c->scheds, sched_free);
	exits_free(c->exits);
	/* Last: the owners above have forgotten their writes. */
	writes_free(c->writes);
	wq_free(c->queue);
	store_free(c->schedules);
	store_free(c->jobs);
	store_free(c->pods);
	free(c->ns);
	free(c);
}

void controller_get_stats(const struct controller *c, struct controller_stats *st)
{
	struct writes_stats ws;
	writes_get_stats(c->writes, &ws);
	*st = c->stats;
	st->events_posted = ws.events_posted;
	st->writes_inflight = ws.inflight;
	st->writes_held = ws.waiting;
	st->statuses_deferred = c->deferred.n;
}

void controller_set_leader(struct controller *c, bool leader)
{
	if (c->leader == leader)
		return;
	c->leader = leader;
	LOG_INFO(leader ? "leading: reconciling" : "standby: not reconciling",
		 "synced=%d schedules=%zu", c->all_synced, store_len(c->schedules));
	writes_set_enabled(c->writes, leader);
	if (!leader) {
		loop_timer_cancel(c->loop, c->drain_timer);
		c->drain_timer = 0;
		status_deferred_clear(c);
		return;
	}
	/* The deposed leader stopped writing before its lease ran out, so
	 * before now: the slots from now on are this process's alone. */
	c->deciding_since = loop_now_realtime_ms();
	/* What the previous leader decided is in the stores (or arrives in
	 * the watch); every schedule is planned again from them. Before the
	 * first list, reflector_listed does this. */
	if (c->all_synced) {
		enqueue_all(c);
		drain(c);
	}
}

void controller_pending(const struct controller *c, size_t *passes, uint64_t *writes)
{
	struct writes_stats ws;
	size_t pos = 0, n = 0;
	const char *key;
	void *v;
	while (hmap_next(c->scheds, &pos, &key, &v))
		n += ((const struct sched *)v)->pass.phase != PASS_IDLE;
	writes_get_stats(c->writes, &ws);
	*passes = n;
	*writes = ws.pending;
}

/* Polled: a pass ends and a write is answered in many places, and a
 * shutdown happens once. 10 ms adds nothing that matters to an exit. */
#define STOP_POLL_MS 10

static void stop_poll(struct loop *l, loop_timer_id id, void *ud)
{
	struct controller *c = ud;
	size_t passes;
	uint64_t writes;
	(void)id;
	c->stop_timer = 0;
	controller_pending(c, &passes, &writes);
	bool quiet = passes == 0 && writes == 0;
	if (!quiet && loop_now_monotonic_ms() < c->stop_deadline_mono) {
		c->stop_timer = loop_timer_after(l, STOP_POLL_MS, stop_poll, c);
		return;
	}
	if (!quiet)
		LOG_WARN("shutdown: writes unanswered", "passes=%zu writes=%" PRIu64, passes,
			 writes);
	else
		LOG_INFO("shutdown: writes drained", "reconciles=%" PRIu64, c->stats.reconciles);
	controller_shutdown_fn *done = c->stop_done;
	c->stop_done = NULL;
	if (done)
		done(c->stop_ud, quiet);
}

void controller_shutdown(struct controller *c, int64_t timeout_ms, controller_shutdown_fn *done,
			 void *ud)
{
	if (c->stopping)
		return;
	c->stopping = true;
	c->stop_done = done;
	c->stop_ud = ud;
	c->stop_deadline_mono = loop_now_monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	loop_timer_cancel(c->loop, c->drain_timer);
	c->drain_timer = 0;
	status_deferred_clear(c);
	size_t passes;
	uint64_t writes;
	controller_pending(c, &passes, &writes);
	LOG_INFO("shutdown: draining", "passes=%zu writes=%" PRIu64 " timeout_ms=%" PRId64, passes,
		 writes, timeout_ms);
	c->stop_timer = loop_timer_after(c->loop, 0, stop_poll, c);
}

bool controller_is_leader(const struct controller *c)
{
	return c->leader;
}

void controller_set_leader_check(struct controller *c, bool (*fn)(const void *ud), const void *ud)
{
	writes_set_check(c->writes, fn, ud);
}

bool controller_synced(const struct controller *c)
{
	return c->all_synced;
}

/* What the controller counts, rendered at each scrape from its own state:
 * nothing is kept twice. Per-schedule series carry namespace and schedule
 * (bounded by the schedules that exist) and come from the status the
 * schedule was last planned from. */
void controller_metrics(const struct controller *c, struct buf *out)
{
	struct controller_stats st;
	struct writes_stats ws;
	controller_get_stats(c, &st);
	writes_get_stats(c->writes, &ws);
	const struct {
		const char *name, *help;
		uint64_t v;
	} counters[] = {
	    {"takt_reconciles_total", "Reconcile passes started.", st.reconciles},
	    {"takt_jobs_created_total", "Job POSTs answered Created or AlreadyExists.",
	     st.jobs_created},
	    {"takt_jobs_deleted_total", "Job DELETEs (history trims) answered.", st.jobs_deleted},
	    {"takt_status_writes_total", "BatchSchedule status writes that landed.",
	     st.status_writes},
	    {"takt_status_conflicts_total",
	     "Status writes refused because the object had changed (re-planned).",
	     st.status_conflicts},
	    {"takt_events_posted_total", "Events posted or updated.", ws.events_posted},
	    {"takt_events_dropped_total", "Events dropped past the in-flight bound.",
	     ws.events_dropped},
	};
	for (size_t i = 0; i < sizeof(counters) / sizeof(*counters); i++) {
		prom_family(out, counters[i].name, "counter", counters[i].help);
		prom_sample(out, counters[i].name, NULL, (double)counters[i].v);
	}

	prom_family(out, "takt_api_requests_total", "counter",
		    "API requests answered (lists, watches, reads, writes, the lease), by verb "
		    "and HTTP code (0: no answer).");
	/* Counted by the client, where every request passes; a fake transport
	 * has no counts. */
	size_t n_codes = 0;
	const struct kube_http_code *codes = c->http ? kube_http_codes(c->http, &n_codes) : NULL;
	for (size_t i = 0; i < n_codes; i++) {
		char code[16];
		snprintf(code, sizeof(code), "%d", codes[i].status);
		prom_sample(out, "takt_api_requests_total",
			    (const char *[]){"verb", codes[i].verb, "code", code, NULL},
			    (double)codes[i].n);
	}

	prom_family(out, "takt_watch_restarts_total", "counter",
		    "Watches started again after their first, by resource; relists after a "
		    "gap.");
	const struct reflector *refls[] = {c->refl_schedules, c->refl_jobs, c->refl_pods};
	for (size_t i = 0; i < 3; i++) {
		struct reflector_stats rs;
		reflector_get_stats(refls[i], &rs);
		prom_sample(out, "takt_watch_restarts_total",
			    (const char *[]){"resource", reflector_what(refls[i]), NULL},
			    (double)(rs.watches ? rs.watches - 1 : 0));
	}

	prom_family(out, "takt_workqueue_depth", "gauge", "Schedules waiting to be reconciled.");
	prom_sample(out, "takt_workqueue_depth", NULL, (double)wq_len(c->queue));
	prom_family(out, "takt_leader", "gauge", "1 while this replica may write.");
	prom_sample(out, "takt_leader", NULL, c->leader && writes_enabled(c->writes) ? 1 : 0);
	size_t ready;
	size_t cals = calendars_count(c->calendars, &ready);
	prom_family(out, "takt_calendars", "gauge", "BusinessCalendars known, by readiness.");
	prom_sample(out, "takt_calendars", (const char *[]){"ready", "true", NULL}, (double)ready);
	prom_sample(out, "takt_calendars", (const char *[]){"ready", "false", NULL},
		    (double)(cals - ready));

	prom_family(out, "takt_slot_lag_seconds", "histogram",
		    "From a slot's instant to its Job created (the POST answered).");
	prom_histogram_write(out, "takt_slot_lag_seconds", NULL, &c->slot_lag);
	prom_family(out, "takt_reconcile_duration_seconds", "histogram",
		    "The synchronous part of a reconcile pass.");
	prom_histogram_write(out, "takt_reconcile_duration_seconds", NULL, &c->reconcile_time);

	/* Per schedule, from the status last planned from. */
	static const struct {
		const char *name, *type, *help;
	} fams[] = {
	    {"takt_runs_total", "counter", "Runs of a schedule, by result."},
	    {"takt_slots_skipped_total", "counter", "Slots not run, by reason."},
	    {"takt_slots_missed_total", "counter",
	     "Slots passed while the controller could not run them."},
	    {"takt_last_success_timestamp_seconds", "gauge", "When the last successful run ended."},
	    {"takt_next_slot_timestamp_seconds", "gauge", "The next slot's instant."},
	};
	for (size_t f = 0; f < sizeof(fams) / sizeof(*fams); f++) {
		prom_family(out, fams[f].name, fams[f].type, fams[f].help);
		size_t pos = 0;
		const char *key;
		void *v;
		while (hmap_next(c->scheds, &pos, &key, &v)) {
			const struct sched *s = v;
			const struct base_cache *b = &s->base;
			if (!b->have_metrics || !s->spec.namespace || !s->spec.name)
				continue;
			const char *ns = s->spec.namespace, *nm = s->spec.name;
			switch (f) {
			case 0: {
				const char *res[] = {"started", "succeeded", "failed", "killed",
						     "retried"};
				int64_t vals[] = {b->counters.runs_started,
						  b->counters.runs_succeeded,
						  b->counters.runs_failed, b->counters.killed,
						  (int64_t)s->retries_started};
				for (size_t i = 0; i < 5; i++)
					prom_sample(out, fams[f].name,
						    (const char *[]){"namespace", ns, "schedule",
								     nm, "result", res[i], NULL},
						    (double)vals[i]);
				break;
			}
			case 1:
				prom_sample(out, fams[f].name,
					    (const char *[]){"namespace", ns, "schedule", nm,
							     "reason", "overlap", NULL},
					    (double)b->counters.skipped_overlap);
				prom_sample(out, fams[f].name,
					    (const char *[]){"namespace", ns, "schedule", nm,
							     "reason", "calendar", NULL},
					    (double)b->counters.skipped_calendar);
				break;
			case 2:
				prom_sample(out, fams[f].name,
					    (const char *[]){"namespace", ns, "schedule", nm, NULL},
					    (double)b->counters.missed);
				break;
			case 3:
			case 4: {
				int64_t t = f == 3 ? b->last_success : b->next_slot;
				if (t != SPEC_TIME_UNSET)
					prom_sample(
					    out, fams[f].name,
					    (const char *[]){"namespace", ns, "schedule", nm, NULL},
					    (double)t / 1000.0);
				break;
			}
			}
		}
	}
}
