#!/usr/bin/env bash
# One monitoring window of the newest N requests read from a large
# inference log (issue 10: monitoring's cost must follow the window, not
# the log): the tail read `sluice monitor report` and the server's drift
# gauges do (newest record first), against the full forward scan, in the
# same run; both must give the same window. Three figures for the tail: a
# first pass; the next pass with nothing new (carried over); and a pass
# after the server appended MONITOR_TAIL_APPEND more requests (carried
# over, reading only those). A log of 200,000 spambase-wide requests with
# feedback for half of them, in segments of MONITOR_TAIL_SEGMENT bytes (the
# server's default 64 MiB), closed ones compressed.
#
#   bash bench/monitor_tail.sh [path/to/sluice]
# Environment: MONITOR_TAIL_RECORDS (200000), MONITOR_TAIL_SEGMENT
# (67108864), MONITOR_TAIL_WINDOW (1000), MONITOR_TAIL_APPEND (500),
# MONITOR_TAIL_REPEATS (3), TMPDIR.
set -euo pipefail
dir=${TMPDIR:-/tmp}/sluice-bench-monitor-tail
mkdir -p "$dir"
. "$(dirname "$0")/lib.sh"
N=${MONITOR_TAIL_RECORDS:-200000}
SEG=${MONITOR_TAIL_SEGMENT:-67108864}
W=${MONITOR_TAIL_WINDOW:-1000}
REPS=${MONITOR_TAIL_REPEATS:-3}
APP=${MONITOR_TAIL_APPEND:-500}

bench_cc monitor_tail_bench "$here/monitor_tail_bench.c"
rm -rf "$dir/log"
r=$("$dir/monitor_tail_bench" "$dir/log" "$N" "$SEG" "$W" "$REPS" "$APP")
rm -rf "$dir/log"
"$PY" - "$r" <<'PYEOF'
import json, sys
r = json.loads(sys.argv[1])
print(f"monitor window of {r['window']} from a log of {r['records']} requests "
      f"({r['labelled']} of the window labelled)")
print(f"  full scan            {r['full_ms']:9.1f} ms  cpu {r['full_cpu_ms']:9.1f} ms")
for k, what in (("cold", "tail, first pass"), ("again", "tail, nothing new"),
                ("grown", f"tail, {r['appended']} new")):
    print(f"  {what:20s} {r[k + '_ms']:9.2f} ms  cpu {r[k + '_cpu_ms']:9.2f} ms"
          f"   ({r['full_cpu_ms'] / max(r[k + '_cpu_ms'], 0.01):.0f}x less cpu)")
PYEOF
