#!/usr/bin/env bash
# The image, built and run: `make image` (scripts/image.sh: the Dockerfile
# with buildah, chroot isolation, vfs, the base made by mmdebstrap when
# missing) builds localhost/takt-controller:dev; takt-controller runs from it (buildah
# run, host network) with an in-cluster identity only — the service
# account files mounted where a pod has them, KUBERNETES_SERVICE_HOST/PORT,
# deploy/base/rbac.yaml (tests/e2e/incluster.sh) — and a schedule fires. Then a SIGTERM
# with a slot's Job POST in flight (the apiserver paused across the slot):
# the controller drains (the Job POSTed gets its status written), exits 0
# within the bound, and every Job created is recorded. Last, the bound: an
# apiserver that stays paused holds the exit 5 s, no more.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"
. "$(dirname "$0")/incluster.sh"

IMAGE=${TAKT_IMAGE:-localhost/takt-controller:dev}
img() { bash "$T_ROOT/scripts/image.sh" buildah "$@"; }
CTR=""
RUN_PID=""

cleanup() {
	[ -n "$RUN_PID" ] && kill -KILL "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null
	[ -n "$CTR" ] && img rm "$CTR" >/dev/null 2>&1
	[ -n "${INCLUSTER_RBAC:-}" ] && incluster_cleanup
	ctl_cleanup
}

