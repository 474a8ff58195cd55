#!/usr/bin/env bash
# The model registry at 10,000 versions: how long `sluice models` and
# `sluice models show` take, end to end through the real command (process
# start, opening the store, the queries, JSON, printing), for one model with
# 10,000 versions and for 1,000 models of 10 versions. Target: <= 50 ms each.
# MLflow, the peer users know, is not in Debian; the target stands in for it.
#
#   bash bench/registry.sh [path/to/sluice]     (its build directory provides
#                                                libsluice.a)
# Environment: REGISTRY_RUNS (default 7; the median and the best are shown).
set -euo pipefail
dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-registry-XXXXXX")
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"
RUNS=${REGISTRY_RUNS:-7}

bench_cc registry_bench "$here/registry_bench.c"
load() { cut -d' ' -f1 /proc/loadavg; }

report() { # report LABEL MEDIAN BEST
	awk -v l="$1" -v m="$2" -v b="$3" 'BEGIN {
		printf "  %-34s %6.1f ms (best %5.1f)   target 50 ms: %s (%.2fx of it)\n", l, m, b,
			m <= 50 ? "met" : "MISSED", m / 50 }'
}

one() { # one MODELS VERSIONS NAME
	local P="$dir/p-$1x$2"
	fill=$("$dir/registry_bench" "$P" "$1" "$2")
	echo "$1 model(s) x $2 versions: $fill"
	cd "$P"
	report "models" $(time_ms "$SLUICE" models)
	report "models --json" $(time_ms "$SLUICE" models --json)
	report "models show $3" $(time_ms "$SLUICE" models show "$3")
	report "models show $3 --json" $(time_ms "$SLUICE" models show "$3" --json)
	report "models show $3@production" $(time_ms "$SLUICE" models show "$3@production")
	report "models --tag dataset=2026-11 --json" $(time_ms "$SLUICE" models --tag dataset=2026-11 --json)
	cd "$dir"
}

echo "registry: median of $RUNS runs through the sluice command, $(nproc) cores, load $(load)"
one 1 10000 model-0000
one 1000 10 model-0042
echo "  (load at the end: $(load))"
