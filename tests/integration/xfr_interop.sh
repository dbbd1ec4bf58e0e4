#!/usr/bin/env bash
# tests/integration/xfr_interop.sh — Knot, NSD and BIND as TSIG secondaries
# of a 3-node cluster: AXFR, IXFR after UPDATE and reload, AXFR fallback;
# see xfr_interop.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 xfr_interop.py
