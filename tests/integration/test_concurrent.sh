# Two `sluice run` processes on the same project at once, each with parallel
# steps, and a third whose steps only write to the store (store ops that tag
# their run and their outputs): all succeed, nothing is locked out, nothing
# is lost or recorded twice (every tag is there; sequence numbers are
# unique), and the store stays consistent. On both backends.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

# Each step also asks the store to tag its run and its output (store ops).
gen() {
	echo "name: $1"
	echo "steps:"
	for i in $(seq 1 20); do
		echo "  s$i:"
		echo "    run: |"
		echo "      echo $1-$i > \"\${outputs.out}\""
		printf '      echo %s > "$SLUICE_WORKDIR/store_ops.json"\n' \
			"'[{\"op\": \"tag\", \"on\": \"run\", \"key\": \"s$i\", \"value\": \"$1\"}, {\"op\": \"tag\", \"on\": \"output.out\", \"key\": \"by\", \"value\": \"s$i\"}]'"
		echo "    outputs: [out]"
	done
	echo "  all:"
	echo "    run: cat $(for i in $(seq 1 20); do printf '"${inputs.i%d}" ' $i; done) > \"\${outputs.out}\""
	printf '    inputs: {'
	for i in $(seq 1 20); do printf ' i%d: s%d.out,' $i $i; done
	echo ' }'
	echo "    outputs: [out]"
}
# A writer of nothing but store ops: 30 steps, each tagging the run.
{
	echo "name: tagger"
	echo "steps:"
	for i in $(seq 1 30); do
		echo "  t$i:"
		echo "    run: |"
		printf '      echo %s > "$SLUICE_WORKDIR/store_ops.json"\n' \
			"'[{\"op\": \"tag\", \"on\": \"run\", \"key\": \"t$i\", \"value\": \"x\"}]'"
	done
} > tagger.yaml
gen one > one.yaml
gen two > two.yaml
for round in 1 2 3; do
	sl run one.yaml -j 4 -q --no-cache & p1=$!
	sl run two.yaml -j 4 -q --no-cache & p2=$!
	sl run tagger.yaml -j 4 -q --no-cache & p3=$!
	wait $p1 || fail "run one failed in round $round"
	wait $p2 || fail "run two failed in round $round"
	wait $p3 || fail "the tagger failed in round $round"
done
[ "$(sl runs --json -n 0 | js "len(d)")" = 9 ] || fail "9 runs"
[ "$(sl runs --json -n 0 | js "sorted(set(r['status'] for r in d))")" = "['completed']" ] || fail "statuses"
# Nothing lost, nothing twice: every step run and every tag its step asked for.
[ "$(store_sql "SELECT COUNT(*) FROM step_runs WHERE status = 'completed'")" = $((6 * 21 + 3 * 30)) ] ||
	fail "step runs: $(store_sql "SELECT COUNT(*) FROM step_runs")"
[ "$(store_sql "SELECT COUNT(*) FROM tags WHERE entity = 'run'")" = $((6 * 20 + 3 * 30)) ] ||
	fail "run tags: $(store_sql "SELECT COUNT(*) FROM tags WHERE entity = 'run'")"
[ "$(store_sql "SELECT COUNT(*) FROM tags WHERE entity = 'artifact' AND tag = 'by'")" = 40 ] ||
	fail "artifact tags"
[ "$(store_sql "SELECT COUNT(DISTINCT seq) FROM runs")" = 9 ] || fail "run sequence numbers"
[ "$(store_sql "SELECT COUNT(*) FROM (SELECT DISTINCT run_id, seq FROM step_runs) x")" = $((6 * 21 + 3 * 30)) ] ||
	fail "step sequence numbers"
db_check
# The same pipeline twice at once: both complete (one may reuse the other's cache).
sl run one.yaml -q & p1=$!
sl run one.yaml -q & p2=$!
wait $p1 && wait $p2 || fail "same pipeline twice"
db_check
echo ok
