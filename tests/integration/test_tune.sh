#!/usr/bin/env bash
# The tune step end to end: a grid covers the product and picks the model of
# the trial with the best validation metric; a rerun finds every trial in
# the cache, and so does the same step written by hand; random search is
# reproducible by seed; halving promotes the top of each rung (over rows,
# and over train.gbdt's rounds); a failing trial does not end the search (every trial failing
# does); trials show under the tune step; the report exports as HTML; runs
# compare marks the best of each metric in its direction; --sort ranks.
# backends: sqlite postgresql
source "$(dirname "$0")/lib.sh"

# Two informative columns and noise; y depends on x1 and x2.
"$PY" - <<'EOF'
import random
random.seed(5)
with open('d.csv', 'w') as f:
    f.write('x1,x2,x3,y\n')
    for i in range(900):
        a, b, c = random.gauss(0, 1), random.gauss(0, 1), random.gauss(0, 1)
        y = 1 if 1.5 * a - b + random.gauss(0, 1) > 0 else 0
        f.write(f'{a:.4f},{b:.4f},{c:.4f},{y}\n')
EOF

cat > head.yaml <<'EOF'
  ingest:
    uses: ingest.csv
    with: { path: d.csv }
  split:
    uses: split
    inputs: { data: ingest.data }
    with: { fractions: [0.6, 0.2, 0.2], seed: 1 }
EOF

# The trials of the latest run: name, status, params.
trials() { sl runs show latest --json | js "[(s['name'], s['status'], s['params']) for s in d['steps'] if s['parent'] == 'tune']"; }

pipeline() { # NAME WITH-BLOCK
	{ printf 'name: %s\nsteps:\n' "$1"; cat head.yaml; cat <<EOF
  tune:
    uses: tune
    inputs: { train: split.train, valid: split.valid }
    with:
$2
EOF
	} > "$1.yaml"
}


# ---- grid: the product, the best model ------------------------------------------
pipeline grid "      step: train.logistic
      template: { target: y }
      method: grid
      search:
        C: { values: [0.001, 0.1, 10] }
        penalty: { values: [l1, l2] }"
sl run grid.yaml -j 2 >/dev/null 2>&1 || fail "the grid search failed"
[ "$(run_status)" = completed ] || fail "run not completed"
sl runs show latest --json > grid.json
"$PY" - <<'EOF' || fail "grid"
import json
d = json.load(open('grid.json'))
trials = [s for s in d['steps'] if s['parent'] == 'tune']
tune = next(s for s in d['steps'] if s['name'] == 'tune')
got = sorted((t['params']['C'], t['params']['penalty']) for t in trials)
want = sorted((c, p) for c in (0.001, 0.1, 10) for p in ('l1', 'l2'))
assert got == want, got
assert all(t['status'] == 'completed' for t in trials), [t['status'] for t in trials]
assert all(t['kind'] == 'uses:train.logistic' for t in trials)
# The tune step's model is the model of the trial with the best valid_auc.
best = max(trials, key=lambda t: (t['metrics']['valid_auc'], -int(t['name'][5:-1])))
assert tune['outputs']['model'] == best['outputs']['model'], (tune['outputs'], best['name'])
assert tune['metrics']['valid_auc'] == best['metrics']['valid_auc']
assert tune['metrics']['trials'] == 6 and tune['metrics']['trials_failed'] == 0
# Trials are recorded after their parent, which lists them.
names = [s['name'] for s in d['steps']]
assert names.index('tune') < min(names.index(t['name']) for t in trials)
EOF

# A second run: every trial from the cache, the same best model.
model1=$(sl runs show latest --json | js "next(s['outputs']['model'] for s in d['steps'] if s['name']=='tune')")
sl run grid.yaml -j 2 >/dev/null 2>&1 || fail "the rerun failed"
[ "$(sl runs show latest --json | js "sorted(set(s['status'] for s in d['steps'] if s['parent']=='tune'))")" = "['cached']" ] \
	|| fail "the rerun recomputed trials: $(trials)"
model2=$(sl runs show latest --json | js "next(s['outputs']['model'] for s in d['steps'] if s['name']=='tune')")
[ "$model1" = "$model2" ] || fail "the rerun chose another model"

# runs show: the trials under the tune step, the best marked.
out=$(sl runs show latest)
contains "$out" "  tune[0]"
contains "$out" " *  cached"
contains "$out" "penalty=l1"

# The report, and its page.
rep=$(sl runs show latest --json | js "next(s['outputs']['report'] for s in d['steps'] if s['name']=='tune')")
sl artifacts export "$rep" --format raw -o rep.json
"$PY" - <<'EOF' || fail "report"
import json
r = json.load(open('rep.json'))
assert r['kind'] == 'sluice.tune_report' and r['metric'] == 'valid_auc' and r['goal'] == 'max'
assert len(r['trials']) == 6 and r['counts'] == {'trials': 6, 'ok': 6, 'failed': 0}
assert {p['name'] for p in r['importance']['params']} == {'C', 'penalty'}
assert r['best']['metric'] == max(t['metric'] for t in r['trials'])
EOF
sl artifacts export "$rep" --format html -o rep.html
contains "$(cat rep.html)" "<svg"
contains "$(cat rep.html)" "Tuning train.logistic (grid search)"

