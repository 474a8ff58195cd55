# The web UI in a real browser (headless Chromium driven by playwright-core,
# tests/browser/ui_test.mjs) against the spam example with a model
# registered: every page renders without console errors, a run's DAG shows
# its steps, a dataset its schema, rows and lineage, a model its versions,
# metrics, history and report, the canvas its ten blocks; names that look
# like markup (a step, a pipeline, a column) are shown as text and run no
# script; a run started from the page is drawn while it runs; an ML
# engineer promotes from the model page and the move shows in the history,
# while the same promotion by a data scientist is refused; the monitoring
# page of a served model draws drift charts with points, and an alert is
# acknowledged by an SRE but not by a data scientist. Screenshots of failed
# checks are kept in the project folder. UI_DOCSHOTS=DIR also saves the
# monitoring page's screenshot there (how docs/img/ui-monitoring.png is made).
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/integration/serve_lib.sh"
. "$(dirname "$0")/ui_lib.sh"

[ -x /usr/bin/chromium ] || fail "chromium is not installed (scripts/deps.sh installs it)"
[ -f "$SRC/tests/browser/node_modules/playwright-core/package.json" ] ||
	fail "playwright-core is not installed (scripts/deps.sh installs it)"

ui_project "$T/p"
cd "$T/p"
ui_monitoring
run=$(sl runs show latest --json | js "d['run']")
steps=$(sl runs show latest --json | js "json.dumps([s['name'] for s in d['steps']])")
dataset=$(sl runs show latest --json | js "next(s['outputs']['test'] for s in d['steps'] if s['name']=='split')")

# Names that look like markup: a pipeline and a column by the file, a step
# by the store (the pipeline parser refuses such a step name, but a store
# written by anything else may hold one), a tag by the CLI.
XSS='<img src=x onerror=alert(1)>'
printf '%s,b\n1,2\n3,4\n' "$XSS" > x.csv
cat > xss.yaml <<'Y'
name: "<img src=x onerror=alert(2)>"
steps:
  ingest:
    uses: ingest.csv
    with: { path: x.csv }
Y
sl run xss.yaml -q >/dev/null
xrun=$(sl runs show latest --json | js "d['run']")
xdata=$(sl runs show latest --json | js "d['steps'][0]['outputs']['data']")
sqlite3 .sluice/meta.db "UPDATE step_runs SET step = '$XSS' WHERE run_id = '$xrun'"
sl models tag spam@1 "note=<img src=x onerror=alert(3)>"

# A pipeline slow enough to be watched running, started from the page.
cat > slow.yaml <<'Y'
name: slow
steps:
  first:
    run: sleep 2; echo done > "${outputs.out}"
    outputs: [out]
  last:
    run: cat "${inputs.x}" > "${outputs.out}"
    inputs: { x: first.out }
    outputs: [out]
Y

sl users add mia --role ml_engineer >/dev/null
sl users add dan --role data_scientist >/dev/null
sl users add sam --role sre >/dev/null
mia=$(sl users token mia)
dan=$(sl users token dan)
sam=$(sl users token sam)

ui_start
docshots=""
[ -z "${UI_DOCSHOTS:-}" ] || docshots="\"docshots\": \"$UI_DOCSHOTS\","
cat > "$T/plan.json" <<J
{ "base": "$UURL", "shots": "$T/shots", "run": "$run", "steps": $steps,
  "dataset": "$dataset", "model": "spam",
  "xss": { "run": "$xrun", "dataset": "$xdata", "text": "$XSS" },
  "roles": { "ml_engineer": "$mia", "data_scientist": "$dan", "sre": "$sam" },
  "alert": $ALERT, $docshots
  "promote": { "version": 1, "alias": "production" },
  "slow": { "file": "slow.yaml", "first": "first", "last": "last" } }
J
node "$SRC/tests/browser/ui_test.mjs" "$T/plan.json" || fail "browser checks failed (screenshots in $T/shots)"

# The promotion is the registry's, with who did it; the refusal is audited.
[ "$(sl models show spam --json | js "d['aliases'].get('production')")" = 1 ] || fail "not promoted"
sl models show spam --json | js "[h for h in d['history'] if h['alias']=='production'][-1]['who']" | grep -qx mia ||
	fail "the promotion does not name mia"
sl audit --json | js "[(r['who'], r['action'], r['outcome']) for r in d['records'] if r['via']=='ui']" > "$T/audit.txt"
grep -q "('mia', 'models.promote', 'ok')" "$T/audit.txt" || fail "no audit of mia's promotion: $(cat "$T/audit.txt")"
grep -q "('dan', 'models.promote', 'denied')" "$T/audit.txt" || fail "no audit of dan's refusal: $(cat "$T/audit.txt")"
# The acknowledgement is the store's, with who did it; the refusal is audited.
sl monitor events --kind alert --json | js "[(e['seq'], (e['ack'] or {}).get('by')) for e in d]" |
	grep -qF "($ALERT, 'sam')" || fail "the alert is not acknowledged by sam"
sl audit --json | js "[(r['who'], r['action'], r['outcome']) for r in d['records'] if r['via']=='ui']" > "$T/audit.txt"
grep -q "('dan', 'alerts.ack', 'denied')" "$T/audit.txt" || fail "no audit of dan's refused acknowledgement"
