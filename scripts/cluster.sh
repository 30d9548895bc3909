#!/usr/bin/env bash
# The local test control plane: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and KWOK (the simulated kubelet), all on 127.0.0.1, in a temp
# dir. docs/testing.md explains it.
#   scripts/cluster.sh up       start it (or say it is already up); idempotent
#   scripts/cluster.sh down     stop everything it started, remove the temp dir
#   scripts/cluster.sh status   exit 0 when it is up and healthy
#   scripts/cluster.sh adopt NAME PID   have `down` stop PID too (e.g. the
#                               controller that make demo starts)
# State, relative to the repo root, in .cache/cluster/ (or $TAKT_CLUSTER_STATE):
#   kubeconfig  env (to source)  pids ("name pid" lines)  tmpdir (its path)
#   admin-token  logs/<component>.log
# After `down`, pids and tmpdir are kept as pids.last and tmpdir.last so that
# tests/e2e/after_*.sh can check that nothing survived.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# TAKT_CLUSTER_STATE overrides the state directory (a second, separate cluster).
state=${TAKT_CLUSTER_STATE:-$root/.cache/cluster}
logs=$state/logs
stages=$root/scripts/kwok-stages.yaml
node_name=kwok-node-0
: "${TAKT_CLUSTER_TIMEOUT:=90}" # seconds for each readiness wait

log() { echo "cluster: $*" >&2; }
die() { log "$*"; exit 1; }

