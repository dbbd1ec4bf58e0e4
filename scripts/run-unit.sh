#!/usr/bin/env bash
# Runs cmocka unit-test binaries and prints one closing line for all of them.
set -u
pass=0; fail=0; failed=()
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
  if [ $rc -ne 0 ]; then failed+=("$t"); [ -z "$f" ] && fail=$((fail + 1)); fi
done
[ ${#failed[@]} -gt 0 ] && echo "failing binaries: ${failed[*]}"
echo "unit: $pass passed, $fail failed"
[ $fail -eq 0 ] && [ ${#failed[@]} -eq 0 ]
