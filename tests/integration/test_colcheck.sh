# Column names in options are checked against the columns of the step's
# inputs before the step starts (docs/pipeline.md, "When names are
# checked"). With the upstream steps cached, a misspelt column fails the
# rerun at FILE:LINE:COL, as bad input (exit 2), before anything runs: the
# step's process never starts and writes no log.
. "$(dirname "$0")/lib.sh"

printf 'id,amount,region,label\n1,10.5,north,a\n2,20,south,b\n3,7,north,a\n4,9,south,b\n5,11,east,a\n6,3,east,b\n7,8,north,a\n8,5,south,b\n' > data.csv

# A valid pipeline: a renamed column is used by its new name.
cat > pipeline.yaml <<'Y'
name: colcheck
steps:
  ingest:
    uses: ingest.csv
    with: { path: data.csv }
  prep:
    uses: wrangle
    inputs: { data: ingest.data }
    with:
      ops:
        - { rename: { region: area } }
        - { select: [id, amount, area, label] }
  split:
    uses: split
    inputs: { data: prep.data }
    with: { method: stratified, by: label, fractions: [0.5, 0.5] }
Y
cp pipeline.yaml good.yaml
expect_exit 0 sl run pipeline.yaml
[ "$(steps_with completed)" = "ingest prep split" ] || fail "first run: $(steps_with completed)"

# step_log_exists STEP: the step wrote a log in the latest run.
step_log_exists() { [ -e ".sluice/logs/$(sl runs show latest --json | js "d['id']")/$1.log" ]; }

# A wrangle op's column misspelt: the walk over the ops finds it.
sed 's/\[id, amount, area/[id, amout, area/' good.yaml > pipeline.yaml
expect_exit 2 sl run pipeline.yaml
contains "$ERR" "pipeline.yaml:12:26: with.ops[1].columns[1]: unknown column 'amout'; did you mean 'amount'?"
not_contains "$ERR" "step prep: started"
[ "$(steps_with cached)" = ingest ] || fail "ingest must come from the cache"
[ "$(step_status prep)" = failed ] || fail "prep must have failed"
[ "$(sl runs show latest --json | js "next(s['reason'] for s in d['steps'] if s['name']=='prep')")" = input ] ||
	fail "a wrong column is bad input"
[ "$(step_status split)" = skipped ] || fail "split must be skipped"
! step_log_exists prep || fail "prep's process must not have started"

# The old name after a rename is not a column any more.
sed 's/\[id, amount, area/[id, amount, region/' good.yaml > pipeline.yaml
expect_exit 2 sl run pipeline.yaml
contains "$ERR" "pipeline.yaml:12:34: with.ops[1].columns[2]: unknown column 'region'"

# split's by names a column that is not there: wrangle comes from the cache.
sed 's/by: label/by: lable/' good.yaml > pipeline.yaml
expect_exit 2 sl run pipeline.yaml
contains "$ERR" "pipeline.yaml:16:37: with.by: unknown column 'lable'; did you mean 'label'?"
not_contains "$ERR" "step split: started"
[ "$(steps_with cached)" = "ingest prep" ] || fail "ingest and prep must come from the cache"
[ "$(step_status split)" = failed ] || fail "split must have failed"
! step_log_exists split || fail "split's process must not have started"

# Fixed, everything comes from the cache: the failed checks stored nothing.
cp good.yaml pipeline.yaml
expect_exit 0 sl run pipeline.yaml
[ "$(steps_with cached)" = "ingest prep split" ] || fail "the fixed pipeline must be cached"
