#!/usr/bin/env bash
# Isolation forest: sluice's train.iforest engine against scikit-learn's
# IsolationForest on the same generated matrix, in the same run: fit time
# (sluice's includes scoring the training rows for the contamination
# threshold, as scikit-learn's fit does), the time to score every row, and
# the ROC AUC of each against the planted anomalies. Both on 2 threads.
#
#   bash bench/iforest.sh [path/to/sluice]     (its build directory provides
#                                               libsluice.a)
# Environment: IFOREST_ROWS (default 200000), IFOREST_RUNS (default 3, the
# fastest kept), TMPDIR.
set -euo pipefail
dir=${TMPDIR:-/tmp}/sluice-bench-iforest
mkdir -p "$dir"
. "$(dirname "$0")/lib.sh"
N=${IFOREST_ROWS:-200000}
RUNS=${IFOREST_RUNS:-3}
COLS=11 # 10 inputs and the label
TREES=100
SAMPLE=256

bench_cc iforest_bench "$here/iforest_bench.c"
mat=$dir/m-$N.f64
if [ ! -s "$mat" ]; then
	# 1% of the rows shifted by 4 standard deviations in 3 of 10 inputs.
	"$PY" - "$mat" "$N" <<'PYEOF'
import sys
import numpy as np
rng = np.random.default_rng(7)
n = int(sys.argv[2])
X = rng.standard_normal((n, 10))
y = (rng.random(n) < 0.01).astype(float)
X[y == 1, :3] += 4 * rng.choice([-1, 1], size=(int(y.sum()), 3))
np.hstack([X, y[:, None]]).astype("<f8").tofile(sys.argv[1])
PYEOF
fi

s=$(for i in $(seq "$RUNS"); do
	"$dir/iforest_bench" "$mat" "$N" "$COLS" "$TREES" "$SAMPLE" 2
done | best fit_seconds)

p=$(for i in $(seq "$RUNS"); do
	OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= "$PY" - "$mat" "$N" "$COLS" "$TREES" "$SAMPLE" <<'PYEOF'
import json, resource, sys, time
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
n, c = int(sys.argv[2]), int(sys.argv[3])
M = np.fromfile(sys.argv[1], dtype="<f8").reshape(n, c)
X, y = M[:, :-1], M[:, -1]
f = IsolationForest(n_estimators=int(sys.argv[4]), max_samples=int(sys.argv[5]),
                    contamination=0.01, n_jobs=2, random_state=1)
t0 = time.monotonic(); f.fit(X); t1 = time.monotonic()
s = -f.score_samples(X); t2 = time.monotonic()
print(json.dumps({"fit_seconds": round(t1 - t0, 3), "score_seconds": round(t2 - t1, 3),
                  "auc": round(roc_auc_score(y, s), 4),
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
PYEOF
done | best fit_seconds)

"$PY" - "$s" "$p" "$N" <<'PYEOF'
import json, sys
s, p, n = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
print(f"isolation forest, {n} rows x 10 inputs, 100 trees of 256 rows, 2 threads")
for name, r in (("sluice", s), ("sklearn", p)):
    print(f"  {name:8s} fit {r['fit_seconds']:7.3f} s  score {r['score_seconds']:7.3f} s"
          f"  AUC {r['auc']:.4f}  peak RSS {r['peak_rss_kb']/1024:7.1f} MiB")
print(f"  ratio    fit {s['fit_seconds']/p['fit_seconds']:.3f}x  score "
      f"{s['score_seconds']/p['score_seconds']:.3f}x scikit-learn's time (lower is faster)")
PYEOF
