# Live performance of a regressor from feedback labels: a linear model is
# served, its answers to 60 requests get numeric labels as feedback, and
# `sluice monitor report` gives MAE, RMSE and MASE (MAE over the one-step
# naive forecast's error on the same labelled rows in time order) equal to
# the same figures computed here from the answers and the labels.
# backends: sqlite
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"

"$PY" - <<'P'
import random
random.seed(4)
with open("d.csv", "w") as f:
    f.write("x1,x2,y\n")
    for i in range(400):
        x1, x2 = random.gauss(0, 1), random.gauss(0, 1)
        f.write("%.5f,%.5f,%.5f\n" % (x1, x2, 2 * x1 - x2 + random.gauss(0, 0.3)))
P
cat > train.yaml <<'Y'
name: r-train
steps:
  ingest:
    uses: ingest.csv
    with: { path: d.csv }
  train:
    uses: train.linear
    inputs: { train: ingest.data }
    with: { target: y }
  package:
    uses: package
    inputs: { model: train.model }
  register:
    uses: register
    inputs: { bundle: package.bundle }
    with: { name: r }
Y
sl run train.yaml -q >/dev/null
BUNDLE=$(sl models show r --json | js "d['versions'][0]['bundle']")
sl artifacts export "$BUNDLE" -o r.slb >/dev/null
start_server "$T/serve.err" --no-auth --model r=r.slb --drift-interval 0

# The concept moved: labels follow 3 x1 - x2 + 1, so the model is off by x1 + 1.
"$PY" - "$PORT" "$T/pairs.json" <<'P'
import http.client, json, random, sys
port, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(5)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
ids, labels, pairs = [], [], []
for i in range(60):
    x1, x2 = rng.gauss(0, 1), rng.gauss(0, 1)
    body = {"inputs": [{"name": "x1", "shape": [1], "datatype": "FP64", "data": [x1]},
                       {"name": "x2", "shape": [1], "datatype": "FP64", "data": [x2]}]}
    c.request("POST", "/v2/models/r/infer", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse(); b = json.loads(r.read())
    assert r.status == 200, b
    pred = next(o for o in b["outputs"] if o["name"] == "predict")["data"][0]
    y = 3 * x1 - x2 + 1
    ids.append(r.getheader("X-Request-Id")); labels.append(y); pairs.append([pred, y])
c.request("POST", "/v2/models/r/feedback", json.dumps({"request_ids": ids, "labels": labels}),
          {"Content-Type": "application/json"})
r = c.getresponse(); b = json.loads(r.read())
assert r.status == 200 and b["accepted"] == 60, b
json.dump(pairs, open(out, "w"))
P

sl monitor report --model r --json --no-record >"$T/report.json"
"$PY" - "$T/report.json" "$T/pairs.json" <<'P'
import json, math, sys
d, pairs = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
live = d["live"]
assert live["labelled"] == 60, live
err = [abs(p - y) for p, y in pairs]
mae = sum(err) / len(err)
rmse = math.sqrt(sum(e * e for e in err) / len(err))
ys = [y for _, y in pairs]
naive = sum(abs(ys[i] - ys[i - 1]) for i in range(1, len(ys))) / (len(ys) - 1)
for k, want in (("mae", mae), ("rmse", rmse), ("mase", mae / naive)):
    assert abs(live[k] - want) < 1e-6 * max(1, abs(want)), (k, live[k], want)
# A regressor gets no label-free estimate.
assert d["estimated"] == {}, d["estimated"]
P
