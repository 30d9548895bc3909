#!/usr/bin/env python3
"""Facts about a schedule's runs from recorded watch streams (ctl_watch.py),
for the controller's e2e tests.

  ctl_runs.py SCHEDULE JOBS_FILE PODS_FILE
prints "key value" lines:
  jobs N               Jobs of the schedule ever created
  names_bad N          Jobs whose name is not <schedule>-<unix seconds of
                       takt.io/scheduled-time>
  dup_slots N          scheduled-time values held by more than one Job
  odd_slots N          slots at an odd second
  overlaps N           runs created while the previous run was still active
                       (its Job unfinished, or one of its pods still running
                       or terminating)
  replace_early N      runs created before every pod of the earlier runs
                       was gone (deleted)
  lag_p50/lag_max MS   ADDED received minus the slot instant
  first_slot/last_slot unix seconds
  slots S1,S2,...      every slot, in order
Order is the apiserver's: resourceVersions of one etcd are one sequence
(ADDED carries the creation's, DELETED the deletion's), so "created after
gone" is exact, not a race between two streams.
"""
import datetime
import json
import sys

INF = float("inf")


def events(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                t, _, js = line.partition(" ")
                try:
                    ev = json.loads(js)
                    obj = ev["object"]
                    rv = int(obj["metadata"]["resourceVersion"])
                except (ValueError, KeyError, TypeError):
                    continue
                out.append((float(t), ev["type"], rv, obj))
    except FileNotFoundError:
        pass
    return out


def ms(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000.0


def pod_present(obj):
    md, st = obj.get("metadata", {}), obj.get("status", {})
    if md.get("deletionTimestamp"):
        return True
    return st.get("phase") not in ("Succeeded", "Failed")


def job_finished(obj):
    for c in obj.get("status", {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return True
    return False


def main():
    sched, jobs_file, pods_file = sys.argv[1], sys.argv[2], sys.argv[3]
    jobs = {}  # name -> dict
    for t, typ, rv, obj in events(jobs_file):
        md = obj["metadata"]
        if (md.get("labels") or {}).get("takt.io/schedule") != sched:
            continue
        j = jobs.setdefault(md["name"], {"created": None, "recv": None, "end": INF,
                                         "slot": None})
        if typ == "ADDED" and j["created"] is None:
            j["created"] = rv
            j["recv"] = t
            j["slot"] = (md.get("annotations") or {}).get("takt.io/scheduled-time")
        if j["end"] == INF and (job_finished(obj) or typ == "DELETED"):
            j["end"] = rv
    pods = {}  # pod name -> {job, end, deleted}
    for t, typ, rv, obj in events(pods_file):
        md = obj["metadata"]
        labels = md.get("labels") or {}
        if labels.get("takt.io/schedule") != sched:
            continue
        job = labels.get("batch.kubernetes.io/job-name") or labels.get("job-name")
        p = pods.setdefault(md["name"], {"job": job, "end": INF, "deleted": INF})
        if p["end"] == INF and (typ == "DELETED" or not pod_present(obj)):
            p["end"] = rv
        if typ == "DELETED":
            p["deleted"] = rv
    runs = sorted((j for j in jobs.values() if j["created"] is not None),
                  key=lambda j: j["created"])
    names = {id(j): n for n, j in jobs.items()}
    for j in runs:
        j["run_end"] = max([j["end"]] + [p["end"] for p in pods.values()
                                         if p["job"] == names[id(j)]])
        j["gone"] = max([-1] + [p["deleted"] for p in pods.values()
                                if p["job"] == names[id(j)]])
    slots, names_bad, odd, lags = [], 0, 0, []
    for j in runs:
        if not j["slot"]:
            names_bad += 1
            continue
        s = int(ms(j["slot"]) // 1000)
        slots.append(s)
        if names[id(j)] != "%s-%d" % (sched, s):
            names_bad += 1
        if s % 2:
            odd += 1
        lags.append(j["recv"] - ms(j["slot"]))
    overlaps = sum(1 for a, b in zip(runs, runs[1:]) if b["created"] < a["run_end"])
    replace_early = 0
    for i, b in enumerate(runs):
        if any(a["gone"] > b["created"] or (a["gone"] < 0 and a["run_end"] > b["created"])
               for a in runs[:i]):
            replace_early += 1
    lags.sort()
    print("jobs", len(runs))
    print("names_bad", names_bad)
    print("dup_slots", len(slots) - len(set(slots)))
    print("odd_slots", odd)
    print("overlaps", overlaps)
    print("replace_early", replace_early)
    print("lag_p50", "%.1f" % lags[len(lags) // 2] if lags else "nan")
    print("lag_max", "%.1f" % lags[-1] if lags else "nan")
    print("first_slot", slots[0] if slots else 0)
    print("last_slot", slots[-1] if slots else 0)
    print("slots", ",".join(str(s) for s in slots) or "-")


main()
