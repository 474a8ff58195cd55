# sluice canvas check and report: what each block drives, every problem at
# FILE:LINE:COL with exit status 2, warnings for what the pipelines need
# (placed in the pipeline file), the retraining pipeline checked, a canvas
# outside the project, and report's refusals.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

# The blank canvas init wrote: valid, five blocks that drive something, nothing set yet.
sl canvas check > out.txt
grep -q "canvas.yaml is valid" out.txt || fail "check: $(cat out.txt)"
for b in offline_evaluation decisions making_predictions building_models live_monitoring; do
	grep -q "^  $b " out.txt || fail "check does not show $b"
done
grep -q -- "-> test: a model that misses the minimum fails its gate" out.txt || fail "drives test"
grep -q "monitor watch" out.txt || fail "drives monitor watch"
grep -q "^Left empty: value_proposition" out.txt || fail "empty descriptive blocks"
sl canvas check --json > c.json
[ "$(js "[x['block'] for x in d['drives'] if x['set']]" < c.json)" = "['live_monitoring']" ] ||
	fail "blank: set blocks $(js "d['drives']" < c.json)"
[ "$(js "d['canvas']['live_monitoring']['window']['value']" < c.json)" = 1000.0 ] || fail "window"

# A filled canvas: the summaries say what was written.
cat > canvas.yaml <<'Y'
offline_evaluation: {metric: rmse, min: 12.5}
decisions: {cost: {over: 2, under: 7}, value: 20}
making_predictions: {latency_p99_ms: 50}
building_models:
  pipeline: retrain.yaml
  retrain_on: [decay, cadence]
  cadence: '@weekly'
live_monitoring:
  window: 200
  alert: [{metric: latency_p99_ms, above: 50, for: 3}]
Y
cat > retrain.yaml <<'Y'
name: retrain
steps:
  a: { run: "echo hi > ${outputs.out}", outputs: [out] }
