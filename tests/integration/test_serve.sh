# sluice serve, conformance: the Open Inference Protocol (V2) endpoints with
# their exact fields, both input layouts, output selection, the id echo and
# explanations; MLflow's /invocations in its four JSON formats and CSV;
# every bad request gets its code and a message naming the field, and the
# server keeps serving; feedback; /metrics; the log, queried and exported.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/integration/serve_lib.sh"

train_models
start_server "$T/serve.err" --no-auth --model "spam=$T/spam.slm" --model "price=$T/price.slm" \
	--model "$T/mixed.slm" --model "odd=$T/odd.slm"

# ---- health and metadata ------------------------------------------------------------
expect_code 200 GET /v2/health/live
[ "$(echo "$BODY" | js "d['live']")" = True ] || fail "live body: $BODY"
expect_code 200 GET /v2/health/ready
expect_code 200 GET /ping
expect_code 200 GET /v2
[ "$(echo "$BODY" | js "(d['name'], d['extensions'])")" = "('sluice', [])" ] || fail "server metadata: $BODY"
expect_code 200 GET /v2/models/spam
echo "$BODY" | js "d" >/dev/null
V=$(echo "$BODY" | js "d['versions'][0]")
[ "$(echo "$BODY" | js "(d['name'], d['platform'], len(d['inputs']))")" = "('spam', 'sluice', 57)" ] ||
	fail "spam metadata: $BODY"
[ "$(echo "$BODY" | js "d['inputs'][0]")" = "{'name': 'make', 'datatype': 'FP64', 'shape': [-1]}" ] ||
	fail "input metadata: $BODY"
[ "$(echo "$BODY" | js "[(o['name'], o['datatype'], o['shape']) for o in d['outputs']][:2]")" = \
	"[('predict', 'BYTES', [-1]), ('predict_proba', 'FP64', [-1, 2])]" ] || fail "outputs: $BODY"
expect_code 200 GET "/v2/models/spam/versions/$V"
expect_code 200 GET /v2/models/spam/ready
[ "$(echo "$BODY" | js "(d['name'], d['ready'])")" = "('spam', True)" ] || fail "model ready: $BODY"
expect_code 200 GET "/v2/models/spam/versions/$V/ready"
expect_code 404 GET /v2/models/spam/versions/nope
contains "$BODY" "has no version 'nope'"
expect_code 404 GET /v2/models/nope
contains "$BODY" "no model 'nope'"
expect_code 200 GET /v2/models/mixed
[ "$(echo "$BODY" | js "sorted((i['name'], i['datatype']) for i in d['inputs'])")" = \
	"[('colour', 'BYTES'), ('count', 'INT64'), ('flag', 'BOOL')]" ] || fail "mixed inputs: $BODY"

# ---- requests ------------------------------------------------------------------------
"$PY" - "$T" <<'P'
import csv, json, sys
t = sys.argv[1]
rows = list(csv.reader(open(t + "/spambase.csv")))
hdr, data = rows[0][:-1], [[float(x) for x in r[:-1]] for r in rows[1:4]]
w = lambda name, obj: json.dump(obj, open(t + "/" + name, "w"))
w("cols.json", {"id": "req-42", "inputs": [{"name": h, "shape": [3], "datatype": "FP64",
    "data": [r[j] for r in data]} for j, h in enumerate(hdr)]})
w("matrix.json", {"inputs": [{"name": "input-0", "shape": [3, len(hdr)], "datatype": "FP64",
    "data": data}], "outputs": [{"name": "predict_proba"}]})
w("explain.json", {"inputs": [{"name": "x", "shape": [1, len(hdr)], "datatype": "FP32",
    "data": data[0]}], "parameters": {"explain": True}})
w("split.json", {"dataframe_split": {"columns": hdr, "data": data}})
w("records.json", {"dataframe_records": [dict(zip(hdr, r)) for r in data]})
w("instances.json", {"instances": data})
w("inputs.json", {"inputs": {h: [r[j] for r in data] for j, h in enumerate(hdr)}})
open(t + "/rows.csv", "w").write(",".join(hdr) + "\n" + "\n".join(",".join(repr(v) for v in r) for r in data) + "\n")
w("mixed.json", {"inputs": [
    {"name": "colour", "shape": [2, 1], "datatype": "BYTES", "data": [["red"], ["blue"]]},
    {"name": "count", "shape": [2], "datatype": "INT32", "data": [7, 1]},
    {"name": "flag", "shape": [2], "datatype": "BOOL", "data": [True, False]}]})
