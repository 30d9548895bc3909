#!/usr/bin/env python3
"""Records a watch stream with receive times, for the controller's e2e tests
and the lag benchmark.

  ctl_watch.py PATH OUT     PATH e.g. /apis/batch/v1/namespaces/x/jobs
Runs `kubectl get --raw PATH?watch=1...` and writes one line per event:
"<receive unix ms> <event JSON>". A stream that ends (the server's timeout, a
broken connection) is resumed from the last resourceVersion. Stops on
SIGTERM/SIGINT.
"""
import json
import signal
import subprocess
import sys
import time

path, out_path = sys.argv[1], sys.argv[2]
proc = None
stop = False


def on_term(signo, frame):
    global stop
    stop = True
    if proc and proc.poll() is None:
        proc.terminate()


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)

rv = ""
sep = "&" if "?" in path else "?"
with open(out_path, "a", buffering=1) as out:
    # A list first: the watch then starts from its resourceVersion, so no
    # event is a synthetic ADDED, and the caller knows when we are ready.
    while not stop and not rv:
        try:
            listed = json.loads(subprocess.run(["kubectl", "get", "--raw", path],
                                               capture_output=True, check=True).stdout)
            rv = listed["metadata"]["resourceVersion"]
        except (subprocess.CalledProcessError, ValueError, KeyError):
            time.sleep(0.2)
    out.write("# listed %s\n" % rv)
    while not stop:
        url = path + sep + "watch=1&allowWatchBookmarks=false"
        if rv:
            url += "&resourceVersion=" + rv
        proc = subprocess.Popen(["kubectl", "get", "--raw", url],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for line in proc.stdout:
            t = time.time() * 1000.0
            out.write("%.1f %s" % (t, line.decode("utf-8", "replace")))
            try:
                ev = json.loads(line)
                rv = ev["object"]["metadata"].get("resourceVersion", rv) or rv
            except (ValueError, KeyError, TypeError):
                pass
        proc.wait()
        if not stop:
            time.sleep(0.2)
