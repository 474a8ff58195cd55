#!/usr/bin/env bash
# Linear-model training benchmark: train.logistic's fit (L2, L-BFGS) and
# train.linear's ridge (closed form) against scikit-learn's
# LogisticRegression(lbfgs) and Ridge on the same generated 800k x 28
# classification set, in the same run. Each side is timed from its data in
# memory to the fitted model (sluice: the training frame and the fit;
# scikit-learn: fit()), the median of RUNS fresh processes. Prints both
# times, the ratio, the training AUC of both logistic models and the
# largest coefficient difference of the two ridge fits, and the load.
#
#   bash bench/train_linear.sh [path/to/sluice]   (its build directory
#                                                  provides libsluice.a)
# Environment: TRAIN_ROWS (default 800000), TRAIN_RUNS (default 5), TMPDIR.
# Targets (issue 7): time <= 1.0x scikit-learn; logistic AUC equal to
# 0.001; ridge coefficients equal to 1e-6.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
SLUICE=$(realpath "${1:-$root/build/sluice}")
build=$(dirname "$SLUICE")
lib=$build/libsluice.a
ROWS=${TRAIN_ROWS:-800000}
RUNS=${TRAIN_RUNS:-5}
PY=/usr/bin/python3
dir=${TMPDIR:-/tmp}/sluice-bench-train
mkdir -p "$dir"
. "$here/lib.sh"

if [ ! -f "$lib" ]; then
	echo "train_linear: $lib not found (build first)" >&2
	exit 2
fi
cc -O2 -o "$dir/gen_classify" "$here/gen_classify.c" -lm
bench_cc train_linear_bench "$here/train_linear_bench.c"
csv=$dir/classify-$ROWS.csv
if [ ! -s "$csv" ]; then
	"$dir/gen_classify" "$ROWS" > "$csv.tmp"
	mv "$csv.tmp" "$csv"
fi

py_fit() { # logistic|ridge: one JSON line, as train_linear_bench prints
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" - "$1" "$csv" <<'PYEOF'
import json, sys, time
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score
what, path = sys.argv[1], sys.argv[2]
df = pd.read_csv(path)
y = df.pop("label").to_numpy()
X = np.ascontiguousarray(df.to_numpy(dtype=np.float64))
t0 = time.monotonic()
m = LogisticRegression(C=1.0) if what == "logistic" else Ridge(alpha=1.0)
m.fit(X, y)
t1 = time.monotonic()
coef = np.ravel(m.coef_)
out = {"seconds": t1 - t0, "coefficients": dict(zip(df.columns, map(float, coef))),
       "intercept": float(np.ravel(m.intercept_)[0]), "auc": -1}
if what == "logistic":
    out["auc"] = float(roc_auc_score(y, m.predict_proba(X)[:, 1]))
    out["iterations"] = int(np.ravel(m.n_iter_)[0])
print(json.dumps(out))
PYEOF
}

for what in logistic ridge; do
	: > "$dir/$what.sluice"
	: > "$dir/$what.peer"
	for i in $(seq "$RUNS"); do
		"$dir/train_linear_bench" "$what" "$csv" >> "$dir/$what.sluice"
		py_fit "$what" >> "$dir/$what.peer"
	done
	"$PY" - "$what" "$dir/$what.sluice" "$dir/$what.peer" "$ROWS" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PYEOF'
import json, statistics, sys
what, fs, fp, rows, load = sys.argv[1:6]
S = [json.loads(l) for l in open(fs) if l.strip()]
P = [json.loads(l) for l in open(fp) if l.strip()]
ts = statistics.median(r["seconds"] for r in S)
tp = statistics.median(r["seconds"] for r in P)
s, p = S[-1], P[-1]
print(f"{what} on {rows} x 28 (median of {len(S)} runs each; load average {load})")
print(f"  sluice        {ts:7.3f} s   (min {min(r['seconds'] for r in S):.3f}, max {max(r['seconds'] for r in S):.3f})"
      + (f", {s.get('iterations')} iterations" if s.get('iterations') is not None else ""))
print(f"  scikit-learn  {tp:7.3f} s   (min {min(r['seconds'] for r in P):.3f}, max {max(r['seconds'] for r in P):.3f})"
      + (f", {p.get('iterations')} iterations" if p.get('iterations') is not None else ""))
print(f"  ratio         {ts / tp:.2f}x scikit-learn's time (target <= 1.0)")
if what == "logistic":
    print(f"  training AUC  sluice {s['auc']:.6f}  scikit-learn {p['auc']:.6f}  "
          f"difference {abs(s['auc'] - p['auc']):.2e} (target <= 0.001)")
else:
    d = max(abs(s["coefficients"][k] - p["coefficients"][k]) for k in p["coefficients"])
    d = max(d, abs(s["intercept"] - p["intercept"]))
    print(f"  coefficients  largest difference {d:.2e} (target <= 1e-6)")
PYEOF
done
