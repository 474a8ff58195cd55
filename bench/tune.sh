#!/usr/bin/env bash
# Hyperparameter search benchmark: a 20-trial random search with the tune
# step against scikit-learn's RandomizedSearchCV over the same model family,
# the same parameter ranges and the same fixed train/valid split of
# spambase (PredefinedSplit over sluice's split), both on 2 cores, in the
# same run. Prints each side's wall time (sluice: `sluice run -j 2` of the
# search, its trials computed, not cached; scikit-learn: the search's
# fit() with n_jobs=2), the ratio, each side's best validation AUC, and the
# machine's load.
#
# The model family is train.gbdt against HistGradientBoostingClassifier
# (learning_rate, max_depth, lambda / l2_regularization, 100 rounds) when
# the sluice under test has train.gbdt, else train.logistic's C against
# LogisticRegression's C (both on standardised features, L2, lbfgs-like
# solvers, 200 iterations at most).
#
#   bash bench/tune.sh [path/to/sluice]
# Environment: TUNE_RUNS (default 3: the median is reported), TMPDIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
SLUICE=$(realpath "${1:-$root/build/sluice}")
RUNS=${TUNE_RUNS:-3}
PY=/usr/bin/python3
dir=${TMPDIR:-/tmp}/sluice-bench-tune
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
"$SLUICE" init . >/dev/null
cp "$root/examples/spam/data/spambase.csv" .

if "$SLUICE" steps train.gbdt >/dev/null 2>&1; then family=gbdt; else family=logistic; fi

# The split, once: both sides train on its train rows and score on its valid rows.
cat > split.yaml <<'YAML'
name: bench-split
steps:
  ingest:
    uses: ingest.csv
    with: { path: spambase.csv }
  split:
    uses: split
    inputs: { data: ingest.data }
    with: { method: stratified, by: type, fractions: [0.7, 0.3], seed: 7 }
YAML
"$SLUICE" run split.yaml >/dev/null 2>&1
for part in train test; do
	id=$("$SLUICE" runs show latest --json | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(next(s for s in d['steps'] if s['name']=='split')['outputs']['$part'])")
	"$SLUICE" artifacts export "$id" --format csv -o "$part.csv"
done

case $family in
gbdt)
	search='        learning_rate: { low: 0.01, high: 0.3, log: true }
        max_depth: { low: 2, high: 8, int: true }
        lambda: { low: 0.001, high: 10, log: true }'
	template='{ target: type, rounds: 100, threads: 1 }'
	;;
logistic)
	search='        C: { low: 0.001, high: 100, log: true }'
	template='{ target: type, standardize: true, max_iter: 200, threads: 1 }'
	;;
esac
cat > tune.yaml <<YAML
name: bench-tune
params: { seed: 0 }
steps:
  train_rows:
    uses: ingest.csv
    with: { path: train.csv }
  valid_rows:
    uses: ingest.csv
    with: { path: test.csv }
  tune:
    uses: tune
    inputs: { train: train_rows.data, valid: valid_rows.data }
    with:
      step: train.$family
      template: $template
      search:
$search
      budget: 20
      metric: valid_auc
      seed: "\${params.seed}"
YAML
"$SLUICE" run tune.yaml -p seed=1000 >/dev/null 2>&1 # the two ingests, cached for the timed runs

sl_times=()
for r in $(seq 1 "$RUNS"); do
	# A new seed each time: 20 new trials, none from the cache.
	t0=$(date +%s.%N)
	"$SLUICE" run tune.yaml -j 2 -p "seed=$r" >/dev/null 2>&1
	t1=$(date +%s.%N)
	sl_times+=("$(echo "$t1 - $t0" | bc -l)")
	sl_auc=$("$SLUICE" runs show latest --json | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(next(s for s in d['steps'] if s['name']=='tune')['metrics']['valid_auc'])")
	sl_aucs+=("$sl_auc")
done

py_out=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" "$here/tune_peer.py" "$family" train.csv test.csv "$RUNS")

"$PY" - "$family" "$py_out" "${sl_times[*]}" "${sl_aucs[*]}" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PYEOF'
import json, statistics, sys
family, peer, times, aucs, load = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split(), sys.argv[5]
st = statistics.median(float(t) for t in times)
pt = statistics.median(peer["seconds"])
peer_name = "HistGradientBoostingClassifier" if family == "gbdt" else "LogisticRegression"
print(f"tune: 20-trial random search, train.{family} vs RandomizedSearchCV({peer_name}), "
      f"spambase 70/30 fixed split, 2 cores, median of {len(times)}")
print(f"  sluice run -j 2      {st:8.2f} s   best valid AUC {statistics.median(float(a) for a in aucs):.4f}")
print(f"  scikit-learn n_jobs=2 {pt:7.2f} s   best valid AUC {statistics.median(peer['auc']):.4f}")
print(f"  ratio (sluice / scikit-learn): {st / pt:.2f}x   load average {load}")
PYEOF
