#!/usr/bin/env bash
# (f) A malformed schedule: Ready=False with the reason and a Warning Event,
# while a valid schedule in the same namespace keeps running; fixing it
# recovers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

t_ns_create ctl-invalid || t_done
ctl_trap
ctl_watch_start
ctl_start
t_ok "schedule good created" bs_apply good "* * * * * *" Allow 1s 0
t_ok "schedule broken created (second 61)" bs_apply broken "61 * * * * *" Allow 1s 0
wait_for 10 "broken: Ready=False" bs_cond_is broken Ready False
t_is "broken: reason InvalidSpec" "$(bs_cond broken Ready reason)" InvalidSpec
t_like "broken: the message names the field and the value" "$(bs_cond broken Ready message)" '^spec\.schedule: .*61'
wait_for 10 "broken: a Warning Event InvalidSpec" events_at_least InvalidSpec Warning 1
sleep 4
t_is "broken: no Job" "$(count_jobs_of broken)" 0
wait_for 10 "good keeps running (3 Jobs or more)" jobs_at_least good 3
t_ok "good: Ready=True" bs_cond_is good Ready True
kn patch bs broken --type merge -p '{"spec":{"schedule":"*/2 * * * * *"}}' >/dev/null
wait_for 10 "fixed: Ready=True" bs_cond_is broken Ready True
wait_for 10 "fixed: it runs" jobs_at_least broken 1
ctl_stop
t_is "the controller exits 0 on SIGTERM" "$?" 0
t_done