w("mixed_matrix.json", {"inputs": [{"name": "all", "shape": [2, 3], "datatype": "BYTES",
    "data": [["red", 7, True], ["blue", 1, False]]}]})
w("price.json", {"inputs": [{"name": "area", "shape": [1], "datatype": "FP64", "data": [100]},
    {"name": "rooms", "shape": [1], "datatype": "INT64", "data": [3]},
    {"name": "city", "shape": [1], "datatype": "BYTES", "data": ["paris"]}]})
P
J=(-H 'Content-Type: application/json')

# One input per column: the id is echoed, the version named.
expect_code 200 POST /v2/models/spam/infer "${J[@]}" --data-binary @"$T/cols.json"
RID=$(echo "$HDRS" | tr -d '\r' | sed -n 's/^X-Request-Id: //Ip')
[ -n "$RID" ] || fail "no X-Request-Id: $HDRS"
# The headers every answer carries: a Date (RFC 9110: a server with a clock
# sends one), the type and the length (keep-alive needs it).
for h in 'Date: [A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] 20[0-9][0-9] [0-9:]* GMT' \
	'Content-Type: application/json' 'Content-Length: [0-9][0-9]*'; do
	echo "$HDRS" | tr -d '\r' | grep -qi "^$h\$" || fail "no '$h' header: $HDRS"
done
[ "$(echo "$BODY" | js "(d['model_name'], d['model_version'], d['id'])")" = "('spam', '$V', 'req-42')" ] ||
	fail "infer fields: $BODY"
[ "$(echo "$BODY" | js "sorted(d)")" = "['id', 'model_name', 'model_version', 'outputs']" ] || fail "infer keys: $BODY"
[ "$(echo "$BODY" | js "[(o['name'], o['datatype'], o['shape']) for o in d['outputs']]")" = \
	"[('predict', 'BYTES', [3]), ('predict_proba', 'FP64', [3, 2])]" ] || fail "infer outputs: $BODY"
echo "$BODY" | js "d['outputs'][1]['data']" >"$T/proba_cols"
LABELS=$(echo "$BODY" | js "d['outputs'][0]['data']")
# One [n, k] input, and only the output asked for; no id given: the request id stands in.
expect_code 200 POST /v2/models/spam/infer "${J[@]}" --data-binary @"$T/matrix.json"
[ "$(echo "$BODY" | js "[o['name'] for o in d['outputs']]")" = "['predict_proba']" ] || fail "selection: $BODY"
echo "$BODY" | js "d['outputs'][0]['data']" >"$T/proba_matrix"
cmp -s "$T/proba_cols" "$T/proba_matrix" || fail "the two layouts disagree"
[ "$(echo "$BODY" | js "d['id']")" = "$(echo "$HDRS" | tr -d '\r' | sed -n 's/^X-Request-Id: //Ip')" ] ||
	fail "the id should be the request id"
