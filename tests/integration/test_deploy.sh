# From data to a deployable model and back, through the real binary, on the
# spam example: ingest -> validate -> label -> split -> features (wrangle) ->
# train.logistic -> evaluate -> test (the gate) -> package -> predict.
#  - A passing gate writes its verdict; the bundle records the verdict and
#    its lineage (the run, the pipeline file's SHA-256, the datasets).
#  - sluice predict on raw rows equals the predict step; a missing column and
#    a bad value are named (exit 2).
#  - sluice models export writes C that a C compiler builds and that agrees
#    with sluice predict to 1e-9: a spam filter on a device.
#  - A gate that fails exits 1 naming the rule and its numbers, keeps its
#    verdict and skips package.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

cp -r "$SRC/examples/spam/." .
cat >> train.yaml <<'Y'

  train:
    uses: train.logistic
    inputs: { train: features.data, valid: features_valid.data }
    with: { target: label }

  evaluate:
    uses: evaluate
    inputs: { model: train.model, test: features_test.data }
    with: { importance: false }

  gate:
    uses: test
    inputs: { report: evaluate.report, model: train.model, transform: features.transform,
              data: split.test }
    with:
      rules:
        - { metric: roc_auc, min: 0.9 }
        - { metric: roc_auc, vs: baseline, min_delta: 0.2 }
        - { metric: logloss, vs: champion, min_ratio: 0.05 }
        - { latency_p99_us: 20000 }

  package:
    uses: package
    inputs: { model: train.model, transform: features.transform, report: evaluate.report,
              verdict: gate.verdict }
    with: { name: spam }

  score:
    uses: predict
    inputs: { bundle: package.bundle, data: split.test }
Y
sl run train.yaml --json > run.json 2>/dev/null || fail "run: $(cat run.json)"
[ "$(js "d['status']" < run.json)" = completed ] || fail "run: $(cat run.json)"
out() { js "next(s['outputs']['$2'] for s in d['steps'] if s['name']=='$1')" < run.json; }
run_id=$(js "d['run']" < run.json)

# The verdict: every check passed, the champion rule by the first-deployment note.
sl artifacts export "$(out gate verdict)" -o verdict.json
"$PY" - verdict.json <<'P'
import json, sys
v = json.load(open(sys.argv[1]))
assert v["verdict"] == "passed" and v["checks"] == 4 and v["failed"] == 0, v
assert v["rules"][2]["note"] == "no champion to compare with", v["rules"][2]
assert v["latency"]["source"] == "timed here" and v["latency"]["rows"] == 690, v["latency"]
P

# The bundle's manifest: name, verdict, metrics, lineage.
bundle=$(out package bundle)
sl artifacts export "$bundle" -o spam.bundle
"$PY" - spam.bundle "$run_id" "$(sha256sum train.yaml | cut -d' ' -f1)" "$(out features data)" "$(out features_test data)" <<'P'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
off, ln = struct.unpack_from("<QQ", b, 24)
m = json.loads(b[off:off + ln])
assert m["kind"] == "bundle" and m["name"] == "spam" and m["verdict"] == "passed", m["verdict"]
assert m["metrics"]["roc_auc"] > 0.9 and m["main_metric"] == "roc_auc", m["metrics"]
lin = m["lineage"]
assert lin["run"] == sys.argv[2], lin
assert lin["pipeline"] == "spam-train" and lin["pipeline_sha256"] == sys.argv[3], lin
assert lin["datasets"][0] == sys.argv[4] and sys.argv[5] in lin["datasets"], lin
assert lin["training"]["train"] == sys.argv[4], lin
P

# sluice predict on raw rows (the split's test rows, as CSV) equals the step.
sl artifacts export "$(out split test)" --format csv -o test.csv
sl artifacts export "$(out score data)" --format csv -o step.csv
sl predict "$bundle" -i test.csv -o cli.csv
cut -d, -f1-57 test.csv > raw.csv    # without type and label: they decide nothing
sl predict spam.bundle -i raw.csv -o raw_out.csv
"$PY" - step.csv cli.csv raw_out.csv <<'P'
import csv, sys
step, cli, raw = (list(csv.DictReader(open(f))) for f in sys.argv[1:4])
assert len(step) == len(cli) == len(raw) == 690
for a, b, c in zip(step, cli, raw):
    assert a["proba_1"] == b["proba_1"] == c["proba_1"], (a["proba_1"], b["proba_1"], c["proba_1"])
    assert a["rejected"] == "false" and b["prediction"] in ("0", "1")
P
cut -d, -f2- raw.csv > nomake.csv
expect_exit 2 sl predict spam.bundle -i nomake.csv -o x.csv
contains "$ERR" "nomake.csv: no column 'make', which the model needs"
sed '5s/^[^,]*,/abc,/' raw.csv > bad.csv
expect_exit 2 sl predict spam.bundle -i bad.csv -o x.csv
contains "$ERR" "bad.csv: column 'make', row 4: 'abc' is not a number (float64)"
expect_exit 2 sl predict spam@production -i raw.csv -o x.csv
contains "$ERR" "no model named 'spam' is registered"
expect_exit 2 sl predict spam.bundle -i raw.csv
contains "$ERR" "needs -i IN and -o OUT"

# The spam filter on a device: the exported C, compiled, agrees with sluice predict.
if command -v cc >/dev/null; then
	sl models export "$bundle" --format c -o spam.c
	cc -std=c99 -O2 -Wall -Wextra -pedantic -Werror -o device spam.c "$SRC/tests/unit/export_main.c" -lm ||
		fail "the exported model does not compile"
	./device < raw.csv > device.out
	"$PY" - cli.csv device.out <<'P'
import csv, sys
cli = list(csv.DictReader(open(sys.argv[1])))
dev = [l.strip().split(",") for l in open(sys.argv[2])]
assert len(cli) == len(dev)
for a, d in zip(cli, dev):
    for k, v in zip(("proba_0", "proba_1"), d):
        assert abs(float(a[k]) - float(v)) <= 1e-9, (k, a[k], v)
P
	expect_exit 2 sl models export "$bundle" --format onnx -o x.onnx
	contains "$ERR" "format 'onnx'"
fi

# A gate that fails: exit 1 naming the rule and its numbers; the verdict is
# kept; package and predict are skipped.
sed -i 's/{ metric: roc_auc, min: 0.9 }/{ metric: roc_auc, min: 0.999 }/' train.yaml
expect_exit 1 sl run train.yaml
contains "$ERR" "1 of 4 checks failed: roc_auc = 0.9"
contains "$ERR" "below the minimum 0.999 (rules[0])"
[ "$(step_status gate)" = failed ] || fail "the gate should fail"
[ "$(step_status package)" = skipped ] || fail "package should be skipped"
[ "$(step_status score)" = skipped ] || fail "predict should be skipped"
sl runs show latest --json > failed.json
verdict=$(js "next(s['outputs'].get('verdict', '') for s in d['steps'] if s['name']=='gate')" < failed.json)
[ -n "$verdict" ] || fail "the failed gate's verdict was not kept"
sl artifacts export "$verdict" -o failed_verdict.json
[ "$(js "d['verdict']" < failed_verdict.json)" = failed ] || fail "verdict: $(cat failed_verdict.json)"
echo ok
