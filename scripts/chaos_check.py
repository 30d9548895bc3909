#!/usr/bin/env python3
"""Judges a chaos soak (scripts/chaos.sh) from what it recorded.

  chaos_check.py OUT_DIR REC_DIR
OUT_DIR: the soak's timeline and one log per controller process
(ctl-<replica>-<n>.log); REC_DIR: the recorded watch streams (jobs, pods, bs)
of tests/e2e/ctl_watch.py, one "<receive ms> <event JSON>" per line.

Prints a report, then "fact KEY VALUE" lines that chaos.sh asserts on.
Order between Jobs and Pods is the apiserver's (resourceVersions of one etcd
are one sequence), as in tests/e2e/ctl_runs.py. Windows and handovers come
from the timeline (our own clock: kills, freezes) and the controllers' logs
("started leading", "stopped leading"), on the same host clock.
"""
import collections
import datetime
import glob
import json
import os
import re
import sys

INF = float("inf")
# A slot next to a window is still excused: after it, the planner is told
# of the slot only once the leader starts (or the apiserver thaws) and the
# watch catches up; before it, a slot under way when the leader died (a
# Replace waits for the old run's pods to go) dies with it.
BEFORE_S, AFTER_S = 2.0, 3.0


def iso(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def events(path):
    out, errors = [], 0
    try:
        with open(path) as f:
            for line in f:
                t, _, js = line.partition(" ")
                try:
                    ev = json.loads(js)
                except ValueError:
                    continue
                if ev.get("type") == "ERROR":
                    errors += 1
                    continue
                try:
                    obj = ev["object"]
                    rv = int(obj["metadata"]["resourceVersion"])
                except (KeyError, TypeError, ValueError):
                    continue
                out.append((float(t), ev["type"], rv, obj))
    except FileNotFoundError:
        pass
    return out, errors


def ann(obj):
    return (obj.get("metadata") or {}).get("annotations") or {}


def label(obj, k):
    return ((obj.get("metadata") or {}).get("labels") or {}).get(k)


def job_finished(obj):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return True
    return False


def pod_present(obj):
    md, st = obj.get("metadata", {}), obj.get("status", {})
    if md.get("deletionTimestamp"):
        return True
    return st.get("phase") not in ("Succeeded", "Failed")


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]


def merge(wins):
    out = []
    for a, b in sorted(wins):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def inside(t, wins, before=0.0, after=0.0):
    return any(a - before <= t <= b + after for a, b in wins)


