#!/usr/bin/env bash
# tests/integration/dns_tcp_limits.sh — issue 12's DNS TCP attack: 300
# tricklers cannot lock real TCP clients out; the message deadline, the
# idle timeout from accept, pipelining; see dns_tcp_limits.py.
set -euo pipefail
cd "$(dirname "$0")"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
exec /usr/bin/python3 dns_tcp_limits.py
