/* libFuzzer target for pkg/controller/spec (and the planner behind it): the
 * input is a JSON document, read as a BatchSchedule object as the apiserver
 * would serve it. Promises checked:
 *   - spec_parse either succeeds with a compiled schedule, or fails with a
 *     message naming a field ("<path>: <reason>") and still releases cleanly;
 *   - the Job built for a slot is named spec_job_name and carries the label;
 *   - the status read from the same object survives to_json -> parse with
 *     the same active runs and counters;
 *   - the planner, run on that status at an instant near its cursor, returns
 *     0, creates only names that fit, and never moves the cursor back —
 *     except a cursor more than PLAN_CURSOR_SKEW_MS ahead of now, which it
 *     puts back to now.
 * Bounded: 16 KiB of input; `now` within an hour of the cursor. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "controller/planner.h"
#include "controller/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t hash(const uint8_t *data, size_t size)
{
	uint64_t h = 1469598103934665603u;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211u;
	return h;
}

static void check_job(const struct spec *s, int64_t slot)
{
	cJSON *job = NULL;
	char err[256], name[SPEC_JOB_NAME_MAX + 1];
	if (spec_build_job(s, spec_zone(s, NULL), slot, SPEC_TRIGGER_SCHEDULE, NULL, &job, err,
			   sizeof(err))) {
		if (job)
			abort();
		return;
	}
	if (spec_job_name(s->name, slot, name, sizeof(name)))
		abort();
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(job, "metadata");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(md, "name");
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(md, "labels");
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(labels, "takt.io/schedule");
	if (!cJSON_IsString(n) || strcmp(n->valuestring, name) != 0)
		abort();
	if (!cJSON_IsString(l) || strcmp(l->valuestring, s->name) != 0)
		abort();
	cJSON_Delete(job);
}

static void check_status(const cJSON *obj, struct spec_status *st)
{
	spec_status_parse(obj, st);
	cJSON *json = spec_status_to_json(st);
	cJSON *wrap = cJSON_CreateObject();
	cJSON_AddItemToObject(wrap, "status", json);
	struct spec_status back;
	spec_status_parse(wrap, &back);
	if (back.n_active != st->n_active || back.cursor != st->cursor ||
	    memcmp(&back.counters, &st->counters, sizeof(back.counters)) != 0)
		abort();
	for (size_t i = 0; i < back.n_active; i++)
		if (strcmp(back.active[i].name, st->active[i].name) != 0)
			abort();
	spec_status_release(&back);
	cJSON_Delete(wrap);
}

static void check_plan(const struct spec *s, const char *spec_error, const struct spec_status *st,
		       uint64_t h)
{
	int64_t base = st->cursor != SPEC_TIME_UNSET && st->cursor > 0 &&
			       st->cursor < INT64_C(253402300799000) - 7200000
			   ? st->cursor
			   : INT64_C(1772409600000);
	int64_t now = base + (int64_t)(h % 7200000) - 3600000;
	struct plan_input in = {
	    .spec = s,
	    .spec_error = spec_error,
	    .status = st,
	    .calendar_state = (h >> 40) & 1 ? PLAN_CALENDAR_MISSING : PLAN_CALENDAR_INVALID,
	    .calendar_error = "fuzz",
	    .run_now = (h >> 41) & 1 ? "fuzz-1" : NULL,
	    .now = now,
	};
	struct plan p;
	plan_init(&p);
	if (plan_compute(&in, &p) != 0)
		abort();
	for (size_t i = 0; i < p.n_actions; i++)
		if (p.actions[i].kind == PLAN_CREATE_JOB && strlen(p.actions[i].job_name) > 63)
			abort();
	if (!spec_error && st->cursor != SPEC_TIME_UNSET &&
	    st->observed_generation == s->generation && p.status.cursor < st->cursor &&
	    !(st->cursor > now + PLAN_CURSOR_SKEW_MS && p.status.cursor == now))
		abort();
	plan_release(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384)
		return 0;
	cJSON *obj = cJSON_ParseWithLength((const char *)data, size);
	if (!obj)
		return 0;
	uint64_t h = hash(data, size);
	struct spec s;
	char err[256];
	err[0] = '\0';
	int rc = spec_parse(obj, &s, err, sizeof(err));
	if (rc) {
		if (err[0] == '\0' || !strstr(err, ": "))
			abort();
	} else {
		if (!s.name || !s.cron || !s.job_template ||
		    strlen(s.name) > SPEC_SCHEDULE_NAME_MAX)
			abort();
		int64_t slot = (int64_t)(h % UINT64_C(4102444800)) * 1000;
		check_job(&s, slot);
	}
	struct spec_status st;
	check_status(obj, &st);
	if (s.name)
		check_plan(&s, rc ? err : NULL, &st, h);
	spec_status_release(&st);
	spec_release(&s);
	cJSON_Delete(obj);
	return 0;
}
