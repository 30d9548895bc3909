#!/usr/bin/env bash
# Retries of failed runs and the run history (docs/api.md, "Retries of
# failed runs", "Run history"): a run failing with exit code 3 retried twice
# then succeeding, with its three attempts in status.recentRuns; an exit
# code outside onExitCodes not retried; a killed attempt not retried; a
# controller restart while a retry is pending (the retry starts once,
# after the restart, at its own time); a kill on the schedule while a retry
# is pending cancels it for good.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

TAKT=${KUBECTL_TAKT:-$T_ROOT/bin/kubectl-takt}

t_ns_create ctl-retry || t_done
ctl_trap
ctl_start

# once_at SECS: a 6-field pattern that fires at that UTC second, once a day.
once_at() { date -u -d "@$1" +"%-S %-M %-H * * *"; }
# history NAME: status.recentRuns as "job result exitCode attempt trigger
# businessDate" lines, newest first.
history() {
	kn get bs "$1" -o json 2>/dev/null | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("status", {}).get("recentRuns", []):
    print(r.get("job"), r.get("result"), r.get("exitCode", "-"), r.get("attempt"),
          r.get("trigger"), r.get("businessDate"))'
}
# history_has NAME ERE: one history line matches (prints the history).
history_has() {
	local h
	h=$(history "$1")
	printf '%s\n' "$h"
	printf '%s\n' "$h" | grep -Eq -- "$2"
}
job_exists() { kn get job "$1" >/dev/null 2>&1; }
job_env() { # job_env JOB VAR
	kn get job "$1" -o jsonpath="{.spec.template.spec.containers[0].env[?(@.name==\"$2\")].value}" 2>/dev/null
}
job_ann() { # job_ann JOB KEY (dots escaped by the caller)
	kn get job "$1" -o jsonpath="{.metadata.annotations.$2}" 2>/dev/null
}
created_at() { # seconds since the epoch of a Job's creation
	date -u -d "$(kn get job "$1" -o jsonpath='{.metadata.creationTimestamp}')" +%s
}
event_msgs() { # event_msgs REASON: the messages of the Events of that reason
	kn get events -o json 2>/dev/null | python3 -c '
import json, sys
for e in json.load(sys.stdin)["items"]:
    if e.get("reason") == sys.argv[1]:
        print(e.get("type"), e.get("count"), e.get("message"))' "$1"
}
event_like() { # event_like REASON ERE
	local m
	m=$(event_msgs "$1")
	printf '%s\n' "$m"
	printf '%s' "$m" | grep -Eq -- "$2"
}

t0=$(date +%s)
# ---- 1. exit code 3, retried twice (3 s after each failure), then a success --
slot1=$((t0 + 8))
t_ok "schedule flaky (exit 3, retry after 3s, limit 2)" bs_apply flaky "$(once_at $slot1)" Forbid 1s 3 \
	"  retry: {after: [\"3s\"], limit: 2}"
# ---- 2. exit code 4 is not in onExitCodes [3, 75] ----------------------------
t_ok "schedule other (exit 4, onExitCodes [3, 75])" bs_apply other "$(once_at $slot1)" Forbid 1s 4 \
	"  retry: {after: [\"1s\"], limit: 3, onExitCodes: [3, 75]}"
# ---- 3. a killed attempt --------------------------------------------------------
t_ok "schedule hang (runs for 1h, retry after 1s)" bs_apply hang "$(once_at $slot1)" Forbid 1h 3 \
	"  retry: {after: [\"1s\"], limit: 3}"

first=flaky-$slot1
wait_for 30 "flaky's first attempt $first runs" job_exists "$first"
t_is "its TAKT_BUSINESS_DATE" "$(job_env "$first" TAKT_BUSINESS_DATE)" "$(date -u -d "@$slot1" +%F)"
wait_for 30 "attempt 2 ($first-2) starts after attempt 1 failed" job_exists "$first-2"
t_is "attempt 2 carries TAKT_ATTEMPT=2" "$(job_env "$first-2" TAKT_ATTEMPT)" 2
t_is "attempt 2 has the same TAKT_SCHEDULED_TIME" "$(job_env "$first-2" TAKT_SCHEDULED_TIME)" \
	"$(job_env "$first" TAKT_SCHEDULED_TIME)"
