#!/usr/bin/env bash
# make bench-scale: what N idle BatchSchedules cost takt, beside what N
# CronJobs cost kube-controller-manager's CronJob controller, on the local
# control plane, in the same run (issue 15; docs/testing.md, "Scale").
#   SCALE_N="1000 5000 10000"   schedule counts to try
#   SCALE_IDLE=60               seconds of the idle CPU window
#   SCALE_LAG=30                seconds of the 1-second schedule's lag window
#   SCALE_KCM=0                 skip the CronJob side
#   SCALE_TAKT=PATH             the controller binary (bin/takt-controller):
#                               another build, for a before/after pair
#
# First a baseline: takt on a namespace holding only `tick`, a schedule
# firing every second (runs of 1 s, history 1): its anonymous memory and
# tick's lag on an otherwise empty namespace. Then, for each N, in a fresh
# namespace: tick + N idle schedules (scripts/bench-scale.py gen: ~600 bytes
# of spec, Asia/Seoul, daily / weekday / monthly / yearly, none due within
# three hours) are created, then takt is started (first start: no status
# yet) with its default client limits, and printed:
#   created       how long creating the N objects took (8 kubectl in parallel)
#   synced        takt's start to its "caches synced" log line
#   statuses      takt's start to the last schedule's first status (a watch
#                 of the namespace's BatchSchedules, stamped on receipt)
#   tick lag      the Job's ADDED, received by a watcher, minus its slot:
#                 from the sync to the last first status (start-up) and over
#                 SCALE_LAG s after it (steady)
#   RSS           VmHWM (peak) and VmRSS after sync, RssAnon, and RssAnon
#                 minus the baseline's per schedule
#   idle CPU      utime + stime over SCALE_IDLE s with tick suspended
#   requests      takt's own count (its "stopped" log line)
#   restart       takt started again on the same namespace (every status
#                 there, tick suspended): time to sync, RSS 15 s later
# and for kube-controller-manager, while takt idles: its RSS before and
# after N CronJobs of the same schedules (minute fields) and the lag of a
# `* * * * *` CronJob beside them (one or two slots: CronJobs have minute
# resolution). The control plane is shared, so the two sides are measured
# one after the other; nothing of one namespace is watched by the other.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sizes=${SCALE_N:-1000 5000 10000}
idle=${SCALE_IDLE:-60}
lagw=${SCALE_LAG:-30}
use_kcm=${SCALE_KCM:-1}
takt_bin=${SCALE_TAKT:-bin/takt-controller}
py=scripts/bench-scale.py

# shellcheck source=tests/bench/lib.bash
. tests/bench/lib.bash
bench_cluster || exit 1

