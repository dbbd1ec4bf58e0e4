#!/usr/bin/env bash
# tests/integration/raft_input_validation.sh — issue 12 item 3 end to end: a
# heartbeat with term 2^64-1 and a garbage InstallSnapshot, posing as the
# leader, change nothing; see raft_input_validation.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 raft_input_validation.py
