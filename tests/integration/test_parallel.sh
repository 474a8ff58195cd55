# Independent branches run at the same time under -j 2: each branch waits
# (bounded) for the other to have started, which only succeeds if both run
# at once. No timing is asserted.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

cat > p.yaml <<'Y'
name: parallel
steps:
  left:
    run: touch left.started; for i in $(seq 50); do [ -e right.started ] && break; sleep 0.1; done; [ -e right.started ] && echo l > "${outputs.out}"
    outputs: [out]
  right:
    run: touch right.started; for i in $(seq 50); do [ -e left.started ] && break; sleep 0.1; done; [ -e left.started ] && echo r > "${outputs.out}"
    outputs: [out]
  join:
    run: cat "${inputs.l}" "${inputs.r}" > "${outputs.out}"
    inputs: { l: left.out, r: right.out }
    outputs: [out]
Y
sl run p.yaml -j 2 -q
[ "$(run_status)" = completed ] || fail "parallel run"
[ "$(steps_with completed)" = "join left right" ] || fail "steps: $(steps_with completed)"

# With -j 1 the steps run one at a time, in file order: left never sees right
# start and fails; right then finds left.started and completes; join, which
# needs both, is skipped.
rm -f left.started right.started
expect_exit 1 sl run p.yaml -j 1 --no-cache -q
[ "$(steps_with failed)" = left ] || fail "-j 1: failed steps: $(steps_with failed)"
[ "$(steps_with completed)" = right ] || fail "-j 1: completed steps: $(steps_with completed)"
[ "$(steps_with skipped)" = join ] || fail "-j 1: skipped steps: $(steps_with skipped)"
contains "$ERR" "step left: failed"
echo ok
