/* Unit tests for pkg/controller/project: a Job and a Pod as the apiserver
 * returned them (tests/unit/fixtures/kube/{job,pod}-full.json, read off the
 * test control plane) keep exactly what the controller reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "controller/project.h"

#define FIX "tests/unit/fixtures/kube"

static cJSON *load(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char text[1 << 16];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	cJSON *o = cJSON_Parse(text);
	assert_non_null(o);
	/* The reflector drops managedFields before any transform. */
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "metadata"),
						"managedFields");
	return o;
}

static size_t printed_len(const cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);
	size_t n = strlen(s);
	free(s);
	return n;
}

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void assert_members(const cJSON *o, const char *const *want, size_t n)
{
	size_t have = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, o) have++;
	assert_int_equal(have, n);
	for (size_t i = 0; i < n; i++)
		assert_non_null(get(o, want[i]));
}

/* The metadata fields the controller reads are kept with their values, and
 * of labels and annotations exactly the takt.io/ ones. */
static void assert_meta(const cJSON *md, const cJSON *orig)
{
	static const char *const kept[] = {"name",
					   "namespace",
					   "uid",
					   "resourceVersion",
					   "creationTimestamp",
					   "deletionTimestamp",
					   "ownerReferences"};
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		if (!get(orig, kept[i])) { /* deletionTimestamp on the Job */
			assert_null(get(md, kept[i]));
			continue;
		}
		assert_true(cJSON_Compare(get(md, kept[i]), get(orig, kept[i]), 1));
	}
	assert_null(get(md, "generation"));
	assert_null(get(md, "generateName"));
	const char *maps[] = {"labels", "annotations"};
	for (int m = 0; m < 2; m++) {
		const cJSON *it;
		size_t want = 0, have = 0;
		cJSON_ArrayForEach(it, get(orig, maps[m]))
		{
			if (strncmp(it->string, "takt.io/", 8))
				continue;
			want++;
			assert_string_equal(get(get(md, maps[m]), it->string)->valuestring,
					    it->valuestring);
		}
		cJSON_ArrayForEach(it, get(md, maps[m])) have++;
		assert_int_equal(have, want);
	}
	/* The fixtures do carry the fields the readers need. */
	assert_non_null(get(get(md, "labels"), "takt.io/schedule"));
	assert_non_null(get(md, "ownerReferences"));
}

static void test_project_job_keeps_what_is_read(void **state)
{
	cJSON *job = load(FIX "/job-full.json");
	cJSON *orig = cJSON_Duplicate(job, 1);
	/* The fixture is a finished takt Job: conditions with messages,
	 * counters, a pod template. */
	assert_non_null(get(job, "spec"));
	assert_non_null(get(get(job, "status"), "uncountedTerminatedPods"));
	project_job(job);

	static const char *const top[] = {"apiVersion", "kind", "metadata", "status"};
	assert_members(job, top, 4);
	assert_meta(get(job, "metadata"), get(orig, "metadata"));
	const cJSON *st = get(job, "status"), *ost = get(orig, "status");
	static const char *const status[] = {"conditions", "completionTime", "startTime",
					     "succeeded"};
	assert_members(st, status, 4);
	assert_string_equal(get(st, "completionTime")->valuestring,
			    get(ost, "completionTime")->valuestring);
	assert_int_equal(cJSON_GetArraySize(get(st, "conditions")),
			 cJSON_GetArraySize(get(ost, "conditions")));
	for (int i = 0; i < cJSON_GetArraySize(get(st, "conditions")); i++) {
		const cJSON *c = cJSON_GetArrayItem(get(st, "conditions"), i);
		const cJSON *oc = cJSON_GetArrayItem(get(ost, "conditions"), i);
		static const char *const cond[] = {"type", "status", "lastTransitionTime"};
		assert_members(c, cond, 3);
		for (size_t k = 0; k < 3; k++)
			assert_string_equal(get(c, cond[k])->valuestring,
					    get(oc, cond[k])->valuestring);
	}
	/* The point of it: a small fraction of the object is kept. */
	size_t before = printed_len(orig), after = printed_len(job);
	assert_true(after * 2 < before);
	cJSON_Delete(orig);
	cJSON_Delete(job);
}

