#!/usr/bin/env bash
# `make demo`: the spam example end to end, in a fresh project under /tmp so
# the repository stays clean:
#
#   1 project    sluice init --template spam; the canvas and what it drives
#   2 pipeline   ingest -> ... -> three candidates -> choose -> evaluate ->
#                gate -> package -> register (a live progress line per step)
#   3 registry   spam@production, its verdict and the reports as HTML pages
#   4 serving    sluice serve --model spam; V2 requests and feedback by hand
#   5 traffic    the mail server (mail.py): 500 messages, every one labelled
#                by the users; the monitoring loop looks: nothing to do
#   6 drift      spammers change strategy (mail.py's shift()): 500 more
#   7 retraining sluice monitor watch --once: drift -> retrain.yaml on the
#                original data and the labelled traffic -> gated against
#                production -> promoted, while two clients keep sending mail
#   8 promotion  the server swapped to v2 with no failed request; v1 and v2
#                on the changed spam; the monitoring report
#
#   bash examples/demo.sh [--ci] [SLUICE]
#
# --ci (or output that is not a terminal): plain lines, no colour or redrawn
# progress; the script is the same otherwise. It stops the server and the
# clients it started on any exit, and leaves the project for a look around.
set -euo pipefail

CI_MODE=0
SLUICE_ARG=""
for a in "$@"; do
	case $a in
	--ci) CI_MODE=1 ;;
	-h | --help)
		sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	-*)
		echo "demo.sh: unknown option $a (--ci, --help)" >&2
		exit 2
		;;
	*) SLUICE_ARG=$a ;;
	esac
done
[ -t 1 ] || CI_MODE=1
SLUICE=$(realpath "${SLUICE_ARG:-build/sluice}")
[ -x "$SLUICE" ] || { echo "demo.sh: no sluice binary at $SLUICE (run make build)" >&2; exit 2; }
# jq: the example's choose step reads its reports with it.
for tool in curl awk jq /usr/bin/python3; do
	command -v $tool >/dev/null || { echo "demo.sh: needs $tool (scripts/deps.sh installs it)" >&2; exit 2; }
done
# Python reads the JSON the demo shows and plays the mail server (mail.py);
# sluice itself needs no Python.
PY=/usr/bin/python3
W=$(mktemp -d "${TMPDIR:-/tmp}/sluice-demo-XXXXXX")
P=$W/spam
START=$(date +%s.%N)
SPID=""
LPID=""
STAGES=()

if [ "$CI_MODE" = 1 ]; then B="" N="" G="" D=""; else B=$'\033[1m' N=$'\033[0m' G=$'\033[32m' D=$'\033[2m'; fi
elapsed() { awk -v s="$START" -v n="$(date +%s.%N)" 'BEGIN { printf "%5.1fs", n - s }'; }
# stage TEXT: the stage's line, with the time since the start; its start
# is kept for the summary's timeline.
stage() {
	local t
	t=$(elapsed)
	STAGES+=("$t ${*%%:*}")
	printf '\n%s[%s] %s%s\n' "$B" "$t" "$*" "$N"
}
say() { printf '%s$ %s%s\n' "$D" "$*" "$N"; }
run() { say "$*"; "$@"; }
json() { "$PY" -c "import json,sys; d=json.load(sys.stdin); $1"; }

