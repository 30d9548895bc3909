#!/usr/bin/env bash
# Installs the Debian packages takt needs, idempotently: what is installed
# already is skipped, and apt runs only when something is missing.
#   scripts/deps.sh          build and test (make, make test, make demo,
#                            make image: buildah and mmdebstrap)
#   scripts/deps.sh dev      also clang, libFuzzer, clang-format, cppcheck
set -euo pipefail
pkgs="build-essential pkg-config libcurl4-openssl-dev libcjson-dev libyaml-dev libmicrohttpd-dev zlib1g-dev
libssl-dev libcmocka-dev tzdata valgrind openssl curl ca-certificates
nodejs npm procps iproute2 python3 iptables
buildah mmdebstrap"
if [ "${1:-}" = dev ]; then
	pkgs="$pkgs clang clang-format cppcheck libclang-rt-14-dev llvm"
fi
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node may come from outside Debian (a machine image); accept any node+npm.
if command -v node >/dev/null && command -v npm >/dev/null; then
	missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo $missing)
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing $missing" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q --no-install-recommends $missing >&2; then
	$sudo apt-get update -q >&2
	$sudo apt-get install -y -q --no-install-recommends $missing >&2
fi
