#!/usr/bin/env bash
# External control (docs/external-control.md): takt.io/kill on a schedule and
# on a pod, with and without a grace period, on a pod outside takt's runs,
# request ids across a controller restart, and takt.io/run-now under Allow and
# Forbid — through `kubectl takt kill|run` and through plain annotations.
#
# On a loaded machine a kubectl call can take seconds, so nothing here is a
# wall-clock bound (how long a kill takes is printed as a figure: speed is
# measured in benchmarks), and an order between two objects ("no run started
# while the pod was terminating") is judged from the recorded watch streams,
# in the apiserver's resourceVersion order (ctl_pod_end.py), never from two
# reads taken at two instants.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

TAKT=${KUBECTL_TAKT:-$T_ROOT/bin/kubectl-takt}

t_ns_create ctl-kill || t_done
ctl_trap
ctl_watch_start || t_diag "ctl_watch_start: the watch streams did not start"
ctl_start

# Helpers (exit status only).
active_pod_of() { # active_pod_of SCHED: a Running pod of SCHED, not terminating
	kn get pods -l "takt.io/schedule=$1" -o json 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp"):
        print(p["metadata"]["name"]); break'
}
has_running_pod() { [ -n "$(active_pod_of "$1")" ]; }
job_of_pod() { kn get pod "$1" -o jsonpath='{.metadata.labels.batch\.kubernetes\.io/job-name}' 2>/dev/null; }
terminating() { [ -n "$(kn get pod "$1" -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)" ]; }
# other_job_than SCHED JOB: a Job of SCHED other than JOB exists
other_job_than() { jobs_of "$1" | tr ' ' '\n' | grep -v -x -e "$2" -e '' | grep -q .; }
# event_msg REASON KIND NAME: the messages of the Events on that object
event_msg() {
	kn get events -o json 2>/dev/null | python3 -c '
import json, sys
r, k, n = sys.argv[1:4]
for e in json.load(sys.stdin)["items"]:
    o = e.get("involvedObject", {})
    if e.get("reason") == r and o.get("kind") == k and o.get("name") == n:
        print(e.get("type"), e.get("message"))' "$1" "$2" "$3"
}
# event_like REASON KIND NAME ERE: one of those Events' messages matches ERE.
# Events are posted fire-and-forget next to the status write that
# `kubectl takt` waits for, so they may land after it: poll with wait_for.
event_like() {
	local m
	m=$(event_msg "$1" "$2" "$3")
	printf '%s\n' "$m"
	printf '%s' "$m" | grep -Eq -- "$4"
}
id_of() { sed -n 's/.*(request \([A-Za-z0-9._-]*\)).*/\1/p' | head -1; }
# figure_since T0 MS: seconds from T0 (from `now`) to MS (unix ms), 3 decimals.
figure_since() { awk -v t="$1" -v ms="$2" 'BEGIN { if (ms == "none") print "?"; else printf "%.3f\n", ms / 1000 - t }'; }
# ignored_count POD: the KillIgnored Events on POD (their counts summed).
ignored_count() {
	kn get events -o json 2>/dev/null | python3 -c '
import json, sys
print(sum(e.get("count") or 1 for e in json.load(sys.stdin)["items"]
          if e.get("reason") == "KillIgnored" and e.get("involvedObject", {}).get("name") == sys.argv[1]))' "$1"
}

# ---- 1. Forbid, 1-second slots, a run that would hang for an hour -----------
# Its pods' own grace period is 30 s, so a kill with grace 0 is told apart
# from a delete that ignored the requested grace.
BS_GRACE=30 t_ok "schedule hang (Forbid, every second, runs last 1h, own grace 30 s)" bs_apply hang "* * * * * *" Forbid 1h
wait_for 30 "its first run is Running" has_running_pod hang
pod1=$(active_pod_of hang)
job1=$(job_of_pod "$pod1")
skipped0=$(bs_status hang skippedOverlap)
sleep 3
wait_for 30 "slots are skipped while it hangs" bs_status_ge hang skippedOverlap $((${skipped0:-0} + 2))
t_is "and it is the only run" "$(jobs_of hang)" "$job1"

