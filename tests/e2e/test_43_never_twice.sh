#!/usr/bin/env bash
# Issue 12 item 1: a slot never runs twice once its Job is gone. Until the
# status write that records a slot lands, the Job's name was the only
# record of it; with the Job gone (ttlSecondsAfterFinished: 0, history
# limit 0, a user's delete) a controller that decides the slot again finds
# no Job and would create it a second time. Three ways to get there, each on
# its own schedule firing every 4 s, with a watcher recording every Job
# ADDED; the assertion is the same for each: no Job name ADDED twice.
#   (a) the controller SIGKILLed as soon as it logs "job created" and
#       started again 2 s later, 12 times (ttlSecondsAfterFinished: 0,
#       history limits 0);
#   (b) the status writes of a schedule refused for a while by a
#       ValidatingAdmissionPolicy (ttlSecondsAfterFinished: 0);
#   (c) a user deleting each Job as soon as it appears;
#   (d) a run-now request (ttlSecondsAfterFinished: 0, history limits 0)
#       whose controller is SIGKILLed as soon as it logs "job created",
#       6 times: the request is not recorded handled, the Job is gone when
#       the next controller starts, and it must not create it again.
# NEVER_TWICE_CASES=d runs only (d) (the default runs all).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

t_ns_create never-twice || t_done
POLICY=takt-e2e-refuse-status-$NS
cleanup() {
	kubectl delete validatingadmissionpolicybinding "$POLICY" --ignore-not-found >/dev/null 2>&1
	kubectl delete validatingadmissionpolicy "$POLICY" --ignore-not-found >/dev/null 2>&1
	[ -n "${DELETER_PID:-}" ] && kill "$DELETER_PID" 2>/dev/null && wait "$DELETER_PID" 2>/dev/null
	ctl_cleanup
}
trap cleanup EXIT
ctl_watch_start

# bs_ttl0 NAME RUN_FOR [SCHEDULE]: every 4 s, Allow, history limits 0, and
# Jobs that the TTL controller deletes as soon as they finish.
bs_ttl0() {
	kn apply -f - <<EOF
apiVersion: takt.io/v1alpha1
kind: BatchSchedule
metadata: {name: $1}
spec:
  schedule: "${3:-*/4 * * * * *}"
  concurrencyPolicy: Allow
  successfulJobsHistoryLimit: 0
  failedJobsHistoryLimit: 0
  jobTemplate:
    spec:
      backoffLimit: 0
      ttlSecondsAfterFinished: 0
      template:
        metadata:
          annotations: {test.takt.io/exit-code: "0", test.takt.io/run-for: "$2"}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 0
          containers: [{name: work, image: example.invalid/work}]
EOF
}

# added_twice NAME: the Job names of schedule NAME that the recorded stream
# shows ADDED more than once (one per line), then "total N".
added_twice() {
	python3 - "$1" "$CTL_DIR/jobs" <<'PY'
import collections, json, sys
sched, path = sys.argv[1], sys.argv[2]
added = collections.Counter()
for line in open(path):
    if line.startswith("#"):
        continue
    try:
        ev = json.loads(line.split(" ", 1)[1])
    except (ValueError, IndexError):
        continue
    meta = ev.get("object", {}).get("metadata", {})
    if ev.get("type") == "ADDED" and (meta.get("labels") or {}).get("takt.io/schedule") == sched:
        added[meta["name"]] += 1
for name, n in sorted(added.items()):
    if n > 1:
        print("%s %d" % (name, n))
print("total %d" % len(added))
PY
}

