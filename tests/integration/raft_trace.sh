#!/usr/bin/env bash
# tests/integration/raft_trace.sh — -log.level trace shows a real election
# step by step, in raft-sim's words; see raft_trace.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 raft_trace.py
