# A retraining run learns from production's training data and the labelled
# traffic together: the loop passes the artifact id of the data production
# was trained on (train_data, from its bundle's lineage), the pipeline names
# it as "artifact:${params.train_data}?", and ingest.log appends the log's
# labelled rows to it in its columns and types (label -> the target, an
# integer sent for a float column converted, a column the clients never
# send null). Then what ingest.log refuses: a value that does not convert,
# a target the data lacks, data that is not the model's; and what it does
# without data (the label named as the target) or without traffic.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/integration/serve_lib.sh"

"$PY" - "$T" <<'P'
import random, sys
t = sys.argv[1]
random.seed(5)
with open(t + "/original.csv", "w") as f:
    f.write("id,x1,x2,x3,label\n")
    for i in range(600):
        x1, x2, x3 = random.gauss(0, 1), random.gauss(0, 1), random.gauss(0, 1)
        f.write("r%d,%.4f,%.4f,%.4f,%d\n" % (i, x1, x2, x3, x1 + x2 + random.gauss(0, 0.5) > 0))
# The same columns with x1 as whole numbers: an int64 column the log's
# fractional x1 cannot go into.
with open(t + "/ints.csv", "w") as f:
    f.write("id,x1,x2,x3,label\n")
    for i in range(20):
        f.write("r%d,%d,0.5,0.5,%d\n" % (i, i % 3, i % 2))
with open(t + "/other.csv", "w") as f:
    f.write("a,label\n1,0\n2,1\n")
P

gated_pipeline train original.csv label 1 "name: m, alias: production" "x1, x2, x3" >train.yaml
cat > retrain.yaml <<'Y'
name: retrain
params: { model: m, train_data: "", test_data: "" }
steps:
  all:
    uses: ingest.log
    inputs: { data: "artifact:${params.train_data}?" }
    with: { model: "${params.model}", target: label }
  split:
    uses: split
    inputs: { data: all.data }
    with: { method: random, fractions: [0.7, 0.0, 0.3], seed: 2 }
  train:
    uses: train.logistic
    inputs: { train: split.train }
    with: { target: label, features: [x1, x2, x3] }
  evaluate:
    uses: evaluate
    inputs: { model: train.model, test: split.test, champion: "model:${params.model}@production?" }
    with: { target: label, importance: false }
  gate:
    uses: test
    inputs: { report: evaluate.report }
    with: { rules: [ { metric: roc_auc, min: 0.7 } ] }
  package:
    uses: package
    inputs: { model: train.model, report: evaluate.report, verdict: gate.verdict }
  register:
    uses: register
    inputs: { bundle: package.bundle }
    with: { name: m }
Y
cat > canvas.yaml <<'Y'
building_models:
  pipeline: retrain.yaml
  retrain_on: [drift]
  auto_promote: false
Y
sl run train.yaml -q >/dev/null
SPLIT_TRAIN=$(sl runs show latest --json | js "next(s['outputs']['train'] for s in d['steps'] if s['name']=='split')")
SPLIT_TEST=$(sl runs show latest --json | js "next(s['outputs']['test'] for s in d['steps'] if s['name']=='split')")

