#!/usr/bin/env bash
# tests/integration/faults_short.sh — the short nemesis run of `make test`:
# the checker's self-test, four fault schedules (3 and 5 nodes, every fault
# kind drawn from fixed seeds; the fourth snapshots every 100 entries, so
# followers that were down or cut off catch up by InstallSnapshot under the
# faults), a power-cut schedule (power-cut-all, power-cut and kill -9:
# nodes under tests/faults/powercut_shim.so lose everything they did not
# sync) and the teeth test: nodes started with
# DNSRAFT_TEST_UNSAFE_READS=1 (kv get without the ReadIndex barrier) while
# partitions isolate the leader must make the checker report a
# linearizability violation (up to 3 seeds, each a few seconds of faults).
# Every schedule also runs the UPDATE workload (tests/faults/updates.py:
# acknowledged UPDATEs kept, guarded UPDATEs linearizable), and its teeth
# run (--expect-update-loss: an acknowledged add deleted and a register
# rolled back behind the clients' backs must both be reported).
# Exit status non-zero on any anomaly. Needs root (network namespaces,
# iptables, tmpfs); without root it says SKIP. Long runs: make faults.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
if [ "$(id -u)" -ne 0 ]; then echo "SKIP faults_short: needs root"; exit 0; fi
command -v iptables >/dev/null || { echo "FAIL: iptables missing (scripts/deps.sh must install it)"; exit 1; }
[ -x bin/dns-raft ] || { echo "FAIL: missing bin/dns-raft (run make)"; exit 1; }
[ -f build/powercut_shim.so ] || { echo "FAIL: missing build/powercut_shim.so (run make powercut)"; exit 1; }
BINCOPY=$(mktemp /tmp/dnsraft-faults-bin-XXXXXX)
cp bin/dns-raft "$BINCOPY" && chmod 755 "$BINCOPY"
TAG=""
sweep() {
  [ -n "$TAG" ] && "$PY" -c "import sys; sys.path.insert(0, 'tests/faults'); import netlab; netlab.sweep('$TAG')"
  TAG=""
}
trap 'sweep; rm -f "$BINCOPY"' EXIT
trap 'exit 130' INT TERM
fail=0

run() { # run SEED ARGS...: one schedule, its own namespaces
  local seed=$1; shift
  TAG=$(printf '%04x' $(( ($$ * 131 + seed) & 0xffff )))
  DRF_TAG=$TAG DNSRAFT_BIN=$BINCOPY "$PY" tests/faults/run_schedule.py --seed "$seed" "$@"
  local rc=$?
  sweep
  return $rc
}

"$PY" tests/faults/test_checker.py || fail=1

OUT=$(mktemp)
trap 'sweep; rm -f "$BINCOPY" "$OUT"' EXIT
for spec in "11 --nodes 3" "12 --nodes 5" "13 --nodes 3" "14 --nodes 3 --snapshot-entries 100" \
            "15 --nodes 3 --kinds power-cut-all,power-cut,kill-leader"; do
  # shellcheck disable=SC2086
  run $spec --duration 15 >"$OUT" 2>&1 || fail=1
  grep -v '^RESULT ' "$OUT"
  case $spec in
    *--snapshot-entries*)
      snaps=$("$PY" -c 'import json, sys
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        r = json.loads(line[7:])
        print(r["snapshots_taken"], r["snapshots_installed"])' "$OUT")
      echo "     snapshots taken / installed from the leader: ${snaps:-none}"
      [ "${snaps%% *}" -gt 0 ] 2>/dev/null || { echo "FAIL: no snapshot taken with --snapshot-entries 100"; fail=1; } ;;
  esac
done

caught=0
for seed in 21 22 23; do
  rc=0
  run "$seed" --nodes 3 --duration 8 --unsafe-reads --kinds isolate-leader --expect-violation \
    >"$OUT" 2>&1 || rc=$?
  grep -v '^RESULT ' "$OUT" | head -40
  if [ $rc -eq 0 ]; then caught=1; break; fi
done
if [ $caught -eq 1 ]; then echo "ok   teeth: unsafe reads caught"; else echo "FAIL teeth: unsafe reads not caught in 3 seeds"; fail=1; fi

if run 31 --nodes 3 --duration 5 --kinds kill-follower,partition-halves --expect-update-loss \
    >"$OUT" 2>&1; then
  echo "ok   teeth: $(grep '^update loss caught' "$OUT")"
else
  grep -v '^RESULT ' "$OUT" | head -40
  echo "FAIL teeth: a lost UPDATE or a rolled-back register was not reported"; fail=1
fi

[ $fail -eq 0 ] && echo "faults_short: ok" || echo "faults_short: FAIL"
exit $fail
