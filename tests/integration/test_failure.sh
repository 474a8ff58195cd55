# A failing step fails the run (exit 1), its dependents are skipped, an
# independent branch still finishes; the reason and the log are kept.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

cat > p.yaml <<'Y'
name: failing
steps:
  bad:
    run: echo "about to fail" >&2; exit 3
    outputs: [out]
  after_bad:
    run: cp "${inputs.x}" "${outputs.out}"
    inputs: { x: bad.out }
    outputs: [out]
  after_after:
    run: cp "${inputs.x}" "${outputs.out}"
    inputs: { x: after_bad.out }
    outputs: [out]
  good:
    run: sleep 0.3; echo fine > "${outputs.out}"
    outputs: [out]
  lazy:
    run: "true"
    outputs: [never_written]
  folder:
    run: mkdir -p "${outputs.d}"
    outputs: [d]
  stuck:
    run: sleep 60; echo late > "${outputs.o}"
    timeout: 1
    outputs: [o]
  stubborn:
    run: trap '' TERM; sleep 60 & wait; echo > "${outputs.o}"
    timeout: 0.5
    outputs: [o]
  after_stuck:
    run: cp "${inputs.x}" "${outputs.o}"
    inputs: { x: stuck.o }
    outputs: [o]
Y
expect_exit 1 sl run p.yaml
[ "$(run_status)" = failed ] || fail "run status"
[ "$(step_status bad)" = failed ] || fail "bad"
[ "$(step_status after_bad)" = skipped ] || fail "after_bad"
[ "$(step_status after_after)" = skipped ] || fail "after_after"
[ "$(step_status good)" = completed ] || fail "good must finish"
[ "$(step_status lazy)" = failed ] || fail "an undeclared output fails the step"
[ "$(step_status folder)" = failed ] || fail "a directory output fails the step"
[ "$(step_status stuck)" = failed ] || fail "a step past its timeout fails"
[ "$(step_status after_stuck)" = skipped ] || fail "what follows a timed-out step is skipped"
[ "$(step_status stubborn)" = failed ] || fail "a step ignoring SIGTERM is killed after the grace period"
sl runs show latest --json | js "next(s for s in d['steps'] if s['name']=='bad')['exit_code']" | grep -qx 3 || fail "exit code"
show=$(sl runs show latest)
contains "$show" "about to fail"
contains "$show" "declared output 'never_written' was not written"
contains "$show" "upstream step 'bad' failed"
contains "$show" "declared output 'd' is a directory"
contains "$show" "timed out after 1s"
contains "$show" "timed out after 0.5s"
[ "$(sl runs show latest --log bad)" = "about to fail" ] || fail "log"
db_check
echo ok
