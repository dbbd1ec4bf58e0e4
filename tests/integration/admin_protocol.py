#!/usr/bin/python3
"""tests/integration/admin_protocol.py — issue 5's admin protocol end to end
on a 3-node cluster of real processes:

- `echo "kv ping" | nc localhost PORT` prints PONG and returns in < 1 s;
- many commands over one connection: pipelined in one send (more than one
  TCP segment's worth), and request/response without delay;
- unknown command, missing argument, over-long line (> 64 KiB), non-UTF-8
  key -> one `ERROR <reason>` line, and the same connection answers the next
  command;
- `raft status`, `raft peers`, `zone list`, `zone show` formats (zone show is
  zone-file text ending with a `;; end of zone` comment and loads as a zone);
- `kv get` of an absent key is exactly `ERROR`; `kv set` on a follower is
  forwarded; `raft transfer NAME` moves the leadership;
- with 2 of 3 nodes stopped, a write answers `ERROR <reason>` within the
  write timeout (no hang) and a linearizable get on the minority answers
  `ERROR <reason>` (not the stale value); after restarting them all works.
"""
import os
import re
import subprocess
import sys
import time

import dns.zone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, check, ok, run_main, wait_for, make_zone  # noqa: E402

STATUS_LINE = re.compile(r"^id=(\S+) role=(leader|follower|candidate|precandidate) term=\d+ "
                         r"leader=(\S+) leader_addr=(\S+) commit=\d+ applied=\d+ "
                         r"last_index=\d+ snapshot=\d+ cluster=([0-9a-f]{32}|none) "
                         r"ready=(yes|no) stale_seconds=\d+\.\d{3}$")
ZONE_INFO = re.compile(r"^(\S+) serial (\d+) records (\d+) loaded-by (\S+) index (\d+)$")


def expect(conn, command, want, what=None):
    got = conn.cmd(command)
    check(got == want, "%s: %r -> %r, want %r" % (what or "reply", command, got, want))


def expect_error(reply, what):
    """An `ERROR <reason>` line with a reason."""
    check(reply.startswith("ERROR ") and len(reply) > 6 and "\n" not in reply,
          "%s: got %r, want 'ERROR <reason>'" % (what, reply))
    return reply


def nc_ping(node):
    t0 = time.monotonic()
    p = subprocess.run("echo 'kv ping' | nc localhost %d" % node.raft_port, shell=True,
                       capture_output=True, timeout=10)
    took = time.monotonic() - t0
    check(p.stdout == b"PONG\n", "echo 'kv ping' | nc: stdout %r stderr %r" % (p.stdout, p.stderr))
    check(took < 1.0, "echo 'kv ping' | nc took %.3f s" % took)
    return took


def one_connection(n, follower):
    # Pipelined: one send holding many commands (well over 4 KiB).
    lines, want = [], []
    for i in range(600):
        lines.append("kv ping")
        want.append("PONG")
        if i % 50 == 0:
            lines += ["kv set pipe%d value %d" % (i, i), "kv get pipe%d" % i, "kv get absent%d" % i]
            want += ["SUCCESS", "value %d" % i, "ERROR"]
    with n.conn() as c:
        c.send("".join(l + "\n" for l in lines))
        got = [c.reply() for _ in lines]
        bad = [i for i in range(len(want)) if got[i] != want[i]]
        check(not bad, "pipelined replies differ, first at #%d" % (bad or [0])[0])
        expect(c, "kv ping", "PONG", "after the pipelined batch")
    ok("%d pipelined commands (%d bytes) in one send: every reply in order"
       % (len(lines), sum(len(l) + 1 for l in lines)))
    # Request/response, each command sent right after the previous reply.
    with follower.conn() as c:
        for i in range(100):
            expect(c, "kv set rr%d v%d" % (i, i), "SUCCESS")
            expect(c, "kv get rr%d" % i, "v%d" % i)
        expect(c, "kv del rr0", "SUCCESS")
        expect(c, "kv get rr0", "ERROR", "kv get after kv del")
    ok("200 request/response round trips on one connection to a follower (writes forwarded)")


