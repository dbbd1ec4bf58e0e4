#!/usr/bin/env bash
# tests/integration/disk_faults.sh — issue 18: a node whose fsync fails
# stops taking part in Raft and never acknowledges after it; see
# disk_faults.py. Needs `make powercut` (make integration builds it).
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 disk_faults.py
