#!/usr/bin/env bash
# Drift of one monitoring window: sluice's mon_drift_table (what `sluice
# monitor report` and the server's gauges run) against the same tests done
# with SciPy and NumPy (two-sample KS, Wasserstein distance normalised by
# the reference's standard deviation, PSI over the reference's deciles: what
# Evidently's default drift preset computes per column), in the same run,
# on a window of 10,000 requests over 57 numeric features (spambase's
# width) against a reference of 20,000 training rows, 3 features shifted.
# sluice compares against the reference's stored profile (made once at
# training); the peer against the raw reference rows, which is how Evidently
# works. The issue's target: at most 20 ms for sluice.
#
#   bash bench/monitor.sh [path/to/sluice]
# Environment: MONITOR_WINDOW (default 10000), MONITOR_REPEATS (default 20,
# the fastest kept), TMPDIR.
set -euo pipefail
dir=${TMPDIR:-/tmp}/sluice-bench-monitor
mkdir -p "$dir"
. "$(dirname "$0")/lib.sh"
NR=20000
NW=${MONITOR_WINDOW:-10000}
P=57
REPS=${MONITOR_REPEATS:-20}
PREPS=${MONITOR_PEER_REPEATS:-3}

bench_cc monitor_bench "$here/monitor_bench.c"
ref=$dir/ref-$NR.f64
win=$dir/win-$NW.f64
if [ ! -s "$ref" ] || [ ! -s "$win" ]; then
	"$PY" - "$ref" "$NR" "$win" "$NW" "$P" <<'PYEOF'
import sys
import numpy as np
rng = np.random.default_rng(3)
p = int(sys.argv[5])
scale = rng.uniform(0.5, 5, p)
rng.standard_normal((int(sys.argv[2]), p)).__mul__(scale).astype("<f8").tofile(sys.argv[1])
w = rng.standard_normal((int(sys.argv[4]), p))
w[:, :3] += 0.5
(w * scale).astype("<f8").tofile(sys.argv[3])
PYEOF
fi

s=$("$dir/monitor_bench" "$ref" "$NR" "$win" "$NW" "$P" "$REPS")
p=$(OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= "$PY" - "$ref" "$NR" "$win" "$NW" "$P" "$PREPS" <<'PYEOF'
import json, sys, time
import numpy as np
from scipy import stats
nr, nw, p, reps = int(sys.argv[2]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
R = np.fromfile(sys.argv[1], dtype="<f8").reshape(nr, p)
W = np.fromfile(sys.argv[3], dtype="<f8").reshape(nw, p)
best, best_cpu, drifted = 1e9, 1e9, 0
for _ in range(reps):
    t0, c0 = time.monotonic(), time.process_time()
    drifted = 0
    for j in range(p):
        r, c = R[:, j], W[:, j]
        ks = stats.ks_2samp(r, c)
        wd = stats.wasserstein_distance(r, c) / np.std(r)
        edges = np.quantile(r, np.linspace(0, 1, 11))
        pr = np.histogram(r, edges)[0] / nr + 1e-4
        pc = np.histogram(c, edges)[0] / nw + 1e-4
        psi = float(np.sum((pc - pr) * np.log(pc / pr)))
        drifted += wd >= 0.1
    best = min(best, time.monotonic() - t0)
    best_cpu = min(best_cpu, time.process_time() - c0)
print(json.dumps({"seconds": best, "cpu_seconds": best_cpu, "tested": p, "drifted": int(drifted)}))
PYEOF
)

"$PY" - "$s" "$p" "$NW" "$P" <<'PYEOF'
import json, sys
s, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"drift of a {sys.argv[3]}-request window over {sys.argv[4]} features (fastest of the repeats)")
for name, r in (("sluice", s), ("scipy", p)):
    print(f"  {name:7s} {r['seconds']*1000:8.2f} ms wall  {r['cpu_seconds']*1000:8.2f} ms CPU  "
          f"{r['drifted']} of {r['tested']} features drifted")
print(f"  ratio   {s['seconds']/p['seconds']:.3f}x SciPy's wall time, "
      f"{s['cpu_seconds']/p['cpu_seconds']:.3f}x its CPU time (lower is faster); "
      f"target <= 20 ms wall: {'met' if s['seconds'] <= 0.020 else 'NOT met'}")
PYEOF
