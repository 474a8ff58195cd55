# Every option is checked before anything runs: a mistake anywhere in the
# file is "FILE:LINE:COL: ..." with exit 2 and no run at all, even when the
# mistake is in the last step and the first steps could have run. Column
# names are checked as soon as the step's inputs exist, and errors found
# while a step runs point into the file too; sluice.yaml's errors
# have the same form; a mistyped flag is one line.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

printf 'id,age,income,label\n1,30,100,a\n2,40,200,b\n3,50,,a\n4,60,400,b\n' > data.csv

# The acceptance case: split's method misspelt, after two steps that would run.
cat > pipeline.yaml <<'Y'
name: typo
steps:
  ingest:
    uses: ingest.csv
    with: { path: data.csv }
  check:
    uses: validate
    inputs: { data: ingest.data }
  split:
    uses: split
    inputs: { data: check.data }
    with: { method: randm, fractions: [0.5, 0.5] }
Y
expect_exit 2 sl run pipeline.yaml
contains "$ERR" "pipeline.yaml:12:21: option 'method' of split must be one of random, stratified, time or group, not 'randm' (did you mean 'random'?)"
[ "$(echo "$ERR" | wc -l)" -eq 1 ] || fail "one line expected: $ERR"
# No step ran: no run is recorded at all, and no artifact exists.
[ "$(sl runs --json | js "len(d)")" = 0 ] || fail "an invalid file must not create a run"
[ "$(sl artifacts --json | js "len(d)")" = 0 ] || fail "no step may have run"
expect_exit 2 sl run pipeline.yaml --json
[ -z "$OUT" ] || fail "no run report for an invalid file: $OUT"

# Nested options (wrangle's ops) at the exact line and column.
cat > nested.yaml <<'Y'
steps:
  ingest:
    uses: ingest.csv
    with: { path: data.csv }
  prep:
    uses: wrangle
    inputs: { data: ingest.data }
    with:
      ops:
        - { op: drop, columns: [id] }
        - { op: clip, columns: [income], min: 0, lower_quantile: 0.1 }
Y
expect_exit 2 sl run nested.yaml
contains "$ERR" "nested.yaml:11:50: 'lower_quantile' cannot be given with 'min'"
[ "$(sl runs --json | js "len(d)")" = 0 ] || fail "nothing may run"

# A tab, and a key indented unlike its siblings.
printf 'steps:\n  a:\n\trun: echo hi\n' > tab.yaml
expect_exit 2 sl run tab.yaml
contains "$ERR" "tab.yaml:3:1: tab used for indentation; use spaces"
printf 'steps:\n  a:\n   run: echo hi\n    cache: false\n' > indent.yaml
expect_exit 2 sl run indent.yaml
contains "$ERR" "indent.yaml:3:4: bad indentation: 'run' is indented 3 spaces"

# An unknown step: every close name and the command that lists them.
printf 'steps:\n  v:\n    uses: validation\n' > uses.yaml
expect_exit 2 sl run uses.yaml
contains "$ERR" "uses.yaml:3:11: unknown built-in step 'validation' (did you mean 'validate'? \`sluice steps\` lists them all)"

# resources: parsed with the step, and a bad one is a positioned error.
printf 'steps:\n  a:\n    run: echo hi\n    resources: { cpus: 2, memory: 4096 }\n' > res.yaml
expect_exit 2 sl run res.yaml
contains "$ERR" "res.yaml:4:35: resources: 'memory' must be a size with a unit"

# A column an option names is checked once the input exists, before the
# step starts (bad input, exit 2), and the error points into the file.
cat > runtime.yaml <<'Y'
steps:
  ingest:
    uses: ingest.csv
    with: { path: data.csv }
  prep:
    uses: wrangle
    inputs: { data: ingest.data }
    with:
      ops:
        - { op: impute, columns: [age, incme] }
Y
expect_exit 2 sl run runtime.yaml
contains "$ERR" "runtime.yaml:10:40: with.ops[0].columns[1]: unknown column 'incme'; did you mean 'income'?"
[ "$(step_status ingest)" = completed ] || fail "ingest must have run"
[ "$(step_status prep)" = failed ] || fail "prep must have failed"

# A column only the data can make (onehot's) is found when the step runs:
# a run-time error about an option points into the file too.
cat > runtime.yaml <<'Y'
steps:
  ingest:
    uses: ingest.csv
    with: { path: data.csv }
  prep:
    uses: wrangle
    inputs: { data: ingest.data }
    with:
      ops:
        - { encode: [label] }
        - { select: [id, label_a, label_c] }
Y
expect_exit 1 sl run runtime.yaml
contains "$ERR" "runtime.yaml:11:35: with.ops[1].columns[2]: unknown column 'label_c'; did you mean 'label_a'?"
[ "$(step_status ingest)" = cached ] || fail "ingest must come from the cache"

# sluice steps shows allowed values and ranges.
sl steps split | grep -q "one of random, stratified, time or group; default random" || fail "steps split"
sl steps ingest.csv | grep -q "threads .*in \[0, 64\]" || fail "steps ingest.csv"
[ "$(sl steps --json | js "[o for s in d if s['name']=='split' for o in s['options'] if o['name']=='method'][0]['choices']")" = "['random', 'stratified', 'time', 'group']" ] || fail "steps --json choices"

# A mistyped flag: one line, with the flag meant.
expect_exit 2 sl run pipeline.yaml --nocache
[ "$ERR" = "sluice run: unknown option '--nocache' (did you mean '--no-cache'?); see 'sluice help run'" ] || fail "flag typo: $ERR"
expect_exit 2 sl runs --limt 3
[ "$(echo "$ERR" | wc -l)" -eq 1 ] || fail "one line expected: $ERR"
contains "$ERR" "did you mean '--limit'?"

# sluice.yaml: the same loader, the same FILE:LINE:COL errors.
cp sluice.yaml sluice.yaml.good
printf 'stack:\n  orchestrator: lcoal\n' > sluice.yaml
expect_exit 2 sl runs
contains "$ERR" "sluice.yaml:2:17: stack.orchestrator 'lcoal' is not available (available: local, slurm; did you mean 'local'?)"
printf 'stack:\n  metdata: sqlite:x.db\n' > sluice.yaml
expect_exit 2 sl runs
contains "$ERR" "sluice.yaml:2:3: unknown key 'metdata' in stack (did you mean 'metadata'?)"
printf 'stack:\n\tmetadata: x\n' > sluice.yaml
expect_exit 2 sl runs
contains "$ERR" "sluice.yaml:2:1: tab used for indentation; use spaces"
mv sluice.yaml.good sluice.yaml
sl runs >/dev/null || fail "a good sluice.yaml"

# A valid pipeline still runs, with its options resolved.
cat > good.yaml <<'Y'
steps:
  ingest:
    uses: ingest.csv
    with: { path: data.csv }
  split:
    uses: split
    inputs: { data: ingest.data }
    with: { method: random, fractions: [0.5, "0.5"], seed: 0x10 }
    resources: { cpus: 1, memory: 64M, time: 1m }
Y
sl run good.yaml -q || fail "good pipeline"
[ "$(step_status split)" = completed ] || fail "split"
echo ok
