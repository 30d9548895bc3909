#!/usr/bin/env bash
# Prints the directory holding Debian's prometheus and promtool binaries,
# extracted once from the package into the cache (not installed: the
# package would register and may start a service; the tests only need the
# two static binaries, run on loopback by the test itself).
set -euo pipefail
cache=${XDG_CACHE_HOME:-$HOME/.cache}/takt/prometheus
if [ ! -x "$cache/usr/bin/promtool" ] || [ ! -x "$cache/usr/bin/prometheus" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/takt-prom.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	(cd "$work" && apt-get download prometheus >&2) || {
		apt-get update -q >&2 && (cd "$work" && apt-get download prometheus >&2)
	}
	mkdir -p "$cache"
	dpkg-deb -x "$work"/prometheus_*.deb "$cache"
fi
echo "$cache/usr/bin"
