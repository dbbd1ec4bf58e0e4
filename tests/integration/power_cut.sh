#!/usr/bin/env bash
# tests/integration/power_cut.sh — issue 18: acknowledged writes survive
# power cuts of one node and of all nodes (the page cache modelled by
# tests/faults/powercut_shim.c), and two daemons with a planted missing
# sync (WAL fdatasync, directory fsync after a rename) are caught; see
# power_cut.py; first the model's own test, tests/faults/test_powercut.py.
# Needs `make powercut` (make integration builds it).
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
/usr/bin/python3 ../faults/test_powercut.py # the model itself first
exec /usr/bin/python3 power_cut.py
