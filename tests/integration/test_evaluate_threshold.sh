# evaluate's `threshold: cost`: the threshold of least cost is chosen on the
# valid rows (exactly the one a plain evaluation of those rows names as the
# cheapest) and every number of the test report is at it; without valid it
# is chosen on the test rows, the report says so, and the report's cost is
# then the cheapest one; the choice is refused without a cost, for a
# regressor, and a misspelt value is an error at its place in the file.
. "$(dirname "$0")/lib.sh"

# Overlapping classes (P(label) = sigmoid(2x)), so the threshold matters.
"$PY" - <<'P'
import math, random
random.seed(3)
with open("data.csv", "w") as f:
    f.write("x,y,label\n")
    for i in range(1200):
        x, y = random.gauss(0, 1), random.random()
        f.write("%.4f,%.4f,%d\n" % (x, y, random.random() < 1 / (1 + math.exp(-2 * x))))
P
cat > t.yaml <<'Y'
name: thr
steps:
  ingest: { uses: ingest.csv, with: { path: data.csv } }
  split:
    uses: split
    inputs: { data: ingest.data }
    with: { method: stratified, by: label, fractions: [0.5, 0.25, 0.25], seed: 1 }
  train:
    uses: train.logistic
    inputs: { train: split.train }
    with: { target: label }
  on_valid:
    uses: evaluate
    inputs: { model: train.model, test: split.valid }
    with: { importance: false, cost: { false_positive: 9, false_negative: 1 } }
  chosen:
    uses: evaluate
    inputs: { model: train.model, test: split.test, valid: split.valid }
    with: { importance: false, cost: { false_positive: 9, false_negative: 1 }, threshold: cost }
  on_test:
    uses: evaluate
    inputs: { model: train.model, test: split.test }
    with: { importance: false, cost: { false_positive: 9, false_negative: 1 }, threshold: cost }
Y
sl run t.yaml --json > run.json 2>/dev/null || fail "run: $(cat run.json)"
out() { js "next(s['outputs']['$2'] for s in d['steps'] if s['name']=='$1')" < run.json; }
for s in on_valid chosen on_test; do sl artifacts export "$(out $s report)" -o $s.json; done
"$PY" - on_valid.json chosen.json on_test.json <<'P'
import json, sys
v, c, t = (json.load(open(f)) for f in sys.argv[1:4])
best = v["cost"]["threshold"]["threshold"]
assert best is not None and best > 0.5, best     # a false positive costs 9 false negatives
ch = c["model"]["threshold_choice"]
assert ch["rows"] == "valid" and ch["n"] == v["rows"] and "note" not in ch, ch
assert c["model"]["threshold"] == ch["threshold"] == best, (c["model"]["threshold"], best)
assert abs(ch["cost_per_row"] - v["cost"]["threshold"]["cost_per_row"]) < 1e-12, ch
assert abs(ch["bayes_threshold"] - 0.9) < 1e-12, ch
# The test rows' confusion matrix is at that threshold.
assert c["cost"]["model"]["per_row"] >= c["cost"]["threshold"]["cost_per_row"] - 1e-12, c["cost"]
# Chosen on the test rows themselves: the cheapest cost there, and said so.
tc = t["model"]["threshold_choice"]
assert tc["rows"] == "test" and "flatters" in tc["note"], tc
assert abs(t["metrics"]["cost"] - t["cost"]["threshold"]["cost_per_row"]) < 1e-12, (t["metrics"]["cost"], t["cost"]["threshold"])
P
[ "$(js "next(s['metrics']['threshold'] for s in d['steps'] if s['name']=='chosen')" < run.json)" = \
	"$(js "next(s['metrics']['cost_optimal_threshold'] for s in d['steps'] if s['name']=='on_valid')" < run.json)" ] ||
	fail "the chosen step's threshold metric"
sl artifacts export "$(out chosen report)" --format html -o chosen.html
grep -q "Decision threshold" chosen.html || fail "the page does not state the threshold"

# No cost anywhere (the project's canvas gives none): refused, saying where to put one.
sed -i 's/with: { importance: false, cost: { false_positive: 9, false_negative: 1 }, threshold: cost }/with: { importance: false, threshold: cost }/' t.yaml
expect_exit 1 sl run t.yaml
contains "$(sl runs show latest)" "threshold: cost needs the costs of mistakes: give \`cost:\` or fill in decisions.cost in canvas.yaml"

# A regressor has no threshold.
cat > r.yaml <<'Y'
name: reg
steps:
  ingest: { uses: ingest.csv, with: { path: data.csv } }
  train:
    uses: train.linear
    inputs: { train: ingest.data }
    with: { target: x, exclude: [label] }
  evaluate:
    uses: evaluate
    inputs: { model: train.model, test: ingest.data }
    with: { importance: false, cost: { over: 1, under: 2 }, threshold: cost }
Y
expect_exit 1 sl run r.yaml
contains "$(sl runs show latest)" "threshold: cost applies to binary classifiers; this model's task is regression"

# A misspelt value is refused before anything runs, at its place.
sed -i 's/threshold: cost }/threshold: costs }/' r.yaml
expect_exit 2 sl run r.yaml
contains "$ERR" "r.yaml:11:72: option 'threshold' of evaluate must be one of cost, not 'costs' (did you mean 'cost'?)"
sed -i 's/threshold: costs }/threshold: 1.5 }/' r.yaml
expect_exit 2 sl run r.yaml
contains "$ERR" "r.yaml:11:72:"
echo ok
