# The web UI's JSON API through `sluice ui`: every endpoint asks a token
# (401 with a JSON error and WWW-Authenticate without one, 403 for a role
# that may not), a rotated token is refused, the pages are paged on the
# server, no endpoint reads a file outside the project, bodies are limited
# as in serving, an action must be JSON, a run started from the API runs,
# and every answer carries the pages' Content-Security-Policy. The
# monitoring endpoints page windows and events on the server, and an alert
# is acknowledged by an SRE (once, recorded with who and when, shown by
# `sluice monitor events`) but not by a data scientist.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/integration/serve_lib.sh"
. "$(dirname "$0")/ui_lib.sh"

ui_project "$T/p"
cd "$T/p"
ui_monitoring
sl users add mia --role ml_engineer >/dev/null
sl users add dan --role data_scientist >/dev/null
sl users add sam --role sre >/dev/null
mia=$(sl users token mia)
dan=$(sl users token dan)
sam=$(sl users token sam)
run=$(sl runs show latest --json | js "d['run']")
bundle=$(sl models show spam --json | js "d['versions'][0]['bundle']")
ui_start --max-body 2K
M=(-H "Authorization: Bearer $mia")
D=(-H "Authorization: Bearer $dan")
S=(-H "Authorization: Bearer $sam")
J=(-H "Content-Type: application/json")

# The pages themselves hold no data: no token needed; the API asks one everywhere.
ui_get /
[ "$CODE" = 200 ] || fail "/: $CODE"
contains "$BODY" "/ui/app.js"
for path in /api/info /api/runs "/api/runs/$run" "/api/runs/$run/graph" "/api/runs/$run/log?step=train" \
	/api/artifacts "/api/artifacts/$bundle" "/api/artifacts/$bundle/lineage" /api/models \
	/api/models/spam /api/canvas /api/monitoring /api/monitoring/spam "/api/events?model=spam"; do
	ui_get "$path"
	[ "$CODE" = 401 ] || fail "$path without a token: $CODE $BODY"
	contains "$BODY" '"error"'
	ui_get "$path" "${D[@]}"
	[ "$CODE" = 200 ] || fail "$path as a data scientist: $CODE $BODY"
done
curl -s -D "$T/h" -o /dev/null "$UURL/api/runs"
grep -qi '^WWW-Authenticate: Bearer' "$T/h" || fail "no WWW-Authenticate on a 401"
grep -qi "^Content-Security-Policy: default-src 'none'; script-src 'self'" "$T/h" || fail "no policy on the API"
ui_get /api/runs -H "Authorization: Bearer slt_0000"
[ "$CODE" = 401 ] || fail "a made-up token: $CODE"

# Writes: 401 without a token, 403 for a role that may not, all audited.
ui_get /api/models/spam/promote -X POST "${J[@]}" -d '{"version": 1, "alias": "production"}'
[ "$CODE" = 401 ] || fail "promote without a token: $CODE $BODY"
ui_get /api/models/spam/promote -X POST "${J[@]}" "${D[@]}" -d '{"version": 1, "alias": "production"}'
[ "$CODE" = 403 ] || fail "promote to production as a data scientist: $CODE $BODY"
contains "$BODY" "data_scientist"
ui_get /api/models/spam/rollback -X POST "${J[@]}" "${D[@]}" -d '{"alias": "staging"}'
[ "$CODE" = 403 ] || fail "rollback as a data scientist: $CODE $BODY"
ui_get /api/models/spam/promote -X POST "${J[@]}" "${M[@]}" -d '{"version": 1, "alias": "production", "reason": "api"}'
[ "$CODE" = 200 ] || fail "promote as an ML engineer: $CODE $BODY"
ui_get /api/models/spam/tag -X POST "${J[@]}" "${M[@]}" -d '{"version": 1, "key": "owner", "value": "<b>mia</b>"}'
[ "$CODE" = 200 ] || fail "tag: $CODE $BODY"
[ "$(sl models show spam@1 --json | js "d['versions'][0]['tags']['owner']")" = "<b>mia</b>" ] || fail "tag not set"
ui_get /api/models/spam/promote -X POST "${M[@]}" -d '{"version": 1, "alias": "production"}' -H "Content-Type: text/plain"
[ "$CODE" = 415 ] || fail "an action that is not JSON: $CODE $BODY"
ui_get /api/models/spam/promote -X POST "${J[@]}" "${M[@]}" -d '{"version": 1,'
[ "$CODE" = 400 ] || fail "a malformed body: $CODE $BODY"
ui_get /api/runs/x -X POST "${J[@]}" "${M[@]}" -d '{}'
[ "$CODE" = 405 ] || fail "POST to a read endpoint: $CODE $BODY"
sl audit --json | js "sorted(set((r['who'], r['action'], r['outcome'], r['status']) for r in d['records'] if r['via']=='ui'))" > "$T/audit.txt"
for want in "('anonymous', 'models.promote', 'unauthenticated', 401)" "('dan', 'models.promote', 'denied', 403)" \
	"('dan', 'models.rollback', 'denied', 403)" "('mia', 'models.promote', 'ok', 200)" "('mia', 'models.tag', 'ok', 200)"; do
	grep -qF "$want" "$T/audit.txt" || fail "no audit record $want in $(cat "$T/audit.txt")"
