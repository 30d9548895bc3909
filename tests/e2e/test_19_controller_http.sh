#!/usr/bin/env bash
# The HTTP endpoint (docs/controller.md, "The HTTP endpoint"): /healthz,
# /readyz once the caches are synced, /metrics in the Prometheus text format
# with the slot lag and the runs of a schedule that fires, and nothing but
# GET.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

t_ns_create ctl-http || t_done
ctl_trap
ctl_start
log=$CTL_LOGDIR/controller-$NS.log
port_of_log() { sed -n 's/.*msg="http endpoint" addr=127.0.0.1:0 port=\([0-9]*\).*/\1/p' "$log" | tail -1; }
wait_for 10 "the endpoint says its port" eval '[ -n "$(port_of_log)" ]'
url=http://127.0.0.1:$(port_of_log)
t_is "/healthz answers 200" "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" 200
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ]; }
wait_for 10 "/readyz answers 200 once the caches are synced" ready
t_ok "schedule created" bs_apply tick "* * * * * *" Allow 1s
created() { # the Jobs created counter, from /metrics
	curl -s "$url/metrics" | awk '$1 == "takt_jobs_created_total" { print $2 }'
}
wait_for 20 "/metrics counts 3 Jobs created" eval '[ "$(created)" -ge 3 ]'
hdr=$(mktemp "${TMPDIR:-/tmp}/takt-e2e-h.XXXXXX")
m=$(curl -s -D "$hdr" "$url/metrics")
t_like "in the Prometheus text format" "$(cat "$hdr")" "Content-Type: text/plain; version=0.0.4"
rm -f "$hdr"
t_like "a slot-lag histogram from 1 ms" "$m" '^takt_slot_lag_seconds_bucket\{le="0.001"\} [0-9]+$'
count=$(printf '%s\n' "$m" | awk '$1 == "takt_slot_lag_seconds_count" { print $2 }')
t_cmp "the slot lag counts the Jobs created ($count)" "$count" -ge 3
fast=$(printf '%s\n' "$m" | awk '$1 == "takt_slot_lag_seconds_bucket{le=\"1\"}" { print $2 }')
t_is "every one of them within 1 s of its slot" "$fast" "$count"
wait_for 10 "the schedule's own runs are there, by namespace and schedule" eval \
	'curl -s "$url/metrics" | grep -Eq "^takt_runs_total\{namespace=\"$NS\",schedule=\"tick\",result=\"started\"\} [1-9]"'
t_like "API requests by verb and code" "$m" '^takt_api_requests_total\{verb="POST",code="201"\} [0-9]+$'
t_like "and the reconcile duration" "$m" '^takt_reconcile_duration_seconds_count [0-9]+$'
t_is "POST is refused with 405" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/metrics")" 405
t_is "an unknown path is 404" "$(curl -s -o /dev/null -w '%{http_code}' "$url/nope")" 404
ctl_stop
t_is "the controller exits 0 on SIGTERM" "$?" 0
out=$("$CTL_BIN" --http-addr localhost:x --namespace "$NS" 2>&1)
t_is "a bad --http-addr: exit status 1" "$?" 1
t_like "naming the flag" "$out" 'http-addr.*localhost:x.*expected :PORT'
t_done
