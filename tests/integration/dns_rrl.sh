#!/usr/bin/env bash
# tests/integration/dns_rrl.sh — UDP response rate limiting: a burst from
# one source gets drops and TC=1 slips, TCP and other sources are
# unaffected, off by default; see dns_rrl.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 dns_rrl.py
