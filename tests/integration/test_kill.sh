# kill -9 of `sluice run` mid-run, then a rerun: the database passes
# integrity_check, the killed run is recorded as failed, the rerun
# completes, and the steps that had finished come from the cache.
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
    run: touch ../slow.started; [ -e ../fast ] || sleep 30; echo 3 > "${outputs.out}"
    inputs: { x: second.out }
    outputs: [out]
Y
mkdir -p w && mv p.yaml w/ && cd w
"$SLUICE" run p.yaml -q & pid=$!
for i in $(seq 200); do [ -e ../slow.started ] && break; sleep 0.05; done
[ -e ../slow.started ] || fail "slow step never started"
kill -9 $pid
wait $pid 2>/dev/null || true
db_check
[ -n "$(ls ../.sluice/tmp)" ] || fail "the killed step's work folder should be there before the rerun"

touch ../fast
sl run p.yaml -q
[ "$(run_status)" = completed ] || fail "rerun"
[ "$(steps_with cached)" = "first second" ] || fail "finished steps should be cached: $(steps_with cached)"
[ "$(grep -c first ../count)" = 1 ] || fail "first ran twice"
# The killed step's work folder was swept.
[ -z "$(ls ../.sluice/tmp)" ] || fail "work folders left: $(ls ../.sluice/tmp)"
# The killed run no longer claims to be running.
[ "$(sl runs --json | js "d[1]['status']")" = failed ] || fail "killed run status"
db_check
echo ok
