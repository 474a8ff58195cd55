# Alert delivery that fails: a command that exits non-zero, a webhook that
# answers 500 (twice, then accepts), a webhook nobody listens on. Each alert
# is recorded with delivered: false and the error; the loop goes on; the
# failed channels are tried again one interval later, then two, then four,
# and end recorded as delivered or undelivered with the attempts and the
# last error. A delivery that worked is not repeated. Instead of waiting
# for the backoff, the test moves each pending retry's time back in the
# store (what the loop compares with its clock). Last, an alert that
# resolves while its firing is still pending drops that retry.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/integration/serve_lib.sh"

xy_csv data.csv 1 300
gated_pipeline train data.csv label 1 "name: m, alias: production" >train.yaml
sl run train.yaml -q >/dev/null

# A webhook that answers 500 to its first two POSTs, then 204; every body kept.
FLAKY=$(free_port)
"$PY" - "$FLAKY" "$T/flaky.log" <<'P' &
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
n = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global n
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(out, "ab") as f:
            f.write(body + b"\n")
        n += 1
        self.send_response(500 if n <= 2 else 204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
P
track $!
disown
DOWN=$(free_port) # nothing listens there
cat > canvas.yaml <<Y
live_monitoring:
  window: 20
  alert:
    - {name: cmd, metric: latency_p99_ms, above: 0, command: 'echo "\$SLUICE_ALERT_STATE" >> cmd.log; exit 3'}
    - {name: flaky, metric: latency_p99_ms, above: 0, webhook: "http://127.0.0.1:$FLAKY/hook"}
    - {name: down, metric: latency_p99_ms, above: 0, webhook: "http://127.0.0.1:$DOWN/hook"}
    - {name: fine, metric: latency_p99_ms, above: 0, command: 'echo "\$SLUICE_ALERT_STATE" >> fine.log'}
Y

start_server "$T/serve.err" --no-auth --model m
send() {
	local i
	for i in $(seq "$1"); do
		curl -s -o /dev/null -X POST "$URL/v2/models/m/infer" -H 'Content-Type: application/json' \
			-d '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [0.4]},
			                {"name": "y", "shape": [1], "datatype": "FP64", "data": [0.3]}]}'
	done
}
send 25

# pending: "RULE ACTIVE ATTEMPTS WAIT_MS" per delivery row.
pending() {
	store_sql "SELECT name, active, streak, CASE WHEN active = 1 THEN since_ms - updated_ms ELSE 0 END
		FROM monitor_state WHERE name LIKE 'delivery:%' ORDER BY name" | tr '|' ' '
}
# due: every pending retry's time has come.
due() { store_sql "UPDATE monitor_state SET since_ms = 1 WHERE name LIKE 'delivery:%' AND active = 1" >/dev/null; }
watch_once() { sl monitor watch --model m --once --json >"$T/$1.out"; }

