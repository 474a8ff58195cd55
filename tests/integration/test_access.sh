# Team access through the real binary and a real server: users and their
# tokens (shown once, rotated, removed), every protected endpoint of `sluice
# serve` without a token, with a wrong one and with a role that may not
# (401/403 with a JSON error), what each role may do, --no-auth refused off
# loopback, --auth inference, TLS with a user's token, and the audit log
# recording who did what through the server and on the command line.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/integration/serve_lib.sh"

xy_csv d.csv 1 300
cat > train.yaml <<Y
name: xy-train
params: { c: 1.0 }
steps:
  ingest:
    uses: ingest.csv
    with: { path: d.csv }
  train:
    uses: train.logistic
    inputs: { train: ingest.data }
    with: { target: label, C: "\${params.c}" }
  package:
    run: $PY "$SRC/tests/integration/bundle.py" "\${inputs.model}" "\${outputs.bundle}" xy passed '{"accuracy":0.9}'
    inputs: { model: train.model }
    outputs: [bundle]
  register:
    uses: register
    inputs: { bundle: package.bundle }
    with: { name: xy, alias: production }
Y
sl run train.yaml -q >/dev/null
sl run train.yaml -q -p c=2.0 >/dev/null
sl artifacts export "$(sl models show xy@production --json | js "d['versions'][0]['bundle']")" -o xy.slb >/dev/null
ME=$(id -un)
J=(-H 'Content-Type: application/json')
REQ='{"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [0.7]}, {"name": "y", "shape": [1], "datatype": "FP64", "data": [0.6]}]}'

# ---- users on the command line ------------------------------------------------------------------
expect_exit 0 sl users
contains "$OUT" "no users yet"
for u in mia:ml_engineer dan:data_scientist sam:sre pat:product_engineer; do
	expect_exit 0 sl users add "${u%%:*}" --role "${u#*:}"
done
expect_exit 2 sl users add eve --role ml_enginer
contains "$ERR" "did you mean 'ml_engineer'"
expect_exit 2 sl users add mia --role sre
contains "$ERR" "exists already"
expect_exit 2 sl users add "bad name" --role sre
expect_exit 2 sl users token nobody
contains "$ERR" "no user 'nobody'"
expect_exit 2 sl users add eve
contains "$ERR" "--role"
for u in mia dan sam pat; do
	expect_exit 0 sl users token "$u"
	case "$OUT" in slt_????????????????????????????????????????????????????????????????) ;; *) fail "token of $u: $OUT" ;; esac
	eval "TOK_$u=\$OUT"
done
expect_exit 0 sl users --json
[ "$(echo "$OUT" | js "[(u['name'], u['role'], u['token']) for u in d]")" = \
	"[('dan', 'data_scientist', True), ('mia', 'ml_engineer', True), ('pat', 'product_engineer', True), ('sam', 'sre', True)]" ] ||
	fail "users --json: $OUT"
not_contains "$OUT" "$TOK_mia"
# The store holds hashes only.
[ "$(store_sql "SELECT COUNT(*) FROM users WHERE token_hash = '$TOK_mia'")" = 0 ] || fail "a plain token in the store"
H=$(printf '%s' "$TOK_mia" | sha256sum | cut -d' ' -f1)
[ "$(store_sql "SELECT name FROM users WHERE token_hash = '$H'")" = mia ] || fail "the store keeps SHA-256 of the token"

# ---- --no-auth only on loopback ---------------------------------------------------------------
expect_exit 2 sl serve --model xy=xy.slb --host 0.0.0.0 --port 0 --no-auth
contains "$ERR" "not a loopback address"
expect_exit 2 sl serve --model xy=xy.slb --host 127.0.0.2 --port 0 --no-auth
contains "$ERR" "not a loopback address"
expect_exit 2 sl serve --model xy=xy.slb --port 0 --auth everything
contains "$ERR" "inference"

