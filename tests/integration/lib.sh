# Shared helpers for integration tests: each test sources this, gets a fresh
# project in a temp folder (removed on exit) and drives the real binary.
#
#   SLUICE             the binary under test (set by ctest)
#   SLUICE_SOURCE_DIR  the repository
#   SLUICE_TEST_PG_URL_FILE  set in the PostgreSQL variant of a test
#                      (integration/NAME@postgresql, for the tests whose
#                      header says "# backends: sqlite postgresql"): the
#                      project's metadata store is then a fresh database on
#                      the server the suite's fixture started
#                      (tests/pg_fixture.sh), through SLUICE_STORE.
set -euo pipefail

: "${SLUICE:?SLUICE must name the sluice binary}"
SRC=${SLUICE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-it-XXXXXX")
PSQL=/usr/lib/postgresql/15/bin/psql
PG_DB=""
# pg_store_drop: drops the variant's database (tests with their own EXIT trap call it).
pg_store_drop() {
	[ -n "$PG_DB" ] || return 0
	"$PSQL" "$PG_ADMIN" -X -q -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
	PG_DB=""
}
trap 'rc=$?; pg_store_drop; [ $rc -ne 0 ] && echo "FAILED (rc=$rc) in $0; project kept at $T" >&2; [ $rc -eq 0 ] && rm -rf "$T"; exit $rc' EXIT
cd "$T"
unset SLUICE_HOME SLUICE_STORE
if [ -n "${SLUICE_TEST_PG_URL_FILE:-}" ]; then
	PG_ADMIN=$(cat "$SLUICE_TEST_PG_URL_FILE") || { echo "FAIL: no PostgreSQL fixture" >&2; exit 1; }
	PG_DB=it_$$_$RANDOM
	"$PSQL" "$PG_ADMIN" -X -q -v ON_ERROR_STOP=1 \
		-c "CREATE DATABASE $PG_DB TEMPLATE sluice_template STRATEGY FILE_COPY" >/dev/null
	PG_URL=${PG_ADMIN%/*}/$PG_DB
	export SLUICE_STORE=$PG_URL
fi
# pg_sql SQL: one value from the variant's database.
pg_sql() { "$PSQL" "$PG_URL" -X -q -tA -v ON_ERROR_STOP=1 -c "$1"; }
# store_sql SQL: the answer of the project's store, whichever backend it is.
store_sql() {
	if [ -n "$PG_DB" ]; then pg_sql "$1"; else sqlite3 "$T/.sluice/meta.db" "$1"; fi
}

fail() { echo "FAIL: $*" >&2; exit 1; }
sl() { "$SLUICE" "$@"; }

# expect_exit CODE CMD...: runs CMD, which must exit with CODE; output in $OUT/$ERR.
expect_exit() {
	local want=$1; shift
	set +e
	"$@" >"$T/.out" 2>"$T/.err"
	local got=$?
	set -e
	OUT=$(cat "$T/.out"); ERR=$(cat "$T/.err")
	[ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want
stdout: $OUT
stderr: $ERR"
}

contains() { case "$1" in *"$2"*) return 0 ;; esac; fail "expected to find '$2' in:
$1"; }
not_contains() { case "$1" in *"$2"*) fail "did not expect '$2' in:
$1" ;; esac; return 0; }

# jq-like access with python: js FILE-OR-- EXPR  (EXPR is python on `d`)
js() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# The status of step NAME in the latest run ("runs show latest --json").
step_status() { sl runs show "${2:-latest}" --json | js "next(s['status'] for s in d['steps'] if s['name']=='$1')"; }
run_status() { sl runs show "${1:-latest}" --json | js "d['status']"; }
# Steps of the latest run with a given status, sorted, space separated.
steps_with() { sl runs show "${2:-latest}" --json | js "' '.join(sorted(s['name'] for s in d['steps'] if s['status']=='$1'))"; }

# The store is sound: SQLite's integrity check, or on PostgreSQL (which keeps
# its own pages sound) that every step run belongs to a run and every edge
# to an artifact.
db_check() {
	local r
	if [ -n "$PG_DB" ]; then
		r=$(pg_sql "SELECT (SELECT COUNT(*) FROM step_runs sr LEFT JOIN runs r ON r.id = sr.run_id
			WHERE r.id IS NULL) + (SELECT COUNT(*) FROM edges e LEFT JOIN artifacts a
			ON a.id = e.artifact WHERE a.id IS NULL)")
		[ "$r" = 0 ] || fail "$r dangling references in the store"
		return 0
	fi
	r=$(sqlite3 "$T/.sluice/meta.db" 'PRAGMA integrity_check;')
	[ "$r" = ok ] || fail "integrity_check: $r"
}

sl init . >/dev/null
