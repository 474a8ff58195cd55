# The closed loop, end to end: a server with its monitor (serve --monitor)
# serves v1 of a registered model; drifted traffic arrives with feedback
# whose labels follow a new concept; the monitor sees the drift, sends its
# alert once (a command and a webhook), retrains on the logged traffic,
# and the challenger passes its gate against production and is promoted
# (who: the monitor, reason: the trigger); the server switches to v2 with
# not one failed request under continuous load. Then a deliberately worse
# challenger is refused, production stays, and the refusal is recorded.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/integration/serve_lib.sh"

# check CODE: Python statements on the JSON of stdin, as d.
check() { "$PY" -c "import json,sys; d=json.load(sys.stdin); $1"; }
"$PY" - "$T" <<'P'
import random, sys
t = sys.argv[1]
random.seed(11)
with open(t + "/original.csv", "w") as f:
    f.write("x1,x2,x3,label\n")
    for i in range(600):
        x1, x2, x3 = random.gauss(0, 1), random.gauss(0, 1), random.gauss(0, 1)
        f.write("%.4f,%.4f,%.4f,%d\n" % (x1, x2, x3, x1 + x2 + random.gauss(0, 0.5) > 0))
P

# v1: trained on the original data, gated, registered as production.
cat > train.yaml <<'Y'
name: train
steps:
  data:
    uses: ingest.csv
    with: { path: original.csv }
  split:
    uses: split
    inputs: { data: data.data }
    with: { method: random, fractions: [0.7, 0.0, 0.3], seed: 1 }
  train:
    uses: train.logistic
    inputs: { train: split.train }
    with: { target: label }
  evaluate:
    uses: evaluate
    inputs: { model: train.model, test: split.test }
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
    with: { name: m, alias: production }
Y
# The retraining pipeline: the window's labelled traffic from the log,
# judged against production on held-out traffic; registered without an
# alias (the monitor promotes). (test_retrain_data.sh trains on production's
# training data and the traffic together.)
retrain_yaml() {
	cat > retrain.yaml <<Y
name: retrain
params: { model: m, trigger: none }
steps:
  traffic:
    uses: ingest.log
    with: { model: "\${params.model}" }
  split:
    uses: split
    inputs: { data: traffic.data }
    with: { method: random, fractions: [0.7, 0.0, 0.3], seed: 2 }
  train:
    uses: train.logistic
    inputs: { train: split.train }
    with: { target: label, features: [$1] }
  evaluate:
    uses: evaluate
    inputs: { model: train.model, test: split.test, champion: "model:\${params.model}@production?" }
    with: { target: label, importance: false }
  gate:
    uses: test
    inputs: { report: evaluate.report }
    with: { rules: [ { metric: roc_auc, vs: champion, min_delta: 0.05 } ] }
  package:
    uses: package
    inputs: { model: train.model, report: evaluate.report, verdict: gate.verdict }
  register:
    uses: register
    inputs: { bundle: package.bundle }
    with: { name: m }
Y
}
retrain_yaml "x1, x2, x3"
cat > canvas.yaml <<'Y'
building_models:
  pipeline: retrain.yaml
  retrain_on: [drift]
  auto_promote: true
live_monitoring:
  window: 200
  drift: {ks_pvalue: 0.001}
  alert:
    - {name: drifting, metric: drift_share, above: 0.3, command: 'echo "$SLUICE_ALERT_STATE $SLUICE_ALERT_NAME" >> alerts.log'}
    - {name: failing, metric: error_rate, above: 0.5}
