#!/usr/bin/env bash
# A throwaway single-node Slurm cluster for tests and benchmarks, without
# systemd: munge, slurmctld and slurmd on this machine, as root.
#
#   scripts/slurm.sh start DIR   write a configuration and start the three
#                                daemons; prints the path of slurm.conf
#                                (clients need SLURM_CONF set to it)
#   scripts/slurm.sh stop DIR    stop them (a no-op when nothing runs)
#
# Everything lives under DIR: slurm.conf, the munge key and socket, the
# controller's state, the node's spool, pid files and logs (*.log). The
# controller and the node listen on free ports on 127.0.0.1, so several
# clusters (one per test run) can live on one machine. The node offers
# SLURM_TEST_CPUS CPUs (default 16, more than this machine may have: the
# tests' jobs are small, and a 100-step fan-out should not queue behind two
# cores) and most of the machine's memory, 100 MB per CPU to a job that
# does not say; there are no GPUs.
#
# The scheduler is tuned for tests: it looks at its queue every second
# (sched_interval=1; the default makes each step of a pipeline wait ~3 s
# more), a cancelled job gets SIGKILL 2 s after SIGTERM (KillWait=2), and
# finished jobs stay visible to squeue and scontrol for 5 minutes
# (MinJobAge=300) since accounting is off (accounting_storage/none: there
# is no slurmdbd, so sacct has nothing to say).
#
# Both verbs are idempotent; `stop` works whatever state `start` left.
# Stopped daemons may stay zombies for a moment (PID 1 reaps them late), so
# liveness is read from /proc/PID/stat, not from kill -0.
set -euo pipefail
. "$(dirname "$0")/daemon.sh"

die() { echo "slurm.sh: $*" >&2; exit 1; }

usage() {
	echo "usage: slurm.sh start DIR | stop DIR" >&2
	exit 2
}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# stop_pid FILE: TERM, then KILL, the daemon whose pid FILE holds.
stop_pid() {
	local f=$1 pid sig i
	[ -f "$f" ] || return 0
	read -r pid <"$f" || true
	case $pid in '' | *[!0-9]*) rm -f "$f"; return 0 ;; esac
	for sig in TERM KILL; do
		alive "$pid" || break
		kill -"$sig" "$pid" 2>/dev/null || true
		for i in $(seq 50); do
			alive "$pid" || break
			sleep 0.1
		done
	done
	alive "$pid" && die "daemon $pid ($f) does not stop"
	rm -f "$f"
}

cmd_stop() {
	local dir=$1
	[ -d "$dir" ] || return 0
	# The node first: it ends the jobs it runs; then the controller, then munge.
	stop_pid "$dir/slurmd.pid"
	stop_pid "$dir/slurmctld.pid"
	stop_pid "$dir/munged.pid"
	# Jobs a killed slurmd left behind (slurmstepd and what it started).
	pkill_tree "$dir"
	return 0
}

# Kills slurmstepd processes whose spool directory is this cluster's.
pkill_tree() {
	local dir=$1 p cmd
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		case $cmd in
		*slurmstepd*) grep -qs "$dir/spool" "$p/environ" 2>/dev/null && kill -KILL "${p#/proc/}" 2>/dev/null || true ;;
		esac
	done
}

# wait_for WHAT CMD...: runs CMD until it succeeds, for up to 15 s.
wait_for() {
	local what=$1 i
	shift
	for i in $(seq 150); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "$what did not come up (logs in $dir)"
}

cmd_start() {
	local dir=$1 host cpus mem ctl_port node_port
	[ "$(id -u)" -eq 0 ] || die "the test cluster runs its daemons as root"
	command -v slurmctld >/dev/null && command -v munged >/dev/null ||
		die "slurm-wlm and munge are not installed (run scripts/deps.sh)"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ -f "$dir/slurmctld.pid" ] && alive "$(cat "$dir/slurmctld.pid")"; then
		echo "$dir/slurm.conf"
		return 0
	fi
	cmd_stop "$dir"
	rm -rf "$dir/state" "$dir/spool" "$dir/munge"
	mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
	chmod 0755 "$dir" "$dir/munge"
	chmod 0700 "$dir/state" "$dir/spool"

	# munge: its own key and socket.
	dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
	chmod 0400 "$dir/munge/munge.key"
	munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/sock" \
		--pid-file="$dir/munged.pid" --log-file="$dir/munged.log" \
		--seed-file="$dir/munge/seed" 2>>"$dir/munged.log" ||
		die "munged did not start: $(tail -n 3 "$dir/munged.log")"

	host=$(hostname -s)
	cpus=${SLURM_TEST_CPUS:-16}
	mem=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
	ctl_port=$(free_port)
	node_port=$(free_port)
	cat >"$dir/slurm.conf" <<EOF
ClusterName=sluice-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$node_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=100
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1,sched_min_interval=100000
MinJobAge=300
KillWait=2
ReturnToService=2
InactiveLimit=0
SlurmdTimeout=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
	export SLURM_CONF=$dir/slurm.conf
	# -i: start afresh, ignoring state an earlier cluster in DIR saved.
	slurmctld -f "$dir/slurm.conf" -i 2>>"$dir/slurmctld.log" ||
		die "slurmctld did not start: $(tail -n 3 "$dir/slurmctld.log")"
	wait_for slurmctld scontrol ping
	slurmd -f "$dir/slurm.conf" -N "$host" 2>>"$dir/slurmd.log" ||
		die "slurmd did not start: $(tail -n 3 "$dir/slurmd.log")"
	wait_for "the node" sh -c "sinfo -h -o %t | grep -qx idle"
	echo "$dir/slurm.conf"
}

[ $# -eq 2 ] || usage
case $1 in
start) cmd_start "$2" ;;
stop) cmd_stop "$2" ;;
*) usage ;;
esac
