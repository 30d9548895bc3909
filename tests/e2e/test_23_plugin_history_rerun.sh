#!/usr/bin/env bash
# `kubectl takt history` and `kubectl takt rerun` (docs/api.md, the plugin;
# docs/runs.md): the run table read from status.recentRuns (written here by
# the test through the status subresource, as the controller would), its
# filters and JSON; the rerun's dry run listing the slots the controller's
# selection picks over a calendar with a holiday and a table from a
# ConfigMap, from the record and the Jobs still there, changing nothing; the
# request's annotations; and clear errors with exit status 2 for bad input,
# 1 for a refusal. No controller runs: nothing here needs one.
. "$(dirname "$0")/lib.sh"

TAKT=${KUBECTL_TAKT:-$T_ROOT/bin/kubectl-takt}
t_ns_create plugin23 || t_done
sfx=${NS##*-}
CAL=p23-$sfx
trap 'kubectl delete businesscalendar "$CAL" --wait=false >/dev/null 2>&1; t_ns_delete' EXIT

# Week of Mon 2025-01-06: Wednesday the 8th a holiday in the spec, Saturday
# the 11th a business day by the table in a ConfigMap.
kn create configmap table --from-literal=table.csv="$(printf 'date,business\n2025-01-11,Y\n')" >/dev/null
t_ok "calendar $CAL" kubectl apply -f - <<EOF
{"apiVersion": "takt.io/v1alpha1", "kind": "BusinessCalendar", "metadata": {"name": "$CAL"},
 "spec": {"timeZone": "Asia/Seoul", "validFrom": "2025-01-01", "validUntil": "2025-12-31",
          "holidays": ["2025-01-08"],
          "source": {"configMapRef": {"namespace": "$NS", "name": "table", "key": "table.csv"}}}}
EOF
bs() { # bs NAME SCHEDULE [CALENDAR_YAML]
	kn apply -f - <<EOF
apiVersion: takt.io/v1alpha1
kind: BatchSchedule
metadata: {name: $1}
spec:
  schedule: "$2"
  suspend: true
${3:-}
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox}]
EOF
}
t_ok "schedule collect: 07:00 Seoul on the calendar's business days" bs collect "0 0 7 * * *" "  calendar: {name: $CAL}"
t_ok "schedule minutely, no calendar" bs minutely "* * * * *" "  timeZone: UTC"
t_ok "schedule empty (nothing recorded)" bs empty "0 0 7 * * *" "  timeZone: UTC"

# The record: the 7th failed (exit 3) and its retry failed again, the 10th
# was killed; the 6th has no record; the 9th has a Job still running.
run() { # run JOB TRIGGER DATE ATTEMPT START END RESULT [EXIT REASON]
	local extra=""
	[ -n "${8:-}" ] && extra=", \"exitCode\": $8, \"reason\": \"$9\""
	printf '{"job": "%s", "trigger": "%s", "scheduledTime": "%sT22:00:00Z", "businessDate": "%s", "attempt": %s, "startTime": "%s", "completionTime": "%s", "result": "%s"%s}' \
		"$1" "$2" "$(date -u -d "$3 - 1 day" +%F)" "$3" "$4" "$5" "$6" "$7" "$extra"
}
runs="[$(run collect-1736463600 schedule 2025-01-10 1 2025-01-09T22:00:01Z 2025-01-09T22:05:00Z Killed),
$(run collect-1736204400-2 retry 2025-01-07 2 2025-01-06T22:30:05Z 2025-01-06T22:31:15Z Failed 3 Error),
$(run collect-1736204400 schedule 2025-01-07 1 2025-01-06T22:00:01Z 2025-01-06T22:00:13Z Failed 3 Error)]"
t_ok "status.recentRuns written (status subresource)" \
	kn patch bs collect --subresource=status --type=merge -p "{\"status\": {\"recentRuns\": $runs}}"