# ---- an exposed server asks for the users' tokens ----------------------------------------------
start_server "$T/serve.err" --model xy=xy.slb --host 127.0.0.2
# refused CODE METHOD PATH [CURL ARGS]: the code, a JSON error body.
refused() {
	local want=$1
	shift
	expect_code "$want" "$@"
	[ "$(echo "$BODY" | js "type(d['error']).__name__")" = str ] || fail "$2: not a JSON error: $BODY"
	if [ "$want" = 401 ]; then contains "$HDRS" "WWW-Authenticate: Bearer"; fi
}
# Health and inference are open.
expect_code 200 GET /v2/health/ready
expect_code 200 GET /ping
expect_code 200 POST /v2/models/xy/infer "${J[@]}" -H 'X-Request-Id: r-1' --data-binary "$REQ"
expect_code 200 GET /v2/models/xy
# Every protected endpoint: no token, a wrong token, a token of another shape.
FB='{"request_ids": ["r-1"], "labels": [1]}'
# A token one digit off the real one.
case "$TOK_mia" in *0) WRONG="${TOK_mia%?}1" ;; *) WRONG="${TOK_mia%?}0" ;; esac
PROTECTED=("GET /metrics" "GET /version" "POST /v2/models/xy/feedback" "POST /v2/repository/models/xy/load")
for ep in "${PROTECTED[@]}"; do
	set -- $ep
	BODYARG=()
	[ "$1" = GET ] || BODYARG=("${J[@]}" --data-binary "$FB")
	refused 401 "$1" "$2" ${BODYARG[@]+"${BODYARG[@]}"}
	contains "$BODY" "Bearer"
	refused 401 "$1" "$2" -H "Authorization: Bearer $WRONG" ${BODYARG[@]+"${BODYARG[@]}"}
	refused 401 "$1" "$2" -H "Authorization: Basic bWlhOng=" ${BODYARG[@]+"${BODYARG[@]}"}
done
# Roles: read is everyone's; feedback is not a data scientist's; reload not a product engineer's.
expect_code 200 GET /metrics -H "Authorization: Bearer $TOK_dan"
contains "$BODY" "sluice_requests_total"
refused 403 POST /v2/models/xy/feedback "${J[@]}" -H "Authorization: Bearer $TOK_dan" --data-binary "$FB"
contains "$BODY" "role data_scientist"
refused 403 POST /v2/repository/models/xy/load -H "Authorization: Bearer $TOK_pat"
contains "$BODY" "may not reload"
expect_code 200 POST /v2/models/xy/feedback "${J[@]}" -H "Authorization: Bearer $TOK_pat" --data-binary "$FB"
[ "$(echo "$BODY" | js "d['accepted']")" = 1 ] || fail "feedback: $BODY"
expect_code 200 POST /v2/repository/models/xy/load -H "Authorization: Bearer $TOK_sam"
# Rotation while the server runs: the old value is refused by the next request.
OLD=$TOK_mia
expect_code 200 POST /v2/repository/models/xy/load -H "Authorization: Bearer $OLD"
TOK_mia=$(sl users token mia)
refused 401 POST /v2/repository/models/xy/load -H "Authorization: Bearer $OLD"
contains "$BODY" "rotated"
expect_code 200 POST /v2/repository/models/xy/load -H "Authorization: Bearer $TOK_mia"
# A removed user's token stops working.
sl users remove sam >/dev/null
refused 401 POST /v2/repository/models/xy/load -H "Authorization: Bearer $TOK_sam"
kill -TERM "$SPID"
wait_exit "$SPID"

# ---- the audit log: who did what through the server ------------------------------------------
sl audit --json --action serve. --limit 100 >"$T/audit.json"
"$PY" - "$T/audit.json" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
recs = d["records"]
assert d["next"] is None, d["next"]
seqs = [r["seq"] for r in recs]
assert seqs == sorted(seqs, reverse=True), seqs
for r in recs:
    for k in ("seq", "at", "who", "role", "via", "action", "target", "request", "outcome", "status", "detail"):
        assert k in r, (k, r)
    assert r["via"] == "server" and r["target"] == "xy", r
def n(**kw):
    return sum(all(r[k] == v for k, v in kw.items()) for r in recs)
# Two refused attempts without a valid token per write endpoint, three shapes each: 401, anonymous.
assert n(action="serve.feedback", outcome="unauthenticated", status=401, who="anonymous") == 3, recs
assert n(action="serve.reload", outcome="unauthenticated", status=401, who="anonymous") == 5, recs
assert n(action="serve.feedback", who="dan", role="data_scientist", outcome="denied", status=403) == 1
assert n(action="serve.reload", who="pat", role="product_engineer", outcome="denied", status=403) == 1
assert n(action="serve.feedback", who="pat", outcome="ok", status=200) == 1
assert n(action="serve.reload", who="sam", role="sre", outcome="ok") == 1
assert n(action="serve.reload", who="mia", role="ml_engineer", outcome="ok") == 2
ok = [r for r in recs if r["who"] == "pat" and r["outcome"] == "ok"][0]
assert ok["request"].startswith("POST /v2/models/xy/feedback {\"request_ids\""), ok["request"]
assert ok["detail"] is None
denied = [r for r in recs if r["outcome"] == "denied"][0]
assert "may not" in denied["detail"], denied
# Reads are not writes: nothing for /metrics; and no token is ever written.
assert not any("metrics" in (r["request"] or "") for r in recs)
P
for t in "$OLD" "$TOK_mia" "$TOK_dan" "$TOK_pat"; do
	not_contains "$(cat "$T/audit.json")" "$t"
	not_contains "$(sl logs --json)" "$t"
