#!/usr/bin/python3
"""tests/integration/dns_xfr.py — AXFR and IXFR out of a 3-node cluster
(issue #15), with kdig and dig as clients. Every node has one TSIG key and
`acl: [{zones: ["*"], actions: [update, transfer], key: xfr-key}]`; the
zone has 5000 records, more than one 64 KiB message.

- AXFR signed, from every node (kdig -y and dig -y both verify the TSIG of
  every message): the same set of RRs everywhere, framed by the SOA, in
  more than one message;
- refusals: unsigned (no ACL rule without the key): REFUSED; a zone no
  node serves: NOTAUTH; AXFR over UDP keeps the query engine's NOTIMP;
- IXFR after nsupdate: the difference from the old serial (kdig IXFR=N
  shows the removed and added RRs between SOAs); the SOA alone when up to
  date; over UDP (kdig +notcp) the same small difference;
- IXFR after a SIGHUP reload (the file changed): the reload's difference;
- a serial older than the journal (-zone.journal.max 4, then more
  changes): the whole zone, in IXFR format;
- a client that asks for AXFR and does not read (a 4 KiB receive buffer)
  does not hold up others: TCP and UDP queries to the same node are
  answered at once meanwhile; when it reads at last, the whole stream
  arrives, correct;
- consistency: UPDATEs stream in (each adds u<k> and bumps the serial by
  one) while AXFRs run from a follower and the leader: every AXFR holds
  exactly u1..u<serial - base>, no more, no less: one version, never a mix.
"""
import os
import signal
import subprocess
import sys
import threading
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, check, ok, run_main, wait_for  # noqa: E402
import xfrlib  # noqa: E402
from xfrlib import axfr_set, kdig, parse_rrs, update  # noqa: E402

ZONE = "example.com."
RECORDS = 5000


def zone_text(serial, extra=()):
    lines = ["$TTL 60", "$ORIGIN " + ZONE,
             "@ 3600 SOA ns1 hostmaster %d 3600 600 604800 60" % serial,
             "@ 3600 NS ns1", "ns1 60 A 192.0.2.1"]
    for i in range(RECORDS):
        lines.append("host%d 60 A 10.%d.%d.%d" % (i, (i >> 16) & 255, (i >> 8) & 255, i & 255))
    lines += list(extra)
    return "\n".join(lines) + "\n"


def soa_serial(node):
    """The node's SOA serial, or None (no zone yet, or no answer)."""
    try:
        r = dns.query.udp(dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=node.dns_port,
                          timeout=2)
    except Exception:  # noqa: BLE001 - a node starting or stopped
        return None
    return r.answer[0][0].serial if r.answer else None


def axfr_everywhere(c):
    base = None
    for n in c.nodes:
        serial, rrs, msgs = axfr_set(n.dns_port, ZONE)
        check(msgs >= 2, "AXFR from %s in %d messages (zone > 64 KiB)" % (n.name, msgs))
        check(len(rrs) == RECORDS + 3, "AXFR from %s: %d RRs" % (n.name, len(rrs)))
        if base is None:
            base = (serial, rrs)
        check((serial, rrs) == base, "AXFR from %s equals the first node's" % n.name)
    # dig verifies the TSIG of every message too.
    p = subprocess.run(["dig", "@127.0.0.1", "-p", str(c.nodes[1].dns_port), "-y",
                        "hmac-sha256:%s:%s" % (xfrlib.KEY_NAME, xfrlib.SECRET), "AXFR", ZONE],
                       capture_output=True, timeout=60)
    out = p.stdout.decode()
    check(p.returncode == 0 and "Transfer failed" not in out and "tsig verify failure" not in out,
          "dig -y AXFR: %s" % out[-300:])
    check(set(parse_rrs(out)[:-1]) == base[1], "dig's AXFR equals kdig's")
    ok("AXFR signed from every node: %d RRs, several messages, TSIG verified by kdig and dig"
       % len(base[1]))


def refusals(c):
    n = c.nodes[2]
    _, text = kdig(n.dns_port, "AXFR", ZONE, signed=False)
    check("REFUSED" in text, "unsigned AXFR refused: %s" % text[-200:])
    _, text = kdig(n.dns_port, "AXFR", "nowhere.test.")
    check("NOTAUTH" in text, "AXFR of a zone not served: NOTAUTH: %s" % text[-200:])
    r = dns.query.udp(dns.message.make_query(ZONE, "AXFR"), "127.0.0.1", port=n.dns_port,
                      timeout=2)
    check(r.rcode() == dns.rcode.NOTIMP, "AXFR over UDP: NOTIMP, as before")
    ok("refused without the key, NOTAUTH for a zone not served, NOTIMP for AXFR over UDP")


