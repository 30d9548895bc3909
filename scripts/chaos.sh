#!/usr/bin/env bash
# The chaos soak (`make chaos`; tests/e2e/test_42_chaos.sh runs a short one):
# two takt-controller replicas with --leader-elect on one namespace, 1-2 s
# Forbid, Allow and Replace schedules (some with ttlSecondsAfterFinished 0
# and history limits 0), and meanwhile:
#   - the leader SIGKILLed every 10-20 s, restarted 1 s later;
#   - the apiserver, etcd or both frozen (SIGSTOP, SIGCONT) for 2-5 s every
#     20-40 s;
#   - run-now requests every 4-8 s, kill requests every 15-20 s.
# Separate recorders (tests/e2e/ctl_watch.py) keep every Job, Pod and
# BatchSchedule event; scripts/chaos_check.py judges them afterwards: no Job
# name added twice, no slot with two runs, no Forbid overlap (pods
# included), every kill and run-now request acted on once, and slots lost
# only while there was no leader or the control plane was frozen. It prints
# handovers, slots lost and the handover time (p50/max). Output is TAP.
#
#   CHAOS_SECONDS   how long the chaos lasts (default 600), then 12 s quiet
#   CHAOS_SEED      the random seed (default: from the clock; printed)
#   CHAOS_KEEP=1    keep the namespace and the recordings (.cache/chaos/...)
# Needs a running cluster (scripts/cluster.sh up); its pids file names the
# processes to freeze.
. "$(dirname "$0")/../tests/e2e/lib.sh"
. "$(dirname "$0")/../tests/e2e/ctl_lib.sh"

CHAOS_SECONDS=${CHAOS_SECONDS:-600}
SEED=${CHAOS_SEED:-$((${EPOCHREALTIME/./} % 32768))}
RANDOM=$SEED
LEASE_S=5
QUIET_S=12 # after the chaos: the last requests are acted on

PIDS_FILE=$T_STATE/pids
pid_of() { awk -v n="$1" '$1 == n { print $2 }' "$PIDS_FILE"; }
API_PID=$(pid_of kube-apiserver)
ETCD_PID=$(pid_of etcd)
if [ -z "$API_PID" ] || [ -z "$ETCD_PID" ] || ! kill -0 "$API_PID" "$ETCD_PID" 2>/dev/null; then
	echo "not ok 1 - a running cluster (scripts/cluster.sh up): no apiserver/etcd pid in $PIDS_FILE"
	exit 1
fi

t_ns_create chaos || t_done
OUT=$T_ROOT/.cache/chaos/$NS
mkdir -p "$OUT"
TL=$OUT/timeline # "<unix s> <what> ...", one line per chaos action
FROZEN=""
declare -A PID=() LOGF=() RESTART_AT=()
GEN=0

ms_now() { echo $((${EPOCHREALTIME/./} / 1000)); }
mark() { echo "$(now) $*" >>"$TL"; }

thaw() {
	[ -n "$FROZEN" ] || return 0
	# shellcheck disable=SC2086
	kill -CONT $FROZEN 2>/dev/null
	mark thaw "$FROZEN"
	FROZEN=""
}
chaos_cleanup() {
	thaw
	local n
	for n in "${!PID[@]}"; do kill -TERM "${PID[$n]}" 2>/dev/null; done
	for n in "${!PID[@]}"; do wait "${PID[$n]}" 2>/dev/null; done
	PID=()
	# A failed soak keeps what it recorded: the evidence.
	if [ -n "${CHAOS_KEEP:-}" ] || [ "$T_FAILED" -gt 0 ]; then
		E2E_KEEP_NS=1
		[ -n "$CTL_DIR" ] && cp "$CTL_DIR"/jobs "$CTL_DIR"/pods "$CTL_DIR"/bs "$OUT"/ 2>/dev/null
		t_diag "kept: namespace $NS, recordings in $OUT"
	else
		rm -rf "$OUT"
	fi
	ctl_cleanup
}
trap chaos_cleanup EXIT
trap "exit 130" INT TERM HUP # (so that the EXIT trap runs: never leave the cluster frozen)

