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
# alias (the monitor promotes).
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
    inputs: { model: train.model, test: split.test, champion: "model:m@production?" }
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
SERVER_PIDS="$SERVER_PIDS $!"
cat > sluice.yaml <<Y
monitoring:
  notify: { webhook: "http://127.0.0.1:$WEBHOOK_PORT/hook" }
Y
sl run train.yaml -q >/dev/null
[ "$(sl models show m --json | js "d['aliases']['production']")" = 1 ] || fail "v1 is not production"

start_server "$T/serve.err" --model m --monitor --monitor-interval 1
at_exit 'cat "$T/serve.err" >&2 || true'
version() { curl -s "$URL/v2/models/m" | js "d['versions'][0]"; }
[ "$(version)" = 1 ] || fail "the server does not serve v1: $(version)"

# Drifted traffic under a new concept, one row per request, every label fed back.
"$PY" - "$T" <<'P'
import json, random, sys
t = sys.argv[1]
random.seed(12)
rows = []
for i in range(400):
    x1, x2, x3 = random.gauss(2, 1), random.gauss(-1, 1), random.gauss(1, 1)
    rows.append((x1, x2, x3, int(x3 - x1 + 1 + random.gauss(0, 0.3) > 0)))
json.dump(rows, open(t + "/traffic.json", "w"))
x1, x2, x3, _ = rows[0]
json.dump({"inputs": [{"name": n, "shape": [1], "datatype": "FP64", "data": [v]}
                      for n, v in (("x1", x1), ("x2", x2), ("x3", x3))]}, open(t + "/req.json", "w"))
P
# Continuous load from now until v2 serves: not one request may fail.
$LOAD --port "$PORT" --path /v2/models/m/infer --body "$T/req.json" --threads 2 \
	--until "$T/stop" >"$T/load.json" &
LPID=$!
SERVER_PIDS="$SERVER_PIDS $LPID"
"$PY" - "$T" "$PORT" <<'P'
import http.client, json, sys
t, port = sys.argv[1], int(sys.argv[2])
rows = json.load(open(t + "/traffic.json"))
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
ids, labels = [], []
for x1, x2, x3, y in rows:
    body = {"inputs": [{"name": n, "shape": [1], "datatype": "FP64", "data": [v]}
                       for n, v in (("x1", x1), ("x2", x2), ("x3", x3))]}
    c.request("POST", "/v2/models/m/infer", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
    ids.append(r.getheader("X-Request-Id")); labels.append(y)
c.request("POST", "/v2/models/m/feedback", json.dumps({"request_ids": ids, "labels": labels}),
          {"Content-Type": "application/json"})
r = c.getresponse(); b = json.loads(r.read())
assert r.status == 200 and b["accepted"] == len(ids), b
P

# The monitor retrains and promotes; the server follows the alias.
for i in $(seq 400); do
	[ "$(version)" = 2 ] && break
	sleep 0.1
done
[ "$(version)" = 2 ] || fail "v2 is not serving: $(sl monitor events 2>&1)"
sleep 0.3
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
# One retraining run, however many evaluations saw the drift.
assert kinds.count("retrain") == 1 and kinds.count("trigger") == 1, kinds
tr = ev[kinds.index("trigger")]
assert tr["model"] == "m" and tr["detail"]["triggers"] == "drift", tr
assert tr["detail"]["evidence"]["drift"]["features"], tr
run = ev[kinds.index("retrain")]["run"]
pr = ev[kinds.index("promoted")]
assert pr["run"] == run and pr["detail"]["from"] == "1" and pr["detail"]["to"] == 2, pr
assert kinds.index("trigger") < kinds.index("retrain") < kinds.index("promoted"), kinds
al = ev[kinds.index("alert")]
assert al["detail"]["rule"] == "drifting" and al["detail"]["delivered"] is True, al
P
# The promotion is in the alias's history, by the monitor, for the trigger.
sl models history m --json | check "h = [r for r in d if r['kind'] == 'promote'][-1]; \
assert h['to'] == 2 and h['who'] == 'sluice-monitor' and h['reason'].startswith('drift'), h"
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
