# Inputs from outside the pipeline: an earlier run's output (run:latest,
# run:latest~N, run:ID), an artifact by id, a registered model's bundle
# (model:NAME@REF), optional ones ('?'), errors at FILE:LINE:COL with exit 2
# and nothing run, the resolved artifact in the cache key (a new champion
# reruns its consumer, nothing else), and the references in the lineage.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

xy_csv d.csv 1 400 0

# Drift against last run's profile; on the first run there is none.
cat > drift.yaml <<'Y'
name: drift
steps:
  ingest:
    uses: ingest.csv
    with: { path: d.csv }
  check:
    uses: validate
    inputs: { data: ingest.data, reference: "run:latest/check.profile?" }
Y
inputs_of() { sl runs show "${2:-latest}" --json | js "json.dumps(next(s['inputs'] for s in d['steps'] if s['name']=='$1'))"; }
output_of() { sl runs show "${3:-latest}" --json | js "next(s['outputs']['$2'] for s in d['steps'] if s['name']=='$1')"; }

expect_exit 0 sl run drift.yaml
[ "$(inputs_of check | js "sorted(d)")" = "['data']" ] || fail "first run has no reference: $(inputs_of check)"
run1=$(sl runs show latest --json | js "d['run']")
prof1=$(output_of check profile)

xy_csv d.csv 2 400 0.8
expect_exit 0 sl run drift.yaml
[ "$(inputs_of check | js "d['reference']")" = "$prof1" ] || fail "second run's reference is the first run's profile"
report=$(output_of check report)
sl artifacts export "$report" -o report.json
"$PY" -c "import json; r=json.load(open('report.json')); assert 'drift' in json.dumps(r), r" || fail "drift report"
run2=$(sl runs show latest --json | js "d['run']")
prof2=$(output_of check profile)

# ~1 is the run before the latest; an id names a run directly.
sed 's|run:latest/check.profile?|run:latest~1/check.profile|' drift.yaml > back.yaml
sed -i 's/^name: drift/name: drift/' back.yaml
expect_exit 0 sl run back.yaml
[ "$(inputs_of check | js "d['reference']")" = "$prof1" ] || fail "latest~1 is run 1's profile"
sed "s|run:latest/check.profile?|run:${run1:0:8}/check.profile|" drift.yaml > byid.yaml
expect_exit 0 sl run byid.yaml
[ "$(inputs_of check | js "d['reference']")" = "$prof1" ] || fail "run:ID"

# A reference that names nothing, not optional: exit 2 at its place, nothing runs.
runs_before=$(sl runs --json -n 0 | js "len(d)")
sed 's|run:latest/check.profile?|run:latest~50/check.profile|' drift.yaml > far.yaml
expect_exit 2 sl run far.yaml
contains "$ERR" "far.yaml:8:"
contains "$ERR" "input 'reference' of step 'check'"
contains "$ERR" "fewer than 51 earlier runs"
contains "$ERR" "end the reference with '?'"
sed 's/^name: drift/name: fresh/; s|run:latest/check.profile?|run:latest/check.profile|' drift.yaml > fresh.yaml
expect_exit 2 sl run fresh.yaml
contains "$ERR" "no earlier run of pipeline 'fresh'"
[ "$(sl runs --json -n 0 | js "len(d)")" = "$runs_before" ] || fail "a refused run was recorded"

# Syntax errors are FILE:LINE:COL before anything runs.
bad() { # bad REF MESSAGE
	sed "s|\"run:latest/check.profile?\"|\"$1\"|" drift.yaml > bad.yaml
	expect_exit 2 sl run bad.yaml
	contains "$ERR" "bad.yaml:8:"
	contains "$ERR" "$2"
}
bad "model:spam" "names no version"
bad "model:spam@" "after '@' comes a version number"
bad "model:sp am@1" "may hold only letters"
bad "run:latest/check" "after the run comes STEP.OUTPUT"
bad "run:yesterday~2/check.profile" "only latest takes ~N"
bad "artifact:xyz" "4 to 64 hex digits"
bad "ingest.data?" "cannot be optional"
sed 's|data: ingest.data,|data: "artifact:abcd?",|' drift.yaml > req.yaml
expect_exit 2 sl run req.yaml
contains "$ERR" "input 'data' of validate is required"

# artifact:ID, a prefix, into a command step.
cat > art.yaml <<Y
name: art
steps:
  copy:
    run: cp "\${inputs.p}" "\${outputs.out}"
    inputs: { p: "artifact:${prof2:0:10}" }
    outputs: [out]
Y
expect_exit 0 sl run art.yaml
[ "$(output_of copy out)" = "$prof2" ] || fail "artifact: copied"
sed -i "s/artifact:${prof2:0:10}/artifact:0000000/" art.yaml
expect_exit 2 sl run art.yaml
contains "$ERR" "no artifact matches '0000000'"

# model:NAME@ALIAS: the bundle behind the alias; a new champion reruns the
# step that reads it and nothing else; an optional alias that does not exist
# yet is left out (the command sees an empty string).
cat > reg.yaml <<Y
name: reg
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
    with: { name: spam, alias: production }
Y
cat > champ.yaml <<'Y'
name: champ
steps:
  ingest:
    uses: ingest.csv
    with: { path: d.csv }
  compare:
    run: 'echo "champion=${inputs.champion} canary=[${inputs.canary}]" > "${outputs.out}"; cat "${inputs.data}" > /dev/null'
    inputs: { champion: "model:spam@production", canary: "model:spam@canary?", data: ingest.data }
    outputs: [out]
Y
expect_exit 2 sl run champ.yaml
contains "$ERR" "no model named 'spam'"
sl run reg.yaml >/dev/null 2>&1 || fail "register v1"
v1=$(sl models show spam@1 --json | js "d['versions'][0]['bundle']")
expect_exit 0 sl run champ.yaml
[ "$(inputs_of compare | js "d['champion']")" = "$v1" ] || fail "champion is v1"
[ "$(inputs_of compare | js "'canary' in d")" = False ] || fail "canary is absent"
sl artifacts export "$(output_of compare out)" -o out.txt
contains "$(cat out.txt)" "canary=[]"
expect_exit 0 sl run champ.yaml
[ "$(step_status compare)" = cached ] || fail "same champion: cached"
sl run reg.yaml -p c=0.3 >/dev/null 2>&1 || fail "register v2"
v2=$(sl models show spam@2 --json | js "d['versions'][0]['bundle']")
expect_exit 0 sl run champ.yaml
[ "$(step_status compare)" = completed ] || fail "a new champion reruns compare"
[ "$(step_status ingest)" = cached ] || fail "ingest stays cached"
[ "$(inputs_of compare | js "d['champion']")" = "$v2" ] || fail "champion is v2"
sl models rollback spam >/dev/null
expect_exit 0 sl run champ.yaml
[ "$(step_status compare)" = cached ] || fail "back to v1: the cached result of v1"
[ "$(inputs_of compare | js "d['champion']")" = "$v1" ] || fail "champion is v1 again"

# Lineage records where each reference came from.
sl artifacts lineage "$(output_of compare out)" --json > lin.json
"$PY" - lin.json "$v1" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
anc = {a["input"]: a for a in d["ancestors"]}
assert anc["champion"]["id"] == sys.argv[2], anc
assert anc["champion"]["ref"] == "model:spam@production", anc["champion"]
assert anc["data"].get("ref") is None, anc["data"]
P
db_check
