/* Unit tests for pkg/controller/spec: parsing a BatchSchedule, the exact
 * messages users see in the Ready condition, the Job built for a slot, and
 * the status round trip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "controller/spec.h"
#include "cron/cron.h"
#include "tz/civil.h"
#include "tz/tz.h"

static cJSON *parse_json(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	if (!j)
		fail_msg("bad JSON in test: %s", text);
	return j;
}

/* An object from a spec fragment (the inside of "spec": {...}). */
static cJSON *object_with_spec(const char *name, const char *spec_fields)
{
	char text[8192];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"takt.io/v1alpha1\",\"kind\":\"BatchSchedule\","
		 "\"metadata\":{\"name\":\"%s\",\"namespace\":\"trading\",\"uid\":\"u-1\","
		 "\"generation\":4,\"annotations\":{\"takt.io/kill\":\"k1\","
		 "\"takt.io/run-now\":\"r1\",\"takt.io/kill-grace-seconds\":\"0\"}},"
		 "\"spec\":{%s}}",
		 name, spec_fields);
	return parse_json(text);
}

#define JOBTPL                                                                                     \
	"\"jobTemplate\":{\"metadata\":{\"labels\":{\"team\":\"q\"},\"annotations\":{\"a\":\"b\"}" \
	"},"                                                                                       \
	"\"spec\":{\"backoffLimit\":0,\"template\":{\"spec\":{\"restartPolicy\":\"Never\","        \
	"\"initContainers\":[{\"name\":\"init\",\"image\":\"busybox\"}],"                          \
	"\"containers\":[{\"name\":\"main\",\"image\":\"busybox\",\"env\":["                       \
	"{\"name\":\"KEEP\",\"value\":\"1\"},{\"name\":\"TAKT_RUN_ID\",\"value\":\"spoof\"}]},"    \
	"{\"name\":\"side\",\"image\":\"busybox\"}]}}}}"

static void test_parse_full(void **state)
{
	cJSON *o = object_with_spec(
	    "publish-quotes",
	    "\"schedule\":\"*/5 * 9-15 * * MON-FRI\",\"timeZone\":\"Asia/Seoul\","
	    "\"calendar\":{\"name\":\"krx\",\"days\":\"BusinessDays\",\"businessDayOfMonth\":[1,-1]"
	    ","
	    "\"onNonBusinessDay\":\"NextBusinessDay\"},\"concurrencyPolicy\":\"Replace\","
	    "\"startingDeadlineSeconds\":5,\"missedRunPolicy\":\"None\",\"suspend\":true,"
	    "\"successfulJobsHistoryLimit\":7,\"failedJobsHistoryLimit\":0," JOBTPL);
	struct spec s;
	char err[256];
	assert_int_equal(spec_parse(o, &s, err, sizeof(err)), 0);
	assert_string_equal(s.name, "publish-quotes");
	assert_string_equal(s.namespace, "trading");
	assert_string_equal(s.uid, "u-1");
	assert_int_equal(s.generation, 4);
	assert_string_equal(s.schedule, "*/5 * 9-15 * * MON-FRI");
	assert_non_null(s.cron);
	assert_string_equal(s.time_zone, "Asia/Seoul");
	assert_string_equal(tz_name(spec_zone(&s, NULL)), "Asia/Seoul");
	assert_true(s.has_calendar);
	assert_string_equal(s.calendar.name, "krx");
	assert_int_equal(s.calendar.rules.days, CALSCHED_BUSINESS_DAYS);
	assert_int_equal(s.calendar.rules.shift, CALSCHED_NEXT_BUSINESS_DAY);
	assert_int_equal(s.calendar.rules.nbdom, 2);
	assert_int_equal(s.calendar.rules.bdom[0], 1);
	assert_int_equal(s.calendar.rules.bdom[1], -1);
	assert_int_equal(s.concurrency, SPEC_CONCURRENCY_REPLACE);
	assert_int_equal(s.starting_deadline_seconds, 5);
	assert_int_equal(s.missed_policy, SPEC_MISSED_NONE);
	assert_true(s.suspend);
	assert_int_equal(s.successful_history_limit, 7);
	assert_int_equal(s.failed_history_limit, 0);
	assert_non_null(s.job_template);
	assert_string_equal(s.ann_kill, "k1");
	assert_string_equal(s.ann_run_now, "r1");
	assert_string_equal(s.ann_kill_grace_seconds, "0");
	spec_release(&s);
	assert_null(s.name);
	cJSON_Delete(o);
}

