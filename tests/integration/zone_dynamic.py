#!/usr/bin/python3
"""tests/integration/zone_dynamic.py — dynamic changes live with zone files
(issue #14 item 4), on a 3-node cluster of real processes. n0 loads
dyn.test from its file; UPDATEs go to the DNS port (dnspython dns.update,
TSIG-signed, ACL allowing the key), through followers and the leader.

Needs the DNS side of UPDATE (branch r14-server: opcode UPDATE, TSIG, ACL);
on r14-core alone the first UPDATE times out and the test fails there.

- UPDATE adds dyn1 A, dyn2 TXT and deletes the file's old A: NOERROR, every
  node serves it, the SOA serial went up by one per UPDATE (increment);
- the file changes an unrelated line (txt) and n0 gets SIGHUP: every node
  serves the new txt AND still the UPDATE's records (dyn1, dyn2, old gone),
  the serial moves forward once more (the file's own serial did not);
- a file with a newer SOA serial sets that serial (the dynamic records stay);
- a file whose change conflicts with the current zone (a CNAME where UPDATE
  put an A) is refused: the zone stays as it was, n0 logs why;
- `zone show dyn.test.` prints a master file that dnspython parses and that
  holds exactly the records the nodes serve (dyn1 included);
- the whole cluster stops and starts again (n0 reloads its unchanged file
  at start): every update is still there, and the same serial;
- the same file sent again by a SIGHUP changes nothing (serial unchanged).
"""
import base64
import os
import signal
import sys
import time

import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update
import dns.zone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, check, ok, run_main, wait_for  # noqa: E402

ZONE = "dyn.test."
SECRET = base64.b64encode(os.urandom(32)).decode()
KEYRING = dns.tsigkeyring.from_text({"update-key.": ("hmac-sha256", SECRET)})


def zone_text(serial, txt="hello", extra=""):
    return ("$TTL 60\n$ORIGIN dyn.test.\n"
            "@ 3600 SOA ns1 hostmaster %d 3600 600 604800 60\n"
            "@ 3600 NS ns1\nns1 60 A 192.0.2.1\n"
            "old 60 A 192.0.2.9\n"
            "txt 60 TXT \"%s\"\n%s" % (serial, txt, extra))


def update(node, build):
    u = dns.update.UpdateMessage(ZONE, keyring=KEYRING, keyname="update-key.",
                                 keyalgorithm="hmac-sha256")
    build(u)
    r = dns.query.tcp(u, "127.0.0.1", port=node.dns_port, timeout=5)
    return dns.rcode.to_text(r.rcode())


def serial_of(node):
    rc, got = node.query(ZONE, "SOA")
    check(rc == "NOERROR" and got, "%s: SOA query %s %s" % (node.name, rc, got))
    return int(got[0].split()[2])


def everywhere(c, name, want, rdtype="A", timeout=5):
    for n in c.running():
        wait_for("%s %s %s = %s on %s" % (name, rdtype, ZONE, want, n.name), timeout,
                 lambda n=n: n.resolves(name, want, rdtype))


def nowhere(c, name, rdtype="A", timeout=5):
    for n in c.running():
        def gone(n=n):
            try:
                rc, got = n.query(name, rdtype)
            except Exception:  # noqa: BLE001
                return False
            return not got
        wait_for("%s %s gone on %s" % (name, rdtype, n.name), timeout, gone)


def serial_everywhere(c, want, timeout=5):
    for n in c.running():
        wait_for("serial %d on %s" % (want, n.name), timeout, lambda n=n: serial_of(n) == want)


def served_records(node):
    """The records `zone show` prints, parsed by dnspython, as a set of
    (name, type, rdata text)."""
    text = node.admin("zone show " + ZONE, multi=True)
    check("ERROR" not in text.splitlines()[0], "zone show: %s" % text[:200])
    z = dns.zone.from_text(text, origin=ZONE, relativize=False, check_origin=True)
    out = set()
    for name, rds in z.iterate_rdatasets():
        for rd in rds:
            out.add((name.to_text(), dns.rdatatype.to_text(rds.rdtype), rd.to_text()))
    return out


