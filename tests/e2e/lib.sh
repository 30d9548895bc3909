# shellcheck shell=bash
# A small TAP library for the e2e scripts (tests/e2e/*.sh), which tests/run.sh
# runs against the live control plane (scripts/cluster.sh; docs/testing.md).
# Plan-less TAP: "ok N - desc" / "not ok N - desc", diagnostics as "# ..."
# lines. The script's exit status is 0 only when every test passed.
#
#   . "$(dirname "$0")/lib.sh"
#   t_ns_create                      # a fresh namespace in $NS, deleted at exit
#   kn apply -f - <<EOF ... EOF      # kubectl -n "$NS"
#   t_ok "job created" kn create job j --image=x
#   t_is "exit code" "$(kn get pod p -o jsonpath=...)" 3
#   wait_for 30 "job complete" job_has_condition j Complete
#   t_done                           # last line: exits 0 or 1
#
# Every helper returns the test's status, so a script can stop a scenario
# early: `wait_for ... || return`. E2E_KEEP_NS=1 keeps the namespace.

set -uo pipefail

T_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T_N=0
T_FAILED=0
T_FAILURES=()
NS=""

# Standalone runs (bash tests/e2e/test_x.sh) use the running cluster's env.
T_STATE=${TAKT_CLUSTER_STATE:-$T_ROOT/.cache/cluster}
if [ -z "${KUBECONFIG:-}" ] && [ -f "$T_STATE/env" ]; then
	# shellcheck disable=SC1091
	. "$T_STATE/env"
fi

# t_diag LINE...: diagnostics ("# " prefixed, one per input line).
t_diag() {
	local l
	if [ $# -gt 0 ]; then
		printf '%s\n' "$@" | while IFS= read -r l; do printf '# %s\n' "$l"; done
	else
		while IFS= read -r l; do printf '# %s\n' "$l"; done
	fi
}

t_pass() { T_N=$((T_N + 1)); echo "ok $T_N - $1"; return 0; }

# t_fail DESC [DIAG...]: a failing test, then its diagnostics and a dump of
# the namespace's state.
t_fail() {
	local desc=$1
	shift
	T_N=$((T_N + 1))
	T_FAILED=$((T_FAILED + 1))
	T_FAILURES+=("$T_N - $desc")
	echo "not ok $T_N - $desc"
	[ $# -gt 0 ] && t_diag "$@"
	t_dump
	return 1
}

# t_ok DESC CMD...: passes when CMD exits 0; its output is shown on failure.
t_ok() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then t_pass "$desc"; else t_fail "$desc" "command: $*" "exit status: $rc" "$out"; fi
}

# t_nok DESC CMD...: passes when CMD fails.
t_nok() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then t_pass "$desc"; else t_fail "$desc" "command: $* (expected to fail, exit 0)" "$out"; fi
}

# t_is DESC GOT WANT: string equality.
t_is() {
	if [ "$2" = "$3" ]; then t_pass "$1"; else t_fail "$1" "     got: '$2'" "expected: '$3'"; fi
}

# t_like DESC GOT ERE: GOT matches the extended regular expression.
t_like() {
	if printf '%s' "$2" | grep -Eq -- "$3"; then t_pass "$1"; else t_fail "$1" "     got: '$2'" "expected to match: $3"; fi
}

# t_cmp DESC A OP B: numeric comparison (OP: -lt -le -eq -ne -ge -gt), decimals allowed.
t_cmp() {
	if awk -v a="$2" -v op="$3" -v b="$4" 'BEGIN {
		a += 0; b += 0
		r = (op == "-lt") ? a < b : (op == "-le") ? a <= b : (op == "-eq") ? a == b : \
		    (op == "-ne") ? a != b : (op == "-ge") ? a >= b : (op == "-gt") ? a > b : 0
		exit !r }'; then
		t_pass "$1"
	else
		t_fail "$1" "expected: $2 $3 $4"
	fi
}

# wait_for TIMEOUT DESC CMD...: polls CMD every 0.2 s until it exits 0 (ok)
# or TIMEOUT (whole) seconds pass (not ok, with CMD's last output).
wait_for() {
	local timeout=$1 desc=$2 out="" start
	shift 2
	start=$EPOCHREALTIME
	while :; do
		if out=$("$@" 2>&1); then
			t_pass "$desc"
			return 0
		fi
		if [ $((${EPOCHREALTIME/./} - ${start/./})) -ge $((timeout * 1000000)) ]; then
			t_fail "$desc" "timed out after ${timeout}s: $*" "last output: $out"
			return 1
		fi
		sleep 0.2
	done
}

