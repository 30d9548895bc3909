#!/usr/bin/env bash
# make bench-cron: our cron engine side by side with croner on the same
# expressions, zones and instants (ns per call). croner comes from
# tests/crosscheck/package-lock.json, installed into .cache/node.
set -uo pipefail
cd "$(dirname "$0")/../.."
bench=${BUILD:-build}/bench/bench_cron
cache=.cache/node
[ -x "$bench" ] || { echo "$bench is not built"; exit 1; }
command -v node >/dev/null || { echo "skipped: node is not installed"; exit 0; }
if ! cmp -s tests/crosscheck/package-lock.json "$cache/package-lock.json" || [ ! -d "$cache/node_modules/croner" ]; then
	mkdir -p "$cache"
	cp tests/crosscheck/package.json tests/crosscheck/package-lock.json "$cache/"
	(cd "$cache" && npm ci --no-audit --no-fund --loglevel=error >npm-ci.log 2>&1) ||
		{ echo "skipped: npm ci failed: $(tail -1 "$cache/npm-ci.log")"; exit 0; }
fi
echo "croner $(node -p "require('./$cache/node_modules/croner/package.json').version"), node $(node --version)"
"$bench" --tsv | node tests/bench/cron_croner.js "$cache/node_modules/croner"