/* Specs of equal schedule text share one parsed expression (and the text,
 * zone and namespace): it outlives any one of them, and goes with the last
 * (valgrind would show a leak or a use after free). */
static void test_parse_shares_schedule(void **state)
{
	(void)state;
	cJSON *o1 = object_with_spec(
	    "a", "\"schedule\":\"0 30 6 * * 1-5\",\"timeZone\":\"Asia/Seoul\"," JOBTPL);
	cJSON *o2 = object_with_spec(
	    "b", "\"schedule\":\"0 30 6 * * 1-5\",\"timeZone\":\"Asia/Seoul\"," JOBTPL);
	cJSON *o3 = object_with_spec("c", "\"schedule\":\"0 31 6 * * 1-5\"," JOBTPL);
	struct spec s1, s2, s3;
	char err[256];
	assert_int_equal(spec_parse(o1, &s1, err, sizeof(err)), 0);
	assert_int_equal(spec_parse(o2, &s2, err, sizeof(err)), 0);
	assert_int_equal(spec_parse(o3, &s3, err, sizeof(err)), 0);
	assert_ptr_equal(s1.cron, s2.cron);
	assert_ptr_equal(s1.schedule, s2.schedule);
	assert_ptr_equal(s1.time_zone, s2.time_zone);
	assert_ptr_equal(s1.namespace, s3.namespace);
	assert_ptr_not_equal(s1.cron, s3.cron);
	spec_release(&s1);
	/* 2026-12-07 is a Monday: 06:30 in Seoul is 21:30 UTC the day before. */
	int64_t next = 0;
	assert_int_equal(cron_next(s2.cron, s2.zone, 1796428800 /* 2026-12-05T00:00Z */, &next), 0);
	assert_int_equal(next, 1796592600);
	assert_string_equal(s2.schedule, "0 30 6 * * 1-5");
	spec_release(&s2);
	spec_release(&s3);
	cJSON_Delete(o1);
	cJSON_Delete(o2);
	cJSON_Delete(o3);
}

static void test_parse_defaults(void **state)
{
	cJSON *o = object_with_spec("d", "\"schedule\":\"@every 1s\"," JOBTPL);
	struct spec s;
	char err[256];
	assert_int_equal(spec_parse(o, &s, err, sizeof(err)), 0);
	assert_null(s.time_zone);
	assert_string_equal(tz_name(spec_zone(&s, NULL)), "UTC");
	assert_false(s.has_calendar);
	assert_int_equal(s.concurrency, SPEC_CONCURRENCY_FORBID);
	assert_int_equal(s.starting_deadline_seconds, -1);
	assert_int_equal(s.missed_policy, SPEC_MISSED_LATEST);
	assert_false(s.suspend);
	assert_int_equal(s.successful_history_limit, 3);
	assert_int_equal(s.failed_history_limit, 1);
	spec_release(&s);
	cJSON_Delete(o);
}

/* Without spec.timeZone and with a calendar the zone is the calendar's:
 * unknown until the calendar is. */
static void test_zone_follows_calendar(void **state)
{
	cJSON *o = object_with_spec(
	    "c", "\"schedule\":\"0 9 * * *\",\"calendar\":{\"name\":\"krx\"}," JOBTPL);
	struct spec s;
	struct tz *seoul;
	char err[256];
	assert_int_equal(spec_parse(o, &s, err, sizeof(err)), 0);
	assert_null(spec_zone(&s, NULL));
	assert_int_equal(tz_load("Asia/Seoul", &seoul, err, sizeof(err)), 0);
	assert_ptr_equal(spec_zone(&s, seoul), seoul);
	assert_int_equal(s.calendar.rules.days, CALSCHED_BUSINESS_DAYS);
	assert_int_equal(s.calendar.rules.shift, CALSCHED_SKIP);
	tz_free(seoul);
	spec_release(&s);
	cJSON_Delete(o);
}

struct bad_case {
	const char *name;
	const char *spec;
	const char *message;
};

#define LONG53 "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghi"

