#!/usr/bin/env bash
# tests/integration/seed_dns.sh — the daemon on the three seed zones, checked
# with dig over UDP and TCP: every record, AA, the CNAME chain, NXDOMAIN with
# the SOA, REFUSED outside the zones; SIGHUP reload of an edited zone file;
# a broken zone file rejected with file:line while the old version stays;
# SIGTERM exits 0; bad flags and bad config exit 2; a taken port exits 1.
# Run by scripts/run-integration.sh; exits non-zero on the first failure.
# DNSRAFT_BIN overrides the binary (default bin/dns-raft).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${DNSRAFT_BIN:-bin/dns-raft}
[ -x "$BIN" ] || { echo "missing $BIN (run make)"; exit 1; }

WORK=$(mktemp -d /tmp/dnsraft-seed-XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; echo "--- daemon log:"; tail -n 30 "$WORK/log" 2>/dev/null || true; exit 1; }
ok() { echo "ok   $*"; }

# A port in 18600-18699 free for both UDP and TCP on 127.0.0.1.
port_in_use() { ss -Hlnu "sport = :$1" | grep -q . || ss -Hlnt "sport = :$1" | grep -q .; }
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((18600 + RANDOM % 100))
    [ "$p" = "${DNS_PORT:-}" ] && continue
    port_in_use "$p" || { echo "$p"; return; }
  done
  echo "no free port in 18600-18699" >&2; exit 1
}

DNS_PORT=$(free_port)
RAFT_PORT=$(free_port)
cp zones/z00.txt zones/z01.txt zones/z02.txt "$WORK/"

