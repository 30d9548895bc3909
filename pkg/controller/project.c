#include "controller/project.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <zlib.h>

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

/* ---- blobs: a schedule's spec and status, compressed --------------------------
 *
 * A blob is a string node holding BLOB_MAGIC, the dictionary's number, and
 * then, byte-stuffed so that the string holds no NUL (0x00 -> 0x01 0x01,
 * 0x01 -> 0x01 0x02), the JSON's length and its Adler-32 (4 bytes each,
 * little-endian: a damaged blob reads as nothing, not as other JSON) and
 * its raw deflate (zlib) with that preset dictionary. A spec and a status are
 * small JSON documents whose bulk is key names and our own condition
 * texts, which plain deflate has no earlier text to refer to; with a
 * dictionary of them the bench's spec (790 bytes) keeps 333 and its status
 * (870) 76 (docs/testing.md, "Scale"). The dictionaries hold no user data:
 * the CRD's field names, the pod template's usual keys, the texts the
 * planner writes. Changing a dictionary is safe: blobs live only in this
 * process's memory. */
#define BLOB_MAGIC '\x02'

static const char SPEC_DICT[] =
    "\"calendar\":{\"name\":\"days\":\"BusinessDays\",\"businessDayOfMonth\":["
    "\"onNonBusinessDay\":\"Skip\"},\"retry\":{\"after\":[\"30m\",\"limit\":"
    "\"notAfter\":\"onExitCodes\":[\"runHistoryLimit\":20,\"suspend\":false,"
    "\"missedSlotPolicy\":\"RunLatest\",\"command\":[\"/bin/sh\",\"-c\",\"workingDir\":"
    "\"volumeMounts\":[{\"mountPath\":\"volumes\":[{\"configMap\":{\"secret\":{"
    "\"secretName\":\"serviceAccountName\":\"nodeSelector\":{\"tolerations\":["
    "\"imagePullPolicy\":\"IfNotPresent\",\"imagePullSecrets\":[{\"securityContext\":{"
    "\"valueFrom\":{\"secretKeyRef\":{\"key\":\"envFrom\":[{\"configMapRef\":{"
    "\"ttlSecondsAfterFinished\":\"parallelism\":1,\"completions\":1,"
    "\"annotations\":{\"schedule\":\"0 0 * * *\",\"timeZone\":\"Asia/Seoul\","
    "\"concurrencyPolicy\":\"Forbid\",\"startingDeadlineSeconds\":300,"
    "\"successfulJobsHistoryLimit\":3,\"failedJobsHistoryLimit\":1,\"jobTemplate\":{"
    "\"metadata\":{\"labels\":{\"app\":\"spec\":{\"backoffLimit\":6,"
    "\"activeDeadlineSeconds\":3600,\"template\":{\"metadata\":{\"labels\":{\"spec\":{"
    "\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"job\",\"image\":\"registry."
    "\"args\":[\"--date\",\"$(TAKT_BUSINESS_DATE)\",\"$(TAKT_SCHEDULED_TIME)\"],"
    "\"env\":[{\"name\":\"\",\"value\":\"\"}],\"resources\":{\"requests\":{\"cpu\":"
    "\"100m\",\"memory\":\"128Mi\"},\"limits\":{\"cpu\":\"1\",\"memory\":\"512Mi\"}}}]";

