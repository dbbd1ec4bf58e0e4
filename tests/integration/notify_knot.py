#!/usr/bin/python3
"""tests/integration/notify_knot.py — NOTIFY out (RFC 1996) to a real Knot
secondary (`knotd`, Debian `knot`) following a 3-node cluster with TSIG
on loopback. Knot's configuration is the one of docs/operations.md
"Secondaries and scale-out" (tests/integration/secondaries.py); its zone
refresh is 3600 s, so only a NOTIFY makes it transfer within the test.
Every node has `notify: [{zones: [example.com.], targets: [Knot], key:
xfr-key}]`.

 1. Knot takes the initial AXFR; its zone equals ours (kdig AXFR of both,
    compared as sets).
 2. An UPDATE, and nothing else: the leader sends a signed NOTIFY, Knot
    logs it, asks for the SOA and takes an IXFR ("IXFR, incoming"), and
    its zone equals ours again. Knot's signed answer acknowledged the
    NOTIFY (the leader logs no retransmission).
 3. The leader killed, an UPDATE through a survivor: the new leader
    notifies, Knot takes an IXFR from a living node, and its zone equals
    ours.
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


def same_zone(node, knot, what, timeout=30):
    serial, ours, _ = axfr_set(node.dns_port, ZONE)
    wait_for("Knot at serial %d (%s)" % (serial, what), timeout,
             lambda: soa_serial(knot.port) == serial)
    _, theirs, _ = axfr_set(knot.port, ZONE, signed=False)
    check(ours == theirs, "Knot equals ours after %s: missing %s, extra %s"
          % (what, sorted(ours - theirs)[:3], sorted(theirs - ours)[:3]))
    return serial, len(ours)


def main():
    with Cluster("notify-knot") as c:
        keyfile = c.write_file("xfr.key", xfrlib.key_file_text())
        cfg = os.path.join(c.dir, "node.yaml")
        zone = c.write_file("example.com.zone", zone_text(1))
        extra = ["-config", cfg]
        n0 = c.add_node("n0", zone_files=[zone], join=None, extra=extra)
        for name in ("n1", "n2"):
            c.add_node(name, join=n0, extra=extra)
        knot = Secondary("knot", c.dir, [n.dns_port for n in c.nodes], xfrlib.KEY_NAME,
                         xfrlib.SECRET, ZONE)
        c.write_file("node.yaml", xfrlib.node_config(
            keyfile, "notify:\n  - zones: [%s]\n    targets: [\"127.0.0.1:%d\"]\n    key: %s\n"
            % (ZONE, knot.port, xfrlib.KEY_NAME)))
        n0.start()
        wait_for("zone on n0", 20, lambda: soa_serial(n0.dns_port) == 1)
        for n in c.nodes[1:]:
            n.start()
        c.wait_voters(["n0", "n1", "n2"])
        try:
            knot.start()
            check(wait_port(knot.port), "knotd listens on %d" % knot.port)
            serial, count = same_zone(n0, knot, "the initial AXFR")
            ok("Knot took the initial AXFR: serial %d, %d RRs, the same as ours" % (serial, count))

            leader = c.leader()
            before = len(knot.log())
            t = time.monotonic()
            check(update(leader.dns_port, ZONE, adds=[("new." + ZONE, 60, "A", "192.0.2.77")],
                         deletes=[("host5." + ZONE, "A")]) == 0, "UPDATE")
            serial, count = same_zone(leader, knot, "an UPDATE (no refresh asked)", timeout=20)
            lag = time.monotonic() - t
            text = knot.log()[before:]
            check("notify, incoming" in text and "IXFR, incoming" in text
                  and "AXFR, incoming" not in text, "Knot's log shows NOTIFY then IXFR: %s"
                  % text[-600:])
            # (The NOTIFY of serial 1 went before knotd listened: serial 2
            # may be coalesced into its retransmission.)
            time.sleep(2.5)
            mine = [l for l in leader.log().splitlines()
                    if "serial %d: NOTIFY to 127.0.0.1:%d" % (serial, knot.port) in l]
            check(len(mine) == 1 and " again" not in mine[0],
                  "Knot's signed answer acknowledged the NOTIFY of serial %d (sent once): %s"
                  % (serial, mine))
            ok("UPDATE -> NOTIFY -> IXFR: Knot at serial %d after %.0f ms, the same %d RRs"
               % (serial, lag * 1000, count))

            before = len(knot.log())
            leader.kill()
            rest = [n for n in c.nodes if n is not leader]
            new_leader = c.leader(among=rest, timeout=20)
            check(update(rest[0].dns_port, ZONE,
                         adds=[("after-kill." + ZONE, 60, "A", "192.0.2.78")]) == 0,
                  "UPDATE after the kill")
            serial, count = same_zone(rest[0], knot, "the leader killed, an UPDATE", timeout=30)
            text = knot.log()[before:]
            check("IXFR, incoming" in text and "AXFR, incoming" not in text,
                  "Knot took an IXFR after the kill: %s" % text[-600:])
            check("NOTIFY to 127.0.0.1:%d" % knot.port in new_leader.log(),
                  "the new leader %s notified Knot" % new_leader.name)
            ok("leader %s killed: the new leader %s notified, Knot took an IXFR to serial %d"
               % (leader.name, new_leader.name, serial))
        finally:
            knot.stop()


if __name__ == "__main__":
    run_main(main)
