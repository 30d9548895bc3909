# shellcheck shell=bash
# Running a process exactly as in a pod of deploy/'s Deployment, against the
# local control plane (docs/testing.md, "The in-cluster identity"): the
# ServiceAccount and RBAC of deploy/base/rbac.yaml applied as they are, a token
# from the TokenRequest API, the cluster's CA and the namespace in the files
# a pod finds at /var/run/secrets/kubernetes.io/serviceaccount, and
# KUBERNETES_SERVICE_HOST/PORT naming the apiserver. Nothing of the admin
# kubeconfig reaches the process.
#
#   . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/incluster.sh"
#   dir=$(mktemp -d)
#   incluster_identity "$dir" || exit 1          # [SECRET]: bind the token to it
#   incluster_cmd "$dir"                         # INCLUSTER_CMD: the prefix
#   "${INCLUSTER_CMD[@]}" bin/takt-controller --leader-elect &   # as in a pod
#   incluster_rotate "$dir" [SECRET]             # a new token, swapped in atomically
#   incluster_token_of "$dir"                    # the token now in the file
#   incluster_cleanup                            # deletes what deploy/base/rbac.yaml made
#
# The directory is laid out as kubelet writes a projected volume (its
# AtomicWriter): the files live in a timestamped directory `..<ts>`, a
# symlink `..data` points at it, and `token`, `ca.crt`, `namespace` are
# symlinks through `..data`. A rotation writes a new `..<ts>` and renames a
# new `..data` over the old one, so a reader sees the old files or the new
# ones, never a mix. INCLUSTER_CMD bind-mounts the directory at the fixed
# path in a private mount namespace (unshare -m; as root, else in a user
# namespace with -r), so nothing global is touched and rotations done from
# outside are seen inside.

INCLUSTER_NS=takt-system
INCLUSTER_SA=takt-controller
INCLUSTER_PATH=/var/run/secrets/kubernetes.io/serviceaccount

# incluster_identity DIR [SECRET]: the ServiceAccount and RBAC (from
# deploy/base/rbac.yaml), then DIR filled with a token (bound to the Secret
# SECRET of takt-system when given: deleting it revokes the token; the Secret
# is created if missing), ca.crt, namespace, and DIR/env (KUBERNETES_SERVICE_HOST
# and _PORT). Returns non-zero, with a line on stderr, when a step fails.
incluster_identity() {
	local dir=$1 secret=${2:-}
	# A namespace being deleted (an earlier test's, or an install's) takes no
	# new objects: wait until it is gone.
	if [ "$(kubectl get namespace "$INCLUSTER_NS" -o jsonpath='{.status.phase}' 2>/dev/null)" = Terminating ]; then
		until_true 90 eval '! kubectl get namespace "$INCLUSTER_NS" >/dev/null 2>&1'
	fi
	kubectl apply --server-side --field-manager=takt-e2e -f "$T_ROOT/deploy/base/rbac.yaml" >/dev/null || {
		echo "incluster_identity: deploy/base/rbac.yaml was not applied" >&2
		return 1
	}
	incluster_files "$dir" "$secret"
}

