#!/usr/bin/env bash
# scripts/run-faults.sh SEEDS DURATION [FIRST_SEED] — the long nemesis run
# (`make faults SEEDS=N DURATION=S`): SEEDS schedules of DURATION seconds,
# one at a time, seeds FIRST_SEED.. (default: from the clock, printed).
# Needs root (network namespaces, iptables, tmpfs). Each schedule's figures
# go to $FAULTS_OUT (default /tmp/dnsraft-faults-<first seed>.jsonl), a
# failing schedule's whole output to $FAULTS_OUT.seed<N>.log; the summary is
# printed at the end. Exit status 1 when any schedule failed. Extra
# run_schedule.py arguments go in $FAULTS_ARGS, e.g.
# FAULTS_ARGS="--snapshot-entries 100" to snapshot (and install snapshots)
# all through the faults.
#
# The run uses private copies of the daemon and of tests/faults/ taken at
# its start, and the whole script is read before it runs (main below), so
# rebuilding, editing the harness or this file during an hour-long run
# changes nothing in it.
set -u

main() {
  cd "$(dirname "$0")/.."
  SEEDS=${1:-20}
  DURATION=${2:-25}
  FIRST=${3:-$(( $(date +%s) % 1000000 ))}
  PY=/usr/bin/python3
  [ "$(id -u)" -eq 0 ] || { echo "run-faults.sh needs root"; exit 2; }
  command -v iptables >/dev/null || { echo "iptables missing (apt-get install -y iptables)"; exit 2; }
  [ -x bin/dns-raft ] || { echo "missing bin/dns-raft (run make)"; exit 2; }
  OUT=${FAULTS_OUT:-/tmp/dnsraft-faults-$FIRST.jsonl}
  : >"$OUT"
  # A private copy of the daemon: a rebuild during the run must not change it.
  BINCOPY=$(mktemp /tmp/dnsraft-faults-bin-XXXXXX)
  cp bin/dns-raft "$BINCOPY"
  chmod 755 "$BINCOPY"
  HARNESS=$(mktemp -d /tmp/dnsraft-faults-harness-XXXXXX)
  cp tests/faults/*.py "$HARNESS/"
  # The power-cut model too (power-cut kinds; tests/faults/powercut.py).
  [ -f build/powercut_shim.so ] || { echo "missing build/powercut_shim.so (run make powercut)"; exit 2; }
  cp build/powercut_shim.so "$HARNESS/"
  export POWERCUT_SHIM=$HARNESS/powercut_shim.so
  TAG=""
  cleanup() {
    [ -n "$TAG" ] && "$PY" -c "import sys; sys.path.insert(0, '$HARNESS'); import netlab; netlab.sweep('$TAG')"
    rm -rf "$BINCOPY" "$HARNESS"
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  echo "nemesis: $SEEDS schedules of ${DURATION}s, seeds $FIRST..${FAULTS_ARGS:+, $FAULTS_ARGS}, figures in $OUT"
  failed=0
  for ((s = FIRST; s < FIRST + SEEDS; s++)); do
    TAG=$(printf '%04x' $(( (s * 2654435761) & 0xffff )))
    log=$(mktemp)
    t0=$(date +%s)
    # shellcheck disable=SC2086 # FAULTS_ARGS is a list of arguments
    DRF_TAG=$TAG DNSRAFT_BIN=$BINCOPY "$PY" "$HARNESS/run_schedule.py" --seed "$s" --duration "$DURATION" ${FAULTS_ARGS:-} >"$log" 2>&1
    rc=$?
    res=$(grep '^RESULT ' "$log" | tail -1 | cut -c8-)
    [ -n "$res" ] || res="{\"seed\": $s}"
    if [ $rc -eq 0 ]; then st=ok; else st=fail; failed=$((failed + 1)); cp "$log" "$OUT.seed$s.log"; fi
    echo "$res" | "$PY" -c "import json,sys; r=json.load(sys.stdin); r['status']='$st'; r['rc']=$rc; print(json.dumps(r))" >>"$OUT"
    echo "$st seed $s ($(( $(date +%s) - t0 ))s): $(grep -E '^(ok|FAIL|ERROR) ' "$log" | head -1)"
    [ $rc -eq 0 ] || sed -n '1,80p' "$log" | sed 's/^/    /'
    rm -f "$log"
    "$PY" -c "import sys; sys.path.insert(0, '$HARNESS'); import netlab; netlab.sweep('$TAG')"
    TAG=""
  done
  "$PY" "$HARNESS/summarize.py" "$OUT"
  [ $failed -eq 0 ]
}

main "$@"
exit $?
