#!/usr/bin/env bash
# tests/integration/hardening_misc.sh — issue #12's smaller holes: zone files
# that are not regular files (FIFO, $INCLUDE of one), the data dir's identity
# (node name, cluster id; another cluster's leader refused), and a SIGTERM
# bounded by -stop.timeout; see hardening_misc.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 hardening_misc.py