Y
# A webhook receiver: every POST body, one per line.
WEBHOOK_PORT=$(free_port)
"$PY" - "$WEBHOOK_PORT" "$T/webhook.log" <<'P' &
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(out, "ab") as f:
            f.write(body + b"\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
P
track $!
disown
cat > sluice.yaml <<Y
monitoring:
  notify: { webhook: "http://127.0.0.1:$WEBHOOK_PORT/hook" }
Y
sl run train.yaml -q >/dev/null
[ "$(sl models show m --json | js "d['aliases']['production']")" = 1 ] || fail "v1 is not production"

# traffic.py: drifted rows under a new concept, one row per request, each
# drawn afresh. "labelled N": N requests, every label fed back. "load": two
# keep-alive clients until the stop file appears; counts every answer and
# every failure (a refused or reset connection included) into load.json.
cat > traffic.py <<'P'
import http.client, json, os, random, sys, threading
mode, port, t = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def row(rng):
    x1, x2, x3 = rng.gauss(2, 1), rng.gauss(-1, 1), rng.gauss(1, 1)
    return x1, x2, x3, int(x3 - x1 + 1 + rng.gauss(0, 0.3) > 0)
def body(x1, x2, x3):
    return json.dumps({"inputs": [{"name": n, "shape": [1], "datatype": "FP64", "data": [v]}
                                  for n, v in (("x1", x1), ("x2", x2), ("x3", x3))]})
H = {"Content-Type": "application/json"}
if mode == "labelled":
    rng = random.Random(12)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    ids, labels = [], []
    for i in range(int(sys.argv[4])):
        x1, x2, x3, y = row(rng)
        c.request("POST", "/v2/models/m/infer", body(x1, x2, x3), H)
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
        ids.append(r.getheader("X-Request-Id")); labels.append(y)
    c.request("POST", "/v2/models/m/feedback", json.dumps({"request_ids": ids, "labels": labels}), H)
    r = c.getresponse(); b = json.loads(r.read())
    assert r.status == 200 and b["accepted"] == len(ids), b
    sys.exit(0)
stats = {"sent": 0, "errors": 0, "codes": {}}
lock = threading.Lock()
def worker(seed):
    rng, c = random.Random(seed), None
    while not os.path.exists(t + "/stop"):
        try:
            if c is None:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            x1, x2, x3, _ = row(rng)
            c.request("POST", "/v2/models/m/infer", body(x1, x2, x3), H)
            r = c.getresponse(); r.read()
            with lock:
                stats["sent"] += 1
                stats["codes"][str(r.status)] = stats["codes"].get(str(r.status), 0) + 1
        except (OSError, http.client.HTTPException):
            with lock:
                stats["errors"] += 1
            c = None
ths = [threading.Thread(target=worker, args=(s,)) for s in (1, 2)]
for th in ths: th.start()
for th in ths: th.join()
json.dump(stats, open(t + "/load.json", "w"))
P

# The monitor's first evaluation finds no traffic; the labelled traffic and
# its feedback are in the log well before its second, three seconds on.
start_server "$T/serve.err" --no-auth --model m --monitor --monitor-interval 3
at_exit '[ "$LIB_RC" = 0 ] || cat "$T/serve.err" >&2'
version() { curl -s "$URL/v2/models/m" | js "d['versions'][0]"; }
[ "$(version)" = 1 ] || fail "the server does not serve v1: $(version)"
"$PY" traffic.py labelled "$PORT" "$T" 400
# Continuous load from now until v2 serves: not one request may fail.
"$PY" traffic.py load "$PORT" "$T" &
LPID=$!
track "$LPID"

# The monitor retrains and promotes; the server follows the alias.
for i in $(seq 300); do
	[ "$(version)" = 2 ] && break
	sleep 0.1
done
[ "$(version)" = 2 ] || fail "v2 is not serving: $(sl monitor events 2>&1)"
sleep 0.5
touch "$T/stop"
wait "$LPID"
"$PY" - "$T/load.json" <<'P'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["errors"] == 0 and set(s["codes"]) == {"200"} and s["sent"] > 50, s
P

sl monitor events --json >"$T/events.json"
"$PY" - "$T/events.json" <<'P'
import json, sys
ev = json.load(open(sys.argv[1]))
kinds = [e["kind"] for e in ev]
for k in ("alert", "trigger", "retrain", "promoted"):
    assert k in kinds, (k, kinds)
# One promotion; the run before it is the one the drift trigger started.
assert kinds.count("promoted") == 1, kinds
p = kinds.index("promoted")
assert kinds[p - 1] == "retrain" and kinds[p - 2] == "trigger", kinds
tr = ev[p - 2]
assert tr["model"] == "m" and tr["detail"]["triggers"] == "drift", tr
assert tr["detail"]["evidence"]["drift"]["features"], tr
run = ev[p - 1]["run"]
pr = ev[p]
assert pr["run"] == run and pr["detail"]["from"] == "1" and pr["detail"]["to"] == 2, pr
# While the drift held on v1, nothing but failed runs (no labels yet) retried it.
assert all(k in ("alert", "trigger", "retrain", "failed") for k in kinds[:p - 2]), kinds
al = ev[kinds.index("alert")]
assert al["detail"]["rule"] == "drifting" and al["detail"]["delivered"] is True, al
P
# The promotion is in the alias's history, by the monitor, for the trigger.
sl models history m --json | check "h = [r for r in d if r['kind'] == 'promote'][-1]; \
assert h['to'] == 2 and h['who'] == 'sluice-monitor' and h['reason'].startswith('drift'), h"
# The windows the monitor evaluated are recorded for the report's charts.
[ "$(store_sql "SELECT COUNT(*) FROM monitor_windows WHERE model = 'm'")" -ge 1 ] ||
	fail "the monitor recorded no window"
# The alert went out once, by command and by webhook, though it held at every evaluation.
[ "$(grep -c 'firing drifting' alerts.log)" = 1 ] || fail "alert command: $(cat alerts.log)"
[ "$(grep -c '"kind":"alert"' webhook.log)" = 1 ] || fail "webhook: $(cat webhook.log)"

# A deliberately worse challenger (one uninformative input) is refused.
retrain_yaml "x2"
sl monitor retrain --model m --reason "worse on purpose" --json >"$T/refused.json"
check "assert d['kind'] == 'refused' and d['detail']['production'] == '2', d" <"$T/refused.json"
[ "$(sl models show m --json | js "d['aliases']['production']")" = 2 ] || fail "production moved"
[ "$(version)" = 2 ] || fail "the server left v2"
sl monitor events --kind refused --json | check "assert len(d) == 1 and d[0]['run'], d"
sl monitor events | grep -q refused || fail "the text listing lacks the refusal"

# The loop as its own process: one evaluation of production (v2, calm now)
# starts nothing; bad usage is exit 2 naming the option.
sl monitor watch --model m --once --json >"$T/once.out"
# (an alert that fired on v1's traffic may be recorded as resolved).
if grep -v '"kind":"resolved"' "$T/once.out" | grep -q .; then
	fail "an evaluation of a calm v2 decided something: $(cat "$T/once.out")"
fi
expect_exit 2 sl monitor watch --interval 0
grep -q "interval" "$T/.err" || fail "no word on --interval: $(cat "$T/.err")"
expect_exit 2 sl monitor events --since yesterday
