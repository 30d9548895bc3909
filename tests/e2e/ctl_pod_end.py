#!/usr/bin/env python3
"""How one pod ended, and which runs started before it was gone, from
recorded watch streams (ctl_watch.py), for the kill e2e test.

  ctl_pod_end.py POD SCHEDULE JOBS_FILE PODS_FILE
prints "key value" lines:
  deletion_grace N     metadata.deletionGracePeriodSeconds when the deletion
                       was first recorded ("none": never seen terminating)
  deletion_at T        metadata.deletionTimestamp (RFC 3339; "none")
  deleted 0|1          a DELETED event was recorded
  deleted_ms MS        when it was received (unix ms; "none")
  killed_after_grace 0|1|none
                       the last state's containers were all killed (exit
                       137) no earlier than the deletionTimestamp, i.e. the
                       grace period ran out before the kill ("none": the
                       last state shows no killed container, e.g. a grace-0
                       delete the pod was removed by before any kill)
  later_runs N|none    Jobs of SCHEDULE created after the pod's own ("none":
                       its own Job's creation was not recorded)
  started_early J,...|-
                       Jobs of SCHEDULE other than the pod's own, created
                       after the pod's Job and before the pod was deleted
                       (not yet deleted: any created after its Job)

Order is the apiserver's, not the receive times of two streams: the
resourceVersions of one etcd are one sequence (ADDED carries the creation's,
DELETED the deletion's), so "created before the pod was gone" is exact
however late either watch delivers. Call it once the streams have caught up
(ctl_sync), or a late event is simply missing.
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
                    out.append((float(t), ev["type"], rv, obj))
                except (ValueError, KeyError, TypeError):
                    continue
    except FileNotFoundError:
        pass
    return out


def secs(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def main():
    pod, sched, jobs_file, pods_file = sys.argv[1:5]
    grace, deletion_at, deleted_ms, deleted_rv = "none", "none", "none", INF
    own_job, last = None, None
    for t, typ, rv, obj in events(pods_file):
        md = obj["metadata"]
        if md.get("name") != pod:
            continue
        labels = md.get("labels") or {}
        own_job = own_job or labels.get("batch.kubernetes.io/job-name")
        if md.get("deletionTimestamp") and deletion_at == "none":
            deletion_at = md["deletionTimestamp"]
            g = md.get("deletionGracePeriodSeconds")
            grace = "none" if g is None else str(g)
        last = obj
        if typ == "DELETED" and deleted_rv == INF:
            deleted_rv, deleted_ms = rv, "%.1f" % t
    killed = "none"
    if last is not None and deletion_at != "none":
        ends = [(c.get("state") or {}).get("terminated") or {}
                for c in (last.get("status") or {}).get("containerStatuses") or []]
        if ends and all(e.get("exitCode") == 137 and e.get("finishedAt") for e in ends):
            # Both are whole seconds: a kill at the deletionTimestamp's
            # second or later is after the grace period.
            killed = "1" if all(secs(e["finishedAt"]) >= secs(deletion_at)
                                for e in ends) else "0"
    own_rv, created = None, {}
    for t, typ, rv, obj in events(jobs_file):
        md = obj["metadata"]
        if (md.get("labels") or {}).get("takt.io/schedule") != sched:
            continue
        if typ == "ADDED" and md["name"] not in created:
            created[md["name"]] = rv
    own_rv = created.get(own_job)
    early = sorted(n for n, rv in created.items()
                   if n != own_job and (own_rv is None or rv > own_rv) and rv < deleted_rv)
    print("deletion_grace", grace)
    print("deletion_at", deletion_at)
    print("deleted", 0 if deleted_rv == INF else 1)
    print("deleted_ms", deleted_ms)
    print("killed_after_grace", killed)
    later = "none" if own_rv is None else sum(1 for rv in created.values() if rv > own_rv)
    print("later_runs", later)
    print("started_early", ",".join(early) or "-")


main()
