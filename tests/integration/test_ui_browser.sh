# The web UI in a real browser (headless Chromium driven by playwright-core,
# tests/browser/ui_test.mjs) against the spam example with a model
# registered: every page renders without console errors, a run's DAG shows
# its steps, a dataset its schema, rows and lineage, a model its versions,
# metrics, history and report, the canvas its ten blocks; names that look
# like markup (a step, a pipeline, a column) are shown as text and run no
# script. Screenshots of failed checks are kept in the project folder.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ui_lib.sh"

[ -x /usr/bin/chromium ] || fail "chromium is not installed (scripts/deps.sh installs it)"
[ -f "$SRC/tests/browser/node_modules/playwright-core/package.json" ] ||
	fail "playwright-core is not installed (scripts/deps.sh installs it)"

ui_project "$T/p"
cd "$T/p"
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

ui_start
cat > "$T/plan.json" <<J
{ "base": "$UURL", "shots": "$T/shots", "run": "$run", "steps": $steps,
  "dataset": "$dataset", "model": "spam",
  "xss": { "run": "$xrun", "dataset": "$xdata", "text": "$XSS" }, "roles": null }
J
node "$SRC/tests/browser/ui_test.mjs" "$T/plan.json" || fail "browser checks failed (screenshots in $T/shots)"
