#!/bin/sh
# Installs the Debian packages that only the benchmarks need (the peers of
# bench/serve.sh: wrk, nginx and the Python servers). Not part of `make
# check`: `make bench` runs it. Idempotent, like deps.sh.
set -eu

PKGS="wrk nginx-light gunicorn python3-fastapi python3-uvicorn python3-uvloop
python3-httptools python3-flask python3-numpy python3-pandas python3-sklearn
python3-xgboost time"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
echo "bench-deps.sh: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# nginx-light starts a system instance on install where it can; the
# benchmark runs its own on another port.
echo "bench-deps.sh: done"
