#!/usr/bin/env bash
# A model's lineage forward to its serving requests, over an inference log of
# LINEAGE_RECORDS records (default 100,000: 10 segments, half of them
# zstd-compressed as the server leaves closed ones, three rows per request):
# `sluice artifacts lineage NAME@1` (the store's walk, then one pass over the
# head of every record) against `sluice logs --model NAME --version 1 -n 0
# --json` (the way to count them without it: every matching record parsed
# whole). The counts must agree. No peer keeps this (MLflow's lineage stops
# at the run); the log reader is the reference.
#
#   bash bench/lineage.sh [path/to/sluice]
# Environment: LINEAGE_RUNS (default 5; the median and the best are shown).
set -euo pipefail
dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-lineage-XXXXXX")
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"
RECORDS=${LINEAGE_RECORDS:-100000}
RUNS=${LINEAGE_RUNS:-5}

cd "$dir"
"$SLUICE" init >/dev/null
"$PY" - <<'P'
import random
random.seed(1)
with open("d.csv", "w") as f:
    f.write("x,y,label\n")
    for _ in range(300):
        x, y = random.random(), random.random()
        f.write(f"{x:.4f},{y:.4f},{int(x + y > 1)}\n")
P
cat > p.yaml <<'Y'
name: lineage-bench
steps:
  ingest: { uses: ingest.csv, with: { path: d.csv } }
  train:
    uses: train.logistic
    inputs: { train: ingest.data }
    with: { target: label }
  package:
    uses: package
    inputs: { model: train.model }
    with: { name: spam }
  register:
    uses: register
    inputs: { bundle: package.bundle }
    with: { name: spam }
Y
"$SLUICE" run p.yaml >/dev/null 2>&1 || { "$SLUICE" run p.yaml; exit 1; }

# The log, in the server's format (docs/serving.md): 4 in 5 requests to
# spam@1 (1 in 10 of them a 400), the rest to another model.
mkdir -p .sluice/inference
"$PY" - .sluice/inference "$RECORDS" <<'P'
import random, sys
d, n = sys.argv[1], int(sys.argv[2])
random.seed(2)
segs = 10
per = n // segs
for s in range(segs):
    name = "%s/20261130T%02d0000-1f3a9c0b-%06d.jsonl" % (d, s, s)
    with open(name, "w") as f:
        for m, v in (("spam", "1"), ("other", "2")):
            f.write('{"schema":1,"model":"%s","version":"%s","inputs":["x","y"],'
                    '"outputs":["predict","proba_0","proba_1"]}\n' % (m, v))
        for i in range(per):
            m, v = ("spam", "1") if random.random() < 0.8 else ("other", "2")
            t = "2026-11-30T%02d:%02d:%02d.%03dZ" % (s, i * 60 // per, i % 60, i % 1000)
            rid = "1f3a9c0b-%012x" % (s * per + i)
            if m == "spam" and random.random() < 0.1:
                f.write('{"id":"%s","time":"%s","model":"%s","version":"%s","endpoint":"v2",'
                        '"status":400,"latency_us":9,"error":"inputs: expected an array",'
                        '"body":"{\\"inputs\\": 5}"}\n' % (rid, t, m, v))
                continue
            rows = [[round(random.random(), 4), round(random.random(), 4)] for _ in range(3)]
            outs = [[int(a + b > 1), round(1 - a, 6), round(a, 6)] for a, b in rows]
            f.write('{"id":"%s","time":"%s","model":"%s","version":"%s","endpoint":"v2",'
                    '"status":200,"latency_us":41,"rows":3,"inputs":%s,"outputs":%s}\n'
                    % (rid, t, m, v, str(rows).replace(" ", ""), str(outs).replace(" ", "")))
P
for f in .sluice/inference/*T0[02468]*.jsonl; do zstd -q --rm "$f"; done
bytes=$(du -cb .sluice/inference | tail -1 | cut -f1)

# A log over the budget is counted from "since" on: exactly what logs --since lists.
"$SLUICE" artifacts lineage spam@1 --json > lin.json
got=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); s=[x for x in d["served"] if x["model"]=="spam"][0]; print(s["requests"], s["status"].get("4xx", 0))' lin.json)
since=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["serving_log"]["since"] or "")' lin.json)
want=$("$SLUICE" logs --model spam --version 1 -n 0 --json ${since:+--since "$since"} | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(len(d), sum(r["status"]==400 for r in d))')
[ "$got" = "$want" ] || { echo "lineage: counts differ: lineage '$got', logs '$want'" >&2; exit 1; }

lin=($(time_ms "$SLUICE" artifacts lineage spam@1 --json))
show=($(time_ms "$SLUICE" models show spam@1 --json))
logs=($(time_ms "$SLUICE" logs --model spam --version 1 -n 0 --json ${since:+--since "$since"}))
echo "inference log: $RECORDS records, $((bytes >> 20)) MiB on disk (5 of 10 segments compressed); spam@1: $got (requests, 4xx)${since:+ since $since (the budget)} -- load $(cut -d' ' -f1 /proc/loadavg)"
printf '  %-48s median %7.1f ms  best %7.1f ms\n' "artifacts lineage spam@1 (with serving)" "${lin[@]}" \
	"models show spam@1 (with serving)" "${show[@]}" \
	"logs --model spam --version 1 -n 0 (reference)" "${logs[@]}"
"$PY" -c 'import sys; a, b = map(float, sys.argv[1:]); print("  lineage / logs: %.2fx the reference time (median)" % (a / b))' "${lin[0]}" "${logs[0]}"
