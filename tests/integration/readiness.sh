#!/usr/bin/env bash
# tests/integration/readiness.sh — no REFUSED for a configured zone on a
# first start, a join or a restart (probed every 5 ms from process start),
# and stale_seconds / the servfail stale policy when the leader is cut off;
# see readiness.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 readiness.py
