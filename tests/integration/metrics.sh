#!/usr/bin/env bash
# tests/integration/metrics.sh — /metrics (promtool check, counters moving
# with queries and writes), /health, /ready, 404/405; see metrics.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 metrics.py
