#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for tests, without systemd.
#
#   scripts/pg.sh start DIR PORT   init (once) and start a server; prints its URL
#   scripts/pg.sh stop DIR         stop it (a no-op when nothing runs)
#   scripts/pg.sh url DIR          the URL of a started server
#
# Everything lives under DIR: data/ (the cluster), sock/ (the Unix socket),
# log (the server log) and port. The server listens on 127.0.0.1:PORT only,
# trusts every local connection (user postgres, database postgres) except
# those of the role sluice_pw, which must give its password (tests that
# check a wrong password create that role), and runs with fsync off: it
# holds test data, nothing else.
#
# Both verbs are idempotent. `start` on a running server with the same port
# only prints its URL; a cluster whose initdb was interrupted is made again.
# `stop` works whatever state `start` left behind: a stale pid file, a
# server that never became ready, or no cluster at all.
#
# As root, the server runs as user postgres (PostgreSQL refuses to run as
# root), so DIR is handed to postgres and must be reachable by it: every
# directory above DIR needs the search (x) permission for others.
set -euo pipefail
. "$(dirname "$0")/daemon.sh"

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

die() { echo "pg.sh: $*" >&2; exit 1; }

usage() {
	echo "usage: pg.sh start DIR PORT | stop DIR | url DIR" >&2
	exit 2
}

# as_pg CMD...: runs CMD as the server's owner.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# give_pg PATH...: hands files to the server's owner (as root only).
give_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$@"
	fi
}

# The postmaster's pid from the pid file, or nothing.
pidof_server() {
	local f=$1/data/postmaster.pid pid
	[ -f "$f" ] || return 0
	read -r pid <"$f" || true
	case $pid in '' | *[!0-9]*) return 0 ;; esac
	echo "$pid"
}

url_of() {
	echo "postgresql://postgres@127.0.0.1:$(cat "$1/port")/postgres"
}

cmd_start() {
	local dir=$1 port=$2 data pid
	case $port in '' | *[!0-9]*) die "port must be a number: $port" ;; esac
	[ -x "$PGBIN/initdb" ] || die "no PostgreSQL 15 at $PGBIN (run scripts/deps.sh)"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	data=$dir/data

	# Already running? Then only the port may not change.
	pid=$(pidof_server "$dir")
	if [ -n "$pid" ] && alive "$pid"; then
		[ "$(cat "$dir/port" 2>/dev/null)" = "$port" ] ||
			die "a server already runs in $dir on port $(cat "$dir/port" 2>/dev/null)"
		url_of "$dir"
		return 0
	fi

	if [ "$(id -u)" -eq 0 ]; then
		give_pg "$dir"
		runuser -u postgres -- test -w "$dir" ||
			die "user postgres cannot write $dir (a directory above it is not searchable)"
	fi

	# PG_VERSION is written last by a complete initdb; anything else is a
	# leftover from an interrupted one.
	if [ ! -f "$data/PG_VERSION" ]; then
		rm -rf "$data"
		as_pg "$PGBIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C \
			--no-sync --no-instructions >"$dir/initdb.log" 2>&1 ||
			die "initdb failed: $(tail -n 5 "$dir/initdb.log")"
		echo "include_if_exists = 'sluice-test.conf'" >>"$data/postgresql.conf"
	fi

	mkdir -p "$dir/sock"
	give_pg "$dir/sock"
	cat >"$data/sluice-test.conf" <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 20
shared_buffers = 16MB
logging_collector = off
EOF
	cat >"$data/pg_hba.conf" <<EOF
local all all trust
host all sluice_pw 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
EOF
	give_pg "$data/sluice-test.conf" "$data/pg_hba.conf"
	echo "$port" >"$dir/port"
	: >"$dir/log"
	give_pg "$dir/log"

	if ! as_pg "$PGBIN/pg_ctl" -D "$data" -l "$dir/log" -w -t 30 start >/dev/null 2>&1; then
		local why
		why=$(tail -n 5 "$dir/log")
		cmd_stop "$dir"
		die "the server did not start on port $port: $why"
	fi
	url_of "$dir"
}

cmd_stop() {
	local dir=$1 pid i
	[ -d "$dir" ] || return 0
	pid=$(pidof_server "$dir")
	if [ -z "$pid" ]; then
		return 0
	fi
	if alive "$pid"; then
		as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 10 stop >/dev/null 2>&1 || true
	fi
	# pg_ctl gives up on a server that never finished starting; signal it
	# directly, fast shutdown first, then kill.
	for sig in INT KILL; do
		alive "$pid" || break
		kill -"$sig" "$pid" 2>/dev/null || true
		for i in $(seq 50); do
			alive "$pid" || break
			sleep 0.1
		done
	done
	alive "$pid" && die "server $pid in $dir does not stop"
	rm -f "$dir/data/postmaster.pid"
	return 0
}

[ $# -ge 2 ] || usage
case $1 in
start) [ $# -eq 3 ] || usage; cmd_start "$2" "$3" ;;
stop) [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
url) [ $# -eq 2 ] || usage; [ -f "$2/port" ] || die "no server in $2"; url_of "$2" ;;
*) usage ;;
esac
