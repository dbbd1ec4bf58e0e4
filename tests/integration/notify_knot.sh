#!/usr/bin/env bash
# tests/integration/notify_knot.sh — NOTIFY to a real Knot secondary: UPDATE -> NOTIFY -> IXFR,
# also with the leader killed; see notify_knot.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 notify_knot.py