cleanup() {
	if [ -n "$LPID" ] && kill -0 "$LPID" 2>/dev/null; then
		kill -TERM "$LPID" 2>/dev/null || true
		wait "$LPID" 2>/dev/null || true
	fi
	if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
		kill -TERM "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# progress TOTAL: sluice run's step events (stderr) as one live line per
# step: a bar of steps done, the step, its outcome. Failures pass through.
progress() {
	local total=${1:-0} done=0 line name what bar
	while IFS= read -r line; do
		case $line in
		"run "*": pipeline "*)
			total=$(printf '%s' "$line" | sed -n 's/.*, \([0-9]*\) steps$/\1/p')
			printf '  %s\n' "$line"
			continue
			;;
		"step "*": started") continue ;;
		"step "*) ;;
		*) printf '  %s\n' "$line"; continue ;;
		esac
		name=${line#step }
		what=${name#*: }
		name=${name%%:*}
		done=$((done + 1))
		bar=$(awk -v d="$done" -v t="${total:-1}" 'BEGIN { w = 24; f = t ? int(w * d / t) : w;
			s = ""; for (i = 0; i < w; i++) s = s (i < f ? "#" : "."); print s }')
		printf '  [%s] %2d/%-2s %-18s %s\n' "$bar" "$done" "$total" "$name" "$what"
	done
}

# ---- 1 the project -------------------------------------------------------------------
stage "1/8 project: from the spam template"
(cd "$W" && run "$SLUICE" init spam --template spam)
cd "$P"
run "$SLUICE" canvas check | sed -n '1,14p'

# ---- 2 the pipeline ------------------------------------------------------------------
stage "2/8 pipeline: data, three candidates, the choice, the gate, the registry"
say "$SLUICE run train.yaml"
"$SLUICE" run train.yaml 2>&1 | progress
"$SLUICE" runs show latest --json > "$W/run.json"
[ "$(json "print(d['status'])" < "$W/run.json")" = completed ] || { echo "the pipeline failed" >&2; exit 1; }
echo
say "$SLUICE runs show latest --log choose      # the candidates on the validation rows"
"$SLUICE" runs show latest --log choose | sed 's/^/  /'
say "a second run: nothing changed, so every step comes from the cache"
"$SLUICE" run train.yaml 2>&1 | tail -1 | sed 's/^/  /'

# ---- 3 the registry and the reports --------------------------------------------------
stage "3/8 registry: the chosen model, its verdict, its alias"
run "$SLUICE" models show spam | sed 's/^\(.\{150\}\).*/\1 .../'
mkdir -p "$W/reports"
out() { json "print(next(s['outputs']['$2'] for s in d['steps'] if s['name']=='$1'))" < "$W/run.json"; }
for s in evaluate eval_logistic eval_gbdt eval_naive_bayes; do
	"$SLUICE" artifacts export "$(out $s report)" --format html -o "$W/reports/$s.html"
done
"$SLUICE" artifacts export "$(out evaluate report)" -o "$W/report.json"
"$SLUICE" artifacts export "$(out gate verdict)" -o "$W/verdict.json"
THRESHOLD=$(json "print('%.4f' % d['model']['threshold'])" < "$W/report.json")
json "m, b = d['metrics'], d['baseline']
print('  test rows: ROC AUC %.4f (baseline %.2f), cost per message %.3f s (baseline %.3f s)' % (m['roc_auc'], b['roc_auc'], m['cost'], b['cost']))
c = d['model']['threshold_choice']
print('  threshold %.4f, chosen by the canvas costs on the %d %s rows (decision theory: %.4f)' % (c['threshold'], c['n'], c['rows'], c['bayes_threshold']))
print('  ' + d['verdict_hint'])" < "$W/report.json"

# ---- 4 serving -----------------------------------------------------------------------
stage "4/8 serving: spam@production over HTTP (Open Inference Protocol), feedback by request id"
# start_server SPEC: sluice serve --model SPEC on a free port; sets SPID and
# PORT, or fails the demo when the server exits before it is ready.
start_server() {
	say "$SLUICE serve --model $1 --port 0 &"
	# The file exists before the server's shell opens it: the loop reads it at once.
	: > "$W/serve.log"
	"$SLUICE" serve --model "$1" --port 0 2> "$W/serve.log" &
	SPID=$!
	PORT=""
	for _ in $(seq 200); do
		PORT=$(sed -n 's/.*ready on http:\/\/.*:\([0-9][0-9]*\)$/\1/p' "$W/serve.log")
		[ -n "$PORT" ] && return 0
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.05
	done
	echo "the server did not get ready" >&2
	cat "$W/serve.log" >&2
	exit 1
}
# The mail server's account: inference is open on loopback, feedback and
# /metrics ask for a token of a role that may send feedback.
run "$SLUICE" users add mailserver --role product_engineer | sed 's/^/  /'
say "TOKEN=\$($SLUICE users token mailserver)"
TOKEN=$("$SLUICE" users token mailserver)
AUTH="Authorization: Bearer $TOKEN"
# The registered model by name: the server follows the production alias.
start_server spam
URL=http://127.0.0.1:$PORT
sed 's/^/  /' "$W/serve.log"

# Held-out messages (the split's valid and test rows, raw), as the mail
# server sends them: nothing the models were trained on.
"$SLUICE" artifacts export "$(out split test)" --format csv -o "$W/test.csv"
"$SLUICE" artifacts export "$(out split valid)" --format csv -o "$W/valid.csv"
# v2_body ROWS: a V2 request of those rows of test.csv (numbers from 1, the
# header being 0), one input per column; type and label, the truth, are not
# sent: a new message has no verdict yet, and the server reads a column the
# model does not need as missing.
v2_body() {
	awk -F, -v rows="$1" '
		BEGIN { n = split(rows, want, " "); for (i = 1; i <= n; i++) pick[want[i]] = i }
		NR == 1 { for (j = 1; j <= NF; j++) col[j] = $j; k = NF; next }
		(NR - 1) in pick { for (j = 1; j <= k; j++) v[pick[NR - 1], j] = $j }
		END {
			printf "{\"inputs\":["
			sep = ""
			for (j = 1; j <= k; j++) {
				if (col[j] == "type" || col[j] == "label")
					continue
				printf "%s{\"name\":\"%s\",\"shape\":[%d],\"datatype\":\"FP64\",\"data\":[", sep, col[j], n
				for (i = 1; i <= n; i++)
					printf "%s%s", (i > 1 ? "," : ""), v[i, j]
				printf "]}"
				sep = ","
			}
			printf "]}\n"
		}' "$W/test.csv"
}
# labels_of ROWS: their true labels, comma separated.
labels_of() {
	awk -F, -v rows="$1" '
		BEGIN { n = split(rows, want, " "); for (i = 1; i <= n; i++) pick[want[i]] = i }
		NR == 1 { for (j = 1; j <= NF; j++) if ($j == "label") c = j; next }
		(NR - 1) in pick { l[pick[NR - 1]] = $c }
		END { for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? "," : ""), l[i] }' "$W/test.csv"
}
# Three requests of four messages each, two spam and two not, in turn.
spam_rows=($(awk -F, 'NR > 1 && $NF == 1 { print NR - 1 }' "$W/test.csv" | head -6))
ham_rows=($(awk -F, 'NR > 1 && $NF == 0 { print NR - 1 }' "$W/test.csv" | head -6))
REQ_ROWS=()
for i in 0 2 4; do
	REQ_ROWS+=("${spam_rows[$i]} ${ham_rows[$i]} ${spam_rows[$((i + 1))]} ${ham_rows[$((i + 1))]}")
