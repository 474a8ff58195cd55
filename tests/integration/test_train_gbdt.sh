# train.gbdt in a pipeline on spambase (examples/spam/data, UCI; see its
# SOURCE.md): ingest, label, stratified split, then gradient-boosted trees
# with early stopping on the validation rows. Checks the scores, that the
# model is the same bytes (the same artifact) when retrained without the
# cache and with another thread count, and that bad options and a task the
# target cannot have are refused with messages that say what to do.
. "$(dirname "$0")/lib.sh"

mkdir -p data
cp "$SRC/examples/spam/data/spambase.csv" "$SRC/examples/spam/data/SOURCE.md" data/
pipeline() { # threads, extra options
	cat <<EOF
name: spam-gbdt
steps:
  ingest:
    uses: ingest.csv
    with: { path: data/spambase.csv }
  label:
    uses: label
    inputs: { data: ingest.data }
    with: { from: type, mapping: { spam: 1, nonspam: 0 }, unlabeled: fail }
  split:
    uses: split
    inputs: { data: label.data }
    with: { method: stratified, by: label, fractions: [0.7, 0.15, 0.15], seed: 7 }
  train:
    uses: train.gbdt
    inputs: { train: split.train, valid: split.valid }
    with: { target: label, exclude: [type], rounds: 300, learning_rate: 0.1,
            early_stopping: 15, subsample: 0.9, colsample: 0.8, seed: 3, threads: $1 ${2:-} }
EOF
}
pipeline 2 > p.yaml
sl run p.yaml --json > run.json 2>/dev/null
[ "$(js "d['status']" < run.json)" = completed ] || fail "run: $(cat run.json)"
metric() { js "next(s['metrics'].get('$1') for s in d['steps'] if s['name']=='train')" < run.json; }
model=$(js "next(s['outputs']['model'] for s in d['steps'] if s['name']=='train')" < run.json)
"$PY" - "$(metric valid_auc)" "$(metric best_round)" "$(metric rounds)" "$(metric importance.charExclamation)" <<'P'
import sys
auc, best, rounds, imp = (float(x) for x in sys.argv[1:])
assert auc > 0.97, f"valid AUC {auc}"
assert 1 <= best <= 300 and rounds == best, (best, rounds)
assert 0 < imp < 1, imp
P

# The validation curve is a metric series, one value per round trained, falling.
curve=$(js "next(s['series']['valid_logloss_curve'] for s in d['steps'] if s['name']=='train')" < run.json)
"$PY" - "$curve" "$(metric best_round)" <<'P'
import ast, sys
curve, best = ast.literal_eval(sys.argv[1]), int(float(sys.argv[2]))
assert len(curve) >= best and curve[best - 1] == min(curve), (len(curve), best)
assert curve[0] > curve[best - 1], curve[:3]
P

# artifacts show describes the model from its manifest.
show=$(sl artifacts show "$model")
contains "$show" "model     gbdt (binary)"
contains "$show" "target    label"
contains "$show" "outputs   proba_0, proba_1"
contains "$show" "score     valid_auc"

# Same data, same options: the same model bytes, so the same artifact, with
# the cache off and with one thread instead of two.
sl run p.yaml --no-cache --json > run2.json 2>/dev/null
model2=$(js "next(s['outputs']['model'] for s in d['steps'] if s['name']=='train')" < run2.json)
[ "$model2" = "$model" ] || fail "retrained model differs: $model2 vs $model"
pipeline 1 > p1.yaml
sl run p1.yaml --json > run3.json 2>/dev/null
model3=$(js "next(s['outputs']['model'] for s in d['steps'] if s['name']=='train')" < run3.json)
[ "$model3" = "$model" ] || fail "threads 1 gave another model: $model3 vs $model"

# Options are checked before anything runs, with the place in the file.
pipeline 2 ", bins: 300" > bad.yaml
expect_exit 2 sl run bad.yaml
contains "$ERR" "bad.yaml:"
contains "$ERR" "option 'bins' of train.gbdt must be in [2, 256], not 300"

# A task the target cannot have fails the step with the fix in the message.
pipeline 2 ", objective: multiclass" > multi.yaml
expect_exit 1 sl run multi.yaml
contains "$(sl runs show latest)" "use objective: binary"

# early_stopping with no validation rows to watch: refused before anything runs.
sed 's/inputs: { train: split.train, valid: split.valid }/inputs: { train: split.train }/' p.yaml > nov.yaml
expect_exit 2 sl run nov.yaml
contains "$ERR" "nov.yaml:"
contains "$ERR" "connect a \`valid\` input"
echo ok
