# `make demo` stays true: the demo script runs to the end against this build.
. "$(dirname "$0")/lib.sh"

TMPDIR="$T" bash "$SRC/examples/demo.sh" "$SLUICE" > demo.out 2>&1 || fail "demo failed:
$(tail -20 demo.out)"
grep -q "every step comes from the cache" demo.out || fail "demo output"
grep -q "all rules passed" demo.out || fail "demo validation report"
echo ok
