#!/usr/bin/env bash
# tests/integration/seed_walkthrough.sh — the seed walkthrough
# (shared/seed/dns-raft-README.txt), step by step, with real processes, dig
# and nc: three nodes started with the seed's command lines; foo.com, bar.com
# and baz.com resolve on every node; a record appended to z00.txt and SIGHUP
# resolves everywhere; kv ping/set/get/del answer exactly as the seed shows;
# node id1 stopped with Ctrl-C (SIGINT), a record added to z02.txt and its
# node SIGHUPed, id1 restarted with the same command line resolves it.
#
# Runs in a scratch directory (./zones and ./data there). The seed's ports
# 8300-8302 / 8600-8602 are used unless WALK_RAFT_BASE / WALK_DNS_BASE say
# otherwise (set them when a demo cluster is running).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${DNSRAFT_BIN:-$ROOT/bin/dns-raft}
[ -x "$BIN" ] || { echo "missing $BIN (run make)"; exit 1; }
RB=${WALK_RAFT_BASE:-8300}
DB=${WALK_DNS_BASE:-8600}

WORK=$(mktemp -d /tmp/dnsraft-walk-XXXXXX)
declare -A PID
cleanup() {
  for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${PID[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for i in 0 1 2; do echo "--- id$i log:"; tail -n 25 "$WORK/id$i.log" 2>/dev/null || true; done
  exit 1
}
ok() { echo "ok   $*"; }

for p in $RB $((RB + 1)) $((RB + 2)) $DB $((DB + 1)) $((DB + 2)); do
  if ss -Hlnt "sport = :$p" | grep -q . || ss -Hlnu "sport = :$p" | grep -q .; then
    fail "port $p is in use (a demo cluster? set WALK_RAFT_BASE/WALK_DNS_BASE)"
  fi
done

mkdir -p "$WORK/zones" "$WORK/bin"
cp zones/z00.txt zones/z01.txt zones/z02.txt "$WORK/zones/"
ln -s "$BIN" "$WORK/bin/dns-raft"
cd "$WORK"

# The seed's three command lines (with the ports above).
start() {
  local i=$1
  local args=(-id "id$i" -raft.addr ":$((RB + i))" -dns.addr ":$((DB + i))" -zone.file "./zones/z0$i.txt")
  [ "$i" -gt 0 ] && args+=(-raft.join ":$RB")
  bin/dns-raft "${args[@]}" >>"id$i.log" 2>&1 &
  PID[$i]=$!
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls until COMMAND succeeds.
wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && fail "$what (waited ${secs}s)"
    sleep 0.1
  done
}
resolves() { # resolves PORT NAME ADDRESS
  [ "$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$1" "$2")" = "$3" ]
}
admin() { echo "$2" | timeout 5 nc localhost "$1"; }
expect_admin() { # expect_admin PORT COMMAND REPLY
  local got
  got=$(admin "$1" "$2") || fail "'$2' on $1: nc failed or hung"
  [ "$got" = "$3" ] || fail "'$2' on $1: got '$got', want '$3'"
  ok "echo \"$2\" | nc localhost $1 -> $3"
}

start 0
sleep 0.3
start 1
start 2

declare -A ADDR=([foo]=1.2.3.4 [bar]=1.2.3.10 [baz]=1.2.3.20)
for i in 0 1 2; do
  for z in foo bar baz; do
    wait_for "$z.com on node id$i" 15 resolves $((DB + i)) "$z.com" "${ADDR[$z]}"
  done
  ok "dig @127.0.0.1 -p $((DB + i)) foo.com / bar.com / baz.com"
done
[[ "$(dig +time=2 +tries=1 @127.0.0.1 -p $((DB + 1)) foo.com)" == *" aa "* ]] || fail "no AA on a follower"

echo 'database                 60 A     1.2.3.7' >> zones/z00.txt
kill -HUP "${PID[0]}" "${PID[1]}" "${PID[2]}"
for i in 0 1 2; do
  wait_for "database.foo.com on node id$i after SIGHUP" 10 resolves $((DB + i)) database.foo.com 1.2.3.7
done
ok "database.foo.com resolves on every node after SIGHUP"

expect_admin "$RB" "kv ping" "PONG"
expect_admin $((RB + 1)) "kv set foo bar" "SUCCESS"
expect_admin "$RB" "kv get foo" "bar"
expect_admin $((RB + 1)) "kv get foo" "bar"
expect_admin $((RB + 2)) "kv get foo" "bar"
expect_admin $((RB + 2)) "kv del foo" "SUCCESS"
expect_admin $((RB + 1)) "kv get foo" "ERROR"

# nc must come back at once (the server closes after a quiet moment).
t0=$(date +%s%N)
admin "$RB" "kv ping" >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $ms -lt 2000 ] || fail "echo | nc took ${ms} ms"
ok "echo \"kv ping\" | nc returns in ${ms} ms"

# Ctrl-C the second node: a clean stop, exit status 0.
kill -INT "${PID[1]}"
rc=0; wait "${PID[1]}" || rc=$?
[ $rc -eq 0 ] || fail "id1 exited with $rc after SIGINT"
unset 'PID[1]'
ok "id1 stopped with SIGINT, exit 0"

echo 'bonjour                  60 A     1.2.3.40' >> zones/z02.txt
kill -HUP "${PID[2]}"
wait_for "bonjour.baz.com on id0" 10 resolves "$DB" bonjour.baz.com 1.2.3.40
start 1
wait_for "bonjour.baz.com on the restarted id1" 15 resolves $((DB + 1)) bonjour.baz.com 1.2.3.40
wait_for "database.foo.com on the restarted id1" 5 resolves $((DB + 1)) database.foo.com 1.2.3.7
ok "restarted id1 caught up: bonjour.baz.com resolves on it"
expect_admin $((RB + 1)) "kv get foo" "ERROR"

for i in 0 1 2; do
  kill -TERM "${PID[$i]}"
  rc=0; wait "${PID[$i]}" || rc=$?
  [ $rc -eq 0 ] || fail "id$i exited with $rc after SIGTERM"
  unset "PID[$i]"
done
ok "all nodes stopped cleanly"
