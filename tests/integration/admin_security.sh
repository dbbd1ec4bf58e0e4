#!/usr/bin/env bash
# tests/integration/admin_security.sh — issue #12's admin attacks (token
# auth, -admin.addr, idle/trickle/flood bounds, NUL values); see
# admin_security.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 admin_security.py
