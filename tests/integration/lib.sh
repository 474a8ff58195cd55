# Shared helpers for integration tests: each test sources this, gets a fresh
# project in a temp folder (removed on exit) and drives the real binary.
#
#   SLUICE             the binary under test (set by ctest)
#   SLUICE_SOURCE_DIR  the repository
set -euo pipefail

: "${SLUICE:?SLUICE must name the sluice binary}"
SRC=${SLUICE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-it-XXXXXX")
# A test that starts processes defines at_exit to stop them.
trap 'rc=$?; if type at_exit >/dev/null 2>&1; then at_exit; fi; [ $rc -ne 0 ] && echo "FAILED (rc=$rc) in $0; project kept at $T" >&2; [ $rc -eq 0 ] && rm -rf "$T"; exit $rc' EXIT
cd "$T"
unset SLUICE_HOME

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

db_check() {
	local r
	r=$(sqlite3 "$T/.sluice/meta.db" 'PRAGMA integrity_check;')
	[ "$r" = ok ] || fail "integrity_check: $r"
}

sl init . >/dev/null
