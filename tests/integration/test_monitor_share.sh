# A server with both the monitoring loop (--monitor) and the drift gauges
# (--drift-interval) evaluates each window once: the gauges take the loop's
# report of the same window (monitor/live.c, "one evaluation for two
# readers"). Whichever thread evaluated it, the gauges must be those of the
# window itself: once traffic stops, every sluice_monitor_* gauge equals
# the value of `sluice monitor report` on the same window, bit for bit
# (shifted traffic, feedback for a third of it, so that drift, live and
# estimated metrics all show). The passes after the traffic stopped find
# their window unchanged and give the report made of it again (live.c):
# the gauges are those passes'.
# backends: sqlite
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"

"$PY" - <<'P'
import math, random
random.seed(5)
with open("d.csv", "w") as f:
    f.write("x1,x2,x3,colour,y\n")
    for i in range(2400):
        x = [random.gauss(0, 1) for _ in range(3)]
        c = random.choice(["red", "green", "blue"])
        p = 1 / (1 + math.exp(-(x[0] - x[1] + (c == "red"))))
        f.write(",".join("%.5f" % v for v in x) + ",%s,%d\n" % (c, random.random() < p))
P
cat > train.yaml <<'Y'
name: m-train
steps:
  ingest:
    uses: ingest.csv
    with: { path: d.csv }
  split:
    uses: split
    inputs: { data: ingest.data }
    with: { method: random, fractions: [0.5, 0.3, 0.2], seed: 1 }
  train:
    uses: train.logistic
    inputs: { train: split.train, valid: split.valid }
    with: { target: y }
  evaluate:
    uses: evaluate
    inputs: { model: train.model, test: split.test }
    with: { target: y, importance: false }
  gate:
    uses: test
    inputs: { report: evaluate.report }
    with: { rules: [ { metric: roc_auc, min: 0.6 } ] }
  package:
    uses: package
    inputs: { model: train.model, report: evaluate.report, verdict: gate.verdict }
  register:
    uses: register
    inputs: { bundle: package.bundle }
    with: { name: m, alias: production }
Y
expect_exit 0 sl run train.yaml

start_server "$T/serve.err" --no-auth --model m --monitor --monitor-interval 1 --drift-interval 1

"$PY" - "$PORT" <<'P'
import http.client, json, math, random, sys
random.seed(9)
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
ids, labels = [], []
for i in range(600):
    x = [random.gauss(0.6 if k < 2 else 0, 1) for k in range(3)]
    c = random.choice(["red", "green", "blue"])
    rec = {"x%d" % (k + 1): x[k] for k in range(3)}
    rec["colour"] = c
    conn.request("POST", "/invocations?model=m", json.dumps({"dataframe_records": [rec]}),
                 {"Content-Type": "application/json"})
    r = conn.getresponse(); r.read()
    assert r.status == 200, r.status
    if i % 3 == 0:
        p = 1 / (1 + math.exp(-(x[0] - x[1] + (c == "red"))))
        ids.append(r.getheader("X-Request-Id")); labels.append(int(random.random() < p))
conn.request("POST", "/v2/models/m/feedback", json.dumps({"request_ids": ids, "labels": labels}),
             {"Content-Type": "application/json"})
r = conn.getresponse(); body = r.read()
assert r.status == 200, body
P

# The window no longer moves: the report of it, then the gauges once an
# evaluation after the feedback reached them (two intervals, both threads).
expect_exit 0 sl monitor report --model m --no-record --json
echo "$OUT" >want.json
for i in $(seq 100); do
	req GET /metrics
	case "$BODY" in *'sluice_monitor_live_metric{model="m",version="1",metric="accuracy"}'*) break ;; esac
	sleep 0.1
done
sleep 2.5
req GET /metrics
echo "$BODY" >metrics.txt
"$PY" - want.json metrics.txt <<'P'
import json, re, sys
d = json.load(open(sys.argv[1]))
got = {}
for line in open(sys.argv[2]):
    if line.startswith("sluice_monitor_"):
        k, v = line.rsplit(" ", 1)
        got[k] = float(v)
def lab(**kv):
    return ",".join('%s="%s"' % (k, v) for k, v in kv.items())
want = {}
base = dict(model="m", version="1")
want["sluice_monitor_window_requests{%s}" % lab(**base)] = d["window"]["requests"]
want["sluice_monitor_dataset_drift{%s}" % lab(**base)] = 1.0 if d["dataset_drift"] else 0.0
want["sluice_monitor_drift_share{%s}" % lab(**base)] = d["drift_share"]
for f in d["features"]:
    want["sluice_monitor_drift_statistic{%s}" % lab(**base, feature=f["name"], test=f["test"])] = f["statistic"]
    if f["p_value"] is not None:
        want["sluice_monitor_drift_p_value{%s}" % lab(**base, feature=f["name"], test=f["test"])] = f["p_value"]
    want["sluice_monitor_drift_psi{%s}" % lab(**base, feature=f["name"])] = f["psi"]
    want["sluice_monitor_drift_detected{%s}" % lab(**base, feature=f["name"])] = 1.0 if f["drift"] else 0.0
pd = d["prediction_drift"]
want["sluice_monitor_prediction_drift_statistic{%s}" % lab(**base, test=pd["test"])] = pd["statistic"]
for k, v in d["live"].items():
    if k != "labelled" and isinstance(v, (int, float)):
        want["sluice_monitor_live_metric{%s}" % lab(**base, metric=k)] = v
for k, v in d["estimated"].items():
    if isinstance(v, dict) and "value" in v:
        for b in ("value", "lower", "upper"):
            want["sluice_monitor_estimated_metric{%s}" % lab(**base, metric=k, bound=b)] = v[b]
assert d["window"]["requests"] == 600 and d["live"]["labelled"] == 200, (d["window"], d["live"])
assert any(f["drift"] for f in d["features"]), d["features"]
missing = sorted(set(want) - set(got))
extra = sorted(set(got) - set(want))
assert not missing and not extra, (missing, extra)
bad = [(k, want[k], got[k]) for k in want if float(want[k]) != got[k]]
assert not bad, bad
P

kill -TERM "$SPID"
wait_exit "$SPID"
[ "$WRC" = 0 ] || fail "the server exited $WRC: $(cat "$T/serve.err")"
