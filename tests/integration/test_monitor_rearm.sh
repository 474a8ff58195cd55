# A drift retraining with nothing new to learn from re-arms the trigger for
# newer traffic, never for the window that fired (rules.h, invariant 2):
#  - drifted traffic fires `drift`; the retraining pipeline is the training
#    pipeline itself, so every step comes from the cache and the run is
#    recorded as `unchanged`, no version registered;
#  - evaluated again on the same window, nothing fires (no run at every
#    evaluation);
#  - a newer window of drifted traffic fires again and is judged again.
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/integration/serve_lib.sh"

xy_csv data.csv 1 300
gated_pipeline train data.csv label 1 "name: m, alias: production" >train.yaml
cp train.yaml retrain.yaml
sl run train.yaml -q >/dev/null
cat > canvas.yaml <<'Y'
building_models:
  pipeline: retrain.yaml
  retrain_on: [drift]
  auto_promote: true
live_monitoring:
  window: 20
Y
start_server "$T/serve.err" --no-auth --model m
# send N: N requests far outside the training data (x, y in [0, 1]).
send() {
	for i in $(seq "$1"); do
		curl -sf -o /dev/null -X POST "$URL/v2/models/m/infer" -H 'Content-Type: application/json' \
			-d "{\"inputs\": [{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [5.$i]},
			                {\"name\": \"y\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [4.$i]}]}" ||
			fail "request $i failed"
	done
}
# kinds FILE: the kinds of the events in a `watch --once --json` output, space-separated.
kinds() { "$PY" -c 'import json,sys; print(" ".join(json.loads(l)["kind"] for l in open(sys.argv[1])))' "$1"; }

send 25
sl monitor watch --model m --once --json >"$T/first.out"
[ "$(kinds "$T/first.out")" = "trigger retrain unchanged" ] ||
	fail "first window: $(kinds "$T/first.out"), wanted trigger retrain unchanged"
"$PY" - "$T/first.out" <<'P'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
t, u = ev[0]["detail"], ev[2]["detail"]
assert t["triggers"] == "drift" and t["evidence"]["drift"], t
assert u["triggers"] == "drift" and u["production"] == "1" and u["cached_from"], u
P

# The same window again: judged once already, nothing fires.
sl monitor watch --model m --once --json >"$T/second.out"
[ -z "$(kinds "$T/second.out")" ] || fail "the same window fired again: $(kinds "$T/second.out")"

# A newer window, still drifted: the trigger fires and the run is judged again.
send 25
sl monitor watch --model m --once --json >"$T/third.out"
[ "$(kinds "$T/third.out")" = "trigger retrain unchanged" ] ||
	fail "newer window: $(kinds "$T/third.out"), wanted trigger retrain unchanged"
[ "$(sl monitor events --kind unchanged --json | js 'len(d)')" = 2 ] || fail "two unchanged runs expected"
[ "$(sl monitor events --kind failed --json | js 'len(d)')" = 0 ] || fail "a cached run was recorded as failed"
[ "$(sl models show m --json | js "len(d['versions'])")" = 1 ] || fail "a cached run registered a version"
[ "$(sl models show m --json | js "d['aliases']['production']")" = 1 ] || fail "production moved"
