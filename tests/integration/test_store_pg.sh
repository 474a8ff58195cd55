# The PostgreSQL metadata store when things go wrong. This test starts its
# own server (lib.sh's pg_server: scripts/pg.sh, on 127.0.0.1 on a free
# port in its folder), since it stops and restarts it; it is stopped when
# the test ends, whatever happens.
#
#   - the project names the store in sluice.yaml (stack.metadata);
#   - a wrong password and a refused connection are one clear error each,
#     naming where the URL came from and never the password;
#   - the connection killed between transactions, and the server restarted
#     while a step runs, cost nothing: the run completes;
#   - the connection killed inside a transaction (a step's completion):
#     the run stops with the server's word, its end is recorded, the step
#     whose completion was lost is closed, nothing of it is half written,
#     and a rerun resumes from the cache;
#   - the server gone for longer than SLUICE_STORE_WAIT: the run stops, says
#     it stays running, and the next run after the server is back records
#     it as failed.
. "$(dirname "$0")/lib.sh"

PGSH="$SRC/scripts/pg.sh"
PGDIR="$T/pg"
pg_server "$PGDIR"
URL=$PG_SERVER_URL
PORT=$PG_SERVER_PORT
admin() { "$PSQL" "$URL" -X -q -tA -v ON_ERROR_STOP=1 -c "$1"; }
admin "CREATE DATABASE meta"
STORE="postgresql://postgres@127.0.0.1:$PORT/meta"
unset SLUICE_STORE
printf 'stack:\n  metadata: %s\n' "$STORE" > sluice.yaml
rm .sluice/meta.db # made by `sluice init` before sluice.yaml named another store
q() { "$PSQL" "$STORE" -X -q -tA -v ON_ERROR_STOP=1 -c "$1"; }
# The backend pid of sluice's own connection(s), as pg_stat_activity sees them.
# wait_started: until the running `slow` step has said so (30 s at most: a
# sanitizer build on a loaded machine starts slowly).
wait_started() {
	local i
	for i in $(seq 600); do grep -q "step slow: started" run.err && return 0; sleep 0.05; done
	fail "step slow did not start: $(cat run.err)"
}
sluice_backends() { q "SELECT pid FROM pg_stat_activity WHERE application_name = 'sluice' AND datname = 'meta'"; }

cat > p.yaml <<'Y'
name: pg-faults
params: { x: 0 }
steps:
  first:
    run: echo one ${params.x} > "${outputs.o}"
    outputs: [o]
  slow:
    run: sleep 2.5; cat "${inputs.i}" > "${outputs.o}"
    inputs: { i: first.o }
    outputs: [o]
  last:
    run: |
      cat "${inputs.i}" > "${outputs.o}"; echo '{"n": 3}' > "$SLUICE_WORKDIR/metrics.json"
    inputs: { i: slow.o }
    outputs: [o]
Y

# The store named by sluice.yaml works, and is the one written to.
sl run p.yaml >/dev/null 2>run.err || fail "first run: $(cat run.err)"
[ "$(q "SELECT COUNT(*) FROM runs WHERE status = 'completed'")" = 1 ] || fail "the run is in PostgreSQL"
[ ! -e .sluice/meta.db ] || fail "no SQLite file is made when the store is PostgreSQL"

# ---- bad addresses: one line each, the source named, no password shown ------
admin "CREATE ROLE sluice_pw LOGIN PASSWORD 'right-one'"
admin "GRANT ALL ON DATABASE meta TO sluice_pw"
expect_exit 1 env SLUICE_STORE="postgresql://sluice_pw:hunter2@127.0.0.1:$PORT/meta" "$SLUICE" runs
contains "$ERR" "opening the metadata store named by SLUICE_STORE"
contains "$ERR" "postgresql://sluice_pw:***@127.0.0.1:$PORT/meta: cannot connect"
contains "$ERR" 'password authentication failed for user "sluice_pw"'
not_contains "$ERR" hunter2
[ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] || fail "one line: $ERR"
DEAD=$(free_port)
printf 'stack:\n  metadata: postgresql://postgres:s3cret@127.0.0.1:%s/meta\n' "$DEAD" > sluice.yaml
expect_exit 1 sl run p.yaml
contains "$ERR" "opening the metadata store named by sluice.yaml's stack.metadata"
contains "$ERR" "postgresql://postgres:***@127.0.0.1:$DEAD/meta: cannot connect"
contains "$ERR" "Connection refused"
not_contains "$ERR" s3cret
printf 'stack:\n  metadata: %s\n' "$STORE" > sluice.yaml

# ---- lost between transactions: healed ---------------------------------------
# While `slow` sleeps, sluice holds no transaction: kill its connection.
sl run p.yaml -p x=1 --no-cache >run.out 2>run.err &
pid=$!
wait_started
[ -n "$(sluice_backends)" ] || fail "no sluice connection to kill"
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sluice' AND datname = 'meta'" >/dev/null
wait $pid || fail "a connection lost between transactions must not fail the run: $(cat run.err)"
[ "$(run_status)" = completed ] || fail "healed run"

