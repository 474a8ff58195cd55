#!/usr/bin/env bash
# The PostgreSQL server of the test suite's PostgreSQL variants (a ctest
# fixture: tests/CMakeLists.txt runs `start` before the first test that
# needs it and `stop` after the last, whether they passed or not).
#
#   tests/pg_fixture.sh start DIR   start a server on 127.0.0.1 on a free port
#                                   (scripts/pg.sh), make the template every
#                                   test database is copied from, and write
#                                   the server's URL to DIR/url
#   tests/pg_fixture.sh stop DIR    stop it and remove DIR
#
# The template database, sluice_template, sorts text with the ICU en-US
# collation, not byte-wise: a store that relied on the server's default
# ordering would give different answers than SQLite, and the tests would
# see it. Each test makes its own database from it (tu_store_target in
# tests/unit/testutil.c, pg_store in tests/integration/lib.sh).
#
# `start` first stops whatever an interrupted earlier suite left in DIR.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
PGSH="$SRC/scripts/pg.sh"
PSQL=/usr/lib/postgresql/15/bin/psql
PY=/usr/bin/python3

[ $# -eq 2 ] || { echo "usage: pg_fixture.sh start|stop DIR" >&2; exit 2; }
dir=$2

case $1 in
start)
	"$PGSH" stop "$dir/pg" 2>/dev/null || true
	rm -rf "$dir"
	mkdir -p "$dir"
	# The server runs as user postgres when we are root: it must reach DIR.
	chmod 0711 "$dir"
	url=""
	for attempt in 1 2 3; do
		port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		if url=$("$PGSH" start "$dir/pg" "$port" 2>"$dir/start.err"); then
			break
		fi
		url=""
	done
	[ -n "$url" ] || { echo "pg_fixture: the server did not start: $(cat "$dir/start.err")" >&2; exit 1; }
	"$PSQL" "$url" -X -q -v ON_ERROR_STOP=1 -c \
		"CREATE DATABASE sluice_template TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.utf8'"
	echo "$url" >"$dir/url"
	echo "pg_fixture: $url"
	;;
stop)
	rc=0
	"$PGSH" stop "$dir/pg" || rc=1
	[ $rc -ne 0 ] || rm -rf "$dir"
	exit $rc
	;;
*)
	echo "usage: pg_fixture.sh start|stop DIR" >&2
	exit 2
	;;
esac
