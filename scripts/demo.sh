#!/usr/bin/env bash
# `make demo` (after building bin/): brings up the local control plane and
# shows how to use it. `make demo-down` stops it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
state=${TAKT_CLUSTER_STATE:-$root/.cache/cluster}

bash scripts/cluster.sh up
# shellcheck disable=SC1091
. "$state/env"

echo
echo "== the control plane"
kubectl get nodes -o wide

# ---------------------------------------------------------------------------
# The controller and an example schedule.
echo
echo "== takt: CRDs, the controller, and examples/every-2s.yaml"
# scripts/cluster.sh installs the CRDs; apply them when an older cluster did not.
kubectl get crd batchschedules.takt.io businesscalendars.takt.io >/dev/null 2>&1 || kubectl apply -k crds/
kubectl wait --for condition=Established --timeout=30s crd/batchschedules.takt.io >/dev/null
demo_log=$root/.cache/demo/controller.log
mkdir -p "$(dirname "$demo_log")"
# A controller left by an earlier demo is stopped first (it was adopted by
# cluster.sh, which also stops it on `make demo-down`).
if [ -f "$root/.cache/demo/controller.pid" ]; then
	old=$(cat "$root/.cache/demo/controller.pid")
	if [ "$(readlink "/proc/$old/exe" 2>/dev/null)" = "$root/bin/takt-controller" ]; then
		kill -TERM "$old" 2>/dev/null || true
	fi
fi
bin/takt-controller --kubeconfig "$KUBECONFIG" --http-addr 127.0.0.1:0 </dev/null >"$demo_log" 2>&1 &
ctl_pid=$!
echo "$ctl_pid" >"$root/.cache/demo/controller.pid"
bash scripts/cluster.sh adopt takt-controller "$ctl_pid"
echo "takt-controller pid $ctl_pid, log $demo_log"
kubectl create namespace takt-demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n takt-demo apply -f examples/every-2s.yaml

# About 30 s of runs: a slot every 2 s, runs of 3 s, Forbid: every other
# slot is skipped as an overlap.
echo
echo "== runs (every 2 s for 30 s): Jobs, pods and the schedule's status"
for i in $(seq 15); do
	sleep 2
	echo "---- $(date -u +%H:%M:%S) UTC"
	kubectl -n takt-demo get jobs -l takt.io/schedule=every-2s \
		-o custom-columns='JOB:.metadata.name,SCHEDULED:.metadata.annotations.takt\.io/scheduled-time,CREATED:.metadata.creationTimestamp,COMPLETED:.status.completionTime' 2>/dev/null
	kubectl -n takt-demo get bs every-2s --no-headers \
		-o custom-columns='NEXT:.status.nextScheduleTime,ACTIVE:.status.activeCount,STARTED:.status.runsStarted,SUCCEEDED:.status.runsSucceeded,SKIPPED_OVERLAP:.status.skippedOverlap' |
		awk '{ printf "schedule: next %s  active %s  started %s  succeeded %s  skippedOverlap %s\n", $1, $2, $3, $4, $5 }'
done
echo
echo "== events of the schedule"
kubectl -n takt-demo get events --field-selector involvedObject.kind=BatchSchedule
echo
echo "== the controller's log (last lines)"
tail -n 8 "$demo_log"
cat <<EOF

The controller keeps running (pid $ctl_pid, log $demo_log).
  kubectl -n takt-demo get bs,jobs,pods        # see it go on
  kubectl apply -n takt-demo -f examples/      # more examples
  make demo-down                               # stops the controller and the control plane
EOF
# ---------------------------------------------------------------------------

cat <<EOF

The control plane is up (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and KWOK's fake node, all on 127.0.0.1). Use it with:

  . $state/env          # KUBECONFIG, and kubectl $(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p' | head -1) first on PATH
  kubectl get nodes
  kubectl create job hello --image=x -- true   # runs until deleted (no run-for)
  kubectl get jobs,pods

A pod's simulated run is set by annotations on its template:
  test.takt.io/run-for: "5s"      test.takt.io/exit-code: "1"
(docs/testing.md). Logs: $state/logs/. Stop it with: make demo-down
EOF
