# Registered models served and scored by name, through the real binary:
#  - sluice predict and sluice models export take NAME@REF (alias, version
#    number), and one that names nothing is exit 2 naming the model and
#    what it has (its aliases, its newest version; the registered models);
#  - sluice serve --model NAME serves the version behind production, under
#    its version number (model_version, /metrics, the log); NAME@REF serves
#    another alias beside it, addressable as /v2/models/NAME/versions/V;
#  - under continuous load, promote and rollback from another process move
#    what is served within a second, every request succeeds, and no request
#    sent after the new version answered got the old one (the swap is
#    atomic); a version whose bundle is damaged leaves the old one serving,
#    counted and reported, and the load endpoint retries it on demand.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"
. "$SRC/tests/integration/serve_lib.sh"

xy_csv d.csv 1 300
# Two versions of model glue from one pipeline: C changes the coefficients,
# so the two answer the same row differently.
cat > train.yaml <<'Y'
name: glue-train
params: { c: 1.0, alias: production }
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
    with: { target: label, C: "${params.c}" }
  evaluate:
    uses: evaluate
    inputs: { model: train.model, test: split.test }
    with: { importance: false }
  gate:
    uses: test
    inputs: { report: evaluate.report }
    with:
      rules:
        - { metric: roc_auc, min: 0.6 }
  package:
    uses: package
    inputs: { model: train.model, report: evaluate.report, verdict: gate.verdict }
    with: { name: glue }
  register:
    uses: register
    inputs: { bundle: package.bundle }
    with: { name: glue, alias: "${params.alias}" }
Y
sl run train.yaml >/dev/null 2>&1 || fail "first run"
sl run train.yaml -p c=0.01 -p alias=staging >/dev/null 2>&1 || fail "second run"
[ "$(sl models --json | js "d[0]['aliases']")" = "{'production': 1, 'staging': 2}" ] ||
	fail "registry: $(sl models)"

# ---- sluice predict and models export by NAME@REF ----
printf 'x,y\n0.7,0.6\n0.1,0.2\n' > in.csv
sl predict glue@production -i in.csv -o p_prod.csv
sl predict glue@1 -i in.csv -o p1.csv
sl predict glue@staging -i in.csv -o p2.csv
cmp -s p_prod.csv p1.csv || fail "glue@production should score as version 1"
! cmp -s p1.csv p2.csv || fail "the two versions should answer differently"
bundle1=$(sl models show glue@1 --json | js "d['versions'][0]['bundle']")
sl artifacts export "$bundle1" -o v1.bundle
sl predict v1.bundle -i in.csv -o p_file.csv
cmp -s p_file.csv p1.csv || fail "glue@1 should score as its bundle file"
sl models export glue@production --format c -o by_ref.c
sl models export v1.bundle --format c -o by_file.c
# The same C, but for the header line naming what it came from: the
# reference and its version, or the file; both name the artifact.
diff <(grep -v '^ \* from ' by_ref.c) <(grep -v '^ \* from ' by_file.c) >/dev/null ||
	fail "models export glue@production differs from exporting its bundle"
contains "$(head -5 by_ref.c)" " * from glue@production (version 1),
 * artifact $bundle1."
contains "$(head -5 by_file.c)" " * from v1.bundle,
 * artifact $bundle1."

expect_exit 2 sl predict glue@canary -i in.csv -o x.csv
contains "$ERR" "model 'glue' has no alias 'canary'; its aliases: production, staging"
expect_exit 2 sl predict glue@7 -i in.csv -o x.csv
contains "$ERR" "model 'glue' has no version 7 (the newest is 2); its aliases: production=1, staging=2"
expect_exit 2 sl predict nope@production -i in.csv -o x.csv
contains "$ERR" "no model named 'nope' is registered; registered models: glue"
expect_exit 2 sl predict glue -i in.csv -o x.csv
contains "$ERR" "'glue' is a registered model"
expect_exit 2 sl models export glue@canary --format c -o x.c
contains "$ERR" "its aliases: production, staging"
[ ! -e x.csv ] && [ ! -e x.c ] || fail "a failed reference wrote a file"

# ---- sluice serve: what cannot be served is refused at start, named ----
expect_exit 2 sl serve --port 0 --model glue@canary
contains "$ERR" "--model glue@canary: model 'glue' has no alias 'canary'; its aliases: production, staging"
expect_exit 2 sl serve --port 0 --model nope
contains "$ERR" "no model named 'nope' is registered"
mkdir -p "$T/elsewhere/no-project"
(cd / && expect_exit 2 "$SLUICE" serve --port 0 --model glue --log-dir "$T/elsewhere/log" &&
	contains "$ERR" "no such file, and no sluice project here")

