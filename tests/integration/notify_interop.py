#!/usr/bin/python3
"""tests/integration/notify_interop.py — NOTIFY out (RFC 1996) to real
secondaries of every kind the docs show: Knot (`knotd`), NSD and BIND
(`named`), from Debian packages, following a 3-node cluster with TSIG on
loopback (issue #15, steps 2 and 4). Their configurations are the ones of
docs/operations.md "Secondaries and scale-out" (secondaries.py); the zone's
SOA refresh is 3600 s and nothing else asks them to refresh (no knotc,
nsd-control or rndc), so only a NOTIFY can bring a change within the test.
Every node has `notify: [{zones: [example.com.], targets: [the three],
key: xfr-key}]`.

 1. Each secondary takes the initial AXFR; its zone equals ours (kdig AXFR
    of both, compared as sets).
 2. An UPDATE, and nothing else: the leader logs a NOTIFY of the new serial
    to every secondary, every node together logs exactly one
    "transfer IXFR (difference)" to each secondary's source address
    (127.0.0.11-13) and no whole zone, each secondary's own log shows the
    NOTIFY (and Knot's the IXFR), and each zone equals ours. (The leader
    notified serial 1 before the secondaries listened: serial 2 may ride
    on that NOTIFY's retransmission, up to -notify.retry = 2 s later.)
 3. The leader SIGKILLed, a new leader, an UPDATE through it: the new
    leader notifies, each secondary takes an IXFR from a living node, and
    each zone equals ours.
"""
import os
import sys
import time

import dns.message
import dns.query

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, check, ok, run_main, wait_for  # noqa: E402
import xfrlib  # noqa: E402
from xfrlib import axfr_set, update  # noqa: E402
from secondaries import Secondary, wait_port  # noqa: E402

ZONE = "example.com."
KINDS = ("knot", "nsd", "bind")


def zone_text(serial):
    lines = ["$TTL 60", "$ORIGIN " + ZONE,
             "@ 3600 SOA ns1 hostmaster %d 3600 600 604800 60" % serial,
             "@ 3600 NS ns1", "ns1 60 A 192.0.2.1"]
    lines += ["host%d 60 A 10.0.%d.%d" % (i, i >> 8, i & 255) for i in range(200)]
    return "\n".join(lines) + "\n"


def soa_serial(port):
    try:
        r = dns.query.udp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=port, timeout=2)
    except Exception:  # noqa: BLE001
        return None
    return r.answer[0][0].serial if r.answer else None


def same_zones(node, secs, what, timeout=40):
    """Waits until every secondary serves our serial, then compares sets."""
    serial, ours, _ = axfr_set(node.dns_port, ZONE)
    for s in secs:
        wait_for("%s at serial %d (%s)" % (s.kind, serial, what), timeout,
                 lambda s=s: soa_serial(s.port) == serial)
        _, theirs, _ = axfr_set(s.port, ZONE, signed=False)
        check(ours == theirs, "%s equals ours after %s: missing %s, extra %s"
              % (s.kind, what, sorted(ours - theirs)[:3], sorted(theirs - ours)[:3]))
    return serial, len(ours)


def served(c, marks, what, source):
    """Transfers of kind `what` the nodes logged to `source` since marks."""
    needle = "transfer %s %s" % (what, ZONE)
    n = 0
    for node in c.nodes:
        for line in node.log()[marks.get(node.name, 0):].splitlines():
            n += needle in line and (" to %s:" % source) in line
    return n


def log_marks(c):
    return {n.name: len(n.log()) for n in c.nodes}


def check_ixfr_only(c, secs, marks, what):
    """Exactly one IXFR difference to each secondary since marks, no whole zone."""
    for s in secs:
        wait_for("an IXFR difference served to %s (%s)" % (s.kind, what), 20,
                 lambda s=s: served(c, marks, "IXFR (difference)", s.source) >= 1)
        diff = served(c, marks, "IXFR (difference)", s.source)
        full = served(c, marks, "AXFR", s.source) + served(c, marks, "IXFR (full zone)", s.source)
        check(diff == 1 and full == 0, "%s after %s: one IXFR difference (%d), no whole zone (%d)"
              % (s.kind, what, diff, full))


def check_notified(leader, secs, serial):
    text = leader.log()
    for s in secs:
        check("serial %d: NOTIFY to 127.0.0.1:%d" % (serial, s.port) in text,
              "%s notified %s of serial %d" % (leader.name, s.kind, serial))