# A client's X-Request-Id is kept.
expect_code 200 POST /v2/models/spam/infer "${J[@]}" -H 'X-Request-Id: client-id-7' --data-binary @"$T/matrix.json"
contains "$HDRS" "X-Request-Id: client-id-7"
# Header names in any case (the server reads its headers in one pass);
# an id with characters outside [A-Za-z0-9._:-] is replaced by one of ours.
expect_code 200 POST /v2/models/spam/infer "${J[@]}" -H 'x-request-ID: client-id-8' --data-binary @"$T/matrix.json"
contains "$HDRS" "X-Request-Id: client-id-8"
[ "$(echo "$BODY" | js "d['id']")" = client-id-8 ] || fail "the lower-case header's id: $BODY"
expect_code 200 POST /v2/models/spam/infer "${J[@]}" -H 'X_Request_Id: other-1' --data-binary @"$T/matrix.json"
[ "$(echo "$BODY" | js "d['id']")" != other-1 ] || fail "X_Request_Id is another header: $BODY"
expect_code 200 POST /v2/models/spam/infer "${J[@]}" -H 'X-Request-Id: bad"id' --data-binary @"$T/matrix.json"
RID2=$(echo "$HDRS" | tr -d '\r' | sed -n 's/^X-Request-Id: //Ip')
[ -n "$RID2" ] && [ "$RID2" != 'bad"id' ] || fail "a bad id should be replaced: $HDRS"
[ "$(echo "$BODY" | js "d['id']")" = "$RID2" ] || fail "the replaced id: $BODY"
# The server's ids: INSTANCE-WW then the worker's sequence in 10 hex
# digits, one more for each request on it.
expect_code 200 POST /v2/models/spam/infer "${J[@]}" --data-binary @"$T/matrix.json"
RID3=$(echo "$HDRS" | tr -d '\r' | sed -n 's/^X-Request-Id: //Ip')
expect_code 200 POST /v2/models/spam/infer "${J[@]}" --data-binary @"$T/matrix.json"
RID4=$(echo "$HDRS" | tr -d '\r' | sed -n 's/^X-Request-Id: //Ip')
python3 - "$RID3" "$RID4" <<'PY' || fail "request ids: $RID3 then $RID4"
import re, sys
a, b = sys.argv[1], sys.argv[2]
assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{12}", x) for x in (a, b)), (a, b)
assert a[:9] == b[:9]
if a[9:11] == b[9:11]:
    assert int(b[11:], 16) == int(a[11:], 16) + 1, (a, b)
PY
# A path with %HH escapes is decoded as before (sp%61m is spam).
expect_code 200 POST /v2/models/sp%61m/infer "${J[@]}" --data-binary @"$T/matrix.json"
[ "$(echo "$BODY" | js "d['model_name']")" = spam ] || fail "escaped path: $BODY"
# Explanations: per feature and a base value, summing to the log-odds.
expect_code 200 POST /v2/models/spam/infer "${J[@]}" --data-binary @"$T/explain.json"
[ "$(echo "$BODY" | js "(lambda o, p: abs(sum(o['data']) - __import__('math').log(p[1] / p[0])) < 1e-9 and o['shape'] == [1, 58])(d['outputs'][2], d['outputs'][1]['data'])")" = True ] ||
	fail "contributions: $BODY"
# Other input types, in both layouts.
expect_code 200 POST /v2/models/mixed/infer "${J[@]}" --data-binary @"$T/mixed.json"
echo "$BODY" | js "d['outputs'][0]['data']" >"$T/mixed_a"
expect_code 200 POST /v2/models/mixed/infer "${J[@]}" --data-binary @"$T/mixed_matrix.json"
echo "$BODY" | js "d['outputs'][0]['data']" >"$T/mixed_b"
cmp -s "$T/mixed_a" "$T/mixed_b" || fail "mixed layouts disagree"
expect_code 200 POST /v2/models/price/infer "${J[@]}" --data-binary @"$T/price.json"
[ "$(echo "$BODY" | js "(d['outputs'][0]['name'], d['outputs'][0]['datatype'], 500 < d['outputs'][0]['data'][0] < 600)")" = \
	"('predict', 'FP64', True)" ] || fail "regression: $BODY"

# An anomaly model: the flag and the score.
expect_code 200 POST /v2/models/odd/infer "${J[@]}" --data-binary \
	'{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [[100, 3], [100000, 60]]}]}'
[ "$(echo "$BODY" | js "([(o['name'], o['datatype']) for o in d['outputs']], set(d['outputs'][0]['data']) <= {0, 1}, d['outputs'][0]['data'][1], d['outputs'][1]['data'][1] > d['outputs'][1]['data'][0])")" = \
	"([('predict', 'INT64'), ('score', 'FP64')], True, 1, True)" ] || fail "anomaly: $BODY"

# ---- MLflow --------------------------------------------------------------------------
expect_code 400 POST /invocations "${J[@]}" --data-binary @"$T/split.json"
contains "$BODY" "several models are served"
for f in split records instances inputs; do
	expect_code 200 POST '/invocations?model=spam' "${J[@]}" --data-binary @"$T/$f.json"
	[ "$(echo "$BODY" | js "d['predictions']")" = "$LABELS" ] || fail "$f: $BODY (want $LABELS)"
