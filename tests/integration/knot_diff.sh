#!/usr/bin/env bash
# Differential test: Knot DNS and bin/dns-raft serve the same zones
# (tests/diff/zones/) on free 127.0.0.1 ports; tests/diff/compare.py sends
# both the same corpus of wire queries and compares the answers (see
# docs/differential-testing.md). Exit 0 only if every case matches.
#
#   tests/integration/knot_diff.sh [compare.py options, e.g. --only wildcard]
#
# KNOT_VS_KNOT=1 runs a second knotd as the candidate instead of dns-raft:
# it checks the harness itself (every case must pass against an identical
# server).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/diff/servers.sh

command -v knotd >/dev/null || { echo "knot_diff: knotd not installed (scripts/deps.sh)"; exit 1; }
[ "${KNOT_VS_KNOT:-0}" = 1 ] || [ -x bin/dns-raft ] || { echo "knot_diff: build bin/dns-raft first (make)"; exit 1; }

Z=tests/diff/zones
ZONES=(
  example.test.=$Z/example.test.zone
  other.test.=$Z/other.test.zone
  child.example.test.=$Z/child.example.test.zone
  foo.com.=$Z/z00.txt
  bar.com.=$Z/z01.txt
  baz.com.=$Z/z02.txt
)

# The comparison rules themselves first (no servers needed).
/usr/bin/python3 tests/diff/test_compare.py -q 2>&1 | tail -n 3

work=$(mktemp -d /tmp/knot_diff.XXXXXX)
pids=()
cleanup() {
  stop_pid "${pids[@]}"
  rm -rf "$work"
}
trap cleanup EXIT

ref_port=$(free_port)
start_knot "$work/knot" "$ref_port" 2 "${ZONES[@]}"
pids+=("$KNOT_PID")

cand_port=$(free_port)
if [ "${KNOT_VS_KNOT:-0}" = 1 ]; then
  start_knot "$work/knot2" "$cand_port" 2 "${ZONES[@]}"
  pids+=("$KNOT_PID"); cand_name=knot2; cand_log=$work/knot2/knotd.log
else
  start_ours "$work/ours" "$cand_port" "${ZONES[@]#*=}"
  pids+=("$OURS_PID"); cand_name=dns-raft; cand_log=$work/ours/dns-raft.log
fi

if ! wait_dns "$ref_port" example.test. || ! wait_dns "$cand_port" example.test.; then
  echo "--- knotd log"; tail -n 20 "$work/knot/knotd.log"
  echo "--- $cand_name log"; tail -n 20 "$cand_log"
  exit 1
fi
# Every zone must be loaded by both before the corpus runs.
for zone in "${ZONES[@]%%=*}"; do
  wait_dns "$ref_port" "$zone" 5 || exit 1
  wait_dns "$cand_port" "$zone" 5 || { tail -n 20 "$cand_log"; exit 1; }
done

status=0
/usr/bin/python3 tests/diff/compare.py --ref "127.0.0.1:$ref_port" \
    --cand "127.0.0.1:$cand_port" --cand-name "$cand_name" "$@" || status=$?
if ! kill -0 "${pids[1]}" 2>/dev/null; then
  echo "knot_diff: $cand_name exited during the run"; tail -n 30 "$cand_log"; status=1
fi
exit $status