# kill_at_line LOG OFFSET REGEX PID TIMEOUT: SIGKILLs PID as soon as a line
# matching REGEX is written to LOG after byte OFFSET; 1 on timeout.
kill_at_line() {
	python3 - "$@" <<'PY'
import os, re, signal, sys, time
path, off, rx, pid, timeout = sys.argv[1], int(sys.argv[2]), re.compile(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
end = time.time() + timeout
with open(path, "rb") as f:
    f.seek(off)
    buf = b""
    while time.time() < end:
        chunk = f.read()
        if not chunk:
            time.sleep(0.002)
            continue
        buf += chunk
        *lines, buf = buf.split(b"\n")
        if any(rx.search(l.decode("utf-8", "replace")) for l in lines):
            os.kill(pid, signal.SIGKILL)
            sys.exit(0)
sys.exit(1)
PY
}

check_once() { # check_once NAME WHAT MIN_JOBS
	local out twice total
	out=$(added_twice "$1")
	twice=$(echo "$out" | grep -vc '^total' || true)
	total=$(echo "$out" | awk '$1 == "total" { print $2 }')
	[ "$twice" -gt 0 ] && t_diag "$1: added twice: $(echo "$out" | grep -v '^total' | tr '\n' ' ')"
	t_cmp "$2: Jobs created ($total)" "$total" -ge "$3"
	t_is "$2: no Job name ADDED twice" "$twice" 0
}

CASES=${NEVER_TWICE_CASES:-abcd}
log=$CTL_LOGDIR/controller-$NS.log

# ---- (b) and (c): one controller, no kills -----------------------------------
if [[ $CASES == *b* ]]; then
ctl_start
t_ok "schedule refused (ttl 0) created" bs_ttl0 refused 0s
t_ok "schedule deleted-by-user created" bs_apply deleted "*/4 * * * * *" Allow "" 0
until_true 20 grep -q '"name":"refused-' "$CTL_DIR/jobs"
kubectl apply -f - >/dev/null <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: $POLICY}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [takt.io]
      apiVersions: ["*"]
      operations: [UPDATE]
      resources: [batchschedules/status]
  validations:
  - expression: "object.metadata.name != 'refused'"
    message: "e2e: the status writes of refused are refused"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: $POLICY}
spec:
  policyName: $POLICY
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {kubernetes.io/metadata.name: $NS}
EOF
t_is "a policy refusing the status writes of refused applied" "$?" 0
# The user: every Job of deleted is deleted as soon as it is seen.
(
	while :; do
		for j in $(jobs_of deleted); do kn delete job "$j" --wait=false >/dev/null 2>&1; done
		sleep 0.1
	done
) &
DELETER_PID=$!
# The policy takes effect within a second or two; then each status write
# of refused fails and is retried, while its Jobs finish and are deleted.
wait_for 30 "a status write refused by the policy" grep -q 'status write failed.*obj=[^ ]*/refused' "$CTL_LOGDIR/controller-$NS.log"
sleep 16
kubectl delete validatingadmissionpolicybinding "$POLICY" >/dev/null
kubectl delete validatingadmissionpolicy "$POLICY" >/dev/null
kill "$DELETER_PID" 2>/dev/null
wait "$DELETER_PID" 2>/dev/null
DELETER_PID=""
sleep 6
ctl_stop
t_is "the controller exits 0 on SIGTERM" "$?" 0
ctl_sync || t_diag "ctl_sync: the recorded stream did not catch up"
check_once refused "status writes refused" 4
check_once deleted "Jobs deleted by a user" 4
refused_missed=$(bs_status refused missed)
t_diag "refused: runsStarted=$(bs_status refused runsStarted) missed=${refused_missed:-0}"
fi

# ---- (a) SIGKILL at "job created", 12 times -----------------------------------
if [[ $CASES == *a* ]]; then
t_ok "schedule killed (ttl 0, history 0) created" bs_ttl0 killed 0s
kills=0
for i in $(seq 1 12); do
	offset=$(stat -c %s "$log" 2>/dev/null || echo 0)
	ctl_start
	# At most one slot (4 s) plus the start-up; the log is polled every
	# 2 ms, so the kill lands within milliseconds of the POST's answer,
	# around the status write that follows it.
	if kill_at_line "$log" "$offset" 'job created.*obj=[^ ]*/killed' "$CTL_PID" 15; then
		kills=$((kills + 1))
	else
		t_diag "kill $i: no Job created within 15 s"
	fi
	ctl_kill9
	sleep 2
