#!/usr/bin/env bash
# The test runner behind `make test`, `make unit`, `make e2e`.
# Every test speaks TAP ("ok N - name" / "not ok N - name"): the cmocka unit
# binaries (CMOCKA_MESSAGE_OUTPUT=TAP) and the e2e scripts (tests/e2e/lib.sh).
# The runner counts the lines and closes with "N passed, N failed".
#   tests/run.sh unit|e2e|crosscheck|all      VALGRIND=1 runs unit tests under valgrind
set -uo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
BUILD=${BUILD:-build}
logdir=${TAKT_TEST_LOGS:-.cache/test-logs}
mkdir -p "$logdir"
passed=0
failed=0
failures=()

# count <suite-name> <file-with-tap-output> <exit-status>
count() {
	local name=$1 out=$2 rc=$3 p f
	# A skip counts as passed, as the e2e scripts' "ok N # SKIP" does;
	# cmocka writes its skip() as "not ok N # SKIP".
	p=$(grep -cE '^(not )?ok [0-9]+ # SKIP|^ok [0-9]+' "$out")
	f=$(grep -E '^not ok [0-9]+' "$out" | grep -cv '^not ok [0-9]* # SKIP')
	while IFS= read -r l; do failures+=("$name: $l"); done < <(grep -E '^not ok [0-9]+' "$out" | grep -v '^not ok [0-9]* # SKIP')
	# A suite that crashed or exited non-zero without reporting a failing test
	# still fails: a test binary that dies early must never read as green.
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		failures+=("$name: exited with status $rc (see $out)")
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		f=1
		failures+=("$name: ran no test (see $out)")
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

run_unit() {
	local t out rc
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		out="$logdir/unit-$(basename "$t").tap"
		if [ -n "${VALGRIND:-}" ]; then
			CMOCKA_MESSAGE_OUTPUT=TAP valgrind -q --error-exitcode=99 --leak-check=full \
				--errors-for-leak-kinds=definite,indirect "$t" >"$out" 2>&1
		else
			CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$out" 2>&1
		fi
		rc=$?
		echo "--- unit $(basename "$t"): $(grep -cE '^ok ' "$out") ok, $(grep -E '^not ok ' "$out" | grep -cv '# SKIP') not ok, $(grep -cE '^(not )?ok [0-9]+ # SKIP' "$out") skipped (exit $rc)"
		count "unit/$(basename "$t")" "$out" "$rc"
	done
}

run_scripts() { # run_scripts <kind> <glob...>
	local kind=$1 s out rc
	shift
	for s in "$@"; do
		[ -f "$s" ] || continue
		out="$logdir/$kind-$(basename "$s" .sh).tap"
		bash "$s" >"$out" 2>&1
		rc=$?
		echo "--- $kind $(basename "$s"): $(grep -cE '^ok ' "$out") ok, $(grep -cE '^not ok ' "$out") not ok (exit $rc)"
		count "$kind/$(basename "$s")" "$out" "$rc"
	done
}

run_itests() { # C programs against the live cluster (KUBECONFIG from its env)
	local t out rc
	for t in "$BUILD"/itests/itest_*; do
		[ -x "$t" ] || continue
		out="$logdir/itest-$(basename "$t").tap"
		CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$out" 2>&1
		rc=$?
		echo "--- itest $(basename "$t"): $(grep -cE '^ok ' "$out") ok, $(grep -cE '^not ok ' "$out") not ok (exit $rc)"
		count "itest/$(basename "$t")" "$out" "$rc"
	done
}

run_e2e() {
	# One control plane for the whole e2e suite, of this run alone (its own
	# state directory), so that runs side by side never stop each other's;
	# always torn down.
	export TAKT_CLUSTER_STATE=${TAKT_CLUSTER_STATE:-$PWD/.cache/cluster-e2e-$$}
	local out="$logdir/cluster-up.log"
	if ! bash scripts/cluster.sh up >"$out" 2>&1; then
		tail -30 "$out"
		failures+=("e2e: the control plane did not come up (see $out)")
		failed=$((failed + 1))
		bash scripts/cluster.sh down >/dev/null 2>&1
		return
	fi
	trap 'bash scripts/cluster.sh down >/dev/null 2>&1' EXIT
	# shellcheck disable=SC1090
	. "$TAKT_CLUSTER_STATE/env"
	run_itests
	run_scripts e2e tests/e2e/test_*.sh
	bash scripts/cluster.sh down >"$logdir/cluster-down.log" 2>&1
	trap - EXIT
	# Teardown is itself a test: nothing the cluster started may survive.
	run_scripts e2e tests/e2e/after_*.sh
	rm -rf "$logdir/cluster-logs"
	cp -r "$TAKT_CLUSTER_STATE/logs" "$logdir/cluster-logs" 2>/dev/null
	rm -rf "$TAKT_CLUSTER_STATE"
}

case $what in
unit) run_unit ;;
e2e) run_e2e ;;
crosscheck) run_scripts crosscheck tests/crosscheck/test_*.sh ;;
all)
	run_unit
	run_scripts crosscheck tests/crosscheck/test_*.sh
	run_e2e
	;;
*) echo "usage: tests/run.sh unit|e2e|crosscheck|all" >&2; exit 2 ;;
esac

if [ ${#failures[@]} -gt 0 ]; then
	echo "failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
