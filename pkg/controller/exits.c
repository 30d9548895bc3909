/* Exit codes of failed runs, read from their pods (see exits.h). */
#include "controller/exits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/hmap.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "controller/writes.h"
#include "kube/obj.h"
#include "tz/civil.h"

#include "base/banned.h"

#define LABEL_NEW "batch.kubernetes.io/controller-uid"
#define LABEL_OLD "controller-uid"

struct exit_entry {
	struct exits *e;
	struct exit_info info;
	char *uid, *ns, *sched_key;
	int tries;	/* reads sent */
	bool again;	/* the last read failed or was not sent: send another */
	bool old_label; /* the read asks the older label */
};

struct exits {
	struct writes *w;
	exits_changed_fn *changed;
	void *ud;
	struct hmap *by_uid; /* uid -> struct exit_entry */
	uint64_t reads;
};

static void entry_free(void *p)
{
	struct exit_entry *x = p;
	/* An answer still on its way finds no one (writes_forget). */
	writes_forget(x->e->w, x);
	free(x->uid);
	free(x->ns);
	free(x->sched_key);
	free(x);
}

struct exits *exits_new(struct writes *w, exits_changed_fn *changed, void *ud)
{
	struct exits *e = xcalloc(1, sizeof(*e));
	e->w = w;
	e->changed = changed;
	e->ud = ud;
	e->by_uid = hmap_new();
	return e;
}

void exits_free(struct exits *e)
{
	if (!e)
		return;
	hmap_free(e->by_uid, entry_free);
	free(e);
}

/* The last termination of a container status with a non-zero code. */
static bool failed_termination(const cJSON *cs, int32_t *code, const char **reason)
{
	const char *keys[] = {"state", "lastState"};
	for (size_t i = 0; i < 2; i++) {
		const cJSON *t = kobj_get(kobj_get(cs, keys[i]), "terminated");
		const cJSON *c = kobj_get(t, "exitCode");
		if (cJSON_IsNumber(c) && c->valueint != 0) {
			*code = c->valueint;
			*reason = kobj_str(t, "reason");
			return true;
		}
	}
	return false;
}

int exits_parse_pods(const char *body, struct exit_info *out)
{
	cJSON *list = body ? cJSON_Parse(body) : NULL;
	const cJSON *items = kobj_get(list, "items");
	memset(out, 0, sizeof(*out));
	if (!cJSON_IsArray(items)) {
		cJSON_Delete(list);
		return -1;
	}
	int n = 0;
	int64_t best_created = INT64_MIN;
	const cJSON *pod;
	cJSON_ArrayForEach(pod, items)
	{
		n++;
		int64_t created;
		const char *ts = kobj_meta(pod, "creationTimestamp");
		if (!ts || rfc3339_parse(ts, &created))
			created = INT64_MIN + 1;
		if (out->has_code && created <= best_created)
			continue;
		const char *lists[] = {"initContainerStatuses", "containerStatuses"};
		for (size_t l = 0; l < 2; l++) {
			const cJSON *cs;
			bool found = false;
			cJSON_ArrayForEach(cs, kobj_get(kobj_get(pod, "status"), lists[l]))
			{
				int32_t code;
				const char *reason = NULL;
				if (!failed_termination(cs, &code, &reason))
					continue;
				out->has_code = true;
				out->code = code;
				snprintf(out->reason, sizeof(out->reason), "%s",
					 reason ? reason : "");
				best_created = created;
				found = true;
				break;
			}
			if (found)
				break;
		}
	}
	if (!out->has_code)
		snprintf(out->reason, sizeof(out->reason), "%s", n ? "NoFailedContainer" : "NoPod");
	cJSON_Delete(list);
	return n;
}

static void send_read(struct exit_entry *x);

static void read_answered(void *ud, const char *tag, const struct kube_result *res, double ms)
{
	struct exit_entry *x = ud;
	struct exits *e = x->e;
	(void)tag;
	(void)ms;
	bool ok = res->err == 0 && res->status >= 200 && res->status < 300;
	struct exit_info info;
	int pods = ok ? exits_parse_pods(res->body, &info) : -1;
	if (pods < 0 && x->tries < EXITS_TRIES) {
		LOG_WARN("exit code read failed", "obj=%s uid=%s status=%d tries=%d", x->sched_key,
			 x->uid, res->status, x->tries);
		x->again = true; /* still pending: asked again at the next look */
		e->changed(e->ud, x->sched_key, true);
		return;
	}
	if (pods == 0 && !x->old_label) {
		/* A cluster older than 1.27 labels only controller-uid. */
		x->old_label = true;
		send_read(x);
		if (!x->again)
			return;
		e->changed(e->ud, x->sched_key, true);
		return;
	}
	if (pods < 0) {
		memset(&x->info, 0, sizeof(x->info));
		snprintf(x->info.reason, sizeof(x->info.reason), "ExitCodeUnreadable");
	} else {
		x->info = info;
	}
	x->info.pending = false;
	e->changed(e->ud, x->sched_key, false);
}

static void send_read(struct exit_entry *x)
{
	struct buf path;
	char sel[160];
	buf_init(&path, 512);
	kube_path(&path, "", "v1", x->ns, "pods", NULL, NULL);
	snprintf(sel, sizeof(sel), "%s=%s", x->old_label ? LABEL_OLD : LABEL_NEW, x->uid);
	kube_query_add(&path, "labelSelector", sel);
	struct write w = {.kind = WRITE_ROUTINE,
			  .method = KUBE_GET,
			  .path = buf_str(&path),
			  .tag = x->uid,
			  .done = read_answered,
			  .ud = x};
	x->info.pending = true;
	x->again = false;
	x->tries++;
	x->e->reads++;
	/* Not sent (the gate is closed: a standby): asked again at the next
	 * look, still pending. */
	if (writes_send(x->e->w, &w) < 0)
		x->again = true;
	buf_release(&path);
}

const struct exit_info *exits_lookup(struct exits *e, const char *ns, const char *name,
				     const char *uid, const char *sched_key)
{
	static const struct exit_info unknown = {.pending = false, .reason = "ExitCodeUnreadable"};
	(void)name;
	if (!uid || !ns || !sched_key)
		return &unknown;
	struct exit_entry *x = hmap_get(e->by_uid, uid);
	if (!x) {
		x = xcalloc(1, sizeof(*x));
		x->e = e;
		x->uid = xstrdup(uid);
		x->ns = xstrdup(ns);
		x->sched_key = xstrdup(sched_key);
		hmap_put(e->by_uid, uid, x);
		send_read(x);
	} else if (x->again) {
		send_read(x);
	}
	return &x->info;
}

void exits_forget(struct exits *e, const char *uid)
{
	struct exit_entry *x = uid ? hmap_del(e->by_uid, uid) : NULL;
	if (x)
		entry_free(x);
}

void exits_counts(const struct exits *e, uint64_t *reads, size_t *held)
{
	*reads = e->reads;
	*held = hmap_len(e->by_uid);
}
