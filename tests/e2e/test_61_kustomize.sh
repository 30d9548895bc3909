#!/usr/bin/env bash
# The kustomize install (issue 13): `kubectl apply -k deploy/ --server-side`
# (kubectl's built-in kustomize) and the overlay deploy/overlays/namespaced,
# each applied to the local control plane, their pods admitted under the
# restricted Pod Security Standard and Running on the KWOK node (the image
# need not exist: KWOK plays the kubelet), the PodDisruptionBudget in place;
# the namespaced overlay's identity runs the controller (in-cluster, its
# Roles and one read-only ClusterRole for calendars) and a schedule fires.
# Everything is deleted again, but the CRDs, which the cluster had before
# (scripts/cluster.sh installs them) and the other tests need.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"
. "$(dirname "$0")/incluster.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/takt-e2e-kust.XXXXXX")
SYS=takt-system
sel=app.kubernetes.io/name=takt-controller

# without_crds: the manifests on stdin, the CRDs left out (for delete).
without_crds() {
	python3 -c '
import sys
docs = sys.stdin.read().split("\n---\n")
print("\n---\n".join(d for d in docs if "\nkind: CustomResourceDefinition\n" not in "\n" + d + "\n"))'
}
k_cleanup() {
	ctl_cleanup
	kubectl kustomize "$T_ROOT/deploy" 2>/dev/null | without_crds |
		kubectl delete --ignore-not-found --wait=false -f - >/dev/null 2>&1
	[ -f "$TMP/ns/kustomization.yaml" ] && kubectl delete --ignore-not-found --wait=false -k "$TMP/ns" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap k_cleanup EXIT

pods_running() { # pods_running NS N: N pods of the Deployment, all Running
	local ph
	ph=$(kubectl -n "$1" get pods -l "$sel" -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' 2>/dev/null)
	echo "$ph" | tr '\n' ' '
	[ "$(echo "$ph" | grep -c '^Running$')" -eq "$2" ] && [ "$(echo "$ph" | grep -c .)" -eq "$2" ]
}
pod_field() { # pod_field NS JSONPATH: of the first pod of the Deployment
	kubectl -n "$1" get pods -l "$sel" -o jsonpath="{.items[0]$2}" 2>/dev/null
}
ns_gone() { ! kubectl get namespace "$1" >/dev/null 2>&1; }

# ---- the base: kubectl apply -k deploy/ ------------------------------------------
# (test_60 deletes takt-system at its end; wait until it is really gone)
until_true 60 ns_gone "$SYS" || t_diag "namespace $SYS still terminating"
kinds=$(kubectl kustomize "$T_ROOT/deploy" | sed -n 's/^kind: //p' | sort | tr '\n' ' ')
t_is "deploy/ builds: namespace, CRDs, RBAC, Deployment, PDB" "$kinds" \
	"ClusterRole ClusterRoleBinding CustomResourceDefinition CustomResourceDefinition Deployment Namespace PodDisruptionBudget Role RoleBinding ServiceAccount "
t_ok "kubectl apply -k deploy/ --server-side" kubectl apply -k "$T_ROOT/deploy" --server-side
t_is "the namespace enforces the restricted Pod Security Standard" \
	"$(kubectl get namespace "$SYS" -o jsonpath='{.metadata.labels.pod-security\.kubernetes\.io/enforce}')" restricted
t_ok "the CRDs are Established" kubectl wait --for=condition=Established --timeout=20s \
	crd/batchschedules.takt.io crd/businesscalendars.takt.io
wait_for 60 "the Deployment's 2 pods are admitted, scheduled and Running" pods_running "$SYS" 2
t_like "on the KWOK node" "$(pod_field "$SYS" .spec.nodeName)" '^kwok-node-0$'
t_is "pods: runAsNonRoot, seccomp RuntimeDefault" \
	"$(pod_field "$SYS" '.spec.securityContext.runAsNonRoot') $(pod_field "$SYS" '.spec.securityContext.seccompProfile.type')" \
	"true RuntimeDefault"
t_is "container: no privilege escalation, capabilities drop ALL, read-only root" \
	"$(pod_field "$SYS" '.spec.containers[0].securityContext.allowPrivilegeEscalation') $(pod_field "$SYS" '.spec.containers[0].securityContext.capabilities.drop[*]') $(pod_field "$SYS" '.spec.containers[0].securityContext.readOnlyRootFilesystem')" \
	"false ALL true"
t_is "probes on /healthz and /readyz" \
	"$(pod_field "$SYS" '.spec.containers[0].livenessProbe.httpGet.path') $(pod_field "$SYS" '.spec.containers[0].readinessProbe.httpGet.path')" \
	"/healthz /readyz"
t_is "memory: requests 64Mi, limit 128Mi" \
	"$(pod_field "$SYS" '.spec.containers[0].resources.requests.memory') $(pod_field "$SYS" '.spec.containers[0].resources.limits.memory')" \
	"64Mi 128Mi"
t_like "leader election on" "$(pod_field "$SYS" '.spec.containers[0].args[*]')" '--leader-elect( |$)'
t_is "the PodDisruptionBudget keeps 1 of the 2" \
	"$(kubectl -n "$SYS" get pdb takt-controller -o jsonpath='{.spec.minAvailable} {.status.expectedPods}')" "1 2"
# The enforcement is real: a pod that does not meet the standard is refused.
out=$(kubectl -n "$SYS" run psa-probe --image=example.invalid/x --restart=Never 2>&1)
t_like "(a pod without those settings is refused there)" "$out" 'forbidden: violates PodSecurity "restricted'
t_is "the controller may create Jobs in any namespace" \
	"$(kubectl auth can-i create jobs.batch -n default --as="system:serviceaccount:$SYS:takt-controller")" yes
t_ok "everything but the CRDs deleted" eval 'kubectl kustomize "$T_ROOT/deploy" | without_crds | kubectl delete --wait=false -f - >/dev/null'
wait_for 60 "the namespace is gone" ns_gone "$SYS"
t_nok "the ClusterRole is gone" kubectl get clusterrole takt-controller

# ---- the overlay: one namespace, Roles ---------------------------------------
t_ns_create kust-ns || t_done
ctl_trap
trap k_cleanup EXIT
kubectl label namespace "$NS" pod-security.kubernetes.io/enforce=restricted >/dev/null
kinds=$(kubectl kustomize "$T_ROOT/deploy/overlays/namespaced" | sed -n 's/^kind: //p' | sort | tr '\n' ' ')
t_is "the overlay: no CRD, no Namespace; ClusterRole only the calendar reader" "$kinds" \
	"ClusterRole ClusterRoleBinding Deployment PodDisruptionBudget Role Role RoleBinding RoleBinding ServiceAccount "
# (the documents split by hand: PyYAML is not among the dependencies)
t_is "(that ClusterRole: list and watch of businesscalendars)" \
	"$(kubectl kustomize "$T_ROOT/deploy/overlays/namespaced" | python3 -c '
import sys
for d in sys.stdin.read().split("\n---\n"):
    if "\nkind: ClusterRole\n" in "\n" + d + "\n":
        print(" ".join(d.split()))')" \
	"apiVersion: rbac.authorization.k8s.io/v1 kind: ClusterRole metadata: name: takt-calendar-reader rules: - apiGroups: - takt.io resources: - businesscalendars verbs: - list - watch"
# As a user would: an overlay of it that names the namespace.
mkdir -p "$TMP/ns"
printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: %s\nresources: [%s]\n' \
	"$NS" "$(realpath --relative-to="$TMP/ns" "$T_ROOT/deploy/overlays/namespaced")" >"$TMP/ns/kustomization.yaml"
t_ok "kubectl apply -k (an overlay of deploy/overlays/namespaced for $NS) --server-side" \
	kubectl apply -k "$TMP/ns" --server-side
wait_for 60 "its 2 pods are admitted (restricted) and Running" pods_running "$NS" 2
t_like "they watch their own namespace" "$(pod_field "$NS" '.spec.containers[0].args[*]')" '--namespace=\$\(POD_NAMESPACE\)'
t_is "(POD_NAMESPACE from the downward API)" \
	"$(pod_field "$NS" '.spec.containers[0].env[?(@.name=="POD_NAMESPACE")].valueFrom.fieldRef.fieldPath')" metadata.namespace
t_is "its PodDisruptionBudget" "$(kn get pdb takt-controller -o jsonpath='{.spec.minAvailable} {.status.expectedPods}')" "1 2"
SA=system:serviceaccount:$NS:takt-controller
t_is "it may create Jobs in its namespace" "$(kubectl auth can-i create jobs.batch -n "$NS" --as="$SA")" yes
t_is "and nowhere else" "$(kubectl auth can-i create jobs.batch -n default --as="$SA")" no

# Its identity at work: the controller as in one of those pods.
INCLUSTER_NS=$NS
t_ok "a token of its ServiceAccount" incluster_files "$TMP/sa"
incluster_cmd "$TMP/sa"
LOG=$CTL_LOGDIR/controller-$NS.log
ns_start() {
	"${INCLUSTER_CMD[@]}" "$CTL_BIN" --log-level=info --leader-elect --http-addr=127.0.0.1:0 --namespace="$NS" >>"$LOG" 2>&1 &
	CTL_PID=$!
	t_diag "takt-controller (in-cluster, namespaced) pid $CTL_PID, log $LOG"
}
ns_start
t_ok "schedule tick (every 2 s)" bs_apply tick "*/2 * * * * *" Allow 1s
wait_for 20 "with the overlay's RBAC, it fires" jobs_at_least tick 2
ctl_stop
t_is "it exits 0 on SIGTERM" "$?" 0
# The calendar reader is needed: without it, the controller never starts.
t_ok "without the calendar reader's binding" kubectl delete clusterrolebinding takt-calendar-reader-takt-jobs
until_true 10 eval '[ "$(kubectl auth can-i list businesscalendars.takt.io --as="$SA")" = no ]'
n0=$(count_jobs_of tick)
: >"$LOG"
ns_start
wait_for 10 "its calendar list is refused (403)" grep -q 'list failed.*businesscalendars.*status=403' "$LOG"
sleep 4
t_is "so it never syncs" "$(grep -c 'caches synced' "$LOG")" 0
t_is "and tick does not fire" "$(count_jobs_of tick)" "$n0"
ctl_stop
t_ok "the overlay deleted" kubectl delete -k "$TMP/ns" --ignore-not-found --wait=false
t_nok "(the calendar reader is gone)" kubectl get clusterrole takt-calendar-reader
t_done
