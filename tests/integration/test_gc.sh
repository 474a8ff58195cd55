# sluice artifacts gc: what goes (files of old runs and deleted versions that
# nothing else references, stray files), what stays (registered bundles and
# what they were made from, the newest runs of each pipeline, a running
# run's inputs, young files), --dry-run, the records and lineage that stay,
# a rerun that makes a removed file again, and usage errors.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

xy_csv d.csv 5 200
cat > t.yaml <<Y
name: t
params: { c: 1.0 }
steps:
  ingest:
    uses: ingest.csv
    with: { path: d.csv }
  train:
    uses: train.logistic
    inputs: { train: ingest.data }
    with: { target: label, C: "\${params.c}" }
  package:
    run: $PY "$SRC/tests/integration/bundle.py" "\${inputs.model}" "\${outputs.bundle}" spam passed
    inputs: { model: train.model }
    outputs: [bundle]
  register:
    uses: register
    inputs: { bundle: package.bundle }
    with: { alias: production }
Y
out() { sl runs show "${3:-latest}" --json | js "next(s['outputs']['$2'] for s in d['steps'] if s['name']=='$1')"; }
present() { [ -f ".sluice/artifacts/${1:0:2}/${1:2}" ]; }

for c in 1 2 3 4; do
	sl run t.yaml -p c=$c >/dev/null 2>&1 || fail "run c=$c"
	eval "model$c=\$(out train model)"
	eval "bundle$c=\$(out package bundle)"
done
data=$(out ingest data)
[ "$(sl models show spam --json | js "[v['version'] for v in d['versions']]")" = "[1, 2, 3, 4]" ] || fail "four versions"
sl models delete spam@2 >/dev/null
sl models delete spam@3 >/dev/null

# Young files stay whatever refers to them.
expect_exit 0 sl artifacts gc --keep-runs 1 --json
[ "$(echo "$OUT" | js "len(d['removed'])")" = 0 ] || fail "gc removed files inside the grace period: $OUT"

# --dry-run lists exactly the model and bundle files of versions 2 and 3.
expect_exit 0 sl artifacts gc --dry-run --keep-runs 1 --grace 0 --json
echo "$OUT" > dry.json
"$PY" - dry.json "$model2 $bundle2 $model3 $bundle3" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["dry_run"] is True and d["removed"] == [], d
assert sorted(e["id"] for e in d["would_remove"]) == sorted(sys.argv[2].split()), d["would_remove"]
assert d["freed_bytes"] == sum(e["size"] for e in d["would_remove"]) > 0, d
P
present "$bundle2" || fail "dry run removed a file"
expect_exit 0 sl artifacts gc --dry-run --keep-runs 1 --grace 0
contains "$OUT" "would remove 4 files"

# The real thing.
expect_exit 0 sl artifacts gc --keep-runs 1 --grace 0 --json
[ "$(echo "$OUT" | js "sorted(e['id'] for e in d['removed'])")" = "$("$PY" -c "import sys; print(sorted(sys.argv[1:]))" $model2 $bundle2 $model3 $bundle3)" ] || fail "removed: $OUT"
for id in $model2 $bundle2 $model3 $bundle3; do present "$id" && fail "$id is still there"; done
# Kept: the registered versions' bundles and what they were made from, and the newest run.
for id in $bundle1 $model1 $bundle4 $model4 $data; do present "$id" || fail "$id was removed"; done
expect_exit 0 sl artifacts gc --keep-runs 1 --grace 0
contains "$OUT" "removed 0 files"

# The records stay: show, lineage and the run that made it still answer.
expect_exit 0 sl artifacts show "$bundle2"
contains "$OUT" "integrity FAILED"
expect_exit 0 sl artifacts lineage "$bundle2" --json
[ "$(echo "$OUT" | js "d['ancestors'][0]['id']")" = "$model2" ] || fail "lineage of a removed file"
expect_exit 0 sl models show spam@production
# A rerun makes the removed files again (same content, same ids) and the store says so.
sl run t.yaml -p c=2 >/dev/null 2>&1 || fail "rerun c=2"
[ "$(out train model)" = "$model2" ] || fail "the same model again"
[ "$(step_status train)" = completed ] || fail "a removed output is not a cache hit"
present "$model2" || fail "model 2 is back"
expect_exit 0 sl artifacts show "$model2"
not_contains "$OUT" "integrity FAILED"

# A stray file without a record goes, once no run is running.
stray=$(printf 'stray' | sha256sum | cut -d' ' -f1)
mkdir -p ".sluice/artifacts/${stray:0:2}"
printf 'stray' > ".sluice/artifacts/${stray:0:2}/${stray:2}"
touch -d '2 hours ago' ".sluice/artifacts/${stray:0:2}/${stray:2}"
echo "not an artifact" > ".sluice/artifacts/${stray:0:2}/notes.txt"

# A run in progress keeps what it reads, and a stray file could be its output.
sl run t.yaml -p c=5 >/dev/null 2>&1 || fail "run c=5"   # now c=2's run is not the newest
cat > slow.yaml <<Y
name: slow
steps:
  copy:
    run: 'sleep 3; cat "\${inputs.m}" > "\${outputs.out}"'
    inputs: { m: "artifact:$model2" }
    outputs: [out]
Y
sl run slow.yaml > slow.log 2>&1 &
slow=$!
for _ in $(seq 100); do
	[ "$(sl runs --json | js "any(r['pipeline']=='slow' and r['status']=='running' for r in d)")" = True ] && break
	sleep 0.05
done
expect_exit 0 sl artifacts gc --keep-runs 1 --grace 0 --json
echo "$OUT" > during.json
"$PY" - during.json "$model2" "$stray" <<'P'
import json, sys
d, model2, stray = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
gone = {e["id"] for e in d["removed"]}
assert model2 not in gone, "a running run's input was removed"
assert stray not in gone, "a file without a record went while a run was running"
assert any(e["id"] == stray and "run is running" in e["why"] for e in d["kept_but_unreferenced"]), d
P
wait $slow || fail "the slow run failed: $(cat slow.log)"
[ "$(sl runs show latest --json | js "d['status']")" = completed ] || fail "slow run"
present "$model2" || fail "model 2 went during the run"
expect_exit 0 sl artifacts gc --keep-runs 1 --grace 0 --json
[ "$(echo "$OUT" | js "'$stray' in [e['id'] for e in d['removed']]")" = True ] || fail "the stray file stays: $OUT"
[ -f ".sluice/artifacts/${stray:0:2}/notes.txt" ] || fail "gc removed a file that is not an artifact"
present "$model2" || fail "model 2 is the slow pipeline's newest run's input"

# Usage.
expect_exit 2 sl artifacts gc --grace soon
contains "$ERR" "--grace wants a duration"
expect_exit 2 sl artifacts gc --keep-runs 0
expect_exit 2 sl artifacts gc extra
db_check
