# Helpers for the serving tests (sourced after lib.sh): models trained by
# the real train steps, servers started on free ports and stopped at exit,
# requests with curl.
#
#   train_models          spam.slm (logistic on spambase), price.slm (linear,
#                         with a string and an int input), mixed.slm
#                         (logistic on a string, an int and a bool input),
#                         odd.slm (an isolation forest on area and rooms)
#   start_server ERR ARGS starts `sluice serve --port 0 ARGS`, waits until
#                         it is ready; sets SPID, PORT and URL
#   req METHOD PATH [CURL ARGS]  sets CODE, BODY and HDRS
LOAD="$PY $SRC/tests/integration/serve_load.py"
SERVER_PIDS=""
# Name the command that failed (set -e alone says only the status).
set -E
trap 'rc=$?; case $- in *e*) echo "failed (status $rc) at line $LINENO: $BASH_COMMAND" >&2 ;; esac' ERR

stop_servers() {
	local p
	for p in $SERVER_PIDS; do
		kill -9 "$p" 2>/dev/null || true
	done
}
at_exit stop_servers

# track PID: a server or load generator stopped when the test ends, also
# when the test itself is killed (ctest's timeout sends SIGKILL, which runs
# no exit hook): a watchdog outlives the test by a second and stops what
# .pids lists.
track() {
	SERVER_PIDS="$SERVER_PIDS $1"
	echo "$1" >>"$T/.pids"
}
(
	while kill -0 $$ 2>/dev/null; do sleep 1; done
	[ -f "$T/.pids" ] && xargs kill -9 <"$T/.pids" 2>/dev/null
) </dev/null >/dev/null 2>&1 &

train_models() {
	cp "$SRC/examples/spam/data/spambase.csv" "$T/spambase.csv"
	"$PY" - "$T" <<'P'
import random, sys
random.seed(7)
t = sys.argv[1]
with open(t + "/price.csv", "w") as f:
    f.write("area,rooms,city,price\n")
    for i in range(300):
        area = random.uniform(30, 200); rooms = random.randint(1, 6)
        city = random.choice(["paris", "lyon", "lille"])
        price = 3 * area + 10 * rooms + {"paris": 200, "lyon": 80, "lille": 40}[city] + random.gauss(0, 5)
        f.write("%.3f,%d,%s,%.3f\n" % (area, rooms, city, price))
with open(t + "/mixed.csv", "w") as f:
    f.write("colour,count,flag,label\n")
    for i in range(300):
        c = random.choice(["red", "green", "blue"]); n = random.randint(0, 9); fl = random.random() < 0.5
        y = (c == "red") + (n > 5) + fl + random.random() > 1.5
        f.write("%s,%d,%s,%s\n" % (c, n, "true" if fl else "false", "yes" if y else "no"))
P
	cat > "$T/train.yaml" <<'Y'
name: serve-models
steps:
  spam_in:
    uses: ingest.csv
    with: { path: spambase.csv }
  spam:
    uses: train.logistic
    inputs: { train: spam_in.data }
    with: { target: type }
  price_in:
    uses: ingest.csv
    with: { path: price.csv }
  price:
    uses: train.linear
    inputs: { train: price_in.data }
    with: { target: price }
  mixed_in:
    uses: ingest.csv
    with: { path: mixed.csv }
  mixed:
    uses: train.logistic
    inputs: { train: mixed_in.data }
    with: { target: label }
  odd:
    uses: train.iforest
    inputs: { train: price_in.data }
    with: { trees: 20, exclude: [city, price] }
Y
	(cd "$T" && sl run train.yaml -q >/dev/null)
	for m in spam price mixed odd; do
		local id
		id=$(cd "$T" && sl runs show latest --json | js "next(s['outputs']['model'] for s in d['steps'] if s['name']=='$m')")
		(cd "$T" && sl artifacts export "$id" -o "$T/$m.slm")
	done
}

start_server() {
	local err=$1 i
	shift
	"$SLUICE" serve --port 0 "$@" 2>"$err" &
	SPID=$!
	track "$SPID"
	for i in $(seq 400); do
		PORT=$(sed -n 's/.*ready on https\{0,1\}:\/\/.*:\([0-9][0-9]*\)$/\1/p' "$err")
		if [ -n "$PORT" ]; then
			case "$*" in *--tls-cert*) URL="https://127.0.0.1:$PORT" ;; *) URL="http://127.0.0.1:$PORT" ;; esac
			case "$*" in *"--host 127.0.0.2"*) URL="http://127.0.0.2:$PORT" ;; esac
			return 0
		fi
		kill -0 "$SPID" 2>/dev/null || fail "the server exited: $(cat "$err")"
		sleep 0.05
	done
	fail "the server did not get ready: $(cat "$err")"
}

# wait_exit PID: waits for the process to end and sets WRC to its status.
wait_exit() {
	set +e
	wait "$1"
	WRC=$?
	set -e
}

req() {
	local method=$1 path=$2 out
	shift 2
	out=$(curl -s -S -k -D "$T/.hdrs" -o "$T/.body" -w '%{http_code}' -X "$method" "$@" "${URL}${path}")
	CODE=$out
	BODY=$(cat "$T/.body")
	HDRS=$(cat "$T/.hdrs")
}

# expect_code WANT METHOD PATH [CURL ARGS]
expect_code() {
	local want=$1
	shift
	req "$@"
	[ "$CODE" = "$want" ] || fail "$1 $2: expected $want, got $CODE: $BODY"
}

# The server still answers (after something bad happened).
still_serving() {
	expect_code 200 GET /v2/health/ready
}
