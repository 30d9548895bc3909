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
# TODO(demo): the controller and an example go here (another engineer fills
# this in). Expected shape:
#   kubectl apply -f crds/
#   bin/takt-controller --kubeconfig "$KUBECONFIG" </dev/null >"$state/logs/takt-controller.log" 2>&1 &
#   bash scripts/cluster.sh adopt takt-controller $!   # `make demo-down` stops it too
#   kubectl apply -f examples/<an example>.yaml
#   ... watch a few runs: kubectl get bs,jobs,pods -w
# Pod templates in examples can use the simulated kubelet's annotations
# (docs/testing.md): test.takt.io/run-for: "3s", test.takt.io/exit-code: "0".
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
