# Lineage reads as what happened: an artifact is credited to the step that
# made it; steps that passed it on (validate's data, a wrangle applying a
# given transform) are uses, never makers, so nothing is its own descendant;
# validate is in the chain of ancestors; outputs carry their port names; an
# ingest's ancestry ends at its source file with the file's hash; and a
# registered bundle reaches back to that file and forward to its versions.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

xy_csv d.csv 3 300

cat > p.yaml <<Y
name: lineage
steps:
  ingest:
    uses: ingest.csv
    with: { path: d.csv }
  check:
    uses: validate
    inputs: { data: ingest.data }
  split:
    uses: split
    inputs: { data: check.data }
    with: { fractions: [0.6, 0.2, 0.2], seed: 1 }
  features:
    uses: wrangle
    inputs: { data: split.train }
    with: { ops: [ { op: normalize, columns: [x, y] } ] }
  features_test:
    uses: wrangle
    inputs: { data: split.test, transform: features.transform }
  train:
    uses: train.logistic
    inputs: { train: features.data }
    with: { target: label }
  package:
    run: $PY "$SRC/tests/integration/bundle.py" "\${inputs.model}" "\${outputs.bundle}" spam passed
    inputs: { model: train.model }
    outputs: [bundle]
  register:
    uses: register
    inputs: { bundle: package.bundle }
    with: { alias: production }
Y
sl run p.yaml --json > run.json 2>/dev/null || fail "run: $(cat run.json)"
out() { js "next(s['outputs']['$2'] for s in d['steps'] if s['name']=='$1')" < run.json; }
sha=$(sha256sum d.csv | cut -d' ' -f1)

# The training split: made by split as "train", from ingest's data passed on
# by check, whose root is d.csv with its hash.
sl artifacts lineage "$(out split train)" --json > train.json
"$PY" - train.json "$sha" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["producer"]["step"] == "split" and d["producer"]["output"] == "train", d["producer"]
[a] = d["ancestors"]
assert a["step"] == "ingest" and a["output"] == "data" and a["input"] == "data", a
assert [v["step"] for v in a["via"]] == ["check"], a.get("via")
assert a["via"][0]["output"] == "data", a["via"]
assert a["sources"] == [{"path": "d.csv", "sha256": sys.argv[2]}], a["sources"]
assert a["inputs"] == [], a["inputs"]
# Its descendants are labelled by port and made by their makers.
names = {(n["step"], n["output"]) for n in d["descendants"]}
assert ("features", "data") in names and ("features", "transform") in names, names
P
sl artifacts lineage "$(out split train)" > train.txt
contains "$(cat train.txt)" "data of ingest (run"
contains "$(cat train.txt)" "passed on by check"
contains "$(cat train.txt)" "file d.csv  sha256 ${sha:0:12}"

# The ingested data: validate passed it on (a use), it is not its own
# descendant, and split's outputs are labelled train, valid, test.
data=$(out ingest data)
[ "$(out check data)" = "$data" ] || fail "validate passes its input through"
sl artifacts lineage "$data" --json > data.json
"$PY" - data.json "$data" <<'P'
import json, sys
d, me = json.load(open(sys.argv[1])), sys.argv[2]
assert d["sources"][0]["path"] == "d.csv", d.get("sources")
uses = [(u["step"], u["passed_on_as"]) for u in d["uses"]]
assert ("check", "data") in uses, uses
def walk(nodes):
    for n in nodes:
        yield n
        yield from walk(n.get("outputs", []))
every = list(walk(d["descendants"]))
assert all(n["id"] != me for n in every), "an artifact is its own descendant"
assert all(n["step"] != "check" or n["output"] != "data" for n in every)
split = {n["output"] for n in every if n["step"] == "split"}
assert split == {"train", "valid", "test"}, split
P

# The fitted transform is features'; features_test only applied it.
tf=$(out features transform)
[ "$(out features_test transform)" = "$tf" ] || fail "wrangle hands a given transform on"
sl artifacts lineage "$tf" --json > tf.json
"$PY" - tf.json <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["producer"]["step"] == "features" and d["producer"]["output"] == "transform", d["producer"]
assert [(u["step"], u["input"], u["passed_on_as"]) for u in d["uses"]] == [("features_test", "transform", "transform")], d["uses"]
kids = [(n["step"], n["output"], n["input"]) for n in d["descendants"]]
assert kids == [("features_test", "data", "transform")], kids
[a] = d["ancestors"]
assert (a["step"], a["output"]) == ("split", "train"), a
P
sl artifacts lineage "$tf" > tf.txt
not_contains "$(cat tf.txt)" "transform of features_test"
contains "$(cat tf.txt)" "used by features_test"