static const struct bad_case bad_cases[] = {
    {"x", "\"schedule\":\"60 * * * *\"," JOBTPL, "spec.schedule: minute: 60 is out of range 0-59"},
    {"x", "\"schedule\":\"* * * *\"," JOBTPL, "spec.schedule: expected 5 or 6 fields, got 4"},
    {"x", JOBTPL, "spec.schedule: missing"},
    {"x", "\"schedule\":5," JOBTPL, "spec.schedule: must be a string"},
    {"x", "\"schedule\":\"* * * * *\",\"timeZone\":\"Mars/Base\"," JOBTPL,
     "spec.timeZone: unknown time zone \"Mars/Base\""},
    {"x", "\"schedule\":\"* * * * *\",\"concurrencyPolicy\":\"Sometimes\"," JOBTPL,
     "spec.concurrencyPolicy: \"Sometimes\" is not one of Forbid, Allow, Replace"},
    {"x", "\"schedule\":\"* * * * *\",\"missedRunPolicy\":\"All\"," JOBTPL,
     "spec.missedRunPolicy: \"All\" is not one of Latest, None"},
    {"x", "\"schedule\":\"* * * * *\",\"startingDeadlineSeconds\":-1," JOBTPL,
     "spec.startingDeadlineSeconds: -1 must be >= 0"},
    {"x", "\"schedule\":\"* * * * *\",\"startingDeadlineSeconds\":1.5," JOBTPL,
     "spec.startingDeadlineSeconds: must be an integer"},
    {"x", "\"schedule\":\"* * * * *\",\"successfulJobsHistoryLimit\":-3," JOBTPL,
     "spec.successfulJobsHistoryLimit: -3 must be >= 0"},
    {"x", "\"schedule\":\"* * * * *\",\"failedJobsHistoryLimit\":\"1\"," JOBTPL,
     "spec.failedJobsHistoryLimit: must be an integer"},
    {"x", "\"schedule\":\"* * * * *\",\"suspend\":\"yes\"," JOBTPL,
     "spec.suspend: must be true or false"},
    {"x", "\"schedule\":\"* * * * *\"", "spec.jobTemplate: missing"},
    {"x", "\"schedule\":\"* * * * *\",\"jobTemplate\":{}", "spec.jobTemplate.spec: missing"},
    {"x", "\"schedule\":\"* * * * *\",\"calendar\":{\"days\":\"BusinessDays\"}," JOBTPL,
     "spec.calendar.name: missing"},
    {LONG53, "\"schedule\":\"* * * * *\"," JOBTPL,
     "metadata.name: \"" LONG53 "\" is too long: Job names \"<name>-<unix-seconds>\" must fit "
     "63 characters"},
};

static void test_parse_errors_exact(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		cJSON *o = object_with_spec(bad_cases[i].name, bad_cases[i].spec);
		struct spec s;
		char err[256];
		int rc = spec_parse(o, &s, err, sizeof(err));
		if (rc != -EINVAL || strcmp(err, bad_cases[i].message) != 0)
			fail_msg("case %zu: rc %d, message \"%s\", want \"%s\"", i, rc, err,
				 bad_cases[i].message);
		/* Identity survives an invalid spec: the Ready condition needs it. */
		assert_string_equal(s.name, bad_cases[i].name);
		assert_string_equal(s.uid, "u-1");
		assert_int_equal(s.generation, 4);
		spec_release(&s);
		cJSON_Delete(o);
	}
}

/* The calendar rule messages come from the calendar module, prefixed with
 * the path from spec. */
static void test_parse_calendar_errors_name_the_field(void **state)
{
	const char *specs[] = {
	    "\"schedule\":\"* * * * "
	    "*\",\"calendar\":{\"name\":\"k\",\"onNonBusinessDay\":\"Later\"},",
	    "\"schedule\":\"* * * * *\",\"calendar\":{\"name\":\"k\",\"days\":\"Weekdays\"},",
	    "\"schedule\":\"* * * * *\",\"calendar\":{\"name\":\"k\",\"days\":\"NonBusinessDays\","
	    "\"onNonBusinessDay\":\"NextBusinessDay\"},",
	    "\"schedule\":\"* * * * *\",\"calendar\":{\"name\":\"k\",\"businessDayOfMonth\":[0]},",
	};
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		char text[4096];
		snprintf(text, sizeof(text), "%s%s", specs[i], JOBTPL);
		cJSON *o = object_with_spec("x", text);
		struct spec s;
		char err[256];
		assert_int_equal(spec_parse(o, &s, err, sizeof(err)), -EINVAL);
		if (strncmp(err, "spec.calendar", 13) != 0)
			fail_msg("case %zu: \"%s\" does not name spec.calendar", i, err);
		spec_release(&s);
		cJSON_Delete(o);
	}
}