done
IDS=()
for rows in "${REQ_ROWS[@]}"; do
	v2_body "$rows" > "$W/req.json"
	curl -s -S -D "$W/hdrs" -o "$W/resp.json" -H 'Content-Type: application/json' \
		--data-binary @"$W/req.json" "$URL/v2/models/spam/infer"
	id=$(tr -d '\r' < "$W/hdrs" | awk -F': ' 'tolower($1) == "x-request-id" { print $2 }')
	[ -n "$id" ] || { echo "no X-Request-Id in the answer: $(cat "$W/resp.json")" >&2; exit 1; }
	IDS+=("$id")
	json "out = {o['name']: o['data'] for o in d['outputs']}
truth = [$(labels_of "$rows")]
for i in range(len(truth)):
    print('  request %s message %d: P(spam) %.3f -> %-5s  truth: %s' % ('$id', i + 1, out['predict_proba'][2 * i + 1], 'junk' if out['predict'][i] == 1 else 'inbox', 'spam' if truth[i] else 'not spam'))" < "$W/resp.json"
done
echo "  (the server decides junk when P(spam) >= $THRESHOLD: the threshold the costs chose,"
echo "   kept in the bundle, so a real message goes to junk only when the model is sure)"
# The users' spam / not spam buttons: the truth, by request id.
ids="" labels=""
for i in 0 1 2; do
	ids="$ids${ids:+,}\"${IDS[$i]}\""
	labels="$labels${labels:+,}[$(labels_of "${REQ_ROWS[$i]}")]"
