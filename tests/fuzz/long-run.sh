#!/usr/bin/env bash
# A long fuzzing run for the record (docs/reliability.md): each target until
# RUNS executions (default 10,000,000) or HOURS hours (default 6) per target,
# two at a time, at the lowest CPU priority. Each target keeps its growing
# corpus in build-fuzz/long-run/corpus/<name>/ (seeded from
# tests/fuzz/corpus/<name>/, which is not modified) and its crashes in
# build-fuzz/long-run/crashes/<name>/. One line per finished target is
# appended to build-fuzz/long-run/results.txt:
#   <name> <executions> <seconds> <exec/s> <ok|CRASH|...> <start time UTC>
# Extra libFuzzer flags: FUZZ_FLAGS (default -entropic_feature_frequency_threshold=4:
# clang 14's libFuzzer otherwise spends up to half its time rescanning its
# list of rare features once a corpus stops growing; this changes only which
# inputs it picks, not what the targets check).
# Usage: tests/fuzz/long-run.sh [build-fuzz/fuzz/fuzz_x ...]  (default: all built)
set -u
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-10000000}
HOURS=${HOURS:-6}
read -r -a FLAGS <<<"${FUZZ_FLAGS:--entropic_feature_frequency_threshold=4}"
out=build-fuzz/long-run
mkdir -p "$out"
bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
  for f in build-fuzz/fuzz/fuzz_*; do [[ $f == *.d ]] || bins+=("$f"); done
fi

run_one() {
  local bin=$1 name log start t0 t1 execs status
  name=$(basename "$bin")
  mkdir -p "$out/corpus/$name" "$out/crashes/$name"
  [ -d "tests/fuzz/corpus/$name" ] && cp -rn "tests/fuzz/corpus/$name/." "$out/corpus/$name/"
  log="$out/$name.log"
  start=$(date -u +%Y-%m-%dT%H:%M:%SZ); t0=$(date +%s)
  if nice -n 19 "$bin" "${FLAGS[@]}" -runs="$RUNS" -max_total_time=$((HOURS * 3600)) -print_final_stats=1 \
       -artifact_prefix="$out/crashes/$name/" "$out/corpus/$name" >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
  fi
  t1=$(date +%s)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  execs=${execs:-0}
  echo "$name $execs $((t1 - t0)) $((execs / (t1 - t0 > 0 ? t1 - t0 : 1))) $status $start" >>"$out/results.txt"
}

# Two lanes: targets alternate between them.
lane() {
  local i=$1
  for ((k = i; k < ${#bins[@]}; k += 2)); do run_one "${bins[$k]}"; done
}
lane 0 &
lane 1 &
wait
