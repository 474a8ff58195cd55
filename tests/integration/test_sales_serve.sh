# The sales example served and kept alive (issue 11): the registered
# forecaster answers /v2/models/sales/infer with the next months and their
# intervals, exactly the bundle's forecast (`sluice predict`); a panel
# forecaster answers [series, h]; bad requests get 400 naming the field.
# Actuals fed back score live MASE on the model's own scale (equal to the
# offline evaluation's on the same months); a level shift in demand decays
# it past the canvas's bound, and the loop retrains on the published months
# (retrain.yaml) and promotes the new version, which the server then serves.
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/integration/serve_lib.sh"

cp -r "$SRC/examples/sales/." .
sl run forecast.yaml --json > run.json 2>/dev/null
[ "$(js "d['status']" < run.json)" = completed ] || fail "example run: $(cat run.json)"
out() { js "next(s['outputs']['$2'] for s in d['steps'] if s['name']=='$1')" < run.json; }
sl artifacts export "$(out evaluate report)" -o v1_report.json
sl artifacts export "$(out package bundle)" -o sales.bundle
sl predict sales.bundle -i data/horizon.csv -o next.csv

# A panel of two series (the index and a scaled copy of it), for the key
# columns: forecast by region.
"$PY" - <<'P'
import csv
rows = list(csv.DictReader(open("data/elec_equip.csv")))
with open("panel.csv", "w") as f:
    f.write("region,month,turnover\n")
    for r in rows:
        f.write("north,%s,%s\n" % (r["month"], r["turnover"]))
        f.write("south,%s,%.2f\n" % (r["month"], 0.6 * float(r["turnover"]) + 5))
with open("panel_h.csv", "w") as f:
    f.write("region,h\n")
    for reg in ("south", "north"):
        for h in range(1, 7):
            f.write("%s,%d\n" % (reg, h))
P
cat > panel.yaml <<'Y'
name: panel
steps:
  ingest:
    uses: ingest.csv
    with: { path: panel.csv }
  forecast:
    uses: train.forecast
    inputs: { train: ingest.data }
    with: { target: turnover, time: month, by: region, horizon: 6, method: seasonal_naive }
  package:
    uses: package
    inputs: { model: forecast.model }
    with: { name: panel }
Y
sl run panel.yaml --json > panel_run.json 2>/dev/null
[ "$(js "d['status']" < panel_run.json)" = completed ] || fail "panel run: $(cat panel_run.json)"
sl artifacts export "$(js "next(s['outputs']['bundle'] for s in d['steps'] if s['name']=='package')" < panel_run.json)" -o panel.bundle
sl predict panel.bundle -i panel_h.csv -o panel_next.csv

start_server "$T/serve.err" --no-auth --model sales --model panel=panel.bundle --drift-interval 1
at_exit '[ "$LIB_RC" = 0 ] || cat "$T/serve.err" >&2'
infer() { req POST "/v2/models/$1/infer" -H 'Content-Type: application/json' -d "$2"; }

# The metadata: no input to send for one series, the outputs, the horizon.
check() { "$PY" -c "import json,sys; d=json.load(sys.stdin); $1"; }
req GET /v2/models/sales
echo "$BODY" | check "assert d['inputs'] == [] and d['parameters']['horizon'] == 18, d
assert [o['name'] for o in d['outputs']] == ['predict', 'lower_80', 'upper_80', 'lower_95', 'upper_95', 'time'], d"
req GET /v2/models/panel
echo "$BODY" | check "assert [i['name'] for i in d['inputs']] == ['region'] and d['outputs'][0]['shape'] == [-1, -1], d"