def errors_keep_connection(n):
    cases = [
        ("unknown command", b"frobnicate now\n", "unknown command"),
        ("unknown kv subcommand", b"kv frob x\n", None),
        ("missing argument (kv get)", b"kv get\n", "missing argument"),
        ("missing argument (kv set KEY)", b"kv set onlykey\n", None),
        ("missing argument (raft join ID)", b"raft join n9\n", "missing argument"),
        ("non-UTF-8 key", b"kv get \xff\xfekey\n", None),
        ("non-UTF-8 key in kv set", b"kv set \xc3\x28 v\n", None),
        ("over-long line (70 KiB)", b"kv set big " + b"x" * (70 * 1024) + b"\n", "line too long"),
        ("over-long line of 200 KiB with no command", b"y" * (200 * 1024) + b"\n", "line too long"),
        ("empty line", b"\n", None),
        ("zone show of an unknown zone", b"zone show nosuch.zone\n", "no such zone"),
        ("invalid zone name", b"zone show a..b\n", None),
    ]
    with n.conn() as c:
        for what, data, reason in cases:
            c.send(data)
            reply = expect_error(c.reply(), what)
            if reason:
                check(reason in reply, "%s: %r does not say %r" % (what, reply, reason))
            expect(c, "kv ping", "PONG", "the same connection after " + what)
            print("     %-45s -> %s" % (what, reply[:70]))
        # Also when they come pipelined with good commands in one send.
        c.send(b"kv frob\nkv ping\nkv get \xff\nkv get pipe0\n")
        got = [c.reply() for _ in range(4)]
        check(got[0].startswith("ERROR ") and got[1] == "PONG" and got[2].startswith("ERROR ")
              and got[3] == "value 0", "pipelined errors and commands: %r" % got)
    big = n.admin("kv get big")
    check(big == "ERROR", "the over-long kv set must not have been applied: kv get big -> %r" % big[:40])
    ok("every bad request gets one ERROR <reason> line and the connection stays usable")


def formats(c, nodes, zones):
    leader = c.leader()
    for n in nodes:
        line = n.admin("raft status")
        m = STATUS_LINE.match(line)
        check(m, "raft status format on %s: %r" % (n.name, line))
        check(m.group(1) == n.name and m.group(3) == leader.name
              and m.group(4) == leader.raft_addr,
              "raft status on %s names %s at %s, want %s at %s"
              % (n.name, m.group(3), m.group(4), leader.name, leader.raft_addr))
        check((m.group(2) == "leader") == (n is leader), "role on %s: %r" % (n.name, line))
        peers = n.peers()
        check(set(peers) == {x.name for x in nodes}, "raft peers on %s: %r" % (n.name, peers))
        for x in nodes:
            check(peers[x.name]["addr"] == x.raft_addr and peers[x.name]["voter"]
                  and peers[x.name]["self"] == (x is n), "raft peers entry for %s on %s: %r"
                  % (x.name, n.name, peers[x.name]))
    ok("raft status and raft peers: format and content on every node")
    for n in nodes:
        line = n.admin("zone list")
        entries = {}
        for part in line.split("; "):
            m = ZONE_INFO.match(part)
            check(m, "zone list entry %r on %s" % (part, n.name))
            entries[m.group(1)] = m
        for origin, (loader, count) in zones.items():
            check(origin in entries, "zone list on %s lacks %s: %r" % (n.name, origin, line))
            e = entries[origin]
            check(e.group(4) == loader and int(e.group(3)) == count and int(e.group(2)) == 7,
                  "zone list on %s: %r, want loaded-by %s, %d records, serial 7"
                  % (n.name, e.group(0), loader, count))
    ok("zone list: origin, serial, records, loaded-by on every node")
    for n in nodes:
        text = n.admin("zone show z1.test", multi=True)
        lines = text.split("\n")
        check(lines[0] == "$ORIGIN z1.test.", "zone show first line %r" % lines[0])
        check(lines[-1].startswith(";; end of zone z1.test."), "zone show last line %r" % lines[-1])
        z = dns.zone.from_text(text + "\n", origin="z1.test.", relativize=False)
        www = z.find_rdataset("www.z1.test.", "A")
        check(sorted(r.to_text() for r in www) == ["10.1.0.1", "10.1.0.2"],
              "zone show www.z1.test: %r" % www)
        check(len(lines) - 2 == zones["z1.test."][1], "zone show: %d record lines" % (len(lines) - 2))
    # The connection stays usable after a multi-line reply.
    with nodes[0].conn() as k:
        k.cmd("zone show z2.test", multi=True)
        expect(k, "kv ping", "PONG", "after zone show")
    ok("zone show: zone-file text ending with ';; end of zone', loads as a zone")
    # One line each: pipelined, the PONG comes right after them.
    for n in nodes:
        with n.conn() as k:
            k.send("raft status\nraft peers\nzone list\nkv get fwd\nkv get nope\nkv ping\n")
            got = [k.reply() for _ in range(6)]
            check(STATUS_LINE.match(got[0]) and got[1].count(" self") == 1
                  and ZONE_INFO.match(got[2].split("; ")[0]) and got[3] == "hello world"
                  and got[4] == "ERROR" and got[5] == "PONG",
                  "pipelined status/peers/zone list/get/ping on %s: %r" % (n.name, got))
    ok("raft status, raft peers, zone list, kv get: one line each (pipelined, then PONG)")