uid=$(kn get bs collect -o jsonpath='{.metadata.uid}')
t_ok "a Job of the 9th's slot, still running (suspended)" kn apply -f - <<EOF
{"apiVersion": "batch/v1", "kind": "Job",
 "metadata": {"name": "collect-1736377200", "labels": {"takt.io/schedule": "collect"},
   "annotations": {"takt.io/scheduled-time": "2025-01-08T22:00:00.000Z", "takt.io/trigger": "schedule"},
   "ownerReferences": [{"apiVersion": "takt.io/v1alpha1", "kind": "BatchSchedule", "name": "collect",
     "uid": "$uid", "controller": true}]},
 "spec": {"suspend": true, "template": {"spec": {"restartPolicy": "Never",
   "containers": [{"name": "c", "image": "busybox"}]}}}}
EOF

# --- history ---
out=$("$TAKT" history collect -n "$NS" 2>&1)
rc=$?
t_is "history exits 0" "$rc" 0
t_like "history: the table's header" "$(printf '%s' "$out" | head -1)" \
	'^JOB +TRIGGER +BUSINESS DATE +ATTEMPT +START +DURATION +RESULT +EXIT CODE$'
t_is "history: one line per recorded attempt" "$(printf '%s\n' "$out" | wc -l)" 4
t_like "history: the retry, attempt 2, 1m10s, exit code 3" "$out" \
	'collect-1736204400-2 +retry +2025-01-07 +2 +2025-01-06T22:30:05Z +1m10s +Failed +3 \(Error\)'
t_like "history: the first attempt, 12s" "$out" \
	'collect-1736204400 +schedule +2025-01-07 +1 +2025-01-06T22:00:01Z +12s +Failed +3 \(Error\)'
t_like "history: the killed run, no exit code" "$out" \
	'collect-1736463600 +schedule +2025-01-10 +1 +2025-01-09T22:00:01Z +4m59s +Killed +-$'
t_is "history: newest first" "$(printf '%s\n' "$out" | awk 'NR > 1 { print $1 }' | paste -sd' ')" \
	"collect-1736463600 collect-1736204400-2 collect-1736204400"
out=$("$TAKT" history collect -n "$NS" --business-date 2025-01-07)
t_is "history --business-date: that date's attempts" \
	"$(printf '%s\n' "$out" | awk 'NR > 1 { print $1 }' | paste -sd' ')" "collect-1736204400-2 collect-1736204400"
json=$("$TAKT" history collect -n "$NS" -o json)
t_is "history -o json: the entries as recorded" \
	"$(printf '%s' "$json" | jq -c '[.[] | [.job, .attempt, .exitCode]]')" \
	'[["collect-1736463600",1,null],["collect-1736204400-2",2,3],["collect-1736204400",1,3]]'
t_is "history -o json --business-date 2025-01-06: []" \
	"$("$TAKT" history collect -n "$NS" -ojson --business-date=2025-01-06 | jq -c .)" "[]"
out=$("$TAKT" history empty -n "$NS" 2>&1)
rc=$?
t_is "history of a schedule with no record: exit 0" "$rc" 0
t_like "history of a schedule with no record says so" "$out" "^No runs recorded for BatchSchedule $NS/empty\.$"

# bad input: exit 2 and one line; a schedule that does not exist: 1
t_exit() { # t_exit DESC STATUS ERE CMD...: CMD exits STATUS and its stderr matches ERE
	local desc=$1 want=$2 re=$3 err rc
	shift 3
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = "$want" ] && printf '%s' "$err" | grep -Eq -- "$re" && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ]; then
		t_pass "$desc"
	else
		t_fail "$desc" "exit status $rc (expected $want)" "stderr: $err" "expected to match: $re"
	fi
}
t_exit "history --business-date 2025-13-01: 2" 2 '--business-date: "2025-13-01" is not a date' \
	"$TAKT" history collect -n "$NS" --business-date 2025-13-01
t_exit "history -o yaml: 2" 2 '-o: "yaml" is not a known output format' "$TAKT" history collect -n "$NS" -o yaml
t_exit "history without NAME: 2" 2 'missing NAME' "$TAKT" history -n "$NS"
t_exit "history of no such schedule: 1" 1 "batchschedules $NS/nope not found" "$TAKT" history nope -n "$NS"

