# `make demo` stays true: the demo script runs to the end against this build
# (non-interactive), and what it shows holds: the pipeline registered the
# chosen candidate in production with a passing verdict, the server answered
# V2 requests whose ids the feedback then labelled, the reports were written,
# the monitoring stage reports the served traffic against the training data, and the
# server it started is gone.
. "$(dirname "$0")/lib.sh"

TMPDIR="$T" bash "$SRC/examples/demo.sh" --ci "$SLUICE" > demo.out 2>&1 || fail "demo failed:
$(tail -20 demo.out)"
d=$(ls -d "$T"/sluice-demo-*)
grep -q "18/18 register  *completed" demo.out || fail "no live progress to the last step: $(grep '/18' demo.out)"
grep -q '^  run .*: completed in' demo.out || fail "the cached rerun"
chosen=$(awk '/^  chosen:/ { print $2 }' demo.out)
[ -n "$chosen" ] || fail "the candidates' table"
grep -q "^  $chosen .*<- chosen" demo.out || fail "the summary does not mark $chosen as chosen"
grep -q "^verdict    passed: roc_auc" demo.out || fail "the summary's verdict"
grep -q "^registry   spam version 1 ($chosen, verdict passed); alias production -> version 1" demo.out ||
	fail "the summary's registry line"
[ "$(grep -c '^  request .* message [1-4]: P(spam)' demo.out)" = 12 ] || fail "three requests of four messages"
# The server decided at the bundle's threshold (the one the costs chose), not 0.5.
t=$(sed -n 's/.*the server decides junk when P(spam) >= \([0-9.]*\):.*/\1/p' demo.out)
[ -n "$t" ] || fail "no threshold in the serving stage"
awk -v t="$t" '/^  request .* P\(spam\)/ { p = $6; d = $8
	if ((p - t > 0.001 && d != "junk") || (t - p > 0.001 && d != "inbox")) { print "decided " d " at " p; bad = 1 } }
	END { exit bad }' demo.out || fail "the server's decisions do not follow threshold $t"
grep -q '{"accepted":3,"unknown":\[\]}' demo.out || fail "feedback on the three request ids"
grep -q "^  model spam version 1: 3 requests (12 rows)" demo.out || fail "the monitoring stage"
for r in evaluate eval_logistic eval_gbdt eval_naive_bayes; do
	grep -q "Decision threshold" "$d/reports/$r.html" || fail "report $r.html"
done
grep -q "demo complete" demo.out || fail "the demo's end"
# The server the demo started has stopped: nothing listens on its port.
port=$(sed -n 's/.*ready on http:\/\/127.0.0.1:\([0-9]*\)$/\1/p' demo.out | tail -1)
[ -n "$port" ] || fail "no server port in the output"
! curl -s -m 2 "http://127.0.0.1:$port/v2/health/live" >/dev/null || fail "the demo left its server running"
echo ok
