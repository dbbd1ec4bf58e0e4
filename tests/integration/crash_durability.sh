#!/usr/bin/env bash
# tests/integration/crash_durability.sh — issue 4: SIGKILL nodes under heavy
# writes, restart them, nothing acknowledged is lost (3 nodes and 1 node);
# see crash_durability.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 crash_durability.py
