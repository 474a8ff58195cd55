# ingest -> split -> train.iforest -> evaluate, through the real binary: the
# business cost comes from the project's canvas.yaml, the report's metrics
# are the step's metrics in `runs show`, the report exports as a
# self-contained HTML page, a rerun writes the same report, and a bad option
# fails the step naming the column while nothing downstream is written.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

"$PY" - <<'P'
import random
random.seed(4)
with open("tx.csv", "w") as f:
    f.write("id,amount,minutes,city,is_fraud\n")
    for i in range(800):
        fraud = i % 40 == 7
        amount = random.gauss(900, 50) if fraud else random.gauss(60, 15)
        minutes = random.gauss(2, 1) if fraud else random.gauss(30, 8)
        city = ("north", "south", "<east>")[i % 3]
        f.write(f"{i},{amount:.2f},{minutes:.2f},{city},{'yes' if fraud else 'no'}\n")
P

cat > canvas.yaml <<'Y'
decisions:
  cost: { false_positive: 2, false_negative: 50 }
  value: 5
offline_evaluation:
  metric: pr_auc
  min: 0.6
Y

cat > fraud.yaml <<'Y'
name: fraud
steps:
  ingest:
    uses: ingest.csv
    with: { path: tx.csv }
  split:
    uses: split
    inputs: { data: ingest.data }
    with: { method: stratified, by: is_fraud, fractions: [0.6, 0.4], seed: 1 }
  detect:
    uses: train.iforest
    inputs: { train: split.train }
    with: { trees: 100, contamination: 0.025, exclude: [id, is_fraud, city], seed: 3 }
  evaluate:
    uses: evaluate
    inputs: { model: detect.model, test: split.test }
    with: { target: is_fraud, positive: "yes", sensitive: [city], repeats: 3 }
Y

sl run fraud.yaml --json > run.json 2>/dev/null || fail "run: $(cat run.json)"
[ "$(js "d['status']" < run.json)" = completed ] || fail "run: $(cat run.json)"
out() { js "next(s['outputs']['$2'] for s in d['steps'] if s['name']=='$1')" < run.json; }

# The report's numbers are the step's metrics; the detector finds the fraud.
sl runs show latest --json > show.json
"$PY" - show.json <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
m = next(s for s in d["steps"] if s["name"] == "evaluate")["metrics"]
assert m["roc_auc"] > 0.95, m
assert m["pr_auc"] > 0.6, m
assert abs(m["baseline_roc_auc"] - 0.5) < 1e-12, m
assert "cost" in m and "baseline_cost" in m and m["cost"] < m["baseline_cost"], m
assert "fairness_demographic_parity_difference" in m, m
P
report=$(out evaluate report)
sl artifacts export "$report" -o report.json
"$PY" - report.json <<'P'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["kind"] == "evaluation_report", r["kind"]
assert r["main_metric"] == {"name": "pr_auc", "source": "canvas", "higher_is_better": True}, r["main_metric"]
assert r["cost"]["source"] == "canvas" and r["cost"]["threshold"]["threshold"] is not None, r["cost"]
assert r["assessment"]["worth_deploying"] is True, r["assessment"]
assert [g["group"] for g in r["fairness"]["columns"][0]["groups"]] == ["<east>", "north", "south"]
assert [f["name"] for f in r["importance"]["features"]][0] in ("amount", "minutes")
assert "beats the baseline on pr_auc" in r["verdict_hint"], r["verdict_hint"]
P

# The page: charts, no script, no URL, the group label escaped.
sl artifacts export "$report" --format html -o report.html
html=$(cat report.html)
contains "$html" "<svg"
contains "$html" "&lt;east&gt;"
not_contains "$html" "<script"
not_contains "$html" "http"
expect_exit 2 sl artifacts export "$report" --format pdf -o x.pdf
expect_exit 2 sl artifacts export "$(out split test)" --format html -o x.html
contains "$ERR" "applies to evaluation reports"

# A rerun: evaluate runs again (it reads the canvas, outside the cache key)
# and writes the same report, byte for byte.
sl run fraud.yaml --json > run2.json 2>/dev/null
[ "$(js "next(s['outputs']['report'] for s in d['steps'] if s['name']=='evaluate')" < run2.json)" = "$report" ] ||
	fail "the rerun wrote another report"

# The canvas `sluice init` writes holds no cost yet: the report has none.
mkdir fresh && sl init fresh >/dev/null && cp fresh/canvas.yaml canvas.yaml
sl run fraud.yaml --json > run3.json 2>/dev/null || fail "run with the template canvas"
sl artifacts export "$(js "next(s['outputs']['report'] for s in d['steps'] if s['name']=='evaluate')" < run3.json)" -o r3.json
[ "$(js "'cost' in d, d['main_metric']['source']" < r3.json)" = "False default" ] || fail "template canvas: $(head -c 400 r3.json)"

