# Shared by the benchmarks that pair a C program against libsluice.a with a
# Python peer: sourced after `set -euo pipefail`, with the sluice binary as
# $1 (its build directory provides libsluice.a).
#
#   bench_cc NAME SOURCE.c   compiles SOURCE.c against the library into $dir/NAME
#   best FIELD               of the JSON lines on stdin, the one with the
#                            smallest FIELD (the fastest of several runs)
#   time_ms CMD...           the median and best wall time of $RUNS runs of
#                            a command, in ms ("12.3 9.8")
here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
root=$(dirname "$here")
SLUICE=$(realpath "${1:-$root/build/sluice}")
lib=$(dirname "$SLUICE")/libsluice.a
PY=/usr/bin/python3

if [ ! -f "$lib" ]; then
	echo "$(basename "${BASH_SOURCE[1]}" .sh): $lib not found (build first)" >&2
	exit 2
fi

bench_cc() {
	cc -O2 -D_GNU_SOURCE -I"$root/include" -I"$root/src" -I"$root/src/core" \
		-o "$dir/$1" "$2" "$lib" \
		$(pkg-config --libs yaml-0.1 jansson sqlite3 libcrypto libzstd libpq libmicrohttpd libxxhash) \
		-lpthread -lm -ldl
}

best() {
	"$PY" -c 'import json,sys; f=sys.argv[1]; r=[json.loads(l) for l in sys.stdin if l.strip()]; print(json.dumps(min(r, key=lambda x: x[f])))' "$1"
}

time_ms() {
	local ts=() t0 t1
	for _ in $(seq "$RUNS"); do
		t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
		ts+=($(( (t1 - t0) / 1000 )))
	done
	printf '%s\n' "${ts[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f %.1f", a[int((NR+1)/2)] / 1000, a[1] / 1000}'
}