# A trial's cache key is the training step's own: the same step written by
# hand in a pipeline is served from the search's trial.
{ printf 'name: byhand\nsteps:\n'; cat head.yaml; cat <<'EOF'
  train:
    uses: train.logistic
    inputs: { train: split.train, valid: split.valid }
    with: { target: y, C: 0.1, penalty: l1 }
EOF
} > byhand.yaml
sl run byhand.yaml >/dev/null 2>&1 || fail "byhand"
[ "$(step_status train)" = cached ] || fail "a hand-written step with a trial's options was not served from the trial's cache"

# ---- adding points to a search reuses the trials already tried --------------------
pipeline grid "      step: train.logistic
      template: { target: y }
      method: grid
      search:
        C: { values: [0.001, 0.1, 10, 1000] }
        penalty: { values: [l1, l2] }"
sl run grid.yaml -j 2 >/dev/null 2>&1 || fail "the wider grid failed"
[ "$(steps_with cached | tr ' ' '\n' | grep -c 'tune\[')" = 6 ] || fail "expected 6 cached trials: $(trials)"
[ "$(steps_with completed | tr ' ' '\n' | grep -c 'tune\[')" = 2 ] || fail "expected 2 new trials: $(trials)"

# ---- random: reproducible by seed ---------------------------------------------------
pipeline rnd "      step: train.logistic
      template: { target: y }
      search:
        C: { low: 0.0001, high: 100, log: true }
        penalty: { values: [l1, l2] }
      budget: 5
      seed: 11"
sl run rnd.yaml --no-cache >/dev/null 2>&1 || fail "random search failed"
p1=$(sl runs show latest --json | js "[(s['name'], s['params']['C'], s['params']['penalty']) for s in d['steps'] if s['parent']=='tune']")
sl run rnd.yaml --no-cache >/dev/null 2>&1 || fail "random search failed"
p2=$(sl runs show latest --json | js "[(s['name'], s['params']['C'], s['params']['penalty']) for s in d['steps'] if s['parent']=='tune']")
[ "$p1" = "$p2" ] || fail "the same seed drew other trials: $p1 / $p2"
sed -i 's/seed: 11/seed: 12/' rnd.yaml
sl run rnd.yaml >/dev/null 2>&1 || fail "random search failed"
p3=$(sl runs show latest --json | js "[(s['name'], s['params']['C'], s['params']['penalty']) for s in d['steps'] if s['parent']=='tune']")
[ "$p1" != "$p3" ] || fail "another seed drew the same trials"

# ---- halving: rungs of 9, 3, 1 over rows; each rung the top third of the one before --
pipeline halv "      step: train.logistic
      template: { target: y }
      method: halving
      resource: rows
      search:
        C: { low: 0.0001, high: 10, log: true }
      budget: 9
      eta: 3
      seed: 4"
sl run halv.yaml -j 2 >/dev/null 2>&1 || fail "halving failed"
sl runs show latest --json > halv.json
"$PY" - <<'EOF' || fail "halving"
import json
d = json.load(open('halv.json'))
t = {int(s['name'][5:-1]): s for s in d['steps'] if s['parent'] == 'tune'}
assert sorted(t) == list(range(13)), sorted(t)
rung0, rung1, rung2 = [t[k] for k in range(9)], [t[k] for k in range(9, 12)], [t[12]]
assert all(abs(s['params']['sample_rows'] - 1 / 9) < 1e-9 for s in rung0)
assert all(abs(s['params']['sample_rows'] - 1 / 3) < 1e-9 for s in rung1)
assert 'sample_rows' not in rung2[0]['params']
def top(rung, n):
    r = sorted(rung, key=lambda s: (-s['metrics']['valid_auc'], int(s['name'][5:-1])))
    return [s['params']['C'] for s in r[:n]]
assert [s['params']['C'] for s in rung1] == top(rung0, 3), ([s['params']['C'] for s in rung1], top(rung0, 3))
assert [rung2[0]['params']['C']] == top(rung1, 1)
tune = next(s for s in d['steps'] if s['name'] == 'tune')
assert tune['metrics']['trials'] == 13
EOF

# ---- halving over train.gbdt's rounds (the default resource): 18/4, 18/2, 18 ------------
pipeline halvg "      step: train.gbdt
      template: { target: y, rounds: 18, threads: 1 }
      method: halving
      search:
        max_depth: { low: 2, high: 6 }
      budget: 4
      eta: 2
      seed: 3"