start_replica() { # start_replica NAME
	local name=$1
	GEN=$((GEN + 1))
	LOGF[$name]=$OUT/ctl-$name-$GEN.log
	"$CTL_BIN" --namespace "$NS" --http-addr 127.0.0.1:0 --log-level info \
		--leader-elect --leader-elect-namespace "$NS" \
		--leader-elect-lease-duration "${LEASE_S}s" --leader-elect-renew-deadline 3s \
		--leader-elect-retry-period 1s >"${LOGF[$name]}" 2>&1 &
	PID[$name]=$!
	mark start "$name" "${PID[$name]}" "${LOGF[$name]}"
}
# A replica that ended by itself (it lost the lease, or failed) is restarted
# a second later, as a Deployment's would be.
supervise() {
	local n rc st t=$1
	for n in a b; do
		if [ -n "${PID[$n]:-}" ]; then
			st=$(ps -o stat= -p "${PID[$n]}" 2>/dev/null)
			if [ -z "$st" ] || [[ $st == Z* ]]; then
				wait "${PID[$n]}" 2>/dev/null
				rc=$?
				mark exit "$n" "${PID[$n]}" "$rc"
				unset "PID[$n]"
				RESTART_AT[$n]=$((t + 1000))
			fi
		elif [ "${RESTART_AT[$n]:-0}" -le "$t" ]; then
			start_replica "$n"
		fi
	done
}
leader() { # the live replica that has started leading (a deposed one exits)
	local n
	for n in a b; do
		[ -n "${PID[$n]:-}" ] && grep -q 'msg="started leading"' "${LOGF[$n]}" && echo "$n" && return
	done
}
rand() { echo $(($1 + RANDOM % ($2 - $1 + 1))); } # rand LO HI (inclusive)

# ---- the schedules ----
# sched NAME SCHEDULE POLICY RUN_FOR [SPEC_EXTRA] [JOB_EXTRA]
sched() {
	kn apply -f - >/dev/null <<EOF
apiVersion: takt.io/v1alpha1
kind: BatchSchedule
metadata: {name: $1}
spec:
  schedule: "$2"
  concurrencyPolicy: $3
${5:-}
  jobTemplate:
    spec:
      backoffLimit: 0
${6:-}
      template:
        metadata:
          annotations: {test.takt.io/exit-code: "0", test.takt.io/run-for: "$4"}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 0
          containers: [{name: work, image: example.invalid/work}]
EOF
}
ZERO="  successfulJobsHistoryLimit: 0
  failedJobsHistoryLimit: 0"
TTL0="      ttlSecondsAfterFinished: 0"
# fb: Forbid, runs longer than the period (skips); fz: Forbid with nothing
# kept; al: Allow with nothing kept (every slot runs; run-now goes here);
# rp: Replace, nothing kept; kl: Allow, long runs (kill requests go here).
sched fb "* * * * * *" Forbid 2s "  successfulJobsHistoryLimit: 3" &&
	sched fz "*/2 * * * * *" Forbid 1s "$ZERO" "$TTL0" &&
	sched al "* * * * * *" Allow 1s "$ZERO" "$TTL0" &&
	sched rp "*/2 * * * * *" Replace 3s "$ZERO" &&
	sched kl "*/2 * * * * *" Allow 5s "  successfulJobsHistoryLimit: 5"
t_ok "five schedules (fb fz al rp kl)" kn get bs fb fz al rp kl

ctl_watch_start || {
	t_fail "the recorders started"
	t_done
}
python3 "$T_ROOT/tests/e2e/ctl_watch.py" "/apis/takt.io/v1alpha1/namespaces/$NS/batchschedules" "$CTL_DIR/bs" &
CTL_WATCH_PIDS+=($!)
until_true 20 grep -q '^# listed' "$CTL_DIR/bs"