# ---- serving production, and staging beside it ----
"$PY" - <<'P'
import json
json.dump({"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [0.7]},
                      {"name": "y", "shape": [1], "datatype": "FP64", "data": [0.6]}]},
          open("req.json", "w"))
P
start_server "$T/serve.err" --no-auth --model glue --model glue@staging
at_exit '[ "$LIB_RC" = 0 ] || { echo "--- server:" >&2; cat "$T/serve.err" >&2; }'
contains "$(cat "$T/serve.err")" "glue: serving version 1, glue@production in the registry"
contains "$(cat "$T/serve.err")" "glue: serving version 2, glue@staging in the registry"
# infer: asks the default model; VER is the version that answered (BODY the answer).
infer() {
	req POST /v2/models/glue/infer -H 'Content-Type: application/json' --data-binary @req.json
	[ "$CODE" = 200 ] || fail "infer: $CODE $BODY"
	[[ $BODY =~ \"model_version\":\"([^\"]*)\" ]] || fail "infer: no model_version in $BODY"
	VER=${BASH_REMATCH[1]}
}
# The answer equals sluice predict's for that version.
proba() { "$PY" -c "import csv,sys; print(next(csv.DictReader(open(sys.argv[1])))['proba_1'])" "$1"; }
same_answer() {
	echo "$BODY" | "$PY" -c "import json,sys; d=json.load(sys.stdin); o=[x for x in d['outputs'] if x['name']=='predict_proba'][0]; assert abs(o['data'][1]-float(sys.argv[1]))<1e-12, (o, sys.argv[1])" "$1" ||
		fail "the answer is not version $2's: $BODY"
}
infer
[ "$VER" = 1 ] || fail "production is version 1"
same_answer "$(proba p1.csv)" 1
expect_code 200 GET /v2/models/glue
[ "$(echo "$BODY" | js "d['versions']")" = "['1']" ] || fail "metadata: $BODY"
expect_code 200 POST /v2/models/glue/versions/2/infer -H 'Content-Type: application/json' --data-binary @req.json
[ "$(echo "$BODY" | js "d['model_version']")" = 2 ] || fail "versions/2: $BODY"
same_answer "$(proba p2.csv)" 2
expect_code 404 POST /v2/models/glue/versions/3/infer -H 'Content-Type: application/json' --data-binary @req.json

# ---- alias moves under continuous load ----
$LOAD --port "$PORT" --path /v2/models/glue/infer --body req.json --threads 4 \
	--until "$T/stop" --versions "$T/runs.json" >"$T/load.json" &
LPID=$!
track "$LPID"
sleep 0.5
now() { date +%s.%N; }
# move WANT CMD...: runs CMD (an alias move, from this other process) and
# waits until the server answers with version WANT. Appends "start returned
# seen WANT" (wall clock) to moves.txt: the load's answers are checked
# against these times at the end (within 1 s of the command returning, by
# when requests were sent, which the client's own delays cannot stretch).
move() {
	local want=$1 t0 t1 t2 i
	shift
	t0=$(now)
	"$@" >/dev/null
	t1=$(now)
	for i in $(seq 250); do
		infer
		[ "$VER" = "$want" ] && break
		sleep 0.02
	done
	t2=$(now)
	[ "$VER" = "$want" ] || fail "$*: still serving version $VER"
	"$PY" -c "import sys; print('$*: this shell saw version $want %.0f ms after the move' % ((float(sys.argv[2])-float(sys.argv[1]))*1000))" "$t1" "$t2"
	echo "$t0 $t1 $t2 $want" >> moves.txt
	sleep 0.3
}
move 2 sl models promote glue 2 --to production
same_answer "$(proba p2.csv)" 2
move 1 sl models rollback glue
same_answer "$(proba p1.csv)" 1

# A version whose bundle is damaged does not replace the one serving. The
# file is replaced by rename, as a disk fault would not: staging serves
# version 2 from a mapping of the old file meanwhile.
bundle2=$(sl models show glue@2 --json | js "d['versions'][0]['bundle']")
file2=.sluice/artifacts/${bundle2:0:2}/${bundle2:2}
cp "$file2" good2.bundle
head -c 2000 good2.bundle > damaged && printf 'x' >> damaged
t0=$(now)
mv -f damaged "$file2"
sl models promote glue 2 --to production >/dev/null
# Wait for the server to report the failed attempt (it is tried once).
for i in $(seq 250); do
	grep -q "glue: the new version failed to load" "$T/serve.err" && break
	sleep 0.02
done
infer
[ "$VER" = 1 ] || fail "a damaged version must not replace the one serving"
contains "$(cat "$T/serve.err")" "glue: the new version failed to load"
contains "$(cat "$T/serve.err")" "still serving version 1"
M=$(curl -s "$URL/metrics")
grep -q '^sluice_model_load_failures_total{model="glue",ref="production"} [1-9]' <<<"$M" ||
	fail "load failure not counted: $(grep failures <<<"$M")"
# Repaired, the load endpoint tries again at once; the answer is its version.
cp good2.bundle damaged && mv -f damaged "$file2"
expect_code 200 POST /v2/repository/models/glue/load
t2=$(now)
t1=$t2
[ "$(echo "$BODY" | js "(d['name'], d['version'])")" = "('glue', '2')" ] || fail "reload: $BODY"
echo "$t0 $t1 $t2 2" >> moves.txt
infer
[ "$VER" = 2 ] || fail "after the reload"
move 1 sl models rollback glue

touch "$T/stop"
wait "$LPID"
cat "$T/load.json"
[ "$(js "list(d['codes'])" <"$T/load.json")" = "['200']" ] || fail "non-2xx across the moves: $(cat "$T/load.json")"
[ "$(js "d['errors']" <"$T/load.json")" = 0 ] || fail "connection errors across the moves"
[ "$(js "sorted(d['versions'])" <"$T/load.json")" = "['1', '2']" ] || fail "both versions should have answered the load"
# Which version each request got, by when it was sent: version 2 only from a
# move to it until version 1 answered again, and never later than 1 s after
# the move back returned; version 1 likewise. A request sent after this shell
# saw the new version never got the old one (the swap is atomic), nor one
# sent over 1 s after the move's command returned (the reload period is
# 250 ms).
"$PY" - "$T/runs.json" moves.txt <<'P'
import json, sys
runs = json.load(open(sys.argv[1]))
m = [l.split() for l in open(sys.argv[2])]
# promote, rollback, damaged promote + forced load, rollback: (start, returned, seen)
(p0, p1, p2), (r0, r1, r2), (d0, d1, d2), (e0, e1, e2) = [tuple(map(float, x[:3])) for x in m]
assert runs, "no answers recorded"
for k, v, first, last in runs:
    if v == "2":
        ok = (first >= p0 and last < min(r2, r1 + 1)) or (first >= d0 and last < min(e2, e1 + 1))
    else:
        ok = last < min(p2, p1 + 1) or (first >= r0 and last < d2) or first >= e0
    assert ok and v in ("1", "2"), ("thread %d got version %s from %.3f to %.3f" % (k, v, first, last), m)
print("%d runs of one version, all within their alias's time" % len(runs))
# How soon the load saw each move: its first request answered by the new
# version, from when the move's command returned.
for (t0, t1), want, what in (((p0, p1), "2", "promote"), ((r0, r1), "1", "rollback"),
                             ((e0, e1), "1", "rollback")):
    first = min((f for _, v, f, _ in runs if v == want and f >= t0), default=None)
    if first is not None:
        print("%s: the load's first answer from version %s was sent %.0f ms after the command "
              "returned" % (what, want, (first - t1) * 1000))
P

# The registry's version numbers name what answered, in /metrics and the log.
M=$(curl -s "$URL/metrics")
grep -q 'sluice_requests_total{model="glue",version="2",code="200"}' <<<"$M" || fail "no requests counted for version 2"
grep -q 'sluice_model_loads_total{model="glue",ref="production"} [1-9]' <<<"$M" || fail "loads not counted"
[ "$(sl logs --model glue --version 2 -n 1 --json | js "len(d)")" = 1 ] || fail "no log record of version 2"
[ "$(sl logs --model glue --version 1 -n 1 --json | js "d[0]['version']")" = 1 ] || fail "no log record of version 1"
kill -TERM "$SPID"
wait_exit "$SPID"
[ "$WRC" = 0 ] || fail "exit status $WRC"
contains "$(cat "$T/serve.err")" "glue: now serving version 2 (was 1)"
echo ok