# incluster_files DIR [SECRET]: the same without applying any RBAC, for a
# ServiceAccount $INCLUSTER_NS/$INCLUSTER_SA made otherwise (another
# install, e.g. deploy/overlays/namespaced: set INCLUSTER_NS first).
incluster_files() {
	local dir=$1 secret=${2:-} server hostport
	mkdir -p "$dir" || return 1
	until_true 30 kubectl -n "$INCLUSTER_NS" get serviceaccount "$INCLUSTER_SA" || {
		echo "incluster_files: no ServiceAccount $INCLUSTER_NS/$INCLUSTER_SA" >&2
		return 1
	}
	server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
	hostport=${server#https://}
	hostport=${hostport%%/*}
	printf 'KUBERNETES_SERVICE_HOST=%s\nKUBERNETES_SERVICE_PORT=%s\n' \
		"${hostport%:*}" "${hostport##*:}" >"$dir/env"
	incluster_rotate "$dir" "$secret"
}

# incluster_rotate DIR [SECRET]: a new token from the TokenRequest API
# (bound to SECRET when given), written with ca.crt and namespace into a new
# `..<ts>` directory that then replaces the old one atomically.
incluster_rotate() {
	local dir=$1 secret=${2:-} ts new token old
	if [ -n "$secret" ] && ! kubectl -n "$INCLUSTER_NS" get secret "$secret" >/dev/null 2>&1; then
		kubectl -n "$INCLUSTER_NS" create secret generic "$secret" >/dev/null || return 1
	fi
	token=$(kubectl -n "$INCLUSTER_NS" create token "$INCLUSTER_SA" --duration=1h \
		${secret:+--bound-object-kind=Secret --bound-object-name="$secret"}) || {
		echo "incluster_rotate: the TokenRequest was refused" >&2
		return 1
	}
	ts=..$(date -u +%Y_%m_%d_%H_%M_%S.%N)
	new=$dir/$ts
	mkdir "$new" || return 1
	printf '%s' "$token" >"$new/token"
	kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' |
		base64 -d >"$new/ca.crt" || return 1
	printf '%s' "$INCLUSTER_NS" >"$new/namespace"
	old=$(readlink "$dir/..data" 2>/dev/null)
	ln -sfn "$ts" "$dir/..data_tmp" && mv -T "$dir/..data_tmp" "$dir/..data" || return 1
	local f
	for f in token ca.crt namespace; do
		[ -L "$dir/$f" ] || ln -s "..data/$f" "$dir/$f"
	done
	[ -n "$old" ] && rm -rf "${dir:?}/$old"
	return 0
}

incluster_token_of() { cat "$1/token"; }

# incluster_cmd DIR: sets the array INCLUSTER_CMD to a command prefix that
# runs a command with only what a pod has: the environment's PATH,
# KUBERNETES_SERVICE_HOST/PORT, HOME=/, and DIR at
# /var/run/secrets/kubernetes.io/serviceaccount (read-only). Each step execs
# the next, so `"${INCLUSTER_CMD[@]}" CMD &` gives CMD's own pid in $!
# (signals reach CMD itself).
INCLUSTER_CMD=()
incluster_cmd() {
	local dir run unsh
	dir=$(cd "$1" && pwd) || return 1
	# A tmpfs over the real /run (/var/run is usually a symlink to it), so
	# the mount point is made without creating anything outside. The
	# namespace is made private by hand and every mount is -n (no utab):
	# util-linux would otherwise keep its utab in the host's /run/mount.
	run=$(readlink -f /var/run)
	if [ "$(id -u)" = 0 ]; then
		unsh=(unshare -m --propagation unchanged)
	else
		unsh=(unshare -r -m --propagation unchanged)
	fi
	# shellcheck disable=SC2046,SC2016
	INCLUSTER_CMD=(env -i PATH="$PATH" HOME=/ ${TZDIR:+TZDIR="$TZDIR"} $(cat "$dir/env")
		"${unsh[@]}" sh -c '
		set -e
		mount -n --make-rprivate /
		mount -n -t tmpfs -o mode=0755 takt-run "$1"
		mkdir -p "$2"
		mount -n --bind "$3" "$2"
		mount -n -o remount,bind,ro "$2"
		shift 3
		exec "$@"' incluster "$run" "$INCLUSTER_PATH" "$dir")
}

# incluster_cleanup: deletes what incluster_identity applied (the
# takt-system namespace with its Secrets, the ClusterRole and its binding),
# and waits until the namespace is gone, so the next test can create it anew.
incluster_cleanup() {
	kubectl delete --ignore-not-found --wait=false -f "$T_ROOT/deploy/base/rbac.yaml" >/dev/null 2>&1
	until_true 60 eval '! kubectl get namespace "$INCLUSTER_NS" >/dev/null 2>&1'
}