# pid_ours PID TMPDIR [STARTTIME]: the process is alive and is one of ours, so
# a recycled pid is never signalled: its command line names our temp dir, or,
# for an adopted process, its start time (/proc/PID/stat field 22) is the
# recorded one.
pid_ours() {
	local pid=$1 tmp=$2 start=${3:-}
	[ -n "$pid" ] && [ -n "$tmp" ] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	if [ -n "$start" ]; then
		[ "$(starttime "$pid")" = "$start" ]
		return
	fi
	{ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$tmp"
}
starttime() { { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $20}'; } 2>/dev/null; }

# Every component was started with the temp dir on its command line.
pids_of_tmp() { # pids_of_tmp TMPDIR
	local tmp=$1 f p
	for f in $(grep -lsaF -- "$tmp" /proc/[0-9]*/cmdline); do
		p=${f#/proc/}
		p=${p%/cmdline}
		# only the components, never a shell or a grep that mentions the path
		case $(readlink "/proc/$p/exe" 2>/dev/null) in
		*/etcd | */kube-apiserver | */kube-controller-manager | */kube-scheduler | */kwok) echo "$p" ;;
		esac
	done
}

# healthy: every process of the control plane runs and /readyz answers (a
# busy machine gets 15 s: an `up` must not restart a cluster that is merely slow).
healthy() {
	[ -f "$state/tmpdir" ] && [ -f "$state/pids" ] && [ -f "$state/kubeconfig" ] || return 1
	local tmp name pid start i
	tmp=$(cat "$state/tmpdir")
	[ -d "$tmp" ] || return 1
	while read -r name pid start; do
		[ -z "$start" ] || continue # adopted: not part of the control plane's health
		pid_ours "$pid" "$tmp" || { log "$name (pid $pid) is not running"; return 1; }
	done <"$state/pids"
	for i in 1 2 3; do
		apiserver_get /readyz >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	log "kube-apiserver /readyz does not answer"
	return 1
}

# apiserver_get PATH: an admin GET against the running apiserver.
apiserver_get() {
	local tmp port
	tmp=$(cat "$state/tmpdir")
	port=$(cat "$tmp/apiserver.port")
	curl -sf --max-time 5 --cacert "$tmp/pki/ca.crt" --cert "$tmp/pki/admin.crt" \
		--key "$tmp/pki/admin.key" "https://127.0.0.1:$port$1"
}

# stop_group TMPDIR PID[:STARTTIME]...: TERM, wait up to 5 s, KILL what is left.
stop_group() {
	local tmp=$1 e i left=() t0=$EPOCHREALTIME
	shift
	[ $# -gt 0 ] || return 0
	kill -TERM "${@%%:*}" 2>/dev/null || true
	for i in $(seq 50); do
		left=()
		for e in "$@"; do pid_ours "${e%%:*}" "$tmp" "${e#*:}" && left+=("$e"); done
		if [ ${#left[@]} -eq 0 ]; then
			[ -z "${TAKT_CLUSTER_DEBUG:-}" ] || log "stopped ${*%%:*} in $(elapsed "$t0") s"
			return 0
		fi
		sleep 0.1
	done
	log "killing ${left[*]%%:*} (still running 5 s after TERM)"
	kill -KILL "${left[@]%%:*}" 2>/dev/null || true
	for i in $(seq 50); do
		for e in "${left[@]}"; do pid_ours "${e%%:*}" "$tmp" "${e#*:}" && { sleep 0.1; continue 2; }; done
		return 0
	done
}

stop_all() { # stops what the state files name, then anything else of the temp dir
	local tmp="" name pid start clients=() api=() store=() rest=()
	[ -f "$state/tmpdir" ] && tmp=$(cat "$state/tmpdir")
	if [ -f "$state/pids" ] && [ -n "$tmp" ]; then
		while read -r name pid start; do
			pid_ours "$pid" "$tmp" "$start" || continue
			case $name in
			kube-apiserver) api+=("$pid:$start") ;;
			etcd) store+=("$pid:$start") ;;
			*) clients+=("$pid:$start") ;;
			esac
		done <"$state/pids"
	fi
	# In order: the clients and the apiserver (it drains while etcd still
	# answers), then etcd; then anything else that names the temp dir.
	if [ -n "$tmp" ]; then
		stop_group "$tmp" "${clients[@]}" "${api[@]}"
		stop_group "$tmp" "${store[@]}"
		for pid in $(pids_of_tmp "$tmp"); do rest+=("$pid:"); done
		stop_group "$tmp" "${rest[@]}"
	fi
	if [ -n "$tmp" ] && [ -d "$tmp" ]; then
		case $tmp in
		/*takt-cluster.*) rm -rf "$tmp" ;;
		*) log "not removing unexpected temp dir $tmp" ;;
		esac
	fi
	[ -f "$state/pids" ] && mv -f "$state/pids" "$state/pids.last"
	[ -f "$state/tmpdir" ] && mv -f "$state/tmpdir" "$state/tmpdir.last"
	rm -f "$state/kubeconfig" "$state/env" "$state/admin-token"
}

# show_logs: for a failed start, the log of the component that died (if one
# did) and the errors in the others.
show_logs() {
	local f name
	for f in "$logs"/*.log; do
		[ -f "$f" ] || continue
		name=$(basename "$f" .log)
		if [ "$name" = "${dead:-}" ]; then
			echo "----- $f (it exited; last 40 lines)" >&2
			tail -n 40 "$f" >&2
		else
			echo "----- $f (errors, last 10)" >&2
			grep -E '^[EF][0-9]{4} |"level":"(error|fatal|ERROR|FATAL)"|level=(error|fatal)' "$f" | tail -n 10 | cut -c1-400 >&2 || true
		fi
	done
}

# wait_until DESC CMD...: polls CMD every 0.2 s; fails after the timeout or
# as soon as a component died.
wait_until() {
	local desc=$1 deadline name pid
	shift
	deadline=$((SECONDS + TAKT_CLUSTER_TIMEOUT))
	until "$@" >/dev/null 2>&1; do
		while read -r name pid _; do
			kill -0 "$pid" 2>/dev/null || {
				dead=$name
				log "$name exited while waiting for $desc (log: $logs/$name.log)"
				return 1
			}
		done <"$state/pids"
		[ $SECONDS -lt $deadline ] || { log "timed out after ${TAKT_CLUSTER_TIMEOUT}s waiting for $desc"; return 1; }
		sleep 0.2
	done
}

# free_ports N: N distinct TCP ports on 127.0.0.1 that no socket uses now,
# below the kernel's ephemeral range (so outgoing connections do not take
# them meanwhile). A port taken anyway makes `up` retry with new ones.
free_ports() {
	local n=$1 used p out=() lo hi
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
	[ "$lo" -gt 20000 ] 2>/dev/null || lo=32768
	used=" "
	for p in $(awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u); do
		used="$used$((16#$p)) "
	done
	while [ ${#out[@]} -lt "$n" ]; do
		p=$((10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000)))
		case "$used" in *" $p "*) continue ;; esac
		used="$used$p "
		out+=("$p")
	done
	echo "${out[*]}"
}

gen_pki() { # gen_pki DIR: CA, serving cert, client certs, SA key pair (ECDSA P-256: fast)
	local d=$1 name subj
	mkdir -p "$d"
	(
		cd "$d"
		key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
		key ca.key
		openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=takt-test-ca" -out ca.crt 2>/dev/null
		key apiserver.key
		openssl req -new -key apiserver.key -subj "/CN=kube-apiserver" -out apiserver.csr 2>/dev/null
		printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.0.0.1" \
			"extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature,keyEncipherment" >apiserver.ext
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key \
			-set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" -days 3650 -sha256 \
			-extfile apiserver.ext -out apiserver.crt 2>/dev/null
		printf '%s\n' "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature,keyEncipherment" >client.ext
		# in parallel (random serials: no shared ca.srl)
		for name in admin kube-controller-manager kube-scheduler kwok; do
			case $name in
			admin) subj="/O=system:masters/CN=takt-admin" ;;
			kube-controller-manager) subj="/CN=system:kube-controller-manager" ;;
			kube-scheduler) subj="/CN=system:kube-scheduler" ;;
			kwok) subj="/O=system:masters/CN=kwok" ;;
			esac
			{
				key "$name.key"
				openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null
				openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key \
					-set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" -days 3650 -sha256 \
					-extfile client.ext -out "$name.crt" 2>/dev/null
			} &
		done
		{ key sa.key && openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null; } &
		wait
		rm -f ./*.csr
	)
}

elapsed() { # elapsed T0: seconds since $EPOCHREALTIME was T0, one decimal
	local us=$((${EPOCHREALTIME/./} - ${1/./}))
	printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000))
}

b64() { base64 -w0 <"$1"; }

write_kubeconfig() { # write_kubeconfig FILE PKIDIR USER PORT: certificates embedded
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: takt-test
  cluster:
    server: https://127.0.0.1:$4
    certificate-authority-data: $(b64 "$2/ca.crt")
contexts:
- name: takt-test
  context:
    cluster: takt-test
    user: $3
    namespace: default
current-context: takt-test
users:
- name: $3
  user:
    client-certificate-data: $(b64 "$2/$3.crt")
    client-key-data: $(b64 "$2/$3.key")
EOF
	chmod 600 "$1"
}

start() { # start NAME CMD...: background, logs to logs/NAME.log, pid recorded
	local name=$1
	shift
	# fd 9 (the lock) must not live on in the components
	"$@" </dev/null >"$logs/$name.log" 2>&1 9>&- &
	echo "$name $!" >>"$state/pids"
}

node_ready() {
	kubectl get node "$node_name" \
		-o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True
}

probe_pod_running() {
	[ "$(kubectl -n default get pod takt-cluster-probe -o jsonpath='{.status.phase}' 2>/dev/null)" = Running ]
}

up_once() {
	local bin tmp pki etcd_port etcd_peer api_port token t0 marks
	t0=$EPOCHREALTIME
	marks=""
	mark() { marks="$marks${marks:+, }$1 at $(elapsed "$t0")"; }
	bin=$(bash "$root/scripts/build-cluster-bins.sh") || die "could not get the binaries (scripts/build-cluster-bins.sh)"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/takt-cluster.XXXXXX")
	echo "$tmp" >"$state/tmpdir"
	: >"$state/pids"
	rm -rf "$logs"
	mkdir -p "$logs" "$tmp/etcd" "$tmp/home"
	pki=$tmp/pki
	read -r etcd_port etcd_peer api_port <<<"$(free_ports 3)"
	echo "$api_port" >"$tmp/apiserver.port"

	# etcd first: it starts while the keys are made.
	start etcd "$bin/etcd" --name=takt --data-dir="$tmp/etcd" \
		--listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
		--listen-peer-urls="http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer" \
		--initial-cluster="takt=http://127.0.0.1:$etcd_peer" \
		--unsafe-no-fsync --snapshot-count=100000 --quota-backend-bytes=4294967296 --log-level=warn
	gen_pki "$pki"
	local f
	for f in admin kube-controller-manager kube-scheduler kwok; do [ -s "$pki/$f.crt" ] || f=; [ -n "$f" ] || break; done
	[ -n "$f" ] && [ -s "$pki/sa.pub" ] || { log "openssl failed to make the keys in $pki"; return 1; }
	token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	echo "$token,takt-admin-token,takt-admin-token,system:masters" >"$pki/tokens.csv"
	chmod 600 "$pki/tokens.csv"
	wait_until "etcd" curl -sf --max-time 2 "http://127.0.0.1:$etcd_port/health" || return 1
	mark etcd

	start kube-apiserver "$bin/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$etcd_port" --etcd-prefix=/registry \
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
		--cert-dir="$tmp/apiserver-certs" \
		--tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
		--client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv" \
		--authorization-mode=RBAC \
		--service-cluster-ip-range=10.0.0.0/24 \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
		--disable-admission-plugins=TaintNodesByCondition \
		--endpoint-reconciler-type=none --profiling=false --enable-priority-and-fairness=false \
		--allow-privileged=true --v=1
	write_kubeconfig "$tmp/admin.kubeconfig" "$pki" admin "$api_port"
	for c in kube-controller-manager kube-scheduler kwok; do
		write_kubeconfig "$tmp/$c.kubeconfig" "$pki" "$c" "$api_port"
	done
	wait_until "kube-apiserver /readyz" apiserver_get /readyz || return 1
	mark apiserver

	start kube-controller-manager "$bin/kube-controller-manager" \
		--kubeconfig="$tmp/kube-controller-manager.kubeconfig" --leader-elect=false --secure-port=0 \
		--service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
		--use-service-account-credentials \
		--controllers=job-controller,garbage-collector-controller,ttl-after-finished-controller,serviceaccount-controller,serviceaccount-token-controller,namespace-controller,root-ca-certificate-publisher-controller,cronjob-controller,deployment-controller,replicaset-controller,disruption-controller \
		--concurrent-job-syncs=10 --kube-api-qps=5000 --kube-api-burst=10000 --v=1
	start kube-scheduler "$bin/kube-scheduler" \
		--kubeconfig="$tmp/kube-scheduler.kubeconfig" --leader-elect=false --secure-port=0 \
		--kube-api-qps=5000 --kube-api-burst=10000 --v=1
	# KWOK reads ~/.kwok/kwok.yaml: HOME is the temp dir. TZ=UTC keeps its
	# timestamps in Z form, which the stages' time arithmetic expects.
	start kwok env HOME="$tmp/home" TZ=UTC "$bin/kwok" \
		--kubeconfig="$tmp/kwok.kubeconfig" -c "$stages" \
		--manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
		--cidr=10.244.0.0/16 --node-ip=10.1.0.1

	# The user-facing state: kubeconfig (admin, certificates embedded), env.
	cp "$tmp/admin.kubeconfig" "$state/kubeconfig"
	echo "$token" >"$state/admin-token"
	chmod 600 "$state/admin-token"
	cat >"$state/env" <<EOF
# source this file: the takt test control plane (scripts/cluster.sh)
export KUBECONFIG="$state/kubeconfig"
export TAKT_CLUSTER_DIR="$tmp"
export TAKT_CLUSTER_STATE="$state"
export TAKT_CLUSTER_BIN="$bin"
case ":\$PATH:" in *":$bin:"*) ;; *) export PATH="$bin:\$PATH" ;; esac
EOF
	export KUBECONFIG=$state/kubeconfig PATH=$bin:$PATH

	kubectl apply -f - >/dev/null <<EOF || return 1
apiVersion: v1
kind: Node
metadata:
  name: $node_name
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $node_name
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {cpu: "1000", memory: 4Ti, pods: "10000", ephemeral-storage: 10Ti}
  capacity: {cpu: "1000", memory: 4Ti, pods: "10000", ephemeral-storage: 10Ti}
EOF
	wait_until "node $node_name Ready (kwok)" node_ready || return 1
	mark node
	wait_until "service account default/default (kube-controller-manager)" \
		kubectl -n default get serviceaccount default || return 1
	mark sa
	# End to end: scheduler + kwok move a pod to Running; then it is removed.
	kubectl -n default apply -f - >/dev/null <<EOF || return 1
apiVersion: v1
kind: Pod
metadata: {name: takt-cluster-probe}
spec:
  terminationGracePeriodSeconds: 0
  automountServiceAccountToken: false
  containers: [{name: probe, image: probe}]
EOF
	wait_until "probe pod Running (kube-scheduler + kwok)" probe_pod_running || return 1
	mark pod
	install_crds
	mark crds
	# a graceful delete (kwok finishes it 1 s later); a forced one races kwok
	kubectl -n default delete pod takt-cluster-probe --grace-period=1 --wait=false >/dev/null 2>&1 || true
	log "up in $(elapsed "$t0") s ($marks): apiserver https://127.0.0.1:$api_port, temp dir $tmp"
}

# install_crds: takt's CRDs (crds/*.yaml), applied and Established, so that the
# tests and the demo find them. Applied again by an `up` that finds the cluster
# already up, to pick up edits. A CRD the apiserver refuses is reported, not
# fatal: the tests that need it fail and say why.
install_crds() {
	local f out
	for f in "$root"/crds/*.yaml; do
		# (crds/kustomization.yaml lists them for `kubectl apply -k`)
		[ -f "$f" ] && [ "${f##*/}" != kustomization.yaml ] || continue
		out=$(KUBECONFIG=$state/kubeconfig kubectl apply --server-side --force-conflicts -f "$f" 2>&1) ||
			log "WARNING: the apiserver refused $f: $out"
	done
	KUBECONFIG=$state/kubeconfig kubectl wait --for=condition=Established crd --all --timeout=30s >/dev/null 2>&1 ||
		log "WARNING: not every CRD is Established"
}

up() {
	local attempt
	if healthy; then
		PATH=$(bash "$root/scripts/build-cluster-bins.sh"):$PATH
		install_crds
		log "already up and healthy (. $state/env)"
		return 0
	fi
	if [ -f "$state/tmpdir" ] || [ -f "$state/pids" ]; then
		log "a previous cluster is not healthy: stopping it first"
		stop_all
	fi
	# Whatever goes wrong from here, a failed `up` leaves nothing running.
	trap 'stop_all >/dev/null 2>&1' EXIT
	for attempt in 1 2 3; do
		if up_once; then
			trap - EXIT
			echo "cluster: ready. Use it with:  . $state/env" >&2
			return 0
		fi
		# A port taken between picking it and binding it: try new ports.
		if grep -qs "address already in use" "$logs"/*.log && [ $attempt -lt 3 ]; then
			log "a port was taken meanwhile; retrying with new ports"
			stop_all
			continue
		fi
		show_logs
		stop_all
		die "the control plane did not come up (logs above, and in $logs)"
	done
}

status() {
	if healthy; then
		echo "up: $(grep -o 'https://[^ ]*' "$state/kubeconfig" | head -1), temp dir $(cat "$state/tmpdir")"
		echo "kubeconfig: $state/kubeconfig   (. $state/env)"
		cat "$state/pids"
		return 0
	fi
	echo "down"
	return 1
}

cmd=${1:-}
case $cmd in
up | down | status) ;;
adopt) [ $# -eq 3 ] || { echo "usage: scripts/cluster.sh adopt NAME PID" >&2; exit 2; } ;;
*) echo "usage: scripts/cluster.sh up|down|status|adopt NAME PID" >&2; exit 2 ;;
esac
mkdir -p "$state"
# One cluster operation at a time (make -j, two terminals).
exec 9>"$state/lock"
flock 9
case $cmd in
up) up ;;
down)
	if [ -f "$state/tmpdir" ] || [ -f "$state/pids" ]; then
		stop_all
		log "down"
	else
		log "not running"
	fi
	;;
status) status ;;
adopt)
	healthy || die "not up"
	st=$(starttime "$3")
	[ -n "$st" ] || die "no process $3"
	echo "$2 $3 $st" >>"$state/pids"
	;;
esac
