# Alert rules from sluice.yaml, and the cadence's honest outcomes.
#  - sluice.yaml monitoring.alert rules apply beside canvas.yaml's: a
#    sluice.yaml rule overrides the canvas's rule of the same name (here the
#    canvas's `slow` never fires, sluice.yaml's does), a rule scoped to
#    another model stays silent, and the alert is recorded and delivered;
#  - a bad sluice.yaml rule is "sluice.yaml:LINE:COL: ..." and exit 2;
#  - a cadence retraining with nothing new (every step from the cache, no
#    version registered) is recorded as `unchanged`, not `failed`;
#  - the cadence still fires when the window cannot be read (production's
#    bundle is damaged).
# Schedules are made due by moving the recorded last look back two days
# (test_monitor_schedule.sh explains why that is the state a watcher finds).
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/integration/serve_lib.sh"

HOUR=$(( ($(date -u +%H | sed 's/^0//') + 12) % 24 ))
xy_csv data.csv 1 300
gated_pipeline train data.csv label 1 "name: m, alias: production" >train.yaml
gated_pipeline retrain data.csv label 2 "name: m" >retrain.yaml
sl run train.yaml -q >/dev/null
cat > canvas.yaml <<Y
building_models:
  pipeline: retrain.yaml
  retrain_on: [cadence]
  cadence: "0 $HOUR * * *"
  auto_promote: false
live_monitoring:
  window: 20
  alert:
    - {name: slow, metric: latency_p99_ms, above: 1000000}
    - {name: failing, metric: error_rate, above: 0.5}
Y
good_settings() {
	cat > sluice.yaml <<'Y'
monitoring:
  alert:
    - {name: slow, metric: latency_p99_ms, above: 0, severity: critical,
       command: 'echo "$SLUICE_ALERT_STATE $SLUICE_ALERT_NAME $SLUICE_MODEL" >> ops.log'}
    - {name: elsewhere, metric: latency_p99_ms, above: 0, model: other,
       command: 'echo "$SLUICE_ALERT_NAME" >> ops.log'}
Y
}
good_settings

# A bad rule names its place in sluice.yaml, as the canvas's would.
cp sluice.yaml good.yaml
sed -i 's/metric: latency_p99_ms, above: 0, severity/metric: latency_p99, above: 0, severity/' sluice.yaml
expect_exit 2 sl monitor watch --model m --once
contains "$ERR" "sluice.yaml:3:"
contains "$ERR" "monitoring.alert[0].metric: unknown metric 'latency_p99'"
printf 'monitoring:\n  alert:\n    - {metric: error_rate, above: 0.1}\n    - {metric: error_rate, above: 0.1}\n' >sluice.yaml
expect_exit 2 sl monitor watch --model m --once
contains "$ERR" "sluice.yaml:4:7: monitoring.alert[1]: another rule (line 3) is called 'error_rate>0.1'"
good_settings

# canvas check says what drives the alerts: both files' rules.
contains "$(sl canvas check --json | js "next(x['summary'] for x in d['drives'] if x['block'] == 'live_monitoring')")" \
	"2 alert rules, and 2 in sluice.yaml monitoring.alert (replacing 1 of the canvas's by name)"

start_server "$T/serve.err" --no-auth --model m
for i in $(seq 25); do
	curl -s -o /dev/null -X POST "$URL/v2/models/m/infer" -H 'Content-Type: application/json' \
		-d '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [0.4]},
		                {"name": "y", "shape": [1], "datatype": "FP64", "data": [0.3]}]}'
done

# 1. sluice.yaml's `slow` replaces the canvas's and fires; `elsewhere` watches another model.
sl monitor watch --model m --once --json >"$T/first.out"
"$PY" - "$T/first.out" <<'P'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
al = [e for e in ev if e["kind"] == "alert"]
assert [a["detail"]["rule"] for a in al] == ["slow"], ev
d = al[0]["detail"]
assert d["above"] == 0 and d["severity"] == "critical" and d["delivered"] is True, d
assert not [e for e in ev if e["kind"] not in ("alert",)], ev
P
[ "$(cat ops.log)" = "firing slow m" ] || fail "the sluice.yaml rule's command: $(cat ops.log)"
sl monitor events --kind alert | grep -q slow || fail "the alert is not listed"
# Acknowledged from the command line as the OS user, once.
seq=$(sl monitor events --kind alert --json | js "d[0]['seq']")
expect_exit 0 sl monitor ack "$seq" --note "looking into it"
contains "$OUT" "acknowledged by $(id -un): looking into it"
[ "$(sl monitor events --kind alert --json | js "(d[0]['ack']['by'], d[0]['ack']['note'])")" = \
	"('$(id -un)', 'looking into it')" ] || fail "the acknowledgement is not recorded"
expect_exit 2 sl monitor ack "$seq"
contains "$ERR" "acknowledged"
expect_exit 2 sl monitor ack 999999
expect_exit 2 sl monitor ack nine

# 2. The cadence retrains (a candidate), then, with nothing new, retrains from the cache.
rewind() { store_sql "UPDATE monitor_state SET updated_ms = updated_ms - 172800000 WHERE name = 'cadence'" >/dev/null; }
rewind
sl monitor watch --model m --once --json >"$T/second.out"
"$PY" - "$T/second.out" <<'P'
import json, sys
kinds = [json.loads(l)["kind"] for l in open(sys.argv[1])]
assert kinds == ["trigger", "retrain", "candidate"], kinds
P
FIRST=$(sl monitor events --kind candidate --json | js "d[-1]['run']")
rewind
sl monitor watch --model m --once --json >"$T/third.out"
"$PY" - "$T/third.out" "$FIRST" <<'P'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["kind"] for e in ev]
assert kinds == ["trigger", "retrain", "unchanged"], kinds
u = ev[2]
assert u["run"] and u["run"] == ev[1]["run"] and u["run"] != sys.argv[2], ev
d = u["detail"]
assert d["triggers"] == "cadence" and d["production"] == "1", d
assert d["cached_from"] == sys.argv[2] and d["version"] == "2", d
assert "nothing new to learn from" in d["why"], d
P
sl monitor events --kind failed --json | js "len(d)" | grep -qx 0 || fail "a cached run was recorded as failed"
sl monitor events | grep -q " unchanged " || fail "the text listing lacks the unchanged run"
[ "$(sl models show m --json | js "len(d['versions'])")" = 2 ] || fail "the cached run registered a version"

# 3. The window cannot be read (production's bundle damaged): an error, and the cadence still fires.
stop_servers
BUNDLE=$(sl models show m --json | js "next(v['bundle'] for v in d['versions'] if v['version'] == 1)")
F=".sluice/artifacts/${BUNDLE:0:2}/${BUNDLE:2}"
[ -f "$F" ] || fail "no bundle file at $F"
chmod u+w "$F"
head -c 200 "$F" >"$T/cut" && cat "$T/cut" >"$F"
gated_pipeline retrain data.csv label 3 "name: m" >retrain.yaml
rewind
sl monitor watch --model m --once --json >"$T/fourth.out"
"$PY" - "$T/fourth.out" <<'P'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["kind"] for e in ev]
assert kinds == ["error", "trigger", "retrain", "candidate"], kinds
assert "bundle" in ev[0]["detail"]["error"], ev[0]
assert ev[1]["detail"]["triggers"] == "cadence" and set(ev[1]["detail"]["evidence"]) == {"cadence"}, ev[1]
P
[ "$(sl models show m --json | js "len(d['versions'])")" = 3 ] || fail "the cadence's run registered nothing"
