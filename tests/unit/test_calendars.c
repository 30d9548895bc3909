/* Unit tests for the pure parts of pkg/controller/calendars: building a
 * BusinessCalendar from its object and ConfigMap (the messages users see in
 * the Ready condition, no fallback to an older table), the status written
 * for it and when it is already written; and the planner's Warning Event
 * when a schedule's CalendarReady turns False. */
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

#include "calendar/calendar.h"
#include "controller/calendars.h"
#include "controller/planner.h"
#include "controller/spec.h"
#include "tz/civil.h"
#include "tz/tz.h"

static cJSON *parse_json(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	if (!j)
		fail_msg("bad JSON in test: %s", text);
	return j;
}

/* A BusinessCalendar object of generation `gen` with these spec fields, and
 * an optional status. */
static cJSON *bcal(int gen, const char *spec_fields, const char *status)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"takt.io/v1alpha1\",\"kind\":\"BusinessCalendar\","
		 "\"metadata\":{\"name\":\"krx\",\"generation\":%d},\"spec\":{%s}%s%s}",
		 gen, spec_fields, status ? ",\"status\":" : "", status ? status : "");
	return parse_json(text);
}

static cJSON *configmap(const char *rv, const char *key, const char *csv_json)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"tbl\","
		 "\"namespace\":\"cal\",\"resourceVersion\":\"%s\"},\"data\":{\"%s\":%s}}",
		 rv, key, csv_json);
	return parse_json(text);
}

#define SPEC_INLINE                                                                                \
	"\"timeZone\":\"Asia/Seoul\",\"validFrom\":\"2026-03-01\",\"validUntil\":\"2026-03-31\","  \
	"\"holidays\":[\"2026-03-02\"]"
#define SPEC_SOURCE                                                                                \
	"\"timeZone\":\"UTC\",\"weekendDays\":[],\"source\":{\"configMapRef\":{\"namespace\":"     \
	"\"cal\",\"name\":\"tbl\",\"key\":\"table.csv\"}}"

static int64_t day(const char *s)
{
	int64_t d;
	assert_int_equal(civil_parse_date(s, strlen(s), &d), 0);
	return d;
}

static int64_t at(const char *s)
{
	int64_t ms;
	assert_int_equal(rfc3339_parse(s, &ms), 0);
	return ms;
}