done
body="{\"request_ids\":[$ids],\"labels\":[$labels]}"
say "curl -H 'Authorization: Bearer \$TOKEN' $URL/v2/models/spam/feedback -d '$body'"
curl -s -S -H "$AUTH" -H 'Content-Type: application/json' -d "$body" "$URL/v2/models/spam/feedback" | sed 's/^/  /'
echo
run "$SLUICE" logs query --model spam -n 3 | sed 's/^\(.\{150\}\).*/\1 .../'

# The mail server from here on: every held-out message but the twelve above,
# in one fixed shuffled order, one per request (mail.py, in the project).
awk -F, -v sent="${REQ_ROWS[*]}" 'BEGIN { n = split(sent, s, " "); for (i = 1; i <= n; i++) skip[s[i]] = 1 }
	NR == 1 || !((NR - 1) in skip)' "$W/test.csv" > "$W/rest.csv"
{ cat "$W/valid.csv"; tail -n +2 "$W/rest.csv"; } > "$W/messages.csv"
MSGS=$(($(wc -l < "$W/messages.csv") - 1))
# mail ARGS...: mail.py against this server; its summary (JSON) on stdout.
mail() { "$PY" mail.py "$1" "$URL" "$W/messages.csv" "${@:2}"; }
caught() { json "print('%d of %d spam to junk (%.0f%%), %d of %d real messages to junk' % (d['caught'], d['spam'], 100.0 * d['caught'] / d['spam'], d['false_junk'], d['sent'] - d['spam']))"; }

# ---- 5 traffic -----------------------------------------------------------------------
stage "5/8 traffic: a day of mail, labelled by the users; the monitoring loop looks"
say "python3 mail.py send $URL messages.csv --rows 0:500 --feedback --token \$TOKEN"
mail send --rows 0:500 --feedback --token "$TOKEN" > "$W/normal.json"
json "print('  %d messages, %d failed, %d labelled by the users' % (d['sent'], d['failed'], d['labelled']))" < "$W/normal.json"
echo "  spam@production sent $(caught < "$W/normal.json")"
# One evaluation of the loop (sluice serve --monitor runs it every
# monitoring.interval; here it looks when the demo says so).
say "$SLUICE monitor watch --model spam --once"
"$SLUICE" monitor watch --model spam --once --json > "$W/watch1.json"
"$SLUICE" monitor report --model spam --window 500 --no-record --json > "$W/calm.json"
json "print('  window of %d requests: %d of %d features drifted (share %.3f, drift from %.1f); live ROC AUC %.4f on %d labels' % (d['window']['requests'], d['features_drifted'], d['features_tested'], d['drift_share'], d['drift_share_threshold'], d['live']['auc'], d['live']['labelled']))" < "$W/calm.json"
echo "  the loop decided: $([ -s "$W/watch1.json" ] && "$PY" -c "import json,sys; print(', '.join(json.loads(l)['kind'] for l in sys.stdin))" < "$W/watch1.json" || echo nothing)"

