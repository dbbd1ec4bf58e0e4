#!/usr/bin/env bash
# tests/integration/dns_xfr.sh — AXFR/IXFR out of a 3-node cluster with
# kdig and dig (TSIG, ACL, IXFR after UPDATE and reload, fallback to AXFR,
# consistency under UPDATEs); see dns_xfr.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 dns_xfr.py
