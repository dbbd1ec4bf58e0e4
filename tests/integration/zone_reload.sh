#!/usr/bin/env bash
# tests/integration/zone_reload.sh — zones through Raft: a broken file keeps
# the old zone, the later load of an origin wins, a 50,000-record zone loads
# on every node and reloads atomically under queries; see zone_reload.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 zone_reload.py
