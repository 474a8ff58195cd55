# Two `sluice run` processes on the same project at once, each with parallel
# steps: both succeed, nothing is locked out, the store stays consistent.
# backends: sqlite postgresql
. "$(dirname "$0")/lib.sh"

gen() {
	echo "name: $1"
	echo "steps:"
	for i in $(seq 1 20); do
		echo "  s$i:"
		echo "    run: echo $1-$i > \"\${outputs.out}\""
		echo "    outputs: [out]"
	done
	echo "  all:"
	echo "    run: cat $(for i in $(seq 1 20); do printf '"${inputs.i%d}" ' $i; done) > \"\${outputs.out}\""
	printf '    inputs: {'
	for i in $(seq 1 20); do printf ' i%d: s%d.out,' $i $i; done
	echo ' }'
	echo "    outputs: [out]"
}
gen one > one.yaml
gen two > two.yaml
for round in 1 2 3; do
	sl run one.yaml -j 4 -q --no-cache & p1=$!
	sl run two.yaml -j 4 -q --no-cache & p2=$!
	wait $p1 || fail "run one failed in round $round"
	wait $p2 || fail "run two failed in round $round"
done
[ "$(sl runs --json -n 0 | js "len(d)")" = 6 ] || fail "6 runs"
[ "$(sl runs --json -n 0 | js "sorted(set(r['status'] for r in d))")" = "['completed']" ] || fail "statuses"
db_check
# The same pipeline twice at once: both complete (one may reuse the other's cache).
sl run one.yaml -q & p1=$!
sl run one.yaml -q & p2=$!
wait $p1 && wait $p2 || fail "same pipeline twice"
db_check
echo ok
