#!/usr/bin/env bash
# make bench-lag: how late do Jobs appear after their slot, with N schedules
# firing every 1-2 s against the local control plane? And how does that
# compare with a peer firing the same Jobs at the same instants?
#   LAG_SIZES="10 100"   schedule counts to try
#   LAG_SECONDS=40       measured seconds per size (after a 5 s warm-up)
#   LAG_PEER=0           skip the peer
#   LAG_EVERY=E          every schedule fires every E s (E divides 60)
#                        instead of the 1 s / 2 s mix
# For each size: a namespace with N BatchSchedules (odd: every second, even:
# every 2 s; Allow; runs of 1 s, history 1), one takt-controller for it, and a
# separate watcher (tests/e2e/ctl_watch.py) stamping each Job's ADDED event
# with its receive time in ms. Then the same in a fresh namespace with the
# peer (tests/bench/peer: client-go, a goroutine per schedule, the Job built
# ahead, no status, no Events — the floor the control plane allows; built
# once into ~/.cache/takt). Printed, for each:
#   watch lag   ADDED received by the watcher minus the slot instant
#   send lag    the POST leaving, minus the slot instant (from the log:
#               answer time minus round trip)
#   CPU seconds and peak RSS (VmHWM) of the process over the run
#   the control plane's CPU seconds over the run, per process: what the
#               controller's requests and watches cost the apiserver
# and the ratios takt/peer.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
sizes=${LAG_SIZES:-10 100}
secs=${LAG_SECONDS:-40}
use_peer=${LAG_PEER:-1}
every=${LAG_EVERY:-0}
case $every in 0 | 1 | 2 | 3 | 4 | 5 | 6 | 10 | 12 | 15 | 20 | 30) ;; *)
	echo "LAG_EVERY must divide 60" >&2
	exit 2
	;;
esac
warm=5

# shellcheck source=tests/bench/lib.bash
. tests/bench/lib.bash
bench_cluster || exit 1

work=$(mktemp -d "${TMPDIR:-/tmp}/takt-lag.XXXXXX")
proc=""
watch=""
ns=""
cleanup() {
	[ -n "$proc" ] && kill -TERM "$proc" 2>/dev/null && wait "$proc" 2>/dev/null
	[ -n "$watch" ] && kill -TERM "$watch" 2>/dev/null && wait "$watch" 2>/dev/null
	[ -n "$ns" ] && kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
	rm -rf "$work"
	[ -n "$started_cluster" ] && bash scripts/cluster.sh down
	return 0
}
trap cleanup EXIT

# The peer's binary, built once per source version outside the clone.
peer_bin=""
build_peer() {
	local src=tests/bench/peer h dir
	command -v go >/dev/null || { echo "no Go toolchain"; return 1; }
	h=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-12)
	dir=${XDG_CACHE_HOME:-$HOME/.cache}/takt/bench-peer-$h
	if [ ! -x "$dir/bench-peer" ]; then
		mkdir -p "$dir"
		(cd "$src" && CGO_ENABLED=0 nice -n 10 go build -trimpath -o "$dir/bench-peer.tmp" .) \
			>"$work/peer-build.log" 2>&1 || { tail -3 "$work/peer-build.log"; return 1; }
		mv "$dir/bench-peer.tmp" "$dir/bench-peer"
	fi
	peer_bin=$dir/bench-peer
}

schedules() { # schedules N: the manifests
	local i s
	for i in $(seq "$1"); do
		if [ "$every" != 0 ]; then s="*/$every * * * * *"
		elif [ $((i % 2)) -eq 1 ]; then s="* * * * * *"; else s="*/2 * * * * *"; fi
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

# The figures of one run: prints them, and appends "who p50 p99 sp50 sp99"
# to $work/figures for the ratios.
cat >"$work/analyze.py" <<'PY'
import datetime, json, re, sys
who, jobs_file, log_file, a, b, n, secs, ticks, hz, hwm, figures, every = sys.argv[1:]
a, b, n, secs, every = int(a), int(b), int(n), int(secs), int(every)

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

def period(i):
    return every if every else (1 if i % 2 == 1 else 2)

expected = sum(len([s for s in range(a, b) if s % period(i) == 0]) for i in range(1, n + 1))

def q(v, p):
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")

watch.sort()
send.sort()
for name, v in (("watch lag", watch), ("send lag", send)):
    print("  %-4s %-9s n=%-5d p50=%7.1f ms  p99=%7.1f ms  max=%7.1f ms" %
          (who, name, len(v), q(v, 0.5), q(v, 0.99), v[-1] if v else float("nan")))
print("  %-4s jobs in the window: %d of %d slots" % (who, len(watch), expected))
cpu = int(ticks) / int(hz)
print("  %-4s %.2f CPU s over %d s (%.1f%% of a core), peak RSS %d KiB" %
      (who, cpu, secs + 5, 100.0 * cpu / (secs + 5), int(hwm)))
with open(figures, "a") as f:
    f.write("%s %f %f %f %f %f %d\n" % (who, q(watch, 0.5), q(watch, 0.99), q(send, 0.5),
                                        q(send, 0.99), cpu, int(hwm)))
PY

# run WHO N: one measurement, takt or peer, in a fresh namespace.
# The control plane's CPU: "name ticks" per line for each process in the
# cluster's pid file (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok), utime + stime in clock ticks.
plane_ticks() {
	local name pid
	while read -r name pid; do
		printf '%s %s\n' "$name" "$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null |
			awk '{ print $12 + $13 }')"
	done <"${TAKT_CLUSTER_STATE:-.cache/cluster}/pids"
}

