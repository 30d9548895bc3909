#!/usr/bin/env bash
# Reruns acted on by the controller (docs/runs.md, "Reruns and backfill"):
# a daily schedule whose last three business dates have a record (Jobs the
# test creates as the controller would: succeeded, failed with exit code 3,
# succeeded). `kubectl takt rerun --only failed` reruns the failed date
# alone, as a Job named after the request with that slot's
# TAKT_SCHEDULED_TIME and TAKT_BUSINESS_DATE; `--only all` under Forbid runs
# the three one at a time in slot order, a run-now meanwhile is refused (the
# reruns are active runs); status.lastRerun says what was selected and how
# each ended; a request is acted on once; a request of more than 1,000
# slots is refused with the reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

TAKT=${KUBECTL_TAKT:-$T_ROOT/bin/kubectl-takt}
# Stay clear of 12:00 UTC, the schedule's own slot, and of midnight.
h=$(date -u +%H%M)
if [ "$h" -ge 1158 ] && [ "$h" -lt 1202 ]; then sleep 240; fi
if [ "$h" -ge 2358 ]; then sleep 150; fi
t_ns_create ctl-rerun || t_done
ctl_trap
day() { date -u -d "@$(($(date +%s) - $1 * 86400))" +%F; } # day N: N days ago (UTC)
D1=$(day 3) D2=$(day 2) D3=$(day 1)
slot() { date -u -d "$1T12:00:00Z" +%s; }

t_ok "schedule daily: 12:00 UTC, Forbid, runs of 2s" \
	bs_apply daily "0 0 12 * * *" Forbid 2s 0 "  timeZone: UTC
  successfulJobsHistoryLimit: 10
  failedJobsHistoryLimit: 10"
uid=$(kn get bs daily -o jsonpath='{.metadata.uid}')
record() { # record DATE EXIT_CODE: the Job of DATE's slot, as the controller names and marks it
	local s
	s=$(slot "$1")
	kn apply -f - <<EOF >/dev/null
{"apiVersion": "batch/v1", "kind": "Job",
 "metadata": {"name": "daily-$s", "labels": {"takt.io/schedule": "daily"},
   "annotations": {"takt.io/scheduled-time": "$(date -u -d "@$s" +%Y-%m-%dT%H:%M:%S.000Z)", "takt.io/trigger": "schedule"},
   "ownerReferences": [{"apiVersion": "takt.io/v1alpha1", "kind": "BatchSchedule", "name": "daily",
     "uid": "$uid", "controller": true}]},
 "spec": {"backoffLimit": 0, "template": {
   "metadata": {"labels": {"takt.io/schedule": "daily"},
     "annotations": {"test.takt.io/run-for": "1s", "test.takt.io/exit-code": "$2"}},
   "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
   "containers": [{"name": "work", "image": "example.invalid/work"}]}}}}
EOF
}
t_ok "the record: $D1 succeeded" record "$D1" 0
t_ok "the record: $D2 failed (exit code 3)" record "$D2" 3
t_ok "the record: $D3 succeeded" record "$D3" 0
wait_for 30 "the three recorded Jobs finished" eval \
	"job_has_condition daily-$(slot "$D1") Complete && job_has_condition daily-$(slot "$D2") Failed && job_has_condition daily-$(slot "$D3") Complete"

ctl_start
out=$("$TAKT" rerun daily -n "$NS" --dates "$D1..$D3" --dry-run 2>/dev/null)
t_is "dry run: the failed date only" "$out" "$(date -u -d "@$(slot "$D2")" +%Y-%m-%dT%H:%M:%SZ) $D2"

