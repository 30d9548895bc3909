#!/usr/bin/env bash
# Leader election: two controllers with --leader-elect on one namespace and
# a schedule firing every second.
#   - exactly one holds the Lease; only it creates Jobs (each controller's
#     log: no Job created, no Event posted before its "started leading");
#   - SIGKILL the leader: the standby takes over once the lease runs out
#     (not before), and slots go on;
#   - SIGTERM the new leader (the killed one restarted first as a standby):
#     it releases the Lease and exits 0, and the other takes over at its
#     next attempt;
#   - SIGSTOP that one past its lease: a third takes over; resumed, the
#     paused one writes nothing and exits 1;
#   - over the whole run no Job name is created twice (the recorded watch
#     stream: one ADDED per name) and no slot has two Jobs.
# Short durations keep it quick with the same rules as the defaults: lease
# 5 s, renew deadline 3 s, retry 1 s (a candidate tries every 1-2.2 s).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ctl_lib.sh"

LEASE_S=5
RETRY_S=1

# ---- flags, no cluster needed: client-go's rules, exit status 2 ----
out=$("$CTL_BIN" --leader-elect --leader-elect-lease-duration 2s --leader-elect-renew-deadline 3s 2>&1)
t_is "lease duration <= renew deadline: exit 2" "$?" 2
t_like "... with a clear message" "$out" "lease duration must be greater than the renew deadline"
out=$("$CTL_BIN" --leader-elect --leader-elect-renew-deadline 2400ms 2>&1)
t_is "renew deadline <= 1.2 x retry period: exit 2" "$?" 2
t_like "... with a clear message" "$out" "1.2 x the retry period"
out=$("$CTL_BIN" --leader-elect --leader-elect-retry-period 2 2>&1)
t_is "a duration without a unit: exit 2" "$?" 2

t_ns_create leader || t_done
ctl_trap
ctl_watch_start
# The Lease in the test's namespace, deleted with it.
LE=(--leader-elect --leader-elect-namespace "$NS"
	--leader-elect-lease-duration "${LEASE_S}s" --leader-elect-renew-deadline 3s
	--leader-elect-retry-period "${RETRY_S}s")

# log_ts NAME MSG: Unix seconds (decimals) of the first log line of NAME
# whose msg is MSG; empty when none.
log_ts() {
	ctl_log_named "$1" | python3 -c '
import datetime, re, sys
for line in sys.stdin:
    if ("msg=\"%s\"" % sys.argv[1]) in line:
        m = re.match(r"ts=(\S+)", line)
        print("%.3f" % datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp())
        break' "$2"
}
logged() { ctl_log_named "$1" | grep -q "msg=\"$2\""; }
identity_of() { ctl_log_named "$1" | sed -n 's/.*msg="leader election".* identity=\([^ ]*\).*/\1/p' | head -1; }
holder() { kn get lease takt-controller -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
holder_is() { [ "$(holder)" = "$1" ]; }
# writes_before_leading NAME: Jobs created and Events posted by NAME
# before its "started leading" (all of them when it never led).
writes_before_leading() {
	ctl_log_named "$1" | awk '/msg="started leading"/ { exit } /msg="(job created|job already exists|event)"/ { n++ } END { print n + 0 }'
}
# exited PID: the process has ended (gone, or a zombie not yet waited for).
exited() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null)
	[ -z "$st" ] || [[ $st == Z* ]]
}
# secs A B: B - A, 3 decimals.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; }

t_ok "schedule created" bs_apply tick "* * * * * *" Allow 1s 0 "  successfulJobsHistoryLimit: 5"

# ---- one leader ----
ctl_start_named a "${LE[@]}"
wait_for 15 "a becomes the leader" logged a "started leading" || t_done
ctl_start_named b "${LE[@]}"
wait_for 10 "b sees a as the leader" logged b "new leader"
sleep 4
id_a=$(identity_of a)
id_b=$(identity_of b)
t_diag "identities: a=$id_a b=$id_b"
t_like "a's identity is host_uuid" "$id_a" '^[^_]+_[0-9a-f-]{36}$'
t_is "the Lease is held by a" "$(holder)" "$id_a"
t_nok "b is a standby (never started leading)" logged b "started leading"
t_cmp "a created Jobs ($(count_jobs_of tick) now)" "$(count_jobs_of tick)" -ge 3
t_is "b created no Job and posted no Event" "$(writes_before_leading b)" 0

