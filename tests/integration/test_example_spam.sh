# The spam example (examples/spam) end to end: ingest, validate against the
# example's schema, label, stratified split, features fitted on train and
# applied unchanged to valid and test. Then a bad extract fails validation
# with the rule and its numbers, and the unchanged pipeline reruns from cache.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

cp -r "$SRC/examples/spam/." .
sl run train.yaml --json > run.json 2>/dev/null
[ "$(js "d['status']" < run.json)" = completed ] || fail "example run: $(cat run.json)"
out() { js "next(s['outputs']['$2'] for s in d['steps'] if s['name']=='$1')" < run.json; }
metric() { js "next(s['metrics']['$2'] for s in d['steps'] if s['name']=='$1')" < run.json; }

# Every row is labelled and lands in exactly one split, classes in proportion.
[ "$(metric ingest rows)" = 4601.0 ] || fail "rows ingested: $(metric ingest rows)"
[ "$(metric label label.1)" = 1813.0 ] && [ "$(metric label label.0)" = 2788.0 ] || fail "label balance"
[ "$(metric check errors)" = 0.0 ] || fail "validation errors on the clean data"
total=$(js "sum(next(s['metrics'][k] for s in d['steps'] if s['name']=='split') for k in ('rows_train','rows_valid','rows_test'))" < run.json)
[ "$total" = 4601.0 ] || fail "split rows: $total"
# validate passes its data through unchanged: the same artifact.
[ "$(out check data)" = "$(out ingest data)" ] || fail "validate must not change the data"
# valid and test went through the transform fitted on train, unchanged.
[ "$(out features_valid transform)" = "$(out features transform)" ] || fail "transform refitted"
sl artifacts show "$(out features_test data)" --json > test.json
"$PY" - test.json <<'P'
import json, sys
d = json.load(open(sys.argv[1]))["dataset"]
names = [c["name"] for c in d["columns"]]
assert "type" not in names and "label" in names, names
assert "capital_share" in names and "money_words" in names, names
assert d["rows"] == 690, d["rows"]
P
sl artifacts export "$(out split train)" --format csv -o train.csv
[ "$(head -1 train.csv | tr ',' '\n' | tail -1)" = label ] || fail "label column last in the export"
[ "$(wc -l < train.csv)" = 3222 ] || fail "train.csv rows: $(wc -l < train.csv)"

# Unchanged: everything from the cache.
sl run train.yaml -q
[ "$(steps_with completed)" = "" ] || fail "rerun ran: $(steps_with completed)"

# A bad extract: a negative longest capital run breaks a rule; the run fails,
# naming the rule and its numbers, and nothing downstream runs.
awk -F, 'BEGIN{OFS=","} NR==3{$56=-1} {print}' data/spambase.csv > bad.csv && mv bad.csv data/spambase.csv
expect_exit 1 sl run train.yaml
[ "$(step_status check)" = failed ] || fail "validation should fail"
[ "$(step_status label)" = skipped ] || fail "label should be skipped"
show=$(sl runs show latest)
contains "$show" "capitalLong"
contains "$show" "below the minimum 1 (smallest -1)"
echo ok