t0=$(now)
out=$("$TAKT" kill hang -n "$NS" --grace-seconds 0 2>&1)
rc=$?
t_is "kubectl takt kill exits 0" "$rc" 0
t_like "it says what it killed" "$out" "^killed 1 run of $NS/hang \(request kill-[0-9T]+Z-[0-9a-f]{6}\): $job1; 1 pod deleted$"
id1=$(printf '%s' "$out" | id_of)
wait_for 60 "the run's pod is gone" pod_gone "$pod1"
wait_for 60 "the next slot starts a new run" other_job_than hang "$job1"
ctl_pod_end "$pod1" hang
t_ok "the streams recorded its deletion and the next run" eval '[ "$(pend deleted)" = 1 ] && [ "$(pend later_runs)" -ge 1 ]'
t_is "its deletion was requested with grace period 0 (--grace-seconds 0)" "$(pend deletion_grace)" 0
t_is "no other run started before it was gone (Forbid; resourceVersion order)" "$(pend started_early)" -
t_diag "figure: the pod was gone $(figure_since "$t0" "$(pend deleted_ms)") s after the request (its DELETED received)"
t_is "status.lastKill.requestId is the request" "$(bs_status hang lastKill.requestId)" "$id1"
t_is "status.lastKill.jobs names the run" "$(bs_status hang 'lastKill.jobs[*]')" "$job1"
t_is "status.lastKill.podsDeleted" "$(bs_status hang lastKill.podsDeleted)" 1
t_is "status.killed counts it" "$(bs_status hang killed)" 1
t_like "status.handledRequests has it" "$(bs_status hang 'handledRequests[*]')" "kill:$id1"
wait_for 30 "a Killed Event on the schedule names the request" event_like Killed BatchSchedule hang "^Normal kill request $id1: 1 run killed \($job1\), 1 pod deleted with grace period 0s"
wait_for 30 "a Killed Event on the Job" event_like Killed Job "$job1" "^Normal killed by request $id1 \(takt.io/kill on BatchSchedule hang\)"
wait_for 30 "the killed Job is gone (Foreground: after its pods)" eval '! kn get job "$job1" >/dev/null 2>&1'
t_is "the killed run is not counted as failed" "$(bs_status hang runsFailed)" 0

# ---- 2. the same request id after a restart does nothing --------------------
wait_for 30 "a new run of hang is Running" has_running_pod hang
pod2=$(active_pod_of hang)
job2=$(job_of_pod "$pod2")
ctl_stop
sk=$(bs_status hang skippedOverlap)
ctl_start
# Kill requests come first in a pass: once the restarted controller has
# counted a skipped slot of hang, it has looked at the kill request too, so
# "not killed again" is a finding rather than a controller not started yet.
wait_for 60 "the restarted controller reconciles hang (a slot skipped)" bs_status_ge hang skippedOverlap $((${sk:-0} + 1))
t_ok "after a restart, takt.io/kill=$id1 (still annotated) does not kill again" kn get pod "$pod2"
t_nok "its pod is not terminating" terminating "$pod2"
t_is "killed is unchanged" "$(bs_status hang killed)" 1
t_is "lastKill is unchanged" "$(bs_status hang lastKill.requestId)" "$id1"

# ---- 3. a kill through a pod's annotation -------------------------------------
t_ok "annotate the pod takt.io/kill=pod-req-1 (grace 0)" kn annotate pod "$pod2" takt.io/kill=pod-req-1 takt.io/kill-grace-seconds=0
wait_for 30 "the pod is gone" pod_gone "$pod2"
wait_for 30 "lastKill records the pod's request" eval '[ "$(bs_status hang lastKill.requestId)" = pod-req-1 ]'
t_is "lastKill.jobs is the pod's run" "$(bs_status hang 'lastKill.jobs[*]')" "$job2"
t_is "killed is 2" "$(bs_status hang killed)" 2
wait_for 30 "the schedule's Event names the pod" event_like Killed BatchSchedule hang "kill request pod-req-1 on pod $pod2: run $job2 killed"