static const char STATUS_DICT[] =
    "\"lastKill\":{\"requestId\":\"\",\"jobs\":[\"failed\":\"retriesCancelled\":"
    "\"lastRerun\":{\"progress\":\"lastRunNow\":{\"claimed\":true,\"lost\":"
    "\"handledRequests\":[\"pendingSlot\":\"pendingTrigger\":\"schedule\","
    "\"lastScheduleTime\":\"2026-01-01T00:00:00Z\",\"lastSuccessfulTime\":\"\","
    "{\"attempt\":1,\"businessDate\":\"2026-01-01\",\"claimed\":true,\"completionTime\":"
    "\"exitCode\":0,\"job\":\"\",\"reason\":\"\",\"result\":\"Succeeded\",\"Failed\","
    "\"scheduledTime\":\"\",\"startTime\":\"\",\"trigger\":\"schedule\",\"uid\":\"\"},"
    "{\"lastTransitionTime\":\"\",\"message\":\"calendar \",\"observedGeneration\":1,"
    "\"reason\":\"CalendarLoaded\",\"status\":\"True\",\"type\":\"CalendarReady\"},"
    "{\"active\":[],\"activeCount\":0,\"conditions\":[{\"lastTransitionTime\":"
    "\"2026-01-01T00:00:00.000Z\",\"message\":\"no calendar: every day counts\","
    "\"observedGeneration\":1,\"reason\":\"NoCalendar\",\"status\":\"True\",\"type\":"
    "\"CalendarReady\"},{\"lastTransitionTime\":\"2026-01-01T00:00:00.000Z\",\"message\":"
    "\"schedule \\\"0 0 0 * * *\\\" in \",\"observedGeneration\":1,\"reason\":\"Valid\","
    "\"status\":\"True\",\"type\":\"Ready\"},{\"lastTransitionTime\":"
    "\"2026-01-01T00:00:00.000Z\",\"message\":\"slots run as scheduled\","
    "\"observedGeneration\":1,\"reason\":\"Active\",\"status\":\"False\",\"type\":"
    "\"Suspended\"}],\"killed\":0,\"lastSlotClaimed\":\"2026-01-01T00:00:00.000Z\","
    "\"lastSlotConsidered\":\"2026-01-01T00:00:00.000Z\",\"missed\":0,\"nextScheduleTime\":"
    "\"2026-01-01T00:00:00.000Z\",\"observedGeneration\":1,\"recentRuns\":[],"
    "\"runsFailed\":0,\"runsStarted\":0,\"runsSucceeded\":0,\"skippedCalendar\":0,"
    "\"skippedOverlap\":0,\"timeZone\":\"";

static const struct {
	const char *bytes;
	size_t len;
} DICTS[] = {{SPEC_DICT, sizeof(SPEC_DICT) - 1}, {STATUS_DICT, sizeof(STATUS_DICT) - 1}};
enum { DICT_SPEC, DICT_STATUS };

/* One stream each, made once: a deflate stream costs ~270 KB to set up,
 * and the controller is one thread. */
static z_stream deflater, inflater;
static bool deflater_ok, inflater_ok;

/* The JSON text (len bytes) as a blob string, or NULL (out of memory, or
 * zlib refused: the caller keeps the JSON as it is). */
