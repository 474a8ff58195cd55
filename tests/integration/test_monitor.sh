# Live monitoring through the real binary and a real server: a classifier
# trained with a validation set carries its monitoring reference into the
# registered bundle; `sluice serve` logs traffic drawn from the training
# distribution (no dataset drift) and then traffic with three features
# shifted by 0.5 sd (caught in one window of 1,000 requests), with feedback
# labels for half of it; `sluice monitor report` gives the DESIGN.md JSON,
# live metrics from the labels, CBPE estimates reconciled with them, records
# each window as series, and draws the page; /metrics carries the gauges;
# usage errors and a model without traffic exit 2.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"



"$PY" - <<'P'
import math, random
random.seed(11)
with open("d.csv", "w") as f:
    f.write("x1,x2,x3,x4,x5,colour,y\n")
    for i in range(3000):
        x = [random.gauss(0, 1) for _ in range(5)]
        c = random.choice(["red", "green", "blue"])
        p = 1 / (1 + math.exp(-(x[0] + x[1] - x[2] + (c == "red"))))
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
    with: { method: random, fractions: [0.6, 0.4, 0.0], seed: 1 }
  train:
    uses: train.logistic
    inputs: { train: split.train, valid: split.valid }
    with: { target: y }
  package:
    uses: package
    inputs: { model: train.model }
    with: { name: m }
  register:
    uses: register
    inputs: { bundle: package.bundle }
    with: { name: m }
Y
expect_exit 0 sl run train.yaml
BUNDLE=$(sl models show m --json | js "d['versions'][0]['bundle']")
sl artifacts export "$BUNDLE" -o m.slb >/dev/null

# Usage errors before anything is served.
expect_exit 2 sl monitor
contains "$OUT$ERR" "report"
expect_exit 2 sl monitor bogus
contains "$ERR" "not a monitor subcommand"
expect_exit 2 sl monitor report
contains "$ERR" "--model"
expect_exit 2 sl monitor report --model m --window 0
expect_exit 2 sl monitor report --model m --window 10 --since 2026-01-01
expect_exit 2 sl monitor report --model m --since yesterday
contains "$ERR" "ISO 8601"
expect_exit 2 sl monitor report --model m
contains "$ERR" "no answered request of model 'm'"

start_server "$T/serve.err" --no-auth --model m=m.slb --drift-interval 1 --drift-window 1000

# send N SHIFT LABEL_EVERY SEED: N one-row requests on one keep-alive
# connection, x1..x3 shifted by SHIFT sd; every LABEL_EVERY-th request gets
# its label (drawn from the same P(y|x)) as feedback.
send() {
	"$PY" - "$PORT" "$@" <<'P'
import http.client, json, math, random, sys
port, n, shift, every, seed = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
random.seed(seed)
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
ids, labels = [], []
for i in range(n):
    x = [random.gauss(shift if k < 3 else 0, 1) for k in range(5)]
    c = random.choice(["red", "green", "blue"])
    rec = {"x%d" % (k + 1): x[k] for k in range(5)}
    rec["colour"] = c
    conn.request("POST", "/invocations?model=m", json.dumps({"dataframe_records": [rec]}),
                 {"Content-Type": "application/json"})
    r = conn.getresponse(); r.read()
    assert r.status == 200, r.status
    if every and i % every == 0:
        p = 1 / (1 + math.exp(-(x[0] + x[1] - x[2] + (c == "red"))))
        ids.append(r.getheader("X-Request-Id")); labels.append(int(random.random() < p))
if ids:
    conn.request("POST", "/v2/models/m/feedback", json.dumps({"request_ids": ids, "labels": labels}),
                 {"Content-Type": "application/json"})
    r = conn.getresponse(); body = r.read()
    assert r.status == 200, body
P
}

# Traffic like the training data: no dataset drift.
send 1000 0 0 1
expect_exit 0 sl monitor report --model m --window 1000 --json
echo "$OUT" > quiet.json
"$PY" - quiet.json <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("model", "version", "window", "dataset_drift", "drift_share", "features",
          "prediction_drift", "live", "estimated"):
    assert k in d, k
