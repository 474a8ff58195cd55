#!/usr/bin/env bash
# Ingest benchmark: sluice's CSV reader (the engine behind ingest.csv)
# against pandas read_csv on the same generated mixed-type CSV, in the same
# run. Prints MB/s of each, the ratio, and each one's peak resident memory
# beside the size of the dataset sluice produced.
#
#   bash bench/ingest.sh [path/to/sluice]     (its build directory provides
#                                              libsluice.a)
# Environment: INGEST_MB (default 200) sizes the CSV; INGEST_RUNS (default 3)
# runs each side that many times, each in a fresh process, and keeps the
# fastest; TMPDIR decides where the CSV is generated (once, then reused).
# Target (issue 3): at least 5x pandas's throughput, and peak memory at most
# 2x the dataset's in-memory size.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
SLUICE=$(realpath "${1:-$root/build/sluice}")
build=$(dirname "$SLUICE")
lib=$build/libsluice.a
MB=${INGEST_MB:-200}
RUNS=${INGEST_RUNS:-3}
PY=/usr/bin/python3
dir=${TMPDIR:-/tmp}/sluice-bench-ingest
mkdir -p "$dir"

if [ ! -f "$lib" ]; then
	echo "ingest: $lib not found (build first)" >&2
	exit 2
fi
cc -O2 -o "$dir/gen_csv" "$here/gen_csv.c"
cc -O2 -D_GNU_SOURCE -I"$root/include" -I"$root/src" -I"$root/src/core" \
	-o "$dir/ingest_bench" "$here/ingest_bench.c" "$lib" \
	$(pkg-config --libs yaml-0.1 jansson sqlite3 libcrypto libzstd libpq libmicrohttpd libxxhash) \
	-lpthread -lm -ldl
csv=$dir/data-$MB.csv
if [ ! -s "$csv" ]; then
	"$dir/gen_csv" "$MB" > "$csv.tmp"
	mv "$csv.tmp" "$csv"
fi
cat "$csv" > /dev/null # both sides read from a warm page cache

best() { # field, then JSON lines on stdin: prints the line with the smallest field
	"$PY" -c 'import json,sys; f=sys.argv[1]; r=[json.loads(l) for l in sys.stdin if l.strip()]; print(json.dumps(min(r, key=lambda x: x[f])))' "$1"
}

s=$(for i in $(seq "$RUNS"); do
	rm -f "$dir/out.ds"
	"$dir/ingest_bench" "$csv" "$dir/out.ds"
done | best seconds)
rm -f "$dir/out.ds"

p=$(for i in $(seq "$RUNS"); do
	"$PY" - "$csv" <<'PYEOF'
import json, os, resource, sys, time
import pandas as pd
path = sys.argv[1]
t0 = time.monotonic()
df = pd.read_csv(path)
t1 = time.monotonic()
size = os.path.getsize(path)
print(json.dumps({"seconds": round(t1 - t0, 3), "mb_per_s": round(size / 1e6 / (t1 - t0), 1),
                  "rows": len(df), "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "memory_usage_bytes": int(df.memory_usage(deep=True).sum())}))
PYEOF
done | best seconds)

"$PY" - "$s" "$p" "$MB" <<'PYEOF'
import json, sys
s, p, mb = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
ratio = s["mb_per_s"] / p["mb_per_s"]
ds_mb = s["dataset_bytes"] / 1e6
mem_ratio = s["peak_rss_kb"] * 1024 / s["dataset_bytes"]
print(f"ingest of a {mb} MB mixed-type CSV ({s['rows']} rows)")
print(f"  sluice  {s['mb_per_s']:8.1f} MB/s  {s['seconds']:6.2f} s  peak RSS {s['peak_rss_kb']/1024:7.1f} MiB"
      f"  (dataset {ds_mb:.1f} MB; peak/dataset {mem_ratio:.2f}x)")
print(f"  pandas  {p['mb_per_s']:8.1f} MB/s  {p['seconds']:6.2f} s  peak RSS {p['peak_rss_kb']/1024:7.1f} MiB"
      f"  (DataFrame {p['memory_usage_bytes']/1e6:.1f} MB deep)")
print(f"  ratio   {ratio:.2f}x pandas throughput (target >= 5x); "
      f"memory {'within' if mem_ratio <= 2 else 'above'} 2x the dataset")
PYEOF
