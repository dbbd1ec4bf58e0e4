#!/usr/bin/env bash
# Golden scripted scenarios (tests/sim/scripts/*.txt, raft-sim --script):
# each script's transcript must equal the file. Then the teeth check: the
# Figure 8 script against a core that commits an old term's entry by
# counting replicas (--bug commit-old-term) must produce a diff.
#   scripts/run-sim-scripts.sh RAFT_SIM [--rewrite] [SCRIPT...]
# --rewrite stores each script's new transcript as its expected output.
set -u
sim=$1; shift
rewrite=
if [ "${1:-}" = --rewrite ]; then rewrite=1; shift; fi
files=("$@")
[ ${#files[@]} -eq 0 ] && files=(tests/sim/scripts/*.txt)
pass=0; fail=0
for f in "${files[@]}"; do
  if [ -n "$rewrite" ]; then
    "$sim" --script "$f" --rewrite; rc=$?
    case $rc in
      0) echo "rewrote $f" ;;
      1) echo "rewrote $f, but an expect failed, a command was wrong or a safety check fired" ;;
      *) echo "FAILED to rewrite $f"; fail=$((fail + 1)) ;;
    esac
    continue
  fi
  out=$("$sim" --script "$f"); rc=$?
  if ! printf '%s\n' "$out" | diff -u "$f" -; then
    echo "sim-scripts: $f: transcript differs (make sim-scripts-rewrite stores it if intended)"
    fail=$((fail + 1))
  elif [ $rc -ne 0 ]; then
    echo "sim-scripts: $f: an expect failed, a command was wrong or a safety check fired (exit $rc)"
    fail=$((fail + 1))
  else
    pass=$((pass + 1))
  fi
done
if [ -z "$rewrite" ]; then
  teeth=tests/sim/scripts/figure8.txt
  if [ -f "$teeth" ] && "$sim" --script "$teeth" --bug commit-old-term | diff -q "$teeth" - >/dev/null; then
    echo "sim-scripts: teeth FAILED: $teeth with --bug commit-old-term gives the golden transcript"
    fail=$((fail + 1))
  elif [ -f "$teeth" ]; then
    echo "sim-scripts: teeth ok: $teeth with --bug commit-old-term differs from the golden transcript"
  fi
fi
echo "sim-scripts: $pass passed, $fail failed"
[ $fail -eq 0 ]
