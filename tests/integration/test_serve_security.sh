# Safety of sluice serve: the body limit (413, announced or chunked), the
# header limit (431), slow clients closed by the header and request
# timeouts while others are served, the connection limit, the bearer
# token the write endpoints need on an exposed address, and TLS with a
# certificate made here.
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/integration/serve_lib.sh"

train_models
"$PY" - "$T" <<'P'
import json, sys
t = sys.argv[1]
json.dump({"inputs": [{"name": "colour", "shape": [1], "datatype": "BYTES", "data": ["red"]},
    {"name": "count", "shape": [1], "datatype": "INT64", "data": [3]},
    {"name": "flag", "shape": [1], "datatype": "BOOL", "data": [True]}]}, open(t + "/req.json", "w"))
open(t + "/big.json", "w").write('{"inputs": [' + " " * 5000 + "]}")
P
J=(-H 'Content-Type: application/json')

# ---- limits and timeouts -------------------------------------------------------------------
start_server "$T/serve.err" --model "mixed=$T/mixed.slm" --max-body 2000 --header-timeout 1 \
	--request-timeout 2
expect_code 200 POST /v2/models/mixed/infer "${J[@]}" --data-binary @"$T/req.json"
expect_code 413 POST /v2/models/mixed/infer "${J[@]}" --data-binary @"$T/big.json"
contains "$BODY" "larger than the limit of 2000 bytes"
expect_code 413 POST /v2/models/mixed/infer "${J[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$T/big.json"
still_serving
[ "$(sl logs --status 413 --json | js "len(d)")" = 2 ] || fail "413s are logged"
# Headers: 6 KB of them are served (a browser's cookies, a long token), past
# the connection's 8 KiB they get 431 and the server goes on.
pad=$(printf '%06000d' 0)
expect_code 200 POST /v2/models/mixed/infer "${J[@]}" -H "X-Pad: $pad" --data-binary @"$T/req.json"
expect_code 431 POST /v2/models/mixed/infer "${J[@]}" -H "X-Pad: $pad$pad" --data-binary @"$T/req.json"
still_serving

# A client that trickles its headers, and one that stalls its body.
"$PY" - "$PORT" >"$T/slow.out" <<'P' &
import socket, sys, threading, time
port = int(sys.argv[1])
def trickle(name, first, drip):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    t0 = time.time()
    s.sendall(first)
    try:
        while True:
            time.sleep(0.25)
            if drip:
                s.sendall(drip)
            s.settimeout(0.01)
            try:
                if s.recv(1024) == b"":
                    break
            except socket.timeout:
                pass
            except OSError:
                break
            if time.time() - t0 > 8:
                print(name, "never closed"); return
    except OSError:
        pass
    print(name, "closed after %.1f s" % (time.time() - t0))
a = threading.Thread(target=trickle, args=("headers", b"POST /v2/models/mixed/infer HTTP/1.1\r\nHost: x\r\n", b"X"))
b = threading.Thread(target=trickle, args=("body", b"POST /v2/models/mixed/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{", b""))
a.start(); b.start(); a.join(); b.join()
P
SLOW=$!
track "$SLOW"
# Others are served meanwhile.
for i in 1 2 3 4 5; do
	expect_code 200 POST /v2/models/mixed/infer "${J[@]}" --data-binary @"$T/req.json"
	sleep 0.2
done
wait "$SLOW"
cat "$T/slow.out"
# Within the timeout and the reaper's period, with room for a loaded machine.
grep -q "^headers closed after [1-4]\.[0-9] s" "$T/slow.out" || fail "slow headers: $(cat "$T/slow.out")"
grep -q "^body closed after [2-5]\.[0-9] s" "$T/slow.out" || fail "slow body: $(cat "$T/slow.out")"
still_serving
kill -TERM "$SPID"
wait_exit "$SPID"

# The connection limit: connections past it are closed at once, those
# within it served, and reaching it changes nothing once they close (three
# times over: a server that stopped releasing closed connections after
# reaching its limit once served nothing more).
start_server "$T/serve2.err" --model "mixed=$T/mixed.slm" --max-connections 4 --threads 2
"$PY" - "$PORT" <<'P'
import socket, sys, time
port = int(sys.argv[1])
def get(s):
    s.settimeout(3)
    s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        return s.recv(1024)
    except OSError:
        return b""