work=$(mktemp -d "${TMPDIR:-/tmp}/takt-scale.XXXXXX")
# The processes started: takt and the watchers (stopped by name, see stop).
takt="" w_jobs="" w_scheds="" w_cjobs=""
nss=()
cleanup() {
	local p n
	for p in $takt $w_jobs $w_scheds $w_cjobs; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	for n in "${nss[@]}"; do kubectl delete namespace "$n" --wait=false >/dev/null 2>&1; done
	rm -rf "$work"
	[ -n "$started_cluster" ] && bash scripts/cluster.sh down
	return 0
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
kcm_pid() { awk '$1 == "kube-controller-manager" { print $2 }' "${TAKT_CLUSTER_STATE:-.cache/cluster}/pids"; }
hz=$(getconf CLK_TCK)
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

# Waits (up to 5 min) until no earlier bench-scale namespace is left: a run
# that starts while the last one's objects are still being deleted pays for
# that work.
settle() {
	local i
	for i in $(seq 300); do
		kubectl get namespaces -o name 2>/dev/null | grep -q '^namespace/scale-' || return 0
		sleep 1
	done
	echo "  (a previous bench namespace is still being deleted after 5 min)"
}

newns() { # newns PREFIX: creates a fresh namespace, prints its name
	local n
	n=scale-$1-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	kubectl create namespace "$n" >/dev/null || return 1
	nss+=("$n")
	echo "$n"
}

tick() {
	cat <<EOF
apiVersion: takt.io/v1alpha1
kind: BatchSchedule
metadata: {name: tick}
spec:
  schedule: "* * * * * *"
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
}

cron_tick() {
	cat <<EOF
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "* * * * *"
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
}

# create KIND N NS: the N objects, 8 kubectl at a time; prints seconds.
create() {
	local t0 dir=$work/gen-$1-$2
	rm -rf "$dir"
	python3 "$py" gen "$1" "$2" 0 "$dir" || return 1
	t0=$(now_ms)
	find "$dir" -name '*.json' -print0 |
		xargs -0 -P 8 -I{} kubectl -n "$3" create -f {} -o name >/dev/null 2>"$work/create.err" ||
		{ tail -3 "$work/create.err"; }
	awk -v a="$t0" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'
}

# watch VAR PATH OUT: records a watch stream into OUT, its pid in VAR;
# waits until it has listed.
watch() {
	python3 tests/e2e/ctl_watch.py "$2" "$3" &
	printf -v "$1" %s $!
	until grep -q '^# listed' "$3" 2>/dev/null; do sleep 0.2; done
}

stop() { # stop VAR: stops the process whose pid VAR holds
	local p=${!1}
	[ -n "$p" ] && kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	printf -v "$1" %s ""
}

start_takt() { # start_takt NS LOG
	"$takt_bin" --http-addr 127.0.0.1:0 --namespace "$1" >"$2" 2>&1 &
	takt=$!
}

# ms of the first log line matching msg="$2" in $1, or empty
log_ms() {
	sed -n "s/^ts=\([^ ]*\) .*msg=\"$2\".*/\1/p" "$1" | head -1 |
		python3 -c 'import sys,datetime
s=sys.stdin.read().strip()
print("%.0f" % (datetime.datetime.fromisoformat(s.replace("Z","+00:00")).timestamp()*1000) if s else "")'
}

lag_line() { # lag_line LABEL JOBS A B ANNOTATION [SLOTS]: SLOTS set: print "of ~S slots" (1-second tick)
	python3 "$py" lag "$2" "$3" "$4" "$5" |
		awk -v l="$1" -v s="${6:-}" '{ printf "  %-22s n=%-4d%s p50=%5s ms  p99=%5s ms  max=%5s ms\n", l, $1,
			(s != "" ? sprintf(" of %d slots", $5) : ""), $2, $3, $4 }'
}

echo "  machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- baseline: tick alone ----
settle
ns=$(newns base) || exit 1
tick | kubectl -n "$ns" apply -f - >/dev/null
: >"$work/base-jobs"
watch w_jobs "/apis/batch/v1/namespaces/$ns/jobs" "$work/base-jobs"
start_takt "$ns" "$work/base.log"
t0=$(now_ms)
until grep -q 'msg="caches synced"' "$work/base.log"; do sleep 0.2; done
sleep 5
a=$(now_ms)
sleep "$lagw"
base_anon=$(status_kb "$takt" RssAnon)
echo "takt, empty namespace + tick: VmRSS $(mib "$(status_kb "$takt" VmRSS)"), RssAnon $(mib "$base_anon"), VmHWM $(mib "$(status_kb "$takt" VmHWM)")"
lag_line "tick lag (steady)" "$work/base-jobs" "$a" "$(now_ms)" takt.io/scheduled-time slots
stop takt
stop w_jobs
kubectl delete namespace "$ns" --wait=false >/dev/null

