#!/usr/bin/env bash
# tests/integration/admin_protocol.sh — issue 5's admin protocol end to end
# (nc, pipelining, errors, formats, forwarding, majority loss); see
# admin_protocol.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 admin_protocol.py
