# kill -9 of `sluice run` mid-run, then a rerun: the step's process dies
# with its driver, the database passes integrity_check, the killed run is
# recorded as failed, what the step left running (a background process of
# its shell) is ended by the next run, the rerun completes, and the steps that
# had finished come from the cache.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

cat > p.yaml <<'Y'
name: killme
steps:
  first:
    run: echo first >> ../count; echo 1 > "${outputs.out}"
    outputs: [out]
  second:
    run: echo second >> ../count; cat "${inputs.x}" > "${outputs.out}"
    inputs: { x: first.out }
    outputs: [out]
  slow:
    run: echo $$ > ../slow.pid; [ -e ../fast ] || { sleep 60 & echo $! > ../left.pid; }; touch ../slow.started; [ -e ../fast ] || sleep 30; echo 3 > "${outputs.out}"
    inputs: { x: second.out }
    outputs: [out]
Y
mkdir -p w && mv p.yaml w/ && cd w
"$SLUICE" run p.yaml -q & pid=$!
for i in $(seq 600); do [ -e ../slow.started ] && break; sleep 0.05; done
[ -e ../slow.started ] || fail "slow step never started"
# A started step's row commits with the round that started it, a moment
# after its process (sched.c, design note 2): the kill is meant for a step
# the store knows is running, so it waits for that commit. (Killed before
# it, the run has no row for the step: "not finished", as note 2 allows.)
for i in $(seq 200); do
	[ "$(step_status slow 2>/dev/null)" = running ] && break
	sleep 0.05
done
[ "$(step_status slow)" = running ] || fail "the slow step is not recorded as running"
kill -9 $pid
wait $pid 2>/dev/null || true
# gone or a zombie (PID 1 may reap late)
gone() { local s; s=$(awk '{print $3}' /proc/$1/stat 2>/dev/null || echo gone); [ "$s" = gone ] || [ "$s" = Z ]; }
for i in $(seq 500); do gone "$(cat ../slow.pid)" && break; sleep 0.02; done
gone "$(cat ../slow.pid)" || fail "the step's process outlived its driver"
left=$(cat ../left.pid)
gone "$left" && fail "the test needs a leftover: its background sleep should still run"
db_check
[ -n "$(ls ../.sluice/tmp)" ] || fail "the killed step's work folder should be there before the rerun"

touch ../fast
sl run p.yaml -q
# The next run ended what the dead run's step left behind.
for i in $(seq 500); do gone "$left" && break; sleep 0.02; done
gone "$left" || fail "the dead run's leftover process $left is still running"
[ "$(run_status)" = completed ] || fail "rerun"
[ "$(steps_with cached)" = "first second" ] || fail "finished steps should be cached: $(steps_with cached)"
[ "$(grep -c first ../count)" = 1 ] || fail "first ran twice"
# The killed step's work folder was swept.
[ -z "$(ls ../.sluice/tmp)" ] || fail "work folders left: $(ls ../.sluice/tmp)"
# The killed run no longer claims to be running.
[ "$(sl runs --json | js "d[1]['status']")" = failed ] || fail "killed run status"
killed=$(sl runs --json | js "d[1]['run']")
[ "$(step_status slow "$killed")" = failed ] || fail "the killed run's step status"
sl runs show "$killed" --json | js "next(s for s in d['steps'] if s['name']=='slow')['reason']" | grep -qx interrupted || fail "reason of the killed step"
db_check
echo ok