for n in $sizes; do
	settle
	echo "=== $n schedules  (load $(cut -d' ' -f1-3 /proc/loadavg))"
	ns=$(newns takt-"$n") || exit 1
	tick | kubectl -n "$ns" apply -f - >/dev/null
	echo "  created $n BatchSchedules in $(create takt "$n" "$ns") s"
	: >"$work/jobs"
	: >"$work/scheds"
	watch w_jobs "/apis/batch/v1/namespaces/$ns/jobs" "$work/jobs"
	watch w_scheds "/apis/takt.io/v1alpha1/namespaces/$ns/batchschedules" "$work/scheds"
	log=$work/takt-$n.log
	start_takt "$ns" "$log"
	t0=$(now_ms)
	# The last first status, up to 5 min.
	read -r got last < <(echo 0 nan)
	for _ in $(seq 150); do
		sleep 2
		read -r got last < <(python3 "$py" statuses "$work/scheds" "$t0" $((n + 1)))
		[ "$got" -ge $((n + 1)) ] && break
	done
	synced=$(log_ms "$log" "caches synced")
	t_all=$(now_ms)
	up_cpu=$(cpu_ticks "$takt")
	echo "  takt: synced after $(awk -v a="$t0" -v b="$synced" 'BEGIN { printf "%.1f", (b - a) / 1000 }') s;" \
		"$got of $((n + 1)) first statuses, the last after $(awk -v l="$last" 'BEGIN { printf "%.1f", l / 1000 }') s;" \
		"$(awk -v t="$up_cpu" -v h="$hz" 'BEGIN { printf "%.2f", t / h }') CPU s so far"
	sleep "$lagw"
	lag_line "tick lag (start-up)" "$work/jobs" "${synced:-$t0}" "$t_all" takt.io/scheduled-time slots
	lag_line "tick lag (steady)" "$work/jobs" "$t_all" "$(now_ms)" takt.io/scheduled-time slots
	anon=$(status_kb "$takt" RssAnon)
	echo "  takt RSS: VmHWM $(mib "$(status_kb "$takt" VmHWM)"), VmRSS $(mib "$(status_kb "$takt" VmRSS)")," \
		"RssAnon $(mib "$anon"); RssAnon - baseline: $(awk -v a="$anon" -v b="$base_anon" -v n="$n" \
			'BEGIN { printf "%.0f bytes per schedule", (a - b) * 1024 / n }')"
	stop w_scheds
	kubectl -n "$ns" patch batchschedule tick --type merge -p '{"spec":{"suspend":true}}' >/dev/null
	sleep 3
	c0=$(cpu_ticks "$takt")

	# kube-controller-manager's side, while takt idles.
	if [ "$use_kcm" != 0 ]; then
		k=$(kcm_pid)
		k_rss0=$(status_kb "$k" VmRSS)
		k_anon0=$(status_kb "$k" RssAnon)
		cns=$(newns cron-"$n")
		: >"$work/cjobs"
		watch w_cjobs "/apis/batch/v1/namespaces/$cns/jobs" "$work/cjobs"
		cron_tick | kubectl -n "$cns" apply -f - >/dev/null
		ct=$(create cron "$n" "$cns")
		ca=$(now_ms)
	fi
	sleep "$idle"
	c1=$(cpu_ticks "$takt")
	echo "  takt idle: $(awk -v t=$((c1 - c0)) -v h="$hz" -v s="$idle" \
		'BEGIN { printf "%.2f CPU s over %d s (%.2f%% of a core)", t / h, s, 100 * t / h / s }')"
	if [ "$use_kcm" != 0 ]; then
		# At least one minute boundary after the CronJobs exist, plus 10 s
		# for the Job to be seen.
		now=$(date +%s)
		want=$(((ca / 1000 / 60 + 1) * 60 + 10))
		[ "$now" -lt "$want" ] && sleep $((want - now))
		k_rss1=$(status_kb "$k" VmRSS)
		k_anon1=$(status_kb "$k" RssAnon)
		echo "  kcm: created $n CronJobs in $ct s; VmRSS $(mib "$k_rss0") -> $(mib "$k_rss1")," \
			"RssAnon $(mib "$k_anon0") -> $(mib "$k_anon1"): $(awk -v a="$k_anon1" -v b="$k_anon0" -v n="$n" \
				'BEGIN { printf "%.0f bytes per CronJob", (a - b) * 1024 / n }')"
		lag_line "CronJob tick lag" "$work/cjobs" "$ca" "$(now_ms)" batch.kubernetes.io/cronjob-scheduled-timestamp
		stop w_cjobs
		kubectl delete namespace "$cns" --wait=false >/dev/null
	fi
	stop takt
	sed -n 's/.*msg="stopped" rc=[0-9]* \(.*\)/  takt requests: \1/p' "$log"
	# A restart: every status is there, nothing to write (tick suspended).
	start_takt "$ns" "$work/restart-$n.log"
	t0=$(now_ms)
	until grep -q 'msg="caches synced"' "$work/restart-$n.log"; do sleep 0.2; done
	synced=$(log_ms "$work/restart-$n.log" "caches synced")
	sleep 15
	anon=$(status_kb "$takt" RssAnon)
	echo "  takt restart: synced after $(awk -v a="$t0" -v b="$synced" 'BEGIN { printf "%.1f", (b - a) / 1000 }') s;" \
		"15 s later VmHWM $(mib "$(status_kb "$takt" VmHWM)"), VmRSS $(mib "$(status_kb "$takt" VmRSS)")," \
		"RssAnon $(mib "$anon"); RssAnon - baseline: $(awk -v a="$anon" -v b="$base_anon" -v n="$n" \
			'BEGIN { printf "%.0f bytes per schedule", (a - b) * 1024 / n }')"
	stop takt
	sed -n 's/.*msg="stopped" rc=[0-9]* \(.*\)/  takt restart requests: \1/p' "$work/restart-$n.log"
	stop w_jobs
	mkdir -p .cache/bench
	cp "$log" ".cache/bench/scale-$n-takt.log"
	kubectl delete namespace "$ns" --wait=false >/dev/null
done
