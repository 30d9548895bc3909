#!/usr/bin/env python3
"""Helpers of scripts/bench-scale.sh (not run by itself).

  bench-scale.py gen KIND N START OUTDIR   KIND: takt | cron. Writes N
      objects (names s-START .. s-START+N-1) as v1 List files of 250 items
      into OUTDIR, for parallel `kubectl create -f`. A realistic bank batch:
      ~600 bytes of spec, Asia/Seoul, daily / weekday / monthly / yearly
      schedules, one container with args, env and resources. No slot of
      any of them falls within three hours of now (Seoul time), so they are
      idle for the whole bench.
  bench-scale.py statuses WATCHFILE T0_MS N     prints "<count> <last_ms>":
      how many schedules have had a status in the recorded watch stream
      (ctl_watch.py output), and when the last of them got its first one,
      in ms after T0_MS.
  bench-scale.py lag JOBS A_MS B_MS ANNOTATION  prints "n p50 p99 max" of
      the watch lag (ADDED received minus the slot in ANNOTATION) of the
      Jobs whose slot is in [A_MS, B_MS).
"""
import datetime
import json
import os
import sys


def seoul_hour_now():
    return (datetime.datetime.now(datetime.timezone.utc).hour + 9) % 24


def schedule(i, fields):
    # Hours at least 3 away from now (Seoul) in both directions.
    far = [(seoul_hour_now() + d) % 24 for d in range(3, 22)]
    h = far[i % len(far)]
    m = (i * 7) % 60
    kind = i % 4
    if kind == 0:
        five = "%d %d * * *" % (m, h)  # daily
    elif kind == 1:
        five = "%d %d * * 1-5" % (m, h)  # weekdays
    elif kind == 2:
        # monthly, on a day that is not today (nor tomorrow)
        today = datetime.date.today().day
        d = 1 + (i % 28)
        if d in (today, today % 28 + 1):
            d = (today + 5) % 28 + 1
        five = "%d %d %d * *" % (m, h, d)
    else:
        # yearly, in a month that is not this one
        mon = datetime.date.today().month % 12 + 1
        five = "0 0 1 %d *" % mon
    return ("0 " + five) if fields == 6 else five


def template():
    return {
        "spec": {
            "backoffLimit": 2,
            "activeDeadlineSeconds": 3600,
            "template": {
                "metadata": {"labels": {"app": "settlement", "team": "payments"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "job",
                        "image": "registry.example.com/bank/settlement:1.42.0",
                        "args": ["--date", "$(TAKT_BUSINESS_DATE)", "--mode", "batch"],
                        "env": [
                            {"name": "DB_HOST", "value": "db.payments.svc.cluster.local"},
                            {"name": "BATCH_SIZE", "value": "500"},
                            {"name": "LOG_LEVEL", "value": "info"},
                        ],
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "128Mi"},
                            "limits": {"cpu": "1", "memory": "512Mi"},
                        },
                    }],
                },
            },
        }
    }


def obj(kind, i):
    if kind == "takt":
        return {
            "apiVersion": "takt.io/v1alpha1", "kind": "BatchSchedule",
            "metadata": {"name": "s-%d" % i},
            "spec": {
                "schedule": schedule(i, 6), "timeZone": "Asia/Seoul",
                "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 300,
                "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                "jobTemplate": template(),
            },
        }
    return {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "s-%d" % i},
        "spec": {
            "schedule": schedule(i, 5), "timeZone": "Asia/Seoul",
            "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 300,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
            "jobTemplate": template(),
        },
    }


def gen(kind, n, start, outdir):
    os.makedirs(outdir, exist_ok=True)
    items = [obj(kind, i) for i in range(start, start + n)]
    for k in range(0, len(items), 250):
        with open(os.path.join(outdir, "%s-%06d.json" % (kind, k)), "w") as f:
            json.dump({"apiVersion": "v1", "kind": "List", "items": items[k:k + 250]}, f)


def events(path):
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            t, _, js = line.partition(" ")
            try:
                yield float(t), json.loads(js)
            except ValueError:
                continue


def statuses(path, t0, n):
    first = {}
    for t, ev in events(path):
        o = ev.get("object", {})
        name = o.get("metadata", {}).get("name")
        if name and name not in first and o.get("status"):
            first[name] = t
    last = max(first.values()) - t0 if first else float("nan")
    print("%d %.0f" % (len(first), last))


def ms(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000.0


def lag(path, a, b, ann):
    v, seen = [], set()
    for t, ev in events(path):
        md = ev.get("object", {}).get("metadata", {})
        if ev.get("type") != "ADDED" or md.get("name") in seen:
            continue
        seen.add(md.get("name"))
        s = (md.get("annotations") or {}).get(ann)
        if not s:
            continue
        slot = ms(s)
        if a <= slot < b:
            v.append(t - slot)
    v.sort()
    # The whole seconds in the window: the slots a 1-second schedule has
    # there. A slot with no Job (it waited behind the start-up) has no lag
    # to count, so n alone would hide it.
    slots = int(-(-b // 1000) - -(-a // 1000)) if b > a else 0
    if not v:
        print("0 nan nan nan %d" % slots)
        return
    q = lambda p: v[min(len(v) - 1, int(p * len(v)))]
    print("%d %.0f %.0f %.0f %d" % (len(v), q(0.5), q(0.99), v[-1], slots))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    elif cmd == "statuses":
        statuses(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "lag":
        lag(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
    else:
        sys.exit("unknown command " + cmd)
