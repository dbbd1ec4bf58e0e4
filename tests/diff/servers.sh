# Helpers to run DNS servers on loopback for the differential test
# (tests/integration/knot_diff.sh) and the benchmark (bench/dns-qps).
# Source it from bash. Every server gets its own config, run dir and storage
# under a directory the caller owns, listens on 127.0.0.1 only, and is
# stopped by the PID these functions return (never by name).
#
# Zones are given as DOMAIN=FILE pairs (FILE absolute or relative to $PWD).

# free_port: prints a TCP+UDP port on 127.0.0.1 that nothing listens on now.
free_port() {
  /usr/bin/python3 - <<'EOF'
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close(); continue
    t.close(); u.close(); print(port); break
EOF
}

# wait_dns PORT NAME [SECONDS]: waits until NAME/SOA is answered over UDP.
wait_dns() {
  local port=$1 name=$2 limit=${3:-20}
  local deadline=$((SECONDS + limit))
  while ((SECONDS < deadline)); do
    if kdig @127.0.0.1 -p "$port" +time=1 +retry=0 +norec "$name" SOA 2>/dev/null |
        grep -q 'status: NOERROR'; then
      return 0
    fi
    sleep 0.1
  done
  echo "servers.sh: nothing answers $name SOA on 127.0.0.1:$port" >&2
  return 1
}

abs_path() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

# start_knot DIR PORT WORKERS DOMAIN=FILE...: starts knotd in the foreground
# (in the background of this shell); sets KNOT_PID. Log: DIR/knotd.log.
start_knot() {
  local dir=$1 port=$2 workers=$3 pair
  shift 3
  mkdir -p "$dir/run" "$dir/db"
  {
    echo "server:"
    echo "    rundir: \"$dir/run\""
    echo "    listen: 127.0.0.1@$port"
    echo "    udp-workers: $workers"
    echo "    tcp-workers: $workers"
    echo "    background-workers: 1"
    echo "database:"
    echo "    storage: \"$dir/db\""
    echo "control:"
    echo "    listen: \"$dir/run/knot.sock\""
    echo "log:"
    echo "  - target: stderr"
    echo "    any: warning"
    echo "template:"
    echo "  - id: default"
    echo "    semantic-checks: on"
    echo "    zonefile-sync: -1"
    echo "    journal-content: none"
    echo "zone:"
    for pair in "$@"; do
      echo "  - domain: ${pair%%=*}"
      echo "    file: \"$(abs_path "${pair#*=}")\""
    done
  } > "$dir/knot.conf"
  knotd -c "$dir/knot.conf" > "$dir/knotd.log" 2>&1 &
  KNOT_PID=$!
}

# start_nsd DIR PORT WORKERS DOMAIN=FILE...: starts nsd -d; sets NSD_PID.
start_nsd() {
  local dir=$1 port=$2 workers=$3 pair
  shift 3
  mkdir -p "$dir"
  {
    echo "server:"
    echo "    ip-address: 127.0.0.1@$port"
    echo "    server-count: $workers"
    echo "    reuseport: ${NSD_REUSEPORT:-yes}"
    echo "    username: \"\""
    echo "    chroot: \"\""
    echo "    zonesdir: \"$dir\""
    echo "    database: \"\""
    echo "    pidfile: \"$dir/nsd.pid\""
    echo "    xfrdfile: \"$dir/xfrd.state\""
    echo "    zonelistfile: \"$dir/zone.list\""
    echo "    xfrdir: \"$dir\""
    echo "    logfile: \"$dir/nsd.log\""
    echo "    verbosity: 1"
    echo "    rrl-ratelimit: 0"   # NSD is built with RRL: off, as for the others
    echo "remote-control:"
    echo "    control-enable: no"
    for pair in "$@"; do
      echo "zone:"
      echo "    name: ${pair%%=*}"
      echo "    zonefile: \"$(abs_path "${pair#*=}")\""
    done
  } > "$dir/nsd.conf"
  nsd -d -c "$dir/nsd.conf" > "$dir/nsd.stderr" 2>&1 &
  NSD_PID=$!
}

# start_ours DIR PORT ZONEFILE...: starts bin/dns-raft as a one-node cluster
# (its Raft data in DIR/data, so no run sees another's state); sets OURS_PID.
# Extra flags (e.g. a worker count) can be given in OURS_FLAGS.
start_ours() {
  local dir=$1 port=$2 raft_port zf args=()
  shift 2
  mkdir -p "$dir"
  raft_port=$(free_port)
  for zf in "$@"; do args+=(-zone.file "$(abs_path "$zf")"); done
  # shellcheck disable=SC2086
  "$(abs_path "${DNSRAFT_BIN:-bin/dns-raft}")" -id diff0 \
      -raft.addr "127.0.0.1:$raft_port" -dns.addr "127.0.0.1:$port" \
      -data.dir "$dir/data" \
      ${OURS_FLAGS:-} "${args[@]}" > "$dir/dns-raft.log" 2>&1 &
  OURS_PID=$!
}

# stop_pid PID...: SIGTERM, then SIGKILL after 5 s, for each live PID.
stop_pid() {
  local pid i
  for pid in "$@"; do
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || continue
    kill "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
