#!/usr/bin/env bash
# (a) A 2-second schedule with Allow: one Job per even second, named after
# its slot, created on time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

t_ns_create ctl-allow || t_done
ctl_trap
ctl_watch_start
ctl_start
t_ok "schedule created" bs_apply tick "*/2 * * * * *" Allow 1s 0 "  successfulJobsHistoryLimit: 30"
t0=$(date +%s)
sleep 21
# Stopped first, so the status and the recorded streams describe the same runs.
ctl_stop
t_is "the controller exits 0 on SIGTERM" "$?" 0
ctl_facts tick
n=$(fact jobs)
t_cmp "about 10 Jobs in 21 s (got $n)" "$n" -ge 9
t_cmp "at most 12 Jobs in 21 s" "$n" -le 12
t_is "every Job is named <name>-<unix seconds of its scheduled-time>" "$(fact names_bad)" 0
t_is "every slot is an even second" "$(fact odd_slots)" 0
t_is "no slot has two Jobs" "$(fact dup_slots)" 0
t_is "consecutive slots are 2 s apart" \
	"$(fact slots | tr ',' '\n' | awk 'NR > 1 && $1 - p != 2 { bad++ } { p = $1 } END { print bad + 0 }')" 0
t_cmp "the first slot is within 3 s of the schedule's creation" "$(fact first_slot)" -le $((t0 + 3))
t_cmp "Jobs seen in the watch within 500 ms of their slot (max $(fact lag_max) ms)" "$(fact lag_max)" -lt 500
j=$(jobs_of tick | tr ' ' '\n' | tail -1)
t_like "the run's containers get TAKT_RUN_ID" \
	"$(kn get job "$j" -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="TAKT_RUN_ID")].value}')" "^$j\$"
t_ok "Ready=True" bs_cond_is tick Ready True
started=$(bs_status tick runsStarted)
t_is "status.runsStarted counts the Jobs" "$started" "$n"
t_like "status.lastScheduleTime is a slot with milliseconds" "$(bs_status tick lastScheduleTime)" '^20[0-9-]+T[0-9:]+\.000Z$'
t_done
