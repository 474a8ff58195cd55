#!/usr/bin/env bash
# How late a thread wakes beside the inference log helper's writes of
# zeros, by the size of each write (src/serve/log.c, prepare; the
# p99 part of docs/serving.md): a writer of 4 MiB every 0.1 s at the
# helper's priority, and a thread sleeping 0.1 ms in a loop, both on CPU 1,
# for each piece size in turn, in PREP_WAKE_ROUNDS interleaved rounds of
# PREP_WAKE_SECONDS each; piece 0 is the sleeper alone (the floor).
# Reports, per piece size, the median over the rounds of the share of
# wakeups more than 0.5 ms late and of the 99th percentile lateness. The
# writes' own durations: `strace -T -p HELPER_TID` on a loaded server.
#
#   bash bench/prep_wake.sh
# Environment: PREP_WAKE_ROUNDS (3), PREP_WAKE_SECONDS (3), TMPDIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-prep-wake-XXXXXX")
trap 'rm -rf "$dir"' EXIT
ROUNDS=${PREP_WAKE_ROUNDS:-3}
SECS=${PREP_WAKE_SECONDS:-3}
if [ "$(nproc)" -lt 2 ]; then
	echo "prep_wake: needs two CPUs (the pair runs on CPU 1)" >&2
	exit 2
fi
cc -O2 -D_GNU_SOURCE -o "$dir/prep_wake_bench" "$here/prep_wake_bench.c" -lpthread
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the start" >&2
for r in $(seq "$ROUNDS"); do
	for p in 0 1048576 131072; do
		"$dir/prep_wake_bench" "$dir" "$p" "$SECS"
	done
done >"$dir/runs"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end" >&2
/usr/bin/python3 - "$dir/runs" <<'PYEOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
print("  %-22s %14s %12s" % ("writes of zeros", "late > 0.5 ms", "p99 late"))
for p, label in ((0, "none (the floor)"), (1048576, "1 MiB each"), (131072, "128 KiB each")):
    r = [x for x in runs if x["piece"] == p]
    print("  %-22s %13.2f%% %9.0f us" % (label, statistics.median(x["late_500us_pct"] for x in r),
                                         statistics.median(x["p99_us"] for x in r)))
PYEOF
