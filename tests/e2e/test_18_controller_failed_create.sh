#!/usr/bin/env bash
# A Job create the apiserver refuses for good: a jobTemplate with
# `restartPolicy: Always`, which batch/v1 rejects (422 Invalid). Within a few
# seconds a FailedCreate Warning Event and Ready=False carry the apiserver's
# message; the slots count as missed and the cursor moves on, each slot is
# POSTed once (no retry storm); a valid schedule alongside keeps running;
# fixing the template recovers (docs/semantics.md, "A create that fails").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

t_ns_create ctl-failed-create || t_done
ctl_trap
ctl_start

# event_msg REASON NAME: "<type> <message>" of the Events on BatchSchedule NAME
event_msg() {
	kn get events -o json 2>/dev/null | python3 -c '
import json, sys
r, n = sys.argv[1:3]
for e in json.load(sys.stdin)["items"]:
    o = e.get("involvedObject", {})
    if e.get("reason") == r and o.get("kind") == "BatchSchedule" and o.get("name") == n:
        print(e.get("type"), e.get("message"))' "$1" "$2"
}
has_event() { [ -n "$(event_msg "$1" "$2")" ]; }
# POSTs the controller logged as failed for NAME's Jobs, one line per Job name
failed_posts() { ctl_log | grep 'msg="job create failed"' | grep -o "job=$1-[0-9]*" | sed 's/^job=//'; }

t_ok "schedule good created" bs_apply good "* * * * * *" Allow 1s 0
t0=$(date +%s)
kn apply -f - >/dev/null <<EOF
apiVersion: takt.io/v1alpha1
kind: BatchSchedule
metadata: {name: broken}
spec:
  schedule: "*/2 * * * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        metadata:
          annotations: {test.takt.io/exit-code: "0", test.takt.io/run-for: "1s"}
        spec:
          restartPolicy: Always
          terminationGracePeriodSeconds: 0
          containers: [{name: work, image: example.invalid/work}]
EOF
t_is "schedule broken (restartPolicy: Always) created" "$?" 0

wait_for 10 "broken: Ready=False" bs_cond_is broken Ready False
t_is "broken: reason FailedCreate" "$(bs_cond broken Ready reason)" FailedCreate
refused='was refused by the apiserver: 422 Invalid: Job\.batch "broken-[0-9]+" is invalid: .*spec\.template\.spec\.restartPolicy'
t_like "broken: Ready's message is the apiserver's answer" "$(bs_cond broken Ready message)" "^Job broken-[0-9]+ \(slot .*\) $refused"
wait_for 5 "a FailedCreate Warning Event" has_event FailedCreate broken
t_like "with the apiserver's answer" "$(event_msg FailedCreate broken | head -1)" "^Warning Job broken-[0-9]+ \(slot .*\) $refused"

sleep 6
t_is "broken: no Job" "$(count_jobs_of broken)" 0
t_cmp "broken: its slots count as missed ($(bs_status broken missed))" "$(bs_status broken missed)" -ge 3
t_is "broken: none counted as started" "$(bs_status broken runsStarted)" 0
cursor=$(date -d "$(bs_status broken lastSlotConsidered)" +%s)
t_cmp "broken: the cursor moved on (lastSlotConsidered $((cursor - t0)) s after the apply)" "$((cursor - t0))" -ge 6
posts=$(failed_posts broken | wc -l)
slots=$((($(date +%s) - t0) / 2 + 1))
t_cmp "broken: one POST per slot at most ($posts POSTs, about $slots slots)" "$posts" -le "$slots"
t_is "broken: no slot POSTed twice" "$(failed_posts broken | sort | uniq -d)" ""
t_cmp "good keeps running ($(count_jobs_of good) Jobs)" "$(count_jobs_of good)" -ge 3
t_ok "good: Ready=True" bs_cond_is good Ready True

kn patch bs broken --type merge -p '{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never"}}}}}}' >/dev/null
wait_for 10 "fixed: Ready=True" bs_cond_is broken Ready True
t_is "fixed: reason Valid" "$(bs_cond broken Ready reason)" Valid
wait_for 10 "fixed: it runs" jobs_at_least broken 1
ctl_stop
t_is "the controller exits 0 on SIGTERM" "$?" 0
t_done
