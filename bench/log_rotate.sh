#!/usr/bin/env bash
# How long a log rotation holds the other requests (src/serve/log.c,
# "Why ahead"): a writer of LOG_ROTATE_RATE records of 300 bytes a second
# on CPU 1 with the log's threads (a server on one core), segments of
# LOG_ROTATE_SEGMENT bytes, the next segment made ready ahead by the helper
# or made by the rotation itself (the fallback when the helper is behind),
# LOG_ROTATE_ROUNDS interleaved rounds of LOG_ROTATE_SECONDS each. Prints,
# per mode, the medians over the rounds of each kind's share of rotations
# within 128 us, median, 90th percentile (bucket bounds) and mean.
#
#   bash bench/log_rotate.sh [path/to/sluice]
# Environment: LOG_ROTATE_RATE (30000), LOG_ROTATE_SEGMENT (1048576),
# LOG_ROTATE_SECONDS (5), LOG_ROTATE_ROUNDS (5), TMPDIR.
set -euo pipefail
dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-log-rotate-XXXXXX")
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"
RATE=${LOG_ROTATE_RATE:-30000}
SEG=${LOG_ROTATE_SEGMENT:-1048576}
SECS=${LOG_ROTATE_SECONDS:-5}
ROUNDS=${LOG_ROTATE_ROUNDS:-5}
if [ "$(nproc)" -lt 2 ]; then
	echo "log_rotate: needs two CPUs (the writer runs on CPU 1)" >&2
	exit 2
fi
bench_cc log_rotate_bench "$here/log_rotate_bench.c"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the start" >&2
for r in $(seq "$ROUNDS"); do
	for ahead in 1 0; do
		rm -rf "$dir/log"
		"$dir/log_rotate_bench" "$dir/log" "$SEG" "$RATE" "$SECS" "$ahead"
	done
done >"$dir/runs"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end" >&2
"$PY" - "$dir/runs" <<'PYEOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
med = statistics.median
print("  %-30s %6s %10s %8s %8s %9s" % ("rotations", "count", "<=128 us", "p50", "p90", "mean"))
for ahead, label in ((1, "next segment ready ahead"), (0, "made by the rotation")):
    r = [x for x in runs if x["ahead"] == ahead]
    for k in ("segment", "chunk"):
        b = lambda v: "more" if v >= 1e9 else "%d us" % v
        print("  %-30s %6d %9.0f%% %8s %8s %6.0f us" % (
            "%s: %s" % (label, k) if k == "segment" else "  chunk", med(x[k]["n"] for x in r),
            100 * med(x[k]["within_128us"] for x in r), b(med(x[k]["p50_us"] for x in r)),
            b(med(x[k]["p90_us"] for x in r)), med(x[k]["mean_us"] for x in r)))
    print("  %-30s %d of %d" % ("  new segments found ready", sum(x["seg_ready"] for x in r),
                                sum(x["seg_ready"] + x["seg_unready"] for x in r)))
PYEOF
