#!/usr/bin/env bash
# Runs each libFuzzer binary for N seconds on a scratch copy of its corpus
# (tests/fuzz/corpus/<name>/, never modified) and prints executions per target.
# A crash leaves its input in build-fuzz/crashes/<name>/ and fails the run.
# With FUZZ_RUNS=N set, each target instead runs exactly N inputs from a fixed
# seed, so the run is the same every time (what `make test` uses: a CI run
# must not pass or fail by luck).
set -u
secs=$1; shift
cd "$(dirname "$0")/.."
status=0; pass=0; fail=0
for bin in "$@"; do
  name=$(basename "$bin")
  work=$(mktemp -d); mkdir -p "build-fuzz/crashes/$name"
  [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
  log=$(mktemp)
  if [ -n "${FUZZ_RUNS:-}" ]; then budget=(-runs="$FUZZ_RUNS" -seed=1); else budget=(-max_total_time="$secs"); fi
  if "$bin" "${budget[@]}" -print_final_stats=1 \
       -artifact_prefix="build-fuzz/crashes/$name/" "$work" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz $name: ${execs:-?} executions, no crash"; pass=$((pass + 1))
  else
    echo "fuzz $name: FAILED"; tail -n 40 "$log"; status=1; fail=$((fail + 1))
  fi
  rm -rf "$work" "$log"
done
echo "fuzz: $pass passed, $fail failed"
exit $status