Y
out=$(sl canvas check | tr -s ' \n' ' ') # lines are wrapped for the terminal
contains "$out" "rmse at most 12.5 (lower is better)"
contains "$out" "2 per unit over, 7 per unit under; 20 per correct decision"
contains "$out" "p99 latency at most 50 ms"
contains "$out" "retrain with retrain.yaml on decay and cadence; cadence '@weekly', next"
contains "$out" "windows of 200 requests"
sl canvas check --json > c.json
# The next firings are Sundays at midnight, UTC, in order.
"$PY" - c.json <<'P'
import json, sys, datetime
d = json.load(open(sys.argv[1]))
nxt = d["canvas"]["building_models"]["cadence"]["next"]
assert len(nxt) == 3, nxt
ts = [datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ") for t in nxt]
assert all(t.weekday() == 6 and t.hour == 0 and t.minute == 0 for t in ts), nxt
assert ts[0] > datetime.datetime.utcnow() and ts[1] - ts[0] == datetime.timedelta(days=7), nxt
assert d["canvas"]["offline_evaluation"]["min"] == {"value": 12.5, "given": True, "line": 1, "col": 41}, d["canvas"]["offline_evaluation"]["min"]
P

# Problems: all of them, each at its place, exit 2; --json says the same.
cat > canvas.yaml <<'Y'
offline_evaluation:
  metric: roc_acu
decisions:
  cost: [[0, 1], [5]]
building_models:
  cadence: '0 3 * * 8'
monitoring: {}
Y
expect_exit 2 sl canvas check
contains "$ERR" "canvas.yaml:2:11: offline_evaluation.metric: unknown metric 'roc_acu' (did you mean 'roc_auc'?)"
contains "$ERR" "canvas.yaml:4:18: decisions.cost[1]: a 2 x 2 matrix needs 2 costs in each row"
contains "$ERR" "canvas.yaml:6:21: building_models.cadence: the day-of-week field takes 0-7"
contains "$ERR" "canvas.yaml:7:1: unknown block 'monitoring': write it as 'live_monitoring'"
contains "$ERR" "canvas.yaml is not valid: 4 problems"
[ -z "$OUT" ] || fail "an invalid canvas printed to stdout: $OUT"
expect_exit 2 sl canvas check --json
[ "$(printf '%s' "$OUT" | js "d['valid'], [(e['line'], e['col']) for e in d['errors']]")" = \
  "False [(2, 11), (4, 18), (6, 21), (7, 1)]" ] || fail "check --json: $OUT"
printf 'a: [\n' > canvas.yaml
expect_exit 2 sl canvas check
contains "$ERR" "canvas.yaml:2:1: invalid YAML"

# Warnings: what the project's pipelines need and the canvas leaves empty,
# placed at the step in its pipeline file (found in subfolders too).
cat > canvas.yaml <<'Y'
building_models:
  retrain_on: [cadence]
Y
mkdir -p pipelines
cat > pipelines/train.yaml <<'Y'
name: train
steps:
  score:
    uses: evaluate
    inputs: { model: fit.model, test: split.test }
  gate:
    uses: test
    inputs: { report: score.report }
  keep:
    uses: register
    inputs: { bundle: pack.bundle }
Y
cat > pipelines/priced.yaml <<'Y'
name: priced
steps:
  score:
    uses: evaluate
    inputs: { model: fit.model, test: split.test }
    with: { cost: { over: 1, under: 2 }, value: 3, metric: rmse }
Y
echo 'not: [a pipeline' > pipelines/broken.yaml
sl canvas check > out.txt || fail "warnings are not errors"
grep -q "canvas.yaml is valid (8 warnings)" out.txt || fail "warning count: $(cat out.txt)"
grep -q "pipelines/train.yaml:3:3: step 'score' (evaluate) has no cost and the canvas's decisions.cost is empty" out.txt || fail "evaluate cost warning"
grep -q "pipelines/train.yaml:3:3: step 'score' (evaluate) has no value" out.txt || fail "evaluate value warning"
grep -q "pipelines/train.yaml:3:3: step 'score' (evaluate) has no metric" out.txt || fail "evaluate metric warning"
grep -q "pipelines/train.yaml:6:3: step 'gate' (test) has no rules" out.txt || fail "test warning"
grep -q "canvas.yaml:2:15: building_models.retrain_on lists triggers but building_models.pipeline is empty" out.txt || fail "retrain pipeline warning"
grep -q "lists cadence but building_models.cadence is empty" out.txt || fail "cadence warning"
grep -q "registers models but making_predictions.latency_p99_ms is empty" out.txt || fail "latency warning"
grep -q "registers models but live_monitoring is empty" out.txt || fail "monitoring warning"
not_contains "$(cat out.txt)" "priced.yaml:"
grep -q "^Pipelines: pipelines/priced.yaml, pipelines/train.yaml, retrain.yaml$" out.txt || fail "pipelines found: $(grep Pipelines out.txt)"

# The retraining pipeline must exist and parse.
printf 'building_models:\n  pipeline: nope.yaml\n' > canvas.yaml
expect_exit 2 sl canvas check
contains "$ERR" "canvas.yaml:2:13: building_models.pipeline: there is no file 'nope.yaml'"
printf 'building_models:\n  pipeline: bad.yaml\n' > canvas.yaml
printf 'name: bad\nsteps:\n  a:\n    uses: ingest.csvv\n' > bad.yaml
expect_exit 2 sl canvas check
contains "$ERR" "canvas.yaml:2:13: building_models.pipeline does not parse: bad.yaml:4:11:"

# A canvas named on the command line, from outside any project.
mkdir -p elsewhere/sub && printf 'decisions: {value: 2}\n' > elsewhere/sub/c.yaml
(cd / && "$SLUICE" canvas check "$T/elsewhere/sub/c.yaml" >/dev/null) || fail "check FILE outside a project"
(cd elsewhere && sl canvas check sub/c.yaml | grep -q "^sub/c.yaml is valid") || fail "FILE shown as given"
expect_exit 2 sl canvas check nosuch.yaml
contains "$ERR" "no such file"

# report: nothing evaluated yet; usage errors.
printf 'decisions: {value: 2}\n' > canvas.yaml
expect_exit 2 sl canvas report
contains "$ERR" "no evaluate step has completed in this project yet"
expect_exit 2 sl canvas
expect_exit 2 sl canvas chekc
contains "$ERR" "did you mean 'check'"
expect_exit 2 sl canvas check --run latest
expect_exit 2 sl canvas report extra
sl help canvas | grep -q "usage: sluice canvas check" || fail "help canvas"
sl canvas --help | grep -q "canvas report" || fail "canvas --help"

# report on real evaluations: the spam template with a model, evaluated
# twice: with the canvas's costs at a threshold that respects them (a lost
# mail costs 20 times a missed spam), and with costs that make every false
# alarm ruinous. The first is worth it, the second is not.
sl init spam --template spam >/dev/null
cd spam
cat >> train.yaml <<'Y'

  model:
    uses: train.logistic
    inputs: { train: features.data, valid: features_valid.data }
    with: { target: label }
  score:
    uses: evaluate
    inputs: { model: model.model, test: features_test.data }
    with: { importance: false, threshold: 0.9 }
  score_strict:
    uses: evaluate
    inputs: { model: model.model, test: features_test.data }
    with: { importance: false, cost: { false_positive: 1000, false_negative: 0.001 } }
Y
sl run -q train.yaml || fail "the spam pipeline with evaluate"
sl canvas report --json > r.json
"$PY" - r.json <<'P'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["canvas"] == "canvas.yaml" and r["pipeline"] == "spam-train", r
ev = {e["step"]: e for e in r["evaluations"]}
assert sorted(ev) == ["score", "score_strict"], list(ev)
e = ev["score"]
assert e["algorithm"] == "logistic" and e["task"] == "binary" and e["rows"] == 690, e
assert e["metric"]["name"] == "roc_auc" and e["metric"]["model"] > e["metric"]["baseline"], e["metric"]
assert e["minimum"]["metric"] == "roc_auc" and e["minimum"]["value"] == 0.95 and e["minimum"]["met"], e["minimum"]
c = e["cost"]
assert c["source"] == "canvas" and c["model"] < c["baseline"], c
assert abs(c["saving_vs_baseline"] - (c["baseline"] - c["model"])) < 1e-12, c
v = e["value"]
assert v["source"] == "canvas" and v["per_correct_decision"] == 1, v
# net = value x accuracy - cost, with the report's own accuracy.
assert abs(v["model"]["net_per_decision"] - (v["model"]["correct_share"] - c["model"])) < 1e-12, v
assert e["worth_it"] is True and e["basis"] == "net", e
assert "ML is worth it" in e["statement"], e["statement"]
s = ev["score_strict"]
assert s["cost"]["source"] == "with" and s["worth_it"] is False, s
assert "ML is not worth it yet" in s["statement"], s["statement"]
assert any("its own cost" in n for n in s["notes"]), s["notes"]
assert r["best"] == "score", r["best"]
P
out=$(sl canvas report --step score_strict | tr -s ' \n' ' ')
contains "$out" "score_strict (logistic, binary, 690 rows"
contains "$out" "worth it no"
not_contains "$out" "score (logistic"
run=$(sl runs show latest --json | js "d['run']")
sl canvas report --run "${run:0:8}" | grep -q "^best: score$" || fail "report --run"
expect_exit 2 sl canvas report --step nosuch
contains "$ERR" "has no completed evaluate step 'nosuch'"
# A broken canvas stops the report at its place.
printf 'decisions: {value: x}\n' > canvas.yaml
expect_exit 2 sl canvas report
contains "$ERR" "canvas.yaml:1:20: decisions.value must be a number"
echo ok