# 1. The alerts fire; three deliveries fail, each recorded with its error.
watch_once first
"$PY" - "$T/first.out" "$DOWN" <<'P'
import json, sys
ev = {e["detail"]["rule"]: e for e in map(json.loads, open(sys.argv[1])) if e["kind"] == "alert"}
assert set(ev) == {"cmd", "flaky", "down", "fine"}, ev
d = {k: v["detail"] for k, v in ev.items()}
assert d["fine"]["delivered"] is True and "delivery_error" not in d["fine"], d["fine"]
assert d["cmd"]["delivered"] is False, d["cmd"]
assert "alert command exited with status 3" in d["cmd"]["delivery_error"], d["cmd"]
assert d["flaky"]["delivered"] is False and "answered HTTP 500" in d["flaky"]["delivery_error"], d["flaky"]
assert d["down"]["delivered"] is False and sys.argv[2] in d["down"]["delivery_error"], d["down"]
P
[ "$(pending)" = "delivery:cmd 1 1 60000
delivery:down 1 1 60000
delivery:flaky 1 1 60000" ] || fail "after the first attempt: $(pending)"
# Not yet due: the next look sends nothing and decides nothing (the alert persists: de-duplicated).
watch_once early
[ ! -s "$T/early.out" ] || fail "a retry before its time: $(cat "$T/early.out")"
[ "$(wc -l <cmd.log)" = 1 ] || fail "the command ran again early"

# 2. Second attempt: all three fail again, quietly; the wait doubles.
due
watch_once second
[ ! -s "$T/second.out" ] || fail "a failed retry is recorded before the last: $(cat "$T/second.out")"
[ "$(pending)" = "delivery:cmd 1 2 120000
delivery:down 1 2 120000
delivery:flaky 1 2 120000" ] || fail "after the second attempt: $(pending)"

# 3. Third attempt: the webhook accepts; the others wait four intervals.
due
watch_once third
"$PY" - "$T/third.out" <<'P'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert [e["kind"] for e in ev] == ["delivered"], ev
d = ev[0]["detail"]
assert d["rule"] == "flaky" and d["attempts"] == 3 and d["channels"] == "webhook" and "error" not in d, d
P
[ "$(pending)" = "delivery:cmd 1 3 240000
delivery:down 1 3 240000
delivery:flaky 0 3 0" ] || fail "after the third attempt: $(pending)"

# 4. Fourth and last attempt: the command and the dead webhook are given up, with their errors.
due
watch_once fourth
"$PY" - "$T/fourth.out" "$DOWN" <<'P'
import json, sys
ev = {e["detail"]["rule"]: e for e in map(json.loads, open(sys.argv[1]))}
assert set(ev) == {"cmd", "down"} and all(e["kind"] == "undelivered" for e in ev.values()), ev
c, d = ev["cmd"]["detail"], ev["down"]["detail"]
assert c["attempts"] == 4 and c["channels"] == "command" and "exited with status 3" in c["error"], c
assert d["attempts"] == 4 and d["channels"] == "webhook" and sys.argv[2] in d["error"], d
P
due
watch_once after
[ ! -s "$T/after.out" ] || fail "retries went on after the last: $(cat "$T/after.out")"
[ "$(wc -l <cmd.log)" = 4 ] || fail "the command ran $(wc -l <cmd.log) times, not 4"
[ "$(wc -l <fine.log)" = 1 ] || fail "a delivered alert was sent again"
# The webhook got the same alert three times, as first sent (no delivery outcome in it).
"$PY" - "$T/flaky.log" <<'P'
import json, sys
b = [json.loads(l) for l in open(sys.argv[1])]
assert len(b) == 3 and all(x == b[0] for x in b), b
assert b[0]["kind"] == "alert" and b[0]["model"] == "m" and b[0]["detail"]["rule"] == "flaky", b[0]
assert "delivered" not in b[0]["detail"], b[0]
P
# The listing shows them.
sl monitor events | grep -q "undelivered" || fail "the text listing lacks undelivered"

# 5. A retry pending when its rule resolves is dropped: a late "firing" would mislead.
sed -i 's/{name: cmd, metric: latency_p99_ms, above: 0,/{name: cmd, metric: latency_p99_ms, above: 1000000,/' canvas.yaml
store_sql "UPDATE monitor_state SET active = 1, streak = 1, since_ms = 9000000000000 WHERE name = 'delivery:cmd'" >/dev/null
send 1 # a new window, where the rule no longer holds
watch_once resolve
"$PY" - "$T/resolve.out" <<'P'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"cmd"' in l]
kinds = [e["kind"] for e in ev]
assert kinds == ["resolved", "undelivered"], kinds
u = ev[1]["detail"]
assert u["error"].startswith("superseded by alert %d" % ev[0]["seq"]), u
P
[ "$(tail -n 1 cmd.log)" = resolved ] || fail "the resolution was not sent: $(cat cmd.log)"