# A new id kills again: kubectl takt kill --pod.
wait_for 30 "a new run of hang is Running" has_running_pod hang
pod3=$(active_pod_of hang)
job3=$(job_of_pod "$pod3")
out=$("$TAKT" kill --pod "$pod3" -n "$NS" --grace-seconds 0 2>&1)
t_is "kubectl takt kill --pod exits 0" "$?" 0
t_like "it names the run" "$out" "^killed 1 run of $NS/hang \(request kill-.*\): $job3; 1 pod deleted$"
wait_for 30 "that pod is gone" pod_gone "$pod3"
t_is "killed is 3" "$(bs_status hang killed)" 3

# ---- 4. run-now under Forbid with a run active: refused ---------------------
wait_for 30 "a run of hang is Running" has_running_pod hang
out=$("$TAKT" run hang -n "$NS" 2>&1)
t_is "kubectl takt run exits 1 when refused" "$?" 1
t_like "it says why" "$out" "refused request run-.*: a run is still active \(concurrencyPolicy Forbid\)"
t_like "status.lastRunNow.refused says why" "$(bs_status hang lastRunNow.refused)" "still active"
wait_for 30 "a RunNowRefused Warning Event" event_like RunNowRefused BatchSchedule hang "^Warning run-now request run-"
kn delete bs hang --wait=false >/dev/null 2>&1

# ---- 5. a kill with a grace period: the pod terminates and blocks Forbid ----
BS_GRACE=30 bs_apply slowdeath "* * * * * *" Forbid 1h >/dev/null
wait_for 30 "schedule slowdeath has a Running pod (own grace 30 s)" has_running_pod slowdeath
podg=$(active_pod_of slowdeath)
jobg=$(job_of_pod "$podg")
tg=$(now)
out=$("$TAKT" kill slowdeath -n "$NS" --grace-seconds 5 2>&1)
t_is "kill --grace-seconds 5 exits 0" "$?" 0
t_like "it names the run" "$out" "^killed 1 run of $NS/slowdeath .*: $jobg; 1 pod deleted$"
skipped0=$(bs_status slowdeath skippedOverlap)
wait_for 60 "the pod goes" pod_gone "$podg"
wait_for 60 "then the next slot runs" other_job_than slowdeath "$jobg"
wait_for 30 "skipped slots are counted (status.skippedOverlap)" bs_status_ge slowdeath skippedOverlap $((${skipped0:-0} + 2))
# Judged from the recorded streams: the pod's own deletion record, and the
# new Job's creation against the pod's deletion in resourceVersion order, so
# it fails only when a run really started while the pod was there (Forbid: a
# terminating pod counts), however slowly the test itself polls.
ctl_pod_end "$podg" slowdeath
t_ok "the streams recorded its deletion and the next run" eval '[ "$(pend deleted)" = 1 ] && [ "$(pend later_runs)" -ge 1 ]'
t_is "its deletion was requested with the requested grace period (5 s, not its own 30 s)" "$(pend deletion_grace)" 5
t_is "its containers were killed once that grace period ran out" "$(pend killed_after_grace)" 1
t_is "no other run started while the pod was terminating (resourceVersion order)" "$(pend started_early)" -
# (KWOK kills at the deletionTimestamp, which the apiserver keeps in whole
# seconds: the pod may go up to 1 s before the 5 s are up.)
t_diag "figure: the pod was gone $(figure_since "$tg" "$(pend deleted_ms)") s after the request (grace 5 s)"
kn delete bs slowdeath --wait=false >/dev/null 2>&1

# ---- 6. a pod of an ordinary Job: a Warning, nothing deleted ----------------
kn apply -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata: {name: plain}
spec:
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
      containers: [{name: c, image: example.invalid/x}]