for rnd in range(3):
    # Below the limit again as soon as the server has seen the last closes
    # (within a few tries, not by some timeout of the library's).
    for attempt in range(6):
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
        time.sleep(0.3)
        s = socket.create_connection(("127.0.0.1", port))
        got = [get(h).startswith(b"HTTP/1.1 200") for h in held]
        if all(got):
            break
        for h in held + [s]:
            h.close()
        time.sleep(0.1)
    else:
        raise AssertionError("round %d: not served again below the limit: %r" % (rnd, got))
    extra = get(s)
    assert extra == b"", "a connection past the limit was served: %r" % extra
    for h in held + [s]:
        h.close()
P
kill -TERM "$SPID"
wait_exit "$SPID"

# ---- the token on an exposed address ----------------------------------------------------------
expect_exit 2 sl serve --model "mixed=$T/mixed.slm" --host 127.0.0.2 --port 0
contains "$ERR" "--token-file"
printf 's3cret-token\n' >"$T/token"
chmod 644 "$T/token"
expect_exit 2 sl serve --model "mixed=$T/mixed.slm" --host 127.0.0.2 --port 0 --token-file "$T/token"
contains "$ERR" "can be read by anyone"
chmod 600 "$T/token"
start_server "$T/serve3.err" --model "mixed=$T/mixed.slm" --host 127.0.0.2 --token-file "$T/token"
# Scoring is open; the write endpoints are not.
expect_code 200 POST /v2/models/mixed/infer "${J[@]}" -H 'X-Request-Id: tok-1' --data-binary @"$T/req.json"
FB='{"request_ids": ["tok-1"], "labels": ["yes"]}'
expect_code 401 POST /v2/models/mixed/feedback "${J[@]}" --data-binary "$FB"
contains "$HDRS" "WWW-Authenticate: Bearer"
expect_code 401 POST /v2/models/mixed/feedback "${J[@]}" -H 'Authorization: Bearer wrong' --data-binary "$FB"
expect_code 401 POST /v2/models/mixed/feedback "${J[@]}" -H 'Authorization: Bearer s3cret-token-and-more' --data-binary "$FB"
expect_code 401 POST /v2/repository/models/mixed/load
expect_code 200 POST /v2/models/mixed/feedback "${J[@]}" -H 'Authorization: Bearer s3cret-token' --data-binary "$FB"
[ "$(echo "$BODY" | js "d['accepted']")" = 1 ] || fail "feedback with the token: $BODY"
expect_code 200 POST /v2/repository/models/mixed/load -H 'Authorization: bearer s3cret-token'
[ "$(sl logs --status 401 --json | js "len(d)")" = 4 ] || fail "refusals are logged"
kill -TERM "$SPID"
wait_exit "$SPID"

# ---- TLS ----------------------------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
start_server "$T/serve4.err" --model "mixed=$T/mixed.slm" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
[ "$(curl -s --cacert "$T/cert.pem" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/v2/health/ready")" = 200 ] ||
	fail "HTTPS with the certificate"
OUT=$(curl -s --cacert "$T/cert.pem" "${J[@]}" --data-binary @"$T/req.json" "https://127.0.0.1:$PORT/v2/models/mixed/infer")
[ "$(echo "$OUT" | js "d['model_name']")" = mixed ] || fail "inference over TLS: $OUT"
set +e
curl -s -m 3 -o /dev/null "http://127.0.0.1:$PORT/v2/health/ready"
PLAIN=$?
set -e
[ "$PLAIN" != 0 ] || fail "plain HTTP to the TLS port should fail"
expect_exit 2 sl serve --model "mixed=$T/mixed.slm" --tls-cert "$T/cert.pem" --port 0
contains "$ERR" "both --tls-cert and --tls-key"
kill -TERM "$SPID"
wait_exit "$SPID"
[ "$WRC" = 0 ] || fail "exit status $WRC"
echo ok
