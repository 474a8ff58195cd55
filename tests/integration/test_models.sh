# The model registry through the real binary: the register step (an alias
# only for a passing verdict, a failed one registered without it, a cached
# rerun registering nothing), every `sluice models` verb with its exit
# status and --json shape, errors that name what exists, and two processes
# promoting at once with both moves recorded.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

xy_csv d.csv 1 300

cat > train.yaml <<Y
name: spam-train
params: { verdict: passed, c: 1.0 }
steps:
  ingest:
    uses: ingest.csv
    with: { path: d.csv }
  split:
    uses: split
    inputs: { data: ingest.data }
    with: { fractions: [0.7, 0.3], seed: 1 }
  train:
    uses: train.logistic
    inputs: { train: split.train }
    with: { target: label, C: "\${params.c}" }
  package:
    run: $PY "$SRC/tests/integration/bundle.py" "\${inputs.model}" "\${outputs.bundle}" spam \${params.verdict} '{"accuracy":0.91}'
    inputs: { model: train.model }
    outputs: [bundle]
  register:
    uses: register
    inputs: { bundle: package.bundle }
    with: { name: spam, alias: production, reason: nightly }
Y

models_json() { sl models show "${1:-spam}" --json; }

# An empty registry lists nothing; an unknown model is exit 2 naming the problem.
expect_exit 0 sl models
contains "$OUT" "no models yet"
expect_exit 0 sl models --json
[ "$OUT" = "[]" ] || fail "empty list: $OUT"
expect_exit 2 sl models show spam
contains "$ERR" "no model named 'spam'"

# Version 1 passes its gates and gets the alias.
sl run train.yaml >/dev/null 2>&1 || fail "first run"
models_json > m1.json
"$PY" - m1.json <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == "spam" and d["aliases"] == {"production": 1}, d
v = d["versions"][0]
for k in ("version", "bundle", "run", "created", "algorithm", "metrics", "verdict"):
    assert k in v, k
assert v["version"] == 1 and v["verdict"] == "passed" and v["algorithm"] == "logistic", v
assert v["metrics"] == {"accuracy": 0.91}, v["metrics"]
h = d["history"][0]
for k in ("alias", "from", "to", "at", "reason"):
    assert k in h, k
assert h["from"] is None and h["to"] == 1 and h["reason"] == "nightly" and h["kind"] == "register", h
assert h["who"], h
P
run1=$(js "d['versions'][0]['run']" < m1.json)
[ "$run1" = "$(sl runs show latest --json | js "d['run']")" ] || fail "version 1's run"

# A cached rerun registers nothing.
sl run train.yaml >/dev/null 2>&1 || fail "cached run"
[ "$(models_json | js "len(d['versions'])")" = 1 ] || fail "a cached rerun registered again"

# Version 2 fails its gates: registered, without the alias, and the run says so.
expect_exit 0 sl run train.yaml -p verdict=failed -p c=0.5
contains "$OUT$ERR" "registered without alias 'production'"
models_json > m2.json
"$PY" - m2.json <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
assert [v["version"] for v in d["versions"]] == [1, 2], d["versions"]
assert d["versions"][1]["verdict"] == "failed", d["versions"][1]
assert d["aliases"] == {"production": 1}, d["aliases"]
assert len(d["history"]) == 1, d["history"]
P
sl run train.yaml -p c=0.25 >/dev/null 2>&1 || fail "third run"
[ "$(models_json | js "d['aliases']['production']")" = 3 ] || fail "version 3 is production"

# The list.
expect_exit 0 sl models --json
"$PY" -c "import json,sys; d=json.loads(sys.argv[1]); m=d[0]; assert m['name']=='spam' and m['versions']==3 and m['latest']==3 and m['aliases']=={'production':3}, m" "$OUT"
expect_exit 0 sl models
contains "$OUT" "production=3"

# show NAME@REF: one version, by number, alias or latest.
expect_exit 0 sl models show spam@production --json
[ "$(echo "$OUT" | js "(d['version'], len(d['versions']))")" = "(3, 1)" ] || fail "show @production: $OUT"
expect_exit 0 sl models show spam@latest
contains "$OUT" "version    3  (production)"
expect_exit 2 sl models show spam@7
contains "$ERR" "no version 7 (the newest is 3)"
expect_exit 2 sl models show spam@prod
contains "$ERR" "no alias 'prod' (did you mean 'production'?)"

# promote: a failed verdict is refused (exit 1) unless forced with a reason.
expect_exit 1 sl models promote spam 2 --to production
contains "$ERR" "verdict 'failed'"
expect_exit 2 sl models promote spam 2 --to production --force
contains "$ERR" "--force needs --reason"
expect_exit 0 sl models promote spam 2 --to production --force --reason "hotfix" --json
echo "$OUT" | js "(d['from'], d['to'], d['forced'], d['reason'], d['kind'])" | grep -q "(3, 2, True, 'hotfix', 'promote')" || fail "forced promote: $OUT"
expect_exit 0 sl models promote spam 1 --to staging
contains "$OUT" "staging"
expect_exit 0 sl models promote spam staging --to staging --json
[ "$(echo "$OUT" | js "d['moved']")" = False ] || fail "no-op promote: $OUT"
expect_exit 2 sl models promote spam 9 --to staging
expect_exit 2 sl models promote spam 1 --to 7up
contains "$ERR" "must start with a letter"
expect_exit 2 sl models promote spam 1
contains "$ERR" "--to ALIAS"

