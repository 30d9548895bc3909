#!/usr/bin/env bash
# (c) Replace: each slot terminates the active run first; the new run's Job
# is created only once every pod of the old runs is gone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

t_ns_create ctl-replace || t_done
ctl_trap
ctl_watch_start
ctl_start
# Runs that never end by themselves, whose pods take 2 s to terminate.
BS_GRACE=2 t_ok "schedule created" bs_apply swap "*/4 * * * * *" Replace "" 0
sleep 18
ctl_stop
t_is "the controller exits 0 on SIGTERM" "$?" 0
ctl_facts swap
n=$(fact jobs)
t_cmp "each slot replaced the run before ($n runs)" "$n" -ge 3
t_is "no run was created before the pods of the runs it replaced were gone" "$(fact replace_early)" 0
t_is "no two runs were active at once" "$(fact overlaps)" 0
t_is "no slot has two Jobs" "$(fact dup_slots)" 0
# A replacing run waits for the 2 s grace period of the pod it replaces.
t_cmp "replacing runs started after the old pods' grace period (max lag $(fact lag_max) ms)" "$(fact lag_max)" -ge 1500
t_cmp "Replacing Events are recorded" "$(events_with Replacing Normal)" -gt 0
t_done