sl run halvg.yaml -j 2 >/dev/null 2>&1 || fail "halving over rounds failed"
sl runs show latest --json > halvg.json
"$PY" - <<'EOF' || fail "halving over rounds"
import json
d = json.load(open('halvg.json'))
t = {int(s['name'][5:-1]): s for s in d['steps'] if s['parent'] == 'tune'}
assert sorted(t) == list(range(7)), sorted(t)
rounds = [t[k]['params']['rounds'] for k in range(7)]
assert rounds == [5, 5, 5, 5, 9, 9, 18], rounds
assert all(isinstance(t[k]['params']['max_depth'], int) for k in range(7))
EOF

# ---- a failing trial does not end the search; every trial failing does ---------------
pipeline failing "      step: train.logistic
      template: { target: y }
      method: grid
      search:
        features: { values: [[x1, x2], [nope], [x1]] }"
sl run failing.yaml >/dev/null 2>&1 || fail "one failing trial failed the run"
[ "$(step_status 'tune[1]')" = failed ] || fail "trial 1 should have failed"
[ "$(step_status tune)" = completed ] || fail "the search should have gone on"
contains "$(sl runs show latest)" "with.features[0]: unknown column 'nope' (input 'train' has x1, x2, x3, y)"
pipeline allfail "      step: train.logistic
      template: { target: y }
      method: grid
      search:
        features: { values: [[nope], [nada]] }"
expect_exit 1 sl run allfail.yaml
contains "$ERR" "every trial failed (2 of 2)"
[ "$(step_status tune)" = failed ] || fail "the tune step should have failed"

# ---- bad search spaces: FILE:LINE:COL, nothing runs ---------------------------------
n_runs=$(sl runs --json -n 0 | js "len(d)")
pipeline bad "      step: train.logistic
      template: { target: y }
      search:
        C: { low: 5, high: 0.1 }"
expect_exit 2 sl run bad.yaml
contains "$ERR" "bad.yaml:17:19: "
contains "$ERR" "inverted"
pipeline bad "      step: train.logistic
      template: { target: y }
      search:
        C: { low: 0, high: 1, log: true }"
expect_exit 2 sl run bad.yaml
contains "$ERR" "bad.yaml:17:19: "
pipeline bad "      step: train.logistic
      template: { target: y }
      search:
        alpha: { values: [1, 2] }"
expect_exit 2 sl run bad.yaml
contains "$ERR" "bad.yaml:17:16: train.logistic has no option 'alpha'"
[ "$(sl runs --json -n 0 | js "len(d)")" = "$n_runs" ] || fail "a bad file started a run"

# ---- runs compare: the best in each direction; --sort ---------------------------------
{ printf 'name: cmp\nparams: { C: 1 }\nsteps:\n'; cat head.yaml; cat <<'EOF'
  train:
    uses: train.logistic
    inputs: { train: split.train, valid: split.valid }
    with: { target: y, C: "${params.C}" }
EOF
} > cmp.yaml
sl run cmp.yaml -p C=0.0005 >/dev/null 2>&1 || fail "cmp run 1"
sl run cmp.yaml -p C=10 >/dev/null 2>&1 || fail "cmp run 2"
sl runs compare latest~1 latest --json > cmp.json
"$PY" - <<'EOF' || fail "compare"
import json
d = json.load(open('cmp.json'))
rows = {(r['step'], r['name']): r for r in d['metrics']}
for name, better in (('valid_auc', max), ('valid_logloss', min), ('train_logloss', min)):
    r = rows[('train', name)]
    v = r['values']
    assert r['best'] == [v.index(better(v))], (name, r)
    assert r['direction'] == ('higher' if better is max else 'lower')
params = {(r['step'], r['name']): r['values'] for r in d['params']}
assert params[(None, 'C')] == [0.0005, 10], params
assert params[('train', 'C')] == [0.0005, 10], params
assert ('split', 'seed') not in params  # the same in both: left out without --all
EOF
sl runs compare latest~1 latest --all --json | js "any(r['name']=='seed' for r in d['params'])" | grep -q True \
	|| fail "--all should list equal rows"
out=$(sl runs compare latest~1 latest --html cmp.html)
contains "$out" "valid_auc"
contains "$out" "*"
contains "$(cat cmp.html)" "<svg"
out=$(sl runs compare --pipeline cmp --last 2 --json | js "len(d['runs'])")
[ "$out" = 2 ] || fail "--pipeline --last 2 compared $out runs"
sl runs --pipeline cmp --sort valid_logloss --json > sort.json
"$PY" -c "
import json; d = json.load(open('sort.json'))
v = [r['value'] for r in d]
assert v == sorted(v) and [r['rank'] for r in d] == [1, 2], d
" || fail "--sort valid_logloss: lowest first"
sl runs --pipeline cmp --sort train.valid_auc --json | js "[r['value'] for r in d] == sorted([r['value'] for r in d], reverse=True)" | grep -q True \
	|| fail "--sort train.valid_auc: highest first"
expect_exit 2 sl runs --pipeline cmp --sort rows_train
contains "$ERR" "which way is better"
expect_exit 2 sl runs compare latest~99 latest
contains "$ERR" "latest~99"
db_check
echo "test_tune: ok"