# Traffic: 100 requests, x3 sent as whole numbers (INT64), 80 labelled.
start_server "$T/serve.err" --no-auth --model m
"$PY" - "$PORT" "$T/sent.json" <<'P'
import http.client, json, random, sys
port, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(6)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
sent = []
for i in range(100):
    x1, x2, x3 = rng.gauss(1, 1), rng.gauss(0, 1), rng.randint(-2, 2)
    body = {"inputs": [{"name": "x1", "shape": [1], "datatype": "FP64", "data": [x1]},
                       {"name": "x2", "shape": [1], "datatype": "FP64", "data": [x2]},
                       {"name": "x3", "shape": [1], "datatype": "INT64", "data": [x3]}]}
    c.request("POST", "/v2/models/m/infer", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
    sent.append({"id": r.getheader("X-Request-Id"), "x1": x1, "x3": x3, "y": int(x1 + x2 > 0)})
lab = sent[:80]
c.request("POST", "/v2/models/m/feedback",
          json.dumps({"request_ids": [s["id"] for s in lab], "labels": [s["y"] for s in lab]}),
          {"Content-Type": "application/json"})
r = c.getresponse(); b = json.loads(r.read())
assert r.status == 200 and b["accepted"] == 80, b
json.dump(sent, open(out, "w"))
P

# The loop's retraining (as a trigger would start it): production's data ids go in.
sl monitor retrain --model m --json >"$T/decision.json"
"$PY" - "$T/decision.json" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "candidate", d
P
sl monitor events --kind retrain --json >"$T/retrain.json"
"$PY" - "$T/retrain.json" "$SPLIT_TRAIN" "$SPLIT_TEST" <<'P'
import json, sys
ev, train, test = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
assert len(ev) == 1, ev
p = ev[0]["detail"]["params"]
assert "train_data=" + train in p and "test_data=" + test in p and "model=m" in p, p
# The pipeline declares no valid_data (and v1 had no valid set): not passed.
assert not any(x.startswith("valid_data=") for x in p), p
P
RUN=$(sl monitor events --kind retrain --json | js "d[0]['run']")
sl runs show "$RUN" --json >"$T/run.json"
"$PY" - "$T/run.json" "$SPLIT_TRAIN" <<'P'
import json, sys
r, train = json.load(open(sys.argv[1])), sys.argv[2]
s = next(s for s in r["steps"] if s["name"] == "all")
assert s["inputs"]["data"] == train, s["inputs"]
m = s["metrics"]
assert m["data_rows"] == 420 and m["rows"] == 80 and m["labeled"] == 80, m
P
ALL=$(sl runs show "$RUN" --json | js "next(s['outputs']['data'] for s in d['steps'] if s['name']=='all')")
sl artifacts export "$ALL" --format csv -o "$T/all.csv"
"$PY" - "$T/all.csv" "$T/original.csv" "$T/sent.json" <<'P'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
orig = list(csv.DictReader(open(sys.argv[2])))
sent = json.load(open(sys.argv[3]))
assert list(rows[0].keys()) == ["id", "x1", "x2", "x3", "label"], rows[0].keys()
assert len(rows) == 500, len(rows)
# The data's rows first, unchanged (its 70% train split, in file order).
ids = {o["id"]: o for o in orig}
for r in rows[:420]:
    o = ids[r["id"]]
    assert abs(float(r["x1"]) - float(o["x1"])) < 1e-9 and r["label"] == o["label"], (r, o)
# Then the labelled traffic in request order: no id, x3 as a float, the fed-back label.
for r, s in zip(rows[420:], sent[:80]):
    assert r["id"] == "", r
    assert abs(float(r["x1"]) - s["x1"]) < 1e-9 and float(r["x3"]) == s["x3"], (r, s)
    assert int(r["label"]) == s["y"], (r, s)
P
# The candidate (v2) learned from both: its training set is that split's train part.
[ "$(sl models show m --json | js "len(d['versions'])")" = 2 ] || fail "no v2 registered"

# Without data (the parameter left empty) only the traffic, its label named as the target.
cat > logonly.yaml <<'Y'
name: logonly
params: { train_data: "" }
steps:
  all:
    uses: ingest.log
    inputs: { data: "artifact:${params.train_data}?" }
    with: { model: m, target: truth }
Y
sl run logonly.yaml -q >/dev/null
OUT=$(sl runs show latest --json | js "d['steps'][0]['outputs']['data']")
sl artifacts show "$OUT" --json | js "[c['name'] for c in d['dataset']['columns']]" >"$T/cols.txt"
grep -q "'truth'" "$T/cols.txt" || fail "no truth column: $(cat "$T/cols.txt")"
if grep -q "'label'" "$T/cols.txt"; then fail "label kept beside truth: $(cat "$T/cols.txt")"; fi
[ "$(sl runs show latest --json | js "int(d['steps'][0]['metrics']['labeled'])")" = 80 ] ||
	fail "labeled count under a renamed target"

# A target the data lacks is named.
expect_exit 2 sl run logonly.yaml -p train_data="$SPLIT_TRAIN"
contains "$ERR" "input data has no column 'truth' to put the feedback labels in"
# Data but no traffic for the model yet: the data alone.
sed -e 's/model: m,/model: nobody,/' -e 's/target: truth/target: label/' logonly.yaml >noone.yaml
sl run noone.yaml -q -p train_data="$SPLIT_TRAIN" >/dev/null
[ "$(sl runs show latest --json | js "int(d['steps'][0]['metrics']['data_rows'])")" = 420 ] ||
	fail "data_rows without traffic"
[ "$(sl runs show latest --json | js "int(d['steps'][0]['metrics']['rows'])")" = 0 ] ||
	fail "rows without traffic"

# What does not fit is refused, naming the column and the request.
cat > bad.yaml <<'Y'
name: bad
params: { csv: ints.csv }
steps:
  data:
    uses: ingest.csv
    with: { path: "${params.csv}" }
  all:
    uses: ingest.log
    inputs: { data: data.data }
    with: { model: m }
Y
expect_exit 2 sl run bad.yaml
FIRST=$(js "d[0]['id']" <"$T/sent.json")
contains "$ERR" "column 'x1' of input data is int64, but the log's x1 of request $FIRST is float64"
expect_exit 2 sl run bad.yaml -p csv=other.csv
contains "$ERR" "no column of input data is an input of model 'm'"

# ${params.X} goes into run:, artifact: and model: references only.
cat > subst.yaml <<'Y'
name: subst
params: { from: all }
steps:
  all:
    uses: ingest.log
    with: { model: m }
  split:
    uses: split
    inputs: { data: "${params.from}.data" }
Y
expect_exit 2 sl run subst.yaml
contains "$ERR" "subst.yaml:9:21: input 'data': '\${params.from}.data' takes \${params.X} only in a run:, artifact: or model: reference"
