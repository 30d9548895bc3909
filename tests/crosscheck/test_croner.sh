#!/usr/bin/env bash
# Cross-check of the cron engine against croner (pinned in package-lock.json
# beside this script), installed with `npm ci` into .cache/node, outside git.
# Seeded and reproducible: CRONER_CASES (default 5000, plus a third more aimed
# at DST transitions) and CRONER_SEED. Prints TAP.
set -uo pipefail
cd "$(dirname "$0")/../.."
here=tests/crosscheck
bin=${BIN:-bin}/kubectl-takt
cache=.cache/node

skip() {
	echo "1..1"
	echo "ok 1 - croner crosscheck # SKIP $1"
	exit 0
}
[ -x "$bin" ] || { echo "1..1"; echo "not ok 1 - $bin is not built (make tests)"; exit 1; }
command -v node >/dev/null || skip "node is not installed"
command -v npm >/dev/null || skip "npm is not installed"

mkdir -p "$cache"
if ! cmp -s "$here/package-lock.json" "$cache/package-lock.json" || [ ! -d "$cache/node_modules/croner" ]; then
	cp "$here/package.json" "$here/package-lock.json" "$cache/"
	if ! (cd "$cache" && npm ci --no-audit --no-fund --loglevel=error >npm-ci.log 2>&1); then
		skip "npm ci failed (no registry?): $(tail -1 "$cache/npm-ci.log")"
	fi
fi
exec node "$here/croner_check.js" "$cache/node_modules/croner" "$bin" \
	"${CRONER_CASES:-5000}" "${CRONER_SEED:-20261122}"