def transfer(c, nodes):
    leader = c.leader()
    target = [n for n in nodes if n is not leader][0]
    via = [n for n in nodes if n is not leader and n is not target][0]
    # Sent to a follower: forwarded to the leader.
    got = via.admin("raft transfer %s" % target.name)
    wait_for("%s leads after raft transfer" % target.name, 5, lambda: c.leader() is target)
    if got != "SUCCESS":
        # Checked again at the end, so the rest of the test still runs.
        return "raft transfer %s sent to follower %s: %r, but %s does lead" % (
            target.name, via.name, got, target.name)
    ok("raft transfer %s (sent to follower %s): SUCCESS, it leads" % (target.name, via.name))
    got = target.admin("raft transfer %s" % leader.name)
    check(got == "SUCCESS", "raft transfer %s sent to the leader: %r" % (leader.name, got))
    wait_for("%s leads after raft transfer" % leader.name, 5, lambda: c.leader() is leader)
    ok("raft transfer %s (sent to the leader %s): SUCCESS, it leads" % (leader.name, target.name))
    return None


def majority_down(c, nodes):
    leader = c.leader()
    check(leader.admin("kv set survivor before") == "SUCCESS", "kv set before the outage")
    stopped = [n for n in nodes if n is not leader][:1] + [leader]
    minority = [n for n in nodes if n not in stopped][0]
    for n in stopped:
        n.stop()
    t0 = time.monotonic()
    with minority.conn(timeout=15) as k:
        reply = expect_error(k.cmd("kv set survivor after"), "kv set with the majority down")
        took = time.monotonic() - t0
        check(took < 12, "kv set with the majority down took %.1f s" % took)
        t1 = time.monotonic()
        got = expect_error(k.cmd("kv get survivor"), "linearizable kv get on the minority")
        took_get = time.monotonic() - t1
        expect(k, "kv ping", "PONG", "on the minority node")
    ok("2 of 3 stopped: kv set -> %r after %.1f s; kv get -> %r after %.1f s (not the stale value)"
       % (reply, took, got, took_get))
    for n in stopped:
        n.start()
    c.leader(nodes, timeout=15)
    final = minority.admin("kv get survivor")
    check(final in ("before", "after"), "kv get survivor after the restart: %r" % final)
    for n in nodes:
        check(n.admin("kv set survivor again") == "SUCCESS", "kv set on %s after restart" % n.name)
        for m in nodes:
            check(m.admin("kv get survivor") == "again", "kv get on %s after restart" % m.name)
    ok("the stopped nodes restarted: writes and reads work on every node (the timed-out "
       "write %s)" % ("had committed" if final == "after" else "had not committed"))


def main():
    with Cluster("admin") as c:
        zones = {}
        for i in range(3):
            recs = [("www", "A", "10.%d.0.1" % i), ("www", "A", "10.%d.0.2" % i),
                    ("txt", "TXT", '"node %d zone"' % i)]
            c.write_file("zones/z%d.txt" % i, make_zone("z%d.test" % i, recs, serial=7))
            zones["z%d.test." % i] = ("n%d" % i, 3 + len(recs))
        nodes = [c.add_node("n%d" % i, [os.path.join(c.dir, "zones/z%d.txt" % i)], join=i > 0)
                 for i in range(3)]
        for n in nodes:
            n.start()
        c.wait_voters([n.name for n in nodes], timeout=20)
        for n in nodes:
            for i in range(3):
                wait_for("www.z%d.test on %s" % (i, n.name), 15,
                         lambda n=n, i=i: n.resolves("www.z%d.test" % i, ["10.%d.0.1" % i, "10.%d.0.2" % i]))
        leader = c.leader()
        follower = [n for n in nodes if n is not leader][0]

        times = [nc_ping(n) for n in nodes for _ in range(3)]
        ok("echo 'kv ping' | nc localhost PORT -> PONG, slowest of %d in %.3f s"
           % (len(times), max(times)))

        one_connection(leader, follower)
        errors_keep_connection(follower)

        check(follower.admin("kv set fwd hello world") == "SUCCESS", "kv set on a follower")
        for n in nodes:
            check(n.admin("kv get fwd") == "hello world", "kv get fwd on %s" % n.name)
        check(follower.admin("kv get never-set") == "ERROR", "kv get of an absent key")
        ok("kv set on follower %s forwarded; read on every node; absent key -> exactly ERROR"
           % follower.name)

        formats(c, nodes, zones)
        late = transfer(c, nodes)
        majority_down(c, nodes)
        for n in nodes:
            n.stop()
        check(late is None, late)


if __name__ == "__main__":
    run_main(main)
