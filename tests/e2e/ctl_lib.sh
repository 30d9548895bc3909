# shellcheck shell=bash
# Helpers for the controller's e2e tests (tests/e2e/test_10_*.sh), on top of
# lib.sh: one takt-controller per test namespace, recorded watch streams, and
# the facts ctl_runs.py derives from them.
#
#   . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/ctl_lib.sh"
#   t_ns_create x || t_done
#   ctl_watch_start                  # jobs + pods streams of $NS, recorded
#   ctl_start                        # bin/takt-controller --namespace $NS
#   bs_apply NAME SCHEDULE POLICY RUN_FOR [EXIT_CODE] [EXTRA_SPEC_YAML]
#   sleep 20; ctl_facts NAME; fact jobs   # -> a number (streams synced first)
#   ctl_pod_end POD NAME; pend deletion_grace  # how one pod ended (synced first)
# Everything started here is stopped when the script exits.

CTL_BIN=${TAKT_CONTROLLER:-$T_ROOT/bin/takt-controller}
CTL_LOGDIR=${TAKT_TEST_LOGS:-$T_ROOT/.cache/test-logs}
CTL_PID=""
declare -A CTL_PIDS=() # ctl_start_named: name -> pid
CTL_WATCH_PIDS=()
CTL_DIR=""
mkdir -p "$CTL_LOGDIR"

ctl_cleanup() {
	local p
	[ -n "$CTL_PID" ] && kill -TERM "$CTL_PID" 2>/dev/null && wait "$CTL_PID" 2>/dev/null
	# (-CONT: a test may have left one stopped, which TERM would not end)
	for p in "${CTL_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; kill -CONT "$p" 2>/dev/null; done
	for p in "${CTL_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	CTL_PIDS=()
	for p in "${CTL_WATCH_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${CTL_WATCH_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	CTL_PID=""
	CTL_WATCH_PIDS=()
	t_ns_delete
	[ -n "$CTL_DIR" ] && rm -rf "$CTL_DIR"
	return 0
}

# t_ns_create sets its own EXIT trap: call this after it.
ctl_trap() { trap ctl_cleanup EXIT; }

# ctl_start [ARGS...]: the controller for $NS, logging to the test log dir.
ctl_start() {
	local log=$CTL_LOGDIR/controller-$NS.log
	"$CTL_BIN" --http-addr 127.0.0.1:0 --namespace "$NS" --log-level "${CTL_LOG_LEVEL:-info}" "$@" >>"$log" 2>&1 &
	CTL_PID=$!
	t_diag "takt-controller pid $CTL_PID, log $log"
}

# ctl_stop: SIGTERM and wait; returns the controller's exit status.
ctl_stop() {
	local rc=0
	[ -n "$CTL_PID" ] || return 0
	kill -TERM "$CTL_PID" 2>/dev/null
	wait "$CTL_PID" 2>/dev/null || rc=$?
	CTL_PID=""
	return $rc
}

ctl_kill9() {
	[ -n "$CTL_PID" ] || return 0
	kill -KILL "$CTL_PID" 2>/dev/null
	wait "$CTL_PID" 2>/dev/null
	CTL_PID=""
}

ctl_log() { cat "$CTL_LOGDIR/controller-$NS.log" 2>/dev/null; }

# Several controllers on one namespace at once (leader election), by name:
# ctl_start_named NAME [ARGS...] starts one (log controller-$NS-NAME.log);
# ctl_signal_named NAME SIG sends SIG, waits, returns its exit status;
# ctl_log_named NAME prints its log.
ctl_start_named() {
	local name=$1 log
	shift
	log=$CTL_LOGDIR/controller-$NS-$name.log
	"$CTL_BIN" --http-addr 127.0.0.1:0 --namespace "$NS" --log-level "${CTL_LOG_LEVEL:-info}" "$@" >>"$log" 2>&1 &
	CTL_PIDS[$name]=$!
	t_diag "takt-controller $name pid ${CTL_PIDS[$name]}, log $log"
}
ctl_signal_named() {
	local name=$1 sig=$2 rc=0 pid=${CTL_PIDS[$1]:-}
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || rc=$?
	unset "CTL_PIDS[$name]"
	return $rc
}
ctl_log_named() { cat "$CTL_LOGDIR/controller-$NS-$1.log" 2>/dev/null; }

# ctl_watch_start: records the Jobs and Pods of $NS from now on.
ctl_watch_start() {
	CTL_DIR=$(mktemp -d "${TMPDIR:-/tmp}/takt-e2e.XXXXXX")
	python3 "$T_ROOT/tests/e2e/ctl_watch.py" "/apis/batch/v1/namespaces/$NS/jobs" "$CTL_DIR/jobs" &
	CTL_WATCH_PIDS+=($!)
	python3 "$T_ROOT/tests/e2e/ctl_watch.py" "/api/v1/namespaces/$NS/pods" "$CTL_DIR/pods" &
	CTL_WATCH_PIDS+=($!)
	# Ready once both listed, plus the time kubectl takes to open the watch.
	until_true 20 grep -q '^# listed' "$CTL_DIR/jobs" || return 1
	until_true 20 grep -q '^# listed' "$CTL_DIR/pods" || return 1
	sleep 1
}

