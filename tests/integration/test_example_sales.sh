# The sales example (examples/sales) end to end: the last 18 months held
# out; auto's forecast evaluated beside seasonal naive with the canvas's
# over/under costs, gated by the canvas, packaged and registered as
# sales@production. Asserted: the forecast beats seasonal naive on the
# held-out months (MASE and cost), as do the ETS and GBDT-on-lags
# candidates, auto weighed every method, the seasonal_naive candidate is the
# report's baseline exactly, the registered bundle forecasts the next 18
# months with nested intervals, ETS forecasting the quantile of least cost
# (point: cost) costs less than ETS's own forecast, and a deliberately bad
# method (naive, by a parameter) is blocked by the gate naming the canvas's
# rule.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

cp -r "$SRC/examples/sales/." .
sl run forecast.yaml --json > run.json 2>/dev/null
[ "$(js "d['status']" < run.json)" = completed ] || fail "example run: $(cat run.json)"
out() { js "next(s['outputs']['$2'] for s in d['steps'] if s['name']=='$1')" < run.json; }

for s in evaluate eval_seasonal_naive eval_ets eval_gbdt eval_ets_cost; do
	sl artifacts export "$(out $s report)" -o $s.json
done
# The costs shape the forecast: ETS with point: cost forecasts the 7/9
# quantile (under 7, over 2) of the same predictive distribution, above ETS's
# own forecast within its 80% band, intervals unchanged; on the held-out
# months it costs less.
for s in ets ets_cost; do
	sl artifacts export "$(out $s model)" -o $s.slm
	sl predict $s.slm -i data/horizon.csv -o $s.csv
done
"$PY" - eval_ets.json eval_ets_cost.json ets.csv ets_cost.csv <<'P'
import csv, json, sys
mean, cost = (json.load(open(f)) for f in sys.argv[1:3])
a, b = (list(csv.DictReader(open(f))) for f in sys.argv[3:5])
for r, q in zip(a, b):
    assert [r[k] for k in ("lo80", "hi80", "lo95", "hi95")] == [q[k] for k in ("lo80", "hi80", "lo95", "hi95")], (r, q)
    f, fc, hi80 = float(r["forecast"]), float(q["forecast"]), float(r["hi80"])
    # z(7/9) / z(0.9) of the way from the forecast to the 80% upper bound.
    assert abs(fc - (f + 0.7647096737 / 1.2815515655 * (hi80 - f))) < 1e-6 * abs(f), (f, fc, hi80)
assert cost["cost"]["model"]["per_row"] < 0.5 * mean["cost"]["model"]["per_row"], (cost["cost"], mean["cost"])
P
"$PY" - evaluate.json eval_seasonal_naive.json eval_ets.json eval_gbdt.json <<'P'
import json, sys
auto, snaive, ets, gbdt = (json.load(open(f)) for f in sys.argv[1:5])
m, b = auto["metrics"], auto["baseline"]
assert auto["rows"] == 18 and auto["main_metric"]["name"] == "mase", auto["main_metric"]
assert auto["forecast"]["baseline"]["method"] == "seasonal_naive", auto["forecast"]["baseline"]
# The forecast beats seasonal naive on the held-out months, in MASE and in
# what its errors cost (overstock 2, understock 7 per index point).
assert m["mase"] < 0.9 * b["mase"], (m["mase"], b["mase"])
assert m["mase"] <= 0.8, m["mase"]
c = auto["cost"]
assert c["source"] == "canvas" and c["kind"] == "over_under" and (c["over"], c["under"]) == (2, 7), c
assert c["model"]["per_row"] < c["baseline"]["per_row"], c
assert auto["assessment"]["worth_deploying"] is True, auto["assessment"]
# The seasonal_naive candidate is the report's baseline, to the digit; ETS
# beats it too.
assert abs(snaive["metrics"]["mase"] - b["mase"]) < 1e-12, (snaive["metrics"]["mase"], b["mase"])
assert ets["metrics"]["mase"] < snaive["metrics"]["mase"], (ets["metrics"]["mase"], snaive["metrics"]["mase"])
# GBDT on lags, scored on the same 18 months, beats seasonal naive as well.
assert gbdt["model"]["algorithm"] == "forecast" and gbdt["rows"] == 18, gbdt["model"]
assert gbdt["metrics"]["mase"] < snaive["metrics"]["mase"], (gbdt["metrics"]["mase"], snaive["metrics"]["mase"])
P
# auto weighed every candidate, gbdt among them, on the training months only.
for m in seasonal_naive theta ets gbdt; do
	[ "$(js "next(s['metrics'].get('auto_mase_$m') for s in d['steps'] if s['name']=='forecast')" < run.json)" != None ] ||
		fail "auto did not score $m"
done

# Gated by the canvas (MASE bound and latency timed on the 18-month request),
# registered in production.
sl artifacts export "$(out gate verdict)" -o verdict.json
[ "$(js "d['verdict'], sorted(r['measure'] for r in d['rules'])" < verdict.json)" = \
	"passed ['latency_p99_us', 'mase']" ] || fail "verdict: $(cat verdict.json)"
sl models show sales --json > model.json
[ "$(js "d['aliases']['production'], d['versions'][0]['verdict'], d['versions'][0]['algorithm']" < model.json)" = \
	"1 passed forecast" ] || fail "registry: $(cat model.json)"

# The registered bundle answers the planners' request: 18 months, intervals nested.
sl artifacts export "$(out package bundle)" -o sales.bundle
sl predict sales.bundle -i data/horizon.csv -o next.csv
"$PY" - next.csv <<'P'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [int(r["h"]) for r in rows] == list(range(1, 19)), [r["h"] for r in rows]
for r in rows:
    lo95, lo80, f, hi80, hi95 = (float(r[k]) for k in ("lo95", "lo80", "forecast", "hi80", "hi95"))
    assert lo95 <= lo80 <= f <= hi80 <= hi95 and 40 < f < 200, r
P

# A bad model (the naive forecast, chosen by a parameter) is blocked by the
# canvas's gate: exit 1, the rule named; production stays.
expect_exit 1 sl run forecast.yaml -p method=naive
contains "$ERR" "step 'gate' failed its gate: 1 of 2 checks failed: mase = "
contains "$ERR" "above the maximum 0.8 (offline_evaluation.min at canvas.yaml:"
[ "$(step_status register)" = skipped ] || fail "register must be skipped after a failed gate"
[ "$(sl models show sales --json | js "d['aliases']['production'], len(d['versions'])")" = "1 1" ] ||
	fail "a blocked model changed the registry"
echo ok