done

# A rotated token is refused at once.
sl users token dan >/dev/null
ui_get /api/runs "${D[@]}"
[ "$CODE" = 401 ] || fail "a rotated token: $CODE $BODY"

# Bodies are limited as in serving (--max-body).
head -c 4096 /dev/zero | tr '\0' 'x' > "$T/big"
ui_get /api/models/spam/tag -X POST "${J[@]}" "${M[@]}" --data-binary @"$T/big"
[ "$CODE" = 413 ] || fail "a body over --max-body: $CODE"

# Nothing outside the project: a pipeline file, a log through a link.
ui_get /api/runs -X POST "${J[@]}" "${M[@]}" -d '{"pipeline": "../../etc/passwd"}'
[ "$CODE" = 404 ] || fail "a pipeline outside the project: $CODE $BODY"
ui_get /api/runs -X POST "${J[@]}" "${M[@]}" -d '{"pipeline": "/etc/passwd"}'
[ "$CODE" = 400 ] || fail "an absolute pipeline path: $CODE $BODY"
log=$(sl runs show "$run" --json | js "next(s['log'] for s in d['steps'] if s['name']=='train')")
echo "secret" > "$T/outside.txt"
ln -sf "$T/outside.txt" ".sluice/$log"
ui_get "/api/runs/$run/log?step=train" "${M[@]}"
[ "$CODE" = 404 ] || fail "a log linked outside the project: $CODE $BODY"
not_contains "$BODY" secret
ui_get "/ui/../../etc/passwd"
[ "$CODE" = 404 ] || fail "a page path outside: $CODE"

# Paging on the server: pages of the runs list, a bad window refused.
for i in 1 2 3; do sl run model.yaml -q >/dev/null; done
ui_get "/api/runs?limit=2&offset=1" "${M[@]}"
[ "$(echo "$BODY" | js "(d['total'], len(d['items']), d['offset'])")" = "(4, 2, 1)" ] || fail "runs page: $BODY"
ui_get "/api/runs?limit=5000" "${M[@]}"
[ "$CODE" = 400 ] || fail "a page of 5000: $CODE $BODY"
ui_get "/api/runs?offset=-1" "${M[@]}"
[ "$CODE" = 400 ] || fail "a negative offset: $CODE $BODY"
ui_get "/api/models/spam?limit=1" "${M[@]}"
[ "$(echo "$BODY" | js "(d['versions_total'], len(d['versions']))")" = "(1, 1)" ] || fail "versions page: $BODY"

ui_get "/api/models?q=pa&limit=1" "${M[@]}"
[ "$(echo "$BODY" | js "(d['total'], [m['name'] for m in d['items']])")" = "(1, ['spam'])" ] || fail "models page: $BODY"
ui_get "/api/models?q=nothing-like-it" "${M[@]}"
[ "$(echo "$BODY" | js "(d['total'], len(d['items']))")" = "(0, 0)" ] || fail "models searched: $BODY"

