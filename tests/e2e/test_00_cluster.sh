#!/usr/bin/env bash
# The test control plane itself: the behaviours every other e2e test relies
# on (docs/testing.md): the simulated kubelet's run-for / exit-code contract,
# the real Job controller, garbage collection, RBAC, graceful deletion.
. "$(dirname "$0")/lib.sh"

t_ns_create cluster || t_done

# job NAME RUN_FOR EXIT_CODE [GRACE]: a one-pod Job (no retries). An empty
# RUN_FOR leaves the annotation out: the pod runs until deleted.
job() {
	local ann=""
	[ -n "$2" ] && ann="test.takt.io/run-for: \"$2\""
	[ -n "$3" ] && ann="$ann${ann:+, }test.takt.io/exit-code: \"$3\""
	kn apply -f - <<EOF
apiVersion: batch/v1
kind: Job
metadata: {name: $1}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {$ann}
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: ${4:-30}
      containers: [{name: main, image: example.invalid/work}]
EOF
}

# epoch RFC3339 -> seconds (with decimals)
epoch() { date -u -d "$1" +%s.%N; }

scenario_complete() { # (a) run-for 2s, exit 0 -> Complete
	local t0 p started finished ran
	t0=$(now)
	t_ok "(a) job ok-2s created" job ok-2s 2s "" || return
	wait_for 30 "(a) its pod runs" job_pod_running ok-2s || return
	p=$(pods_of_job ok-2s)
	wait_for 60 "(a) the Job reaches Complete" job_has_condition ok-2s Complete || return
	t_is "(a) the pod Succeeded" "$(pod_phase "$p")" Succeeded
	t_is "(a) its container exited 0" \
		"$(kn get pod "$p" -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}')" 0
	started=$(kn get pod "$p" -o jsonpath='{.metadata.annotations.test\.takt\.io/started-at}')
	finished=$(kn get pod "$p" -o jsonpath='{.status.containerStatuses[0].state.terminated.finishedAt}')
	# finishedAt has 1 s resolution (truncated): started + 2 s, truncated, is >= started + 1 s
	ran=$(awk -v f="$(epoch "$finished")" -v s="$(epoch "$started")" 'BEGIN { printf "%.3f", f - s }')
	t_cmp "(a) it ran about 2 s (started $started, finished $finished)" "$ran" -ge 1
	t_cmp "(a) ... not longer" "$ran" -le 2.5
	t_diag "(a) the whole Job, as this script saw it: $(elapsed_since "$t0") s"
}

scenario_failed() { # (b) exit code 3 -> Failed, 3 visible in the container status
	local p
	t_ok "(b) job exit-3 created" job exit-3 1s 3 || return
	wait_for 60 "(b) the Job reaches Failed" job_has_condition exit-3 Failed || return
	p=$(pods_of_job exit-3)
	t_is "(b) one pod" "$(wc -w <<<"$p" | tr -d ' ')" 1
	t_is "(b) the pod's phase is Failed" "$(pod_phase "$p")" Failed
	t_is "(b) its container's exit code is 3" \
		"$(kn get pod "$p" -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}')" 3
	t_is "(b) its container's reason is Error" \
		"$(kn get pod "$p" -o jsonpath='{.status.containerStatuses[0].state.terminated.reason}')" Error
}

scenario_gc() { # (c) deleting a Job (Background) garbage-collects its pods
	local p
	t_ok "(c) job forever created (no run-for, grace 1 s)" job forever "" "" 1 || return
	wait_for 30 "(c) its pod runs" job_pod_running forever || return
	p=$(pods_of_job forever)
	t_ok "(c) a pod without run-for still runs after 3 s" bash -c "sleep 3; [ \"\$(kubectl -n $NS get pod $p -o jsonpath='{.status.phase}')\" = Running ]"
	t_ok "(c) delete the Job, propagationPolicy Background" kn delete job forever --cascade=background --wait=false
	wait_for 20 "(c) the Job is gone" bash -c "kubectl -n $NS get job forever 2>&1 | grep -q NotFound"
	wait_for 60 "(c) the garbage collector removes its pod" pod_gone "$p"
}

scenario_rbac() { # (d) RBAC is enforced
	local who=system:serviceaccount:$NS:nobody out
	t_ok "(d) service account nobody created" kn create serviceaccount nobody
	t_is "(d) auth can-i list pods as nobody: no" "$(kn auth can-i list pods --as="$who" 2>/dev/null)" no
	out=$(kn get pods --as="$who" 2>&1)
	t_like "(d) get pods as nobody is Forbidden" "$out" 'Forbidden|forbidden'
	t_is "(d) auth can-i list pods as admin: yes" "$(kn auth can-i list pods 2>/dev/null)" yes
	t_ok "(d) grant nobody a Role to list pods" bash -c "kubectl -n $NS create role pod-reader --verb=get,list --resource=pods && kubectl -n $NS create rolebinding nobody-reads --role=pod-reader --serviceaccount=$NS:nobody"
	wait_for 10 "(d) nobody may now list pods" kn get pods --as="$who"
	t_is "(d) ... but still not delete them" "$(kn auth can-i delete pods --as="$who" 2>/dev/null)" no
	t_is "(d) ... nor list pods in another namespace" "$(kubectl -n default auth can-i list pods --as="$who" 2>/dev/null)" no
}

scenario_grace() { # (e) a pod deleted with a grace period stays Terminating until it passes
	local p t0 took
	t_ok "(e) job graceful created (no run-for, grace 6 s)" job graceful "" "" 6 || return
	wait_for 30 "(e) its pod runs" job_pod_running graceful || return
	p=$(pods_of_job graceful)
	t0=$(now)
	t_ok "(e) delete the pod (its own grace: 6 s)" kn delete pod "$p" --wait=false
	t_like "(e) it is Terminating (deletionTimestamp set)" \
		"$(kn get pod "$p" -o jsonpath='{.metadata.deletionTimestamp}' 2>&1)" '^[0-9]{4}-'
	sleep 2
	t_is "(e) 2 s later it still exists, still Running ($(elapsed_since "$t0") s after the delete)" "$(pod_phase "$p")" Running
	wait_for 20 "(e) then it is gone" pod_gone "$p" || return
	took=$(elapsed_since "$t0")
	# deletionTimestamp is truncated to the second: gone after 5..6 s, plus polling
	t_cmp "(e) ... after about 6 s (took $took s)" "$took" -ge 4.9
	t_cmp "(e) ... not much later" "$took" -lt 15

	# grace 0: at once
	t_ok "(e) pod now created" kn run now --image=example.invalid/x --restart=Never
	wait_for 30 "(e) pod now runs" pod_phase_is now Running || return
	t0=$(now)
	t_ok "(e) delete pod now with grace 0" kn delete pod now --grace-period=0 --force --wait=false
	wait_for 5 "(e) it is gone at once" pod_gone now
	t_cmp "(e) ... within 5 s (its grace period is 30 s)" "$(elapsed_since "$t0")" -lt 5
}

scenario_complete
scenario_failed
scenario_gc
scenario_rbac
scenario_grace
t_done