# --- only failed: the failed date, once ---
out=$("$TAKT" rerun daily -n "$NS" --dates "$D1..$D3" 2>&1)
rc=$?
t_is "kubectl takt rerun (failed) exits 0" "$rc" 0
t_like "it says 1 slot was selected" "$out" '^rerun rerun-[0-9T]+Z-[0-9a-f]{6} of .* accepted: 1 slot selected'
id=$(kn get bs daily -o jsonpath='{.status.lastRerun.requestId}')
rerun_jobs() { kn get jobs -l takt.io/schedule=daily -o json | jq -r '[.items[] | select(.metadata.annotations["takt.io/trigger"] == "rerun")] | sort_by(.metadata.annotations["takt.io/scheduled-time"]) | .[].metadata.name'; }
wait_for 20 "one rerun Job created" eval '[ "$(rerun_jobs | wc -l)" -eq 1 ]'
job=$(rerun_jobs)
t_like "named <schedule>-<slot>-r<request hash>" "$job" "^daily-$(slot "$D2")-r[0-9a-v]{6}$"
env_of() { kn get job "$1" -o json | jq -r --arg n "$2" '.spec.template.spec.containers[0].env[] | select(.name == $n) | .value'; }
t_is "its TAKT_SCHEDULED_TIME is the slot's" "$(env_of "$job" TAKT_SCHEDULED_TIME)" "${D2}T12:00:00Z"
t_is "its TAKT_BUSINESS_DATE is the slot's" "$(env_of "$job" TAKT_BUSINESS_DATE)" "$D2"
t_is "it carries the request id" "$(kn get job "$job" -o jsonpath='{.metadata.annotations.takt\.io/request-id}')" "$id"
wait_for 30 "lastRerun: done, succeeded" eval '[ "$(bs_status daily lastRerun.progress)" = S ] && [ -n "$(bs_status daily lastRerun.completionTime)" ]'
t_is "lastRerun: selected 1, succeeded 1, failed 0, pending 0" \
	"$(kn get bs daily -o jsonpath='{.status.lastRerun.selected} {.status.lastRerun.succeeded} {.status.lastRerun.failed} {.status.lastRerun.pending}')" "1 1 0 0"
t_like "an Event RerunAccepted" "$(kn get events --field-selector reason=RerunAccepted -o jsonpath='{.items[*].message}')" "rerun $id: 1 slots"
# Acted on once: touching the schedule (a new annotation) starts nothing.
kn annotate bs daily touched=1 >/dev/null
sleep 3
t_is "the same request is not acted on again" "$(rerun_jobs | wc -l)" 1

# --- only all under Forbid: one at a time, in slot order ---
t_ok "kubectl takt rerun --only all" "$TAKT" rerun daily -n "$NS" --dates "$D1..$D3" --only all
wait_for 10 "a rerun is running" eval '[ "$(rerun_jobs | wc -l)" -ge 2 ]'
out=$("$TAKT" run daily -n "$NS" 2>&1)
t_like "a run-now meanwhile is refused (Forbid: the rerun is active)" "$out" 'still active'
wait_for 60 "lastRerun: the three done" eval '[ "$(bs_status daily lastRerun.progress)" = SSS ]'
mapfile -t jobs < <(rerun_jobs)
t_is "four rerun Jobs in all" "${#jobs[@]}" 4
ts() { kn get job "$1" -o jsonpath="{$2}"; }
new=()
for j in "${jobs[@]}"; do [ "$j" = "$job" ] || new+=("$j"); done
t_like "in slot order" "${new[*]}" "^daily-$(slot "$D1")-r[0-9a-v]{6} daily-$(slot "$D2")-r[0-9a-v]{6} daily-$(slot "$D3")-r[0-9a-v]{6}$"
for i in 1 2; do
	prev_done=$(date -d "$(ts "${new[$((i - 1))]}" .status.completionTime)" +%s)
	next_made=$(date -d "$(ts "${new[$i]}" .metadata.creationTimestamp)" +%s)
	t_cmp "rerun $((i + 1)) created after rerun $i completed" "$next_made" -ge "$prev_done"
done

# --- a controller restart in the middle: the rerun carries on from lastRerun ---
t_ok "kubectl takt rerun --only all --no-wait" "$TAKT" rerun daily -n "$NS" --dates "$D1..$D3" --only all --no-wait
of_request() { kn get jobs -l takt.io/schedule=daily -o json | jq -r --arg id "$1" '[.items[] | select(.metadata.annotations["takt.io/request-id"] == $id)] | length'; }
wait_for 20 "its first rerun started" eval 'id3=$(bs_status daily lastRerun.requestId); [ "$id3" != "$id" ] && [ "$(of_request "$id3")" -ge 1 ]'
id3=$(bs_status daily lastRerun.requestId)
ctl_kill9
sleep 3 # the first rerun ends while no controller watches
ctl_start
wait_for 60 "after the restart: the three done" eval '[ "$(bs_status daily lastRerun.progress)" = SSS ]'
t_is "three Jobs for the request, none twice" "$(of_request "$id3")" 3

# --- refused: more than 1,000 slots ---
out=$("$TAKT" rerun daily -n "$NS" --dates 2020-01-01..2023-12-31 2>&1)
rc=$?
t_is "a rerun of 1,461 days: exit 1" "$rc" 1
t_like "refused, with the reason" "$out" 'refused rerun .*: more than 1000 slots to run'
t_like "lastRerun.refused says it" "$(bs_status daily lastRerun.refused)" 'more than 1000 slots'
wait_for 10 "a Warning Event RerunRefused" events_at_least RerunRefused Warning 1
t_done
