# Helpers for the web UI's tests (sourced after lib.sh).
#
#   ui_project DIR     the spam example (sluice init --template spam) with a
#                      second pipeline, model.yaml, that trains, evaluates,
#                      gates, packages and registers model "spam"; run once
#   ui_start ARGS      starts `sluice ui --port 0 ARGS` in the working
#                      directory, waits until it is ready; sets UPID, UPORT
#                      and UURL; the server is stopped when the test ends
#   ui_get PATH [CURL ARGS]   sets CODE and BODY

ui_project() {
	sl init --template spam "$1" >/dev/null
	cat > "$1/model.yaml" <<'Y'
name: spam-model
steps:
  ingest:
    uses: ingest.csv
    with: { path: data/spambase.csv }
  label:
    uses: label
    inputs: { data: ingest.data }
    with: { from: type, mapping: { spam: 1, nonspam: 0 } }
  features:
    uses: wrangle
    inputs: { data: label.data }
    with: { ops: [ { drop: [type] } ] }
  split:
    uses: split
    inputs: { data: features.data }
    with: { method: stratified, by: label, fractions: [0.7, 0.15, 0.15], seed: 1 }
  train:
    uses: train.logistic
    inputs: { train: split.train, valid: split.valid }
    with: { target: label }
  evaluate:
    uses: evaluate
    inputs: { model: train.model, test: split.test }
    with: { target: label }
  gate:
    uses: test
    inputs: { report: evaluate.report }
    with: { rules: [ { metric: roc_auc, min: 0.5 } ] }
  package:
    uses: package
    inputs: { model: train.model, report: evaluate.report, verdict: gate.verdict }
    with: { name: spam }
  register:
    uses: register
    inputs: { bundle: package.bundle }
    with: { name: spam, alias: staging }
Y
	(cd "$1" && sl run model.yaml -q >/dev/null) || fail "the model pipeline failed"
}

ui_stop() {
	[ -n "${UPID:-}" ] || return 0
	kill "$UPID" 2>/dev/null || true
	wait "$UPID" 2>/dev/null || true
	[ "$LIB_RC" = 0 ] || { echo "--- sluice ui:" >&2; tail -n 20 "$T/ui.err" >&2; }
	UPID=""
}

ui_start() {
	local i
	: >"$T/ui.err" # emptied first: the background shell may open it after the loop reads it
	"$SLUICE" ui --port 0 "$@" 2>"$T/ui.err" &
	UPID=$!
	at_exit ui_stop
	for i in $(seq 400); do
		UPORT=$(sed -n 's/.*ready on https\{0,1\}:\/\/.*:\([0-9][0-9]*\)$/\1/p' "$T/ui.err")
		if [ -n "$UPORT" ]; then
			UURL="http://127.0.0.1:$UPORT"
			return 0
		fi
		kill -0 "$UPID" 2>/dev/null || fail "sluice ui exited: $(cat "$T/ui.err")"
		sleep 0.05
	done
	fail "sluice ui did not get ready: $(cat "$T/ui.err")"
}

ui_get() {
	local path=$1
	shift
	CODE=$(curl -s -S -o "$T/.ui-body" -w '%{http_code}' "$@" "$UURL$path")
	BODY=$(cat "$T/.ui-body")
}

# ui_monitoring: monitoring records for model "spam" of ui_project's project
# (the working directory): `sluice serve` answers traffic like the training
# data, `sluice monitor report` records a window of it; then traffic with
# every column shifted, and one pass of the loop (`sluice monitor
# watch --once`, on the staging alias) records a drifted window and fires
# the canvas's "drifting" alert (retraining is switched off in the canvas:
# the test is about what the UI shows, not the loop), and one more pass on
# an alias spam lacks records an error event. Sets ALERT, the alert's event
# number. Needs serve_lib.sh.
ui_monitoring() {
	sed -i -e '/^  retrain_on:/d' -e 's/^  window: 500 /  window: 200 /' canvas.yaml
	start_server "$T/serve-mon.err" --no-auth --model spam@staging
	ui_traffic 0 1
	sl monitor report --model spam --window 200 >/dev/null || fail "monitor report: $(cat "$T/serve-mon.err")"
	ui_traffic 1 2
	sl monitor watch --once --model spam --alias staging --json >"$T/watch.out" ||
		fail "monitor watch: $(cat "$T/watch.out")"
	ALERT=$(sl monitor events --model spam --kind alert --json | js "d[-1]['seq']")
	# An event of another kind: the loop told to watch an alias spam lacks.
	sl monitor watch --once --model spam --alias canary >/dev/null
	kill "$SPID" 2>/dev/null || true
}

# ui_traffic SHIFTED SEED: 200 one-row requests to model spam at $PORT, rows
# of the training data; SHIFTED 1 triples every column and adds 1.
ui_traffic() {
	"$PY" - "$PORT" "$1" "$2" <<'P'
import csv, http.client, json, random, sys
port, shifted, seed = int(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3])
random.seed(seed)
rows = list(csv.DictReader(open("data/spambase.csv")))
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
for r in random.sample(rows, 200):
    rec = {k: float(v) for k, v in r.items() if k != "type"}
    if shifted:
        rec = {k: 3 * v + 1 for k, v in rec.items()}
    conn.request("POST", "/invocations?model=spam", json.dumps({"dataframe_records": [rec]}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse(); body = resp.read()
    assert resp.status == 200, (resp.status, body)
P
}