# A classifier from train.logistic against a naive Bayes champion: the
# baseline is the training prior the trainer recorded in the model, both
# models are scored on the same rows, and with the canvas named the step is
# cached on a rerun.
"$PY" - <<'P'
import math, random
random.seed(9)
with open("churn.csv", "w") as f:
    f.write("id,tenure,calls,plan,group,churned\n")
    for i in range(1000):
        tenure, calls = random.uniform(0, 60), random.randint(0, 12)
        plan = random.choice(["basic", "plus", "pro"])
        z = 1.5 - 0.08 * tenure + 0.35 * calls + (0.8 if plan == "basic" else 0)
        churned = random.random() < 1 / (1 + math.exp(-z))
        f.write(f"{i},{tenure:.1f},{calls},{plan},{'ab'[i % 2]},{int(churned)}\n")
P
cat > churn.yaml <<'Y'
name: churn
steps:
  ingest:
    uses: ingest.csv
    with: { path: churn.csv }
  split:
    uses: split
    inputs: { data: ingest.data }
    with: { method: stratified, by: churned, fractions: [0.7, 0.3], seed: 2 }
  logistic:
    uses: train.logistic
    inputs: { train: split.train }
    with: { target: churned, exclude: [id, group] }
  bayes:
    uses: train.naive_bayes
    inputs: { train: split.train }
    with: { target: churned, kind: gaussian, features: [tenure, calls] }
  evaluate:
    uses: evaluate
    inputs: { model: logistic.model, test: split.test, champion: bayes.model }
    with: { sensitive: group, canvas: canvas.yaml, cost: { false_positive: 1, false_negative: 4 } }
Y
sl run churn.yaml --json > churn.json 2>/dev/null || fail "churn run: $(cat churn.json)"
sl artifacts export "$(js "next(s['outputs']['report'] for s in d['steps'] if s['name']=='evaluate')" < churn.json)" -o churn-report.json
sl artifacts export "$(js "next(s['outputs']['test'] for s in d['steps'] if s['name']=='split')" < churn.json)" --format csv -o churn-test.csv
"$PY" - churn-report.json churn-test.csv <<'P'
import csv, json, sys
r = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
assert r["model"]["algorithm"] == "logistic" and r["model"]["classes"] == ["0", "1"], r["model"]
assert r["baseline_info"] == {"strategy": "prior", "fitted_on": "training rows"}, r["baseline_info"]
# The prior's decision is one class for every row: its accuracy is that class's share.
share = sum(row["churned"] == "1" for row in rows) / len(rows)
assert abs(r["baseline"]["accuracy"] - max(share, 1 - share)) < 1e-12, (r["baseline"], share)
assert r["rows"] == len(rows)
assert r["champion_info"]["algorithm"] == "naive_bayes", r["champion_info"]
for k, v in r["champion_delta"].items():
    assert abs(v - (r["metrics"][k] - r["champion"][k])) < 1e-12, k
assert r["metrics"]["roc_auc"] > 0.7, r["metrics"]
assert [g["group"] for g in r["fairness"]["columns"][0]["groups"]] == ["a", "b"]
assert r["cost"]["source"] == "with"
imp = r["importance"]["features"]
assert sorted(f["name"] for f in imp) == ["calls", "plan", "tenure"], imp
assert imp[0]["name"] in ("tenure", "calls") and imp[0]["mean"] > 0.02, imp
P
sl run churn.yaml -q
[ "$(step_status evaluate)" = cached ] || fail "evaluate with a named canvas should be cached"

# Options are checked before anything runs: a misspelt metric, a share out of range.
sed 's/repeats: 3/repeats: 3, metric: roc_uac/' fraud.yaml > typo.yaml
expect_exit 2 sl run typo.yaml
contains "$ERR" "typo.yaml:"
contains "$ERR" "roc_auc"
sed 's/contamination: 0.025/contamination: 0.7/' fraud.yaml > range.yaml
expect_exit 2 sl run range.yaml
contains "$ERR" "contamination"

# A labels column that is not there: found before the step starts (bad
# input), at the option, with the columns there are.
sed -i 's/target: is_fraud/target: fraud/' fraud.yaml
expect_exit 2 sl run fraud.yaml
contains "$ERR" "fraud.yaml:17:21: with.target: unknown column 'fraud' (input 'test' has id, amount, minutes, city, is_fraud)"
[ "$(step_status evaluate)" = failed ] || fail "evaluate should fail"
echo ok
