#!/usr/bin/env bash
# Runs tests/sanitizers/*.py against a daemon built with sanitizers (the
# binary given, e.g. build-asan/dns-raft): a real cluster that must stop
# with no leak and no sanitizer report. Prints `sanitizers: N passed, M failed`.
set -u
bin=${1:?usage: run-sanitizer-daemon.sh BINARY}
cd "$(dirname "$0")/.."
pass=0; fail=0
for t in tests/sanitizers/*.py; do
  log=$(mktemp); start=$(date +%s)
  if DNSRAFT_BIN="$PWD/$bin" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 "$t" >"$log" 2>&1; then
    pass=$((pass + 1)); echo "PASS $t ($(( $(date +%s) - start ))s)"
  else
    fail=$((fail + 1)); echo "FAIL $t"; sed 's/^/    /' "$log" | tail -n 80
  fi
  rm -f "$log"
done
echo "sanitizers: $pass passed, $fail failed"
[ $fail -eq 0 ]