# ---- 6 drift -------------------------------------------------------------------------
# The spam-strategy change is mail.py's shift(): spam rows of spambase with
# their capital runs shortened and their selling words moved to the words
# of business mail (the comment there says how much). Real mail is as before.
stage "6/8 drift: spammers change strategy (sentence case, business words)"
say "python3 mail.py send $URL messages.csv --rows 500:1000 --shift --feedback --token \$TOKEN"
mail send --rows 500:1000 --shift --feedback --token "$TOKEN" > "$W/shifted.json"
json "print('  %d messages, %d failed, %d labelled by the users' % (d['sent'], d['failed'], d['labelled']))" < "$W/shifted.json"
echo "  spam@production now sends $(caught < "$W/shifted.json")"
say "$SLUICE monitor report --model spam --window 500"
"$SLUICE" monitor report --model spam --window 500 --no-record --json > "$W/drift.json"
json "f = sorted((x for x in d['features'] if x['drift']), key=lambda x: -x['statistic'])
print('  window of %d requests: %d of %d features drifted (share %.3f >= %.1f: dataset drift %s)' % (d['window']['requests'], d['features_drifted'], d['features_tested'], d['drift_share'], d['drift_share_threshold'], str(d['dataset_drift']).lower()))
print('  most: ' + ', '.join('%s %.2f' % (x['name'], x['statistic']) for x in f[:6]) + ' (Wasserstein / sd)')
print('  live ROC AUC %.4f on %d labels (the canvas asks 0.95)' % (d['live']['auc'], d['live']['labelled']))" < "$W/drift.json"

