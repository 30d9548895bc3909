#!/usr/bin/env bash
# make bench (kill): how long from a kill request to all of the run's pods
# gone, grace 0, against the local control plane?
#   KILL_N=10   kills measured
# One namespace, one takt-controller, one BatchSchedule (Allow, never due,
# runs of 1h, terminationGracePeriodSeconds 30 so that only the kill's grace
# 0 makes them go fast). Each round: `kubectl takt run` starts a run, its pod
# turns Running, then `kubectl takt kill --grace-seconds 0`. A separate
# watcher (tests/e2e/ctl_watch.py) stamps every pod event with its receive
# time in ms; the latency is the DELETED event of the run's last pod minus
# the instant just before `kubectl takt kill` started (so the CLI's own
# start-up, its annotation PATCH and the controller's reaction are inside).
# Printed: one line with p50/p99/max over the kills, and how long the CLI
# took to report the kill recorded in the status.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
n=${KILL_N:-10}

# shellcheck source=tests/bench/lib.bash
. tests/bench/lib.bash
bench_cluster || exit 1

work=$(mktemp -d "${TMPDIR:-/tmp}/takt-killbench.XXXXXX")
ctl=""
watch=""
ns="bench-kill-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
cleanup() {
	[ -n "$ctl" ] && kill -TERM "$ctl" 2>/dev/null && wait "$ctl" 2>/dev/null
	[ -n "$watch" ] && kill -TERM "$watch" 2>/dev/null && wait "$watch" 2>/dev/null
	kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
	rm -rf "$work"
	[ -n "$started_cluster" ] && bash scripts/cluster.sh down
	return 0
}
trap cleanup EXIT

kubectl create namespace "$ns" >/dev/null || exit 1
python3 tests/e2e/ctl_watch.py "/api/v1/namespaces/$ns/pods" "$work/pods" &
watch=$!
bin/takt-controller --http-addr 127.0.0.1:0 --namespace "$ns" --log-level warn 2>"$work/controller.log" &
ctl=$!
for _ in $(seq 100); do grep -q '^# listed' "$work/pods" 2>/dev/null && break; sleep 0.1; done
kubectl -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: takt.io/v1alpha1
kind: BatchSchedule
metadata: {name: victim}
spec:
  schedule: "0 0 1 1 *"
  concurrencyPolicy: Allow
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        metadata:
          annotations: {test.takt.io/run-for: "1h"}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 30
          containers: [{name: work, image: example.invalid/work}]
EOF
ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
running() { # running JOB: its pod is Running
	kubectl -n "$ns" get pods -l "batch.kubernetes.io/job-name=$1" \
		-o jsonpath='{.items[*].status.phase}' 2>/dev/null | grep -qw Running
}
: >"$work/rounds"
for i in $(seq "$n"); do
	out=$(bin/kubectl-takt run victim -n "$ns" 2>&1) || { echo "run failed: $out" >&2; exit 1; }
	job=$(printf '%s' "$out" | sed -n 's/^started Job \([^ ]*\) .*/\1/p')
	for _ in $(seq 150); do running "$job" && break; sleep 0.1; done
	running "$job" || { echo "round $i: $job never ran" >&2; exit 1; }
	t0=$(ms)
	out=$(bin/kubectl-takt kill victim -n "$ns" --grace-seconds 0 2>&1) ||
		{ echo "kill failed: $out" >&2; exit 1; }
	t1=$(ms)
	echo "$job $t0 $t1" >>"$work/rounds"
	# Wait for the pods to be gone before the next round (so one kill
	# concerns one run) and for the next run-now to get its own second.
	for _ in $(seq 100); do
		[ -z "$(kubectl -n "$ns" get pods -l "batch.kubernetes.io/job-name=$job" -o name 2>/dev/null)" ] && break
		sleep 0.1
	done
	sleep 1
done
sleep 1
python3 - "$work/rounds" "$work/pods" "$n" <<'EOF'
import json, sys
rounds = [l.split() for l in open(sys.argv[1])]
gone = {}   # job -> receive ms of the last DELETED of its pods
for line in open(sys.argv[2]):
    if line.startswith("#"):
        continue
    ms, _, ev = line.partition(" ")
    try:
        e = json.loads(ev)
    except ValueError:
        continue
    if e.get("type") != "DELETED":
        continue
    job = e["object"]["metadata"].get("labels", {}).get("batch.kubernetes.io/job-name")
    if job:
        gone[job] = max(gone.get(job, 0), int(float(ms)))
lat, cli = [], []
for job, t0, t1 in rounds:
    if job in gone:
        lat.append(gone[job] - int(t0))
    cli.append(int(t1) - int(t0))
if not lat:
    print("kill: no measurement"); sys.exit(1)
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]
print("kill -> all pods gone (grace 0): p50 %d ms, p99 %d ms, max %d ms over %d kills; "
      "CLI reports the kill recorded: p50 %d ms" % (pct(lat, 50), pct(lat, 99), max(lat),
                                                    len(lat), pct(cli, 50)))
if len(lat) < int(sys.argv[3]):
    print("(%d of %s kills measured)" % (len(lat), sys.argv[3])); sys.exit(1)
EOF