static char *blob_pack(const char *json, size_t len, int dict)
{
	if (len > 0xffffffffu)
		return NULL;
	if (!deflater_ok) {
		if (deflateInit2(&deflater, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return NULL;
		deflater_ok = true;
	}
	if (deflateReset(&deflater) != Z_OK ||
	    deflateSetDictionary(&deflater, (const Bytef *)DICTS[dict].bytes,
				 (uInt)DICTS[dict].len) != Z_OK)
		return NULL;
	size_t cap = 8 + deflateBound(&deflater, (uLong)len);
	unsigned char *raw = malloc(cap);
	if (!raw)
		return NULL;
	uLong sum = adler32(adler32(0, NULL, 0), (const Bytef *)json, (uInt)len);
	for (int i = 0; i < 4; i++) {
		raw[i] = (unsigned char)(len >> (8 * i));
		raw[4 + i] = (unsigned char)(sum >> (8 * i));
	}
	deflater.next_in = (Bytef *)json;
	deflater.avail_in = (uInt)len;
	deflater.next_out = raw + 8;
	deflater.avail_out = (uInt)(cap - 8);
	if (deflate(&deflater, Z_FINISH) != Z_STREAM_END) {
		free(raw);
		return NULL;
	}
	size_t n = cap - deflater.avail_out;
	size_t stuffed = 0;
	for (size_t i = 0; i < n; i++)
		stuffed += raw[i] <= 1 ? 2 : 1;
	char *out = malloc(2 + stuffed + 1);
	if (out) {
		char *o = out;
		*o++ = BLOB_MAGIC;
		*o++ = (char)('0' + dict);
		for (size_t i = 0; i < n; i++) {
			if (raw[i] <= 1) {
				*o++ = '\x01';
				*o++ = (char)(raw[i] + 1);
			} else {
				*o++ = (char)raw[i];
			}
		}
		*o = '\0';
	}
	free(raw);
	return out;
}

/* The JSON of a blob string, parsed; NULL when it does not unpack. */
static cJSON *blob_unpack(const char *blob)
{
	int dict = blob[1] - '0';
	if (dict != DICT_SPEC && dict != DICT_STATUS)
		return NULL;
	const unsigned char *in = (const unsigned char *)blob + 2;
	size_t n = strlen((const char *)in);
	unsigned char *raw = malloc(n ? n : 1);
	if (!raw)
		return NULL;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == 1) {
			if (i + 1 == n || (in[i + 1] != 1 && in[i + 1] != 2))
				goto bad;
			raw[m++] = (unsigned char)(in[++i] - 1);
		} else {
			raw[m++] = in[i];
		}
	}
	if (m < 8)
		goto bad;
	size_t len = 0;
	uLong sum = 0;
	for (int i = 0; i < 4; i++) {
		len |= (size_t)raw[i] << (8 * i);
		sum |= (uLong)raw[4 + i] << (8 * i);
	}
	if (!inflater_ok) {
		if (inflateInit2(&inflater, -15) != Z_OK)
			goto bad;
		inflater_ok = true;
	}
	char *json = malloc(len + 1);
	if (!json)
		goto bad;
	if (inflateReset(&inflater) != Z_OK ||
	    inflateSetDictionary(&inflater, (const Bytef *)DICTS[dict].bytes,
				 (uInt)DICTS[dict].len) != Z_OK)
		goto bad_json;
	inflater.next_in = raw + 8;
	inflater.avail_in = (uInt)(m - 8);
	inflater.next_out = (Bytef *)json;
	inflater.avail_out = (uInt)len;
	if (inflate(&inflater, Z_FINISH) != Z_STREAM_END || inflater.avail_out != 0 ||
	    adler32(adler32(0, NULL, 0), (const Bytef *)json, (uInt)len) != sum)
		goto bad_json;
	free(raw);
	cJSON *tree = cJSON_ParseWithLength(json, len);
	free(json);
	return tree;
bad_json:
	free(json);
bad:
	free(raw);
	return NULL;
}

/* The object `it` as one string node, its JSON packed with dictionary
 * `dict` (as plain JSON if packing fails); NULL when out of memory. */
static cJSON *make_blob(const cJSON *it, int dict)
{
	char *json = cJSON_PrintUnformatted(it);
	char *packed = json ? blob_pack(json, strlen(json), dict) : NULL;
	cJSON *blob = packed ? cJSON_CreateString("") : json ? cJSON_CreateString(json) : NULL;
	if (blob && packed) {
		/* Set, not copied: the packed bytes are already a C string. */
		free(blob->valuestring);
		blob->valuestring = packed;
		packed = NULL;
	}
	free(packed);
	free(json);
	return blob;
}

cJSON *project_status_blob(const cJSON *status)
{
	return cJSON_IsObject(status) ? make_blob(status, DICT_STATUS) : NULL;
}

/* Replaces the object member `name` (a literal) by its blob. */
static void to_blob(cJSON *obj, const char *name, int dict)
{
	cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!cJSON_IsObject(it))
		return; /* absent, or not an object: the parser says what is wrong */
	cJSON *blob = make_blob(it, dict);
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
	to_blob(sched, "spec", DICT_SPEC);
	to_blob(sched, "status", DICT_STATUS);
}

const cJSON *project_unblob(const cJSON *v, cJSON **owned)
{
	*owned = NULL;
	if (!cJSON_IsString(v))
		return v;
	const char *str = cJSON_GetStringValue(v);
	*owned = str[0] == BLOB_MAGIC ? blob_unpack(str) : cJSON_Parse(str);
	return *owned;
}
