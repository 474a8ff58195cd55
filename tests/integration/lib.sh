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
# pg_store_drop: drops the variant's database.
pg_store_drop() {
	[ -n "$PG_DB" ] || return 0
	"$PSQL" "$PG_ADMIN" -X -q -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
	PG_DB=""
}

# at_exit CMD: runs CMD (with eval) when the test ends, passed or failed,
# the last registered first, before the project folder is removed. LIB_RC
# holds the test's exit status meanwhile (a hook can show a server's log on
# failure); a hook that fails fails the test. Servers a test starts are
# stopped this way, never by a trap of the test's own.
AT_EXIT=()
LIB_RC=0
at_exit() { AT_EXIT=("$1" ${AT_EXIT[@]+"${AT_EXIT[@]}"}); }
lib_exit() {
	local c
	LIB_RC=$1
	trap - EXIT INT TERM
	for c in ${AT_EXIT[@]+"${AT_EXIT[@]}"}; do
		eval "$c" || LIB_RC=1
	done
	pg_store_drop
	if [ "$LIB_RC" -ne 0 ]; then
		echo "FAILED (rc=$LIB_RC) in $0; project kept at $T" >&2
	else
		rm -rf "$T"
	fi
	exit "$LIB_RC"
}
trap 'lib_exit $?' EXIT
trap 'exit 130' INT TERM
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
# pg_server DIR: a PostgreSQL server of the test's own (scripts/pg.sh), on
# 127.0.0.1 on a free port, stopped when the test ends (its log shown when
# the test failed). Sets PG_SERVER_URL and PG_SERVER_PORT.
pg_server() {
	local dir=$1 attempt
	[ -x "$PSQL" ] || fail "PostgreSQL 15 is not installed (scripts/deps.sh installs it)"
	# The server runs as user postgres when we are root: it must reach DIR.
	chmod 0711 "$T"
	PG_SERVER_URL=""
	at_exit "pg_server_stop '$dir'"
	# A free port can be taken between the probe and the bind: try a few.
	for attempt in 1 2 3; do
		PG_SERVER_PORT=$(free_port)
		PG_SERVER_URL=$("$SRC/scripts/pg.sh" start "$dir" "$PG_SERVER_PORT" 2>"$T/.pgerr") && break
		PG_SERVER_URL=""
	done
	[ -n "$PG_SERVER_URL" ] || fail "PostgreSQL did not start: $(cat "$T/.pgerr")"
}
pg_server_stop() {
	"$SRC/scripts/pg.sh" stop "$1" || return 1
	[ "$LIB_RC" = 0 ] || [ ! -f "$1/log" ] || { echo "--- server log:" >&2; tail -n 20 "$1/log" >&2; }
}
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# store_sql SQL: the answer of the project's store, whichever backend it is.
# (SQLite: waits up to 10 s for a writer, a run in flight say, as sluice does.)
store_sql() {
	if [ -n "$PG_DB" ]; then pg_sql "$1"; else sqlite3 -cmd ".timeout 10000" "$T/.sluice/meta.db" "$1"; fi
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

# gated_pipeline NAME CSV TARGET SEED REGISTER [FEATURES]: prints a pipeline
# that trains a logistic model on CSV (split 70/30 with SEED; FEATURES, a
# YAML list's body, else every column), gates it at roc_auc >= 0.7 and
# registers it with REGISTER as the register step's options ("name: m,
# alias: production"): what the monitoring tests serve and retrain.
gated_pipeline() {
	cat <<Y
name: $1
steps:
  data:
    uses: ingest.csv
    with: { path: $2 }
  split:
    uses: split
    inputs: { data: data.data }
    with: { method: random, fractions: [0.7, 0.0, 0.3], seed: $4 }
  train:
    uses: train.logistic
    inputs: { train: split.train }
    with: { target: $3${6:+, features: [$6]} }
  evaluate:
    uses: evaluate
    inputs: { model: train.model, test: split.test }
    with: { target: $3, importance: false }
  gate:
    uses: test
    inputs: { report: evaluate.report }
    with: { rules: [ { metric: roc_auc, min: 0.7 } ] }
  package:
    uses: package
    inputs: { model: train.model, report: evaluate.report, verdict: gate.verdict }
  register:
    uses: register
    inputs: { bundle: package.bundle }
    with: { $5 }
Y
}

# xy_csv FILE SEED [ROWS] [SHIFT]: a small labelled table, x,y,label with
# label = x + y > 1; SHIFT moves the mean of x (for drift).
xy_csv() {
	"$PY" - "$1" "$2" "${3:-300}" "${4:-}" <<'P'
import random, sys
path, seed, rows, shift = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
random.seed(seed)
with open(path, "w") as f:
    f.write("x,y,label\n")
    for i in range(rows):
        x = random.gauss(float(shift), 1) if shift else random.random()
        y = random.random()
        f.write(f"{x:.4f},{y:.4f},{int(x + y > 1)}\n")
P
}

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