# The bundle reaches back to the file and forward to its registered version;
# NAME@REF names it too.
bundle=$(out package bundle)
sl artifacts lineage "$bundle" --json > b.json
"$PY" - b.json "$sha" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
chain, node = [], d["ancestors"][0]
while True:
    chain.append((node["step"], node["output"]))
    if not node.get("inputs"):
        break
    node = node["inputs"][0]
assert chain == [("train", "model"), ("features", "data"), ("split", "train"), ("ingest", "data")], chain
assert [v["step"] for v in node["via"]] == ["check"], node
assert node["sources"][0]["sha256"] == sys.argv[2], node["sources"]
assert d["models"] == [{"name": "spam", "version": 1}], d.get("models")
assert [u["step"] for u in d["uses"]] == ["register"], d["uses"]
P
expect_exit 0 sl artifacts lineage spam@production --json
[ "$(echo "$OUT" | js "d['id']")" = "$bundle" ] || fail "lineage of spam@production"
expect_exit 2 sl artifacts lineage spam@staging
contains "$ERR" "no alias 'staging'"

# A cached rerun does not make the cache hits makers or uses.
sl run p.yaml >/dev/null 2>&1 || fail "cached rerun"
sl artifacts lineage "$data" --json > data2.json
"$PY" - data.json data2.json <<'P'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["uses"] == b["uses"] and a["descendants"] == b["descendants"], "a cached run changed the lineage"
P

# ---- forward to serving: the requests the registered version answered ----
# spam@production serves version 1 (logged as spam, version "1"); the
# bundle's file served by path is logged under the first 12 digits of the
# digest it ends with;
# a model that is not the bundle's (its ancestor, the train step's model)
# serves too and must not be counted.
. "$SRC/tests/integration/serve_lib.sh"
sl artifacts export "$bundle" -o copy.bundle
sl artifacts export "$(out train model)" -o plain.slm
start_server "$T/serve.err" --no-auth --model spam --model copy="$T/copy.bundle" --model plain="$T/plain.slm"
at_exit '[ "$LIB_RC" = 0 ] || { echo "--- server:" >&2; cat "$T/serve.err" >&2; }'
good='{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[0.5]},{"name":"y","shape":[1],"datatype":"FP64","data":[0.2]}]}'
for i in 1 2 3; do expect_code 200 POST /v2/models/spam/infer -H 'Content-Type: application/json' --data "$good"; done
for i in 1 2; do expect_code 400 POST /v2/models/spam/infer -H 'Content-Type: application/json' --data '{"inputs":5}'; done
for i in 1 2; do expect_code 200 POST /v2/models/copy/infer -H 'Content-Type: application/json' --data "$good"; done
for i in 1 2 3 4; do expect_code 200 POST /v2/models/plain/infer -H 'Content-Type: application/json' --data "$good"; done
fv=$("$PY" -c "import sys; print(open(sys.argv[1], 'rb').read()[-32:].hex()[:12])" copy.bundle)
contains "$(cat "$T/serve.err")" "copy: serving version $fv"
sl artifacts lineage spam@production --json > served.json
"$PY" - served.json "$fv" <<'P'
import json, sys
d, fv = json.load(open(sys.argv[1])), sys.argv[2]
served = {(s["model"], s["version"]): s for s in d["served"]}
assert set(served) == {("spam", "1"), ("copy", fv)}, served
s = served[("spam", "1")]
assert s["requests"] == 5 and s["status"] == {"2xx": 3, "4xx": 2}, s
assert s["first"] and s["first"] <= s["last"], s
assert s["logs"] == "sluice logs --model spam --version 1", s
c = served[("copy", fv)]
assert c["requests"] == 2 and c["status"] == {"2xx": 2}, c
assert d["serving_log"]["complete"] is True and d["serving_log"]["since"] is None, d["serving_log"]
# The train step's model is upstream of the bundle: what it served is not the bundle's.
assert all(n.get("served") is None for n in d["descendants"]), d["descendants"]
P
sl artifacts lineage "$bundle" > served.txt
contains "$(cat served.txt)" "served as spam@1: 5 requests (3 2xx, 2 4xx)"
contains "$(cat served.txt)" "list them: sluice logs --model spam --version 1"
contains "$(cat served.txt)" "served as copy@$fv: 2 requests (2 2xx)"
not_contains "$(cat served.txt)" "plain"
# What the lineage says is what the log lists.
[ "$(sl logs --model spam --version 1 --json | js "len(d)")" = 5 ] || fail "sluice logs --model spam --version 1"
[ "$(sl logs --model spam --version 1 --status 4xx --json | js "len(d)")" = 2 ] || fail "logs 4xx"
# models show NAME@VERSION says it too; the whole model's listing does not read the log.
contains "$(sl models show spam@1)" "served as spam@1: 5 requests (3 2xx, 2 4xx)"
[ "$(sl models show spam@production --json | js "d['versions'][0]['served']['requests']")" = 5 ] ||
	fail "models show --json: $(sl models show spam@production --json)"
not_contains "$(sl models show spam)" "served as"
