#!/usr/bin/env bash
# (b) Forbid: a 1-second schedule whose runs last 5 s never has two runs at
# once; the slots in between are skipped, counted and reported as Events.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

t_ns_create ctl-forbid || t_done
ctl_trap
ctl_watch_start
ctl_start
t_ok "schedule created" bs_apply slow "* * * * * *" Forbid 5s 0 "  successfulJobsHistoryLimit: 30"
sleep 20
# Stopped first, so the status and the recorded streams describe the same runs.
ctl_stop
t_is "the controller exits 0 on SIGTERM" "$?" 0
ctl_facts slow
n=$(fact jobs)
t_cmp "runs happened ($n in 20 s)" "$n" -ge 2
t_cmp "but far fewer than the 20 slots" "$n" -le 5
t_is "no run was created while another was active (Job unfinished or a pod present)" "$(fact overlaps)" 0
t_is "no slot has two Jobs" "$(fact dup_slots)" 0
skipped=$(bs_status slow skippedOverlap)
t_cmp "status.skippedOverlap counts the skipped slots ($skipped)" "${skipped:-0}" -ge 8
t_cmp "SkippedOverlap Events are recorded" "$(events_with SkippedOverlap Normal)" -gt 0
t_is "status.runsStarted equals the Jobs" "$(bs_status slow runsStarted)" "$n"
t_done