t_is "attempt 2 has the same TAKT_BUSINESS_DATE" "$(job_env "$first-2" TAKT_BUSINESS_DATE)" \
	"$(job_env "$first" TAKT_BUSINESS_DATE)"
t_is "attempt 2's takt.io/trigger" "$(job_ann "$first-2" 'takt\.io/trigger')" retry
t_is "attempt 2's takt.io/attempt" "$(job_ann "$first-2" 'takt\.io/attempt')" 2
gap=$(($(created_at "$first-2") - $(created_at "$first")))
t_cmp "attempt 2 was created 1 s run + 3 s after attempt 1 ($gap s)" "$gap" -ge 4
# Attempt 3 is created at least 4 s after attempt 2: time to make it succeed
# (the Job of attempt 2 keeps the old template).
t_ok "the template now exits 0 (for attempt 3)" kn patch bs flaky --type merge -p \
	'{"spec":{"jobTemplate":{"spec":{"template":{"metadata":{"annotations":{"test.takt.io/exit-code":"0"}}}}}}}'
t_nok "attempt 3 not there yet" job_exists "$first-3"
wait_for 30 "attempt 3 ($first-3) starts" job_exists "$first-3"
wait_for 30 "attempt 3 succeeded, in the history" history_has flaky "^$first-3 Succeeded - 3 retry "
h=$(history flaky)
t_diag "flaky history:"$'\n'"$h"
t_is "the history, newest first: succeeded, 3, 3" "$(printf '%s\n' "$h" | awk '{print $1, $2, $3, $4}' | tr '\n' ';')" \
	"$first-3 Succeeded - 3;$first-2 Failed 3 2;$first Failed 3 1;"
t_is "one business date for the three" "$(printf '%s\n' "$h" | awk '{print $6}' | sort -u)" "$(date -u -d "@$slot1" +%F)"
wait_for 10 "two Retry Events name exit code 3" event_like Retry "attempt 3 started as Job $first-3; attempt 2 ended with exit code 3"
t_nok "no RunFailed for flaky" event_like RunFailed "run $first "
t_is "runsStarted counts the three attempts" "$(bs_status flaky runsStarted)" 3
table=$("$TAKT" history flaky -n "$NS" --business-date "$(date -u -d "@$slot1" +%F)" 2>&1)
t_diag "kubectl takt history flaky:"$'\n'"$table"
t_is "kubectl takt history: each attempt with its result and exit code" \
	"$(printf '%s\n' "$table" | awk 'NR > 1 {c = $8; for (i = 9; i <= NF; i++) c = c " " $i; print $1, $4, $7, c}' | tr '\n' ';')" \
	"$first-3 3 Succeeded -;$first-2 2 Failed 3 (Error);$first 1 Failed 3 (Error);"

# 2: other
wait_for 30 "other's attempt failed with exit code 4, recorded" history_has other "^other-$slot1 Failed 4 1 schedule"
wait_for 10 "RunFailed names exit code 4 and onExitCodes" event_like RunFailed "run other-$slot1 .*exit code 4 \(Error\).*onExitCodes"
sleep 3
t_nok "other was not retried" job_exists "other-$slot1-2"

# 3: hang, killed
wait_for 30 "hang's attempt runs" job_exists "hang-$slot1"
t_ok "kill request on hang" kn annotate bs hang takt.io/kill=k1
wait_for 30 "the killed attempt is recorded Killed" history_has hang "^hang-$slot1 Killed "
sleep 3
t_nok "the killed attempt was not retried" job_exists "hang-$slot1-2"
t_nok "no RunFailed for a killed run" event_like RunFailed "run hang-"

# ---- 4. a controller restart while a retry is pending -------------------------
t1=$(date +%s)
slot2=$((t1 + 6))
t_ok "schedule later (exit 3, retry after 12s)" bs_apply later "$(once_at $slot2)" Forbid 1s 3 \
	"  retry: {after: [\"12s\"], limit: 1}"
