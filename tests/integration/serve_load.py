"""Load for the serving tests: threads, each with one keep-alive
connection, sending the same request until a stop file appears or a time
is up. Writes the request id of every answered (2xx) request to --ids,
one per line and flushed at once (so the list survives whatever happens
to the server), and prints a summary as JSON:
{"sent": N, "codes": {"200": N, ...}, "errors": N}. A request that got
no response (connection refused or reset) counts as an error and is
retried on a new connection.

With --versions FILE, the summary adds "versions": {"V": N} (the
model_version of each 2xx V2 answer) and FILE gets, as a JSON list, each
thread's runs of answers from one version: [thread, version, sent, last]
where sent is when the run's first request was sent and last when its
last request was sent (wall clock, seconds). A test compares these times
with when it moved an alias: which version a request got, by when it was
sent."""
import argparse, http.client, json, os, sys, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--path", required=True)
ap.add_argument("--body", required=True)
ap.add_argument("--content-type", default="application/json")
ap.add_argument("--threads", type=int, default=4)
ap.add_argument("--seconds", type=float, default=0)
ap.add_argument("--until", default="")
ap.add_argument("--ids", default="")
ap.add_argument("--versions", default="")
a = ap.parse_args()
body = open(a.body, "rb").read()
lock = threading.Lock()
codes, stats = {}, {"sent": 0, "errors": 0}
versions, runs = {}, []
ids = open(a.ids, "a") if a.ids else None
deadline = time.time() + a.seconds if a.seconds else None


# A test that died without creating its stop file must not leave load
# running on a shared machine: no run lasts more than two minutes.
hard_stop = time.time() + 120


def done():
    if a.until and os.path.exists(a.until):
        return True
    if time.time() > hard_stop:
        return True
    return deadline is not None and time.time() > deadline


def worker(k):
    conn = None
    run = None
    while not done():
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
            sent = time.time()
            conn.request("POST", a.path, body, {"Content-Type": a.content_type})
            r = conn.getresponse()
            data = r.read()
            rid = r.getheader("X-Request-Id")
            if a.versions and 200 <= r.status < 300:
                v = json.loads(data).get("model_version")
                if run is None or run[1] != v:
                    run = [k, v, sent, sent]
                    with lock:
                        runs.append(run)
                run[3] = sent
            with lock:
                if a.versions and 200 <= r.status < 300:
                    versions[v] = versions.get(v, 0) + 1
                stats["sent"] += 1
                codes[str(r.status)] = codes.get(str(r.status), 0) + 1
                if ids and 200 <= r.status < 300:
                    ids.write(rid + "\n")
                    ids.flush()
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            with lock:
                stats["errors"] += 1
            if conn:
                conn.close()
            conn = None
            time.sleep(0.01)


ts = [threading.Thread(target=worker, args=(k,)) for k in range(a.threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
summary = {"sent": stats["sent"], "codes": codes, "errors": stats["errors"]}
if a.versions:
    summary["versions"] = versions
    json.dump(runs, open(a.versions, "w"))
print(json.dumps(summary))
