/* External control by annotation: the pure rules; see control.h. */
#include "controller/control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "tz/civil.h"

#include "kube/obj.h"
#include "base/errmsg.h"
#include "base/banned.h"

static bool str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

const char *control_kind_name(enum control_kind k)
{
	return k == CONTROL_KILL ? "kill" : "run-now";
}

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* id (shorter than n) as it may appear in a message: every byte outside
 * printable ASCII, and the quote and backslash that would end or garble the
 * quoting, becomes '?', one for one, so positions still match. */
static void quote_id(const char *id, char *out, size_t n)
{
	size_t j = 0;
	for (; id[j] && j + 1 < n; j++) {
		unsigned char c = (unsigned char)id[j];
		out[j] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
	}
	out[j] = '\0';
}

int control_request_id_check(const char *what, const char *id, char *err, size_t errlen)
{
	if (!id || !*id) {
		errmsg_set(err, errlen, "%s: the request id is empty", what);
		return -EINVAL;
	}
	size_t n = strlen(id);
	if (n > CONTROL_REQUEST_ID_MAX) {
		errmsg_set(err, errlen, "%s: the request id is %zu characters long, more than %d",
			   what, n, CONTROL_REQUEST_ID_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!id_char(id[i])) {
			/* The whole id is quoted (it is at most
			 * CONTROL_REQUEST_ID_MAX long, checked above), so the
			 * reader sees what they wrote; quote_id keeps it
			 * printable, as it may end up in an Event. */
			char q[CONTROL_REQUEST_ID_MAX + 1];
			quote_id(id, q, sizeof(q));
			errmsg_set(err, errlen,
				   "%s: \"%s\" has a character other than [A-Za-z0-9._-] at "
				   "position %zu",
				   what, q, i + 1);
			return -EINVAL;
		}
	}
	return 0;
}

int control_grace_parse(const char *s, long *out, char *err, size_t errlen)
{
	if (!s || !*s) {
		errmsg_set(err, errlen,
			   TAKT_ANN_KILL_GRACE ": empty, expected seconds (0 or more)");
		return -EINVAL;
	}
	long v = 0;
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 10) {
			errmsg_set(err, errlen,
				   TAKT_ANN_KILL_GRACE ": \"%.20s%s\" is not a whole number of "
						       "seconds from 0 to %ld",
				   s, n > 20 ? "..." : "", CONTROL_GRACE_MAX);
			return -EINVAL;
		}
		v = v * 10 + (s[i] - '0');
	}
	if (v > CONTROL_GRACE_MAX) {
		errmsg_set(err, errlen, TAKT_ANN_KILL_GRACE ": %ld is more than %ld", v,
			   CONTROL_GRACE_MAX);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int control_grace_choose(const char *pod_value, const char *schedule_value, bool *set, long *out,
			 char *err, size_t errlen)
{
	const char *v = pod_value ? pod_value : schedule_value;
	*set = false;
	*out = 0;
	if (!v)
		return 0;
	if (control_grace_parse(v, out, err, errlen))
		return -EINVAL;
	*set = true;
	return 0;
}

int control_handled_entry(enum control_kind k, const char *id, char *out, size_t n)
{
	int w = snprintf(out, n, "%s:%s", control_kind_name(k), id ? id : "");
	return w < 0 || (size_t)w >= n ? -ERANGE : 0;
}

bool control_handled(const struct spec_status *st, enum control_kind k, const char *id)
{
	char entry[CONTROL_REQUEST_ID_MAX + 16];
	const cJSON *last = k == CONTROL_KILL ? st->last_kill : st->last_run_now;
	if (!id)
		return false;
	/* A run-now claimed (recorded before its POST) is not handled yet. */
	if (str_eq(kobj_str(last, "requestId"), id))
		return !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(last, "claimed"));
	if (control_handled_entry(k, id, entry, sizeof(entry)))
		return false;
	const cJSON *it;
	cJSON_ArrayForEach(it, st->handled_requests)
	{
		if (str_eq(cJSON_GetStringValue(it), entry))
			return true;
	}
	return false;
}

static bool kept(const char *entry, const char *const *keep, size_t n_keep)
{
	for (size_t i = 0; i < n_keep; i++)
		if (str_eq(entry, keep[i]))
			return true;
	return false;
}