def check_secondary_logs(secs, before, serial):
    """Each secondary's own log since `before`: the NOTIFY of `serial`
    received, and (where it says the style) an IXFR, no AXFR."""
    for s in secs:
        text = s.log()[before[s.kind]:]
        if s.kind == "knot":
            good = ("notify, incoming, remote 127.0.0.1@" in text and "IXFR, incoming" in text
                    and "AXFR, incoming" not in text)
        elif s.kind == "nsd":
            good = "notify for %s from 127.0.0.1 serial %d" % (ZONE, serial) in text
        else:  # 9.18 logs no transfer style at info; the cluster's log has it
            good = ("received notify for zone '%s': TSIG '%s'" % (ZONE.rstrip("."),
                                                                 xfrlib.KEY_NAME) in text
                    and ": serial %d" % serial in text
                    and "transferred serial %d" % serial in text)
        check(good, "%s's log shows the NOTIFY of serial %d and the transfer: %s"
              % (s.kind, serial, text[-600:]))


def log_sizes(secs):
    return {s.kind: len(s.log()) for s in secs}


def main():
    t0 = time.monotonic()
    with Cluster("notify-interop") as c:
        keyfile = c.write_file("xfr.key", xfrlib.key_file_text())
        cfg = os.path.join(c.dir, "node.yaml")
        zone = c.write_file("example.com.zone", zone_text(1))
        extra = ["-config", cfg]
        n0 = c.add_node("n0", zone_files=[zone], join=None, extra=extra)
        for name in ("n1", "n2"):
            c.add_node(name, join=n0, extra=extra)
        primaries = [n.dns_port for n in c.nodes]
        secs = [Secondary(k, c.dir, primaries, xfrlib.KEY_NAME, xfrlib.SECRET, ZONE)
                for k in KINDS]
        targets = ", ".join('"127.0.0.1:%d"' % s.port for s in secs)
        c.write_file("node.yaml", xfrlib.node_config(
            keyfile, "notify:\n  - zones: [%s]\n    targets: [%s]\n    key: %s\n"
            % (ZONE, targets, xfrlib.KEY_NAME)))
        n0.start()
        wait_for("zone on n0", 20, lambda: soa_serial(n0.dns_port) == 1)
        for n in c.nodes[1:]:
            n.start()
        c.wait_voters(["n0", "n1", "n2"])
        wait_for("zone everywhere", 20, lambda: all(soa_serial(n.dns_port) == 1 for n in c.nodes))
        try:
            for s in secs:
                s.start()
                check(wait_port(s.port), "%s listens on %d" % (s.kind, s.port))
            serial, count = same_zones(n0, secs, "the initial AXFR")
            ok("Knot, NSD and BIND took the initial AXFR: serial %d, %d RRs, the same as ours"
               % (serial, count))

            # 2. UPDATE -> NOTIFY -> IXFR, no refresh asked.
            leader = c.leader()
            marks, before = log_marks(c), log_sizes(secs)
            t = time.monotonic()
            check(update(leader.dns_port, ZONE, adds=[("new." + ZONE, 60, "A", "192.0.2.77")],
                         deletes=[("host5." + ZONE, "A")]) == 0, "UPDATE")
            serial, count = same_zones(leader, secs, "an UPDATE (no refresh asked)")
            lag = time.monotonic() - t
            check_notified(leader, secs, serial)
            check_ixfr_only(c, secs, marks, "the UPDATE")
            check_secondary_logs(secs, before, serial)
            ok("UPDATE -> NOTIFY -> IXFR: Knot, NSD and BIND at serial %d after %.0f ms, "
               "the same %d RRs" % (serial, lag * 1000, count))

            # 3. The leader SIGKILLed: the next change still reaches everyone.
            leader.kill()
            rest = [n for n in c.nodes if n is not leader]
            new_leader = c.leader(among=rest, timeout=20)
            marks, before = log_marks(c), log_sizes(secs)
            t = time.monotonic()
            check(update(new_leader.dns_port, ZONE,
                         adds=[("after-kill." + ZONE, 60, "A", "192.0.2.78")]) == 0,
                  "UPDATE after the kill")
            serial, count = same_zones(new_leader, secs, "the leader killed, an UPDATE")
            lag = time.monotonic() - t
            check_notified(new_leader, secs, serial)
            check_ixfr_only(c, secs, marks, "the kill and an UPDATE")
            check_secondary_logs(secs, before, serial)
            ok("leader %s killed: the new leader %s notified, Knot, NSD and BIND took an IXFR "
               "to serial %d after %.0f ms" % (leader.name, new_leader.name, serial, lag * 1000))
        finally:
            for s in secs:
                s.stop()
    ok("notify_interop took %.1f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    run_main(main)