EOF
wait_for 30 "the ordinary Job's pod is Running" job_pod_running plain
podp=$(pods_of_job plain)
t_ok "annotate it takt.io/kill=foreign-1" kn annotate pod "$podp" takt.io/kill=foreign-1 takt.io/kill-grace-seconds=0
wait_for 30 "a KillIgnored Warning Event on the pod" eval '[ -n "$(event_msg KillIgnored Pod "$podp")" ]'
t_like "it says why" "$(event_msg KillIgnored Pod "$podp")" "^Warning takt.io/kill=foreign-1 ignored: this pod is not part of a BatchSchedule run \(its Job plain is not a BatchSchedule run\); nothing was deleted"
sleep 2
t_nok "the pod is not terminating" terminating "$podp"
t_ok "the Job is still there" kn get job plain
t_is "one Event, not one per reconcile" "$(event_msg KillIgnored Pod "$podp" | wc -l)" 1
ctl_stop
ctl_start
# A marker: a bare pod annotated after the restart. Its Warning means the
# restarted controller has listed the pods, the plain Job's among them, so
# "still one Event" is a finding rather than a controller not started yet.
kn apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: marker, annotations: {takt.io/kill: after-restart}}
spec:
  schedulerName: takt-e2e-none
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: example.invalid/x}]
EOF
wait_for 60 "the restarted controller answers a new request (its pods listed)" eval '[ "$(ignored_count marker)" -ge 1 ]'
t_is "still one Event on the plain Job's pod after a restart" "$(ignored_count "$podp")" 1

# ---- 7. run-now under Allow ---------------------------------------------------
bs_apply later "0 0 1 1 *" Allow 1h >/dev/null
sleep 1
out=$("$TAKT" run later -n "$NS" 2>&1)
t_is "kubectl takt run exits 0" "$?" 0
# Named after the request (docs/api.md "Run names"), never after the clock.
t_like "it names the Job after the request" "$out" "^started Job later-r-[0-9a-v]{8} of $NS/later \(request run-.*\)$"
jr=$(printf '%s' "$out" | sed -n 's/^started Job \([^ ]*\) .*/\1/p')
t_ok "the Job exists" kn get job "$jr"
t_is "with trigger run-now" "$(kn get job "$jr" -o jsonpath='{.metadata.annotations.takt\.io/trigger}')" run-now
t_is "status.lastRunNow.jobName" "$(bs_status later lastRunNow.jobName)" "$jr"
wait_for 30 "a RunNow Event" event_like RunNow BatchSchedule later "^Normal run-now request run-.*: started Job $jr"
wait_for 30 "its pod is Running" job_pod_running "$jr"
# A run-now is named after the second it is handled in, and a run of that
# second is the answer to any request in it (the name is the lock,
# docs/semantics.md): ask again in a later second than the first run's, or
# the "second" run is the first one again (its pod can be Running within
# the same second on an idle machine).
past_second() { [ "$(date +%s)" -gt "$1" ]; }
until_true 5 past_second "${jr##*-}"
out=$("$TAKT" run later -n "$NS" 2>&1)
t_is "a second run-now under Allow starts another run" "$?" 0
jr2=$(printf '%s' "$out" | sed -n 's/^started Job \([^ ]*\) .*/\1/p')
t_ok "the second run-now's Job ($jr2) is not the first one ($jr)" test "$jr2" != "$jr"
t_ok "the second Job exists alongside" kn get job "$jr2" "$jr"
t_like "under a name of its own" "$jr2" "^later-r-[0-9a-v]{8}$"
t_ok "not the first run answered again" test "$jr2" != "$jr"
t_is "its TAKT_RUN_ID is its name" "$(kn get job "$jr2" -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="TAKT_RUN_ID")].value}')" "$jr2"