void control_mark_handled(struct spec_status *st, enum control_kind k, const char *id,
			  const char *const *keep, size_t n_keep)
{
	char entry[CONTROL_REQUEST_ID_MAX + 16];
	if (control_handled_entry(k, id, entry, sizeof(entry)))
		return;
	if (!cJSON_IsArray(st->handled_requests)) {
		cJSON_Delete(st->handled_requests);
		st->handled_requests = cJSON_CreateArray();
	}
	cJSON *list = st->handled_requests;
	bool present = false;
	const cJSON *it;
	cJSON_ArrayForEach(it, list)
	{
		if (str_eq(cJSON_GetStringValue(it), entry))
			present = true;
	}
	if (!present)
		cJSON_AddItemToArray(list, cJSON_CreateString(entry));
	/* Oldest first: the array is in the order requests were handled. The
	 * newest entry (just added) is never dropped. */
	int size = cJSON_GetArraySize(list);
	for (int i = 0; size > CONTROL_HANDLED_MAX && i < size - 1;) {
		cJSON *e = cJSON_GetArrayItem(list, i);
		const char *v = cJSON_GetStringValue(e);
		if (!v || !kept(v, keep, n_keep)) {
			cJSON_DeleteItemFromArray(list, i);
			size--;
			continue;
		}
		i++;
	}
}

const cJSON *control_controller_ref(const cJSON *obj)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, kobj_get(kobj_get(obj, "metadata"), "ownerReferences"))
	{
		if (cJSON_IsTrue(kobj_get(it, "controller")))
			return it;
	}
	return NULL;
}

/* The controller reference of `child` names `owner` (apiVersion, kind, name,
 * uid), in the same namespace. */
static int owned_by(const cJSON *child, const cJSON *owner, const char *api_version,
		    const char *kind, char *why, size_t n)
{
	const char *cname = kobj_meta(child, "name") ? kobj_meta(child, "name") : "?";
	const char *oname = kobj_meta(owner, "name"), *ouid = kobj_meta(owner, "uid");
	if (!oname || !ouid) {
		snprintf(why, n, "%s has no name or uid", kind);
		return -ENOENT;
	}
	if (!str_eq(kobj_meta(child, "namespace"), kobj_meta(owner, "namespace"))) {
		snprintf(why, n, "%s is not in the namespace of %s %s", cname, kind, oname);
		return -ENOENT;
	}
	const cJSON *ref = control_controller_ref(child);
	if (!ref) {
		snprintf(why, n, "%s has no controller ownerReference", cname);
		return -ENOENT;
	}
	if (!str_eq(kobj_str(ref, "apiVersion"), api_version) ||
	    !str_eq(kobj_str(ref, "kind"), kind)) {
		snprintf(why, n, "%s is controlled by a %s %s, not a %s %s", cname,
			 kobj_str(ref, "apiVersion") ? kobj_str(ref, "apiVersion") : "?",
			 kobj_str(ref, "kind") ? kobj_str(ref, "kind") : "?", api_version, kind);
		return -ENOENT;
	}
	if (!str_eq(kobj_str(ref, "name"), oname) || !str_eq(kobj_str(ref, "uid"), ouid)) {
		snprintf(why, n, "%s is controlled by %s %s (uid %s), not by %s (uid %s)", cname,
			 kind, kobj_str(ref, "name") ? kobj_str(ref, "name") : "?",
			 kobj_str(ref, "uid") ? kobj_str(ref, "uid") : "?", oname, ouid);
		return -ENOENT;
	}
	return 0;
}

int control_job_of_schedule(const cJSON *job, const cJSON *schedule, char *why, size_t n)
{
	return owned_by(job, schedule, TAKT_API_VERSION, TAKT_KIND_SCHEDULE, why, n);
}

int control_pod_of_job(const cJSON *pod, const cJSON *job, char *why, size_t n)
{
	return owned_by(pod, job, "batch/v1", "Job", why, n);
}

int control_pod_of_run(const cJSON *pod, const cJSON *job, const cJSON *schedule, char *why,
		       size_t n)
{
	const cJSON *ref = control_controller_ref(pod);
	if (!job) {
		if (ref && str_eq(kobj_str(ref, "kind"), "Job"))
			snprintf(why, n, "its Job %s does not exist",
				 kobj_str(ref, "name") ? kobj_str(ref, "name") : "?");
		else
			snprintf(why, n, "it is not controlled by a Job");
		return -ENOENT;
	}
	if (control_pod_of_job(pod, job, why, n))
		return -ENOENT;
	if (!schedule) {
		const cJSON *jref = control_controller_ref(job);
		if (jref && str_eq(kobj_str(jref, "kind"), "BatchSchedule"))
			snprintf(why, n, "its BatchSchedule %s does not exist",
				 kobj_str(jref, "name") ? kobj_str(jref, "name") : "?");
		else
			snprintf(why, n, "its Job %s is not controlled by a BatchSchedule",
				 kobj_meta(job, "name") ? kobj_meta(job, "name") : "?");
		return -ENOENT;
	}
	return control_job_of_schedule(job, schedule, why, n);
}

