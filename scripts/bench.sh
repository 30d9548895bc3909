#!/usr/bin/env bash
# make bench / bench-cron / bench-lag: runs the benchmarks and prints figures.
#   build/bench/bench_<name>   C benchmarks (tests/bench/bench_<name>.c)
#   tests/bench/<name>*.sh     benchmarks that need more than one binary
# Argument: all, or a name prefix (cron, calendar, lag, ...).
set -uo pipefail
cd "$(dirname "$0")/.."
sel=${1:-all}
rc=0
for b in build/bench/bench_* tests/bench/*.sh; do
	[ -e "$b" ] || continue
	n=$(basename "$b"); n=${n#bench_}; n=${n%.sh}
	[ "$sel" = all ] || [[ $n == "$sel"* ]] || continue
	echo "=== bench $n"
	case $b in *.sh) bash "$b" || rc=1 ;; *) "$b" || rc=1 ;; esac
done
exit $rc