done
expect_code 200 POST '/invocations?model=spam' -H 'Content-Type: text/csv; charset=utf-8' --data-binary @"$T/rows.csv"
[ "$(echo "$BODY" | js "d['predictions']")" = "$LABELS" ] || fail "csv: $BODY"
expect_code 415 POST '/invocations?model=spam' -H 'Content-Type: text/plain' --data-binary @"$T/rows.csv"
expect_code 415 POST '/invocations?model=spam' -H 'Content-Type: application/json; charset=latin-1' --data-binary @"$T/split.json"
expect_code 415 POST '/invocations?model=spam' -H 'Content-Type: application/json; format=pandas-split' --data-binary @"$T/split.json"
contains "$BODY" "format=pandas-split"

# ---- bad requests: the code, the field named, and the server goes on -----------------
bad() { # CODE NEEDLE PATH BODY
	expect_code "$1" POST "$3" "${J[@]}" --data-binary "$4"
	contains "$BODY" "$2"
	[ "$(echo "$BODY" | js "sorted(d)")" = "['error']" ] || fail "error body: $BODY"
	still_serving
}
bad 400 "malformed JSON" /v2/models/mixed/infer '{"inputs": [{"name": "colour",'
bad 400 "malformed JSON" /v2/models/mixed/infer '{"inputs": []} trailing'
bad 400 "missing input 'flag'" /v2/models/mixed/infer \
	'{"inputs": [{"name": "colour", "shape": [1], "datatype": "BYTES", "data": ["red"]}, {"name": "count", "shape": [1], "datatype": "INT64", "data": [1]}]}'
bad 400 "inputs[1] 'count', row 0: expected an integer (int64), got 1.5" /v2/models/mixed/infer \
	'{"inputs": [{"name": "colour", "shape": [1], "datatype": "BYTES", "data": ["red"]}, {"name": "count", "shape": [1], "datatype": "FP32", "data": [1.5]}, {"name": "flag", "shape": [1], "datatype": "BOOL", "data": [true]}]}'
bad 400 "datatype BYTES, but the model takes BOOL" /v2/models/mixed/infer \
	'{"inputs": [{"name": "colour", "shape": [1], "datatype": "BYTES", "data": ["red"]}, {"name": "count", "shape": [1], "datatype": "INT64", "data": [1]}, {"name": "flag", "shape": [1], "datatype": "BYTES", "data": ["true"]}]}'
bad 400 "data holds 1 values, its shape 2" /v2/models/mixed/infer \
	'{"inputs": [{"name": "colour", "shape": [2], "datatype": "BYTES", "data": ["red"]}, {"name": "count", "shape": [2], "datatype": "INT64", "data": [1, 2]}, {"name": "flag", "shape": [2], "datatype": "BOOL", "data": [true, false]}]}'
bad 400 "shape must be [n] or [n, 1]" /v2/models/mixed/infer \
	'{"inputs": [{"name": "colour", "shape": [1, 2], "datatype": "BYTES", "data": ["red", "x"]}]}'
bad 400 "the model has no output 'proba'" /v2/models/spam/infer '{"outputs": [{"name": "proba"}], "inputs": []}'
bad 404 "no model 'ghost'" /v2/models/ghost/infer '{}'
bad 400 "dataframe_split.columns: missing column 'colour'" '/invocations?model=mixed' \
	'{"dataframe_split": {"columns": ["count", "flag"], "data": [[1, true]]}}'
bad 400 "dataframe_records[0] 'count': expected an integer" '/invocations?model=mixed' \
	'{"dataframe_records": [{"colour": "red", "count": "many", "flag": true}]}'
bad 400 "exactly one of" '/invocations?model=mixed' '{"data": []}'
expect_code 405 GET /v2/models/spam/infer
contains "$HDRS" "Allow: POST"
expect_code 404 GET /nowhere
expect_code 405 POST /v2/health/ready -d x
still_serving

# ---- feedback --------------------------------------------------------------------------
expect_code 200 POST '/invocations?model=mixed' "${J[@]}" -H 'X-Request-Id: fb-one' \
	--data-binary '{"dataframe_records": [{"colour": "red", "count": 9, "flag": true}]}'
