# Schedules fire: sluice.yaml `schedules:` runs its pipeline with its params,
# and canvas.yaml `building_models.cadence` starts a retraining run, each
# when its cron time passed since the watcher last looked. Instead of
# waiting for a wall-clock minute, the test moves the recorded last look
# back two days in the store, which is exactly the state a watcher finds
# after being down over a firing (rules.h invariant 4: a missed time fires
# once when a watcher looks again; a watcher that starts does not fire for
# times before it). The cron hour is twelve hours from now, so no real
# firing can fall inside the test. A scheduled pipeline that fails is
# recorded as failed and the loop goes on. Then: two triggers in one
# evaluation start one run; a trigger meeting a run in flight is coalesced;
# a run that fails leaves production alone, even with auto_promote on.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

check() { "$PY" -c "import json,sys; d=json.load(sys.stdin); $1"; }
HOUR=$(( ($(date -u +%H | sed 's/^0//') + 12) % 24 ))
xy_csv data.csv 1 300

# train.yaml registers v1 as production; retrain.yaml (the cadence's) registers without an alias.
pipeline() { gated_pipeline "$1" data.csv label "$3" "name: m$2"; }
pipeline train ", alias: production" 1 >train.yaml
pipeline retrain "" 2 >retrain.yaml
sl run train.yaml -q >/dev/null
cat > canvas.yaml <<Y
building_models:
  pipeline: retrain.yaml
  retrain_on: [cadence]
  cadence: "0 $HOUR * * *"
  auto_promote: false
Y
cat > refresh.yaml <<'Y'
name: refresh
params: { tag: none }
steps:
  stamp:
    run: echo "${params.tag}" >> refreshed.txt
Y
cat > broken.yaml <<'Y'
name: broken
steps:
  fail:
    run: exit 3
Y
cat > sluice.yaml <<Y
schedules:
  refresh: { cron: "30 $HOUR * * *", pipeline: refresh.yaml, params: { tag: nightly } }
  broken: { cron: "45 $HOUR * * *", pipeline: broken.yaml }
Y

# The first look: nothing is due (no firing before the watcher started).
sl monitor watch --once --json >"$T/first.out"
[ ! -s "$T/first.out" ] || fail "the first look decided something: $(cat "$T/first.out")"
[ ! -e refreshed.txt ] || fail "the schedule ran on the first look"
[ "$(store_sql "SELECT COUNT(*) FROM monitor_state WHERE name IN ('cadence', 'schedule:refresh', 'schedule:broken')")" = 3 ] ||
	fail "the looks were not recorded"

# The watcher last looked two days ago: each cron time passed once since.
store_sql "UPDATE monitor_state SET updated_ms = updated_ms - 172800000 WHERE name IN ('cadence', 'schedule:refresh', 'schedule:broken')" >/dev/null
sl monitor watch --once --json >"$T/second.out"
"$PY" - "$T/second.out" "$HOUR" <<'P'
import datetime, json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
hour = int(sys.argv[2])
kinds = [e["kind"] for e in ev]
# The cadence: a trigger, its run, the verdict (auto_promote is off).
assert kinds[:3] == ["trigger", "retrain", "candidate"], kinds
tr = ev[0]["detail"]
assert tr["triggers"] == "cadence" and tr["evidence"]["cadence"]["cadence"] == "0 %d * * *" % hour, tr
# Due at the first HOUR:00 after the rewound look: a day or two ago, never in the future.
due = datetime.datetime.strptime(tr["evidence"]["cadence"]["due"][:19], "%Y-%m-%dT%H:%M:%S")
now = datetime.datetime.utcnow()
assert due.hour == hour and due.minute == 0 and now - datetime.timedelta(days=2) < due < now, due
assert ev[1]["run"] and ev[2]["run"] == ev[1]["run"], ev
# Then each schedule once, with its run; the broken one recorded as failed.
sch = {e["detail"]["schedule"]: e for e in ev if e["kind"] == "schedule"}
assert kinds.count("schedule") == 2 and set(sch) == {"refresh", "broken"}, kinds
r = sch["refresh"]
assert r["detail"]["status"] == "completed" and r["run"] and r["detail"]["cron"] == "30 %d * * *" % hour, r
assert r["detail"]["due"][11:16] == "%02d:30" % hour, r
b = sch["broken"]
assert b["detail"]["status"] == "failed" and b["run"] and "exit" in b["detail"]["error"], b
P
[ "$(cat refreshed.txt)" = nightly ] || fail "the scheduled pipeline did not get its params: $(cat refreshed.txt)"
RUN=$(sl monitor events --kind schedule --json | js "next(e['run'] for e in d if e['detail']['schedule'] == 'refresh')")
[ "$(sl runs show "$RUN" --json | js "d['pipeline'] + ' ' + d['status']")" = "refresh completed" ] ||
	fail "the schedule's run is not the refresh pipeline's"
