#!/usr/bin/env bash
# Builds the test control plane's binaries from Go modules, once, into a cache
# outside the clone keyed by version: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl and kwok.
# Prints the bin directory on stdout. Honours KUBEBUILDER_ASSETS: when it names
# a directory that already holds the binaries, nothing is built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"

need="etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok"
have_all() { for b in $need; do [ -x "$1/$b" ] || return 1; done; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && have_all "$KUBEBUILDER_ASSETS"; then
	echo "$KUBEBUILDER_ASSETS"
	exit 0
fi

cache=${XDG_CACHE_HOME:-$HOME/.cache}/takt/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}
bin=$cache/bin
if have_all "$bin"; then
	echo "$bin"
	exit 0
fi
mkdir -p "$bin"
command -v go >/dev/null || { echo "build-cluster-bins: Go is required (see README)" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
log() { echo "build-cluster-bins: $*" >&2; }
start=$(date +%s)

# etcd: its server module has a main package at its root; a module of its own
# so its dependency versions do not fight Kubernetes'.
if [ ! -x "$bin/etcd" ]; then
	log "building etcd $ETCD_VERSION"
	m=$cache/etcd-mod
	mkdir -p "$m"
	cat >"$m/go.mod" <<MOD
module takt.local/etcd-tools

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
	printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >"$m/tools.go"
	(cd "$m" && go mod tidy >&2 && go build -trimpath -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3 >&2)
	mv "$bin/etcd.tmp" "$bin/etcd"
fi

# kwok has no replace directives, so go install works.
if [ ! -x "$bin/kwok" ]; then
	log "building kwok $KWOK_VERSION"
	GOBIN="$cache/kwok-bin" go install -trimpath "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >&2
	mv "$cache/kwok-bin/kwok" "$bin/kwok"
fi

# Kubernetes: its go.mod replaces the staging modules with ./staging paths, so
# `go install` refuses it. A tools module requires it and replaces every
# staging module with its published v0.<minor>.<patch> tag, the list taken
# from Kubernetes' own go.mod.
k8s_cmds="kube-apiserver kube-controller-manager kube-scheduler kubectl"
missing=""
for c in $k8s_cmds; do [ -x "$bin/$c" ] || missing="$missing $c"; done
if [ -n "$missing" ]; then
	log "building Kubernetes $K8S_VERSION:$missing (tens of minutes on a cold cache)"
	m=$cache/k8s-mod
	mkdir -p "$m"
	kmod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
	[ -f "$kmod" ] || { log "cannot download k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
	staging_ver="v0.${K8S_VERSION#v1.}"
	{
		echo "module takt.local/k8s-tools"
		echo
		echo "go $(sed -n 's/^go //p' "$kmod")"
		echo
		echo "require k8s.io/kubernetes $K8S_VERSION"
		echo
		sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"$staging_ver"'#p' "$kmod"
	} >"$m/go.mod"
	{
		printf '//go:build tools\n\npackage tools\n\nimport (\n'
		for c in $k8s_cmds; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
		printf ')\n'
	} >"$m/tools.go"
	pkg=k8s.io/component-base/version
	minor=${K8S_VERSION#v1.}
	minor=${minor%%.*}
	ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
	(cd "$m" && go mod tidy >&2)
	for c in $missing; do
		log "  go build $c"
		(cd "$m" && go build -trimpath -ldflags "$ldflags" -o "$bin/$c.tmp" "k8s.io/kubernetes/cmd/$c" >&2)
		mv "$bin/$c.tmp" "$bin/$c"
	done
fi
log "done in $(($(date +%s) - start)) s"
echo "$bin"
