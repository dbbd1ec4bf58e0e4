#!/usr/bin/env bash
# Runs each libFuzzer binary once over every file in
# tests/fuzz/regressions/<name>/ (inputs that once crashed it, kept so the
# bug stays fixed) and, for a quick sanity pass, over its seed corpus
# tests/fuzz/corpus/<name>/. No fuzzing: each input is executed exactly once.
# Usage: scripts/run-fuzz-regressions.sh build-fuzz/fuzz/fuzz_x [...]
# Fails if any input crashes, leaks or trips a sanitizer.
set -u
cd "$(dirname "$0")/.."
status=0; pass=0; fail=0
for bin in "$@"; do
  name=$(basename "$bin")
  if [ ! -x "$bin" ]; then
    echo "fuzz-regress $name: FAILED (no binary $bin: make fuzz-build)"; status=1; fail=$((fail + 1)); continue
  fi
  files=()
  for d in "tests/fuzz/regressions/$name" "tests/fuzz/corpus/$name"; do
    [ -d "$d" ] || continue
    while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$d" -type f -print0 | sort -z)
  done
  if [ ${#files[@]} -eq 0 ]; then
    echo "fuzz-regress $name: no inputs"; pass=$((pass + 1)); continue
  fi
  log=$(mktemp)
  if "$bin" "${files[@]}" >"$log" 2>&1; then
    echo "fuzz-regress $name: ${#files[@]} inputs, no crash"; pass=$((pass + 1))
  else
    echo "fuzz-regress $name: FAILED"
    grep -E '^Running: ' "$log" | tail -n 1
    grep -E 'ERROR|SUMMARY|^    #[0-9]+ .*(tests/fuzz|/(dns|zone|kv|raft|common)/)' "$log" | tail -n 30
    status=1; fail=$((fail + 1))
  fi
  rm -f "$log"
done
echo "fuzz-regress: $pass passed, $fail failed"
exit $status
