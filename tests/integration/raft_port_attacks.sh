#!/usr/bin/env bash
# tests/integration/raft_port_attacks.sh — issue 12's attacks on the Raft
# port (junk and fake hellos, idle, trickling and big-frame connections, a
# huge term); see raft_port_attacks.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 raft_port_attacks.py "$@"
