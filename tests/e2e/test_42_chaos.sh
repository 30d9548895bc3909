#!/usr/bin/env bash
# The chaos soak in short (scripts/chaos.sh; `make chaos` runs it for 10
# minutes): two leader-electing replicas, the leader SIGKILLed, the
# apiserver and etcd frozen, run-now and kill requests, for
# CHAOS_SECONDS (default here 60 s).
# First, the judge (scripts/chaos_check.py) is shown each kind of fault in
# made-up recordings and must report each one: a check that cannot fail
# proves nothing.
. "$(dirname "$0")/lib.sh"

judge=$(mktemp -d "${TMPDIR:-/tmp}/takt-judge.XXXXXX")
trap 'rm -rf "$judge"' EXIT
python3 - "$judge" <<'PYEOF'
import datetime, json, os, sys
d = sys.argv[1]
def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
with open(os.path.join(d, "timeline"), "w") as f:
    f.write("""1000.0 begin 1
1000.1 start a 11 %(d)s/ctl-a-1.log
1000.1 start b 12 %(d)s/ctl-b-2.log
1010.0 run-now al rn-1
1015.0 run-now al rn-2
1020.0 kill-request kl kq-1
1025.0 kill-request kl kq-2
1040.0 end-chaos
1041.0 stop a 11 0
1041.0 stop b 12 0
1041.5 end
""" % {"d": d})
with open(os.path.join(d, "ctl-a-1.log"), "w") as f:
    f.write('ts=%s level=info msg="started leading" synced=1\n' % iso(1001))
open(os.path.join(d, "ctl-b-2.log"), "w").close()
rv = [0]
def job(f, typ, name, sched, slot, trigger="schedule", request=None, killed=None, done=False):
    rv[0] += 1
    a = {"takt.io/scheduled-time": iso(slot), "takt.io/trigger": trigger}
    if request:
        a["takt.io/request-id"] = request
    if killed:
        a["takt.io/killed"] = killed
    st = {"conditions": [{"type": "Complete", "status": "True"}]} if done else {}
    o = {"metadata": {"name": name, "resourceVersion": str(rv[0]), "annotations": a,
                      "labels": {"takt.io/schedule": sched}}, "status": st}
    f.write("%d %s\n" % (slot * 1000, json.dumps({"type": typ, "object": o})))
with open(os.path.join(d, "jobs"), "w") as f:
    job(f, "ADDED", "al-1010", "al", 1010)
    job(f, "ADDED", "al-1010", "al", 1010)                       # a name twice
    job(f, "ADDED", "fz-1012", "fz", 1012)
    job(f, "ADDED", "fz-1014", "fz", 1014)                       # Forbid overlap
    job(f, "ADDED", "rp-1020", "rp", 1020, done=True)
    job(f, "ADDED", "rp-1020x", "rp", 1020, done=True)           # a slot twice
    job(f, "ADDED", "al-r-aaa", "al", 1010, "run-now", "rn-1")
    job(f, "ADDED", "al-r-bbb", "al", 1011, "run-now", "rn-1")   # run-now twice
    job(f, "ADDED", "al-r-ccc", "al", 1015, "run-now", "rn-2")
    rv[0] += 10
with open(os.path.join(d, "bs"), "w") as f:
    rv[0] += 1
    o = {"metadata": {"name": "kl", "resourceVersion": str(rv[0])},
         "status": {"lastKill": {"requestId": "kq-1", "time": iso(1021)}}}
    f.write("1021000 %s\n" % json.dumps({"type": "MODIFIED", "object": o}))
with open(os.path.join(d, "jobs"), "a") as f:
    job(f, "ADDED", "kl-1030", "kl", 1030, killed="kq-1")         # killed after kq-1 was done
open(os.path.join(d, "pods"), "w").close()
PYEOF
facts=$(python3 "$T_ROOT/scripts/chaos_check.py" "$judge" "$judge" 2>&1)
jf() { echo "$facts" | awk -v k="$1" '$1 == "fact" && $2 == k { print $3 }'; }
t_is "the judge sees a Job name added twice" "$(jf dup_names)" 1
t_is "... a slot run twice" "$(jf dup_slots)" 1
t_is "... a Forbid overlap" "$(jf forbid_overlaps)" 1
t_is "... a run-now request acted on twice" "$(jf runnow_twice)" 1
t_is "... a kill request acted on twice (a Job killed by it after it was recorded)" "$(jf kill_twice)" 1
t_is "... a kill request never acted on" "$(jf kill_unanswered)" 1
t_cmp "... slots lost while there was a leader" "$(jf lost_outside)" -ge 1
[ "$T_FAILED" -eq 0 ] || t_diag "$facts"

CHAOS_SECONDS=${CHAOS_SECONDS:-60} bash "$T_ROOT/scripts/chaos.sh"
rc=$?
t_is "the chaos soak passed" "$rc" 0
t_done
