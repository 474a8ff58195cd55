# `sluice store migrate --to postgresql://...`: a project's SQLite history
# (runs that completed, failed and came from the cache, metrics with
# histories, tags from store ops, lineage) copied into PostgreSQL, where
# every listing prints exactly what it printed from SQLite; a second copy
# changes nothing; the project then runs on PostgreSQL with its cache
# intact; a colleague's clone of the project merges its own history into
# the same database; a target that refuses a row is left unchanged; a run
# going on blocks the copy.
# backends: postgresql
. "$(dirname "$0")/lib.sh"

[ -n "$PG_DB" ] || fail "this test runs in the PostgreSQL variant only"
TARGET=$SLUICE_STORE
unset SLUICE_STORE

cat > p.yaml <<'Y'
name: migrate-me
params: { n: 3 }
steps:
  make:
    run: |
      seq 1 ${params.n} > "${outputs.data}"
      echo '{"rows": ${params.n}, "loss": [0.9, 0.5, 0.25]}' > "$SLUICE_WORKDIR/metrics.json"
      echo '[{"op": "tag", "on": "output.data", "key": "stage", "value": "raw"}, {"op": "tag", "on": "run", "key": "owner", "value": "ana"}]' > "$SLUICE_WORKDIR/store_ops.json"
    outputs: [data]
  double:
    run: awk '{print 2*$1}' "${inputs.data}" > "${outputs.data}"
    inputs: { data: make.data }
    outputs: [data]
  check:
    run: test "$(wc -l < "${inputs.data}")" -lt 5
    inputs: { data: double.data }
Y
sl run p.yaml -q
sl run p.yaml -q                    # all cached
expect_exit 1 sl run p.yaml -p n=9  # check fails
sl run p.yaml -q -p n=2
[ "$(sl runs --json -n 0 | js "len(d)")" = 4 ] || fail "4 runs to copy"

# The listings a user sees, from SQLite.
views() {
	sl runs --json -n 0
	for r in $(sl runs --json -n 0 | js "' '.join(x['run'] for x in d)"); do
		sl runs show "$r" --json
		sl runs show "$r"
	done
	sl artifacts --json -n 0
	for a in $(sl artifacts --json -n 0 | js "' '.join(x['id'] for x in d)"); do
		sl artifacts show "$a" --json
		sl artifacts lineage "$a" --json
	done
}
views > sqlite.views
[ "$(wc -l < sqlite.views)" -gt 200 ] || fail "the listings: $(wc -l < sqlite.views) lines"

sl store migrate --to "$TARGET" --json > m1.json
js "d['verified']" < m1.json | grep -qx True || fail "verified"
js "{t['table']: (t['source'], t['copied'], t['present']) for t in d['tables']}['runs']" < m1.json |
	grep -qx "(4, 4, 0)" || fail "runs counts: $(cat m1.json)"
js "all(t['source'] == t['copied'] for t in d['tables'])" < m1.json | grep -qx True || fail "all copied"
[ "$(pg_sql "SELECT COUNT(*) FROM metric_history")" -gt 0 ] || fail "histories copied"
[ "$(pg_sql "SELECT COUNT(*) FROM tags")" -gt 0 ] || fail "tags copied"

# What PostgreSQL shows is what SQLite showed, byte for byte.
SLUICE_STORE=$TARGET views > pg.views
diff sqlite.views pg.views >&2 || fail "the listings differ after migrating (sqlite < > postgresql)"

# A second copy finds everything there.
sl store migrate --to "$TARGET" > m2.txt
contains "$(cat m2.txt)" "every count verified"
sl store migrate --to "$TARGET" --json | js "sum(t['copied'] for t in d['tables'])" | grep -qx 0 ||
	fail "a second copy must copy nothing"

# The project now runs on PostgreSQL: the copied cache serves it.
export SLUICE_STORE=$TARGET
sl run p.yaml -q
[ "$(steps_with cached)" = "check double make" ] || fail "the migrated cache serves the run: $(steps_with cached)"
[ "$(sl runs --json -n 0 | js "len(d)")" = 5 ] || fail "5 runs"
latest=$(sl runs show latest --json | js "d['run']")
[ "$(sl runs --json -n 1 | js "d[0]['run']")" = "$latest" ] || fail "the new run is the latest"
unset SLUICE_STORE

# A colleague's clone of the project, with its own SQLite history, merges it
# into the team's database; its runs come after those already there.
mkdir other && cd other
sl init . >/dev/null
cp ../p.yaml .
sl run p.yaml -q -p n=4
sl store migrate --to "$TARGET" --json | js "[t for t in d['tables'] if t['table'] == 'runs'][0]['copied']" |
	grep -qx 1 || fail "the clone's run"
[ "$(pg_sql "SELECT COUNT(*) FROM runs")" = 6 ] || fail "both histories in one database"
[ "$(pg_sql "SELECT COUNT(DISTINCT seq) FROM runs")" = 6 ] || fail "sequence numbers stay unique"

# A target that refuses a row is left as it was.
pg_sql "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
	RAISE EXCEPTION 'no more metrics here'; END \$\$" >/dev/null
pg_sql "CREATE TRIGGER refuse BEFORE INSERT ON metrics FOR EACH ROW EXECUTE FUNCTION refuse()" >/dev/null
sl run p.yaml -q -p n=1
before=$(pg_sql "SELECT COUNT(*) FROM runs")
expect_exit 1 sl store migrate --to "$TARGET"
contains "$ERR" "no more metrics here"
contains "$ERR" "the target is unchanged"
[ "$(pg_sql "SELECT COUNT(*) FROM runs")" = "$before" ] || fail "a failed copy left rows behind"
pg_sql "DROP TRIGGER refuse ON metrics" >/dev/null

# A run going on blocks the copy; a bad target is one clear error.
cat > slow.yaml <<'Y'
name: slow
steps:
  wait:
    run: sleep 3
Y
sl run slow.yaml -q & pid=$!
for i in $(seq 100); do [ "$(run_status 2>/dev/null)" = running ] && break; sleep 0.05; done
expect_exit 1 sl store migrate --to "$TARGET"
contains "$ERR" "is still running; migrate when no run is going on"
wait $pid
expect_exit 2 sl store migrate
contains "$ERR" "migrate needs --to URL"
DEAD=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
expect_exit 1 sl store migrate --to "postgresql://postgres:pw@127.0.0.1:$DEAD/x"
contains "$ERR" "opening the target store"
contains "$ERR" "Connection refused"
not_contains "$ERR" ":pw@"
echo ok