# The served forecast is the bundle's, to the last bit, and nested; with a
# shorter horizon, its first months.
infer sales '{"id": "w1"}'
[ "$CODE" = 200 ] || fail "infer: $CODE $BODY"
echo "$BODY" > full.json
RID=$(printf '%s' "$HDRS" | tr -d '\r' | sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p')
infer sales '{"parameters": {"horizon": 6}, "outputs": [{"name": "predict"}, {"name": "time"}]}'
[ "$CODE" = 200 ] || fail "infer horizon 6: $CODE $BODY"
echo "$BODY" > six.json
"$PY" - full.json six.json next.csv <<'P'
import csv, json, sys
full, six = (json.load(open(f)) for f in sys.argv[1:3])
rows = list(csv.DictReader(open(sys.argv[3])))
assert full["id"] == "w1" and full["model_version"] == "1" and full["parameters"] == {"horizon": 18}, full
o = {x["name"]: x for x in full["outputs"]}
for name, col in (("predict", "forecast"), ("lower_80", "lo80"), ("upper_80", "hi80"),
                  ("lower_95", "lo95"), ("upper_95", "hi95")):
    assert o[name]["datatype"] == "FP64" and o[name]["shape"] == [18], o[name]
    assert o[name]["data"] == [float(r[col]) for r in rows], (name, o[name]["data"], [r[col] for r in rows])
assert o["time"]["datatype"] == "BYTES" and o["time"]["data"][0] == "2014-12-01T00:00:00Z", o["time"]
assert o["time"]["data"][-1] == "2016-05-01T00:00:00Z", o["time"]
for i in range(18):
    lo95, lo80, f, hi80, hi95 = (o[k]["data"][i] for k in ("lower_95", "lower_80", "predict", "upper_80", "upper_95"))
    assert lo95 < lo80 < f < hi80 < hi95, (i, lo95, lo80, f, hi80, hi95)
s = {x["name"]: x for x in six["outputs"]}
assert set(s) == {"predict", "time"} and s["predict"]["shape"] == [6], six
assert s["predict"]["data"] == o["predict"]["data"][:6] and s["time"]["data"] == o["time"]["data"][:6], six
P

# The inference log holds the forecast as its rows: h = 1..18 and what was answered.
sl logs --id "$RID" --json > logged.json
"$PY" - logged.json full.json <<'P'
import json, sys
rec = json.load(open(sys.argv[1]))[0]
full = {x["name"]: x["data"] for x in json.load(open(sys.argv[2]))["outputs"]}
assert rec["rows"] == 18 and rec["inputs"]["h"] == list(range(1, 19)), rec
assert rec["outputs"]["forecast"] == full["predict"] and rec["outputs"]["hi95"] == full["upper_95"], rec
P

# A panel: [series, h] in the order asked, equal to its bundle's forecast.
infer panel '{"parameters": {"horizon": 6}, "inputs": [{"name": "region", "shape": [2], "datatype": "BYTES", "data": ["south", "north"]}]}'
[ "$CODE" = 200 ] || fail "panel infer: $CODE $BODY"
echo "$BODY" > panel.json
"$PY" - panel.json panel_next.csv <<'P'
import csv, json, sys
d = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
o = {x["name"]: x for x in d["outputs"]}
assert o["predict"]["shape"] == [2, 6] and o["time"]["shape"] == [2, 6], d
assert o["predict"]["data"] == [float(r["forecast"]) for r in rows], (o["predict"]["data"], rows)
assert o["upper_95"]["data"] == [float(r["hi95"]) for r in rows], o["upper_95"]
assert o["time"]["data"][0] == o["time"]["data"][6] == "2016-06-01T00:00:00Z", o["time"]
# The two series differ (south is not north repeated).
assert o["predict"]["data"][:6] != o["predict"]["data"][6:], o["predict"]
P

# Bad requests: 400 naming the field; the server goes on.
bad() {
	infer "$1" "$2"
	[ "$CODE" = 400 ] || fail "expected 400 for $2, got $CODE: $BODY"
	contains "$BODY" "$3"
}
bad sales '{"parameters": {"horizon": 19}}' "parameters.horizon: 19 steps is beyond the model's horizon of 18"
bad sales '{"parameters": {"horizon": 0}}' "parameters.horizon must be a whole number"
bad sales '{"parameters": {"horizon": 2.5}}' "parameters.horizon must be a whole number"
bad sales '{"inputs": [{"name": "h", "shape": [1], "datatype": "INT64", "data": [3]}]}' "inputs[0] 'h': a forecaster is asked"
bad sales '{"inputs": [{"name": "region", "shape": [1], "datatype": "BYTES", "data": ["x"]}]}' "inputs[0] 'region' is not a key column of the forecaster (it forecasts one series"
bad panel '{"inputs": [{"name": "region", "shape": [2], "datatype": "BYTES", "data": ["north", "east"]}]}' "row 1: input 'region' = \\\"east\\\" names no series of the model (it forecasts 2"
bad panel '{}' "missing input 'region'"
still_serving

# Feedback: one actual per month of a served forecast.
ACT=$("$PY" -c "
import csv
print([float(r['turnover']) for r in csv.DictReader(open('data/elec_equip.csv')) if r['month'] > '2014-11-01'])")
feedback() { req POST /v2/models/sales/feedback -H 'Content-Type: application/json' -d "$1"; }
infer sales '{}'
ID1=$(printf '%s' "$HDRS" | tr -d '\r' | sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p')
feedback "{\"request_ids\": [\"$ID1\"], \"labels\": [[1, 2]]}"
[ "$CODE" = 400 ] || fail "two labels for 18 months: $CODE $BODY"
contains "$BODY" "has 2 labels, request '$ID1' had 18 rows"
# Six months published so far: null for the others.
feedback "{\"request_ids\": [\"$ID1\"], \"labels\": [$("$PY" -c "import json; a = $ACT; print(json.dumps(a[:6] + [None] * 12))")]}"
[ "$CODE" = 200 ] || fail "feedback of six months: $CODE $BODY"
[ "$(sl monitor report --model sales --json | js "d['live']['labelled'], d['live']['scored']")" = "6 6" ] ||
	fail "six months fed back: $(sl monitor report --model sales --json)"
feedback "{\"request_ids\": [\"$ID1\"], \"labels\": [$ACT]}"
[ "$CODE" = 200 ] || fail "feedback: $CODE $BODY"

# Before the shift: the live MASE over the published months is the offline
# evaluation's on the same months, to rounding.
sl monitor report --model sales --json > before.json
"$PY" - before.json v1_report.json <<'P'
import json, sys
live = json.load(open(sys.argv[1]))["live"]
m = json.load(open(sys.argv[2]))["metrics"]
assert live["labelled"] == 18 and live["scored"] == 18, live
for k in ("mase", "wape", "coverage80", "coverage95"):
    assert abs(live[k] - m[k]) < 1e-9, (k, live[k], m[k])
assert live["mase"] < 0.8, live
P

# The demand shift. The scenario's months after training are derived from
# the real ones: the published index from 2014-12 on multiplied by 1.3, a
# 30% level shift (not an observed event). The publication job sends them
# as feedback on the planners' forecasts (correcting the first one) and
# appends them to the data the retraining reads.
SHIFT=$("$PY" -c "print([round(1.3 * x, 2) for x in $ACT])")
IDS="\"$ID1\""
for i in 1 2 3; do
	infer sales '{}'
	IDS="$IDS, \"$(printf '%s' "$HDRS" | tr -d '\r' | sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p')\""
done
feedback "{\"request_ids\": [$IDS], \"labels\": [$SHIFT, $SHIFT, $SHIFT, $SHIFT]}"
[ "$CODE" = 200 ] || fail "feedback: $CODE $BODY"
contains "$BODY" '"accepted":4'
"$PY" - <<'P'
import csv
rows = list(csv.DictReader(open("data/elec_equip.csv")))
with open("data/elec_equip.csv", "w") as f:
    f.write("month,turnover\n")
    for r in rows:
        v = float(r["turnover"])
        f.write("%s,%s\n" % (r["month"], round(1.3 * v, 2) if r["month"] > "2014-11-01" else r["turnover"]))
P
sl monitor report --model sales --json > after.json
MASE_AFTER=$(js "d['live']['mase']" < after.json)
"$PY" -c "assert $MASE_AFTER > 2, $MASE_AFTER" || fail "live MASE after the shift: $(cat after.json)"
# /metrics carries it from the server's own evaluation of the window.
for i in $(seq 100); do
	req GET /metrics
	case "$BODY" in *'sluice_monitor_live_metric{model="sales",version="1",metric="mase"} '[2-9]*) break ;; esac
	sleep 0.1
done
printf '%s\n' "$BODY" | grep -q '^sluice_monitor_live_metric{model="sales",version="1",metric="mase"} [2-9]' ||
	fail "no live MASE in /metrics: $(printf '%s\n' "$BODY" | grep sales | grep live)"

# One evaluation of the loop: decay above the canvas's bound, retraining on
# the published months, the new version promoted.
sl monitor watch --model sales --once --json > watch.out
sl monitor events --json > events.json
"$PY" - events.json <<'P'
import json, sys
ev = json.load(open(sys.argv[1]))
kinds = [e["kind"] for e in ev]
assert "promoted" in kinds, kinds
tr = next(e for e in ev if e["kind"] == "trigger")
assert tr["detail"]["triggers"] == "decay", tr
d = tr["detail"]["evidence"]["decay"]
assert d["metric"] == "mase" and d["value"] > 2 and d["max"] == 0.8, d
pr = next(e for e in ev if e["kind"] == "promoted")
assert pr["detail"]["from"] == "1" and pr["detail"]["to"] == 2, pr
P
sl models show sales --json > model.json
"$PY" - model.json <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["aliases"]["production"] == 2, d["aliases"]
v2 = next(v for v in d["versions"] if v["version"] == 2)
assert v2["verdict"] == "passed" and v2["metrics"]["mase"] < 0.8 and v2["metrics"]["rows"] == 12, v2
P
# Judged on the last 12 published (shifted) months, it beats seasonal naive.
sl runs show "$(js "next(e['run'] for e in d if e['kind'] == 'promoted')" < events.json)" --json |
	check "m = next(s['metrics'] for s in d['steps'] if s['name'] == 'evaluate'); \
assert m['mase'] < 0.5 * m['baseline_mase'], m"
# The server follows the alias: v2 forecasts from the end of its training months.
for i in $(seq 100); do
	infer sales '{"parameters": {"horizon": 1}}'
	case "$BODY" in *'"model_version":"2"'*) break ;; esac
	sleep 0.1
done
contains "$BODY" '"model_version":"2"'
contains "$BODY" '"data":["2015-06-01T00:00:00Z"]'
echo ok