done
expect_exit 0 sl audit --user dan
contains "$OUT" "serve.feedback"
contains "$OUT" "denied 403"

# ---- the command line's writes: the OS account ----------------------------------------------------
expect_exit 0 sl models promote xy 1 --to production --reason "back to 1"
expect_exit 2 sl models promote xy 9 --to production
sl audit --json --action models. >"$T/cli.json"
"$PY" - "$T/cli.json" "$ME" <<'P'
import json, sys
recs = json.load(open(sys.argv[1]))["records"]
me = sys.argv[2]
assert [(r["outcome"], r["status"]) for r in recs] == [("failed", 2), ("ok", 0)], recs
for r in recs:
    assert r["who"] == me and r["via"] == "cli" and r["role"] is None, r
    assert r["action"] == "models.promote" and r["target"] == "xy@production", r
assert recs[1]["request"] == "sluice models promote xy 1 --to production --reason 'back to 1'", recs[1]
assert "version" in recs[0]["detail"], recs[0]
P
[ "$(sl models history xy --json | js "d[-1]['who']")" = "$ME" ] || fail "history records the OS account"
expect_exit 0 sl audit --action users. --json
[ "$(echo "$OUT" | js "sorted(set(r['action'] for r in d['records']))")" = "['users.add', 'users.remove', 'users.token']" ] ||
	fail "users' changes audited: $OUT"
# Paging: pages of 3 walk every record once.
ALL=$(sl audit --json --limit 10000 | js "len(d['records'])")
SEEN=0
BEFORE=""
while :; do
	PAGE=$(sl audit --json --limit 3 $BEFORE)
	SEEN=$((SEEN + $(echo "$PAGE" | js "len(d['records'])")))
	NEXT=$(echo "$PAGE" | js "d['next'] or ''")
	[ -n "$NEXT" ] || break
	BEFORE="--before $NEXT"
done
[ "$SEEN" = "$ALL" ] || fail "pages saw $SEEN of $ALL records"
expect_exit 2 sl audit --limit 0
expect_exit 2 sl audit --since tomorrow
contains "$ERR" "ISO 8601"

# ---- on loopback: tokens by default, --no-auth, --auth inference ---------------------------------
start_server "$T/serve2.err" --model xy=xy.slb
expect_code 401 GET /metrics
expect_code 200 GET /metrics -H "Authorization: Bearer $TOK_pat"
kill -TERM "$SPID"
wait_exit "$SPID"
start_server "$T/serve3.err" --model xy=xy.slb --no-auth
expect_code 200 GET /metrics
expect_code 200 POST /v2/repository/models/xy/load
kill -TERM "$SPID"
wait_exit "$SPID"
start_server "$T/serve4.err" --model xy=xy.slb --auth inference
refused 401 POST /v2/models/xy/infer "${J[@]}" --data-binary "$REQ"
refused 401 POST /invocations "${J[@]}" --data-binary '{"inputs": [[0.7, 0.6]]}'
refused 401 GET /v2/models/xy
expect_code 200 GET /v2/health/ready
expect_code 200 POST /v2/models/xy/infer "${J[@]}" -H "Authorization: Bearer $TOK_dan" --data-binary "$REQ"
kill -TERM "$SPID"
wait_exit "$SPID"

# ---- TLS: the same token over HTTPS -----------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
start_server "$T/serve5.err" --model xy=xy.slb --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
CODE=$(curl -s --cacert "$T/cert.pem" -o /dev/null -w '%{http_code}' "$URL/metrics")
[ "$CODE" = 401 ] || fail "HTTPS without a token: $CODE"
CODE=$(curl -s --cacert "$T/cert.pem" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK_mia" "$URL/metrics")
[ "$CODE" = 200 ] || fail "HTTPS with a token: $CODE"
kill -TERM "$SPID"
wait_exit "$SPID"
echo ok
