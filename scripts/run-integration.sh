#!/usr/bin/env bash
# Runs every tests/integration/*.sh (real processes, dig, nc, Knot DNS).
# Each script exits 0 on success; its output is shown only when it fails.
set -u
cd "$(dirname "$0")/.."
pass=0; fail=0
for t in tests/integration/*.sh; do
  [ -e "$t" ] || continue
  log=$(mktemp)
  start=$(date +%s)
  if bash "$t" >"$log" 2>&1; then
    pass=$((pass + 1)); echo "PASS $t ($(( $(date +%s) - start ))s)"
  else
    fail=$((fail + 1)); echo "FAIL $t"; sed 's/^/    /' "$log" | tail -n 80
  fi
  rm -f "$log"
done
echo "integration: $pass passed, $fail failed"
[ $fail -eq 0 ]
