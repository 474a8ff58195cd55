#!/usr/bin/env bash
# `make demo`: the spam example end to end, in a fresh project under /tmp so
# the repository stays clean:
#
#   1 project   sluice init --template spam; the canvas and what it drives
#   2 pipeline  ingest -> ... -> three candidates -> choose -> evaluate ->
#               gate -> package -> register (a live progress line per step)
#   3 registry  spam@production, its verdict and the reports as HTML pages
#   4 serving   sluice serve --model spam; V2 requests on held-out messages
#   5 feedback  their true labels, by request id; the inference log
#   6 monitor   the served traffic against the training data (sluice monitor report)
#
#   bash examples/demo.sh [--ci] [SLUICE]
#
# --ci (or output that is not a terminal): plain lines, no colour or redrawn
# progress; the script is the same otherwise. It stops the server it started
# on any exit, and leaves the project for a look around.
set -euo pipefail

CI_MODE=0
SLUICE_ARG=""
for a in "$@"; do
	case $a in
	--ci) CI_MODE=1 ;;
	-h | --help)
		sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
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
for tool in curl awk; do
	command -v $tool >/dev/null || { echo "demo.sh: needs $tool (scripts/deps.sh installs it)" >&2; exit 2; }
done
PY=/usr/bin/python3 # reads the JSON the demo shows; sluice itself needs no Python
W=$(mktemp -d "${TMPDIR:-/tmp}/sluice-demo-XXXXXX")
P=$W/spam
START=$(date +%s.%N)
SPID=""

if [ "$CI_MODE" = 1 ]; then B="" N="" G="" D=""; else B=$'\033[1m' N=$'\033[0m' G=$'\033[32m' D=$'\033[2m'; fi
elapsed() { awk -v s="$START" -v n="$(date +%s.%N)" 'BEGIN { printf "%5.1fs", n - s }'; }
stage() { printf '\n%s[%s] %s%s\n' "$B" "$(elapsed)" "$*" "$N"; }
say() { printf '%s$ %s%s\n' "$D" "$*" "$N"; }
run() { say "$*"; "$@"; }
json() { "$PY" -c "import json,sys; d=json.load(sys.stdin); $1"; }

cleanup() {
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
stage "1/6 a project from the spam template"
(cd "$W" && run "$SLUICE" init spam --template spam)
cd "$P"
run "$SLUICE" canvas check | sed -n '1,14p'

# ---- 2 the pipeline ------------------------------------------------------------------
stage "2/6 the training pipeline: data, three candidates, the choice, the gate, the registry"
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
stage "3/6 the registry: the chosen model, its verdict, its alias"
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
stage "4/6 serving spam@production over HTTP (Open Inference Protocol)"
# start_server SPEC: sluice serve --model SPEC on a free port; sets SPID and
# PORT, or returns 1 when the server exits before it is ready.
start_server() {
	say "$SLUICE serve --model $1 --port 0 &"
	"$SLUICE" serve --model "$1" --port 0 2> "$W/serve.log" &
	SPID=$!
	PORT=""
	for _ in $(seq 200); do
		PORT=$(sed -n 's/.*ready on http:\/\/.*:\([0-9][0-9]*\)$/\1/p' "$W/serve.log")
		[ -n "$PORT" ] && return 0
		if ! kill -0 "$SPID" 2>/dev/null; then
			wait "$SPID" 2>/dev/null || true
			SPID=""
			return 1
		fi
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
# The registered model by name; a sluice whose server cannot look names up
# in the registry yet serves the production version's bundle as a file.
if ! start_server spam; then
	sed 's/^/  /' "$W/serve.log"
	bundle=$("$SLUICE" models show spam --json | json "print(next(v['bundle'] for v in d['versions'] if v['version'] == d['aliases']['production']))")
	"$SLUICE" artifacts export "$bundle" -o "$W/spam.bundle"
	echo "  so: the bundle of spam@production, as a file"
	start_server "spam=$W/spam.bundle" || { cat "$W/serve.log" >&2; exit 1; }
fi
URL=http://127.0.0.1:$PORT
sed 's/^/  /' "$W/serve.log"

# Held-out messages (the split's test rows), raw, as the mail server sends them.
"$SLUICE" artifacts export "$(out split test)" --format csv -o "$W/test.csv"
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

# ---- 5 feedback ----------------------------------------------------------------------
stage "5/6 feedback: the users' spam / not spam buttons, by request id"
ids="" labels=""
for i in 0 1 2; do
	ids="$ids${ids:+,}\"${IDS[$i]}\""
	labels="$labels${labels:+,}[$(labels_of "${REQ_ROWS[$i]}")]"
done
body="{\"request_ids\":[$ids],\"labels\":[$labels]}"
say "curl -H 'Authorization: Bearer \$TOKEN' $URL/v2/models/spam/feedback -d '$body'"
curl -s -S -H "$AUTH" -H 'Content-Type: application/json' -d "$body" "$URL/v2/models/spam/feedback" | sed 's/^/  /'
echo
run "$SLUICE" logs query --model spam -n 4 | sed 's/^\(.\{150\}\).*/\1 .../'
say "curl -H 'Authorization: Bearer \$TOKEN' $URL/metrics | grep spam     # what Prometheus scrapes"
curl -s -H "$AUTH" "$URL/metrics" | grep -E '^sluice_.*model="spam"' | grep -v '_bucket' | head -8 | sed 's/^/  /'
kill -TERM "$SPID" && wait "$SPID" || true
SPID=""

# ---- 6 monitoring ---------------------------------------------------------------------
# The served traffic against what the model was trained on: drift per
# feature, live metrics from the feedback, estimated ones without labels.
# The closed loop (drift or decay -> the retraining pipeline on logged and
# labelled traffic -> the challenger gated against production -> promoted)
# runs under `sluice monitor watch` or `sluice serve --monitor`; the demo's
# spam-strategy-change scenario that drives it is not scripted here yet.
stage "6/6 monitoring: the served traffic against the training data"
say "$SLUICE monitor report --model spam --window 3 --html $W/monitor.html"
"$SLUICE" monitor report --model spam --window 3 --html "$W/monitor.html" > "$W/monitor.txt"
sed -n 's/^/  /; 1,8p' "$W/monitor.txt"
echo "  (twelve hand-picked messages are far too few to judge drift: a real window is"
echo "   canvas.yaml's live_monitoring.window requests of everyday traffic)"
echo "  (the page: $W/monitor.html; the loop that retrains and promotes on drift:"
echo "   sluice monitor watch, or sluice serve --monitor; docs/monitoring.md)"

# ---- the summary ---------------------------------------------------------------------
stage "done in $(elapsed | tr -d ' ')"
"$SLUICE" models show spam --json > "$W/model.json"
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
ver = d['versions'][-1]
print('${B}registry${N}   %s version %d (%s, verdict %s); alias production -> version %d' % (d['name'], ver['version'], ver['algorithm'], ver['verdict'], d['aliases']['production']))
" < "$W/model.json"
echo "${B}reports${N}    $W/reports/evaluate.html (the chosen model on the test rows)"
echo "           $W/reports/eval_{logistic,gbdt,naive_bayes}.html (the candidates)"
echo "${B}project${N}    $P  (cd there: sluice canvas report for the return on"
echo "           investment, sluice runs, sluice models, sluice logs)"
echo "${G}demo complete${N} (remove $W when done)"
