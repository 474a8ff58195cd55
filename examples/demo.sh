#!/usr/bin/env bash
# `make demo`: the spam example end to end, as far as sluice goes today.
# Works in a fresh folder under /tmp so the repository stays clean.
set -euo pipefail
SLUICE=$(realpath "${1:-build/sluice}")
SRC=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/sluice-demo-XXXXXX")
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

cp -r "$SRC/spam" "$W/spam"
cd "$W/spam"
run "$SLUICE" init .
run "$SLUICE" run train.yaml
run "$SLUICE" runs show latest
say "$SLUICE runs show latest --log check | head -20     # the validation report"
"$SLUICE" runs show latest --log check > "$W/check.log"
head -20 "$W/check.log"
train=$("$SLUICE" runs show latest --json | /usr/bin/python3 -c \
	"import json,sys; d=json.load(sys.stdin); print(next(s['outputs']['train'] for s in d['steps'] if s['name']=='split'))")
run "$SLUICE" artifacts show "${train:0:12}" --rows 3
run "$SLUICE" artifacts lineage "${train:0:12}"
say "a second run: nothing changed, so every step comes from the cache"
"$SLUICE" run train.yaml
say "a new seed reruns the split and what follows it; ingest, validate and label come from the cache"
"$SLUICE" run train.yaml -p seed=7
run "$SLUICE" runs
echo
echo "demo project left in $W/spam (remove it when done)"
