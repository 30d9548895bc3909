# shellcheck shell=bash
# An in-cluster identity for e2e tests: what a pod of takt-controller has,
# made against the local control plane, so the controller can run "exactly
# as in a pod" (KUBERNETES_SERVICE_HOST/PORT and the service account files)
# with deploy/rbac.yaml's ClusterRole and nothing more.
#
#   . lib.sh; . incluster_lib.sh
#   incluster_identity DIR || ...   # after t_ns_create; fills DIR and sets
#                                   # INCLUSTER_HOST, INCLUSTER_PORT
#   ... run with DIR as /var/run/secrets/kubernetes.io/serviceaccount
#   incluster_cleanup               # from the script's EXIT trap
#
# The ServiceAccount takt-controller lives in $NS; the ClusterRole is
# deploy/rbac.yaml's, applied under a name of this test's own
# (takt-e2e-$NS) so that tests never share or delete each other's RBAC;
# a ClusterRoleBinding binds it (BusinessCalendars are cluster-scoped). The
# token comes from the TokenRequest API (kubectl create token), valid 1 h.

INCLUSTER_HOST=""
INCLUSTER_PORT=""
INCLUSTER_RBAC=""

# incluster_clusterrole NAME: deploy/rbac.yaml's ClusterRole, renamed.
incluster_clusterrole() {
	awk -v name="$1" '
		/^---/ { if (keep) print buf; buf = ""; keep = 0; next }
		{ buf = buf $0 "\n" }
		/^kind: ClusterRole$/ { keep = 1 }
		END { if (keep) print buf }
	' "$T_ROOT/deploy/rbac.yaml" | sed "0,/^  name: takt-controller\$/s//  name: $1/"
}

incluster_identity() {
	local dir=$1 server
	INCLUSTER_RBAC=takt-e2e-$NS
	mkdir -p "$dir"
	incluster_clusterrole "$INCLUSTER_RBAC" | kubectl apply -f - >/dev/null || {
		t_fail "the ClusterRole of deploy/rbac.yaml applies"
		return 1
	}
	kn create serviceaccount takt-controller >/dev/null &&
		kubectl create clusterrolebinding "$INCLUSTER_RBAC" --clusterrole="$INCLUSTER_RBAC" \
			--serviceaccount="$NS:takt-controller" >/dev/null || {
		t_fail "service account and binding created"
		return 1
	}
	kn create token takt-controller --duration=1h >"$dir/token" || {
		t_fail "a token from the TokenRequest API"
		return 1
	}
	kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' |
		base64 -d >"$dir/ca.crt"
	printf '%s' "$NS" >"$dir/namespace"
	# Read by the image's user (65532), as a projected volume would be.
	chmod 755 "$dir"
	chmod 644 "$dir"/*
	server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
	server=${server#https://}
	INCLUSTER_HOST=${server%:*}
	INCLUSTER_PORT=${server##*:}
	[ -s "$dir/token" ] && [ -s "$dir/ca.crt" ] && [ -n "$INCLUSTER_PORT" ]
}

incluster_cleanup() {
	[ -n "$INCLUSTER_RBAC" ] || return 0
	kubectl delete clusterrolebinding "$INCLUSTER_RBAC" --ignore-not-found >/dev/null 2>&1
	kubectl delete clusterrole "$INCLUSTER_RBAC" --ignore-not-found >/dev/null 2>&1
	INCLUSTER_RBAC=""
}