q() { dig @127.0.0.1 -p "$DNS_PORT" +norec +time=2 +tries=1 "$@"; }
norm() { tr -s ' \t' ' ' | sed 's/ $//'; }
status_of() { q "$@" +noall +comments | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
flags_of() { q "$@" +noall +comments | sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p'; }
section() { local s=$1; shift; q "$@" +noall "+$s" | grep -v '^;' | grep . | norm | sort; }

# expect_answer "NAME TYPE [dig options]" "line1" "line2"...: NOERROR, AA and
# exactly these answer lines (owner TTL class type rdata).
expect_answer() {
  local query=$1; shift
  # shellcheck disable=SC2086
  local st; st=$(status_of $query)
  [ "$st" = NOERROR ] || fail "$query: status $st, want NOERROR"
  # shellcheck disable=SC2086
  [[ " $(flags_of $query) " == *" aa "* ]] || fail "$query: AA flag missing"
  local want got
  want=$(printf '%s\n' "$@" | sort)
  # shellcheck disable=SC2086
  got=$(section answer $query)
  [ "$got" = "$want" ] || fail "$query: answer"$'\n'"$got"$'\n'"want"$'\n'"$want"
  ok "$query"
}

expect_nxdomain() {
  local name=$1 zone=$2
  [ "$(status_of "$name" A)" = NXDOMAIN ] || fail "$name: want NXDOMAIN"
  [[ " $(flags_of "$name" A) " == *" aa "* ]] || fail "$name NXDOMAIN: AA flag missing"
  local auth; auth=$(section authority "$name" A)
  [ "$auth" = "$zone. 1800 IN SOA dns.$zone. admin.$zone. 1234567890 3600 600 604800 1800" ] ||
    fail "$name: authority section: $auth"
  ok "$name NXDOMAIN with SOA"
}

wait_for() { # wait_for SECONDS command...: retries until the command succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# --- flags and config errors: exit 2, nothing started ----------------------
expect_exit() { # expect_exit CODE MESSAGE args...
  local want=$1 msg=$2; shift 2
  local rc=0
  "$BIN" "$@" >"$WORK/out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || fail "dns-raft $*: exit $rc, want $want: $(cat "$WORK/out")"
  grep -q -- "$msg" "$WORK/out" || fail "dns-raft $*: output lacks '$msg': $(cat "$WORK/out")"
  ok "dns-raft $* -> exit $want"
}
expect_exit 2 "unknown flag -bogus" -id x -bogus 1
expect_exit 2 "missing -id" -dns.addr "127.0.0.1:$DNS_PORT"
expect_exit 2 "needs a value" -id x -zone.file
expect_exit 2 "unexpected argument" -id x zones/z00.txt
expect_exit 2 "dns.addr" -id x -dns.addr 8600
expect_exit 2 "log.level" -id x -log.level loud
printf 'id: x\nbogus.key: 1\n' > "$WORK/bad.yaml"
expect_exit 2 "bad.yaml:2: unknown key" -config "$WORK/bad.yaml"
expect_exit 2 "cannot read config file" -id x -config "$WORK/none.yaml"
expect_exit 0 "-raft.join" -h

# --- start on the seed zones, settings from a YAML file -------------------
cat > "$WORK/node.yaml" <<EOF
id: seed0
dns.addr: "127.0.0.1:$DNS_PORT"
raft.addr: "127.0.0.1:$RAFT_PORT"
dns.workers: 2
log.level: debug
data.dir: $WORK/data0
zone.file:
  - $WORK/z00.txt
  - $WORK/z01.txt
  - $WORK/z02.txt
EOF
"$BIN" -config "$WORK/node.yaml" 2>"$WORK/log" &
NODE=$!
PIDS+=("$NODE")
wait_for 5 grep -q "serving DNS" "$WORK/log" || fail "server did not start"
# Zones go through Raft (a one-node cluster here) before they are served.
for z in foo bar baz; do
  wait_for 10 grep -q "zone $z.com. published" "$WORK/log" || fail "zone $z.com not loaded"
done
ok "started (pid $NODE, port $DNS_PORT)"

# A second server on the same address must refuse to start (exit 1).
expect_exit 1 "Address already in use" -id other -dns.addr "127.0.0.1:$DNS_PORT"

# --- every record of the three seed zones ---------------------------------
check_zone() { # check_zone ZONE APEX_IP MAIL_IP VPN_IP WEBAPP_IP
  local z=$1
  expect_answer "$z A" "$z. 60 IN A $2"
  expect_answer "mail.$z A" "mail.$z. 14400 IN A $3"
  expect_answer "vpn.$z A" "vpn.$z. 60 IN A $4"
  expect_answer "webapp.$z A" "webapp.$z. 60 IN A $5"
  expect_answer "$z MX" "$z. 3600 IN MX 10 mail.$z."
  expect_answer "$z NS" "$z. 86400 IN NS dns.$z."
  expect_answer "$z TXT" "$z. 3600 IN TXT \"example of zone file for our study case\""
  expect_answer "$z SOA" "$z. 3600 IN SOA dns.$z. admin.$z. 1234567890 3600 600 604800 1800"
  expect_answer "www.$z CNAME" "www.$z. 43200 IN CNAME $z."
  expect_answer "www.$z A" "www.$z. 43200 IN CNAME $z." "$z. 60 IN A $2"
  # Letter case: the question is echoed as sent; names compressed against it
  # may take its case (allowed: DNS names compare case-insensitively).
  local mixed="WwW.${z^^}"
  q "$mixed" A +noall +question | norm | grep -qx ";$mixed. IN A" || fail "$mixed: question not echoed as sent"
  [ "$(section answer "$mixed" A | tr 'A-Z' 'a-z' | sort)" = "$(printf '%s\n' "$z. 60 IN A $2" "www.$z. 43200 IN CNAME $z." | tr 'A-Z' 'a-z' | sort)" ] ||
    fail "$mixed A: $(section answer "$mixed" A)"
  ok "$mixed A (case kept in the question)"
  expect_nxdomain "nosuch.$z" "$z"
  # NODATA: the name exists, the type does not.
  [ "$(status_of "vpn.$z" AAAA)" = NOERROR ] && [ -z "$(section answer "vpn.$z" AAAA)" ] ||
    fail "vpn.$z AAAA: want NOERROR with an empty answer"
  ok "vpn.$z AAAA NODATA"
}
check_zone foo.com 1.2.3.4 1.2.3.4 1.2.3.5 1.2.3.6
check_zone bar.com 1.2.3.10 1.2.3.11 1.2.3.12 1.2.3.13
check_zone baz.com 1.2.3.20 1.2.3.21 1.2.3.22 1.2.3.23

for name in example.org com .; do
  st=$(status_of "$name" A)
  [ "$st" = REFUSED ] || fail "$name: status $st, want REFUSED"
  ok "$name REFUSED"
done

# --- TCP --------------------------------------------------------------------
expect_answer "foo.com A +tcp" "foo.com. 60 IN A 1.2.3.4"
expect_answer "www.bar.com A +tcp" "www.bar.com. 43200 IN CNAME bar.com." "bar.com. 60 IN A 1.2.3.10"
# Several queries on one connection.
got=$(q +tcp +keepopen +short foo.com A bar.com A baz.com MX | sort | tr '\n' ' ')
[ "$got" = "1.2.3.10 1.2.3.4 10 mail.baz.com. " ] || fail "pipelined TCP: $got"
ok "three queries on one TCP connection"
kdig_ok=$(command -v kdig || true)
if [ -n "$kdig_ok" ]; then
  got=$(kdig @127.0.0.1 -p "$DNS_PORT" +tcp +short +norec foo.com A 2>/dev/null)
  [ "$got" = "1.2.3.4" ] || fail "kdig +tcp: $got"
  ok "kdig +tcp"
fi

# --- SIGHUP: an added record appears ---------------------------------------
echo 'database                 60 A     1.2.3.7' >> "$WORK/z00.txt"
kill -HUP "$NODE"
wait_for 5 test "$(q +short database.foo.com A)" = 1.2.3.7 || fail "database.foo.com not served after SIGHUP"
expect_answer "database.foo.com A" "database.foo.com. 60 IN A 1.2.3.7"

# --- SIGHUP with a broken file: rejected with file:line, old version stays --
echo 'newrec                   60 A     1.2.3.99' >> "$WORK/z01.txt"
echo 'broken                   60 A     999.1.1.1' >> "$WORK/z01.txt"
bad_line=$(wc -l < "$WORK/z01.txt")
kill -HUP "$NODE"
wait_for 5 grep -q "z01.txt:$bad_line:" "$WORK/log" || fail "log does not show z01.txt:$bad_line"
ok "log: $(grep "z01.txt:$bad_line:" "$WORK/log" | head -1 | cut -d' ' -f3-)"
expect_answer "bar.com A" "bar.com. 60 IN A 1.2.3.10"
[ "$(status_of newrec.bar.com A)" = NXDOMAIN ] || fail "newrec.bar.com served from a rejected file"
ok "rejected file left the old bar.com in place"
expect_answer "database.foo.com A" "database.foo.com. 60 IN A 1.2.3.7"

# --- SIGTERM: clean exit 0 -----------------------------------------------
kill -TERM "$NODE"
rc=0
wait "$NODE" || rc=$?
PIDS=()
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
grep -q "stopped" "$WORK/log" || fail "no 'stopped' line in the log"
ok "SIGTERM -> exit 0"

# --- SIGINT on a node started with the seed's flags --------------------------
"$BIN" -id id0 -raft.addr ":$RAFT_PORT" -dns.addr "127.0.0.1:$DNS_PORT" -zone.file "$WORK/z02.txt" \
  -data.dir "$WORK/data1" 2>"$WORK/log" &
NODE=$!
PIDS+=("$NODE")
wait_for 5 grep -q "serving DNS" "$WORK/log" || fail "seed-style start failed"
wait_for 10 grep -q "zone baz.com. published" "$WORK/log" || fail "zone baz.com not loaded"
expect_answer "baz.com A" "baz.com. 60 IN A 1.2.3.20"
kill -INT "$NODE"
rc=0
wait "$NODE" || rc=$?
PIDS=()
[ "$rc" = 0 ] || fail "exit status $rc after SIGINT"
ok "SIGINT -> exit 0"
echo "seed_dns: all checks passed"
