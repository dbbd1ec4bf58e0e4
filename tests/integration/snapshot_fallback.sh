#!/usr/bin/env bash
# tests/integration/snapshot_fallback.sh — issue 18: a corrupt newest
# snapshot falls back to the previous one and the log; see
# snapshot_fallback.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 snapshot_fallback.py
