#!/usr/bin/env bash
# (e) History limits trim finished Jobs; suspend stops the runs and resume
# starts them again without running the slots that passed meanwhile.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

t_ns_create ctl-suspend || t_done
ctl_trap
ctl_watch_start
ctl_start
t_ok "schedule ok created" bs_apply ok "* * * * * *" Allow 1s 0 "  successfulJobsHistoryLimit: 2"
t_ok "schedule bad created" bs_apply bad "*/2 * * * * *" Allow 1s 1 "  failedJobsHistoryLimit: 1"

# finished_jobs NAME TYPE: Jobs of NAME with condition TYPE (Complete|Failed).
finished_jobs() {
	kn get jobs -l "takt.io/schedule=$1" -o json | python3 -c '
import json, sys
t = sys.argv[1]
print(sum(1 for j in json.load(sys.stdin)["items"]
          if any(c["type"] == t and c["status"] == "True" for c in j["status"].get("conditions") or [])))' "$2"
}
le() { [ "$("${@:2}")" -le "$1" ]; }
eq() { [ "$("${@:2}")" -eq "$1" ]; }
sleep 10
ctl_facts ok
t_cmp "ok ran many times ($(fact jobs))" "$(fact jobs)" -ge 6
ctl_facts bad
t_cmp "bad ran several times ($(fact jobs))" "$(fact jobs)" -ge 3
wait_for 5 "at most 1 failed Job of bad is kept" le 1 finished_jobs bad Failed
wait_for 10 "status.runsFailed of bad counts its failures" bs_status_ge bad runsFailed 2

kn patch bs ok --type merge -p '{"spec":{"suspend":true}}' >/dev/null
suspended_at=$(date +%s)
wait_for 5 "Suspended=True" bs_cond_is ok Suspended True
# Settled (no run of ok is active any more): exactly the limit is kept.
wait_for 8 "exactly 2 succeeded Jobs of ok are kept once its runs ended" eq 2 finished_jobs ok Complete
sleep 2
ctl_facts ok
t_cmp "no run of ok after the suspend (last slot $(fact last_slot))" "$(fact last_slot)" -le $((suspended_at + 1))
t_is "status.nextScheduleTime is cleared while suspended" "$(bs_status ok nextScheduleTime)" ""
kn patch bs ok --type merge -p '{"spec":{"suspend":false}}' >/dev/null
resumed_at=$(date +%s)
wait_for 5 "Suspended=False after resume" bs_cond_is ok Suspended False
sleep 3
until_true 10 jobs_after_at_least ok "$resumed_at" 1
ctl_facts ok
t_cmp "runs again after the resume" "$(fact last_slot)" -ge "$resumed_at"
in_gap=$(fact slots | tr ',' '\n' | awk -v a=$((suspended_at + 2)) -v b=$((resumed_at - 1)) '$1 >= a && $1 <= b' | wc -l)
t_is "the slots passed while suspended were not run on resume" "$in_gap" 0
ctl_stop
t_is "the controller exits 0 on SIGTERM" "$?" 0
t_done
