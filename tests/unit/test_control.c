/* Unit tests for pkg/controller/control: request ids, grace periods, the
 * exactly-once record in the status, the owner chain Pod -> Job ->
 * BatchSchedule, and the kill / run-now bookkeeping. */
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

#include "controller/control.h"
#include "controller/control_io.h"
#include "controller/spec.h"

static cJSON *parse_json(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	if (!j)
		fail_msg("bad JSON in test: %s", text);
	return j;
}

/* ---- request ids ---------------------------------------------------------- */

static void test_request_id_valid(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(control_request_id_check("takt.io/kill", "k1", err, sizeof(err)), 0);
	assert_int_equal(control_request_id_check("takt.io/kill", "kill-20261122T080102Z-a1.b_c",
						  err, sizeof(err)),
			 0);
	char max[CONTROL_REQUEST_ID_MAX + 1];
	memset(max, 'a', CONTROL_REQUEST_ID_MAX);
	max[CONTROL_REQUEST_ID_MAX] = 0;
	assert_int_equal(control_request_id_check("takt.io/kill", max, err, sizeof(err)), 0);
	assert_int_equal(control_request_id_check("x", "-", err, sizeof(err)), 0);
}

static void test_request_id_invalid(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(control_request_id_check("takt.io/kill", "", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "takt.io/kill: the request id is empty");
	assert_int_equal(control_request_id_check("takt.io/kill", NULL, err, sizeof(err)), -EINVAL);

	char big[CONTROL_REQUEST_ID_MAX + 2];
	memset(big, 'a', CONTROL_REQUEST_ID_MAX + 1);
	big[CONTROL_REQUEST_ID_MAX + 1] = 0;
	assert_int_equal(control_request_id_check("takt.io/run-now", big, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "takt.io/run-now: the request id is 64 characters long, more "
				 "than 63");

	/* The whole id is quoted, not only the part before the bad character. */
	assert_int_equal(control_request_id_check("takt.io/kill", "a b", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "takt.io/kill: \"a b\" has a character other than [A-Za-z0-9._-] "
				 "at position 2");
	assert_int_equal(control_request_id_check("takt.io/kill", "x y z", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "takt.io/kill: \"x y z\" has a character other than "
				 "[A-Za-z0-9._-] at position 2");
	assert_int_equal(control_request_id_check("takt.io/kill", " ab", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "takt.io/kill: \" ab\" has a character other than [A-Za-z0-9._-] "
				 "at position 1");
	/* Unprintable bytes, quotes and backslashes become '?', one for one. */
	assert_int_equal(
	    control_request_id_check("takt.io/kill", "a\nb\"c\\d\xc3\xa9", err, sizeof(err)),
	    -EINVAL);
	assert_string_equal(err, "takt.io/kill: \"a?b?c?d??\" has a character other than "
				 "[A-Za-z0-9._-] at position 2");
	/* The longest id is quoted whole too. */
	char longest[CONTROL_REQUEST_ID_MAX + 1];
	memset(longest, 'a', CONTROL_REQUEST_ID_MAX);
	longest[CONTROL_REQUEST_ID_MAX - 1] = ' ';
	longest[CONTROL_REQUEST_ID_MAX] = 0;
	char want[256];
	snprintf(want, sizeof(want),
		 "takt.io/kill: \"%s\" has a character other than [A-Za-z0-9._-] at position %d",
		 longest, CONTROL_REQUEST_ID_MAX);
	assert_int_equal(control_request_id_check("takt.io/kill", longest, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, want);
	const char *bad[] = {"a/b", "a:b", "x\n", "\"", "caf\xc3\xa9", "a=b", "a,b", "{}", "a\tb"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(control_request_id_check("k", bad[i], err, sizeof(err)), -EINVAL);
}

/* ---- grace ------------------------------------------------------------------ */

static void test_grace_parse(void **state)
{
	(void)state;
	char err[256];
	long v = -1;
	assert_int_equal(control_grace_parse("0", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 0);
	assert_int_equal(control_grace_parse("30", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 30);
	assert_int_equal(control_grace_parse("007", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 7);
	assert_int_equal(control_grace_parse("2147483647", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 2147483647L);

	v = 99;
	const char *bad[] = {"",   "-1",   "+1",  " 1",		"1 ",	       "1.5",
			     "1s", "0x10", "abc", "2147483648", "99999999999", "1e3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(control_grace_parse(bad[i], &v, err, sizeof(err)), -EINVAL);
		assert_int_equal(v, 99); /* untouched */
	}
	assert_int_equal(control_grace_parse(NULL, &v, err, sizeof(err)), -EINVAL);
	control_grace_parse("-1", &v, err, sizeof(err));
	assert_string_equal(err, "takt.io/kill-grace-seconds: \"-1\" is not a whole number of "
				 "seconds from 0 to 2147483647");
	control_grace_parse("2147483648", &v, err, sizeof(err));
	assert_string_equal(err, "takt.io/kill-grace-seconds: 2147483648 is more than 2147483647");
}

static void test_grace_choose(void **state)
{
	(void)state;
	char err[256];
	bool set = true;
	long v = -1;
	/* Nothing anywhere: the pods' own grace (omitted). */
	assert_int_equal(control_grace_choose(NULL, NULL, &set, &v, err, sizeof(err)), 0);
	assert_false(set);
	/* The schedule's applies when the pod has none. */
	assert_int_equal(control_grace_choose(NULL, "5", &set, &v, err, sizeof(err)), 0);
	assert_true(set);
	assert_int_equal(v, 5);
	/* The pod's wins. */
	assert_int_equal(control_grace_choose("0", "5", &set, &v, err, sizeof(err)), 0);
	assert_true(set);
	assert_int_equal(v, 0);
	/* A malformed value that applies refuses the request... */
	assert_int_equal(control_grace_choose("soon", "5", &set, &v, err, sizeof(err)), -EINVAL);
	assert_false(set);
	assert_int_equal(control_grace_choose(NULL, "-3", &set, &v, err, sizeof(err)), -EINVAL);
	/* ...one that is overridden does not. */
	assert_int_equal(control_grace_choose("2", "bad", &set, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 2);
}

/* ---- handled ---------------------------------------------------------------- */

static void test_handled_entry(void **state)
{
	(void)state;
	char e[128];
	assert_int_equal(control_handled_entry(CONTROL_KILL, "k1", e, sizeof(e)), 0);
	assert_string_equal(e, "kill:k1");
	assert_int_equal(control_handled_entry(CONTROL_RUN_NOW, "r1", e, sizeof(e)), 0);
	assert_string_equal(e, "run-now:r1");
	assert_int_equal(control_handled_entry(CONTROL_KILL, "k1", e, 7), -ERANGE);
}

static void test_handled(void **state)
{
	(void)state;
	struct spec_status st;
	spec_status_init(&st);
	assert_false(control_handled(&st, CONTROL_KILL, "k1"));
	assert_false(control_handled(&st, CONTROL_KILL, NULL));

	/* Through lastKill alone (a status written before the list existed). */
	st.last_kill = parse_json("{\"requestId\":\"k1\"}");
	assert_true(control_handled(&st, CONTROL_KILL, "k1"));
	assert_false(control_handled(&st, CONTROL_RUN_NOW, "k1"));
	assert_false(control_handled(&st, CONTROL_KILL, "k2"));

	/* Through the list; kinds do not mix. */
	st.handled_requests = parse_json("[\"kill:k2\",\"run-now:r1\",17,null]");
	assert_true(control_handled(&st, CONTROL_KILL, "k2"));
	assert_true(control_handled(&st, CONTROL_RUN_NOW, "r1"));
	assert_false(control_handled(&st, CONTROL_KILL, "r1"));
	assert_false(control_handled(&st, CONTROL_RUN_NOW, "k2"));

	/* lastRunNow. */
	st.last_run_now = parse_json("{\"requestId\":\"r9\",\"refused\":\"busy\"}");
	assert_true(control_handled(&st, CONTROL_RUN_NOW, "r9"));
	spec_status_release(&st);
}

static void test_mark_handled_trims_keeping_requested(void **state)
{
	(void)state;
	struct spec_status st;
	spec_status_init(&st);
	/* A malformed list is replaced. */
	st.handled_requests = parse_json("{\"x\":1}");
	control_mark_handled(&st, CONTROL_KILL, "first", NULL, 0);
	assert_true(cJSON_IsArray(st.handled_requests));
	assert_int_equal(cJSON_GetArraySize(st.handled_requests), 1);
	/* Once only. */
	control_mark_handled(&st, CONTROL_KILL, "first", NULL, 0);
	assert_int_equal(cJSON_GetArraySize(st.handled_requests), 1);

	/* "kill:first" is still on the schedule's annotation: it survives any
	 * number of later requests; the others are dropped oldest first. */
	const char *keep[] = {"kill:first"};
	char id[32];
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		control_mark_handled(&st, CONTROL_RUN_NOW, id, keep, 1);
		assert_true(cJSON_GetArraySize(st.handled_requests) <= CONTROL_HANDLED_MAX);
	}
	assert_int_equal(cJSON_GetArraySize(st.handled_requests), CONTROL_HANDLED_MAX);
	assert_true(control_handled(&st, CONTROL_KILL, "first"));
	assert_true(control_handled(&st, CONTROL_RUN_NOW, "r99"));
	assert_true(control_handled(&st, CONTROL_RUN_NOW, "r69"));
	assert_false(control_handled(&st, CONTROL_RUN_NOW, "r68"));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(st.handled_requests, 0)),
			    "kill:first");

	/* Without keep, the oldest goes. */
	control_mark_handled(&st, CONTROL_KILL, "last", NULL, 0);
	assert_false(control_handled(&st, CONTROL_KILL, "first"));
	assert_true(control_handled(&st, CONTROL_KILL, "last"));
	assert_int_equal(cJSON_GetArraySize(st.handled_requests), CONTROL_HANDLED_MAX);
	spec_status_release(&st);
}

/* ---- owner chain ------------------------------------------------------------ */

#define SCHED                                                                                      \
	"{\"apiVersion\":\"takt.io/v1alpha1\",\"kind\":\"BatchSchedule\","                         \
	"\"metadata\":{\"name\":\"quotes\",\"namespace\":\"trading\",\"uid\":\"s-uid\"}}"

static cJSON *job_with_ref(const char *ns, const char *ref)
{
	char t[2048];
	snprintf(t, sizeof(t),
		 "{\"metadata\":{\"name\":\"quotes-100\",\"namespace\":\"%s\",\"uid\":\"j-uid\","
		 "\"ownerReferences\":[%s]}}",
		 ns, ref);
	return parse_json(t);
}

static cJSON *pod_with_ref(const char *ns, const char *ref)
{
	char t[2048];
	snprintf(t, sizeof(t),
		 "{\"metadata\":{\"name\":\"quotes-100-abcde\",\"namespace\":\"%s\","
		 "\"uid\":\"p-uid\",\"ownerReferences\":[%s]}}",
		 ns, ref);
	return parse_json(t);
}

#define SCHED_REF(apiv, kind, name, uid, ctl)                                                      \
	"{\"apiVersion\":\"" apiv "\",\"kind\":\"" kind "\",\"name\":\"" name "\",\"uid\":\"" uid  \
	"\",\"controller\":" ctl "}"

static void test_job_of_schedule(void **state)
{
	(void)state;
	char why[256];
	cJSON *s = parse_json(SCHED);
	struct {
		const char *ns, *ref, *why;
	} cases[] = {
	    {"trading", SCHED_REF("takt.io/v1alpha1", "BatchSchedule", "quotes", "s-uid", "true"),
	     NULL},
	    /* Not the controller reference. */
	    {"trading", SCHED_REF("takt.io/v1alpha1", "BatchSchedule", "quotes", "s-uid", "false"),
	     "quotes-100 has no controller ownerReference"},
	    {"trading", "", "quotes-100 has no controller ownerReference"},
	    /* A schedule of the same name deleted and re-created. */
	    {"trading", SCHED_REF("takt.io/v1alpha1", "BatchSchedule", "quotes", "old", "true"),
	     "quotes-100 is controlled by BatchSchedule quotes (uid old), not by quotes (uid "
	     "s-uid)"},
	    {"trading", SCHED_REF("takt.io/v1alpha1", "BatchSchedule", "other", "s-uid", "true"),
	     "quotes-100 is controlled by BatchSchedule other (uid s-uid), not by quotes (uid "
	     "s-uid)"},
	    /* Another group or version, another kind. */
	    {"trading", SCHED_REF("takt.io/v1beta1", "BatchSchedule", "quotes", "s-uid", "true"),
	     "quotes-100 is controlled by a takt.io/v1beta1 BatchSchedule, not a takt.io/v1alpha1 "
	     "BatchSchedule"},
	    {"trading", SCHED_REF("batch/v1", "CronJob", "quotes", "s-uid", "true"),
	     "quotes-100 is controlled by a batch/v1 CronJob, not a takt.io/v1alpha1 "
	     "BatchSchedule"},
	    {"elsewhere", SCHED_REF("takt.io/v1alpha1", "BatchSchedule", "quotes", "s-uid", "true"),
	     "quotes-100 is not in the namespace of BatchSchedule quotes"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *j = job_with_ref(cases[i].ns, cases[i].ref);
		int rc = control_job_of_schedule(j, s, why, sizeof(why));
		if (cases[i].why) {
			assert_int_equal(rc, -ENOENT);
			assert_string_equal(why, cases[i].why);
		} else {
			assert_int_equal(rc, 0);
		}
		cJSON_Delete(j);
	}
	/* A schedule without uid matches nothing. */
	cJSON *j = job_with_ref(
	    "trading", SCHED_REF("takt.io/v1alpha1", "BatchSchedule", "quotes", "s-uid", "true"));
	cJSON *nouid = parse_json("{\"metadata\":{\"name\":\"quotes\",\"namespace\":\"trading\"}}");
	assert_int_equal(control_job_of_schedule(j, nouid, why, sizeof(why)), -ENOENT);
	cJSON_Delete(nouid);
	cJSON_Delete(j);
	cJSON_Delete(s);
}

static void test_pod_of_run(void **state)
{
	(void)state;
	char why[256];
	cJSON *s = parse_json(SCHED);
	cJSON *j = job_with_ref(
	    "trading", SCHED_REF("takt.io/v1alpha1", "BatchSchedule", "quotes", "s-uid", "true"));
	cJSON *p =
	    pod_with_ref("trading", SCHED_REF("batch/v1", "Job", "quotes-100", "j-uid", "true"));
	assert_int_equal(control_pod_of_job(p, j, why, sizeof(why)), 0);
	assert_int_equal(control_pod_of_run(p, j, s, why, sizeof(why)), 0);

	/* Job or schedule not found. */
	assert_int_equal(control_pod_of_run(p, NULL, s, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, "its Job quotes-100 does not exist");
	assert_int_equal(control_pod_of_run(p, j, NULL, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, "its BatchSchedule quotes does not exist");

	/* A pod of an ordinary Job (a Job that no BatchSchedule controls). */
	cJSON *plain = job_with_ref("trading", "");
	assert_int_equal(control_pod_of_run(p, plain, NULL, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, "its Job quotes-100 is not controlled by a BatchSchedule");
	cJSON_Delete(plain);

	/* A pod of a ReplicaSet, a bare pod. */
	cJSON *rs = pod_with_ref("trading", SCHED_REF("apps/v1", "ReplicaSet", "web", "r", "true"));
	assert_int_equal(control_pod_of_run(rs, NULL, NULL, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, "it is not controlled by a Job");
	assert_int_equal(control_pod_of_job(rs, j, why, sizeof(why)), -ENOENT);
	cJSON_Delete(rs);
	cJSON *bare = parse_json("{\"metadata\":{\"name\":\"b\",\"namespace\":\"trading\"}}");
	assert_int_equal(control_pod_of_run(bare, NULL, NULL, why, sizeof(why)), -ENOENT);
	cJSON_Delete(bare);

	/* A pod claiming the Job's name with another uid (Job re-created). */
	cJSON *stale =
	    pod_with_ref("trading", SCHED_REF("batch/v1", "Job", "quotes-100", "x", "true"));
	assert_int_equal(control_pod_of_run(stale, j, s, why, sizeof(why)), -ENOENT);
	assert_string_equal(why, "quotes-100-abcde is controlled by Job quotes-100 (uid x), not by "
				 "quotes-100 (uid j-uid)");
	cJSON_Delete(stale);

	/* The Job belongs to another schedule. */
	cJSON *s2 = parse_json("{\"metadata\":{\"name\":\"quotes\",\"namespace\":\"trading\","
			       "\"uid\":\"other\"}}");
	assert_int_equal(control_pod_of_run(p, j, s2, why, sizeof(why)), -ENOENT);
	cJSON_Delete(s2);

	cJSON_Delete(p);
	cJSON_Delete(j);
	cJSON_Delete(s);
}

static void test_job_killed(void **state)
{
	(void)state;
	cJSON *j = parse_json("{\"metadata\":{\"annotations\":{\"takt.io/killed\":\"k7\"}}}");
	assert_string_equal(control_job_killed(j), "k7");
	cJSON_Delete(j);
	j = parse_json("{\"metadata\":{\"annotations\":{\"takt.io/killed\":\"\"}}}");
	assert_null(control_job_killed(j));
	cJSON_Delete(j);
	j = parse_json("{\"metadata\":{}}");
	assert_null(control_job_killed(j));
	cJSON_Delete(j);
	assert_null(control_job_killed(NULL));
}

/* ---- bookkeeping ------------------------------------------------------------ */

static void test_record_kill(void **state)
{
	(void)state;
	struct spec_status st;
	spec_status_init(&st);
	st.counters.killed = 4;
	const char *jobs[] = {"quotes-100", "quotes-101"};
	/* 1700000000123 ms = 2023-11-14T22:13:20.123Z */
	control_record_kill(&st,
			    &(struct control_kill_record){.id = "k1",
							  .now_ms = 1700000000123LL,
							  .jobs = jobs,
							  .n_jobs = 2,
							  .jobs_new = 1,
							  .pods_deleted = 3},
			    NULL, 0);
	assert_int_equal(st.counters.killed, 5);
	char *s = cJSON_PrintUnformatted(st.last_kill);
	assert_string_equal(s, "{\"requestId\":\"k1\",\"time\":\"2023-11-14T22:13:20.123Z\","
			       "\"jobs\":[\"quotes-100\",\"quotes-101\"],\"podsDeleted\":3}");
	free(s);
	assert_true(control_handled(&st, CONTROL_KILL, "k1"));

	/* Nothing active: still recorded (the request was handled). */
	control_record_kill(
	    &st, &(struct control_kill_record){.id = "k2", .now_ms = 1700000001000LL}, NULL, 0);
	assert_int_equal(st.counters.killed, 5);
	s = cJSON_PrintUnformatted(st.last_kill);
	assert_string_equal(s, "{\"requestId\":\"k2\",\"time\":\"2023-11-14T22:13:21.000Z\","
			       "\"jobs\":[],\"podsDeleted\":0}");
	free(s);
	assert_true(control_handled(&st, CONTROL_KILL, "k1"));

	/* Failed for good: the refusal is recorded, the request handled. */
	control_record_kill(&st,
			    &(struct control_kill_record){.id = "k3",
							  .now_ms = 1700000002000LL,
							  .failed = "the apiserver refused"},
			    NULL, 0);
	assert_int_equal(st.counters.killed, 5);
	s = cJSON_PrintUnformatted(st.last_kill);
	assert_string_equal(s,
			    "{\"requestId\":\"k3\",\"time\":\"2023-11-14T22:13:22.000Z\","
			    "\"jobs\":[],\"podsDeleted\":0,\"failed\":\"the apiserver refused\"}");
	free(s);
	assert_true(control_handled(&st, CONTROL_KILL, "k3"));

	/* Through the status round trip. */
	cJSON *json = spec_status_to_json(&st);
	cJSON *obj = cJSON_CreateObject();
	cJSON_AddItemToObject(obj, "status", json);
	struct spec_status back;
	spec_status_parse(obj, &back);
	assert_true(control_handled(&back, CONTROL_KILL, "k1"));
	assert_true(control_handled(&back, CONTROL_KILL, "k2"));
	assert_int_equal(back.counters.killed, 5);
	spec_status_release(&back);
	cJSON_Delete(obj);
	spec_status_release(&st);
}

static void test_record_run_now(void **state)
{
	(void)state;
	struct spec_status st;
	spec_status_init(&st);
	control_record_run_now(&st, "r1", 1700000000000LL, "quotes-1700000000", NULL, NULL, 0);
	char *s = cJSON_PrintUnformatted(st.last_run_now);
	assert_string_equal(s, "{\"requestId\":\"r1\",\"time\":\"2023-11-14T22:13:20.000Z\","
			       "\"jobName\":\"quotes-1700000000\"}");
	free(s);
	control_record_run_now(&st, "r2", 1700000000000LL, NULL,
			       "a run is still active (concurrencyPolicy Forbid)", NULL, 0);
	s = cJSON_PrintUnformatted(st.last_run_now);
	/* The status is written as a merge patch: r1's jobName must go. */
	assert_string_equal(s, "{\"requestId\":\"r2\",\"time\":\"2023-11-14T22:13:20.000Z\","
			       "\"refused\":\"a run is still active (concurrencyPolicy Forbid)\","
			       "\"jobName\":null}");
	free(s);
	assert_true(control_handled(&st, CONTROL_RUN_NOW, "r1"));
	assert_true(control_handled(&st, CONTROL_RUN_NOW, "r2"));
	assert_false(control_handled(&st, CONTROL_KILL, "r2"));
	assert_int_equal(st.counters.killed, 0);
	spec_status_release(&st);
}

static void test_run_now_id(void **state)
{
	(void)state;
	struct spec sp;
	spec_init(&sp);
	/* No request on the schedule: nothing to tag a Job with. */
	assert_null(control_run_now_id(&sp));
	sp.ann_run_now = strdup("r-7");
	assert_string_equal(control_run_now_id(&sp), "r-7");
	/* A malformed id is never written onto a Job. */
	free(sp.ann_run_now);
	sp.ann_run_now = strdup("not valid");
	assert_null(control_run_now_id(&sp));
	spec_release(&sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_id_valid),
	    cmocka_unit_test(test_request_id_invalid),
	    cmocka_unit_test(test_grace_parse),
	    cmocka_unit_test(test_grace_choose),
	    cmocka_unit_test(test_handled_entry),
	    cmocka_unit_test(test_handled),
	    cmocka_unit_test(test_mark_handled_trims_keeping_requested),
	    cmocka_unit_test(test_job_of_schedule),
	    cmocka_unit_test(test_pod_of_run),
	    cmocka_unit_test(test_job_killed),
	    cmocka_unit_test(test_record_kill),
	    cmocka_unit_test(test_record_run_now),
	    cmocka_unit_test(test_run_now_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