static void test_project_pod_keeps_metadata_and_phase(void **state)
{
	cJSON *pod = load(FIX "/pod-full.json");
	/* A pod being deleted: the timestamp must survive (it still counts). */
	cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(pod, "metadata"),
				"deletionTimestamp", "2026-11-22T10:00:00Z");
	cJSON *orig = cJSON_Duplicate(pod, 1);
	assert_non_null(get(get(pod, "status"), "containerStatuses"));
	project_pod(pod);

	static const char *const top[] = {"apiVersion", "kind", "metadata", "status"};
	assert_members(pod, top, 4);
	assert_meta(get(pod, "metadata"), get(orig, "metadata"));
	/* The Job controller's labels and KWOK's annotations are gone. */
	assert_null(get(get(get(pod, "metadata"), "labels"), "job-name"));
	assert_null(get(get(get(orig, "metadata"), "annotations"), "takt.io/none"));
	assert_null(get(get(get(pod, "metadata"), "annotations"), "test.takt.io/run-for"));
	static const char *const status[] = {"phase"};
	assert_members(get(pod, "status"), status, 1);
	assert_string_equal(get(get(pod, "status"), "phase")->valuestring,
			    get(get(orig, "status"), "phase")->valuestring);
	size_t before = printed_len(orig), after = printed_len(pod);
	assert_true(after * 3 < before);
	cJSON_Delete(orig);
	cJSON_Delete(pod);
}

/* Objects without status, odd shapes, NULL: left alone, no crash. */
static void test_project_odd_shapes(void **state)
{
	project_job(NULL);
	project_pod(NULL);
	cJSON *a = cJSON_Parse("[1,2]");
	project_job(a);
	assert_int_equal(cJSON_GetArraySize(a), 2);
	cJSON_Delete(a);
	cJSON *j = cJSON_Parse("{\"metadata\":{\"name\":\"x\"},\"spec\":{},\"status\":"
			       "{\"conditions\":[1,{\"type\":\"Complete\",\"message\":\"m\"}]}}");
	project_job(j);
	assert_null(get(j, "spec"));
	const cJSON *c = cJSON_GetArrayItem(get(get(j, "status"), "conditions"), 1);
	assert_non_null(get(c, "type"));
	assert_null(get(c, "message"));
	cJSON_Delete(j);
	cJSON *p = cJSON_Parse("{\"metadata\":{\"name\":\"x\"},\"status\":\"weird\"}");
	project_pod(p);
	assert_string_equal(get(p, "status")->valuestring, "weird");
	cJSON_Delete(p);
}

/* A BatchSchedule keeps its identity, takt's annotations, and spec and
 * status as one string each, which project_unblob gives back as trees
 * equal to what was sent. */
static void test_project_schedule_blobs(void **state)
{
	(void)state;
	const char *text =
	    "{\"apiVersion\":\"takt.io/v1alpha1\",\"kind\":\"BatchSchedule\","
	    "\"metadata\":{\"name\":\"s\",\"namespace\":\"ns\",\"uid\":\"u1\","
	    "\"resourceVersion\":\"7\",\"generation\":3,\"creationTimestamp\":\"2026-01-01T00:00:"
	    "00Z\","
	    "\"labels\":{\"app\":\"x\",\"takt.io/l\":\"1\"},"
	    "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{...}\","
	    "\"takt.io/run-now\":\"r1\"}},"
	    "\"spec\":{\"schedule\":\"0 0 0 1 1 *\",\"jobTemplate\":{\"spec\":{\"template\":{}}}},"
	    "\"status\":{\"observedGeneration\":3,\"conditions\":[{\"type\":\"Ready\"}]}}";
	cJSON *o = cJSON_Parse(text);
	cJSON *orig = cJSON_Duplicate(o, 1);
	project_schedule(o);
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "apiVersion"));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(md, "uid")),
			    "u1");
	assert_int_equal(
	    (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(md, "generation")), 3);
	const cJSON *anns = cJSON_GetObjectItemCaseSensitive(md, "annotations");
	assert_int_equal(cJSON_GetArraySize(anns), 1);
	assert_non_null(cJSON_GetObjectItemCaseSensitive(anns, "takt.io/run-now"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(md, "labels")), 1);
	/* Nothing reads a schedule's creationTimestamp. */
	assert_null(cJSON_GetObjectItemCaseSensitive(md, "creationTimestamp"));
	/* Every key kept is the projection's literal, not a copy: a duplicate
	 * copies it, a delete leaves it (valgrind checks both). */
	for (const cJSON *it = md->child; it; it = it->next)
		assert_true(it->type & cJSON_StringIsConst);
	for (const cJSON *it = o->child; it; it = it->next)
		assert_true(it->type & cJSON_StringIsConst);
	cJSON *dup = cJSON_Duplicate(o, 1);
	assert_true(cJSON_Compare(dup, o, 1));
	cJSON_Delete(dup);
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "status" : "spec";
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
		assert_true(cJSON_IsString(v));
		cJSON *owned;
		const cJSON *t = project_unblob(v, &owned);
		assert_non_null(owned);
		assert_true(t == owned);
		assert_true(cJSON_Compare(t, cJSON_GetObjectItemCaseSensitive(orig, name), 1));
		cJSON_Delete(owned);
	}
	/* A tree (an object never projected) is given back as is. */
	cJSON *owned;
	const cJSON *sp = cJSON_GetObjectItemCaseSensitive(orig, "spec");
	assert_true(project_unblob(sp, &owned) == sp);
	assert_null(owned);
	assert_null(project_unblob(NULL, &owned));
	cJSON_Delete(o);
	cJSON_Delete(orig);
	/* Labels and annotations with nothing of takt's are dropped whole. */
	o = cJSON_Parse("{\"metadata\":{\"name\":\"s\",\"labels\":{\"app\":\"x\"},"
			"\"annotations\":{}},\"spec\":{}}");
	project_schedule(o);
	md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
	assert_null(cJSON_GetObjectItemCaseSensitive(md, "labels"));
	assert_null(cJSON_GetObjectItemCaseSensitive(md, "annotations"));
	assert_non_null(cJSON_GetObjectItemCaseSensitive(md, "name"));
	cJSON_Delete(o);
}

