#!/bin/sh
# Installs the Debian packages that sluice's build, tests and benchmarks need.
# Idempotent: asks dpkg what is missing and installs only that, so a second run
# takes well under a second. Run as root (or with sudo available).
set -eu

# Build and library dependencies.
PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev
libyaml-dev libjansson-dev libsqlite3-dev sqlite3 libssl-dev libzstd-dev
libpq-dev libmicrohttpd-dev libcmocka-dev libxxhash-dev libcurl4-openssl-dev"
# Servers and peers the integration tests and benchmarks drive: PostgreSQL
# (the metadata store's second backend, ingest.sql), a Slurm cluster of one
# node (slurm-wlm: slurmctld, slurmd and the client commands; munge); curl
# (make demo and the serving tests send requests with it); jq (the spam
# example's choose step reads its evaluation reports with it).
PKGS="$PKGS curl jq postgresql slurm-wlm munge python3 python3-pandas python3-sklearn python3-statsmodels
python3-xgboost"
# The web UI's browser tests: headless Chromium, driven by playwright-core
# (npm, below). npm comes with Node.js from some sources, as its own
# package from Debian.
PKGS="$PKGS chromium nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

# playwright-core (the browser driver, no browsers of its own) into
# tests/browser/node_modules, pinned; skipped when that version is there.
PW_VERSION=1.65.1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
npm_deps() {
	if ! grep -qs "\"version\": \"$PW_VERSION\"" \
		"$ROOT/tests/browser/node_modules/playwright-core/package.json"; then
		echo "deps.sh: installing playwright-core $PW_VERSION (npm)"
		npm install --prefix "$ROOT/tests/browser" --no-save --no-audit --no-fund \
			--loglevel=error "playwright-core@$PW_VERSION" >/dev/null
	fi
}

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	npm_deps
	exit 0
fi

echo "deps.sh: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists may be absent or stale on a fresh machine.
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
npm_deps
echo "deps.sh: done"