const char *control_job_killed(const cJSON *job)
{
	const char *v =
	    kobj_str(kobj_get(kobj_get(job, "metadata"), "annotations"), TAKT_ANN_KILLED);
	return v && *v ? v : NULL;
}

static void set_record_head(cJSON *rec, const char *id, int64_t now_ms)
{
	char ts[40];
	cJSON_AddStringToObject(rec, "requestId", id);
	if (rfc3339_format(now_ms, true, ts, sizeof(ts)) > 0)
		cJSON_AddStringToObject(rec, "time", ts);
}

void control_record_kill(struct spec_status *st, const struct control_kill_record *r,
			 const char *const *keep, size_t n_keep)
{
	cJSON *rec = cJSON_CreateObject();
	set_record_head(rec, r->id, r->now_ms);
	cJSON *arr = cJSON_AddArrayToObject(rec, "jobs");
	for (size_t i = 0; i < r->n_jobs; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(r->jobs[i]));
	cJSON_AddNumberToObject(rec, "podsDeleted",
				(double)(r->pods_deleted > 0 ? r->pods_deleted : 0));
	if (r->failed)
		cJSON_AddStringToObject(rec, "failed", r->failed);
	cJSON_Delete(st->last_kill);
	st->last_kill = rec;
	st->counters.killed += (int64_t)r->jobs_new;
	control_mark_handled(st, CONTROL_KILL, r->id, keep, n_keep);
}

const char *control_kill_acted(const struct spec *sp, const struct spec_status *before,
			       const struct spec_status *after)
{
	char err[256];
	const char *id = sp->ann_kill;
	if (!id || control_request_id_check(TAKT_ANN_KILL, id, err, sizeof(err)))
		return NULL;
	return !control_handled(before, CONTROL_KILL, id) &&
		       control_handled(after, CONTROL_KILL, id)
		   ? id
		   : NULL;
}

const char *control_run_now_id(const struct spec *sp)
{
	char err[256];
	if (!sp->ann_run_now ||
	    control_request_id_check(TAKT_ANN_RUN_NOW, sp->ann_run_now, err, sizeof(err)))
		return NULL;
	return sp->ann_run_now;
}

/* The status is written as a merge patch, which merges a record into the
 * one stored: a field of the old record that the new one lacks (a claim's
 * "lost", an older "refused") is written null, so it goes. */
static void null_stale(cJSON *rec, const cJSON *old)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, old)
	{
		if (it->string && !cJSON_IsNull(it) &&
		    !cJSON_GetObjectItemCaseSensitive(rec, it->string))
			cJSON_AddNullToObject(rec, it->string);
	}
}

void control_record_run_now(struct spec_status *st, const char *id, int64_t now_ms,
			    const char *job_name, const char *refused, const char *const *keep,
			    size_t n_keep)
{
	cJSON *rec = cJSON_CreateObject();
	set_record_head(rec, id, now_ms);
	/* The status is written as a merge patch: a claim's flag is cleared
	 * explicitly, or it would outlive the record that settles it. */
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st->last_run_now, "claimed")))
		cJSON_AddBoolToObject(rec, "claimed", false);
	if (refused)
		cJSON_AddStringToObject(rec, "refused", refused);
	else if (job_name)
		cJSON_AddStringToObject(rec, "jobName", job_name);
	null_stale(rec, st->last_run_now);
	cJSON_Delete(st->last_run_now);
	st->last_run_now = rec;
	control_mark_handled(st, CONTROL_RUN_NOW, id, keep, n_keep);
}

void control_claim_run_now(struct spec_status *st, const char *id, int64_t now_ms,
			   const char *job_name)
{
	cJSON *rec = cJSON_CreateObject();
	set_record_head(rec, id, now_ms);
	cJSON_AddStringToObject(rec, "jobName", job_name);
	cJSON_AddBoolToObject(rec, "claimed", true);
	null_stale(rec, st->last_run_now);
	cJSON_Delete(st->last_run_now);
	st->last_run_now = rec;
}
