# Stopping the server: SIGTERM drains (new connections refused, a request
# whose body is still arriving is answered, the log flushed, exit 0);
# kill -9 under load loses no answered request: after a restart every
# request id a client got a response for is in the log. With fsync
# durability every record is synced before its answer.
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/integration/serve_lib.sh"

train_models
"$PY" - "$T" <<'P'
import csv, json, sys
t = sys.argv[1]
rows = list(csv.reader(open(t + "/spambase.csv")))
json.dump({"inputs": [{"name": "x", "shape": [1, 57], "datatype": "FP64",
    "data": [[float(v) for v in rows[1][:-1]]]}]}, open(t + "/req.json", "w"))
P

# ---- SIGTERM with a request in flight ----------------------------------------------------
start_server "$T/serve.err" --model "spam=$T/spam.slm"
"$PY" - "$PORT" "$T" >"$T/slow.out" 2>&1 <<'P' &
import socket, sys, os, time
port, t = int(sys.argv[1]), sys.argv[2]
body = open(t + "/req.json", "rb").read()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /v2/models/spam/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"X-Request-Id: in-flight-1\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:100])
open(t + "/half", "w").close()
while not os.path.exists(t + "/go"):
    time.sleep(0.01)
s.sendall(body[100:])
resp = b""
while b"\r\n\r\n" not in resp or len(resp) < resp.index(b"\r\n\r\n") + 4 + 10:
    chunk = s.recv(65536)
    if not chunk:
        break
    resp += chunk
print(resp.split(b"\r\n")[0].decode())
print("close" if b"Connection: close" in resp else "keep-alive")
P
SLOW=$!
track "$SLOW"
for i in $(seq 200); do [ -e "$T/half" ] && break; sleep 0.02; done
[ -e "$T/half" ] || fail "the slow client did not start"
# In flight once the server has read its headers (the scrape counts itself too).
for i in $(seq 200); do
	[ "$(curl -s "$URL/metrics" | sed -n 's/^sluice_requests_in_flight //p')" = 2 ] && break
	sleep 0.02
done
kill -TERM "$SPID"
sleep 0.3
kill -0 "$SPID" || fail "the server did not wait for the request in flight"
# No new connections while draining.
set +e
curl -s -o /dev/null -m 2 "$URL/v2/health/live"
CURL_RC=$?
set -e
[ "$CURL_RC" != 0 ] || fail "a new connection was accepted while draining"
touch "$T/go"
wait "$SLOW"
[ "$(head -1 "$T/slow.out")" = "HTTP/1.1 200 OK" ] || fail "in-flight request: $(cat "$T/slow.out")"
[ "$(sed -n 2p "$T/slow.out")" = close ] || fail "a drained response should close the connection"
wait_exit "$SPID"
[ "$WRC" = 0 ] || fail "exit status after the drain: $WRC; $(cat "$T/serve.err")"
[ "$(sl logs --id in-flight-1 --json | js "(len(d), d[0]['status'])")" = "(1, 200)" ] ||
	fail "the drained request is not in the log"

# ---- kill -9 under load -------------------------------------------------------------------
start_server "$T/serve2.err" --model "spam=$T/spam.slm"
$LOAD --port "$PORT" --path /v2/models/spam/infer --body "$T/req.json" --threads 4 \
	--until "$T/stop" --ids "$T/ids" >"$T/load.json" &
LPID=$!
track "$LPID"
sleep 1.5
kill -9 "$SPID"
wait_exit "$SPID"
touch "$T/stop"
wait "$LPID"
ANSWERED=$(wc -l <"$T/ids")
[ "$ANSWERED" -gt 50 ] || fail "too little load before the kill: $ANSWERED"
# A new server takes over the log directory (and closes the dead one's segment).
start_server "$T/serve3.err" --model "spam=$T/spam.slm"
sl logs --model spam --json -n 0 >"$T/all.json"
"$PY" - "$T" <<'P'
import json, sys
t = sys.argv[1]
logged = {r["id"] for r in json.load(open(t + "/all.json")) if r["status"] == 200}
answered = [l.strip() for l in open(t + "/ids") if l.strip()]
missing = [i for i in answered if i not in logged]
assert not missing, "%d of %d answered requests are not in the log, e.g. %s" % (len(missing), len(answered), missing[:3])
print("all %d answered requests are in the log" % len(answered))
P
kill -TERM "$SPID"
wait_exit "$SPID"
[ "$WRC" = 0 ] || fail "exit status $WRC"

# ---- fsync durability --------------------------------------------------------------------
start_server "$T/serve4.err" --model "spam=$T/spam.slm" --log-durability fsync
$LOAD --port "$PORT" --path /v2/models/spam/infer --body "$T/req.json" --threads 3 --seconds 1 >"$T/load2.json"
[ "$(js "list(d['codes'])" <"$T/load2.json")" = "['200']" ] || fail "fsync mode: $(cat "$T/load2.json")"
M=$(curl -s "$URL/metrics")
W=$(echo "$M" | sed -n 's/^sluice_log_records_written_total //p')
F=$(echo "$M" | sed -n 's/^sluice_log_records_fsynced_total //p')
N=$(echo "$M" | sed -n 's/^sluice_log_fsyncs_total //p')
[ "$W" -gt 0 ] && [ "$W" = "$F" ] || fail "written $W, fsynced $F"
[ "$N" -le "$F" ] || fail "more fsyncs ($N) than records ($F)"
echo "fsync: $F records in $N group commits"
kill -TERM "$SPID"
wait_exit "$SPID"
[ "$WRC" = 0 ] || fail "exit status $WRC"
echo ok