# Monitoring: the monitored models, one page of windows (newest first by
# page), the newest report, every number as a series. (dan's token was
# rotated above: the new one.)
dan=$(sl users token dan)
D=(-H "Authorization: Bearer $dan")
ui_get /api/monitoring "${D[@]}"
echo "$BODY" | js "[(m['model'], m['windows'], m['alerts'] >= 1, m['unacknowledged'] == m['alerts']) for m in d['items']]" |
	grep -qxF "[('spam', 2, True, True)]" || fail "monitored models: $BODY"
ui_get "/api/monitoring/spam?limit=1" "${D[@]}"
[ "$(echo "$BODY" | js "(d['total'], [w['seq'] for w in d['items']], d['report']['model'])")" = "(2, [2], 'spam')" ] ||
	fail "the newest window: $BODY"
echo "$BODY" | js "d['items'][0]['values']['drift.free.statistic'] is not None and d['items'][0]['dataset_drift']" |
	grep -qx True || fail "no drift series in the drifted window: $BODY"
ui_get "/api/monitoring/spam?limit=1&offset=1" "${D[@]}"
[ "$(echo "$BODY" | js "[w['seq'] for w in d['items']]")" = "[1]" ] || fail "the older window: $BODY"
ui_get "/api/monitoring/spam?limit=1&offset=5" "${D[@]}"
[ "$(echo "$BODY" | js "(d['total'], d['items'], d['report'])")" = "(2, [], None)" ] || fail "past the end: $BODY"
ui_get "/api/monitoring/nobody" "${D[@]}"
[ "$(echo "$BODY" | js "(d['total'], d['items'])")" = "(0, [])" ] || fail "a model never monitored: $BODY"
# Events: newest first, paged and filtered in the store.
nev=$(sl monitor events --model spam --json | js "len(d)")
ui_get "/api/events?model=spam&limit=1&offset=1" "${D[@]}"
[ "$(echo "$BODY" | js "(d['total'], len(d['items']))")" = "($nev, 1)" ] || fail "events page: $BODY"
ui_get "/api/events?kind=alert&limit=1" "${D[@]}"
[ "$(echo "$BODY" | js "[(e['seq'], e['kind'], e['ack']) for e in d['items']]")" = "[($ALERT, 'alert', None)]" ] ||
	fail "alerts: $BODY"
ui_get "/api/events?since=yesterday" "${D[@]}"
[ "$CODE" = 400 ] || fail "a bad since: $CODE $BODY"

# Acknowledging an alert: 401 without a token, 403 for a data scientist,
# done by an SRE, and only once.
ui_get "/api/events/$ALERT/ack" -X POST "${J[@]}" -d '{}'
[ "$CODE" = 401 ] || fail "ack without a token: $CODE $BODY"
ui_get "/api/events/$ALERT/ack" -X POST "${J[@]}" "${D[@]}" -d '{}'
[ "$CODE" = 403 ] || fail "ack as a data scientist: $CODE $BODY"
contains "$BODY" "alert.ack"
ui_get "/api/events/$ALERT/ack" -X POST "${J[@]}" "${S[@]}" -d '{"note": "on it <b>now</b>"}'
[ "$CODE" = 200 ] || fail "ack as an SRE: $CODE $BODY"
[ "$(echo "$BODY" | js "(d['seq'], d['ack']['by'], d['ack']['note'], bool(d['ack']['at']))")" = "($ALERT, 'sam', 'on it <b>now</b>', True)" ] ||
	fail "the acknowledgement: $BODY"
