# The Slurm orchestrator against a real single-node cluster (munge,
# slurmctld, slurmd) that this test starts in its folder with
# scripts/slurm.sh and stops when it ends (lib.sh: at_exit), whatever
# happens. Each step
# is a batch job running `sluice step-exec TASK.json`:
#
#   - the diamond: every step a job, data flowing between them, job ids in
#     `runs show`, a job's output is its step's log, resources mapped to
#     sbatch options (the step's, else sluice.yaml's defaults), partition
#     and account from sluice.yaml, a rerun served from the cache;
#   - failures: a step's own exit code and message; a job Slurm ends (here
#     cancelled from outside) fails its step with Slurm's state; the step's
#     timeout; a job sbatch refuses (an unknown partition) fails its step
#     with sbatch's word;
#   - cancellation: SIGTERM to `sluice run` cancels the run's jobs, and a
#     rerun resumes from the cache; a driver killed with -9 leaves its jobs
#     running, and the next run ends them;
#   - a 100-step fan-out, all jobs at once;
#   - the spam example's built-in steps, each in its own job.
. "$(dirname "$0")/lib.sh"

command -v slurmctld >/dev/null || fail "slurm-wlm is not installed (scripts/deps.sh installs it)"
[ "$(id -u)" -eq 0 ] || { echo "the test cluster needs root: skipped"; exit 0; }
CLUSTER="$T/cluster"
stop_cluster() {
	local f
	"$SRC/scripts/slurm.sh" stop "$CLUSTER" || return 1
	[ "$LIB_RC" = 0 ] && return 0
	for f in "$CLUSTER"/slurmctld.log "$CLUSTER"/slurmd.log; do
		[ ! -f "$f" ] || { echo "--- $f:" >&2; tail -n 15 "$f" >&2; }
	done
}
at_exit stop_cluster
t0=$(date +%s%N)
SLURM_CONF=$("$SRC/scripts/slurm.sh" start "$CLUSTER")
export SLURM_CONF
ms() { echo $(( ($(date +%s%N) - t0) / 1000000 )); }
echo "cluster up after $(ms) ms"
# The job's fields as scontrol shows them.
job_field() { scontrol -o show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
job_of() { sl runs show "${2:-latest}" --json | js "next(s['job_id'] for s in d['steps'] if s['name']=='$1')"; }

cat > sluice.yaml <<'Y'
stack:
  orchestrator: slurm
  slurm:
    partition: debug
    resources: { memory: 150M, time: 30m }
Y

# ---- the diamond ----------------------------------------------------------------
cat > diamond.yaml <<'Y'
name: diamond
steps:
  a:
    run: echo "a ran on $(hostname) as job $SLURM_JOB_ID"; echo a > "${outputs.o}"
    outputs: [o]
  b:
    run: cat "${inputs.x}" > "${outputs.o}"; echo b >> "${outputs.o}"
    inputs: { x: a.o }
    outputs: [o]
    resources: { cpus: 2, memory: 200M, time: 90s }
  c:
    run: cat "${inputs.x}" > "${outputs.o}"; echo c >> "${outputs.o}"
    inputs: { x: a.o }
    outputs: [o]
  d:
    run: cat "${inputs.x}" "${inputs.y}" > "${outputs.o}"
    inputs: { x: b.o, y: c.o }
    outputs: [o]
Y
sl run diamond.yaml -q || fail "diamond"
[ "$(steps_with completed)" = "a b c d" ] || fail "diamond steps: $(steps_with completed)"
d_out=$(sl runs show latest --json | js "next(s['outputs']['o'] for s in d['steps'] if s['name']=='d')")
sl artifacts export "$d_out" -o d.txt
[ "$(tr '\n' ' ' < d.txt)" = "a b a c " ] || fail "data through the jobs: $(cat d.txt)"
ids=$(sl runs show latest --json | js "' '.join(s['job_id'] for s in d['steps'])")
[ "$(echo "$ids" | wc -w)" = 4 ] || fail "a job id per step: $ids"
[ "$(echo "$ids" | tr ' ' '\n' | sort -u | wc -l)" = 4 ] || fail "distinct jobs: $ids"
contains "$(sl runs show latest)" "job: $(job_of a)"
# The job's output is the step's log.
contains "$(sl runs show latest --log a)" "a ran on $(hostname) as job $(job_of a)"
# Resources: the step's own, else the cluster's defaults; the partition.
b=$(job_of b)
[ "$(job_field "$b" NumCPUs)" = 2 ] || fail "cpus: $(job_field "$b" NumCPUs)"
[ "$(job_field "$b" MinMemoryNode)" = 200M ] || fail "memory: $(job_field "$b" MinMemoryNode)"
[ "$(job_field "$b" TimeLimit)" = 00:02:00 ] || fail "time, in minutes rounded up: $(job_field "$b" TimeLimit)"
c=$(job_of c)
[ "$(job_field "$c" MinMemoryNode)" = 150M ] || fail "default memory: $(job_field "$c" MinMemoryNode)"
[ "$(job_field "$c" TimeLimit)" = 00:30:00 ] || fail "default time: $(job_field "$c" TimeLimit)"
[ "$(job_field "$c" Partition)" = debug ] || fail "partition"
[ "$(job_field "$c" Comment)" = "sluice:$(sl runs show latest --json | js "next(s['step_run'] for s in d['steps'] if s['name']=='c')")" ] ||
	fail "the job names its step run"
[ "$(sl runs show latest --json | js "d['orchestrator']")" = slurm ] || fail "orchestrator recorded"
sl run diamond.yaml -q
[ "$(steps_with cached)" = "a b c d" ] || fail "rerun from the cache"
echo "diamond done after $(ms) ms"

# ---- failures -------------------------------------------------------------------------
cat > fail.yaml <<'Y'
name: failing
steps:
  bad:
    run: echo "about to fail" >&2; exit 3
    outputs: [o]
  after_bad:
    run: cp "${inputs.x}" "${outputs.o}"
    inputs: { x: bad.o }
    outputs: [o]
  killed:
    run: sleep 30
  slow:
    run: sleep 30
    timeout: 1
  good:
    run: echo fine > "${outputs.o}"
    outputs: [o]
Y
"$SLUICE" run fail.yaml -q > fail.out 2>&1 &
pid=$!
# Someone else cancels `killed`'s job once it runs.
for i in $(seq 200); do
	kj=$(squeue -h -t RUNNING -n sluice:failing:killed -o %i)
	[ -n "$kj" ] && break
	sleep 0.05
done
[ -n "$kj" ] || fail "killed never ran"
scancel "$kj"
set +e
wait $pid
rc=$?
set -e
[ $rc = 1 ] || fail "a failing step exits 1, not $rc: $(cat fail.out)"
[ "$(step_status bad)" = failed ] || fail "bad"
[ "$(step_status after_bad)" = skipped ] || fail "after_bad"
[ "$(step_status good)" = completed ] || fail "an independent step still completes"
show=$(sl runs show latest)
contains "$show" "error: exit code 3: about to fail"
sl runs show latest --json | js "next(s for s in d['steps'] if s['name']=='bad')['exit_code']" | grep -qx 3 || fail "exit code"
contains "$show" "crash: slurm job $kj ended CANCELLED"
contains "$show" "timeout: timed out after 1s"
[ "$(sl runs show latest --log bad)" = "about to fail" ] || fail "log of a failed job"
printf 'stack:\n  orchestrator: slurm\n  slurm: { partition: nosuch }\n' > sluice.yaml
expect_exit 1 sl run diamond.yaml --no-cache
contains "$(sl runs show latest)" "could not start: sbatch refused the job: sbatch: error: invalid partition specified: nosuch"
printf 'stack:\n  orchestrator: slurm\n' > sluice.yaml
echo "failures done after $(ms) ms"

# ---- cancellation and a dead driver ------------------------------------------------------
cat > cancel.yaml <<'Y'
name: cancelling
steps:
  quick:
    run: echo q > "${outputs.o}"
    outputs: [o]
  long1:
    run: sleep 60; cat "${inputs.i}" > "${outputs.o}"
    inputs: { i: quick.o }
    outputs: [o]
  long2:
    run: sleep 60
    inputs: { i: quick.o }
Y
running_jobs() { squeue -h -t PENDING,RUNNING -n "$1" -o %i | wc -l; }
wait_running() {
	for i in $(seq 200); do
		[ "$(squeue -h -t RUNNING -n sluice:cancelling:long1,sluice:cancelling:long2 -o %i | wc -l)" = 2 ] && return 0
		sleep 0.05
	done
	fail "the long jobs never ran"
}
"$SLUICE" run cancel.yaml > cancel.out 2>&1 &
pid=$!
wait_running
kill -TERM $pid
set +e
wait $pid
rc=$?
set -e
[ $rc != 0 ] || fail "a cancelled run does not exit 0"
[ "$(run_status)" = cancelled ] || fail "run status: $(run_status)"
[ "$(steps_with cancelled)" = "long1 long2" ] || fail "cancelled steps: $(steps_with cancelled)"
[ "$(running_jobs sluice:cancelling:long1,sluice:cancelling:long2)" = 0 ] || fail "scancel on the run's jobs"
[ "$(job_field "$(job_of long1)" JobState)" = CANCELLED ] || fail "long1's job"
# The rerun resumes from the cache: quick is not run again.
sed -i 's/sleep 60/sleep 0.1/' cancel.yaml
sl run cancel.yaml -q
[ "$(steps_with cached)" = quick ] || fail "resume from the cache: $(steps_with cached)"
[ "$(steps_with completed)" = "long1 long2" ] || fail "the rest ran"
sed -i 's/sleep 0.1/sleep 60/' cancel.yaml
# kill -9: the jobs outlive their driver; the next run ends them.
"$SLUICE" run cancel.yaml --no-cache > kill.out 2>&1 &
pid=$!
wait_running
dead=$(sl runs show latest --json | js "d['run']")
{ kill -KILL $pid && wait $pid; } 2>/dev/null || true
[ "$(running_jobs sluice:cancelling:long1,sluice:cancelling:long2)" = 2 ] || fail "the jobs outlive a killed driver"
sl run diamond.yaml -q
[ "$(running_jobs sluice:cancelling:long1,sluice:cancelling:long2)" = 0 ] || fail "the next run ends them"
[ "$(run_status "$dead")" = failed ] || fail "the dead run is recorded as failed"
[ "$(sl runs show "$dead" --json | js "sorted(set(s['reason'] for s in d['steps'] if s['status'] == 'failed'))")" = "['interrupted']" ] ||
	fail "interrupted steps"
echo "cancellation done after $(ms) ms"

# ---- a 100-step fan-out --------------------------------------------------------------------
{
	echo "name: fan"
	echo "steps:"
	for i in $(seq 100); do
		echo "  s$i:"
		echo "    run: echo $i > \"\${outputs.o}\""
		echo "    outputs: [o]"
	done
	echo "  all:"
	echo "    run: cat $(for i in $(seq 100); do printf '"${inputs.i%d}" ' "$i"; done)| wc -l > \"\${outputs.o}\""
	printf '    inputs: {'
	for i in $(seq 100); do printf ' i%d: s%d.o,' "$i" "$i"; done
	echo ' }'
	echo "    outputs: [o]"
} > fan.yaml
f0=$(date +%s%N)
sl run fan.yaml -q || fail "fan-out"
echo "100-step fan-out in $(( ($(date +%s%N) - f0) / 1000000 )) ms"
[ "$(sl runs show latest --json | js "len([s for s in d['steps'] if s['status']=='completed'])")" = 101 ] || fail "101 steps"
[ "$(sl runs show latest --json | js "len(set(s['job_id'] for s in d['steps']))")" = 101 ] || fail "101 jobs"
all=$(sl runs show latest --json | js "next(s['outputs']['o'] for s in d['steps'] if s['name']=='all')")
sl artifacts export "$all" -o all.txt
[ "$(tr -d ' ' < all.txt)" = 100 ] || fail "every branch's output reached the last step"

# ---- the spam example: built-in steps in jobs -----------------------------------------------
mkdir spam && cp -r "$SRC/examples/spam/." spam/
cd spam
sl run train.yaml --json > run.json 2>run.err || fail "spam on slurm: $(tail -5 run.err)"
[ "$(js "d['status']" < run.json)" = completed ] || fail "spam status"
[ "$(js "len(set(s['job_id'] for s in d['steps']))" < run.json)" = "$(js "len(d['steps'])" < run.json)" ] ||
	fail "one job per built-in step"
[ "$(js "next(s['metrics']['rows'] for s in d['steps'] if s['name']=='ingest')" < run.json)" = 4601.0 ] ||
	fail "ingest rows"
sl run train.yaml -q
[ "$(steps_with completed)" = "" ] || fail "the spam rerun is cached"
cd ..
db_check
echo "ok after $(ms) ms"
