#!/usr/bin/env bash
# Evaluation metrics: the evaluate step's binary classification report
# (accuracy, balanced accuracy, precision, recall, F1 and their macro
# averages, ROC AUC, average precision, log loss, Brier, calibration curve
# and ECE, confusion matrix, ROC and PR curves, for the model and for the
# baseline beside it) against the same metrics from scikit-learn on the same
# probabilities and labels, in the same run. Checks that the numbers agree.
#
#   bash bench/evaluate.sh [path/to/sluice]   (its build directory provides
#                                              libsluice.a)
# Environment: EVAL_ROWS (default 1000000), EVAL_RUNS (default 3, the
# fastest kept), TMPDIR.
set -euo pipefail
dir=${TMPDIR:-/tmp}/sluice-bench-evaluate
mkdir -p "$dir"
. "$(dirname "$0")/lib.sh"
N=${EVAL_ROWS:-1000000}
RUNS=${EVAL_RUNS:-3}

bench_cc eval_bench "$here/eval_bench.c"
mat=$dir/p-$N.f64
if [ ! -s "$mat" ]; then
	# Probabilities rounded to 3 decimals (so there are ties), labels drawn from them.
	"$PY" - "$mat" "$N" <<'PYEOF'
import sys
import numpy as np
rng = np.random.default_rng(3)
n = int(sys.argv[2])
p = np.round(rng.beta(2, 3, n), 3)
y = (rng.random(n) < p).astype(float)
np.stack([p, y], axis=1).astype("<f8").tofile(sys.argv[1])
PYEOF
fi

s=$(for i in $(seq "$RUNS"); do "$dir/eval_bench" "$mat" "$N"; done | best seconds)

p=$(for i in $(seq "$RUNS"); do
	OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= "$PY" - "$mat" "$N" <<'PYEOF'
import json, resource, sys, time
import numpy as np
from sklearn import metrics as M
from sklearn.calibration import calibration_curve
n = int(sys.argv[2])
d = np.fromfile(sys.argv[1], dtype="<f8").reshape(n, 2)
p, y = d[:, 0], d[:, 1].astype(int)
t0 = time.monotonic()
out = {}
for name, q in (("model", p), ("baseline", np.full(n, y.mean()))):
    pred = (q >= 0.5).astype(int)
    r = {"accuracy": M.accuracy_score(y, pred), "balanced": M.balanced_accuracy_score(y, pred),
         "prf": M.precision_recall_fscore_support(y, pred, average="binary", zero_division=0),
         "prf_macro": M.precision_recall_fscore_support(y, pred, average="macro", zero_division=0),
         "roc_auc": M.roc_auc_score(y, q), "pr_auc": M.average_precision_score(y, q),
         "logloss": M.log_loss(y, q), "brier": M.brier_score_loss(y, q),
         "cm": M.confusion_matrix(y, pred)}
    if name == "model":
        r["calibration"] = calibration_curve(y, q, n_bins=10)
        r["roc"] = M.roc_curve(y, q)
        r["pr"] = M.precision_recall_curve(y, q)
    out[name] = r
t1 = time.monotonic()
m = out["model"]
print(json.dumps({"seconds": round(t1 - t0, 3), "roc_auc": m["roc_auc"], "pr_auc": m["pr_auc"],
                  "logloss": m["logloss"],
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
PYEOF
done | best seconds)

"$PY" - "$s" "$p" "$N" <<'PYEOF'
import json, sys
s, p, n = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
print(f"binary evaluation of {n} rows (model and baseline; probabilities with ties)")
for name, r in (("sluice", s), ("sklearn", p)):
    print(f"  {name:8s} {r['seconds']:7.3f} s  ROC AUC {r['roc_auc']:.10f}  AP {r['pr_auc']:.10f}"
          f"  log loss {r['logloss']:.10f}")
agree = all(abs(s[k] - p[k]) < 1e-9 for k in ("roc_auc", "pr_auc", "logloss"))
print(f"  ratio    {s['seconds']/p['seconds']:.3f}x scikit-learn's time (lower is faster); "
      f"numbers {'agree' if agree else 'DIFFER'} to 1e-9")
PYEOF