P1=$(echo "$BODY" | js "d['predictions'][0]")
expect_code 200 POST /v2/models/mixed/infer "${J[@]}" -H 'X-Request-Id: fb-two' --data-binary @"$T/mixed.json"
expect_code 200 POST /v2/models/mixed/feedback "${J[@]}" \
	--data-binary "{\"request_ids\": [\"fb-one\", \"fb-two\", \"never-seen\"], \"labels\": [\"$P1\", [\"yes\", \"no\"], \"no\"]}"
[ "$(echo "$BODY" | js "(d['accepted'], d['unknown'])")" = "(2, ['never-seen'])" ] || fail "feedback: $BODY"
bad 400 "labels[0]: 'maybe' is not a class" /v2/models/mixed/feedback \
	'{"request_ids": ["fb-one"], "labels": ["maybe"]}'
bad 400 "request 'fb-two' had 2 rows" /v2/models/mixed/feedback '{"request_ids": ["fb-two"], "labels": ["yes"]}'
bad 400 "2 request_ids but 1 labels" /v2/models/mixed/feedback '{"request_ids": ["a", "b"], "labels": [1]}'
# An id another model answered is unknown to this one.
expect_code 200 POST /v2/models/spam/feedback "${J[@]}" --data-binary '{"request_ids": ["fb-one"], "labels": ["spam"]}'
[ "$(echo "$BODY" | js "(d['accepted'], d['unknown'])")" = "(0, ['fb-one'])" ] || fail "cross-model feedback: $BODY"

# ---- metrics -----------------------------------------------------------------------------
expect_code 200 GET /metrics
contains "$HDRS" "text/plain; version=0.0.4"
M=$BODY
contains "$M" "sluice_requests_total{model=\"spam\",version=\"$V\",code=\"200\"}"
contains "$M" "sluice_requests_total{model=\"mixed\""
contains "$M" 'code="400"}'
contains "$M" 'code="415"}'
contains "$M" "sluice_request_duration_seconds_bucket{model=\"spam\",version=\"$V\",le=\"+Inf\"}"
contains "$M" "sluice_prediction_bucket{model=\"spam\""
contains "$M" "sluice_predicted_class_total{model=\"mixed\""
contains "$M" 'sluice_live_metric{model="mixed",metric="accuracy"}'
contains "$M" 'sluice_feedback_labels_total{model="mixed"} 2'
contains "$M" "sluice_requests_in_flight 1"
contains "$M" "sluice_log_records_written_total"
contains "$M" 'sluice_model_loads_total{model="spam"} 1'
echo "$M" | "$PY" -c "
import sys
for line in sys.stdin:
    if line.startswith('#') or not line.strip(): continue
    name, value = line.rsplit(' ', 1); float(value)
" || fail "metrics are not in the text format"

# ---- the log -------------------------------------------------------------------------------
sl logs --id "$RID" --json >"$T/q.json"
[ "$(js "(len(d), d[0]['model'], d[0]['version'], d[0]['status'], d[0]['rows'], d[0]['endpoint'])" <"$T/q.json")" = \
	"(1, 'spam', '$V', 200, 3, 'v2')" ] || fail "log record: $(cat "$T/q.json")"
[ "$(js "d[0]['outputs']['predict']" <"$T/q.json")" = "$LABELS" ] || fail "logged outputs"
[ "$(js "d[0]['inputs']['make']" <"$T/q.json")" = "$(js "[r['make'] for r in d['dataframe_records']]" <"$T/records.json")" ] ||
	fail "logged inputs"
