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
# Every request, not only the writes: the reflectors' lists and watches
# (counted when the stream opens).
t_like "the reflectors' LISTs are counted" "$m" '^takt_api_requests_total\{verb="LIST",code="200"\} [1-9][0-9]*$'
t_like "and their WATCHes" "$m" '^takt_api_requests_total\{verb="WATCH",code="200"\} [1-9][0-9]*$'
t_like "and the reconcile duration" "$m" '^takt_reconcile_duration_seconds_count [0-9]+$'
promdir=$(bash "$T_ROOT/scripts/prometheus.sh" 2>/dev/null)
work=$(mktemp -d "${TMPDIR:-/tmp}/takt-e2e-prom.XXXXXX")
printf '%s\n' "$m" >"$work/metrics.txt"
out=$("$promdir/promtool" check metrics <"$work/metrics.txt" 2>&1)
t_is "promtool check metrics accepts it ($out)" "$?" 0

# A real Prometheus server scrapes it, and its query API agrees with what
# the schedule did.
pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
- job_name: takt
  static_configs: [{targets: ["127.0.0.1:${url##*:}"]}]
EOF
"$promdir/prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
	--web.listen-address="127.0.0.1:$pport" >"$CTL_LOGDIR/prometheus-$NS.log" 2>&1 &
prom_pid=$!
prom() { # prom QUERY: the first sample's value, or ""
	curl -s "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
r = json.load(sys.stdin).get("data", {}).get("result", [])
print(r[0]["value"][1] if r else "")' 2>/dev/null
}
wait_for 30 "Prometheus scrapes the controller" eval '[ "$(prom "up{job=\"takt\"}")" = 1 ]'
# Frozen, so the two sides count the same runs.
t_ok "the schedule is suspended" kn patch bs tick --type merge -p '{"spec":{"suspend":true}}'
sleep 3
started=$(bs_status tick runsStarted)
same() { [ "$(prom "takt_runs_total{namespace=\"$NS\",schedule=\"tick\",result=\"started\"}")" = "$started" ]; }
wait_for 10 "Prometheus has the runs started that the status has ($started)" same
q=$(prom 'histogram_quantile(0.99, sum(takt_slot_lag_seconds_bucket) by (le))')
t_like "and the slot lag's p99 (${q}s)" "$q" '^[0-9.e+-]+$'
t_cmp "under a second" "$q" -lt 1
kill "$prom_pid" 2>/dev/null
wait "$prom_pid" 2>/dev/null
rm -rf "$work"
t_ok "deploy/base/controller.yaml (probes on /healthz and /readyz) is accepted by the apiserver" \
	eval 'sed "s/namespace: takt-system/namespace: $NS/" "$T_ROOT/deploy/base/controller.yaml" | kn apply --dry-run=server -f - >/dev/null'
t_like "its probes name the paths served here" "$(grep -o "path: /[a-z]*" "$T_ROOT/deploy/base/controller.yaml" | tr '\n' ' ')" "path: /healthz path: /readyz"
t_is "POST is refused with 405" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/metrics")" 405
t_is "an unknown path is 404" "$(curl -s -o /dev/null -w '%{http_code}' "$url/nope")" 404
ctl_stop
t_is "the controller exits 0 on SIGTERM" "$?" 0
out=$("$CTL_BIN" --http-addr localhost:x --namespace "$NS" 2>&1)
t_is "a bad --http-addr: exit status 1" "$?" 1
t_like "naming the flag" "$out" 'http-addr.*localhost:x.*expected :PORT'
t_done