# ---- 7 retraining --------------------------------------------------------------------
stage "7/8 retraining: the loop sees the drift, retrains on the original data and the labelled traffic, gates, promotes"
# Two clients keep sending (changed) mail through the swap; they stop half
# a second after the server answers with version 2.
"$PY" mail.py load "$URL" "$W/messages.csv" --shift --until-version 2 --out "$W/load.json" &
LPID=$!
say "$SLUICE monitor watch --model spam --once      # while two clients keep sending mail"
json_lines() { "$PY" -c "import json,sys
for l in sys.stdin:
    e = json.loads(l); d = e['detail']; k = e['kind']
    if k == 'alert': s = 'rule %s: %s %.3f above %g' % (d['rule'], d['metric'], d['value'], d['above'])
    elif k == 'trigger': s = '%s on version %s' % (d['triggers'], d['production'])
    elif k == 'retrain': s = 'run %s: %s %s' % (e['run'][:12], d['pipeline'], ' '.join(d['params']))
    elif k == 'promoted': s = 'version %s -> %s, alias %s' % (d['from'], d['to'], d['alias'])
    else: s = json.dumps(d)[:110]
    print('  %-9s %s' % (k, s), flush=True)"; }
# Each decision as the loop makes it (the run takes a few seconds).
"$SLUICE" monitor watch --model spam --once --json | tee "$W/watch2.json" | json_lines
if [ "$("$SLUICE" models show spam --json | json "print(d['aliases']['production'])")" != 2 ]; then
	kill -TERM "$LPID" 2>/dev/null || true
	echo "the loop did not promote version 2:" >&2
	"$SLUICE" monitor events --model spam >&2
	exit 1
fi
RETRAIN_RUN=$("$PY" -c "import json,sys
print(next(json.loads(l)['run'] for l in sys.stdin if json.loads(l)['kind'] == 'retrain'))" < "$W/watch2.json")
"$SLUICE" runs show "$RETRAIN_RUN" --json > "$W/retrain.json"
say "$SLUICE runs show $RETRAIN_RUN --log gate"
"$SLUICE" runs show "$RETRAIN_RUN" --log gate | grep -E '^(pass|fail)' | sed 's/^/  /'
wait "$LPID" || { echo "the clients did not see version 2: $(cat "$W/load.json")" >&2; exit 1; }
LPID=""

# ---- 8 promotion ---------------------------------------------------------------------
stage "8/8 promotion: the server swapped to v2 under load"
json "print('  %d requests during the retraining and the swap, %d failed; answered by version %s' % (d['sent'], d['failed'], ' and '.join('%s (%d)' % kv for kv in sorted(d['versions'].items()))))" < "$W/load.json"
run "$SLUICE" models history spam | sed 's/^/  /'
rout() { json "print(next(s['outputs']['$2'] for s in d['steps'] if s['name']=='$1'))" < "$W/retrain.json"; }
"$SLUICE" artifacts export "$(rout evaluate report)" -o "$W/retrain_report.json"
"$SLUICE" artifacts export "$(rout evaluate report)" --format html -o "$W/reports/retrain.html"
json "m, c = d['metrics'], d['champion']
print('  held-out traffic (%d messages): ROC AUC v2 %.4f, v1 %.4f; spam caught v2 %.0f%%, v1 %.0f%%; cost per message v2 %.3f s, v1 %.3f s' % (m['rows'], m['roc_auc'], c['roc_auc'], 100 * m['recall'], 100 * c['recall'], m['cost'], c['cost']))" < "$W/retrain_report.json"
say "python3 mail.py send $URL messages.csv --rows 1000:$MSGS --shift      # more changed mail, to v2"
mail send --rows "1000:$MSGS" --shift > "$W/after.json"
echo "  spam@production (v2) sends $(caught < "$W/after.json")"
kill -TERM "$SPID" && wait "$SPID" || true
SPID=""
say "$SLUICE monitor report --model spam --version 1 --html $W/reports/monitor.html"
"$SLUICE" monitor report --model spam --version 1 --html "$W/reports/monitor.html" > /dev/null

# ---- the summary ---------------------------------------------------------------------
printf '\n%s[%s] done%s\n' "$B" "$(elapsed)" "$N"
"$SLUICE" models show spam --json > "$W/model.json"
"$SLUICE" monitor events --model spam --json > "$W/events.json"
json "
run = json.load(open('$W/run.json'))
met = {s['name']: s.get('metrics', {}) for s in run['steps']}
chosen = json.load(open('$W/report.json'))['model']['algorithm']
print('${B}models${N}     (validation rows; cost in seconds of the user\\'s time per message)')
for c in ('logistic', 'gbdt', 'naive_bayes'):
    m = met['eval_' + c]
    print('  %-12s ROC AUC %.4f  cost %.3f  threshold %.4f%s' % (c, m['roc_auc'], m['cost'], m['threshold'], '  <- chosen' if c == chosen else ''))
v = json.load(open('$W/verdict.json'))
print('${B}verdict${N}    %s: %s' % (v['verdict'], '; '.join('%s %.4g %s %g' % (r['measure'], r['value'], r['op'], r['limit']) for r in v['rules'])))
vs = {x['version']: x for x in d['versions']}
print('${B}registry${N}   %s version 1 (%s, verdict %s); version 2 (%s, verdict %s); alias production -> version %d' % (d['name'], vs[1]['algorithm'], vs[1]['verdict'], vs[2]['algorithm'], vs[2]['verdict'], d['aliases']['production']))
ev = json.load(open('$W/events.json'))
tr = next(e for e in ev if e['kind'] == 'trigger')
pr = next(e for e in ev if e['kind'] == 'promoted')
dr = tr['detail']['evidence']['drift']
print('${B}loop${N}       drift share %.3f on version %s -> %s -> run %s -> gate passed -> promoted %s -> %s' % (dr['drift_share'], tr['detail']['production'], tr['detail']['triggers'], pr['run'][:12], pr['detail']['from'], pr['detail']['to']))
l = json.load(open('$W/load.json'))
print('${B}swap${N}       %d requests under load, %d failed' % (l['sent'], l['failed']))
" < "$W/model.json"
echo "${B}reports${N}    $W/reports/evaluate.html (v1, the chosen model, on the test rows)"
echo "           $W/reports/eval_{logistic,gbdt,naive_bayes}.html (the candidates)"
echo "           $W/reports/retrain.html (v2 beside v1 on held-out traffic)"
echo "           $W/reports/monitor.html (monitoring: v1's windows, the drift)"
printf '%stimeline%s  ' "$B" "$N"
printf '%s;  ' "${STAGES[@]}" | sed 's/;  $//'
echo
echo "${B}project${N}    $P  (cd there: sluice monitor events, sluice canvas report,"
echo "           sluice runs, sluice models, sluice logs)"
echo "${G}demo complete${N} (remove $W when done)"