# ---- 7b. a kill through a pod of a run that has already ended --------------
bs_apply brief "0 0 1 1 *" Allow 1s >/dev/null
sleep 1
out=$("$TAKT" run brief -n "$NS" 2>&1)
jb=$(printf '%s' "$out" | sed -n 's/^started Job \([^ ]*\) .*/\1/p')
wait_for 30 "a run of brief completes" job_has_condition "$jb" Complete
podb=$(pods_of_job "$jb")
t_ok "annotate its finished pod takt.io/kill=late-1" kn annotate pod "$podb" takt.io/kill=late-1
wait_for 30 "the request is recorded" eval '[ "$(bs_status brief lastKill.requestId)" = late-1 ]'
t_is "with no run killed" "$(bs_status brief 'lastKill.jobs[*]')" ""
t_is "and not counted" "$(bs_status brief killed)" 0
t_ok "the finished Job is kept (history)" kn get job "$jb"
wait_for 30 "the Event says why" event_like Killed BatchSchedule brief "run $jb has already ended, nothing to kill"

# ---- 7c. kill --pod on a labelled pod that is not one of the runs ------------
# Its schedule's reconcile looks at it (the label), finds no run through the
# owner chain, and records no lastKill: only a KillIgnored Warning on the pod.
# The CLI reports that refusal instead of waiting for its timeout.
kn apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: stray, labels: {takt.io/schedule: brief}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: example.invalid/x}]
EOF
lk0=$(bs_status brief lastKill.requestId)
ts=$(now)
out=$("$TAKT" kill --pod stray -n "$NS" --grace-seconds 0 --timeout 20 2>&1)
t_is "kill --pod on a labelled pod outside the runs exits 1" "$?" 1
took=$(elapsed_since "$ts")
t_cmp "without waiting for its 20 s timeout (${took}s)" "$took" -lt 20
t_like "it gives the controller's refusal, in one line" "$out" "^kubectl takt kill: pod $NS/stray: takt.io/kill=kill-[0-9T]+Z-[0-9a-f]{6} ignored: this pod is not part of a BatchSchedule run \(it is not controlled by a Job\); nothing was deleted$"
ids=$(printf '%s' "$out" | sed -n 's/.*takt\.io\/kill=\([^ ]*\) ignored.*/\1/p')
t_like "the KillIgnored Warning on the pod is that answer" "$(event_msg KillIgnored Pod stray)" "^Warning takt.io/kill=$ids ignored"
t_nok "the pod is not terminating" terminating stray
t_is "lastKill is unchanged" "$(bs_status brief lastKill.requestId)" "$lk0"

# ---- 8. malformed requests ----------------------------------------------------
t_ok "takt.io/kill with a malformed grace" kn annotate bs later takt.io/kill=bad-grace takt.io/kill-grace-seconds=soon
wait_for 30 "an InvalidRequest Warning" eval '[ -n "$(event_msg InvalidRequest BatchSchedule later)" ]'
t_like "naming the value" "$(event_msg InvalidRequest BatchSchedule later)" 'kill-grace-seconds: "soon" is not a whole number'
t_ok "and nothing was killed" kn get pods -l "batch.kubernetes.io/job-name=$jr" -o name
t_nok "(its pod is not terminating)" terminating "$(pods_of_job "$jr")"

