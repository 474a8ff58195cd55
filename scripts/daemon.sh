# What the scripts that start test servers (pg.sh, slurm.sh) share; sourced.

# alive PID: true while PID is a live process. A zombie still answers
# kill -0, and exited daemons can stay zombies for a while before PID 1
# reaps them, so look at the state letter in /proc instead.
alive() {
	local stat state
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	state=${stat##*) }
	state=${state%% *}
	[ "$state" != Z ] && [ "$state" != X ]
}