# plane_cpu WHO BEFORE AFTER: prints the control plane's CPU seconds over
# the run, per process, and appends "WHO apiserver-seconds total-seconds"
# to $work/plane for the ratios: the load a controller puts on the
# apiserver is part of its cost.
plane_cpu() {
	paste <(echo "$2") <(echo "$3") | awk -v who="$1" -v hz="$(getconf CLK_TCK)" -v out="$work/plane" '
		{ d = ($4 - $2) / hz; tot += d; if ($1 == "kube-apiserver") api = d
		  sub(/^kube-/, "", $1); line = line sprintf(" %s %.1f", $1, d) }
		END { printf "  %-4s control plane CPU s:%s (total %.1f)\n", who, line, tot
		      printf "%s %f %f\n", who, api, tot >> out }'
}

# Waits (up to 3 min) until no bench-lag namespace is left: a run that starts
# while the last one's Jobs and pods are still being deleted pays for that
# work, and the comparison would be unfair to whichever runs first.
settle() {
	local i
	for i in $(seq 180); do
		kubectl get namespaces -o name 2>/dev/null | grep -q '^namespace/bench-lag-' || return 0
		sleep 1
	done
	echo "  (a previous bench namespace is still being deleted after 3 min)"
}

run() {
	local who=$1 n=$2 t0 t1 ut st hwm
	settle
	ns=bench-lag-$who-$n-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	kubectl create namespace "$ns" >/dev/null
	: >"$work/jobs"
	python3 tests/e2e/ctl_watch.py "/apis/batch/v1/namespaces/$ns/jobs" "$work/jobs" &
	watch=$!
	until grep -q '^# listed' "$work/jobs" 2>/dev/null; do sleep 0.2; done
	if [ "$who" = takt ]; then
		schedules "$n" | kubectl -n "$ns" apply -f - >/dev/null
		bin/takt-controller --http-addr 127.0.0.1:0 --namespace "$ns" --qps 2000 --burst 4000 >"$work/$who.log" 2>&1 &
	else
		"$peer_bin" --namespace "$ns" --n "$n" --every "$every" >"$work/$who.log" 2>"$work/$who.err" &
	fi
	proc=$!
	t0=$(date +%s)
	local cp0 cp1
	cp0=$(plane_ticks)
	sleep $((warm + secs))
	t1=$(date +%s)
	cp1=$(plane_ticks)
	plane_cpu "$who" "$cp0" "$cp1"
	# CPU (utime + stime, clock ticks) and peak RSS before stopping.
	read -r ut st < <(sed 's/^.*) //' "/proc/$proc/stat" | awk '{ print $12, $13 }')
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$proc/status")
	kill -TERM "$proc"
	wait "$proc"
	proc=""
	sleep 1
	kill -TERM "$watch"
	wait "$watch" 2>/dev/null
	watch=""
	# takt's own count of its requests (its last log line).
	sed -n 's/.*msg="stopped" rc=[0-9]* \(.*\)/  takt requests: \1/p' "$work/$who.log"
	python3 "$work/analyze.py" "$who" "$work/jobs" "$work/$who.log" $((t0 + warm)) "$t1" \
		"$n" "$secs" "$((ut + st))" "$(getconf CLK_TCK)" "$hwm" "$work/figures" "$every"
	mkdir -p .cache/bench
	cp "$work/$who.log" ".cache/bench/lag-$n-$who.log"
	kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1
	ns=""
}

if [ "$use_peer" != 0 ] && ! build_peer >"$work/why"; then
	echo "  peer: not built ($(tr '\n' ' ' <"$work/why"))"
	use_peer=0
fi

for n in $sizes; do
	: >"$work/figures"
	: >"$work/plane"
	run takt "$n"
	if [ "$use_peer" != 0 ]; then
		run peer "$n"
		awk '$1 == "takt" { a = $2; t = $3 } $1 == "peer" { pa = $2; pt = $3 }
		     END { if (pa > 0 && pt > 0)
			   printf "  takt/peer: apiserver CPU x%.2f, whole control plane CPU x%.2f\n", a / pa, t / pt }' \
			"$work/plane"
		awk '$1 == "takt" { for (i = 2; i <= 7; i++) t[i] = $i }
		     $1 == "peer" { for (i = 2; i <= 7; i++) p[i] = $i }
		     function r(a, b) { return b > 0 ? sprintf("x%.2f", a / b) : "n/a" }
		     END { printf "  takt/peer: watch lag p50 %s, p99 %s; send lag p50 %s, p99 %s; CPU %s; RSS %s\n",
			   r(t[2], p[2]), r(t[3], p[3]), r(t[4], p[4]), r(t[5], p[5]), r(t[6], p[6]), r(t[7], p[7]) }' \
			"$work/figures"
	fi
	echo "^ $n schedules$([ "$every" != 0 ] && echo " every $every s"), ${secs} s measured (logs: .cache/bench/lag-$n-*.log)"
done
