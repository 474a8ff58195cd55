# Hot reload under continuous load: a new model file renamed over the
# served path is serving within a second, requests in flight finish on the
# version they started with, and not one request fails across several
# swaps; a file that does not load leaves the old version serving, the
# failure counted and reported; the reload endpoint does the same on demand.
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/integration/serve_lib.sh"

train_models
# A second version of spam: same inputs, other coefficients.
cat > "$T/train2.yaml" <<'Y'
name: serve-models-2
steps:
  spam_in:
    uses: ingest.csv
    with: { path: spambase.csv }
  spam:
    uses: train.logistic
    inputs: { train: spam_in.data }
    with: { target: type, C: 0.001 }
Y
(cd "$T" && sl run train2.yaml -q >/dev/null)
ID2=$(cd "$T" && sl runs show latest --json | js "next(s['outputs']['model'] for s in d['steps'] if s['name']=='spam')")
(cd "$T" && sl artifacts export "$ID2" -o "$T/spam2.slm")
cp "$T/spam.slm" "$T/served.slm"
"$PY" - "$T" <<'P'
import csv, json, sys
t = sys.argv[1]
rows = list(csv.reader(open(t + "/spambase.csv")))
json.dump({"inputs": [{"name": "x", "shape": [2, 57], "datatype": "FP64",
    "data": [[float(v) for v in r[:-1]] for r in rows[1:3]]}]}, open(t + "/req.json", "w"))
P

start_server "$T/serve.err" --model "spam=$T/served.slm"
version() { curl -s "$URL/v2/models/spam" | sed 's/.*"versions":\["\([^"]*\)".*/\1/'; }
V1=$(version)
$LOAD --port "$PORT" --path /v2/models/spam/infer --body "$T/req.json" --threads 4 \
	--until "$T/stop" --ids "$T/ids" >"$T/load.json" &
LPID=$!
track "$LPID"
sleep 0.5

# swap FILE: renames FILE over the served path; waits for the new version (at most 1 s).
swap() {
	local from=$1 old new t0 ms
	old=$(version)
	cp "$from" "$T/incoming.slm"
	t0=$(date +%s%N)
	mv "$T/incoming.slm" "$T/served.slm"
	for i in $(seq 100); do
		new=$(version)
		[ "$new" != "$old" ] && break
		sleep 0.02
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$new" != "$old" ] || fail "still serving $old after $ms ms"
	[ "$ms" -le 1000 ] || fail "the swap took $ms ms"
	echo "swapped $old -> $new in $ms ms"
	sleep 0.3
}
swap "$T/spam2.slm"
V2=$(version)
[ "$V2" != "$V1" ] || fail "the new file should be a new version"
swap "$T/spam.slm"
[ "$(version)" = "$V1" ] || fail "back to the first version"
swap "$T/spam2.slm"

# A damaged file: the old version keeps serving; the failure is counted and reported.
head -c 1000 "$T/spam.slm" >"$T/incoming.slm"
mv "$T/incoming.slm" "$T/served.slm"
sleep 0.8
[ "$(version)" = "$V2" ] || fail "a damaged file must not replace the serving version"
M=$(curl -s "$URL/metrics")
grep -q '^sluice_model_load_failures_total{model="spam"} [1-9]' <<<"$M" ||
	fail "load failure not counted: $(echo "$M" | grep failures)"
contains "$(cat "$T/serve.err")" "the new version failed to load"
contains "$(cat "$T/serve.err")" "still serving version $V2"
# The reload endpoint reports the same failure, and the model keeps serving.
expect_code 422 POST /v2/repository/models/spam/load
contains "$BODY" "still serving version $V2"
cp "$T/spam.slm" "$T/incoming.slm"
mv "$T/incoming.slm" "$T/served.slm"
expect_code 200 POST /v2/repository/models/spam/load
[ "$(echo "$BODY" | js "(d['name'], d['version'])")" = "('spam', '$V1')" ] || fail "reload: $BODY"
sleep 0.3

touch "$T/stop"
wait "$LPID"
cat "$T/load.json"
[ "$(js "list(d['codes'])" <"$T/load.json")" = "['200']" ] || fail "non-2xx during reloads: $(cat "$T/load.json")"
[ "$(js "d['errors']" <"$T/load.json")" = 0 ] || fail "connection errors during reloads"
[ "$(js "d['sent'] > 100" <"$T/load.json")" = True ] || fail "too little load: $(cat "$T/load.json")"
# Both versions answered and were logged as such.
M=$(curl -s "$URL/metrics")
grep -q "sluice_requests_total{model=\"spam\",version=\"$V2\",code=\"200\"}" <<<"$M" ||
	fail "no requests counted for $V2"
[ "$(sl logs --model spam --version "$V1" -n 1 --json --log-dir .sluice/inference | js "len(d)")" = 1 ] ||
	fail "no log record of $V1"
[ "$(sl logs --model spam --version "$V2" -n 1 --json | js "len(d)")" = 1 ] || fail "no log record of $V2"
kill -TERM "$SPID"
wait_exit "$SPID"
[ "$WRC" = 0 ] || fail "exit status $WRC"
echo ok