static void test_parse_not_an_object(void **state)
{
	struct spec s;
	char err[256];
	cJSON *arr = parse_json("[1,2]");
	assert_int_equal(spec_parse(arr, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "object: not a JSON object");
	spec_release(&s);
	cJSON_Delete(arr);
	cJSON *nomd = parse_json("{\"spec\":{}}");
	assert_int_equal(spec_parse(nomd, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "metadata: missing");
	spec_release(&s);
	cJSON_Delete(nomd);
	cJSON *noname = parse_json("{\"metadata\":{\"namespace\":\"n\"}}");
	assert_int_equal(spec_parse(noname, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "metadata.name: missing");
	spec_release(&s);
	cJSON_Delete(noname);
}

static void test_job_name(void **state)
{
	char out[SPEC_JOB_NAME_MAX + 1];
	assert_int_equal(spec_job_name("a", INT64_C(1772953200000), out, sizeof(out)), 0);
	assert_string_equal(out, "a-1772953200");
	/* 52 characters fit exactly 63; 53 do not. */
	const char *n52 = LONG53 + 1;
	assert_int_equal(strlen(n52), 52);
	assert_int_equal(spec_job_name(n52, INT64_C(1772953200000), out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 63);
	assert_int_equal(spec_job_name(LONG53, INT64_C(1772953200000), out, sizeof(out)), -ERANGE);
	assert_int_equal(spec_job_name("a", -1000, out, sizeof(out)), -ERANGE);
}

/* A run-now's name: from the request id alone, 11 characters after the
 * schedule's name (so 52-character names fit 63, as for slots), never a
 * slot's "<name>-<10 digits>" form, different for different ids. */
static void test_request_job_name(void **state)
{
	char out[SPEC_JOB_NAME_MAX + 1], again[SPEC_JOB_NAME_MAX + 1];
	assert_int_equal(spec_request_job_name("a", "run-1", out, sizeof(out)), 0);
	assert_int_equal(spec_request_job_name("a", "run-1", again, sizeof(again)), 0);
	assert_string_equal(out, again);
	assert_int_equal(strlen(out), strlen("a-r-") + 8);
	assert_int_equal(strncmp(out, "a-r-", 4), 0);
	for (const char *c = out + 4; *c; c++)
		assert_non_null(strchr("0123456789abcdefghijklmnopqrstuv", *c));
	assert_int_equal(spec_request_job_name("a", "run-2", again, sizeof(again)), 0);
	assert_string_not_equal(out, again);
	/* Ids that differ in one character, or in order, differ. */
	assert_int_equal(spec_request_job_name("a", "1-nur", again, sizeof(again)), 0);
	assert_string_not_equal(out, again);
	const char *n52 = LONG53 + 1;
	assert_int_equal(spec_request_job_name(n52, "run-1", out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 63);
	assert_int_equal(spec_request_job_name(LONG53, "run-1", out, sizeof(out)), -ERANGE);
	assert_int_equal(spec_request_job_name("a", "", out, sizeof(out)), -EINVAL);
	assert_int_equal(spec_request_job_name("a", NULL, out, sizeof(out)), -EINVAL);
	assert_int_equal(spec_request_job_name("a", "run-1", out, 8), -ERANGE);
}

static const cJSON *path(const cJSON *j, const char *a, const char *b, const char *c)
{
	j = cJSON_GetObjectItemCaseSensitive(j, a);
	if (b)
		j = cJSON_GetObjectItemCaseSensitive(j, b);
	if (c)
		j = cJSON_GetObjectItemCaseSensitive(j, c);
	return j;
}

static const char *str_at(const cJSON *j, const char *a, const char *b, const char *c)
{
	const cJSON *v = path(j, a, b, c);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *env_of(const cJSON *container, const char *name, int *index)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(container, "env");
	const cJSON *e;
	int i = 0, found = 0;
	const char *value = NULL;
	cJSON_ArrayForEach(e, env)
	{
		const char *n = str_at(e, "name", NULL, NULL);
		if (n && strcmp(n, name) == 0) {
			value = str_at(e, "value", NULL, NULL);
			found++;
			if (index)
				*index = i;
		}
		i++;
	}
	assert_true(found <= 1); /* replaced, never duplicated */
	return value;
}

static void test_build_job(void **state)
{
	/* 2026-03-08T15:30:00Z is 2026-03-09 00:30 in Seoul: the business
	 * date is the local one. */
	cJSON *o = object_with_spec(
	    "publish-quotes", "\"schedule\":\"0 30 0 * * *\",\"timeZone\":\"Asia/Seoul\"," JOBTPL);
	struct spec s;
	char err[256];
	cJSON *job;
	int64_t slot;
	assert_int_equal(rfc3339_parse("2026-03-08T15:30:00Z", &slot), 0);
	assert_int_equal(spec_parse(o, &s, err, sizeof(err)), 0);
	assert_int_equal(spec_build_job(&s, spec_zone(&s, NULL), slot, SPEC_TRIGGER_SCHEDULE, NULL,
					&job, err, sizeof(err)),
			 0);
	assert_string_equal(str_at(job, "apiVersion", NULL, NULL), "batch/v1");
	assert_string_equal(str_at(job, "kind", NULL, NULL), "Job");
	assert_string_equal(str_at(job, "metadata", "name", NULL), "publish-quotes-1772983800");
	assert_string_equal(str_at(job, "metadata", "namespace", NULL), "trading");
	const cJSON *md = path(job, "metadata", NULL, NULL);
	assert_string_equal(str_at(md, "labels", "takt.io/schedule", NULL), "publish-quotes");
	assert_string_equal(str_at(md, "labels", "team", NULL), "q");
	assert_string_equal(str_at(md, "annotations", "a", NULL), "b");
	assert_string_equal(str_at(md, "annotations", "takt.io/scheduled-time", NULL),
			    "2026-03-08T15:30:00.000Z");
	assert_string_equal(str_at(md, "annotations", "takt.io/trigger", NULL), "schedule");
	const cJSON *refs = path(md, "ownerReferences", NULL, NULL);
	assert_int_equal(cJSON_GetArraySize(refs), 1);
	const cJSON *ref = cJSON_GetArrayItem(refs, 0);
	assert_string_equal(str_at(ref, "apiVersion", NULL, NULL), "takt.io/v1alpha1");
	assert_string_equal(str_at(ref, "kind", NULL, NULL), "BatchSchedule");
	assert_string_equal(str_at(ref, "name", NULL, NULL), "publish-quotes");
	assert_string_equal(str_at(ref, "uid", NULL, NULL), "u-1");
	assert_true(cJSON_IsTrue(path(ref, "controller", NULL, NULL)));
	assert_true(cJSON_IsTrue(path(ref, "blockOwnerDeletion", NULL, NULL)));

	const cJSON *spec = path(job, "spec", NULL, NULL);
	assert_int_equal((int)path(spec, "backoffLimit", NULL, NULL)->valuedouble, 0);
	assert_string_equal(
	    str_at(path(spec, "template", "metadata", "labels"), "takt.io/schedule", NULL, NULL),
	    "publish-quotes");
	const cJSON *pod = path(spec, "template", "spec", NULL);
	const char *lists[] = {"initContainers", "containers"};
	int seen = 0;
	for (int l = 0; l < 2; l++) {
		const cJSON *c;
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(pod, lists[l]))
		{
			int idx = -1;
			assert_string_equal(env_of(c, "TAKT_SCHEDULE", NULL), "publish-quotes");
			assert_string_equal(env_of(c, "TAKT_SCHEDULED_TIME", NULL),
					    "2026-03-08T15:30:00Z");
			assert_string_equal(env_of(c, "TAKT_BUSINESS_DATE", NULL), "2026-03-09");
			assert_string_equal(env_of(c, "TAKT_RUN_ID", &idx),
					    "publish-quotes-1772983800");
			/* Ours first, so user entries may refer to them. */
			assert_true(idx < 4);
			seen++;
		}
	}
	assert_int_equal(seen, 3);
	const cJSON *main_c =
	    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(pod, "containers"), 0);
	int keep_idx = -1;
	assert_string_equal(env_of(main_c, "KEEP", &keep_idx), "1");
	assert_int_equal(keep_idx, 4);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(main_c, "env")), 5);
	/* The template in the spec is untouched (the body is built from a copy). */
	cJSON *tpl = cJSON_Parse(s.job_template);
	assert_non_null(tpl);
	assert_null(path(tpl, "spec", "template", "metadata"));
	cJSON_Delete(tpl);
	cJSON_Delete(job);

	/* run-now: named after the request it answers, with the trigger
	 * annotation and the request id; the request's second is its
	 * scheduled time; UTC without a zone. */
	assert_int_equal(
	    spec_build_job(&s, NULL, slot, SPEC_TRIGGER_RUN_NOW, "r-7", &job, err, sizeof(err)), 0);
	char rn[SPEC_JOB_NAME_MAX + 1];
	assert_int_equal(spec_request_job_name(s.name, "r-7", rn, sizeof(rn)), 0);
	assert_string_equal(str_at(job, "metadata", "name", NULL), rn);
	assert_string_equal(str_at(path(job, "metadata", NULL, NULL), "annotations",
				   "takt.io/scheduled-time", NULL),
			    "2026-03-08T15:30:00.000Z");
	assert_string_equal(
	    str_at(path(job, "metadata", NULL, NULL), "annotations", "takt.io/trigger", NULL),
	    "run-now");
	assert_string_equal(
	    str_at(path(job, "metadata", NULL, NULL), "annotations", "takt.io/request-id", NULL),
	    "r-7");
	const cJSON *c0 = cJSON_GetArrayItem(
	    cJSON_GetObjectItemCaseSensitive(path(job, "spec", "template", "spec"), "containers"),
	    0);
	assert_string_equal(env_of(c0, "TAKT_BUSINESS_DATE", NULL), "2026-03-08");
	assert_string_equal(env_of(c0, "TAKT_SCHEDULED_TIME", NULL), "2026-03-08T15:30:00Z");
	assert_string_equal(env_of(c0, "TAKT_RUN_ID", NULL), rn);
	cJSON_Delete(job);
	/* A run-now without its request cannot be named. */
	assert_int_not_equal(
	    spec_build_job(&s, NULL, slot, SPEC_TRIGGER_RUN_NOW, NULL, &job, err, sizeof(err)), 0);
	assert_null(job);
	spec_release(&s);
	cJSON_Delete(o);
}

/* A template with no pod template at all still gets the pod label. */
static void test_build_job_minimal_template(void **state)
{
	cJSON *o = object_with_spec("m", "\"schedule\":\"@hourly\",\"jobTemplate\":{\"spec\":{}}");
	struct spec s;
	char err[256];
	cJSON *job;
	assert_int_equal(spec_parse(o, &s, err, sizeof(err)), 0);
	assert_int_equal(
	    spec_build_job(&s, NULL, 3600000, SPEC_TRIGGER_RETRY, NULL, &job, err, sizeof(err)), 0);
	assert_string_equal(str_at(job, "metadata", "name", NULL), "m-3600");
	assert_string_equal(
	    str_at(path(job, "spec", "template", "metadata"), "labels", "takt.io/schedule", NULL),
	    "m");
	assert_string_equal(
	    str_at(path(job, "metadata", NULL, NULL), "annotations", "takt.io/trigger", NULL),
	    "retry");
	cJSON_Delete(job);
	spec_release(&s);
	cJSON_Delete(o);
}

/* Odd shapes inside the pod template are kept as they are, ours added where
 * they can be; building twice gives the same body (pre-built bodies are
 * interchangeable with fresh ones). */
static void test_build_job_odd_template_and_determinism(void **state)
{
	cJSON *o = object_with_spec(
	    "odd", "\"schedule\":\"@hourly\",\"jobTemplate\":{\"metadata\":{\"labels\":{"
		   "\"takt.io/schedule\":\"spoof\"}},\"spec\":{\"template\":{\"metadata\":{"
		   "\"labels\":\"not-an-object\"},\"spec\":{\"containers\":[7,{\"name\":\"c\","
		   "\"env\":{\"bad\":1}}]}}}}");
	struct spec s;
	char err[256];
	cJSON *a, *b;
	assert_int_equal(spec_parse(o, &s, err, sizeof(err)), 0);
	assert_int_equal(
	    spec_build_job(&s, NULL, 7200000, SPEC_TRIGGER_SCHEDULE, NULL, &a, err, sizeof(err)),
	    0);
	assert_int_equal(
	    spec_build_job(&s, NULL, 7200000, SPEC_TRIGGER_SCHEDULE, NULL, &b, err, sizeof(err)),
	    0);
	char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
	assert_string_equal(ta, tb);
	/* Our label wins over the template's. */
	assert_string_equal(
	    str_at(path(a, "metadata", NULL, NULL), "labels", "takt.io/schedule", NULL), "odd");
	assert_string_equal(
	    str_at(path(a, "spec", "template", "metadata"), "labels", "takt.io/schedule", NULL),
	    "odd");
	const cJSON *cs = path(a, "spec", "template", "spec");
	cs = cJSON_GetObjectItemCaseSensitive(cs, "containers");
	assert_true(cJSON_IsNumber(cJSON_GetArrayItem(cs, 0)));
	const cJSON *c = cJSON_GetArrayItem(cs, 1);
	assert_string_equal(env_of(c, "TAKT_RUN_ID", NULL), "odd-7200");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "env")), 4);
	free(ta);
	free(tb);
	cJSON_Delete(a);
	cJSON_Delete(b);
	spec_release(&s);
	cJSON_Delete(o);
}