ui_get "/api/events/$ALERT/ack" -X POST "${J[@]}" "${M[@]}" -d '{}'
[ "$CODE" = 409 ] || fail "a second ack: $CODE $BODY"
contains "$BODY" "acknowledged by sam"
other=$(sl monitor events --json | js "next(e['seq'] for e in d if e['kind'] != 'alert')")
ui_get "/api/events/$other/ack" -X POST "${J[@]}" "${S[@]}" -d '{}'
[ "$CODE" = 400 ] || fail "ack of an event that is no alert: $CODE $BODY"
ui_get "/api/events/999999/ack" -X POST "${J[@]}" "${S[@]}" -d '{}'
[ "$CODE" = 404 ] || fail "ack of no event: $CODE $BODY"
ui_get "/api/events/x1/ack" -X POST "${J[@]}" "${S[@]}" -d '{}'
[ "$CODE" = 404 ] || fail "ack of a malformed number: $CODE $BODY"
ui_get "/api/events/$ALERT/ack" -X POST "${J[@]}" "${S[@]}" -d '{"note": 3}'
[ "$CODE" = 400 ] || fail "a note that is not text: $CODE $BODY"
ui_get /api/monitoring "${D[@]}"
[ "$(echo "$BODY" | js "d['items'][0]['unacknowledged']")" = "$(( $(echo "$BODY" | js "d['items'][0]['alerts']") - 1 ))" ] ||
	fail "the acknowledged alert is still counted: $BODY"
sl monitor events --model spam --kind alert --json | js "[(e['seq'], (e['ack'] or {}).get('by')) for e in d]" |
	grep -qF "($ALERT, 'sam')" || fail "sluice monitor events --json does not show the acknowledgement"
expect_exit 0 sl monitor events --model spam
contains "$OUT" "alert $ALERT acknowledged by sam: on it <b>now</b>"
sl audit --json | js "sorted(set((r['who'], r['action'], r['outcome'], r['status'], r['target']) for r in d['records'] if r['action']=='alerts.ack'))" > "$T/ack.txt"
for want in "('sam', 'alerts.ack', 'ok', 200, 'event:$ALERT')" "('dan', 'alerts.ack', 'denied', 403, 'event:$ALERT')" \
	"('anonymous', 'alerts.ack', 'unauthenticated', 401, 'event:$ALERT')"; do
	grep -qF "$want" "$T/ack.txt" || fail "no audit record $want in $(cat "$T/ack.txt")"
done

# A run started from the API exists at once and completes (from the cache).
ui_get /api/runs -X POST "${J[@]}" "${M[@]}" -d '{"pipeline": "model.yaml", "params": {}}'
[ "$CODE" = 200 ] || fail "start a run: $CODE $BODY"
new=$(echo "$BODY" | js "d['run']")
for _ in $(seq 200); do
	st=$(sl runs show "$new" --json | js "d['status']")
	[ "$st" = running ] || break
	sleep 0.1
done
[ "$st" = completed ] || fail "the run started from the API: $st"

# sluice serve --ui: a model and the UI on one port (here without tokens, on loopback).
ui_stop
sl artifacts export "$bundle" -o "$T/spam.slb" >/dev/null
# The file exists before the server's shell opens it (the loop reads it at once).
: >"$T/ui.err"
"$SLUICE" serve --port 0 --ui --no-auth --model "spam=$T/spam.slb" 2>"$T/ui.err" &
UPID=$!
UPORT=""
for _ in $(seq 1200); do
	UPORT=$(sed -n 's/.*ready on http:\/\/.*:\([0-9][0-9]*\)$/\1/p' "$T/ui.err")
	[ -n "$UPORT" ] && break
	kill -0 "$UPID" 2>/dev/null || fail "serve --ui exited: $(cat "$T/ui.err")"
	sleep 0.05
done
[ -n "$UPORT" ] || fail "serve --ui did not get ready in 60 s: $(cat "$T/ui.err")"
UURL="http://127.0.0.1:$UPORT"
ui_get /v2/models/spam
[ "$CODE" = 200 ] || fail "serve --ui: the model: $CODE $BODY"
ui_get /api/info
[ "$CODE" = 200 ] || fail "serve --ui: the UI's API: $CODE $BODY"
contains "$BODY" '"actions":["promote"'