done
t_is "SIGKILLed right after a Job was created, 12 times" "$kills" 12
ctl_start
sleep 9
ctl_stop
t_is "the restarted controller exits 0 on SIGTERM" "$?" 0
ctl_sync || t_diag "ctl_sync: the recorded stream did not catch up"
check_once killed "SIGKILL after the POST" 12
t_diag "killed: runsStarted=$(bs_status killed runsStarted) missed=$(bs_status killed missed)"
fi

# ---- (d) run-now: SIGKILL at "job created", 6 times ---------------------------
# The request's Job name is derived from its id, so a second create of it
# shows as the same name ADDED twice. Each request is made while a
# controller runs; it is killed as soon as the request's Job is created,
# the Job finishes and its TTL deletes it, and the next controller must
# settle the request (recorded in lastRunNow) without creating it again.
if [[ $CASES == *d* ]]; then
t_ok "schedule runnow (yearly, ttl 0, history 0) created" bs_ttl0 runnow 0s "0 0 0 1 1 *"
# The kill must land before the status write recording the request, which
# otherwise follows the POST's answer within a millisecond: a policy
# refuses every status write of runnow that records a request started
# (lastRunNow.jobName, not claimed, not lost), as the crash would lose it.
kubectl apply -f - >/dev/null <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: $POLICY}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [takt.io]
      apiVersions: ["*"]
      operations: [UPDATE]
      resources: [batchschedules/status]
  validations:
  - expression: >-
      object.metadata.name != 'runnow' || !has(object.status) ||
      !has(object.status.lastRunNow) || !has(object.status.lastRunNow.jobName) ||
      (has(object.status.lastRunNow.claimed) && object.status.lastRunNow.claimed) ||
      has(object.status.lastRunNow.lost)
    message: "e2e: the write recording a run-now started is lost"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: $POLICY}
spec:
  policyName: $POLICY
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {kubernetes.io/metadata.name: $NS}
EOF
t_is "a policy losing the writes that record a run-now started applied" "$?" 0
sleep 2 # the policy takes effect within a second or two
# settled ID: lastRunNow records request ID settled (not only claimed).
settled() {
	[ "$(bs_status runnow lastRunNow.requestId)" = "$1" ] &&
		[ "$(bs_status runnow lastRunNow.claimed)" != true ]
}
no_job() { [ -z "$(jobs_of runnow)" ]; }
rn_kills=0
ctl_start
for i in $(seq 1 6); do
	offset=$(stat -c %s "$log" 2>/dev/null || echo 0)
	kn annotate bs runnow "takt.io/run-now=rn-$i" --overwrite >/dev/null
	if kill_at_line "$log" "$offset" 'job created.*obj=[^ ]*/runnow' "$CTL_PID" 15; then
		rn_kills=$((rn_kills + 1))
	else
		t_diag "run-now kill $i: no Job created within 15 s"
	fi
	ctl_kill9
	# The Job finishes and its TTL deletes it.
	until_true 20 no_job || t_diag "run-now rn-$i: its Job still there after 20 s"
	ctl_start
	until_true 8 settled "rn-$i" || t_diag "run-now rn-$i: not settled within 8 s"
done
sleep 3
ctl_stop
t_is "the controller exits 0 on SIGTERM (run-now)" "$?" 0
t_is "SIGKILLed right after a run-now Job was created, 6 times" "$rn_kills" 6
ctl_sync || t_diag "ctl_sync: the recorded stream did not catch up"
check_once runnow "run-now, SIGKILL after the POST" 6
t_is "run-now: every request lost, counted missed" "$(bs_status runnow missed)" 6
t_like "run-now: lastRunNow says the last one was lost" "$(bs_status runnow lastRunNow.lost)" '^lost: its Job runnow-r-'
t_diag "runnow: runsStarted=$(bs_status runnow runsStarted) missed=$(bs_status runnow missed) lastRunNow=$(bs_status runnow lastRunNow)"
fi
t_done
