# SIGTERM (and SIGINT) stop the running steps, including what their shell
# started, and record the run and its steps as cancelled.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

cat > p.yaml <<'Y'
name: cancel
steps:
  sleeper:
    run: echo $$ > ../sleeper.pid; touch ../started; sleep 60; echo > "${outputs.out}"
    outputs: [out]
  after:
    run: cp "${inputs.x}" "${outputs.out}"
    inputs: { x: sleeper.out }
    outputs: [out]
Y
mkdir -p w && mv p.yaml w/ && cd w
for sig in TERM INT; do
	rm -f ../started
	"$SLUICE" run p.yaml -q & pid=$!
	for i in $(seq 200); do [ -e ../started ] && break; sleep 0.05; done
	[ -e ../started ] || fail "step never started"
	kill -$sig $pid
	set +e; wait $pid; rc=$?; set -e
	[ $rc -eq 1 ] || fail "exit status after SIG$sig: $rc"
	[ "$(run_status)" = cancelled ] || fail "run status after SIG$sig: $(run_status)"
	[ "$(step_status sleeper)" = cancelled ] || fail "sleeper after SIG$sig"
	[ "$(step_status after)" = cancelled ] || fail "after after SIG$sig"
	spid=$(cat ../sleeper.pid)
	state=$(awk '{print $3}' /proc/$spid/stat 2>/dev/null || echo gone)
	[ "$state" = gone ] || [ "$state" = Z ] || fail "step process $spid survived SIG$sig ($state)"
done
db_check
echo ok