# until_true TIMEOUT CMD...: like wait_for but not a test (no TAP line).
until_true() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.2
	done
}

# now: seconds since the epoch, with decimals.
now() { echo "$EPOCHREALTIME"; }
# elapsed_since T: seconds since T (from `now`), 3 decimals.
elapsed_since() {
	local us=$((${EPOCHREALTIME/./} - ${1/./}))
	printf '%d.%03d\n' $((us / 1000000)) $((us % 1000000 / 1000))
}

kn() { kubectl -n "$NS" "$@"; }

# t_ns_create [PREFIX]: a fresh namespace in $NS (its default service account
# ready, so pods can be created), deleted when the script exits.
t_ns_create() {
	local prefix=${1:-$(basename "$0" .sh | tr '_' '-' | tr -cd 'a-z0-9-')}
	NS="e2e-${prefix:0:40}-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
	if ! kubectl create namespace "$NS" >/dev/null 2>&1; then
		t_fail "create namespace $NS" "$(kubectl create namespace "$NS" 2>&1)"
		return 1
	fi
	trap t_ns_delete EXIT
	until_true 30 kubectl -n "$NS" get serviceaccount default || {
		t_fail "service account $NS/default appears"
		return 1
	}
	t_diag "namespace $NS"
}

t_ns_delete() {
	[ -n "$NS" ] || return 0
	if [ -n "${E2E_KEEP_NS:-}" ]; then
		t_diag "kept namespace $NS (E2E_KEEP_NS)"
		return 0
	fi
	kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
}

# t_dump: what helps to understand a failure: the namespace's objects and
# events, the node, and the tail of the simulated kubelet's and the
# controller-manager's logs.
# T_NO_DUMP=1 turns it off (scripts that run without a cluster).
t_dump() {
	[ -n "${KUBECONFIG:-}" ] && [ -z "${T_NO_DUMP:-}" ] || return 0
	{
		echo "---- state at $(date -u +%H:%M:%S.%N | cut -c1-12) UTC"
		if [ -n "$NS" ]; then
			kubectl -n "$NS" get jobs,pods -o wide 2>&1
			kubectl -n "$NS" get pods -o custom-columns='POD:.metadata.name,PHASE:.status.phase,DELETION:.metadata.deletionTimestamp,FINALIZERS:.metadata.finalizers,STATE:.status.containerStatuses[*].state' 2>&1
			kubectl -n "$NS" get events --sort-by=.lastTimestamp 2>&1 | tail -n 20
		fi
		kubectl get nodes 2>&1
		local f
		for f in kwok kube-controller-manager; do
			f=$T_STATE/logs/$f.log
			[ -f "$f" ] || continue
			echo "---- tail $f"
			# (KWOK racing a deletion — "not found" — is noise)
			grep -E 'level":"(ERROR|WARN)|^E[0-9]{4}' "$f" | grep -v -e 'not found' -e 'manifest file is empty' |
				tail -n 8 | cut -c1-400
		done
	} | t_diag
}

# Conditions and fields, as test commands (exit status only).
job_has_condition() { # job_has_condition JOB TYPE
	[ "$(kn get job "$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].status}" 2>/dev/null)" = True ]
}
pod_phase() { kn get pod "$1" -o jsonpath='{.status.phase}' 2>/dev/null; }
pod_phase_is() { [ "$(pod_phase "$1")" = "$2" ]; }
pod_gone() { # NotFound, not any error
	local out
	out=$(kn get pod "$1" 2>&1) && return 1
	printf '%s' "$out" | grep -q NotFound
}
pods_of_job() { kn get pods -l "batch.kubernetes.io/job-name=$1" -o jsonpath='{.items[*].metadata.name}' 2>/dev/null; }
job_pod_running() { # job_pod_running JOB: one of its pods is Running
	kn get pods -l "batch.kubernetes.io/job-name=$1" -o jsonpath='{.items[*].status.phase}' 2>/dev/null | grep -qw Running
}
no_pods_of_job() { # the list succeeded and is empty
	local out
	out=$(kn get pods -l "batch.kubernetes.io/job-name=$1" -o name 2>&1) || return 1
	[ -z "$out" ]
}

# t_done: a summary diagnostic; exits 0 when every test passed.
t_done() {
	if [ "$T_N" -eq 0 ]; then
		echo "not ok 1 - no test ran"
		exit 1
	fi
	if [ "$T_FAILED" -gt 0 ]; then
		t_diag "$T_FAILED of $T_N failed:" "${T_FAILURES[@]}"
		exit 1
	fi
	t_diag "all $T_N passed"
	exit 0
}
