#!/usr/bin/env bash
# (d) SIGKILL the controller during a 1-second Forbid schedule and start it
# again: no slot ever gets two Jobs and Forbid holds across the restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

t_ns_create ctl-restart || t_done
ctl_trap
ctl_watch_start
ctl_start
t_ok "schedule created" bs_apply again "* * * * * *" Forbid 2s 0 "  successfulJobsHistoryLimit: 30"
sleep 7
ctl_kill9
killed_at=$(date +%s)
t_diag "SIGKILL at $killed_at"
sleep 3
ctl_start
restarted_at=$(date +%s)
sleep 9
ctl_stop
t_is "the restarted controller exits 0 on SIGTERM" "$?" 0
ctl_facts again
t_cmp "runs before and after the restart ($(fact jobs))" "$(fact jobs)" -ge 4
t_cmp "the restarted controller started runs" "$(fact last_slot)" -ge "$restarted_at"
t_is "no slot has two Jobs (scheduled-time annotations unique)" "$(fact dup_slots)" 0
t_is "every Job is named after its scheduled-time" "$(fact names_bad)" 0
t_is "Forbid held across the restart" "$(fact overlaps)" 0
t_done
