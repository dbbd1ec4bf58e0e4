#!/usr/bin/env bash
# tests/integration/update_knot_diff.sh — the same seeded sequence of RFC
# 2136 UPDATEs to a Knot primary and to a 3-node cluster: same rcodes, same
# final zone (see update_knot_diff.py; options: --seed N --count N -v).
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
command -v knotd >/dev/null || { echo "update_knot_diff: knotd not installed (scripts/deps.sh)"; exit 1; }
exec /usr/bin/python3 update_knot_diff.py "$@"
