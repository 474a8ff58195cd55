# What a run's outcome says: a failed gate exits 1 with the gate's message
# and reason `gate`; a missing input file exits 2 with reason `input`; -q still
# reports failures; a command step can fail as a gate through its work folder;
# a failed validate keeps its report; a cached step's log and metrics come
# from the run that computed it; an unknown orchestrator is a positioned
# error; counts are pluralised.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

printf 'a,b\n1,x\n2,y\n-5,z\n' > d.csv
printf 'columns:\n  a: {min: 0}\n  b: {}\n' > schema.yaml

# A gate: validate's rules break.
cat > gate.yaml <<'Y'
name: gate
steps:
  ing:
    uses: ingest.csv
    with: { path: d.csv }
  check:
    uses: validate
    inputs: { data: ing.data }
    with: { schema: schema.yaml }
Y
expect_exit 1 sl run gate.yaml -q
contains "$ERR" "step check: failed (gate): validation failed: 1 error: [min] column 'a'"
contains "$ERR" "sluice: step 'check' failed its gate: validation failed"
[ "$(step_status check)" = failed ] || fail "check status"
json=$(sl runs show latest --json)
[ "$(echo "$json" | js "next(s['reason'] for s in d['steps'] if s['name']=='check')")" = gate ] || fail "reason gate"
# The failed validate kept its outputs and metrics.
[ "$(echo "$json" | js "sorted(next(s['outputs'] for s in d['steps'] if s['name']=='check'))")" = "['data', 'profile', 'report', 'schema']" ] || fail "kept outputs"
[ "$(echo "$json" | js "next(s['metrics']['errors'] for s in d['steps'] if s['name']=='check')")" = 1.0 ] || fail "kept metrics"
report=$(echo "$json" | js "next(s['outputs']['report'] for s in d['steps'] if s['name']=='check')")
sl artifacts export "$report" -o report.json
contains "$(cat report.json)" '"errors"'
contains "$(sl runs show latest)" "gate: validation failed"

# The cached step's log and metrics are the computing run's.
first=$(sl runs show latest --json | js "d['run']")
expect_exit 1 sl run gate.yaml -q
[ "$(step_status ing)" = cached ] || fail "ing should come from the cache"
expect_exit 0 sl runs show latest --log ing
contains "$OUT" "read 3 rows"
contains "$ERR" "came from the cache; this is the log of run ${first:0:12}"
show=$(sl runs show latest)
contains "$show" "cached: computed by run ${first:0:12}"
contains "$show" "rows=3"

# A missing input file is bad input: exit 2.
cat > missing.yaml <<'Y'
name: missing
steps:
  ing:
    uses: ingest.csv
    with: { path: nosuch.csv }
Y
expect_exit 2 sl run missing.yaml -q
contains "$ERR" "step ing: failed (input)"
contains "$ERR" "failed on bad input"
[ "$(sl runs show latest --json | js "d['steps'][0]['reason']")" = input ] || fail "reason input"

# A command step fails as a gate through its work folder; -q still says so;
# a gate beside a crashing step makes the run's status a work failure (1).
cat > cmd.yaml <<'Y'
name: cmd
steps:
  check:
    run: echo "auc 0.61 is below 0.8" > "$SLUICE_WORKDIR/error.txt"; echo gate > "$SLUICE_WORKDIR/reason"; exit 1
  boom:
    run: kill -SEGV $$
Y
expect_exit 1 sl run cmd.yaml -q
contains "$ERR" "step check: failed (gate): auc 0.61 is below 0.8"
contains "$ERR" "step boom: failed (crash): killed by signal 11"
[ "$(sl runs show latest --json | js "[s['reason'] for s in d['steps']]")" = "['gate', 'crash']" ] || fail "reasons"

# Pluralised counts.
cat > one.yaml <<'Y'
name: one
steps:
  only:
    run: "true"
Y
expect_exit 0 sl run one.yaml
contains "$ERR" "pipeline one, 1 step"
not_contains "$ERR" "1 steps"

# An unknown orchestrator is an error at its place in sluice.yaml.
printf 'stack:\n  metadata: sqlite:.sluice/meta.db\n  orchestrator: slurmish\n' > sluice.yaml
expect_exit 2 sl run one.yaml
contains "$ERR" "sluice.yaml:3:17: stack.orchestrator 'slurmish' is not available (available: local, slurm; did you mean 'slurm'?)"
db_check
echo ok
