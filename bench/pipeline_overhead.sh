#!/usr/bin/env bash
# Engine overhead per step. Generates a 100-step chain and a 100-step
# fan-out of no-op command steps, runs each cold (fresh project) and fully
# cached, and compares the cold run with the same 100 commands started by a
# plain shell loop. Prints the overhead per step and the cached rerun time.
#
# Targets: <= 5 ms overhead per step (cold), <= 50 ms for a cached rerun of
# 100 steps. (ZenML spends seconds per step; it is not installable here.)
#
# usage: bench/pipeline_overhead.sh [path/to/sluice] [repeats]
set -euo pipefail
SLUICE=$(realpath "${1:-build/sluice}")
REPEATS=${2:-5}
N=100
W=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-XXXXXX")
trap 'rm -rf "$W"' EXIT

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

gen_chain() {
	echo "name: chain"; echo "steps:"
	echo "  s1:"; echo "    run: echo 1 > \"\${outputs.out}\""; echo "    outputs: [out]"
	for i in $(seq 2 $N); do
		echo "  s$i:"
		echo "    run: echo $i > \"\${outputs.out}\""
		echo "    inputs: { prev: s$((i - 1)).out }"
		echo "    outputs: [out]"
	done
}
gen_fanout() {
	echo "name: fanout"; echo "steps:"
	echo "  root:"; echo "    run: echo 0 > \"\${outputs.out}\""; echo "    outputs: [out]"
	for i in $(seq 2 $N); do
		echo "  s$i:"
		echo "    run: echo $i > \"\${outputs.out}\""
		echo "    inputs: { root: root.out }"
		echo "    outputs: [out]"
	done
}

# The peer: the same N commands, each through sh -c, from a plain loop.
shell_loop() {
	local d=$1 t0 t1
	mkdir -p "$d"
	t0=$(now)
	for i in $(seq 1 $N); do sh -c "echo $i > \"$d/o$i\""; done
	t1=$(now)
	echo $(( (t1 - t0) / 1000 ))
}

bench_one() {
	local kind=$1 cold=() cached=() loop=() i t0 t1
	for r in $(seq 1 "$REPEATS"); do
		local P="$W/$kind-$r"
		mkdir -p "$P" && cd "$P"
		"$SLUICE" init . >/dev/null
		gen_$kind > p.yaml
		t0=$(now); "$SLUICE" run p.yaml -q -j "$(nproc)"; t1=$(now)
		cold+=($(( (t1 - t0) / 1000 )))
		t0=$(now); "$SLUICE" run p.yaml -q -j "$(nproc)"; t1=$(now)
		cached+=($(( (t1 - t0) / 1000 )))
		loop+=($(shell_loop "$P/loop"))
		cd "$W"
	done
	local c=$(printf '%s\n' "${cold[@]}" | median)
	local k=$(printf '%s\n' "${cached[@]}" | median)
	local l=$(printf '%s\n' "${loop[@]}" | median)
	awk -v kind="$kind" -v n=$N -v c="$c" -v k="$k" -v l="$l" 'BEGIN {
		per = (c - l) / n / 1000.0
		printf "%-7s cold run %7.1f ms   shell loop %7.1f ms   overhead/step %5.2f ms (target <= 5)   cached rerun %6.1f ms (target <= 50)   cold/loop %.2fx\n",
			kind, c / 1000.0, l / 1000.0, per, k / 1000.0, c / l
	}'
}

echo "pipeline_overhead: $N no-op command steps, median of $REPEATS, $(nproc) cores"
bench_one chain
bench_one fanout
