#!/usr/bin/env bash
# make bench-lag: how late do Jobs appear after their slot, with N schedules
# firing every 1-2 s against the local control plane?
#   LAG_SIZES="10 100"   schedule counts to try
#   LAG_SECONDS=40       measured seconds per size (after a 5 s warm-up)
# For each size: a namespace with N BatchSchedules (odd: every second, even:
# every 2 s; Allow; runs of 1 s, history 1), one takt-controller for it, and a
# separate watcher (tests/e2e/ctl_watch.py) stamping each Job's ADDED event
# with its receive time in ms. Printed:
#   watch lag   ADDED received by the watcher minus the slot instant
#   send lag    the controller's POST leaving, minus the slot instant (from its
#               log: response time minus round trip)
#   CPU seconds and peak RSS (VmHWM) of the controller over the run.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
sizes=${LAG_SIZES:-10 100}
secs=${LAG_SECONDS:-40}
warm=5

started_cluster=""
if ! bash scripts/cluster.sh status >/dev/null 2>&1; then
	bash scripts/cluster.sh up || exit 1
	started_cluster=1
fi
# shellcheck disable=SC1091
. "${TAKT_CLUSTER_STATE:-.cache/cluster}/env"
kubectl get crd batchschedules.takt.io >/dev/null 2>&1 || kubectl apply -f crds/ >/dev/null
kubectl wait --for condition=Established --timeout=30s crd/batchschedules.takt.io >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/takt-lag.XXXXXX")
ctl=""
watch=""
ns=""
cleanup() {
	[ -n "$ctl" ] && kill -TERM "$ctl" 2>/dev/null && wait "$ctl" 2>/dev/null
	[ -n "$watch" ] && kill -TERM "$watch" 2>/dev/null && wait "$watch" 2>/dev/null
	[ -n "$ns" ] && kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
	rm -rf "$work"
	[ -n "$started_cluster" ] && bash scripts/cluster.sh down
	return 0
}
trap cleanup EXIT

schedules() { # schedules N: the manifests
	local i s
	for i in $(seq "$1"); do
		if [ $((i % 2)) -eq 1 ]; then s="* * * * * *"; else s="*/2 * * * * *"; fi
		cat <<EOF
---
apiVersion: takt.io/v1alpha1
kind: BatchSchedule
metadata: {name: lag-$i}
spec:
  schedule: "$s"
  concurrencyPolicy: Allow
  successfulJobsHistoryLimit: 1
  failedJobsHistoryLimit: 1
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        metadata:
          annotations: {test.takt.io/run-for: "1s"}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 0
          containers: [{name: work, image: example.invalid/work}]
EOF
	done
}

for n in $sizes; do
	ns=bench-lag-$n-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	kubectl create namespace "$ns" >/dev/null
	: >"$work/jobs"
	python3 tests/e2e/ctl_watch.py "/apis/batch/v1/namespaces/$ns/jobs" "$work/jobs" &
	watch=$!
	until grep -q '^# listed' "$work/jobs" 2>/dev/null; do sleep 0.2; done
	schedules "$n" | kubectl -n "$ns" apply -f - >/dev/null
	bin/takt-controller --namespace "$ns" --qps 2000 --burst 4000 >"$work/ctl.log" 2>&1 &
	ctl=$!
	t0=$(date +%s)
	sleep $((warm + secs))
	t1=$(date +%s)
	# CPU (utime + stime, clock ticks) and peak RSS before stopping.
	read -r ut st < <(sed 's/^.*) //' "/proc/$ctl/stat" | awk '{ print $12, $13 }')
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$ctl/status")
	kill -TERM "$ctl"
	wait "$ctl"
	ctl=""
	sleep 1
	kill -TERM "$watch"
	wait "$watch" 2>/dev/null
	watch=""
	python3 - "$work/jobs" "$work/ctl.log" $((t0 + warm)) "$t1" "$n" "$secs" \
		"$(( (ut + st) ))" "$(getconf CLK_TCK)" "$hwm" <<'PY'
import datetime, json, re, sys
jobs_file, log_file, a, b, n, secs, ticks, hz, hwm = sys.argv[1:]
a, b, n, secs = int(a), int(b), int(n), int(secs)

def ms(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000.0

watch = []
seen = set()
for line in open(jobs_file):
    if line.startswith("#"):
        continue
    t, _, js = line.partition(" ")
    try:
        ev = json.loads(js)
    except ValueError:
        continue
    md = ev["object"]["metadata"]
    if ev["type"] != "ADDED" or md["name"] in seen:
        continue
    seen.add(md["name"])
    slot = ms(md["annotations"]["takt.io/scheduled-time"])
    if a * 1000 <= slot < b * 1000:
        watch.append(float(t) - slot)

send = []
pat = re.compile(r'^ts=(\S+) .*msg="job created" .* job=\S+-(\d+) ms=([0-9.]+)')
for line in open(log_file):
    m = pat.match(line)
    if not m:
        continue
    slot = int(m.group(2)) * 1000
    if a * 1000 <= slot < b * 1000:
        send.append(ms(m.group(1)) - float(m.group(3)) - slot)

expected = sum(len(range(a, b)) if i % 2 == 1 else len([s for s in range(a, b) if s % 2 == 0])
               for i in range(1, n + 1))

def q(v, p):
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")

for name, v in (("watch lag", sorted(watch)), ("send lag", sorted(send))):
    print("  %-9s n=%-5d p50=%7.1f ms  p99=%7.1f ms  max=%7.1f ms" %
          (name, len(v), q(v, 0.5), q(v, 0.99), v[-1] if v else float("nan")))
print("  jobs in the window: %d of %d slots" % (len(watch), expected))
cpu = int(ticks) / int(hz)
print("  controller: %.2f CPU s over %d s (%.1f%% of a core), peak RSS %d KiB" %
      (cpu, secs + 5, 100.0 * cpu / (secs + 5), int(hwm)))
PY
	mkdir -p .cache/bench
	cp "$work/ctl.log" ".cache/bench/lag-$n-controller.log"
	echo "^ $n schedules, ${secs} s measured (controller log: .cache/bench/lag-$n-controller.log)"
	kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
	ns=""
done