def main():
    out_dir, rec_dir = sys.argv[1], sys.argv[2]
    # ---- the timeline ----
    tl = []
    with open(os.path.join(out_dir, "timeline")) as f:
        for line in f:
            p = line.split()
            tl.append((float(p[0]), p[1], p[2:]))
    begin = next(t for t, w, _ in tl if w == "begin")
    end_chaos = next(t for t, w, _ in tl if w == "end-chaos")
    end = next(t for t, w, _ in tl if w == "end")
    procs = {}  # pid -> dict
    for t, w, a in tl:
        if w == "start":
            procs[a[1]] = {"name": a[0], "log": a[2], "start": t, "end": end, "killed": None}
        elif w in ("kill", "exit", "stop") and a[1] in procs:
            procs[a[1]]["end"] = min(procs[a[1]]["end"], t)
            if w == "kill":
                procs[a[1]]["killed"] = t
    freezes = []
    for t, w, a in tl:
        if w == "freeze":
            thaw = next((t2 for t2, w2, _ in tl if w2 == "thaw" and t2 >= t), end)
            freezes.append([t, thaw, a[0]])
    # ---- leadership, from each process's log ----
    tenures = []
    dead = 0
    for pid, p in procs.items():
        start = stop = None
        try:
            with open(p["log"]) as f:
                for line in f:
                    dead += 'msg="apiserver connection dead' in line
                    m = re.match(r"ts=(\S+) .*msg=\"(started leading|stopped leading)\"", line)
                    if not m:
                        continue
                    if m.group(2) == "started leading" and start is None:
                        start = iso(m.group(1))
                    elif m.group(2) == "stopped leading" and start is not None and stop is None:
                        stop = iso(m.group(1))
        except FileNotFoundError:
            pass
        if start is not None:
            e = min(x for x in (stop, p["end"]) if x is not None)
            tenures.append([start, e, pid])
    tenures.sort()
    led = merge([[a, b] for a, b, _ in tenures])
    leaderless, cur = [], begin
    for a, b in led:
        if a > cur:
            leaderless.append([cur, a])
        cur = max(cur, b)
    if cur < end:
        leaderless.append([cur, end])
    bad = merge(leaderless + [[a, b] for a, b, _ in freezes])
    first_lead = tenures[0][0] if tenures else end
    # Handovers: each tenure after the first, timed from the end of the one
    # before (a kill, a lost lease) to its start.
    handovers = []
    for prev, nxt in zip(tenures, tenures[1:]):
        cause = "kill" if procs[prev[2]]["killed"] is not None and \
            abs(procs[prev[2]]["killed"] - prev[1]) < 0.01 else "lost"
        # A freeze between the old tenure's end and the new one's start
        # holds the new leader back (no lease can be taken meanwhile).
        frozen = any(a <= nxt[0] and b >= prev[1] - 1 for a, b, _ in freezes)
        handovers.append((nxt[0] - prev[1], cause, frozen, prev[1]))
    kills = sum(1 for p in procs.values() if p["killed"] is not None)
    print("controller processes %d, leader tenures %d, leaders SIGKILLed %d, freezes %d (%s)" % (
        len(procs), len(tenures), kills, len(freezes),
        ", ".join("%s %.1fs" % (w, b - a) for a, b, w in freezes) or "-"))
    hk = [h for h, c, fr, _ in handovers if c == "kill" and not fr]
    hall = [h for h, _, _, _ in handovers]
    print("handovers %d (%d after a SIGKILL, %d after a lost lease); handover time p50 %.2f s, "
          "max %.2f s; after a SIGKILL (no freeze near): p50 %.2f s, max %.2f s" % (
              len(handovers), sum(1 for h in handovers if h[1] == "kill"),
              sum(1 for h in handovers if h[1] == "lost"), pct(hall, 0.5),
              max(hall) if hall else float("nan"), pct(hk, 0.5),
              max(hk) if hk else float("nan")))
    print("leaderless %.1f s in %d windows; frozen %.1f s; apiserver connections found "
          "dead and dropped: %d" % (sum(b - a for a, b in leaderless), len(leaderless),
                                    sum(b - a for a, b, _ in freezes), dead))

    # ---- Jobs and pods ----
    jev, jerr = events(os.path.join(rec_dir, "jobs"))
    pev, perr = events(os.path.join(rec_dir, "pods"))
    bev, berr = events(os.path.join(rec_dir, "bs"))
    added = collections.Counter()
    added_at = collections.defaultdict(list)  # name -> [(receive s, DELETED before?)]
    jobs = {}
    for t, typ, rv, obj in jev:
        sched = label(obj, "takt.io/schedule")
        if not sched:
            continue
        name = obj["metadata"]["name"]
        if typ == "ADDED":
            added[name] += 1
            added_at[name].append("+%.1fs" % (t / 1000.0 - begin))
        elif typ == "DELETED":
            added_at[name].append("deleted +%.1fs" % (t / 1000.0 - begin))
        j = jobs.setdefault(name, {"sched": sched, "created": None, "end": INF,
                                   "slot": None, "trigger": None, "request": None,
                                   "killed": None, "recv": None})
        a = ann(obj)
        if typ == "ADDED" and j["created"] is None:
            j["created"] = rv
            j["recv"] = t
            j["slot"] = a.get("takt.io/scheduled-time")
            j["trigger"] = a.get("takt.io/trigger")
            j["request"] = a.get("takt.io/request-id")
        if a.get("takt.io/killed") and j["killed"] is None:
            j["killed"] = a["takt.io/killed"]
        if j["end"] == INF and (job_finished(obj) or typ == "DELETED" or a.get("takt.io/killed")):
            j["end"] = rv
    pods = {}
    for t, typ, rv, obj in pev:
        if not label(obj, "takt.io/schedule"):
            continue
        jn = label(obj, "batch.kubernetes.io/job-name") or label(obj, "job-name")
        p = pods.setdefault(obj["metadata"]["name"], {"job": jn, "end": INF, "end_t": INF})
        if p["end"] == INF and (typ == "DELETED" or not pod_present(obj)):
            p["end"] = rv
            p["end_t"] = t / 1000.0
    for n, j in jobs.items():
        j["run_end"] = max([j["end"]] + [p["end"] for p in pods.values() if p["job"] == n])
    runs = [dict(j, name=n) for n, j in jobs.items() if j["created"] is not None]
    dup_names = sorted(n for n, c in added.items() if c > 1)
    for n in dup_names:
        a = ann(next(o for _, typ, _, o in jev if o["metadata"]["name"] == n))
        print("DUPLICATE Job name %s: ADDED %d times (%s; trigger %s, slot %s, request %s)" % (
            n, added[n], ", ".join(added_at[n]), a.get("takt.io/trigger"),
            a.get("takt.io/scheduled-time"), a.get("takt.io/request-id") or "-"))
    by_slot = collections.defaultdict(set)
    for r in runs:
        if r["trigger"] == "schedule" and r["slot"]:
            by_slot[(r["sched"], r["slot"])].add(r["name"])
    dup_slots = {k: v for k, v in by_slot.items() if len(v) > 1}
    for k, v in sorted(dup_slots.items()):
        print("DUPLICATE slot %s %s: %s" % (k[0], k[1], " ".join(sorted(v))))
    # Forbid: no run created while an earlier one had not ended.
    overlaps = 0
    for sched in ("fb", "fz"):
        rs = sorted((r for r in runs if r["sched"] == sched), key=lambda r: r["created"])
        latest, latest_name = -1, None
        for r in rs:
            if r["created"] < latest:
                overlaps += 1
                print("FORBID OVERLAP %s: %s created while %s was running" % (
                    sched, r["name"], latest_name))
            if r["run_end"] > latest:
                latest, latest_name = r["run_end"], r["name"]
    print("Jobs %d (%s)" % (len(runs), ", ".join(
        "%s %d" % (s, sum(1 for r in runs if r["sched"] == s))
        for s in ("fb", "fz", "al", "rp", "kl"))))

    # ---- requests ----
    def status_records(key):
        rec = collections.defaultdict(list)  # request id -> [(rv, time, obj)]
        for t, typ, rv, obj in bev:
            v = (obj.get("status") or {}).get(key)
            # A run-now's claim (claimed: true, written before its Job's
            # POST) is the intent, not an answer: only the record that
            # settles it counts as acting on the request.
            if isinstance(v, dict) and v.get("requestId") and not v.get("claimed"):
                rec[v["requestId"]].append((rv, v.get("time"), v))
        return rec

    def must_act(ts, nexts):
        # A request replaced before any leader had 1.5 s to see it is
        # superseded, not ignored.
        lo, hi = ts, nexts
        clear, step, t = 0.0, 0.1, lo
        while t < hi:
            if not inside(t, bad):
                clear += step
            t += step
        return clear >= 1.5

    results = {}
    for kind, key, sched in (("run-now", "lastRunNow", "al"), ("kill-request", "lastKill", "kl")):
        reqs = [(t, a[1]) for t, w, a in tl if w == kind]
        recs = status_records(key)
        unanswered = twice = superseded = 0
        for i, (ts, rid) in enumerate(reqs):
            nxt = reqs[i + 1][0] if i + 1 < len(reqs) else end
            r = recs.get(rid, [])
            times = {x[1] for x in r}
            if kind == "run-now":
                made = {j["name"] for j in runs if j["request"] == rid}
                acted = bool(made) or bool(r)
                # (one name created twice: its Job was gone and the
                # request taken for unanswered)
                again = len(made) > 1 or len(times) > 1 or any(added[n] > 1 for n in made)
                detail = "Jobs %s" % (" ".join(sorted(made)) or "-")
            else:
                first = min((x[0] for x in r), default=None)
                late = [j["name"] for j in runs if j["killed"] == rid and first is not None
                        and j["created"] > first]
                acted = bool(r)
                again = len(times) > 1 or bool(late)
                detail = "killed %s; killed after it was recorded: %s" % (
                    " ".join(sorted(j["name"] for j in runs if j["killed"] == rid)) or "-",
                    " ".join(late) or "-")
            if not acted:
                if must_act(ts, nxt):
                    unanswered += 1
                    print("%s %s at %.1f s NOT ACTED ON (%s)" % (kind, rid, ts - begin, detail))
                else:
                    superseded += 1
            if again:
                twice += 1
                print("%s %s ACTED ON TWICE: times %s; %s" % (kind, rid, sorted(times), detail))
        results[kind] = (len(reqs), unanswered, twice, superseded)
        print("%s requests %d: not acted on %d, twice %d, superseded before a leader saw them %d"
              % ((kind,) + results[kind]))

    # ---- slots lost: the schedules where every slot runs ----
    lost_in = lost_out = replace_slow = 0
    lost_list = []

    def replaced_run_lingered(sched, s):
        # Replace terminates the active run before the slot's run starts;
        # when that run's pods are still there a second after the slot, the
        # next slot supersedes this one (Missed, "superseded by a newer
        # slot"): the cluster's deletion was slow, not a slot lost by takt.
        before = [r for r in runs if r["sched"] == sched and r["slot"] and iso(r["slot"]) < s]
        if not before:
            return False
        prev = max(before, key=lambda r: iso(r["slot"]))
        ends = [p["end_t"] for p in pods.values() if p["job"] == prev["name"]]
        return bool(ends) and max(ends) > s + 1.0
    for sched, every in (("al", 1), ("kl", 2), ("rp", 2)):
        have = {int(iso(r["slot"])) for r in runs
                if r["sched"] == sched and r["trigger"] == "schedule" and r["slot"]}
        s = int(first_lead + AFTER_S) + 1
        s += (-s) % every
        while s <= end_chaos:
            if s not in have:
                if inside(s, bad, BEFORE_S, AFTER_S):
                    lost_in += 1
                elif sched == "rp" and replaced_run_lingered(sched, s):
                    replace_slow += 1
                else:
                    lost_out += 1
                    lost_list.append("%s@%.0fs" % (sched, s - begin))
            s += every
    print("slots lost (al, kl, rp): %d inside leaderless/frozen windows, %d outside%s; "
          "Replace slots superseded while the replaced run's pods were still there: %d" % (
              lost_in, lost_out, (": " + " ".join(lost_list[:30])) if lost_list else "",
              replace_slow))
    if lost_list:
        print("windows (s from begin): " + " ".join(
            "%.1f-%.1f" % (a - begin, b - begin) for a, b in bad))

    facts = {
        "jobs": len(runs),
        "kills": kills,
        "handovers": len(handovers),
        "handover_p50": "%.2f" % pct(hall, 0.5) if hall else "0",
        "handover_max": "%.2f" % (max(hk) if hk else 0),
        "recorder_errors": jerr + perr + berr,
        "dup_names": len(dup_names),
        "dup_slots": len(dup_slots),
        "forbid_overlaps": overlaps,
        "runnow_requests": results["run-now"][0],
        "runnow_unanswered": results["run-now"][1],
        "runnow_twice": results["run-now"][2],
        "kill_requests": results["kill-request"][0],
        "kill_unanswered": results["kill-request"][1],
        "kill_twice": results["kill-request"][2],
        "lost_inside": lost_in,
        "lost_outside": lost_out,
        "replace_slow": replace_slow,
    }
    for k, v in facts.items():
        print("fact %s %s" % (k, v))


main()
