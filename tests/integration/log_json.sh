#!/usr/bin/env bash
# tests/integration/log_json.sh — -log.format json lines parse and warnings
# name their subject; see log_json.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 log_json.py