[ "$(sl models show m --json | js "len(d['versions'])")" = 2 ] || fail "the cadence's run registered nothing"
[ "$(sl models show m --json | js "d['aliases']['production']")" = 1 ] || fail "a candidate moved production"

# Looked at again at once: nothing more is due.
sl monitor watch --once --json >"$T/third.out"
[ ! -s "$T/third.out" ] || fail "a firing counted twice: $(cat "$T/third.out")"
[ "$(wc -l <refreshed.txt)" = 1 ] || fail "the schedule ran twice"

# Two triggers at once start one run: drifted traffic (every request the
# same point) and the cadence, judged in one evaluation.
. "$SRC/tests/integration/serve_lib.sh"
sed -i 's/retrain_on: \[cadence\]/retrain_on: [drift, cadence]/' canvas.yaml
start_server "$T/serve.err" --no-auth --model m
for i in $(seq 30); do
	curl -s -o /dev/null -X POST "$URL/v2/models/m/infer" -H 'Content-Type: application/json' \
		-d '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [0.9]},
		                {"name": "y", "shape": [1], "datatype": "FP64", "data": [0.9]}]}'
done
store_sql "UPDATE monitor_state SET updated_ms = updated_ms - 172800000 WHERE name = 'cadence'" >/dev/null
sl monitor watch --model m --once --json >"$T/both.out"
"$PY" - "$T/both.out" <<'P'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["kind"] for e in ev]
assert kinds.count("trigger") == 1 and kinds.count("retrain") == 1, kinds
tr = ev[kinds.index("trigger")]["detail"]
assert tr["triggers"] == "drift+cadence" and set(tr["evidence"]) == {"drift", "cadence"}, tr
rt = ev[kinds.index("retrain")]["detail"]
assert rt["triggers"] == "drift+cadence", rt
P

# A trigger meeting a run in flight is coalesced into it; and that run,
# which fails though it registers a passing version, leaves production
# alone even with auto_promote on.
sed -i 's/auto_promote: false/auto_promote: true/' canvas.yaml
pipeline retrain "" 3 >retrain.yaml
cat >> retrain.yaml <<'Y'
  hold:
    run: sleep 2; exit 4
Y
sl monitor retrain --model m --reason held --json >"$T/held.json" 2>"$T/held.err" &
HELD=$!
for i in $(seq 100); do
	[ "$(sl monitor events --kind retrain --json | js "len(d)")" -ge 3 ] && break
	sleep 0.05
done
store_sql "UPDATE monitor_state SET updated_ms = updated_ms - 172800000 WHERE name = 'cadence'" >/dev/null
sl monitor watch --model m --once --json >"$T/coalesced.out"
wait_exit "$HELD"
"$PY" - "$T/coalesced.out" "$T/held.json" <<'P'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["kind"] for e in ev]
assert kinds == ["trigger", "coalesced"], kinds
c = ev[1]["detail"]
assert c["triggers"] == "cadence" and "pid" in c["in_flight"], c
held = json.load(open(sys.argv[2]))
assert held["kind"] == "failed" and held["detail"]["production"] == "1", held
assert any(s["step"] == "hold" for s in held["detail"]["failed"]), held
P
# (exit 0: a decision was made, `failed`; see monitor retrain --help)
[ "$WRC" = 0 ] || fail "monitor retrain exited $WRC: $(cat "$T/held.err")"
[ "$(sl models show m --json | js "len(d['versions'])")" = 3 ] || fail "the failed run registered no version"
[ "$(sl models show m --json | js "max(d['versions'], key=lambda v: v['version'])['verdict']")" = passed ] ||
	fail "the failed run's version did not pass its gate: the test proves nothing"
[ "$(sl models show m --json | js "d['aliases']['production']")" = 1 ] || fail "a failed run moved production"
[ "$(curl -s "$URL/v2/models/m" | js "d['versions'][0]")" = 1 ] || fail "the server left v1"
[ "$(sl monitor events --kind retrain --json | js "len(d)")" = 3 ] || fail "a coalesced trigger started a run"
