#!/usr/bin/env bash
# train.forecast against statsmodels' ExponentialSmoothing (Holt-Winters),
# on 1,000 synthetic monthly series and on elec_equip (bench/forecast_peer.py
# says how the data are made and how the peer is run: its best
# configuration by AICc over trend none/add/damped x season none/add/mul,
# two processes, as sluice uses both cores). Each holds out its last 18
# months. sluice runs `method: ets` (its ETS family chosen by AICc, the
# like-for-like comparison) and `method: auto`. Prints the holdout MASE of
# each, the fitting time (sluice ets: median of three runs of the step;
# sluice auto, which refits every candidate at three origins, and the peer:
# one run each), the ratio, and the machine's load before and after.
# Then `method: gbdt` (median of three runs) against scikit-learn's
# HistGradientBoostingRegressor on the same features, target and
# recursion (forecast_peer.py hgb, two threads). sluice's time includes
# what the peer does not do: its holdout model and the recursive
# backtest its intervals come from.
set -euo pipefail
SLUICE=$(realpath "${1:-build/sluice}")
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-fc-XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
"$PY" "$here/forecast_peer.py" gen .
"$SLUICE" init . >/dev/null
cat > bench.yaml <<'Y'
name: bench-forecast
params: { method: ets }
steps:
  panel_train: { uses: ingest.csv, with: { path: series_train.csv } }
  panel_test: { uses: ingest.csv, with: { path: series_test.csv } }
  elec_train: { uses: ingest.csv, with: { path: elec_train.csv } }
  elec_test: { uses: ingest.csv, with: { path: elec_test.csv } }
  panel:
    uses: train.forecast
    inputs: { train: panel_train.data, valid: panel_test.data }
    with: { target: value, time: month, by: series, horizon: 18, method: "${params.method}" }
  elec:
    uses: train.forecast
    inputs: { train: elec_train.data, valid: elec_test.data }
    with: { target: turnover, time: month, horizon: 18, method: "${params.method}" }
Y
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# step NAME: "duration_ms valid_mase" of the step in the latest run.
step() {
	"$SLUICE" runs show latest --json | "$PY" -c "
import json, sys
d = json.load(sys.stdin)
s = next(x for x in d['steps'] if x['name'] == '$1')
print(s['duration_ms'], s['metrics']['valid_mase'])"
}
declare -A ms mase
for method in ets auto gbdt; do
	runs="1 2 3"
	[ $method = auto ] && runs=1
	for i in $runs; do
		# -j 1: the two fits run one after the other, each on both cores.
		"$SLUICE" run bench.yaml -q -j 1 -p method=$method $([ "$i" -gt 1 ] && echo --no-cache) >/dev/null
		for s in panel elec; do
			read -r d m < <(step $s)
			ms[$method.$s]="${ms[$method.$s]:-} $d"
			mase[$method.$s]=$m
		done
	done
done
peer=$(OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= "$PY" "$here/forecast_peer.py" peer . 2)
hgb=$("$PY" "$here/forecast_peer.py" hgb . 2)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - "$peer" "${ms[ets.panel]}" "${ms[ets.elec]}" "${ms[auto.panel]}" "${ms[auto.elec]}" \
	"${mase[ets.panel]}" "${mase[ets.elec]}" "${mase[auto.panel]}" "${mase[auto.elec]}" \
	"$hgb" "${ms[gbdt.panel]}" "${ms[gbdt.elec]}" "${mase[gbdt.panel]}" "${mase[gbdt.elec]}" <<'P'
import json, statistics, sys
peer = json.loads(sys.argv[1])
med = [statistics.median(float(x) for x in a.split()) / 1000 for a in sys.argv[2:6]]
mase = [float(x) for x in sys.argv[6:10]]
hgb = json.loads(sys.argv[10])
gmed = [statistics.median(float(x) for x in a.split()) / 1000 for a in sys.argv[11:13]]
gmase = [float(x) for x in sys.argv[13:15]]
rows = [("panel", "ets", med[0], mase[0]), ("elec", "ets", med[1], mase[1]),
        ("panel", "auto", med[2], mase[2]), ("elec", "auto", med[3], mase[3])]
print("%-6s %-22s %9s %8s   %s" % ("data", "fitter", "seconds", "MASE", "vs statsmodels"))
for data in ("panel", "elec"):
    p = peer[data]
    print("%-6s %-22s %9.3f %8.4f" % (data, "statsmodels ES (AICc)", p["seconds"], p["mase"]))
    for d, method, secs, m in rows:
        if d == data:
            print("%-6s %-22s %9.3f %8.4f   time x%.3f, MASE x%.3f" %
                  (d, "sluice " + method, secs, m, secs / p["seconds"], m / p["mase"]))
for data, secs, m in (("panel", gmed[0], gmase[0]), ("elec", gmed[1], gmase[1])):
    p = hgb[data]
    print("%-6s %-22s %9.3f %8.4f" % (data, "sklearn HGB (lags)", p["seconds"], p["mase"]))
    print("%-6s %-22s %9.3f %8.4f   time x%.3f, MASE x%.3f" %
          (data, "sluice gbdt", secs, m, secs / p["seconds"], m / p["mase"]))
P