# ctl_sync: waits until the recorded streams hold every event up to now. It
# creates a marker Job (suspended: no pods) and a marker pod (an unknown
# scheduler: never bound, nothing runs it); a watch delivers events in
# resourceVersion order, so once a stream has recorded its marker it has
# recorded everything before it. The markers carry no takt.io/schedule label:
# the controller, ctl_runs.py and jobs_of never see them.
CTL_SYNC_N=0
ctl_sync() {
	local m
	CTL_SYNC_N=$((CTL_SYNC_N + 1))
	m=ctl-sync-$CTL_SYNC_N
	kn create -f - >/dev/null <<EOF || return 1
apiVersion: batch/v1
kind: Job
metadata: {name: $m}
spec:
  suspend: true
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: example.invalid/x}]
---
apiVersion: v1
kind: Pod
metadata: {name: $m}
spec:
  schedulerName: takt-e2e-none
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: example.invalid/x}]
EOF
	until_true 30 grep -q "\"name\":\"$m\"" "$CTL_DIR/jobs" &&
		until_true 30 grep -q "\"name\":\"$m\"" "$CTL_DIR/pods"
}

# ctl_facts SCHEDULE: computes the facts of its runs so far (fact KEY reads),
# once the recorded streams have caught up (ctl_sync), not after a fixed
# pause, which kubectl's watch and the recorder can outlast on a busy machine.
CTL_FACTS=""
ctl_facts() {
	ctl_sync || t_diag "ctl_sync: the recorded streams did not catch up within 30 s"
	CTL_FACTS=$(python3 "$T_ROOT/tests/e2e/ctl_runs.py" "$1" "$CTL_DIR/jobs" "$CTL_DIR/pods")
	t_diag "$1: $(echo "$CTL_FACTS" | tr '\n' ' ')"
}
fact() { echo "$CTL_FACTS" | awk -v k="$1" '$1 == k { print $2 }'; }

# ctl_pod_end POD SCHEDULE: how POD ended and which runs of SCHEDULE started
# before it was gone (ctl_pod_end.py; pend KEY reads), once the recorded
# streams have caught up. Needs ctl_watch_start before POD was deleted.
CTL_PEND=""
ctl_pod_end() {
	ctl_sync || t_diag "ctl_sync: the recorded streams did not catch up within 30 s"
	CTL_PEND=$(python3 "$T_ROOT/tests/e2e/ctl_pod_end.py" "$1" "$2" "$CTL_DIR/jobs" "$CTL_DIR/pods")
	t_diag "pod $1: $(echo "$CTL_PEND" | tr '\n' ' ')"
}
pend() { echo "$CTL_PEND" | awk -v k="$1" '$1 == k { print $2 }'; }

# bs_apply NAME SCHEDULE POLICY RUN_FOR [EXIT_CODE] [EXTRA]: a BatchSchedule
# whose runs last RUN_FOR (empty: until deleted) and end with EXIT_CODE.
# EXTRA is more spec YAML, indented by two spaces.
bs_apply() {
	local name=$1 schedule=$2 policy=$3 run_for=$4 code=${5:-0} extra=${6:-} ann
	ann="test.takt.io/exit-code: \"$code\""
	[ -n "$run_for" ] && ann="$ann, test.takt.io/run-for: \"$run_for\""
	kn apply -f - <<EOF
apiVersion: takt.io/v1alpha1
kind: BatchSchedule
metadata: {name: $name}
spec:
  schedule: "$schedule"
  concurrencyPolicy: $policy
$extra
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        metadata:
          annotations: {$ann}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: ${BS_GRACE:-0}
          containers: [{name: work, image: example.invalid/work}]
EOF
}

bs_status() { kn get bs "$1" -o jsonpath="{.status.$2}" 2>/dev/null; }
# bs_status_ge NAME FIELD N: status.FIELD is a number >= N (prints it; for
# wait_for: the controller writes the status after the fact it counts).
bs_status_ge() {
	local v
	v=$(bs_status "$1" "$2")
	echo "${v:-<unset>}"
	[ -n "$v" ] && [ "$v" -ge "$3" ]
}
bs_cond() { # bs_cond NAME TYPE FIELD
	kn get bs "$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].$3}" 2>/dev/null
}
bs_cond_is() { [ "$(bs_cond "$1" "$2" status)" = "$3" ]; }
# events_with REASON [TYPE]: Events of that reason (their counts summed).
events_with() {
	kn get events -o json 2>/dev/null | python3 -c '
import json, sys
r, t = sys.argv[1], sys.argv[2]
print(sum(e.get("count") or 1 for e in json.load(sys.stdin)["items"]
          if e.get("reason") == r and (not t or e.get("type") == t)))' "$1" "${2:-}"
}
# events_at_least REASON TYPE N: at least N such Events (prints the count).
# The controller posts Events fire-and-forget: poll them with wait_for.
events_at_least() {
	local n
	n=$(events_with "$1" "$2")
	echo "$n"
	[ "${n:-0}" -ge "$3" ]
}
jobs_of() { kn get jobs -l "takt.io/schedule=$1" -o jsonpath='{.items[*].metadata.name}' 2>/dev/null; }
count_jobs_of() { jobs_of "$1" | wc -w; }
# jobs_of_after NAME SECS: Jobs of NAME whose slot (name suffix) is >= SECS.
jobs_of_after() {
	local j n=0
	for j in $(jobs_of "$1"); do [ "${j##*-}" -ge "$2" ] && n=$((n + 1)); done
	echo $n
}
# As polled commands (wait_for, until_true evaluate them on every try):
jobs_at_least() { [ "$(count_jobs_of "$1")" -ge "$2" ]; }     # NAME N
jobs_after_at_least() { [ "$(jobs_of_after "$1" "$2")" -ge "$3" ]; } # NAME SECS N