wait_for 30 "later's attempt failed, recorded" history_has later "^later-$slot2 Failed 3 1 "
ctl_kill9
killed_at=$(date +%s)
t_diag "SIGKILL at $killed_at"
t_nok "no retry before the restart" job_exists "later-$slot2-2"
sleep 2
ctl_start
restarted_at=$(date +%s)
wait_for 40 "the retry starts after the restart" job_exists "later-$slot2-2"
c2=$(created_at "later-$slot2-2")
t_cmp "after the restart ($c2 >= $restarted_at)" "$c2" -ge "$restarted_at"
failed_at=$(date -u -d "$(kn get job "later-$slot2" -o jsonpath='{.status.conditions[?(@.type=="Failed")].lastTransitionTime}')" +%s)
t_cmp "12 s after the attempt failed ($c2 - $failed_at)" "$((c2 - failed_at))" -ge 12
wait_for 30 "the retry failed, the run ended for good" history_has later "^later-$slot2-2 Failed 3 2 retry"
wait_for 10 "RunFailed after the last attempt" event_like RunFailed "run later-$slot2 .*attempt 2 .*exit code 3.*limit 1 reached"
t_is "one retry Event for later" "$(event_msgs Retry | grep -c "later-$slot2-2")" 1
# The log of both processes: the retry's POST was sent once (a second one
# would be answered AlreadyExists, the name being the lock).
t_is "the retry's Job was created once, by the restarted controller" \
	"$(ctl_log | grep -c "job created.* job=later-$slot2-2 \|job already exists.* job=later-$slot2-2 ")" 1
t_is "runsStarted 2" "$(bs_status later runsStarted)" 2

# ---- 5. a kill on the schedule while a retry is pending ---------------------
# The failed attempt's Job is finished, its retry 30 s away: the kill
# cancels the retry for good (docs/api.md, "External control by
# annotation").
t2=$(date +%s)
slot3=$((t2 + 5))
t_ok "schedule pend (exit 3, retry after 30s)" bs_apply pend "$(once_at $slot3)" Forbid 1s 3 \
	"  retry: {after: [\"30s\"], limit: 2}"
wait_for 30 "pend's attempt failed, recorded" history_has pend "^pend-$slot3 Failed 3 1 "
t_ok "kill request on pend" kn annotate bs pend takt.io/kill=k2
killed2=$(date +%s)
wait_for 30 "the attempt's entry says Killed, the retry cancelled" history_has pend "^pend-$slot3 Killed 3 1 schedule"
t_is "its reason" "$(kn get bs pend -o jsonpath='{.status.recentRuns[0].reason}')" RetryCancelled
t_is "lastKill names the request" "$(kn get bs pend -o jsonpath='{.status.lastKill.requestId}')" k2
t_is "lastKill.retriesCancelled names the attempt" \
	"$(kn get bs pend -o jsonpath='{.status.lastKill.retriesCancelled[*]}')" "pend-$slot3"
wait_for 10 "RunFailed says the kill cancelled the retry" event_like RunFailed \
	"run pend-$slot3 .*exit code 3.*retry \(attempt 2\) was cancelled by kill request k2"
failed3=$(date -u -d "$(kn get job "pend-$slot3" -o jsonpath='{.status.conditions[?(@.type=="Failed")].lastTransitionTime}')" +%s)
t_diag "attempt 1 failed at $failed3, kill at $killed2"
# 35 s after the failure: the retry would have started at 30 s.
sleep $((failed3 + 35 - $(date +%s) > 0 ? failed3 + 35 - $(date +%s) : 0))
t_nok "no retry Job 35 s after the failure" job_exists "pend-$slot3-2"
t_is "no Retry Event for pend" "$(event_msgs Retry | grep -c "pend-$slot3")" 0
t_is "one RunFailed for pend" "$(event_msgs RunFailed | grep -c "run pend-$slot3 ")" 1
t_is "the entry still says Killed" "$(kn get bs pend -o jsonpath='{.status.recentRuns[0].result}')" Killed

ctl_stop
t_is "the controller exits 0 on SIGTERM" "$?" 0
t_done
