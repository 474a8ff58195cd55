# Independent branches run at the same time under -j 2: each branch waits
# (bounded) for the other to have started, which only succeeds if both run
# at once. No timing is asserted.
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

# With -j 1 the steps run one at a time: the first never sees the second start.
rm -f left.started right.started
expect_exit 1 sl run p.yaml -j 1 --no-cache -q
[ "$(steps_with failed)" != "" ] || fail "-j 1 should serialise the branches"
echo ok
