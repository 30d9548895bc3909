#!/usr/bin/env bash
# Run by tests/run.sh AFTER `scripts/cluster.sh down`: nothing the control
# plane started may survive, and its temp dir must be gone. Reads what `down`
# left behind: pids.last ("name pid" lines) and tmpdir.last.
. "$(dirname "$0")/lib.sh"
T_NO_DUMP=1 # the cluster is down: nothing to dump

state=$T_STATE
tmp=$(cat "$state/tmpdir.last" 2>/dev/null)

t_ok "down recorded the temp dir it removed ($state/tmpdir.last)" test -n "$tmp"
t_ok "down recorded the pids it stopped ($state/pids.last)" test -s "$state/pids.last"
t_nok "the state of a running cluster is gone (pids, tmpdir, kubeconfig, env)" \
	bash -c "ls '$state/pids' '$state/tmpdir' '$state/kubeconfig' '$state/env' 2>/dev/null | grep ."

# alive PID: a live process (a zombie has exited; it only awaits its reaper)
alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
starttime() { { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $20}'; } 2>/dev/null; }
cmdline() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null; }

# survivors: recorded pids still alive and still ours (their command line names
# the temp dir, so a recycled pid is not blamed), and any process at all whose
# command line names the temp dir.
survivors() {
	local name pid start f p out=""
	if [ -s "$state/pids.last" ]; then
		while read -r name pid start; do
			alive "$pid" || continue
			if [ -n "$start" ]; then # adopted (scripts/cluster.sh adopt): same start time
				[ "$(starttime "$pid")" = "$start" ] && out="$out $name:$pid"
			else
				cmdline "$pid" | grep -qF -- "$tmp" && out="$out $name:$pid"
			fi
		done <"$state/pids.last"
	fi
	for f in $(grep -lsaF -- "$tmp" /proc/[0-9]*/cmdline); do
		p=${f#/proc/}
		p=${p%/cmdline}
		[ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
		alive "$p" || continue
		case $(readlink "/proc/$p/exe" 2>/dev/null) in
		*/bash | */sh | */grep | */tr | */awk | "") continue ;; # this script and its helpers
		esac
		case "$out " in *":$p "*) continue ;; esac
		out="$out $(basename "$(readlink "/proc/$p/exe" 2>/dev/null)"):$p"
	done
	[ -z "$out" ] || { echo "still running:$out"; return 1; }
}

if [ -n "$tmp" ]; then
	# down waits for its processes; a short grace only for the kernel's bookkeeping
	wait_for 5 "no process of the cluster ($tmp) is left" survivors
	out=$(survivors 2>&1) || t_diag "$out" "$(ps -o pid,stat,args -p "$(echo "$out" | grep -oE '[0-9]+' | paste -sd, -)" 2>&1)"
	t_nok "the temp dir $tmp is gone" test -e "$tmp"
	for name in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
		t_ok "$name was recorded" grep -q "^$name " "$state/pids.last"
	done
fi
t_done
