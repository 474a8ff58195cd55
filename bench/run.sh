#!/usr/bin/env bash
# Runs every benchmark against the given sluice binary. Each prints sluice's
# figures beside its peer's and the ratio.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SLUICE=$(realpath "${1:-build/sluice}")
for b in "$here"/*.sh; do
	case $(basename "$b") in run.sh | lib.sh) continue ;; esac
	echo "== $(basename "$b" .sh)"
	bash "$b" "$SLUICE"
done