static const cJSON *field(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const cJSON *ready(const cJSON *status)
{
	return cJSON_GetArrayItem(field(status, "conditions"), 0);
}

static void test_build_inline_spec(void **state)
{
	(void)state;
	cJSON *obj = bcal(3, SPEC_INLINE, NULL);
	struct calendars_built b;
	calendars_build(obj, NULL, &b);
	assert_int_equal(b.state, PLAN_CALENDAR_OK);
	assert_non_null(b.cal);
	assert_string_equal(tz_name(b.zone), "Asia/Seoul");
	assert_string_equal(b.source_rv, "");
	assert_int_equal(calendar_is_business_day(b.cal, day("2026-03-02")), 0);
	assert_int_equal(calendar_is_business_day(b.cal, day("2026-03-03")), 1);

	cJSON *st = calendars_status_json(&b, obj, at("2026-03-01T00:00:00Z"));
	assert_int_equal(cJSON_GetNumberValue(field(st, "observedGeneration")), 3);
	assert_string_equal(cJSON_GetStringValue(field(st, "validFrom")), "2026-03-01");
	assert_string_equal(cJSON_GetStringValue(field(st, "validUntil")), "2026-03-31");
	/* 22 weekdays in March 2026, one a holiday. */
	assert_int_equal(cJSON_GetNumberValue(field(st, "businessDays")), 21);
	assert_true(cJSON_IsNull(field(st, "sourceResourceVersion")));
	const cJSON *c = ready(st);
	assert_string_equal(cJSON_GetStringValue(field(c, "type")), "Ready");
	assert_string_equal(cJSON_GetStringValue(field(c, "status")), "True");
	assert_string_equal(cJSON_GetStringValue(field(c, "reason")), "Loaded");
	assert_int_equal(cJSON_GetNumberValue(field(c, "observedGeneration")), 3);
	assert_string_equal(cJSON_GetStringValue(field(c, "lastTransitionTime")),
			    "2026-03-01T00:00:00Z");
	cJSON_Delete(st);
	calendars_built_release(&b);
	cJSON_Delete(obj);
}

static void test_build_from_configmap(void **state)
{
	(void)state;
	cJSON *obj = bcal(1, SPEC_SOURCE, NULL);
	cJSON *cm = configmap("42", "table.csv",
			      "\"date,business\\n2026-03-01,Y\\n2026-03-02,N\\n2026-03-03,Y\\n\"");
	struct calendars_built b;
	calendars_build(obj, cm, &b);
	assert_int_equal(b.state, PLAN_CALENDAR_OK);
	assert_string_equal(b.source_rv, "42");
	assert_int_equal(calendar_first_day(b.cal), day("2026-03-01"));
	assert_int_equal(calendar_last_day(b.cal), day("2026-03-03"));
	cJSON *st = calendars_status_json(&b, obj, 0);
	assert_string_equal(cJSON_GetStringValue(field(st, "sourceResourceVersion")), "42");
	assert_int_equal(cJSON_GetNumberValue(field(st, "businessDays")), 2);
	cJSON_Delete(st);
	calendars_built_release(&b);
	cJSON_Delete(cm);
	cJSON_Delete(obj);
}

/* Each failure is INVALID with the message users see, and no calendar: a
 * broken table never leaves an older one in use. */
static void expect_invalid(const char *spec_fields, const cJSON *cm, const char *want)
{
	cJSON *obj = bcal(2, spec_fields, NULL);
	struct calendars_built b;
	calendars_build(obj, cm, &b);
	assert_int_equal(b.state, PLAN_CALENDAR_INVALID);
	assert_null(b.cal);
	assert_null(b.zone);
	assert_string_equal(b.error, want);
	cJSON *st = calendars_status_json(&b, obj, at("2026-03-01T00:00:00Z"));
	const cJSON *c = ready(st);
	assert_string_equal(cJSON_GetStringValue(field(c, "status")), "False");
	assert_string_equal(cJSON_GetStringValue(field(c, "reason")), "Invalid");
	assert_string_equal(cJSON_GetStringValue(field(c, "message")), want);
	assert_true(cJSON_IsNull(field(st, "validFrom")));
	assert_true(cJSON_IsNull(field(st, "validUntil")));
	assert_true(cJSON_IsNull(field(st, "businessDays")));
	cJSON_Delete(st);
	calendars_built_release(&b);
	cJSON_Delete(obj);
}

static void test_build_failures_name_the_cause(void **state)
{
	(void)state;
	cJSON *broken =
	    configmap("7", "table.csv", "\"date,business\\n2026-03-01,Y\\n2026-02-30,Y\\n\"");
	expect_invalid(SPEC_SOURCE, broken, "table.csv row 3: \"2026-02-30\" is not a valid date");
	cJSON *other = configmap("8", "other.csv", "\"2026-03-01,Y\\n\"");
	expect_invalid(SPEC_SOURCE, other,
		       "spec.source.configMapRef: ConfigMap cal/tbl has no key \"table.csv\"");
	expect_invalid(SPEC_SOURCE, NULL, "spec.source.configMapRef: ConfigMap cal/tbl not found");
	expect_invalid("\"timeZone\":\"Mars/Base\",\"validFrom\":\"2026-03-01\","
		       "\"validUntil\":\"2026-03-31\"",
		       NULL, "spec.timeZone: unknown time zone \"Mars/Base\"");
	expect_invalid("\"validFrom\":\"2026-03-01\",\"validUntil\":\"2026-03-31\"", NULL,
		       "spec.timeZone: required");
	expect_invalid("\"timeZone\":\"UTC\",\"validFrom\":\"2026-03-01\","
		       "\"validUntil\":\"2026-03-31\",\"holidays\":[\"2026-03-04\"],"
		       "\"extraBusinessDays\":[\"2026-03-04\"]",
		       NULL,
		       "2026-03-04 is listed both as a holiday and as a business day "
		       "(holidays[0], extraBusinessDays[0])");
	/* The ConfigMap's version is still reported for a broken table. */
	cJSON *obj = bcal(2, SPEC_SOURCE, NULL);
	struct calendars_built b;
	calendars_build(obj, broken, &b);
	assert_string_equal(b.source_rv, "7");
	calendars_built_release(&b);
	cJSON_Delete(obj);
	cJSON_Delete(other);
	cJSON_Delete(broken);
}

/* Written only when changed; the Ready condition keeps its
 * lastTransitionTime while its status stays. */
static void test_status_written_only_when_changed(void **state)
{
	(void)state;
	cJSON *obj = bcal(3, SPEC_INLINE, NULL);
	struct calendars_built b;
	calendars_build(obj, NULL, &b);
	cJSON *want = calendars_status_json(&b, obj, at("2026-03-01T00:00:00Z"));
	assert_false(calendars_status_is(NULL, want));
	assert_false(calendars_status_is(field(obj, "status"), want));

	/* The apiserver now holds it (merge patch: nulls are absent). */
	cJSON *persisted = cJSON_Duplicate(want, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(persisted, "sourceResourceVersion");
	char *text = cJSON_PrintUnformatted(persisted);
	char spec_status[2048];
	snprintf(spec_status, sizeof(spec_status), "%s", text);
	free(text);
	cJSON *obj2 = bcal(3, SPEC_INLINE, spec_status);
	cJSON *again = calendars_status_json(&b, obj2, at("2026-03-05T00:00:00Z"));
	assert_true(calendars_status_is(field(obj2, "status"), again));
	assert_string_equal(cJSON_GetStringValue(field(ready(again), "lastTransitionTime")),
			    "2026-03-01T00:00:00Z");

	/* A new generation: observedGeneration moves, the transition time
	 * does not (still Ready). */
	cJSON *obj3 = bcal(4, SPEC_INLINE, spec_status);
	cJSON *gen4 = calendars_status_json(&b, obj3, at("2026-03-05T00:00:00Z"));
	assert_false(calendars_status_is(field(obj3, "status"), gen4));
	assert_string_equal(cJSON_GetStringValue(field(ready(gen4), "lastTransitionTime")),
			    "2026-03-01T00:00:00Z");

	/* Broken: Ready flips, with a new transition time. */
	cJSON *objbad = bcal(5,
			     "\"timeZone\":\"Mars/Base\",\"validFrom\":\"2026-03-01\","
			     "\"validUntil\":\"2026-03-31\"",
			     spec_status);
	struct calendars_built bad;
	calendars_build(objbad, NULL, &bad);
	cJSON *flipped = calendars_status_json(&bad, objbad, at("2026-03-06T00:00:00Z"));
	assert_false(calendars_status_is(field(objbad, "status"), flipped));
	assert_string_equal(cJSON_GetStringValue(field(ready(flipped), "status")), "False");
	assert_string_equal(cJSON_GetStringValue(field(ready(flipped), "lastTransitionTime")),
			    "2026-03-06T00:00:00Z");
	cJSON_Delete(flipped);
	calendars_built_release(&bad);
	cJSON_Delete(objbad);

	cJSON_Delete(gen4);
	cJSON_Delete(obj3);
	cJSON_Delete(again);
	cJSON_Delete(obj2);
	cJSON_Delete(persisted);
	cJSON_Delete(want);
	calendars_built_release(&b);
	cJSON_Delete(obj);
}

/* ---- the planner's Warning Event --------------------------------------------- */

struct sched_fx {
	cJSON *obj;
	struct spec spec;
	struct spec_status status;
	struct plan plan;
};

static void sched_fx_init(struct sched_fx *f)
{
	char err[256];
	f->obj =
	    parse_json("{\"metadata\":{\"name\":\"bs\",\"namespace\":\"ns\","
		       "\"uid\":\"u\",\"generation\":1},\"spec\":{\"schedule\":\"* * * * * *\","
		       "\"calendar\":{\"name\":\"krx\"},\"jobTemplate\":{\"spec\":{}}}}");
	spec_init(&f->spec);
	assert_int_equal(spec_parse(f->obj, &f->spec, err, sizeof(err)), 0);
	spec_status_init(&f->status);
	plan_init(&f->plan);
}

static void sched_fx_release(struct sched_fx *f)
{
	plan_release(&f->plan);
	spec_status_release(&f->status);
	spec_release(&f->spec);
	cJSON_Delete(f->obj);
}

/* One decision at `now` with the calendar in `cs`; the status becomes the
 * persisted one. Returns how many Warning Events of `reason` it raised. */
static int decide(struct sched_fx *f, enum plan_calendar_state cs, const struct calendar *cal,
		  const struct tz *zone, int64_t now, const char *reason)
{
	struct plan_input in = {
	    .spec = &f->spec,
	    .status = &f->status,
	    .calendar_state = cs,
	    .calendar_error = cs == PLAN_CALENDAR_INVALID ? "table.csv row 3: bad" : NULL,
	    .calendar = cal,
	    .calendar_zone = zone,
	    .now = now,
	};
	assert_int_equal(plan_compute(&in, &f->plan), 0);
	spec_status_copy(&f->status, &f->plan.status);
	int n = 0;
	for (size_t i = 0; i < f->plan.n_actions; i++)
		if (f->plan.actions[i].kind == PLAN_EVENT &&
		    !strcmp(f->plan.actions[i].reason, reason)) {
			assert_int_equal(f->plan.actions[i].event_type, PLAN_EVENT_WARNING);
			n++;
		}
	return n;
}

/* Failing closed raises one Warning Event when CalendarReady turns False
 * (or changes its reason), not one per decision. */
static void test_planner_warns_once_when_failing_closed(void **state)
{
	(void)state;
	struct sched_fx f;
	sched_fx_init(&f);
	int64_t t = at("2026-03-03T00:00:00Z");
	assert_int_equal(decide(&f, PLAN_CALENDAR_MISSING, NULL, NULL, t, "CalendarNotFound"), 1);
	assert_int_equal(decide(&f, PLAN_CALENDAR_MISSING, NULL, NULL, t + 10, "CalendarNotFound"),
			 0);
	assert_int_equal(decide(&f, PLAN_CALENDAR_INVALID, NULL, NULL, t + 20, "CalendarInvalid"),
			 1);
	assert_int_equal(decide(&f, PLAN_CALENDAR_INVALID, NULL, NULL, t + 30, "CalendarInvalid"),
			 0);
	/* Loaded, but today (3 March) is past its coverage. */
	cJSON *obj = bcal(1,
			  "\"timeZone\":\"UTC\",\"validFrom\":\"2026-02-01\","
			  "\"validUntil\":\"2026-03-02\"",
			  NULL);
	struct calendars_built b;
	calendars_build(obj, NULL, &b);
	assert_int_equal(b.state, PLAN_CALENDAR_OK);
	assert_int_equal(decide(&f, PLAN_CALENDAR_OK, b.cal, b.zone, t + 40, "NotCovered"), 1);
	const struct spec_condition *c = spec_status_condition(&f.status, "CalendarReady");
	assert_string_equal(c->status, "False");
	assert_string_equal(c->reason, "NotCovered");
	assert_int_equal(decide(&f, PLAN_CALENDAR_OK, b.cal, b.zone, t + 50, "NotCovered"), 0);
	assert_int_equal(f.plan.n_actions, 0);
	calendars_built_release(&b);
	cJSON_Delete(obj);
	sched_fx_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build_inline_spec),
	    cmocka_unit_test(test_build_from_configmap),
	    cmocka_unit_test(test_build_failures_name_the_cause),
	    cmocka_unit_test(test_status_written_only_when_changed),
	    cmocka_unit_test(test_planner_warns_once_when_failing_closed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