# The takt-controller process under the `buildah run` of pid $1 (its
# descendants, by parent pid: nothing else on the machine is looked at).
controller_pid() {
	local p kids todo=("$1")
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		if [ "$p" != "$1" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = takt-controller ]; then
			echo "$p"
			return 0
		fi
		kids=$(cat /proc/"$p"/task/*/children 2>/dev/null)
		for k in $kids; do todo+=("$k"); done
	done
	return 1
}

# 1. The build, timed (cold: the base made by mmdebstrap; warm: cached layers).
t0=$(now)
out=$(bash "$T_ROOT/scripts/image.sh" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
	t_pass "make image builds the Dockerfile ($(elapsed_since "$t0") s)"
	t_diag "$(echo "$out" | tail -1)"
else
	t_fail "make image builds the Dockerfile" "$(echo "$out" | tail -30)"
	t_done
fi
t_like "make image prints the image's size" "$(echo "$out" | tail -1)" "size [0-9.]+ ?[kMG]B"
t_ok "the image's takt-controller runs (--help)" img run --isolation chroot \
	"$(img from -q "$IMAGE" | tee /tmp/.t62ctr.$$)" -- /usr/local/bin/takt-controller --help
img rm "$(cat /tmp/.t62ctr.$$)" >/dev/null 2>&1
rm -f /tmp/.t62ctr.$$

# 2. Run it as in a pod, with the in-cluster identity and nothing else.
t_ns_create image || t_done
trap cleanup EXIT
SA=$(mktemp -d)
CTL_DIR=$SA
INCLUSTER_RBAC=1
t_ok "the in-cluster identity (deploy/base/rbac.yaml, a TokenRequest token)" incluster_identity "$SA" || t_done
# Read by the image's user (65532), as a projected volume is.
chmod 755 "$SA"
INCLUSTER_HOST=$(sed -n 's/^KUBERNETES_SERVICE_HOST=//p' "$SA/env")
INCLUSTER_PORT=$(sed -n 's/^KUBERNETES_SERVICE_PORT=//p' "$SA/env")
WHO=system:serviceaccount:$INCLUSTER_NS:$INCLUSTER_SA
t_is "the service account can create Jobs in the test's namespace" \
	"$(kubectl auth can-i create jobs -n "$NS" --as="$WHO")" yes
t_is "and nothing it was not given (secrets)" \
	"$(kubectl auth can-i get secrets -n "$NS" --as="$WHO")" no

CTR=$(img from -q "$IMAGE")
# Mounted at /run/...: /var/run is a symlink to /run in Debian, and
# buildah's chroot isolation does not follow it for a mount's destination;
# the controller reads /var/run/secrets/..., as in a pod.
LOG=$CTL_LOGDIR/controller-$NS.log
img run --isolation chroot --network host \
	-v "$SA:/run/secrets/kubernetes.io/serviceaccount:ro" \
	--env KUBERNETES_SERVICE_HOST="$INCLUSTER_HOST" --env KUBERNETES_SERVICE_PORT="$INCLUSTER_PORT" \
	"$CTR" -- /usr/local/bin/takt-controller --namespace "$NS" --http-addr 127.0.0.1:0 >>"$LOG" 2>&1 &
RUN_PID=$!
t_diag "buildah run pid $RUN_PID, log $LOG"
wait_for 30 "the controller in the image starts with the in-cluster identity" \
	grep -q 'msg="starting" server=https://'"$INCLUSTER_HOST:$INCLUSTER_PORT"' context=in-cluster' "$LOG"
t_is "it runs as the image's user (65532)" \
	"$(until_true 10 controller_pid "$RUN_PID"; p=$(controller_pid "$RUN_PID") && awk '/^Uid:/ {print $2}' "/proc/$p/status")" 65532

bs_apply tick "* * * * * *" Allow ""
wait_for 30 "a schedule fires: Jobs created by the controller in the image" jobs_at_least tick 2
has_last() { [ -n "$(bs_status tick lastScheduleTime)" ]; }
wait_for 15 "and their slots are written to the status" has_last

# 3. SIGTERM with a slot's Job POST in flight: the apiserver is paused
# (SIGSTOP) across a slot, so the POST has left and waits for its answer;
# then SIGTERM, then the apiserver resumes. The controller drains: the
# POST's answer sends the slot's status, whose answer ends the drain, and it
# exits 0 within the bound. Every Job created is recorded.
CPID=$(controller_pid "$RUN_PID")
t_ok "the controller's pid found ($CPID)" test -n "$CPID"
APISERVER=$(awk '$1 == "kube-apiserver" { print $2 }' "$T_STATE/pids")
t_ok "the apiserver's pid found ($APISERVER)" test -n "$APISERVER"
resume() { [ -n "$APISERVER" ] && kill -CONT "$APISERVER" 2>/dev/null; }
trap 'resume; cleanup' EXIT
kill -STOP "$APISERVER"
sleep 1.3
t0=$(now)
kill -TERM "$CPID"
sleep 0.5
resume
rc=0
wait "$RUN_PID" || rc=$?
RUN_PID=""
took=$(elapsed_since "$t0")
t_is "SIGTERM: the controller exits 0" "$rc" 0
t_cmp "within the 5 s bound (took $took s)" "$took" -lt 6
t_like "a pass and its writes were under way at the signal" \
	"$(grep 'msg="shutdown: draining"' "$LOG")" 'passes=[1-9][0-9]* writes=[1-9]'
t_ok "they were drained" grep -q 'msg="shutdown: writes drained"' "$LOG"
newest=$(jobs_of tick | tr ' ' '\n' | sed 's/^tick-//' | sort -n | tail -1)
t_ok "Jobs are there ($(count_jobs_of tick))" test -n "$newest"
last=$(bs_status tick lastScheduleTime)
t_is "the newest Job's slot is recorded (lastScheduleTime $last)" \
	"$(date -u -d "$last" +%s 2>/dev/null)" "$newest"

# 4. The bound: the apiserver stays paused past it. The controller (this
# one the build's own, bin/takt-controller) gives up after 5 s, says so,
# and exits 0; the apiserver resumes after.
bs_apply tock "* * * * * *" Allow ""
ctl_start
wait_for 30 "a second controller fires (bin/takt-controller)" jobs_at_least tock 1
kill -STOP "$APISERVER"
sleep 1.3
t0=$(now)
rc=0
ctl_stop || rc=$?
took=$(elapsed_since "$t0")
resume
t_is "SIGTERM with the apiserver not answering: exit 0" "$rc" 0
t_cmp "after the 5 s bound (took $took s)" "$took" -ge 4.9
t_cmp "and not much later" "$took" -lt 8
t_ok "it says what was left unanswered" grep -q 'msg="shutdown: writes unanswered" passes=[1-9]' "$LOG"
t_done