static void test_status_round_trip(void **state)
{
	struct spec_status st, back;
	spec_status_init(&st);
	st.observed_generation = 9;
	st.time_zone = strdup("Asia/Seoul");
	spec_status_set_condition(&st, "Ready", true, "Valid", "ok", 9, 1000);
	spec_status_set_condition(&st, "Suspended", false, "Active", "", 9, 2000);
	spec_status_add_active(&st, "x-100", "uid-1", 100000, SPEC_TRIGGER_RUN_NOW);
	st.last_schedule_time = 100000;
	st.last_successful_time = 90500;
	st.next_schedule_time = 105000;
	st.cursor = 100250;
	st.pending_slot = 101000;
	st.pending_trigger = SPEC_TRIGGER_RUN_NOW;
	st.counters = (struct spec_counters){1, 2, 3, 4, 5, 6, 7};
	st.last_kill = parse_json("{\"requestId\":\"k\",\"jobs\":[\"x-1\"],\"podsDeleted\":2}");
	st.handled_requests = parse_json("[\"k\",\"r\"]");

	cJSON *json = spec_status_to_json(&st);
	assert_int_equal((int)cJSON_GetObjectItem(json, "activeCount")->valuedouble, 1);
	assert_string_equal(str_at(json, "lastSlotConsidered", NULL, NULL),
			    "1970-01-01T00:01:40.250Z");
	cJSON *obj = cJSON_CreateObject();
	cJSON_AddItemToObject(obj, "status", json);
	spec_status_parse(obj, &back);
	assert_int_equal(back.observed_generation, 9);
	assert_string_equal(back.time_zone, "Asia/Seoul");
	assert_int_equal(back.n_conditions, 2);
	const struct spec_condition *c = spec_status_condition(&back, "Ready");
	assert_string_equal(c->status, "True");
	assert_string_equal(c->reason, "Valid");
	assert_int_equal(c->last_transition, 1000);
	assert_int_equal(c->observed_generation, 9);
	assert_int_equal(back.n_active, 1);
	assert_string_equal(back.active[0].name, "x-100");
	assert_string_equal(back.active[0].uid, "uid-1");
	assert_int_equal(back.active[0].slot, 100000);
	assert_int_equal(back.active[0].trigger, SPEC_TRIGGER_RUN_NOW);
	assert_int_equal(back.last_schedule_time, 100000);
	assert_int_equal(back.last_successful_time, 90500);
	assert_int_equal(back.next_schedule_time, 105000);
	assert_int_equal(back.cursor, 100250);
	assert_int_equal(back.pending_slot, 101000);
	assert_int_equal(back.pending_trigger, SPEC_TRIGGER_RUN_NOW);
	assert_memory_equal(&back.counters, &st.counters, sizeof(st.counters));
	assert_string_equal(str_at(back.last_kill, "requestId", NULL, NULL), "k");
	assert_int_equal(cJSON_GetArraySize(back.handled_requests), 2);
	assert_null(back.last_run_now);

	/* A deep copy is independent. */
	struct spec_status cp;
	spec_status_init(&cp);
	spec_status_copy(&cp, &back);
	spec_status_release(&back);
	assert_string_equal(cp.active[0].name, "x-100");
	assert_int_equal(cp.counters.killed, 7);
	spec_status_release(&cp);
	spec_status_release(&st);
	cJSON_Delete(obj);
}