# ---- SIGKILL the leader: b takes over when the lease has run out ----
killed=$(now)
ctl_signal_named a KILL
wait_for $((LEASE_S + 5 * RETRY_S + 3)) "b takes over after a's SIGKILL" logged b "started leading" || t_done
h1=$(secs "$killed" "$(log_ts b "started leading")")
t_diag "handover after SIGKILL: ${h1} s (lease ${LEASE_S} s, retry ${RETRY_S} s)"
# Not before the lease ran out as b saw it (a renewed at most one retry
# period before the kill), and within it plus two jittered retries.
t_cmp "b waited for the lease to run out (${h1} s)" "$h1" -ge $((LEASE_S - RETRY_S))
t_cmp "b took over within lease + 2 x 2.2 retry (${h1} s)" "$h1" -le "$(awk -v l=$LEASE_S -v r=$RETRY_S 'BEGIN { print l + 4.4 * r + 0.5 }')"
t_is "the Lease is held by b" "$(holder)" "$id_b"
after1=$(date +%s)
wait_for 10 "slots go on under b" jobs_after_at_least tick "$after1" 3
t_is "b wrote nothing before it led" "$(writes_before_leading b)" 0

# ---- a again, as a standby; SIGTERM b: the Lease is released ----
ctl_start_named a2 "${LE[@]}"
wait_for 10 "a2 sees b as the leader" logged a2 "new leader"
sleep 2
t_nok "a2 is a standby" logged a2 "started leading"
termed=$(now)
ctl_signal_named b TERM
rc=$?
exited=$(now)
t_is "b exits 0 on SIGTERM" "$rc" 0
t_ok "b released the Lease" logged b "lease released"
t_diag "b's shutdown took $(secs "$termed" "$exited") s"
wait_for 6 "a2 takes over after b's SIGTERM" logged a2 "started leading" || t_done
h2=$(secs "$termed" "$(log_ts a2 "started leading")")
t_diag "handover after SIGTERM: ${h2} s (retry ${RETRY_S} s: the next attempt takes a released Lease)"
t_cmp "a2 took over within ~3 s of the SIGTERM (${h2} s)" "$h2" -le 3
t_is "the Lease is held by a2" "$(holder)" "$(identity_of a2)"
t_is "a2 wrote nothing before it led" "$(writes_before_leading a2)" 0
after2=$(date +%s)
wait_for 10 "slots go on under a2" jobs_after_at_least tick "$after2" 3

# ---- a leader paused past its lease (SIGSTOP): b2 takes over; the old
# one, resumed, writes nothing and exits 1 ----
ctl_start_named b2 "${LE[@]}"
wait_for 10 "b2 sees a2 as the leader" logged b2 "new leader"
kill -STOP "${CTL_PIDS[a2]}"
stopped=$(now)
t_diag "a2 stopped (SIGSTOP)"
wait_for $((LEASE_S + 5 * RETRY_S + 3)) "b2 takes over from the paused a2" logged b2 "started leading"
t_diag "handover after SIGSTOP: $(secs "$stopped" "$(log_ts b2 "started leading")") s"
created_before=$(ctl_log_named a2 | grep -c 'msg="job created"')
resumed=$(now)
kill -CONT "${CTL_PIDS[a2]}"
# It must end by itself; a TERM is sent only if it has not within 5 s.
until_true 5 exited "${CTL_PIDS[a2]}"
ctl_signal_named a2 TERM
rc=$?
t_is "a2, resumed after losing the lease, exits 1" "$rc" 1
t_ok "a2 logged that it lost the lease" logged a2 "lost the lease: exiting"
t_is "a2 created no Job after it resumed" "$(ctl_log_named a2 | grep -c 'msg="job created"')" "$created_before"
t_diag "a2 exited $(secs "$resumed" "$(now)") s after SIGCONT"
after3=$(date +%s)
wait_for 10 "slots go on under b2" jobs_after_at_least tick "$after3" 3
ctl_signal_named b2 TERM
t_is "b2 exits 0 on SIGTERM" "$?" 0
t_is "the Lease has no holder after a clean stop" "$(holder)" ""
sleep 1.5

# ---- the whole run, from the recorded watch stream ----
ctl_facts tick
t_cmp "runs over the whole test ($(fact jobs))" "$(fact jobs)" -ge 12
t_is "no slot has two Jobs" "$(fact dup_slots)" 0
t_is "every Job is named after its slot" "$(fact names_bad)" 0
dup_names=$(python3 -c '
import collections, json, sys
n = collections.Counter()
for line in open(sys.argv[1]):
    t, _, js = line.partition(" ")
    try:
        ev = json.loads(js)
    except ValueError:
        continue
    if ev.get("type") == "ADDED":
        n[ev["object"]["metadata"]["name"]] += 1
print(sum(1 for c in n.values() if c > 1))' "$CTL_DIR/jobs")
t_is "no Job name was created twice (one ADDED per name)" "$dup_names" 0
t_diag "takt's Events by reportingInstance (a=$id_a b=$id_b): $(kn get events -o jsonpath='{.items[?(@.reportingComponent=="takt-controller")].reportingInstance}' | tr ' ' '\n' | sort | uniq -c | tr '\n' ' ')"
t_done
