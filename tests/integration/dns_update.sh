#!/usr/bin/env bash
# tests/integration/dns_update.sh — RFC 2136 UPDATE with TSIG and ACLs
# through a 3-node cluster (nsupdate -k, knsupdate, dnspython); see
# dns_update.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 dns_update.py