t_diag "chaos for ${CHAOS_SECONDS} s (seed $SEED), lease ${LEASE_S} s; recordings in $OUT"
mark begin "$SEED"
start_replica a
start_replica b
t0=$(ms_now)
end=$((t0 + CHAOS_SECONDS * 1000))
next_kill=$((t0 + $(rand 10000 20000)))
next_freeze=$((t0 + $(rand 15000 30000)))
next_runnow=$((t0 + $(rand 3000 6000)))
next_killreq=$((t0 + $(rand 8000 14000)))
thaw_at=0
n_runnow=0
n_killreq=0
annotate() { # annotate SCHED KEY VALUE: 0 when the apiserver took it
	kn annotate bs "$1" "$2=$3" --overwrite --request-timeout=5s >/dev/null 2>&1
}
while :; do
	t=$(ms_now)
	[ "$t" -lt "$end" ] || break
	supervise "$t"
	if [ -n "$FROZEN" ] && [ "$t" -ge "$thaw_at" ]; then
		thaw
	fi
	if [ "$t" -ge "$next_kill" ]; then
		l=$(leader)
		if [ -n "$l" ]; then
			# (bash's "Killed" notice for its child: not wanted in the TAP)
			{
				kill -KILL "${PID[$l]}"
				mark kill "$l" "${PID[$l]}"
				wait "${PID[$l]}"
			} 2>/dev/null
			unset "PID[$l]"
			RESTART_AT[$l]=$((t + 1000))
		fi
		next_kill=$((t + $(rand 10000 20000)))
	fi
	if [ -z "$FROZEN" ] && [ "$t" -ge "$next_freeze" ]; then
		case $((RANDOM % 3)) in
		0) FROZEN=$API_PID what=apiserver ;;
		1) FROZEN=$ETCD_PID what=etcd ;;
		*) FROZEN="$API_PID $ETCD_PID" what=both ;;
		esac
		dur=$(rand 2000 5000)
		# shellcheck disable=SC2086
		kill -STOP $FROZEN
		mark freeze "$what" "$dur"
		thaw_at=$((t + dur))
		next_freeze=$((t + dur + $(rand 20000 40000)))
	fi
	if [ -z "$FROZEN" ] && [ "$t" -ge "$next_runnow" ]; then
		n_runnow=$((n_runnow + 1))
		id=rn-$n_runnow
		if annotate al takt.io/run-now "$id"; then mark run-now al "$id"; else mark request-failed al "$id"; fi
		next_runnow=$((t + $(rand 4000 8000)))
	fi
	if [ -z "$FROZEN" ] && [ "$t" -ge "$next_killreq" ]; then
		n_killreq=$((n_killreq + 1))
		id=kq-$n_killreq
		if annotate kl takt.io/kill "$id"; then mark kill-request kl "$id"; else mark request-failed kl "$id"; fi
		next_killreq=$((t + $(rand 15000 20000)))
	fi
	sleep 0.2
done
thaw
mark end-chaos
# Quiet: both replicas up, no faults, so the last requests are acted on.
quiet_end=$(($(ms_now) + QUIET_S * 1000))
while [ "$(ms_now)" -lt "$quiet_end" ]; do
	supervise "$(ms_now)"
	sleep 0.2
done
for n in a b; do
	if [ -n "${PID[$n]:-}" ]; then
		kill -TERM "${PID[$n]}"
		wait "${PID[$n]}" 2>/dev/null
		mark stop "$n" "${PID[$n]}" "$?"
		unset "PID[$n]"
	fi
done
mark end
ctl_sync || t_diag "ctl_sync: the recorders did not catch up within 30 s"
# (after the stop: the sync markers' own events are recorded, nothing else)
FACTS=$(python3 "$T_ROOT/scripts/chaos_check.py" "$OUT" "$CTL_DIR" 2>&1)
echo "$FACTS" | grep -v '^fact ' | t_diag
cf() { echo "$FACTS" | awk -v k="$1" '$1 == "fact" && $2 == k { print $3 }'; }
t_cmp "Jobs created ($(cf jobs))" "$(cf jobs)" -ge $((CHAOS_SECONDS / 2))
# (one every 10-20 s when there is a leader to kill; at least one in a short run)
min_kills=$((CHAOS_SECONDS / 40))
[ "$min_kills" -ge 1 ] || min_kills=1
t_cmp "leaders killed ($(cf kills))" "$(cf kills)" -ge "$min_kills"
t_is "the recorders lost no event (no watch ERROR)" "$(cf recorder_errors)" 0
t_is "no Job name added twice" "$(cf dup_names)" 0
t_is "no slot with two runs" "$(cf dup_slots)" 0
t_is "no Forbid overlap, pods included" "$(cf forbid_overlaps)" 0
t_is "every run-now request acted on ($(cf runnow_requests) requests)" "$(cf runnow_unanswered)" 0
t_is "no run-now request acted on twice" "$(cf runnow_twice)" 0
t_is "every kill request acted on ($(cf kill_requests) requests)" "$(cf kill_unanswered)" 0
t_is "no kill request acted on twice" "$(cf kill_twice)" 0
t_is "slots lost outside leaderless and frozen windows ($(cf lost_inside) inside)" "$(cf lost_outside)" 0
t_cmp "SIGKILL handovers away from freezes within lease + 5 s (max $(cf handover_max) s, p50 all $(cf handover_p50) s)" "$(cf handover_max)" -le $((LEASE_S + 5))
t_done