def ixfr_rrs(port, serial, udp=False):
    rc, text = kdig(port, "IXFR=%d" % serial, ZONE, extra=["+notcp"] if udp else [])
    check(rc == 0 and ";; ERROR" not in text, "kdig IXFR=%d: %s" % (serial, text[-300:]))
    return parse_rrs(text)


def ixfr_after_update(c, leader, follower):
    s0 = agreed_serial(leader, follower)
    check(update(leader.dns_port, ZONE, adds=[("new1." + ZONE, 60, "A", "192.0.2.50")],
                 deletes=[("host7." + ZONE, "A")]) == 0, "UPDATE NOERROR")
    check(agreed_serial(leader, follower) == s0 + 1, "the UPDATE bumped the serial by one")
    for udp in (False, True):
        rrs = ixfr_rrs(follower.dns_port, s0, udp)
        types = [r[2] for r in rrs]
        check(types == ["SOA", "SOA", "A", "SOA", "A", "SOA"], "IXFR shape %s" % types)
        check(int(rrs[1][3].split()[2]) == s0 and int(rrs[0][3].split()[2]) == s0 + 1,
              "IXFR serials %s" % rrs)
        check(rrs[2][0] == "host7." + ZONE and rrs[4][0] == "new1." + ZONE, "IXFR RRs %s" % rrs)
    rrs = ixfr_rrs(follower.dns_port, s0 + 1)
    check(len(rrs) == 1 and rrs[0][2] == "SOA", "IXFR when up to date: the SOA alone")
    ok("IXFR after an UPDATE: the difference over TCP and UDP, the SOA alone when up to date")
    return s0 + 1


def ixfr_after_reload(c, zone_path, leader, follower, serial):
    with open(zone_path, "w") as f:
        f.write(zone_text(100, ["reloaded 60 TXT \"from the file\""]))
    leader.signal(signal.SIGHUP)
    wait_for("the reload on the follower", 15, lambda: soa_serial(follower) == 100)
    rrs = ixfr_rrs(follower.dns_port, serial)
    added = [r for r in rrs if r[2] == "TXT"]
    check(rrs[0][2] == "SOA" and int(rrs[0][3].split()[2]) == 100 and
          added == [("reloaded." + ZONE, 60, "TXT", '"from the file"')],
          "IXFR after the reload: %s" % rrs)
    ok("IXFR after a SIGHUP reload: the file's difference")


def agreed_serial(a, b):
    def same():
        sa, sb = soa_serial(a), soa_serial(b)
        return sa if sa is not None and sa == sb else None
    return wait_for("%s and %s at the same serial" % (a.name, b.name), 15, same)


def fallback_to_axfr(c, leader, follower):
    s0 = agreed_serial(leader, follower)
    for k in range(6):  # the journal keeps 4
        check(update(leader.dns_port, ZONE, adds=[("fb%d." % k + ZONE, 60, "A", "192.0.2.9")]) == 0,
              "UPDATE %d" % k)
    check(agreed_serial(leader, follower) == s0 + 6, "6 UPDATEs: serial %d + 6" % s0)
    rrs = ixfr_rrs(follower.dns_port, s0)
    check(len(rrs) >= RECORDS and rrs[0] == rrs[-1] and rrs[0][2] == "SOA",
          "IXFR from a serial older than the journal: the whole zone (%d RRs)" % len(rrs))
    rrs = ixfr_rrs(follower.dns_port, s0 + 3)
    check(len(rrs) < 20, "IXFR from a serial in the journal: a difference (%d RRs)" % len(rrs))
    ok("IXFR from a serial older than the journal falls back to the whole zone")


