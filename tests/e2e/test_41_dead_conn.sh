#!/usr/bin/env bash
# Issue 12 item 6: the controller's one connection to the apiserver goes
# dead — its packets dropped (iptables on loopback, matching that
# connection's local port, so new connections still pass), as when a NAT or
# load balancer forgets it. Each request on it would wait for its 30 s
# timeout, and none would open a new connection. The client must find the
# connection dead within seconds (a probe unanswered), drop it and
# reconnect: a 2-second schedule creates Jobs again within 15 s of the drop,
# on a new connection, with no slot run twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

if [ "$(id -u)" -ne 0 ] || ! iptables -S INPUT >/dev/null 2>&1; then
	echo "ok 1 # SKIP iptables is not usable here (root and the iptables package: scripts/deps.sh)"
	exit 0
fi

t_ns_create dead-conn || t_done
TAG="takt-e2e-dead-conn-$NS"
# Every rule carries TAG; each is removed as iptables lists it, whatever
# happened (also when the script is interrupted).
rules_remove() {
	local r
	iptables -S INPUT 2>/dev/null | grep -F -- "$TAG" | sed 's/^-A /-D /' | while read -r r; do
		# shellcheck disable=SC2086
		iptables $r
	done
}
rules_present() { iptables -S INPUT | grep -qF -- "$TAG"; }
cleanup() {
	rules_remove
	ctl_cleanup
}
trap cleanup EXIT
trap "exit 130" INT TERM HUP # (so that the EXIT trap runs)
drop_port() { # drop_port LPORT: both directions of that connection, on lo
	iptables -I INPUT -i lo -p tcp --sport "$1" -m comment --comment "$TAG" -j DROP &&
		iptables -I INPUT -i lo -p tcp --dport "$1" -m comment --comment "$TAG" -j DROP
}

api_port=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}' | sed 's/.*://')
# The controller's established connections to the apiserver: local ports.
ctl_ports() {
	ss -tnpH state established "( dport = :$api_port )" | grep "pid=$CTL_PID," |
		awk '{ sub(/.*:/, "", $3); print $3 }' | sort -n | tr '\n' ' ' | sed 's/ $//'
}
one_connection() { [ "$(ctl_ports | wc -w)" -eq 1 ]; }

ctl_watch_start
ctl_start
t_ok "schedule created (every 2 s, Allow)" bs_apply tick "*/2 * * * * *" Allow 1s 0 "  successfulJobsHistoryLimit: 50"
wait_for 15 "Jobs are created" jobs_at_least tick 2 || t_done
wait_for 10 "the controller has one connection to the apiserver (HTTP/2)" one_connection || t_done
old=$(ctl_ports)
t_diag "its local port: $old"

# (not through t_ok: a function it runs is in a subshell)
if drop_port "$old" && rules_present; then
	t_pass "its packets dropped (iptables, both directions on lo)"
else
	t_fail "its packets dropped (iptables, both directions on lo)"
	t_done
fi
dropped=$(now)
drop_s=${dropped%.*}
# Slots after the drop, created: the first may be at most 2 s away, plus the
# detection (stall 3 s + probe 3 s), the reconnect and the relists.
wait_for 15 "Jobs created again within 15 s of the drop" jobs_after_at_least tick $((drop_s + 1)) 2
t_diag "2 Jobs for slots after the drop $(elapsed_since "$dropped") s after it"
t_ok "the controller logged the dead connection" grep -q 'msg="apiserver connection dead: reconnecting"' "$CTL_LOGDIR/controller-$NS.log"
new=$(ctl_ports)
t_diag "its local ports now: $new"
t_like "it is on a new connection" "$new" '[0-9]'
t_nok "... not the dead one" grep -qw -- "$old" <<<"$new"
rules_remove
t_nok "the rules are gone" rules_present
after=$(date +%s)
wait_for 10 "slots go on after the rules are lifted" jobs_after_at_least tick "$after" 2

ctl_facts tick
t_is "no slot has two Jobs" "$(fact dup_slots)" 0
t_is "every Job is named after its slot" "$(fact names_bad)" 0
t_done
