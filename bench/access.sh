#!/usr/bin/env bash
# What a token costs a request: the same spambase logistic model served by
# two sluice servers in one run, inference open (the default) and with
# `--auth inference` (each request's bearer token hashed and looked up in the
# project's users), measured with `wrk -t1 -c32` on loopback in ROUNDS
# interleaved rounds; the median of the rounds and the ratio. Also /metrics
# with a token against `--no-auth`.
#
#   bash bench/access.sh [path/to/sluice]
# Environment: ACCESS_SECONDS per measurement (default 5), ACCESS_ROUNDS (3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
SLUICE=$(realpath "${1:-$root/build/sluice}")
SECS=${ACCESS_SECONDS:-5}
ROUNDS=${ACCESS_ROUNDS:-3}
PY=/usr/bin/python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-access-XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir"

"$SLUICE" init . >/dev/null
cp "$root/examples/spam/data/spambase.csv" .
cat > train.yaml <<'Y'
name: bench-access
steps:
  ingest:
    uses: ingest.csv
    with: { path: spambase.csv }
  spam:
    uses: train.logistic
    inputs: { train: ingest.data }
    with: { target: type }
Y
"$SLUICE" run train.yaml -q >/dev/null
id=$("$SLUICE" runs show latest --json | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(next(s['outputs']['model'] for s in d['steps'] if s['name']=='spam'))")
"$SLUICE" artifacts export "$id" -o spam.slm >/dev/null
"$PY" - <<'P'
import csv, json
rows = list(csv.reader(open("spambase.csv")))
hdr, r = rows[0][:-1], [float(x) for x in rows[1][:-1]]
json.dump({"inputs": [{"name": "input-0", "shape": [1, len(hdr)], "datatype": "FP64", "data": [r]}]}, open("v2.json", "w"))
P
# A team of 50 users, so the lookup goes through an index of some size.
for i in $(seq 50); do "$SLUICE" users add "u$i" --role data_scientist >/dev/null; done
TOKEN=$("$SLUICE" users token u25)
cat > post.lua <<'L'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BODY"), "r")
wrk.body = f:read("*a")
f:close()
if os.getenv("TOKEN") then wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN") end
L
cat > get.lua <<'L'
if os.getenv("TOKEN") then wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN") end
L

port() { "$PY" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
start() { # start PORT ARGS...: a server, waited for
	local p=$1
	shift
	"$SLUICE" serve --model "spam=$dir/spam.slm" --port "$p" --log-durability off "$@" 2>"serve-$p.err" &
	PIDS="$PIDS $!"
	eval "PID_$p=$!"
	for _ in $(seq 200); do
		curl -s -o /dev/null "http://127.0.0.1:$p/v2/health/ready" && return 0
		sleep 0.05
	done
	echo "server on $p did not start: $(cat "serve-$p.err")" >&2
	exit 1
}
P_OPEN=$(port); P_AUTH=$(port); P_NOAUTH=$(port)
start "$P_OPEN"
start "$P_AUTH" --auth inference
start "$P_NOAUTH" --no-auth
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @v2.json "http://127.0.0.1:$P_AUTH/v2/models/spam/infer")" = 401 ] ||
	{ echo "the --auth inference server did not ask for a token" >&2; exit 1; }

# rps PORT PATH SCRIPT [TOKEN]: requests/s, and the server's CPU time per
# request in microseconds (less moved by the machine's load) appended to CPU_US.
CPU_US=""
rps() {
	local pid t0 t1 out n
	pid=$(eval echo "\$PID_$1")
	t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	out=$(BODY=v2.json TOKEN=${4:-} wrk -t1 -c32 -d"${SECS}s" -s "$3" "http://127.0.0.1:$1$2" 2>/dev/null)
	t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	n=$(echo "$out" | awk '/requests in/ {print $1}')
	LAST_CPU=$(echo "($t1 - $t0) * 1000000 / $(getconf CLK_TCK) / $n" | bc -l)
	echo "$out" | awk '/Requests\/sec/ {print $2}'
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
open="" auth="" mnone="" mtok="" copen="" cauth="" cm0="" cm1=""
for r in $(seq "$ROUNDS"); do
	rps "$P_OPEN" /v2/models/spam/infer post.lua >rps.out; open="$open $(cat rps.out)"
	copen="$copen $LAST_CPU"
	rps "$P_AUTH" /v2/models/spam/infer post.lua "$TOKEN" >rps.out; auth="$auth $(cat rps.out)"
	cauth="$cauth $LAST_CPU"
	rps "$P_NOAUTH" /metrics get.lua >rps.out; mnone="$mnone $(cat rps.out)"
	cm0="$cm0 $LAST_CPU"
	rps "$P_OPEN" /metrics get.lua "$TOKEN" >rps.out; mtok="$mtok $(cat rps.out)"
	cm1="$cm1 $LAST_CPU"
done
o=$(echo "$open" | median); a=$(echo "$auth" | median)
m0=$(echo "$mnone" | median); m1=$(echo "$mtok" | median)
co=$(echo "$copen" | median); ca=$(echo "$cauth" | median)
c0=$(echo "$cm0" | median); c1=$(echo "$cm1" | median)
printf 'load average: %s (wall-clock rates move with it; CPU per request less)\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'V2 infer, open             %8.0f req/s  %6.1f us CPU/req\n' "$o" "$co"
printf 'V2 infer, --auth inference %8.0f req/s  %6.1f us CPU/req   ratio %.2f req/s, %.2f CPU\n' \
	"$a" "$ca" "$(echo "$a / $o" | bc -l)" "$(echo "$ca / $co" | bc -l)"
printf '/metrics, --no-auth        %8.0f req/s  %6.1f us CPU/req\n' "$m0" "$c0"
printf '/metrics, with a token     %8.0f req/s  %6.1f us CPU/req   ratio %.2f req/s, %.2f CPU\n' \
	"$m1" "$c1" "$(echo "$m1 / $m0" | bc -l)" "$(echo "$c1 / $c0" | bc -l)"
