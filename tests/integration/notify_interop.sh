#!/usr/bin/env bash
# tests/integration/notify_interop.sh — NOTIFY to real Knot, NSD and BIND
# secondaries: UPDATE -> NOTIFY -> IXFR, also with the leader killed; see
# notify_interop.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 notify_interop.py
