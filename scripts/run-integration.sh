#!/usr/bin/env bash
# Runs multi-process tests (real processes, dig, nc, Knot DNS): by default
# every tests/integration/*.sh; or the given scripts (*.sh with bash, *.py
# with Debian's python3). Each exits 0 on success; its output is shown only
# when it fails. --label NAME names the closing line (default integration):
#   NAME: N passed, M failed
set -u
cd "$(dirname "$0")/.."
label=integration
if [ "${1:-}" = --label ]; then label=$2; shift 2; fi
tests=("$@")
[ ${#tests[@]} -eq 0 ] && tests=(tests/integration/*.sh)
pass=0; fail=0
for t in "${tests[@]}"; do
  [ -e "$t" ] || continue
  case $t in *.py) run=(env PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 "$t") ;; *) run=(bash "$t") ;; esac
  log=$(mktemp)
  start=$(date +%s)
  if "${run[@]}" >"$log" 2>&1; then
    pass=$((pass + 1)); echo "PASS $t ($(( $(date +%s) - start ))s)"
  else
    fail=$((fail + 1)); echo "FAIL $t"; sed 's/^/    /' "$log" | tail -n 80
  fi
  rm -f "$log"
done
echo "$label: $pass passed, $fail failed"
[ $fail -eq 0 ]
