#!/usr/bin/env bash
# Installs what dns-raft needs to build, test, demo and benchmark on Debian.
# Idempotent: it only calls apt-get when a package is missing.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config
  libyaml-dev libcmocka-dev liburcu-dev      # build + unit tests
  libssl-dev                                 # libcrypto: HMAC, RAND_bytes (peer auth)
  bind9-dnsutils knot-dnsutils               # dig, kdig
  knot                                       # differential tests, transfer interop
  nsd bind9                                  # secondaries in the transfer interop test
  python3 python3-dnspython                  # test clients
  netcat-openbsd iproute2 procps psmisc      # nc, ip netns, pkill
  iptables                                   # partitions in the fault tests
  clang libclang-rt-14-dev                   # fuzzing, sanitizers
)
[ "${DNSRAFT_BENCH:-0}" = 1 ] && PACKAGES+=(dnsperf etcd-server etcd-client)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
# The knot package starts a system service we do not want running on :53.
if [[ " ${missing[*]} " == *" knot "* ]] && command -v systemctl >/dev/null; then
  $SUDO systemctl disable --now knot >/dev/null 2>&1 || true
fi
# nsd and bind9 start system services too; the tests run their own.
for svc in nsd named; do
  if [[ " ${missing[*]} " == *" ${svc/named/bind9} "* ]] && command -v systemctl >/dev/null; then
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
exit 0