sl logs --status 4xx --json -n 0 >"$T/q.json"
[ "$(js "all(r['status'] // 100 == 4 and 'error' in r for r in d) and len(d) >= 15" <"$T/q.json")" = True ] ||
	fail "error records: $(cat "$T/q.json")"
sl logs --status error --model ghost --json >"$T/q.json"
[ "$(js "(d[0]['status'], d[0]['body'])" <"$T/q.json")" = "(404, '{}')" ] || fail "unknown model's record"
OUT=$(sl logs --model mixed)
contains "$OUT" "mixed@"
contains "$OUT" "feedback"
sl logs export --model mixed --format csv -o "$T/mixed.csv.out"
"$PY" - "$T/mixed.csv.out" <<'P'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cols = list(rows[0])
assert cols[:4] == ["request_id", "time", "version", "row"], cols
for c in ["colour", "count", "flag", "predict", "proba_no", "proba_yes", "label"]:
    assert c in cols, (c, cols)
lab = {(r["request_id"], r["row"]): r["label"] for r in rows}
assert lab[("fb-two", "0")] == "yes" and lab[("fb-two", "1")] == "no", lab
assert ("fb-one", "0") in lab
P
sl logs export --model spam --format jsonl -o "$T/spam.jsonl"
[ "$(head -1 "$T/spam.jsonl" | js "len(d['make']) if False else sorted(d)[:3]")" != "" ] || fail "jsonl export"
expect_exit 2 sl logs export --model spam --format xml -o x
contains "$ERR" "csv or jsonl"
expect_exit 2 sl logs --since yesterday
contains "$ERR" "ISO 8601"

# The log as a training set: ingest.log joins the requests with their labels.
cat >"$T/retrain.yaml" <<'Y'
name: retrain
steps:
  traffic:
    uses: ingest.log
    with: { model: mixed }
  everything:
    uses: ingest.log
    with: { model: mixed, labeled_only: false }
Y
sl run retrain.yaml -q >/dev/null
for s in traffic everything; do
	id=$(sl runs show latest --json | js "next(x['outputs']['data'] for x in d['steps'] if x['name']=='$s')")
	sl artifacts export "$id" --format csv -o "$T/$s.csv"
done
"$PY" - "$T" <<'P'
import csv, sys
t = sys.argv[1]
rows = list(csv.DictReader(open(t + "/traffic.csv")))
cols = list(rows[0])
for c in ["colour", "count", "flag", "prediction", "label", "time", "request_id", "version"]:
    assert c in cols, (c, cols)
got = sorted((r["request_id"], r["row"], r["label"]) for r in rows)
assert got == [("fb-one", "0", got[0][2]), ("fb-two", "0", "yes"), ("fb-two", "1", "no")], got
every = list(csv.DictReader(open(t + "/everything.csv")))
assert len(every) > len(rows) and any(r["label"] == "" for r in every), len(every)
P
# The step always runs: the log grows without the pipeline changing.
sl run retrain.yaml -q >/dev/null
[ "$(steps_with cached)" = "" ] || fail "ingest.log must not be cached"

# SIGTERM: drained, exit 0.
kill -TERM "$SPID"
wait_exit "$SPID"
[ "$WRC" = 0 ] || fail "exit status after SIGTERM: $WRC; $(cat "$T/serve.err")"
contains "$(cat "$T/serve.err")" "stopped"

# ---- connections dealt alike to the request threads ---------------------------------------------
# A burst of 8 keep-alive connections, all open before any is served, gets
# about half on each of 2 threads (left to libmicrohttpd, the thread that
# woke first took them all), as /metrics tells by each thread's requests.
start_server "$T/serve2.err" --no-auth --model "spam=$T/spam.slm" --threads 2
"$PY" - "$PORT" <<'P'
import http.client, re, socket, sys, time
port = int(sys.argv[1])
socks = [socket.socket() for _ in range(8)]
for s in socks:
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
time.sleep(0.3)
conns = []
for s in socks:
    s.setblocking(True)
    s.settimeout(10)
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.sock = s
    conns.append(c)
for _ in range(25):
    for c in conns:
        c.request("GET", "/v2/health/ready")
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
c = http.client.HTTPConnection("127.0.0.1", port)
c.request("GET", "/metrics")
text = c.getresponse().read().decode()
got = sorted(int(n) for n in re.findall(r'^sluice_thread_requests_total\{thread="\d+"\} (\d+)$', text, re.M))
assert len(got) == 2 and sum(got) == 201 and got[0] >= 50, got
P
kill -TERM "$SPID"
wait_exit "$SPID"
[ "$WRC" = 0 ] || fail "exit status after SIGTERM: $WRC; $(cat "$T/serve2.err")"
echo ok
