# Sourced by the benchmarks that need the local control plane (lag.sh,
# kill.sh; not run by itself: scripts/bench.sh runs tests/bench/*.sh).
#
# bench_cluster: uses the control plane of $TAKT_CLUSTER_STATE (default
# .cache/cluster) when it is up, else brings one up and sets
# started_cluster=1 so the caller's cleanup takes it down again; sources its
# env and makes sure the CRDs are installed. Run from the repository root.
bench_cluster() {
	started_cluster=""
	if ! bash scripts/cluster.sh status >/dev/null 2>&1; then
		bash scripts/cluster.sh up || return 1
		started_cluster=1
	fi
	# shellcheck disable=SC1091
	. "${TAKT_CLUSTER_STATE:-.cache/cluster}/env"
	kubectl get crd batchschedules.takt.io >/dev/null 2>&1 || kubectl apply -f crds/ >/dev/null
	kubectl wait --for condition=Established --timeout=30s crd/batchschedules.takt.io >/dev/null
}
