#!/usr/bin/env bash
# tests/integration/install.sh — `make install` into a DESTDIR: every file in
# place with its mode, an existing config kept on a second install, the
# systemd unit passes `systemd-analyze verify` and scores OK in
# `systemd-analyze security`, the man page renders (`man -l`), is clean for
# `mandoc -T lint` and names every flag of `dns-raft -h`, `-version` works,
# the example config passes -config.check, and the installed binary runs on
# it (install_run.py: serves the example zone, sends READY=1 and STOPPING=1).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
tmp=$(mktemp -d /tmp/dnsraft-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

D=$tmp/root
make -s install DESTDIR="$D" >/dev/null
sbin=$D/usr/local/sbin/dns-raft
man8=$D/usr/local/share/man/man8/dns-raft.8
unit=$D/usr/local/lib/systemd/system/dns-raft.service
sysusers=$D/usr/local/lib/sysusers.d/dns-raft.conf
conf=$D/etc/dns-raft/dns-raft.yaml
zone=$D/etc/dns-raft/zones/example.com.zone

# -- files and modes --
for f in "$sbin:755" "$man8:644" "$unit:644" "${unit%.service}@.service:644" "$sysusers:644" \
         "$conf:644" "$zone:644"; do
  path=${f%:*} mode=${f##*:}
  [ -f "$path" ] || fail "missing ${path#"$D"}"
  [ "$(stat -c %a "$path")" = "$mode" ] || fail "${path#"$D"} has mode $(stat -c %a "$path"), not $mode"
done
grep -q "^ExecStart=/usr/local/sbin/dns-raft -config /etc/dns-raft/dns-raft.yaml$" "$unit" \
  || fail "the unit's ExecStart does not name the installed binary and config"
ok "files in place"

# -- a second install keeps the operator's config --
echo "# edited by the operator" >> "$conf"
make -s install DESTDIR="$D" >/dev/null
grep -q "edited by the operator" "$conf" || fail "a second make install overwrote dns-raft.yaml"
ok "second install keeps the config"

# -- -version --
v=$("$sbin" -version) || fail "-version exited $?"
[[ $v =~ ^dns-raft\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "-version printed '$v'"
[ "$("$sbin" --version)" = "$v" ] || fail "--version differs from -version"
ok "version: $v"

# -- the man page --
command -v mandoc >/dev/null || fail "mandoc missing (scripts/deps.sh installs it)"
lint=$(mandoc -T lint -W warning "$man8" 2>&1) || fail "mandoc -T lint: $lint"
rendered=$(MANWIDTH=100 man -l "$man8" 2>"$tmp/man.err") || fail "man -l failed"
grep -v 'mandoc.db' "$tmp/man.err" | grep . && fail "man -l complained (above)"
for s in NAME SYNOPSIS OPTIONS "CONFIGURATION FILE" "ADMIN PROTOCOL" SIGNALS "EXIT STATUS"; do
  grep -q "^$s" <<<"$rendered" || fail "man page has no $s section"
done
# Every flag -h lists must be in the man page (a new flag needs its entry).
flags=$("$sbin" -h | sed -n 's/^  \(-[a-z][a-z0-9.]*\).*/\1/p')
[ -n "$flags" ] || fail "no flags parsed from -h"
for f in $flags; do
  grep -qE -- "^ +$f( |,|$)" <<<"$rendered" || fail "man page does not describe $f"
done
ok "man page: lint clean, renders, $(wc -w <<<"$flags") flags described"

# -- the systemd unit --
if command -v systemd-analyze >/dev/null; then
  # verify checks that ExecStart exists: point it at the DESTDIR copy.
  sed "s|/usr/local/sbin/|$D/usr/local/sbin/|g" "$unit" > "$tmp/dns-raft.service"
  out=$(MANPATH=$D/usr/local/share/man systemd-analyze verify "$tmp/dns-raft.service" 2>&1) \
    || fail "systemd-analyze verify: $out"
  [ -z "$out" ] || fail "systemd-analyze verify warned: $out"
  # The template, as instance ns2: its own config and state directory.
  sed "s|/usr/local/sbin/|$D/usr/local/sbin/|g" "$D/usr/local/lib/systemd/system/dns-raft@.service" \
    > "$tmp/dns-raft@ns2.service"
  out=$(MANPATH=$D/usr/local/share/man systemd-analyze verify "$tmp/dns-raft@ns2.service" 2>&1) \
    || fail "systemd-analyze verify dns-raft@ns2: $out"
  grep -q "^ExecStart=.* -config /etc/dns-raft/%i.yaml$" "$tmp/dns-raft@ns2.service" &&
    grep -qx "StateDirectory=dns-raft/%i" "$tmp/dns-raft@ns2.service" || fail "template not per instance"
  score=$(systemd-analyze security --offline=true "$tmp/dns-raft.service" 2>&1 \
          | sed -n 's/.*Overall exposure level for dns-raft.service: \([0-9.]*\).*/\1/p')
  [ -n "$score" ] || fail "systemd-analyze security gave no score"
  awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure $score above 2.0"
  for want in Type=notify "ExecReload=/bin/kill -HUP \$MAINPID" StateDirectory=dns-raft \
              ProtectSystem=strict NoNewPrivileges=yes AmbientCapabilities=CAP_NET_BIND_SERVICE \
              CapabilityBoundingSet=CAP_NET_BIND_SERVICE User=dns-raft; do
    grep -qxF "$want" "$unit" || fail "unit lacks $want"
  done
  ok "systemd-analyze verify clean, security exposure $score"
else
  echo "SKIP systemd-analyze verify: no systemd-analyze (scripts/deps.sh installs systemd)"
fi
grep -qx 'u dns-raft - "dns-raft DNS server" /var/lib/dns-raft' "$sysusers" || fail "sysusers.d line"

# -- the example config --
out=$("$sbin" -config "$conf" -config.check -zone.file "$zone" 2>&1) || fail "-config.check: $out"
grep -q "dns-raft.yaml: OK" <<<"$out" || fail "-config.check printed: $out"
printf 'id: x\nraft.election: 10\n' > "$tmp/bad.yaml"
set +e; "$sbin" -config "$tmp/bad.yaml" -config.check >/dev/null 2>&1; rc=$?; set -e
[ $rc = 2 ] || fail "-config.check on a bad file exited $rc, not 2"
printf '$ORIGIN x.\n@ 60 A 1.2.3\n' > "$tmp/bad.zone"
set +e; out=$("$sbin" -config "$conf" -config.check -zone.file "$tmp/bad.zone" 2>&1); rc=$?; set -e
[ $rc = 2 ] || fail "-config.check with a bad zone exited $rc, not 2"
grep -q "bad.zone:2" <<<"$out" || fail "-config.check did not name bad.zone:2: $out"
ok "example config checks; bad config and bad zone exit 2"

DNSRAFT_BIN=$sbin PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 tests/integration/install_run.py \
  "$conf" "$zone"
