#!/usr/bin/env bash
# scripts/demo.sh — what `make demo` runs: installs what is missing, builds,
# starts the README's three nodes on zones/ and stays in the foreground,
# showing their logs, until Ctrl-C, which stops all three (by PID) and exits.
#
# Until Raft lands (issue 5) each node serves only the zone file it was
# given: foo.com on :8600, bar.com on :8601, baz.com on :8602. The Raft
# ports (:8300-:8302) are accepted but not opened yet, so `nc` gets nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
make --no-print-directory all

NODES=(
  "-id id0 -raft.addr :8300 -dns.addr :8600 -zone.file ./zones/z00.txt"
  "-id id1 -raft.addr :8301 -dns.addr :8601 -zone.file ./zones/z01.txt -raft.join :8300"
  "-id id2 -raft.addr :8302 -dns.addr :8602 -zone.file ./zones/z02.txt -raft.join :8300"
)
for port in 8600 8601 8602; do
  if ss -Hlnu "sport = :$port" | grep -q . || ss -Hlnt "sport = :$port" | grep -q .; then
    echo "demo: port $port is already in use (another demo running?); stop it first" >&2
    exit 1
  fi
done

LOGDIR=$(mktemp -d /tmp/dns-raft-demo-XXXXXX)
PIDS=()
TAIL=""
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping nodes ${PIDS[*]}"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$TAIL" ] && { kill "$TAIL" 2>/dev/null || true; wait "$TAIL" 2>/dev/null || true; }
  echo "demo: stopped (logs kept in $LOGDIR)"
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

for i in 0 1 2; do
  # shellcheck disable=SC2086 # each entry is a flag list, split on purpose
  bin/dns-raft ${NODES[$i]} 2>"$LOGDIR/id$i.log" &
  PIDS+=("$!")
  echo "demo: started bin/dns-raft ${NODES[$i]}  (pid $!, log $LOGDIR/id$i.log)"
done

sleep 0.5
cat <<'EOF'

Try, from another terminal:

  dig @127.0.0.1 -p 8600 foo.com        # node id0: foo.com (zones/z00.txt)
  dig @127.0.0.1 -p 8601 bar.com        # node id1: bar.com (zones/z01.txt)
  dig @127.0.0.1 -p 8602 baz.com        # node id2: baz.com (zones/z02.txt)
  dig @127.0.0.1 -p 8600 +tcp www.foo.com

  echo 'database                 60 A     1.2.3.7' >> zones/z00.txt
  kill -HUP <pid of id0>                # or: pkill -HUP -x dns-raft
  dig @127.0.0.1 -p 8600 database.foo.com

Replication between the nodes (every node answering every zone) and the
kv commands on the Raft ports come with the Raft runtime.
Press Ctrl-C to stop all three nodes.

EOF

tail -n +1 -F "$LOGDIR"/id0.log "$LOGDIR"/id1.log "$LOGDIR"/id2.log &
TAIL=$!

# Returns when Ctrl-C reaches this script (the trap runs) or a node exits.
# Ctrl-C in a terminal also reaches the nodes, which then stop cleanly with
# status 0, sometimes before this shell runs its trap: that is a normal stop.
rc=0
wait -n "${PIDS[@]}" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "demo: a node failed (exit status $rc); see its log above" >&2
  exit 1
fi
exit 0 # the EXIT trap stops the other nodes