assert d["model"] == "m" and d["version"] == 1, (d["model"], d["version"])
assert d["window"]["requests"] == 1000 and d["window"]["from"] and d["window"]["to"], d["window"]
assert d["dataset_drift"] is False, d
names = [f["name"] for f in d["features"]]
assert names == ["x1", "x2", "x3", "x4", "x5", "colour"], names
for f in d["features"]:
    for k in ("name", "test", "statistic", "p_value", "threshold", "drift", "psi"):
        assert k in f, (k, f)
# 1800 training rows: more than 1000, so distances decide.
assert {f["test"] for f in d["features"]} == {"wasserstein", "js"}, d["features"]
assert d["prediction_drift"]["name"] == "score", d["prediction_drift"]
assert d["live"] == {}, d["live"]
e = d["estimated"]
assert e["method"] == "cbpe" and e["calibrated_on"] == "valid", e
for m in ("accuracy", "f1", "auc"):
    assert e[m]["lower"] <= e[m]["value"] <= e[m]["upper"], (m, e[m])
P

# Three features shifted by 0.5 sd, half of the requests labelled.
send 1000 0.5 2 2
expect_exit 0 sl monitor report --model m --window 1000 --html page.html --json
echo "$OUT" > shifted.json
"$PY" - shifted.json <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
drifted = sorted(f["name"] for f in d["features"] if f["drift"])
assert drifted == ["x1", "x2", "x3"], d["features"]
assert d["dataset_drift"] is True and abs(d["drift_share"] - 0.5) < 1e-9, d
assert d["live"]["labelled"] == 500, d["live"]
assert 0.5 < d["live"]["accuracy"] <= 1 and 0.5 < d["live"]["auc"] <= 1, d["live"]
rec = d["estimated"]["reconciled"]
assert rec["labelled"] == 500, rec
assert abs(rec["error"]) < 0.06, rec
P
grep -q "<svg" page.html || fail "the page has no chart"
contains "$(cat page.html)" "Drift per feature"

# Each report recorded a window; the text form says what drifted.
[ "$(store_sql "SELECT COUNT(*) FROM monitor_windows WHERE model = 'm'")" = 2 ] || fail "windows recorded"
[ "$(store_sql "SELECT COUNT(*) FROM monitor_values WHERE model = 'm' AND name = 'drift.x1.statistic'")" = 2 ] ||
	fail "series recorded"
expect_exit 0 sl monitor report --model m --no-record
contains "$OUT" "DATASET DRIFT: 3 of 6 features drifted"
contains "$OUT" "reconciled on"
[ "$(store_sql "SELECT COUNT(*) FROM monitor_windows WHERE model = 'm'")" = 2 ] || fail "--no-record recorded"

# A registered version by its number, though the server logged the file's digest.
expect_exit 0 sl monitor report --model m --version 1 --no-record --json
[ "$(echo "$OUT" | js "(d['version'], d['window']['requests'])")" = "(1, 1000)" ] || fail "--version 1: $OUT"
expect_exit 2 sl monitor report --model m --version 7 --no-record
contains "$ERR" "no version 7"

# A time span; a version the log does not have.
expect_exit 0 sl monitor report --model m --since 2000-01-01 --no-record --json
[ "$(echo "$OUT" | js "d['window']['requests']")" = 2000 ] || fail "span: $OUT"
expect_exit 2 sl monitor report --model m --version nope --no-record
contains "$ERR" "version nope"

# The server's gauges, evaluated off the request path every second (an
# evaluation may have run between the requests and their feedback).
for i in $(seq 100); do
	req GET /metrics
	case "$BODY" in *'sluice_monitor_drift_detected{model="m",version='*'feature="x1"} 1'*)
		case "$BODY" in *'sluice_monitor_live_metric{model="m",version='*) break ;; esac ;;
	esac
	sleep 0.1
done
contains "$BODY" '# TYPE sluice_monitor_drift_statistic gauge'
contains "$BODY" 'sluice_monitor_drift_detected{model="m",version='
contains "$BODY" 'feature="x1"} 1'
contains "$BODY" 'sluice_monitor_estimated_metric{model="m",version='
contains "$BODY" 'sluice_monitor_live_metric{model="m",version='

kill -TERM "$SPID"
wait_exit "$SPID"
[ "$WRC" = 0 ] || fail "the server exited $WRC: $(cat "$T/serve.err")"
