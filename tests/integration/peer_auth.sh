#!/usr/bin/env bash
# tests/integration/peer_auth.sh — peer authentication with a cluster key:
# keyed cluster, outsiders refused, wrong-key and forged-frame clients, a
# man in the middle (flip, replay), key rotation; see peer_auth.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 peer_auth.py
