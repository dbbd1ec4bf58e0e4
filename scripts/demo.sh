#!/usr/bin/env bash
# scripts/demo.sh — what `make demo` runs: installs what is missing, builds,
# starts the README's three nodes on zones/ and stays in the foreground,
# showing their logs, until Ctrl-C, which stops all three (by PID) and exits.
#
# id0 founds the cluster, id1 and id2 join it; each loads its own zone file
# through Raft, so every node answers foo.com, bar.com and baz.com. Raft
# state is kept in data/id0..id2, so a second demo resumes where the first
# stopped (remove data/ for a fresh cluster).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
make --no-print-directory all

NODES=(
  "-id id0 -raft.addr :8300 -dns.addr :8600 -zone.file ./zones/z00.txt"
  "-id id1 -raft.addr :8301 -dns.addr :8601 -zone.file ./zones/z01.txt -raft.join :8300"
  "-id id2 -raft.addr :8302 -dns.addr :8602 -zone.file ./zones/z02.txt -raft.join :8300"
)
for port in 8300 8301 8302 8600 8601 8602; do
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

  dig @127.0.0.1 -p 8600 foo.com        # every node answers every zone
  dig @127.0.0.1 -p 8601 baz.com
  dig @127.0.0.1 -p 8602 bar.com +tcp

  echo 'database                 60 A     1.2.3.7' >> zones/z00.txt
  pkill -HUP -x dns-raft
  dig @127.0.0.1 -p 8602 database.foo.com

  echo "kv ping" | nc localhost 8300          # PONG
  echo "kv set foo bar" | nc localhost 8301   # SUCCESS
  echo "kv get foo" | nc localhost 8302       # bar
  echo "raft status" | nc localhost 8300
  echo "raft peers" | nc localhost 8300

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
