#!/usr/bin/env bash
# tests/integration/zone_dynamic.sh — UPDATEs and zone-file reloads together:
# reloads apply the file difference and keep dynamic changes, a newer file
# serial wins, a conflicting file is refused, `zone show` prints the current
# zone, a whole-cluster restart keeps every update; see zone_dynamic.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 zone_dynamic.py
