#include "controller/project.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "controller/names.h"
#include "base/banned.h"

/* Deletes every member of obj whose name `keep` refuses. */
static void prune(cJSON *obj, bool (*keep)(const char *name, const void *arg), const void *arg)
{
	if (!cJSON_IsObject(obj))
		return;
	cJSON *it = obj->child;
	while (it) {
		cJSON *next = it->next;
		if (!it->string || !keep(it->string, arg))
			cJSON_Delete(cJSON_DetachItemViaPointer(obj, it));
		it = next;
	}
}

/* arg: a NULL-terminated list of names. */
static bool listed(const char *name, const void *arg)
{
	for (const char *const *k = arg; *k; k++)
		if (!strcmp(name, *k))
			return true;
	return false;
}

/* arg: a prefix. */
static bool prefixed(const char *name, const void *arg)
{
	return !strncmp(name, arg, strlen(arg));
}

/* Keeps the members `keep` lists, and gives each the list's own name as
 * its key (cJSON_StringIsConst): the parser allocated a copy of every key,
 * and a stored object's keys are all from these lists, one allocation (32
 * bytes with malloc's overhead) per member saved, 10 a schedule. */
static void keep_only(cJSON *obj, const char *const *keep)
{
	prune(obj, listed, keep);
	if (!cJSON_IsObject(obj))
		return;
	for (cJSON *it = obj->child; it; it = it->next) {
		for (const char *const *k = keep; *k; k++) {
			if (!(it->type & cJSON_StringIsConst) && !strcmp(it->string, *k)) {
				free(it->string);
				it->string = (char *)*k;
				it->type |= cJSON_StringIsConst;
				break;
			}
		}
	}
}

/* Deletes obj's member `name` when it is an empty object (labels or
 * annotations with nothing of takt's left). */
static void drop_empty(cJSON *obj, const char *name)
{
	cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (cJSON_IsObject(it) && !it->child)
		cJSON_Delete(cJSON_DetachItemViaPointer(obj, it));
}

static const char *const META[] = {"name",
				   "namespace",
				   "uid",
				   "resourceVersion",
				   "creationTimestamp",
				   "deletionTimestamp",
				   "labels",
				   "annotations",
				   "ownerReferences",
				   NULL};

static void project_meta(cJSON *obj)
{
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	keep_only(md, META);
	/* Every label and annotation the controller reads is takt's own
	 * (takt.io/schedule, scheduled-time, trigger, killed, request-id,
	 * kill, kill-grace-seconds); a pod carries the Job controller's
	 * labels and the user's besides. */
	prune(cJSON_GetObjectItemCaseSensitive(md, "labels"), prefixed, TAKT_PREFIX);
	prune(cJSON_GetObjectItemCaseSensitive(md, "annotations"), prefixed, TAKT_PREFIX);
	drop_empty(md, "labels");
	drop_empty(md, "annotations");
}

static const char *const TOP[] = {"apiVersion", "kind", "metadata", "status", NULL};
static const char *const JOB_STATUS[] = {"conditions", "completionTime", "startTime", "active",
					 "succeeded",  "failed",	 NULL};
static const char *const JOB_CONDITION[] = {"type", "status", "lastTransitionTime", NULL};
static const char *const POD_STATUS[] = {"phase", NULL};

void project_job(cJSON *job)
{
	if (!cJSON_IsObject(job))
		return;
	keep_only(job, TOP);
	project_meta(job);
	cJSON *st = cJSON_GetObjectItemCaseSensitive(job, "status");
	keep_only(st, JOB_STATUS);
	cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(st, "conditions"))
	{
		keep_only(it, JOB_CONDITION);
	}
}

void project_pod(cJSON *pod)
{
	if (!cJSON_IsObject(pod))
		return;
	keep_only(pod, TOP);
	project_meta(pod);
	keep_only(cJSON_GetObjectItemCaseSensitive(pod, "status"), POD_STATUS);
}

static const char *const SCHED_TOP[] = {"metadata", "spec", "status", NULL};
static const char *const SCHED_META[] = {
    "name",   "namespace",   "uid", "resourceVersion", "generation", "deletionTimestamp",
    "labels", "annotations", NULL};

/* Replaces the object member `name` (a literal) by its JSON, as one
 * string node. */
static void to_blob(cJSON *obj, const char *name)
{
	cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!cJSON_IsObject(it))
		return; /* absent, or not an object: the parser says what is wrong */
	char *json = cJSON_PrintUnformatted(it);
	cJSON *blob = json ? cJSON_CreateString(json) : NULL;
	free(json);
	if (!blob)
		return;
	/* `name` is a literal: the key needs no copy (see keep_only). */
	blob->string = (char *)name;
	blob->type |= cJSON_StringIsConst;
	cJSON_ReplaceItemViaPointer(obj, it, blob);
}

void project_schedule(cJSON *sched)
{
	if (!cJSON_IsObject(sched))
		return;
	keep_only(sched, SCHED_TOP);
	cJSON *md = cJSON_GetObjectItemCaseSensitive(sched, "metadata");
	keep_only(md, SCHED_META);
	prune(cJSON_GetObjectItemCaseSensitive(md, "labels"), prefixed, TAKT_PREFIX);
	prune(cJSON_GetObjectItemCaseSensitive(md, "annotations"), prefixed, TAKT_PREFIX);
	drop_empty(md, "labels");
	drop_empty(md, "annotations");
	to_blob(sched, "spec");
	to_blob(sched, "status");
}

const cJSON *project_unblob(const cJSON *v, cJSON **owned)
{
	*owned = NULL;
	if (!cJSON_IsString(v))
		return v;
	*owned = cJSON_Parse(cJSON_GetStringValue(v));
	return *owned;
}
