# evaluate beside a champion bundle whose fitted transform differs from the
# challenger's (its scale fitted on older, smaller numbers): each model must
# see the raw test rows through its own transform. The champion's numbers in
# the comparison equal those of evaluating it alone on the rows its own
# transform makes: served, it takes today's amounts through its old scale,
# and does badly. Fed the challenger's rows instead (what evaluate did
# before), it looked as good as the challenger: the comparison flattered it.
# Given transformed rows without `transform`, the step refuses, saying what
# to connect, rather than score the champion on another transform's rows.
. "$(dirname "$0")/lib.sh"

# Two eras of the same process: the champion's transform was fitted when
# amounts were ten times smaller; its model saw amounts scaled by that fit.
"$PY" - <<'P'
import math, random
random.seed(11)
def write(name, n, scale):
    with open(name, "w") as f:
        f.write("id,amount,visits,bought\n")
        for i in range(n):
            amount = random.gauss(50, 20) * scale
            visits = random.randint(0, 10)
            z = -4 + 0.06 * amount / scale + 0.2 * visits
            f.write(f"{i},{amount:.3f},{visits},{int(random.random() < 1 / (1 + math.exp(-z)))}\n")
write("old.csv", 600, 0.1)
write("new.csv", 900, 1.0)
P

cat > pipe.yaml <<'Y'
name: champ
steps:
  old:
    uses: ingest.csv
    with: { path: old.csv }
  new:
    uses: ingest.csv
    with: { path: new.csv }
  split:
    uses: split
    inputs: { data: new.data }
    with: { method: stratified, by: bought, fractions: [0.6, 0.4], seed: 3 }
  # The champion: scaled as the old data was, packaged with its transform.
  old_features:
    uses: wrangle
    inputs: { data: old.data }
    with: { ops: [ { drop: [id] }, { op: normalise, method: minmax, columns: [amount, visits] } ] }
  old_model:
    uses: train.logistic
    inputs: { train: old_features.data }
    with: { target: bought }
  champion:
    uses: package
    inputs: { model: old_model.model, transform: old_features.transform }
    with: { name: buyers }
  # The challenger: its own fit on the new rows.
  features:
    uses: wrangle
    inputs: { data: split.train }
    with: { ops: [ { drop: [id] }, { op: normalise, method: minmax, columns: [amount, visits] } ] }
  features_test:
    uses: wrangle
    inputs: { data: split.test, transform: features.transform }
  model:
    uses: train.logistic
    inputs: { train: features.data }
    with: { target: bought }
  # Raw test rows: each model through its own transform.
  evaluate:
    uses: evaluate
    inputs: { model: model.model, transform: features.transform, test: split.test,
              champion: champion.bundle }
    with: { importance: false }
  # The champion alone, on the test rows as its own transform makes them.
  champion_rows:
    uses: wrangle
    inputs: { data: split.test, transform: old_features.transform }
  alone:
    uses: evaluate
    inputs: { model: old_model.model, test: champion_rows.data }
    with: { importance: false }
  # The challenger alone on its own rows (as before: transformed rows).
  challenger_alone:
    uses: evaluate
    inputs: { model: model.model, test: features_test.data }
    with: { importance: false }
  # What evaluate did with the challenger's rows: the plain champion model
  # (no transform to refuse) scored on rows the other transform made.
  skewed:
    uses: evaluate
    inputs: { model: model.model, test: features_test.data, champion: old_model.model }
    with: { importance: false }
Y
sl run pipe.yaml --json > run.json 2>/dev/null || fail "run: $(cat run.json)"
[ "$(js "d['status']" < run.json)" = completed ] || fail "run: $(cat run.json)"
report() {
	sl artifacts export "$(js "next(s['outputs']['report'] for s in d['steps'] if s['name']=='$1')" < run.json)" -o "$1.json"
}
for s in evaluate alone challenger_alone skewed; do report "$s"; done
"$PY" - <<'P'
import json
r, alone, chal, skew = (json.load(open(f + ".json")) for f in ("evaluate", "alone", "challenger_alone", "skewed"))
# The challenger's numbers through `transform` are those on its own rows.
for k, v in chal["metrics"].items():
    assert abs(r["metrics"][k] - v) < 1e-12, (k, r["metrics"][k], v)
# The champion's, beside it, are those on the rows its own transform makes.
for k, v in alone["metrics"].items():
    assert abs(r["champion"][k] - v) < 1e-12, (k, r["champion"][k], v)
# The challenger's rows hid the champion's stale scale: a logloss several
# times lower than the champion earns on the rows it is served.
assert r["champion"]["logloss"] > 3 * skew["champion"]["logloss"], (skew["champion"], r["champion"])
assert r["champion_delta"]["logloss"] < -2, r["champion_delta"]
P

# Transformed rows as `test` (the model's, without `transform`): the
# champion's transform cannot take them (no id), and the step says what to
# connect rather than score the champion on another transform's rows.
sed -e 's/transform: features.transform, test: split.test,/test: features_test.data,/' pipe.yaml > noraw.yaml
expect_exit 1 sl run noraw.yaml
contains "$ERR" "champion: its bundle's transform cannot take the test rows"
contains "$ERR" "connect it as \`transform\`"
# A bundle as the model has its transform: `transform` beside it is refused.
sed -e 's/inputs: { model: model.model, transform: features.transform, test: split.test,/inputs: { model: champion.bundle, transform: features.transform, test: split.test,/' pipe.yaml > both.yaml
expect_exit 1 sl run both.yaml
contains "$ERR" "a transform of its own"
echo ok