/* Packed blobs give back exactly what was packed, whatever bytes the
 * compressor produced (0x00 and 0x01 are stuffed), for specs and statuses
 * of every size; a damaged blob reads as NULL, never as something else. */
static void test_project_schedule_blob_round_trip(void **state)
{
	(void)state;
	unsigned seed = 7;
	int saw_stuffed = 0;
	for (int n = 0; n < 300; n++) {
		cJSON *o = cJSON_CreateObject();
		cJSON *md = cJSON_AddObjectToObject(o, "metadata");
		cJSON_AddStringToObject(md, "name", "s");
		cJSON *sp = cJSON_AddObjectToObject(o, "spec");
		cJSON *st = cJSON_AddObjectToObject(o, "status");
		cJSON_AddStringToObject(sp, "schedule", "0 0 0 * * *");
		char text[64];
		for (int i = 0; i < n % 40; i++) {
			/* Random text does not compress: every byte value comes. */
			for (size_t k = 0; k < sizeof(text) - 1; k++) {
				seed = seed * 1103515245u + 12345u;
				text[k] = (char)(32 + (seed >> 16) % 95);
			}
			text[sizeof(text) - 1] = '\0';
			cJSON_AddStringToObject(i % 2 ? sp : st, text, text + n % 50);
		}
		cJSON_AddNumberToObject(st, "observedGeneration", n);
		cJSON *orig = cJSON_Duplicate(o, 1);
		project_schedule(o);
		for (int i = 0; i < 2; i++) {
			const char *name = i ? "status" : "spec";
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
			assert_true(cJSON_IsString(v));
			if (strchr(v->valuestring, 1))
				saw_stuffed++;
			cJSON *owned;
			const cJSON *t = project_unblob(v, &owned);
			assert_non_null(t);
			assert_true(
			    cJSON_Compare(t, cJSON_GetObjectItemCaseSensitive(orig, name), 1));
			cJSON_Delete(owned);
			/* Damaged: cut short, a stuffing byte alone, another
			 * dictionary. */
			char *bad = strdup(v->valuestring);
			size_t len = strlen(bad);
			cJSON *b = cJSON_CreateString("");
			free(b->valuestring);
			b->valuestring = bad;
			bad[len / 2] = '\0';
			assert_null(project_unblob(b, &owned));
			assert_null(owned);
			bad[2] = '\x01';
			bad[3] = '\x05';
			assert_null(project_unblob(b, &owned));
			strcpy(bad, v->valuestring);
			bad[1] = (char)(bad[1] == '0' ? '1' : '0');
			assert_null(project_unblob(b, &owned));
			bad[1] = '9';
			assert_null(project_unblob(b, &owned));
			cJSON_Delete(b);
		}
		cJSON_Delete(o);
		cJSON_Delete(orig);
	}
	/* The test covered the stuffing: some blobs held a 0x00 or 0x01. */
	assert_true(saw_stuffed > 10);
}

