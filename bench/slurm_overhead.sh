#!/usr/bin/env bash
# Engine overhead per step on Slurm. On a single-node cluster this script
# starts (scripts/slurm.sh, stopped on exit), the same no-op commands run
# three ways in the same run:
#
#   sluice      `sluice run` with stack.orchestrator: slurm (each step a job
#               running `sluice step-exec`, submitted when it is ready,
#               followed with squeue/scontrol, recorded in the store)
#   sbatch-wait each command through `sbatch --wait`, the plain way
#   poll        each command through `sbatch --parsable`, then squeue every
#               0.1 s until it ends: the tightest a script would poll
#
# for a chain of CHAIN steps (every hop waits for the one before: Slurm's
# scheduling cycle, one second on this cluster, dominates) and a fan-out of
# FAN steps submitted at once. Printed: wall time of each, sluice's
# overhead per step against each peer, and the ratio. The machine may be
# shared: compare the ratios measured in the same run; the load average is
# printed with them.
#
# usage: bench/slurm_overhead.sh [path/to/sluice] [chain] [fan]
set -euo pipefail
SLUICE=$(realpath "${1:-build/sluice}")
CHAIN=${2:-20}
FAN=${3:-100}
SRC=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ] || ! command -v slurmctld >/dev/null; then
	echo "slurm_overhead: needs root and slurm-wlm (scripts/deps.sh): skipped"
	exit 0
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-XXXXXX")
trap '"$SRC/scripts/slurm.sh" stop "$W/cluster"; rm -rf "$W"' EXIT
SLURM_CONF=$("$SRC/scripts/slurm.sh" start "$W/cluster")
export SLURM_CONF

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
load() { cut -d' ' -f1 /proc/loadavg; }

gen() { # gen chain|fan N
	echo "name: $1"
	echo "steps:"
	for i in $(seq 1 "$2"); do
		echo "  s$i:"
		echo "    run: echo $i > \"\${outputs.out}\""
		if [ "$1" = chain ] && [ "$i" -gt 1 ]; then
			echo "    inputs: { prev: s$((i - 1)).out }"
		fi
		echo "    outputs: [out]"
	done
}

with_sluice() { # with_sluice chain|fan N: ms
	local d="$W/p-$1" t0 t1
	mkdir -p "$d"
	(cd "$d" && "$SLUICE" init . >/dev/null && printf 'stack:\n  orchestrator: slurm\n' > sluice.yaml)
	gen "$1" "$2" > "$d/p.yaml"
	t0=$(now)
	(cd "$d" && "$SLUICE" run p.yaml -q --no-cache)
	t1=$(now)
	ms "$t0" "$t1"
}

with_wait() { # with_wait chain|fan N: ms
	local d="$W/w-$1" t0 t1 i
	mkdir -p "$d"
	t0=$(now)
	if [ "$1" = chain ]; then
		for i in $(seq 1 "$2"); do
			sbatch --wait -Q -o /dev/null --wrap "echo $i > $d/o$i" >/dev/null
		done
	else
		for i in $(seq 1 "$2"); do
			sbatch --wait -Q -o /dev/null --wrap "echo $i > $d/o$i" >/dev/null &
		done
		wait
	fi
	t1=$(now)
	ms "$t0" "$t1"
}

# Waits for the listed jobs to leave the queue's live states, looking every 0.1 s.
poll_done() {
	local ids=$1
	while squeue -h -j "$ids" -t PENDING,RUNNING,COMPLETING,CONFIGURING -o %i 2>/dev/null | grep -q .; do
		sleep 0.1
	done
}

with_poll() { # with_poll chain|fan N: ms
	local d="$W/q-$1" t0 t1 i id ids=""
	mkdir -p "$d"
	t0=$(now)
	for i in $(seq 1 "$2"); do
		id=$(sbatch --parsable -o /dev/null --wrap "echo $i > $d/o$i")
		if [ "$1" = chain ]; then
			poll_done "$id"
		else
			ids="$ids${ids:+,}$id"
		fi
	done
	[ -z "$ids" ] || poll_done "$ids"
	t1=$(now)
	ms "$t0" "$t1"
}

echo "slurm_overhead: $CHAIN-step chain, $FAN-step fan-out, load $(load) at start"
for shape in chain fan; do
	n=$CHAIN
	[ "$shape" = fan ] && n=$FAN
	s=$(with_sluice "$shape" "$n")
	w=$(with_wait "$shape" "$n")
	p=$(with_poll "$shape" "$n")
	awk -v shape="$shape" -v n="$n" -v s="$s" -v w="$w" -v p="$p" 'BEGIN {
		printf "%-5s %3d steps: sluice %6d ms   sbatch --wait %6d ms   submit+poll %6d ms\n", shape, n, s, w, p
		printf "      per step: sluice %.0f ms, %+.0f ms against sbatch --wait (ratio %.2f), %+.0f ms against submit+poll (ratio %.2f)\n",
			s / n, (s - w) / n, s / w, (s - p) / n, s / p
	}'
done
echo "load $(load) at the end"