def main():
    with Cluster("zonedyn") as c:
        keyfile = c.write_file("update.key", 'key "update-key" {\n\talgorithm hmac-sha256;\n'
                               '\tsecret "%s";\n};\n' % SECRET)
        cfg = c.write_file("node.yaml", "tsig.keyfile: %s\nacl:\n  - zones: [\"*\"]\n"
                           "    actions: [update]\n    key: update-key\n" % keyfile)
        zpath = c.write_file("dyn.test.zone", zone_text(10))
        n0 = c.add_node("n0", zone_files=[zpath], join=None, extra=["-config", cfg])
        n0.start()
        for name in ("n1", "n2"):
            c.add_node(name, join=n0, extra=["-config", cfg]).start()
        c.wait_voters(["n0", "n1", "n2"])
        everywhere(c, "old.dyn.test.", ["192.0.2.9"])
        serial_everywhere(c, 10)

        # UPDATEs through a follower and through the leader
        lead = c.leader()
        follower = [n for n in c.nodes if n is not lead][0]
        check(update(follower, lambda u: u.add("dyn1", 60, "A", "192.0.2.77")) == "NOERROR",
              "add dyn1")
        check(update(lead, lambda u: (u.add("dyn2", 60, "TXT", "\"dynamic\""),
                                      u.delete("old", "A"))) == "NOERROR", "add dyn2, del old")
        everywhere(c, "dyn1.dyn.test.", ["192.0.2.77"])
        everywhere(c, "dyn2.dyn.test.", ["\"dynamic\""], "TXT")
        nowhere(c, "old.dyn.test.")
        serial_everywhere(c, 12)
        ok("UPDATEs applied on every node, serial 10 -> 12 (one bump per UPDATE)")

        # a reload of an unrelated line keeps every dynamic change
        c.write_file("dyn.test.zone", zone_text(10, txt="changed"))
        n0.signal(signal.SIGHUP)
        everywhere(c, "txt.dyn.test.", ["\"changed\""], "TXT")
        everywhere(c, "dyn1.dyn.test.", ["192.0.2.77"])
        everywhere(c, "dyn2.dyn.test.", ["\"dynamic\""], "TXT")
        nowhere(c, "old.dyn.test.")
        serial_everywhere(c, 13)
        ok("SIGHUP with an unrelated change: applied, UPDATE's records kept, serial 13")

        # a newer file serial sets the serial
        c.write_file("dyn.test.zone", zone_text(500, txt="changed"))
        n0.signal(signal.SIGHUP)
        serial_everywhere(c, 500)
        everywhere(c, "dyn1.dyn.test.", ["192.0.2.77"])
        ok("a file with a newer serial sets it (500); dynamic records kept")

        # a conflicting file change is refused, the zone stays
        c.write_file("dyn.test.zone",
                     zone_text(501, txt="conflict", extra="dyn1 60 CNAME ns1\n"))
        n0.signal(signal.SIGHUP)
        wait_for("n0 logs the refused reload", 10,
                 lambda: "conflict with the current zone" in n0.log()
                 or "refused, the zone stays" in n0.log())
        time.sleep(0.3)
        for n in c.running():
            check(serial_of(n) == 500, "%s serial after refused reload" % n.name)
            check(n.resolves("txt.dyn.test.", ["\"changed\""], "TXT"),
                  "%s txt after refused reload" % n.name)
        ok("a file conflicting with dynamic data is refused, the zone unchanged")
        c.write_file("dyn.test.zone", zone_text(500, txt="changed"))

        # zone show is a master file holding what is served
        shown = served_records(n0)
        check(("dyn1.dyn.test.", "A", "192.0.2.77") in shown, "zone show lacks dyn1: %s" % shown)
        check(not any(r[0] == "old.dyn.test." for r in shown), "zone show still has old")
        for name, rtype, rdata in shown:
            if rtype == "SOA":
                continue
            check(n0.resolves(name, [x[2] for x in shown if x[0] == name and x[1] == rtype],
                              rtype), "served %s %s" % (name, rtype))
        ok("`zone show` prints a master file with every dynamic change (%d records)" % len(shown))

        # the whole cluster restarts: every update is kept
        for n in c.nodes:
            n.stop()
        for n in c.nodes:
            n.start(wait=False)
        for n in c.nodes:
            n.wait_up()
        c.leader(timeout=15)
        everywhere(c, "dyn1.dyn.test.", ["192.0.2.77"], timeout=10)
        everywhere(c, "dyn2.dyn.test.", ["\"dynamic\""], "TXT", timeout=10)
        nowhere(c, "old.dyn.test.")
        serial_everywhere(c, 500, timeout=10)
        check(served_records(n0) == shown, "zone after restart differs from before")
        ok("whole-cluster restart: every update kept, same serial, same records")

        # the same file again: nothing changes
        n0.signal(signal.SIGHUP)
        wait_for("n0 logs the second reload", 10,
                 lambda: n0.log().count("SIGHUP: reloading") >= 4)
        time.sleep(0.5)
        serial_everywhere(c, 500)
        ok("a reload of the unchanged file changes nothing")


if __name__ == "__main__":
    run_main(main)
