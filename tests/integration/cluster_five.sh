#!/usr/bin/env bash
# tests/integration/cluster_five.sh — issue 5's 5-node cluster test (leave,
# join, restart of every node from disk, leader killed); see cluster_five.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 cluster_five.py