# rollback walks back: production 2 -> 3 -> (register's none); history keeps all.
expect_exit 0 sl models rollback spam --json
[ "$(echo "$OUT" | js "(d['from'], d['to'], d['kind'])")" = "(2, 3, 'rollback')" ] || fail "rollback: $OUT"
expect_exit 0 sl models rollback spam --alias production --reason "back to 1"
contains "$OUT" "3 -> 1"
expect_exit 2 sl models rollback spam --alias canary
contains "$ERR" "no alias 'canary'"
expect_exit 0 sl models history spam --json
"$PY" -c "
import json, sys
h = json.loads(sys.argv[1])
assert [(r['alias'], r['from'], r['to'], r['kind']) for r in h] == [
    ('production', None, 1, 'register'), ('production', 1, 3, 'register'),
    ('production', 3, 2, 'promote'), ('staging', None, 1, 'promote'),
    ('production', 2, 3, 'rollback'), ('production', 3, 1, 'rollback')], h
assert h[-1]['reason'] == 'back to 1', h[-1]
" "$OUT"
expect_exit 0 sl models history spam --alias staging
contains "$OUT" "none -> 1"

# tags: set, search, remove.
expect_exit 0 sl models tag spam@3 owner=ml-team dataset=2026-11 --json
[ "$(echo "$OUT" | js "d['tags'] == {'owner': 'ml-team', 'dataset': '2026-11'}")" = True ] || fail "tags: $OUT"
expect_exit 0 sl models --tag owner=ml-team --json
[ "$(echo "$OUT" | js "[(v['name'], v['version']) for v in d]")" = "[('spam', 3)]" ] || fail "search: $OUT"
expect_exit 0 sl models tag spam@3 --remove owner --json
[ "$(echo "$OUT" | js "d['tags']")" = "{'dataset': '2026-11'}" ] || fail "tag removal: $OUT"
expect_exit 2 sl models tag spam@3 owner
contains "$ERR" "not KEY=VALUE"
expect_exit 2 sl models tag spam owner=x
contains "$ERR" "names a model, not a version"

# delete: refused behind an alias; numbers are never reused.
expect_exit 2 sl models delete spam@1
contains "$ERR" "behind alias"
expect_exit 0 sl models delete spam@3 --json
[ "$(echo "$OUT" | js "d['deleted']")" = "spam@3" ] || fail "delete: $OUT"
expect_exit 2 sl models show spam@3
contains "$ERR" "was deleted"
sl run train.yaml -p c=0.125 >/dev/null 2>&1 || fail "fourth run"
[ "$(models_json | js "[v['version'] for v in d['versions']]")" = "[1, 2, 4]" ] || fail "version 4 after deleting 3"

# A plain model file is not a bundle: refused as bad input (exit 2), nothing registered.
cat > plain.yaml <<'Y'
name: plain
steps:
  ingest:
    uses: ingest.csv
    with: { path: d.csv }
  train:
    uses: train.logistic
    inputs: { train: ingest.data }
    with: { target: label }
  register:
    uses: register
    inputs: { bundle: train.model }
    with: { name: plain }
Y
expect_exit 2 sl run plain.yaml
contains "$ERR" "not a bundle"
expect_exit 2 sl models show plain

# Usage errors are exit 2 with the verb's help named.
expect_exit 2 sl models frobnicate
expect_exit 2 sl models promte spam 1 --to x
contains "$ERR" "did you mean 'promote'"
expect_exit 0 sl models --help
contains "$OUT" "rollback"

# Two processes promote at the same moment while a pipeline registers a
# new version: every move is recorded, in a chain, the alias ends where the
# last one put it, and the run's version is there with its own number.
sl models promote spam 1 --to canary >/dev/null
before=$(sl models show spam --json | js "d['last_version']")
sl run train.yaml -p c=0.0625 >run.out 2>&1 &
r=$!
( for i in 1 2 3 4 5; do sl models promote spam 4 --to canary >/dev/null; sl models promote spam 1 --to canary >/dev/null; done ) &
a=$!
( for i in 1 2 3 4 5; do sl models promote spam 1 --to canary >/dev/null; sl models promote spam 4 --to canary >/dev/null; done ) &
b=$!
wait $a || fail "promoter a"
wait $b || fail "promoter b"
wait $r || fail "the run beside the promoters: $(cat run.out)"
[ "$(sl models show spam --json | js "d['last_version']")" = $((before + 1)) ] ||
	fail "the run registered one new version"
sl models history spam --alias canary --json > canary.json
sl models show spam --json > final.json
"$PY" - canary.json final.json <<'P'
import json, sys
h = json.load(open(sys.argv[1]))
final = json.load(open(sys.argv[2]))["aliases"]["canary"]
assert h[0]["from"] is None and h[0]["to"] == 1, h[0]
assert len(h) >= 3, h
for a, b in zip(h, h[1:]):
    assert b["from"] == a["to"], (a, b)
    assert b["seq"] > a["seq"], (a, b)
assert h[-1]["to"] == final, (h[-1], final)
P
db_check