/* The bench's spec and status (docs/testing.md, "Scale"), packed: the
 * dictionaries make them a fraction of their JSON. */
static void test_project_schedule_blob_size(void **state)
{
	(void)state;
	const char *text =
	    "{\"metadata\":{\"name\":\"s-5\"},\"spec\":{\"concurrencyPolicy\":\"Forbid\","
	    "\"failedJobsHistoryLimit\":1,\"jobTemplate\":{\"spec\":{\"activeDeadlineSeconds\":"
	    "3600,\"backoffLimit\":2,\"template\":{\"metadata\":{\"labels\":{\"app\":"
	    "\"settlement\",\"team\":\"payments\"}},\"spec\":{\"containers\":[{\"args\":["
	    "\"--date\",\"$(TAKT_BUSINESS_DATE)\",\"--mode\",\"batch\"],\"env\":[{\"name\":"
	    "\"DB_HOST\",\"value\":\"db.payments.svc.cluster.local\"},{\"name\":\"BATCH_SIZE\","
	    "\"value\":\"500\"},{\"name\":\"LOG_LEVEL\",\"value\":\"info\"}],\"image\":"
	    "\"registry.example.com/bank/settlement:1.42.0\",\"name\":\"job\",\"resources\":{"
	    "\"limits\":{\"cpu\":\"1\",\"memory\":\"512Mi\"},\"requests\":{\"cpu\":\"100m\","
	    "\"memory\":\"128Mi\"}}}],\"restartPolicy\":\"Never\"}}}},\"missedSlotPolicy\":"
	    "\"RunLatest\",\"runHistoryLimit\":20,\"schedule\":\"0 35 16 * * 1-5\","
	    "\"startingDeadlineSeconds\":300,\"successfulJobsHistoryLimit\":3,\"suspend\":"
	    "false,\"timeZone\":\"Asia/Seoul\"},\"status\":{\"active\":[],\"activeCount\":0,"
	    "\"conditions\":[{\"lastTransitionTime\":\"2026-12-04T23:22:32.359Z\",\"message\":"
	    "\"no calendar: every day counts\",\"observedGeneration\":1,\"reason\":"
	    "\"NoCalendar\",\"status\":\"True\",\"type\":\"CalendarReady\"},{"
	    "\"lastTransitionTime\":\"2026-12-04T23:22:32.359Z\",\"message\":\"schedule "
	    "\\\"0 35 16 * * 1-5\\\" in Asia/Seoul\",\"observedGeneration\":1,\"reason\":"
	    "\"Valid\",\"status\":\"True\",\"type\":\"Ready\"},{\"lastTransitionTime\":"
	    "\"2026-12-04T23:22:32.359Z\",\"message\":\"slots run as scheduled\","
	    "\"observedGeneration\":1,\"reason\":\"Active\",\"status\":\"False\",\"type\":"
	    "\"Suspended\"}],\"killed\":0,\"lastSlotClaimed\":\"2026-12-07T07:35:00.000Z\","
	    "\"lastSlotConsidered\":\"2026-12-04T23:22:32.359Z\",\"missed\":0,"
	    "\"nextScheduleTime\":\"2026-12-07T07:35:00.000Z\",\"observedGeneration\":1,"
	    "\"recentRuns\":[],\"runsFailed\":0,\"runsStarted\":0,\"runsSucceeded\":0,"
	    "\"skippedCalendar\":0,\"skippedOverlap\":0,\"timeZone\":\"Asia/Seoul\"}}";
	cJSON *o = cJSON_Parse(text);
	assert_non_null(o);
	char *printed = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, "spec"));
	size_t json_spec = strlen(printed);
	free(printed);
	project_schedule(o);
	size_t spec = strlen(cJSON_GetObjectItemCaseSensitive(o, "spec")->valuestring);
	size_t status = strlen(cJSON_GetObjectItemCaseSensitive(o, "status")->valuestring);
	print_message("spec %zu -> %zu bytes, status -> %zu bytes\n", json_spec, spec, status);
	assert_true(spec < 400);
	assert_true(status < 150);
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_project_job_keeps_what_is_read),
	    cmocka_unit_test(test_project_pod_keeps_metadata_and_phase),
	    cmocka_unit_test(test_project_odd_shapes),
	    cmocka_unit_test(test_project_schedule_blobs),
	    cmocka_unit_test(test_project_schedule_blob_round_trip),
	    cmocka_unit_test(test_project_schedule_blob_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