# ---- 9. an external scheduler with deploy/external-scheduler-role.yaml only --
kn create serviceaccount batch-scheduler >/dev/null
sed -e "s/namespace: trading/namespace: $NS/" "$T_ROOT/deploy/external-scheduler-role.yaml" | kn apply -f - >/dev/null
kc=$(mktemp "${TMPDIR:-/tmp}/takt-e2e-kc.XXXXXX")
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
token=$(kn create token batch-scheduler)
cat >"$kc" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: u, user: {token: "$token"}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: "$NS"}}]
current-context: x
EOF
sa=system:serviceaccount:$NS:batch-scheduler
t_is "the role does not allow deleting pods" "$(kn auth can-i delete pods --as="$sa")" no
t_is "nor touching Jobs" "$(kn auth can-i patch jobs.batch --as="$sa")" no
t_is "it allows patching schedules" "$(kn auth can-i patch batchschedules.takt.io --as="$sa")" yes
t_is "and listing Events" "$(kn auth can-i list events --as="$sa")" yes
wait_for 30 "the runs of later are Running" eval 'job_pod_running "$jr" && job_pod_running "$jr2"'
out=$("$TAKT" kill later --kubeconfig "$kc" --grace-seconds 0 2>&1)
t_is "with it, kubectl takt kill (namespace from the kubeconfig) exits 0" "$?" 0
# In either order: run-now names are hashes of the request ids, so their
# order says nothing about which started first.
t_like "and kills both runs of later" "$out" "^killed 2 runs of $NS/later \(request kill-.*\): ($jr, $jr2|$jr2, $jr); 2 pods deleted$"
wait_for 30 "their pods are gone" eval 'no_pods_of_job "$jr" && no_pods_of_job "$jr2"'
out=$("$TAKT" run later --kubeconfig "$kc" 2>&1)
t_is "kubectl takt run with it exits 0" "$?" 0
out=$("$TAKT" kill --pod stray --kubeconfig "$kc" --timeout 20 2>&1)
t_is "with it, kill --pod on the stray pod of 7c exits 1" "$?" 1
t_like "with the controller's refusal, read from the Events" "$out" "^kubectl takt kill: pod $NS/stray: takt.io/kill=kill-[^ ]+ ignored: this pod is not part of a BatchSchedule run"
out=$("$TAKT" kill later --kubeconfig "$kc" --timeout 20 -n default 2>&1)
t_is "another namespace: exit 1" "$?" 1
t_like "with the apiserver's answer" "$out" "^kubectl takt kill: batchschedules default/later: 403 Forbidden"
rm -f "$kc"

# ---- 10. the same identity through an exec credential plugin -----------------
# (the kubeconfigs of EKS, GKE and AKS name a plugin instead of a token)
plug=$(mktemp -d "${TMPDIR:-/tmp}/takt-e2e-plug.XXXXXX")
cat >"$plug/get-token" <<EOF
#!/bin/sh
echo ran >>"$plug/runs"
[ "\$1" = --cluster ] && [ "\$TAKT_PLUGIN_ENV" = yes ] || { echo "plugin: bad call" >&2; exit 9; }
case "\$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) ;; *) exit 8 ;; esac
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$token"
EOF
printf '#!/bin/sh\necho "SSO session expired: run aws sso login" >&2\nexit 3\n' >"$plug/broken"
chmod +x "$plug/get-token" "$plug/broken"
plug_kc() { # plug_kc COMMAND: a kubeconfig whose user is the plugin COMMAND
	cat <<EOF
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: "$1", args: [--cluster, e2e], env: [{name: TAKT_PLUGIN_ENV, value: "yes"}], interactiveMode: Never, installHint: "install the plugin"}}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: "$NS"}}]
current-context: x
EOF
}
plug_kc ./get-token >"$plug/kubeconfig"
out=$("$TAKT" run later --kubeconfig "$plug/kubeconfig" 2>&1)
t_is "kubectl takt run with an exec credential plugin exits 0" "$?" 0
t_like "and starts a run" "$out" "^started Job later-"
t_is "the plugin ran, once" "$(wc -l <"$plug/runs" | tr -d ' ')" 1
plug_kc ./broken >"$plug/kubeconfig-broken"
out=$("$TAKT" run later --kubeconfig "$plug/kubeconfig-broken" 2>&1)
rc=$?
t_nok "a plugin that fails: kubectl takt run fails" test "$rc" = 0
t_like "with the plugin's own words" "$out" "SSO session expired: run aws sso login"
t_like "and its exit status" "$out" "exec plugin .*/broken: exit status 3"
plug_kc takt-no-such-plugin >"$plug/kubeconfig-missing"
out=$("$TAKT" run later --kubeconfig "$plug/kubeconfig-missing" 2>&1)
t_like "a plugin not installed: its install hint" "$out" "exec plugin takt-no-such-plugin: not found: install the plugin"
rm -rf "$plug"
t_done