static void test_status_parse_is_lenient(void **state)
{
	struct spec_status st;
	cJSON *obj = parse_json(
	    "{\"status\":{\"observedGeneration\":\"x\",\"lastSlotConsidered\":\"yesterday\","
	    "\"runsStarted\":-4,\"missed\":2.5,\"active\":[{\"uid\":\"no-name\"},7,"
	    "{\"name\":\"ok-1\",\"trigger\":\"bogus\"}],\"conditions\":[{\"type\":\"Ready\"}]}}");
	spec_status_parse(obj, &st);
	assert_int_equal(st.observed_generation, 0);
	assert_int_equal(st.cursor, SPEC_TIME_UNSET);
	assert_int_equal(st.counters.runs_started, 0);
	assert_int_equal(st.counters.missed, 0);
	assert_int_equal(st.n_active, 1);
	assert_string_equal(st.active[0].name, "ok-1");
	assert_int_equal(st.active[0].slot, SPEC_TIME_UNSET);
	assert_int_equal(st.active[0].trigger, SPEC_TRIGGER_SCHEDULE);
	assert_int_equal(st.n_conditions, 0);
	spec_status_release(&st);
	cJSON_Delete(obj);
	/* A condition without lastTransitionTime is read but never written
	 * back: the apiserver would refuse the whole status. */
	obj = parse_json("{\"status\":{\"conditions\":[{\"type\":\"X\",\"status\":\"True\"}]}}");
	spec_status_parse(obj, &st);
	assert_int_equal(st.n_conditions, 1);
	cJSON *out = spec_status_to_json(&st);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "conditions")), 0);
	cJSON_Delete(out);
	spec_status_release(&st);
	cJSON_Delete(obj);
	spec_status_parse(NULL, &st);
	assert_int_equal(st.n_active, 0);
	spec_status_release(&st);
}