# --- rerun --dry-run ---
rv=$(kn get bs collect -o jsonpath='{.metadata.resourceVersion}')
dry() { "$TAKT" rerun collect -n "$NS" --dates 2025-01-06..2025-01-12 --dry-run "$@"; }
t_is "dry run, only failed (default): no record (6th, 11th), failed (7th), killed (10th)" "$(dry 2>/dev/null)" \
	"$(printf '2025-01-05T22:00:00Z 2025-01-06\n2025-01-06T22:00:00Z 2025-01-07\n2025-01-09T22:00:00Z 2025-01-10\n2025-01-10T22:00:00Z 2025-01-11')"
t_is "dry run, only missing: the 6th and 11th (the 9th has its Job)" "$(dry --only missing 2>/dev/null | paste -sd' ')" \
	"2025-01-05T22:00:00Z 2025-01-06 2025-01-10T22:00:00Z 2025-01-11"
t_is "dry run, only all: every business day (the table's Saturday too), the holiday not" \
	"$(dry --only=all 2>/dev/null | cut -d' ' -f2 | paste -sd' ')" "2025-01-06 2025-01-07 2025-01-09 2025-01-10 2025-01-11"
t_like "dry run says what it counted and that nothing changed" "$(dry 2>&1 >/dev/null)" \
	'^dry run: 4 of the 5 slots of collect \(business dates 2025-01-06\.\.2025-01-12\) would run \(only=failed\); nothing was changed$'
t_is "dry run changed nothing (resourceVersion)" "$(kn get bs collect -o jsonpath='{.metadata.resourceVersion}')" "$rv"
t_is "dry run set no annotation" "$(kn get bs collect -o jsonpath='{.metadata.annotations.takt\.io/rerun}')" ""
t_exit "dry run of a range the calendar does not cover: refused, 1" 1 \
	'would be refused: the calendar does not cover the range: .*2026-01-01' \
	"$TAKT" rerun collect -n "$NS" --dates 2025-12-29..2026-01-02 --dry-run
t_exit "dry run of more than 1000 slots: refused, 1" 1 'would be refused: more than 1000 slots to run' \
	"$TAKT" rerun minutely -n "$NS" --dates 2025-01-06 --dry-run
t_exit "rerun --dates end before start: 2" 2 '--dates: "2025-01-10\.\.2025-01-06": the end is before the start' \
	"$TAKT" rerun collect -n "$NS" --dates 2025-01-10..2025-01-06 --dry-run
t_exit "rerun --dates 2025-02-30: 2" 2 '"2025-02-30" is not a real date' "$TAKT" rerun collect -n "$NS" --dates 2025-02-30
t_exit "rerun --only some: 2" 2 '^kubectl takt rerun: --only: "some" is not one of missing, failed, all$' \
	"$TAKT" rerun collect -n "$NS" --dates 2025-01-06 --only some
t_exit "rerun without --dates: 2" 2 'missing --dates' "$TAKT" rerun collect -n "$NS"
t_exit "rerun of no such schedule: 1" 1 "batchschedules $NS/nope not found" \
	"$TAKT" rerun nope -n "$NS" --dates 2025-01-06 --dry-run

# --- the request: its annotations ---
out=$("$TAKT" rerun collect -n "$NS" --dates 2025-01-06..2025-01-10 --only missing --no-wait)
t_like "rerun --no-wait: requested" "$out" '^requested rerun rerun-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6} of '
ann() { kn get bs collect -o jsonpath="{.metadata.annotations.takt\.io/$1}"; }
t_like "takt.io/rerun: a fresh request id" "$(ann rerun)" '^rerun-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$'
t_is "takt.io/rerun-dates" "$(ann rerun-dates)" "2025-01-06..2025-01-10"
t_is "takt.io/rerun-only" "$(ann rerun-only)" "missing"

t_done