def slow_reader(c, node):
    import socket
    import struct
    q = dns.message.make_query(ZONE, "AXFR")
    q.use_tsig(xfrlib.KEYRING, keyname=xfrlib.KEY_NAME + ".", algorithm="hmac-sha256")
    wire = q.to_wire()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", node.dns_port))
    s.sendall(struct.pack("!H", len(wire)) + wire)
    time.sleep(0.5)  # the server fills what the socket takes, then waits
    for tcp in (True, False):
        t0 = time.monotonic()
        r = node.query("ns1." + ZONE, "A", timeout=2, tcp=tcp)
        check(r[0] == "NOERROR" and time.monotonic() - t0 < 1.0,
              "query (tcp=%s) answered at once beside a stalled transfer: %r" % (tcp, r))
    s.settimeout(20)
    buf, pos, tsig_ctx, got, soas = b"", 0, None, set(), 0
    while soas < 2:
        chunk = s.recv(65536)
        check(chunk, "the stream ended early")
        buf += chunk
        while pos + 2 <= len(buf):
            n = struct.unpack("!H", buf[pos:pos + 2])[0]
            if pos + 2 + n > len(buf):
                break
            m = dns.message.from_wire(buf[pos + 2:pos + 2 + n], keyring=xfrlib.KEYRING,
                                      request_mac=q.mac, tsig_ctx=tsig_ctx, multi=True, xfr=True)
            tsig_ctx = m.tsig_ctx
            pos += 2 + n
            for rrset in m.answer:
                for rd in rrset:
                    soas += rrset.rdtype == dns.rdatatype.SOA
                    text = rd.to_text()
                    if rrset.rdtype in (2, 5, 6, 12, 15):
                        text = text.lower()
                    got.add((rrset.name.to_text().lower(), rrset.ttl,
                             dns.rdatatype.to_text(rrset.rdtype), text))
    s.close()
    serial, want, _ = axfr_set(node.dns_port, ZONE)
    check(got == want, "the stalled transfer arrived whole once read (%d of %d RRs)"
          % (len(got), len(want)))
    ok("a transfer to a client that does not read holds up no one; it completes when read")


def consistency(c, leader, follower):
    base = agreed_serial(leader, follower)
    stop = threading.Event()
    errors = []

    def updater():
        k = 0
        while not stop.is_set() and k < 400:
            k += 1
            try:
                rc = update(leader.dns_port, ZONE, adds=[("u%d." % k + ZONE, 60, "A", "192.0.2.7")])
                if rc != 0:
                    errors.append("UPDATE u%d rcode %d" % (k, rc))
            except Exception as e:  # noqa: BLE001
                errors.append("UPDATE u%d: %s" % (k, e))
    t = threading.Thread(target=updater)
    t.start()
    seen = set()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and t.is_alive():
            for n in (follower, leader):
                serial, rrs, _ = axfr_set(n.dns_port, ZONE)
                us = {r[0] for r in rrs if r[0].startswith("u") and r[0][1:].split(".")[0].isdigit()}
                want = {"u%d.%s" % (k, ZONE) for k in range(1, serial - base + 1)}
                check(us == want, "AXFR at serial %d from %s holds exactly u1..u%d (got %d)"
                      % (serial, n.name, serial - base, len(us)))
                seen.add(serial)
    finally:
        stop.set()
        t.join()
    check(not errors, "UPDATEs: %s" % errors[:3])
    check(len(seen) >= 3, "AXFRs saw several versions while UPDATEs streamed: %s" % sorted(seen))
    ok("%d AXFRs during a stream of UPDATEs: each exactly one version (%d versions seen)"
       % (len(seen), len(seen)))


def main():
    with Cluster("dns-xfr") as c:
        keyfile = c.write_file("xfr.key", xfrlib.key_file_text())
        cfg = c.write_file("node.yaml", xfrlib.node_config(keyfile))
        zone = c.write_file("example.com.zone", zone_text(1))
        extra = ["-config", cfg, "-zone.journal.max", "4"]
        n0 = c.add_node("n0", zone_files=[zone], join=None, extra=extra)
        n0.start()
        wait_for("zone on n0", 20, lambda: soa_serial(n0) == 1)
        for name in ("n1", "n2"):
            c.add_node(name, join=n0, extra=extra).start()
        c.wait_voters(["n0", "n1", "n2"])
        wait_for("zone on every node", 20, lambda: all(soa_serial(n) == 1 for n in c.nodes))
        leader = c.leader()
        follower = [n for n in c.nodes if n is not leader][0]
        axfr_everywhere(c)
        refusals(c)
        slow_reader(c, follower)
        serial = ixfr_after_update(c, leader, follower)
        ixfr_after_reload(c, zone, n0, follower, serial)
        fallback_to_axfr(c, leader, follower)
        consistency(c, leader, follower)


if __name__ == "__main__":
    run_main(main)
