#!/usr/bin/env bash
# tests/integration/notify.sh — NOTIFY out (RFC 1996) from a 3-node
# cluster to dnspython receivers on loopback; see notify.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 notify.py
