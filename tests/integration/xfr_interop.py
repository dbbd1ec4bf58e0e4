#!/usr/bin/python3
"""tests/integration/xfr_interop.py — real secondaries (Knot `knotd`, NSD,
BIND `named`, from Debian packages) following a 3-node dns-raft cluster
with TSIG on loopback (issue #15). Configurations: secondaries.py, the same
text as docs/operations.md "Secondaries and scale-out".

Steps, each ending with every secondary's zone equal to ours (kdig AXFR of
the secondary and of a cluster node, compared as sets):
  1. the initial transfer (AXFR);
  2. an UPDATE, then a refresh (knotc zone-refresh, nsd-control transfer,
     rndc refresh: NOTIFY is another change), then the transfer is an
     IXFR: our log says "IXFR (difference)" to every secondary, and
     Knot's and BIND's logs say IXFR;
  3. a SIGHUP reload of the zone file, a refresh, an IXFR again;
  4. the journal keeps 3 changesets (-zone.journal.max 3): after 5 more
     UPDATEs a secondary still at the old serial gets the whole zone in
     IXFR format, and follows.
"""
import os
import signal
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
RECORDS = 2000
KINDS = ("knot", "nsd", "bind")


def zone_text(serial, extra=()):
    lines = ["$TTL 60", "$ORIGIN " + ZONE,
             "@ 3600 SOA ns1 hostmaster %d 3600 600 604800 60" % serial,
             "@ 3600 NS ns1", "ns1 60 A 192.0.2.1",
             "@ 60 MX 10 mail", "mail 60 A 192.0.2.25", "txt 60 TXT \"hello world\""]
    for i in range(RECORDS):
        lines.append("host%d 60 A 10.0.%d.%d" % (i, i >> 8, i & 255))
    return "\n".join(lines + list(extra)) + "\n"


def soa_serial(port):
    try:
        r = dns.query.udp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=port, timeout=2)
    except Exception:  # noqa: BLE001
        return None
    return r.answer[0][0].serial if r.answer else None


def unsigned_axfr(port):
    serial, rrs, _ = axfr_set(port, ZONE, signed=False)
    return serial, rrs


def same_zone(c, secs, what):
    """Waits until every secondary serves our zone, then compares sets."""
    serial, ours, _ = axfr_set(c.nodes[0].dns_port, ZONE)
    for s in secs:
        wait_for("%s at serial %d (%s)" % (s.kind, serial, what), 60,
                 lambda s=s: soa_serial(s.port) == serial)
        sserial, theirs = unsigned_axfr(s.port)
        missing, extra = ours - theirs, theirs - ours
        check(not missing and not extra, "%s equals ours after %s: missing %s, extra %s"
              % (s.kind, what, sorted(missing)[:3], sorted(extra)[:3]))
    ok("%s: Knot, NSD and BIND serve serial %d, the same %d RRs as the cluster"
       % (what, serial, len(ours)))
    return serial


def served(c, since, what, source):
    """How many transfers of kind `what` ("IXFR (difference)", "AXFR", ...)
    the nodes logged to source since the marks."""
    needle = "transfer %s %s" % (what, ZONE)
    n = 0
    for node in c.nodes:
        for line in node.log()[since.get(node.name, 0):].splitlines():
            n += needle in line and (" to %s:" % source) in line
    return n


def log_marks(c):
    return {n.name: len(n.log()) for n in c.nodes}


def refresh_all(secs):
    for s in secs:
        r = s.refresh()
        check(r.returncode == 0, "%s refresh: %s" % (s.kind, (r.stdout + r.stderr).decode()[-300:]))


def check_ixfr_logged(c, secs, marks, before):
    for s in secs:
        wait_for("an IXFR difference served to %s" % s.kind, 60,
                 lambda s=s: served(c, marks, "IXFR (difference)", s.source) >= 1)
        check(served(c, marks, "AXFR", s.source) == 0 and
              served(c, marks, "IXFR (full zone)", s.source) == 0,
              "%s got no whole zone" % s.kind)
        text = s.log()[before[s.kind]:]
        if s.kind == "knot":
            check("IXFR, incoming" in text and "AXFR, incoming" not in text,
                  "Knot's log shows IXFR: %s" % text[-500:])
        elif s.kind == "bind":  # 9.18 logs no style at info: a difference is a few records
            check("Transfer completed: 1 messages, " in text and
                  "transferred serial" in text, "BIND's log: %s" % text[-500:])


def main():
    with Cluster("xfr-interop") as c:
        keyfile = c.write_file("xfr.key", xfrlib.key_file_text())
        cfg = c.write_file("node.yaml", xfrlib.node_config(keyfile))
        zone = c.write_file("example.com.zone", zone_text(1))
        extra = ["-config", cfg, "-zone.journal.max", "3"]
        n0 = c.add_node("n0", zone_files=[zone], join=None, extra=extra)
        n0.start()
        wait_for("zone on n0", 20, lambda: soa_serial(n0.dns_port) == 1)
        for name in ("n1", "n2"):
            c.add_node(name, join=n0, extra=extra).start()
        c.wait_voters(["n0", "n1", "n2"])
        wait_for("zone everywhere", 20, lambda: all(soa_serial(n.dns_port) == 1 for n in c.nodes))
        primaries = [n.dns_port for n in c.nodes]
        secs = [Secondary(k, c.dir, primaries, xfrlib.KEY_NAME, xfrlib.SECRET, ZONE)
                for k in KINDS]
        try:
            for s in secs:
                s.start()
                check(wait_port(s.port), "%s listens on %d" % (s.kind, s.port))
            same_zone(c, secs, "initial AXFR")
            leader = c.leader()

            # 2. UPDATE, refresh, IXFR.
            marks, before = log_marks(c), {s.kind: len(s.log()) for s in secs}
            check(update(leader.dns_port, ZONE, adds=[("new." + ZONE, 60, "A", "192.0.2.77")],
                         deletes=[("host5." + ZONE, "A")]) == 0, "UPDATE")
            time.sleep(1)
            refresh_all(secs)
            same_zone(c, secs, "UPDATE + refresh")
            check_ixfr_logged(c, secs, marks, before)
            ok("after the UPDATE every secondary took an IXFR")

            # 3. SIGHUP reload, refresh, IXFR.
            marks, before = log_marks(c), {s.kind: len(s.log()) for s in secs}
            with open(zone, "w") as f:
                f.write(zone_text(50, ["reload 60 TXT \"reloaded\""]))
            n0.signal(signal.SIGHUP)
            wait_for("the reload", 20, lambda: soa_serial(leader.dns_port) == 50)
            time.sleep(1)
            refresh_all(secs)
            same_zone(c, secs, "SIGHUP reload + refresh")
            check_ixfr_logged(c, secs, marks, before)
            ok("after the reload every secondary took an IXFR")

            # 4. Older than the journal: the whole zone.
            marks = log_marks(c)
            for k in range(5):
                check(update(leader.dns_port, ZONE,
                             adds=[("old%d." % k + ZONE, 60, "A", "192.0.2.8")]) == 0, "UPDATE")
            time.sleep(1)
            refresh_all(secs)
            same_zone(c, secs, "5 UPDATEs past a 3-changeset journal")
            for s in secs:
                full = served(c, marks, "IXFR (full zone)", s.source) + \
                    served(c, marks, "AXFR", s.source)
                check(full >= 1, "%s got the whole zone" % s.kind)
            ok("a serial older than the journal: the whole zone, and the secondaries follow")
        finally:
            for s in secs:
                s.stop()


if __name__ == "__main__":
    run_main(main)