static void test_condition_transition_time(void **state)
{
	struct spec_status st;
	spec_status_init(&st);
	spec_status_set_condition(&st, "Ready", true, "Valid", "a", 1, 1000);
	spec_status_set_condition(&st, "Ready", true, "Valid", "b", 2, 5000);
	const struct spec_condition *c = spec_status_condition(&st, "Ready");
	assert_int_equal(c->last_transition, 1000); /* same status: kept */
	assert_string_equal(c->message, "b");
	assert_int_equal(c->observed_generation, 2);
	spec_status_set_condition(&st, "Ready", false, "InvalidSpec", "c", 3, 9000);
	c = spec_status_condition(&st, "Ready");
	assert_int_equal(c->last_transition, 9000);
	assert_string_equal(c->status, "False");
	assert_int_equal(st.n_conditions, 1);
	spec_status_release(&st);
}

static void test_trigger_names(void **state)
{
	enum spec_trigger t;
	assert_string_equal(spec_trigger_name(SPEC_TRIGGER_SCHEDULE), "schedule");
	assert_string_equal(spec_trigger_name(SPEC_TRIGGER_RUN_NOW), "run-now");
	assert_string_equal(spec_trigger_name(SPEC_TRIGGER_RETRY), "retry");
	assert_int_equal(spec_trigger_parse("retry", &t), 0);
	assert_int_equal(t, SPEC_TRIGGER_RETRY);
	assert_int_equal(spec_trigger_parse("Retry", &t), -1);
	assert_int_equal(spec_trigger_parse(NULL, &t), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_full),
	    cmocka_unit_test(test_parse_defaults),
	    cmocka_unit_test(test_parse_shares_schedule),
	    cmocka_unit_test(test_zone_follows_calendar),
	    cmocka_unit_test(test_parse_errors_exact),
	    cmocka_unit_test(test_parse_calendar_errors_name_the_field),
	    cmocka_unit_test(test_parse_not_an_object),
	    cmocka_unit_test(test_job_name),
	    cmocka_unit_test(test_request_job_name),
	    cmocka_unit_test(test_build_job),
	    cmocka_unit_test(test_build_job_minimal_template),
	    cmocka_unit_test(test_build_job_odd_template_and_determinism),
	    cmocka_unit_test(test_status_round_trip),
	    cmocka_unit_test(test_status_parse_is_lenient),
	    cmocka_unit_test(test_condition_transition_time),
	    cmocka_unit_test(test_trigger_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