# A server restarted while a step runs: the same.
sl run p.yaml --no-cache >run.out 2>run.err &
pid=$!
wait_started
"$PGSH" stop "$PGDIR"
"$PGSH" start "$PGDIR" "$PORT" >/dev/null
wait $pid || fail "a restarted server must not fail the run: $(cat run.err)"
[ "$(run_status)" = completed ] || fail "run across a restart"

# ---- lost inside a transaction: stopped, recorded, nothing half written ------
# A trigger holds the first completion that writes an output edge of `slow`
# for a while; the connection is killed meanwhile.
q "CREATE SEQUENCE held"
q "CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS \$\$
   BEGIN
     IF NEW.direction = 'out' AND (SELECT step FROM step_runs WHERE id = NEW.step_run) = 'slow'
        AND nextval('held') = 1 THEN PERFORM pg_sleep(30); END IF;
     RETURN NEW;
   END \$\$"
q "CREATE TRIGGER hold BEFORE INSERT ON edges FOR EACH ROW EXECUTE FUNCTION hold()"
sl run p.yaml -p x=2 >run.out 2>run.err &
pid=$!
for i in $(seq 200); do
	[ -n "$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'sluice' AND wait_event = 'PgSleep'")" ] && break
	sleep 0.05
done
held=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'sluice' AND wait_event = 'PgSleep'")
[ -n "$held" ] || fail "the completion of slow never reached the trigger: $(cat run.err)"
q "SELECT pg_terminate_backend($held)" >/dev/null
set +e
wait $pid
rc=$?
set -e
[ $rc = 1 ] || fail "exit $rc after a connection lost mid-transaction: $(cat run.err)"
contains "$(cat run.err)" "the connection was lost"
contains "$(cat run.err)" "stopped"
run=$(sl runs show latest --json | js "d['run']")
[ "$(run_status)" = failed ] || fail "the run's end is recorded once the store answers"
[ "$(step_status first)" = completed ] || fail "first"
[ "$(step_status slow)" = failed ] || fail "slow: $(step_status slow)"
contains "$(sl runs show latest)" "its end was not recorded"
not_contains "$(steps_with completed)" last
[ "$(q "SELECT COUNT(*) FROM edges e JOIN step_runs sr ON sr.id = e.step_run
	WHERE sr.run_id = '$run' AND sr.step = 'slow' AND e.direction = 'out'")" = 0 ] ||
	fail "half of slow's completion was recorded"
[ "$(q "SELECT COUNT(*) FROM step_runs WHERE run_id = '$run' AND status IN ('running', 'pending')")" = 0 ] ||
	fail "open step runs under an ended run"
sl run p.yaml -p x=2 >run.out 2>run.err || fail "rerun: $(cat run.err)"
[ "$(step_status first)" = cached ] || fail "the rerun resumes from the cache"
[ "$(step_status last)" = completed ] || fail "the rerun finishes"
q "DROP TRIGGER hold ON edges"

# ---- gone for good: the run says so, and is recorded failed once it is back --
export SLUICE_STORE_WAIT=1
sl run p.yaml -p x=3 >run.out 2>run.err &
pid=$!
wait_started
run=$(q "SELECT id FROM runs ORDER BY seq DESC LIMIT 1")
"$PGSH" stop "$PGDIR"
set +e
wait $pid
rc=$?
set -e
[ $rc = 1 ] || fail "exit $rc with the server gone: $(cat run.err)"
contains "$(cat run.err)" "unreachable"
contains "$(cat run.err)" "stays 'running' until the next \`sluice run\`"
"$PGSH" start "$PGDIR" "$PORT" >/dev/null
unset SLUICE_STORE_WAIT
[ "$(run_status "$run")" = running ] || fail "the run is as far as the store got: $(run_status "$run")"
sl run p.yaml -p x=3 >/dev/null 2>run.err || fail "the run after: $(cat run.err)"
[ "$(run_status "$run")" = failed ] || fail "recovered: $(run_status "$run")"
[ "$(step_status slow "$run")" = failed ] || fail "the step it was running"
sl runs show "$run" --json | js "next(s for s in d['steps'] if s['name']=='slow')['reason']" |
	grep -qx interrupted || fail "reason interrupted"
db_check_pg() {
	[ "$(q "SELECT COUNT(*) FROM step_runs sr JOIN runs r ON r.id = sr.run_id
		WHERE r.status <> 'running' AND sr.status IN ('running', 'pending')")" = 0 ] ||
		fail "open step runs under ended runs"
	[ "$(q "SELECT COUNT(*) - COUNT(DISTINCT seq) FROM runs")" = 0 ] || fail "duplicate run seq"
}
db_check_pg
echo ok
