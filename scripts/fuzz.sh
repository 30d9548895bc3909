#!/usr/bin/env bash
# make fuzz-run: every libFuzzer target for FUZZ_SECONDS (default 60) each,
# with its seed corpus from tests/fuzz/corpus/<name>/ when there is one.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
rc=0
for f in build-fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	n=$(basename "$f")
	work=.cache/fuzz/$n
	mkdir -p "$work"
	seeds=tests/fuzz/corpus/${n#fuzz_}
	echo "=== $n for ${secs}s"
	"$f" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -artifact_prefix="$work/" \
		"$work" $( [ -d "$seeds" ] && echo "$seeds" ) 2>&1 | tail -4 || rc=1
done
exit $rc
