# docs/getting-started.md stays true: its pipeline runs as written, and the
# artifact ids it uses are the ones the run produces (the export it shows
# writes the training split, not the whole ingest).
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

doc="$SRC/docs/getting-started.md"
mkdir data && cp "$SRC/examples/spam/data/spambase.csv" data/
# The YAML block after "`train.yaml`:".
awk '/^`train.yaml`:/ { f = 1; next } f && /^```yaml/ { p = 1; next } p && /^```/ { exit } p' "$doc" > train.yaml
[ -s train.yaml ] || fail "no train.yaml block in the guide"
sl run -q train.yaml || fail "the guide's pipeline does not run"
show=$(sl runs show latest --json)
ingest=$(printf '%s' "$show" | js "next(s['outputs']['data'] for s in d['steps'] if s['name'] == 'ingest')")
train=$(printf '%s' "$show" | js "next(s['outputs']['train'] for s in d['steps'] if s['name'] == 'split')")
rows=$(printf '%s' "$show" | js "int(next(s['metrics']['rows_train'] for s in d['steps'] if s['name'] == 'split'))")

# Every id prefix the guide uses names the artifact it says.
grep -q "sluice artifacts show ${ingest:0:4} .*ingested dataset" "$doc" || fail "the guide's ingest id is not ${ingest:0:4}"
line=$(grep -E "sluice artifacts export [0-9a-f]+ --format csv -o train.csv" "$doc") || fail "no export line"
id=$(printf '%s' "$line" | awk '{ print $4 }')
[ "$id" = "${train:0:${#id}}" ] || fail "the guide exports $id as train.csv, but the training split is ${train:0:12}"
sl artifacts export "$id" --format csv -o train.csv
[ "$(($(wc -l < train.csv) - 1))" = "$rows" ] || fail "train.csv has $(($(wc -l < train.csv) - 1)) rows, expected $rows"
grep -q "sluice artifacts lineage ${train:0:4}" "$doc" || fail "the guide's lineage id"
echo ok
