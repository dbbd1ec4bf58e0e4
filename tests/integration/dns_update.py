#!/usr/bin/python3
"""tests/integration/dns_update.py — RFC 2136 UPDATE with TSIG through a
3-node cluster of real processes (issue #14). Every node has the same YAML
config: one TSIG key (a BIND-format key file written here from random
bytes, as tsig-keygen would), and `acl: [{zones: ["*"], actions: [update],
key: update-key}]`; the leader loads example.com.

- BIND's `nsupdate -k` (UDP, and TCP with -v) and Knot's `knsupdate`,
  against the leader and against a follower: add an RR, delete an RR,
  delete an RRset, delete a name. After each NOERROR the answering node
  already serves the change, and every other node within half a heartbeat
  interval (-raft.heartbeat 400: the leader sends the new commit index at
  once, not with the next heartbeat).
- each prerequisite form (RFC 2136 §2.4.1-5), true and false, with
  dnspython's dns.update: YXDOMAIN / NXDOMAIN / YXRRSET / NXRRSET rcodes
  when false, nothing applied;
- refusals: no key (REFUSED), a key the server does not know (NOTAUTH,
  BADKEY), a bad signature (NOTAUTH, BADSIG), a stale time (NOTAUTH,
  BADTIME, the response signed with the server's time), a zone no node
  serves (NOTAUTH, §3.1.1), an update RR outside the zone (NOTZONE,
  §3.4.1.3);
- SIGHUP rereads the key files and the YAML acl: a key added works, for
  UPDATE, a signed query and `kdig -y` AXFR (a `transfer` rule added
  with it), a broken key file keeps the keys in use (file:line logged), a
  removed key is BADKEY for all three;
- a retransmitted UDP UPDATE (same bytes, source and port) gets the first
  answer and is not applied twice (a non-idempotent prerequisite makes the
  second application visible);
- compare-and-set: three clients on three nodes race UPDATEs guarded by
  the same "RRset exists with this value" prerequisite, 10 rounds: exactly
  one wins each round, the others get NXRRSET;
- bad ACL rules (an unknown key, a prefix with host bits, an unknown
  field) stop the daemon at start with exit status 2 and file:line;
- with two nodes stopped (no quorum), an UPDATE is answered SERVFAIL within
  -dns.update.timeout (1500 ms here), and over TCP too.
"""
import base64
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataset
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, check, ok, run_main, wait_for, make_zone  # noqa: E402

ZONE = "example.com."
HEARTBEAT_MS = 400
TIMEOUT_MS = 1500
SECRET = base64.b64encode(os.urandom(32)).decode()
KEYRING = dns.tsigkeyring.from_text({"update-key.": ("hmac-sha256", SECRET)})
WRONG_SECRET = dns.tsigkeyring.from_text({"update-key.": ("hmac-sha256",
                                                          base64.b64encode(os.urandom(32)).decode())})
UNKNOWN_KEY = dns.tsigkeyring.from_text({"nobody.": ("hmac-sha256", SECRET)})


def config_text(keyfile):
    return ("tsig.keyfile: %s\n"
            "raft.heartbeat: \"%d\"\n"
            "raft.election: \"%d\"\n"
            "dns.update.timeout: \"%d\"\n"
            "acl:\n"
            "  - zones: [\"*\"]\n"
            "    actions: [update]\n"
            "    key: update-key\n" % (keyfile, HEARTBEAT_MS, HEARTBEAT_MS * 4, TIMEOUT_MS))


def answer(node, name, rdtype="A", tcp=False):
    try:
        return node.query(name, rdtype, tcp=tcp)
    except Exception as e:  # noqa: BLE001 - timeouts while a node is down
        return ("EXC %s" % type(e).__name__, [])


def send_update(node, upd, tcp=False, timeout=4.0):
    fn = dns.query.tcp if tcp else dns.query.udp
    return fn(upd, "127.0.0.1", port=node.dns_port, timeout=timeout)


def new_update(keyring=KEYRING, zone=ZONE):
    if keyring is None:
        return dns.update.UpdateMessage(zone)
    return dns.update.UpdateMessage(zone, keyring=keyring, keyname="update-key.",
                                    keyalgorithm="hmac-sha256")


def expect_everywhere(cluster, answering, name, want, rdtype="A", what=""):
    """The answering node serves `want` already; every other node within
    half a heartbeat interval."""
    got = answer(answering, name, rdtype)
    check(got == ("NOERROR", sorted(want)) or (not want and got[0] == "NXDOMAIN")
          or (not want and got == ("NOERROR", [])),
          "%s: %s answers %s right after NOERROR, want %s" % (what, answering.name, got, want))
    t0 = time.monotonic()
    limit = HEARTBEAT_MS / 2000.0
    for n in cluster.nodes:
        if n is answering or not n.alive():
            continue
        while True:
            g = answer(n, name, rdtype)
            good = g == ("NOERROR", sorted(want)) or (not want and g[0] in ("NXDOMAIN",)) \
                or (not want and g == ("NOERROR", []))
            if good:
                break
            check(time.monotonic() - t0 < limit,
                  "%s: %s still answers %s %.0f ms after the reply (heartbeat %d ms)"
                  % (what, n.name, g, (time.monotonic() - t0) * 1000, HEARTBEAT_MS))
            time.sleep(0.005)


def run_client(argv, script):
    p = subprocess.run(argv, input=script.encode(), capture_output=True, timeout=30)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


def nsupdate(node, keyfile, body, tcp=False):
    argv = ["nsupdate", "-k", keyfile] + (["-v"] if tcp else [])
    script = "server 127.0.0.1 %d\nzone %s\n%ssend\n" % (node.dns_port, ZONE, body)
    return run_client(argv, script)


def knsupdate(node, body, tcp=False):
    argv = ["knsupdate", "-y", "hmac-sha256:update-key:" + SECRET] + (["-v"] if tcp else [])
    script = "server 127.0.0.1 %d\nzone %s\norigin %s\n%ssend\nanswer\n" % (
        node.dns_port, ZONE, ZONE, body)
    return run_client(argv, script)


def client_scenarios(cluster, keyfile, node, label, client, tcp):
    """Add an RR, delete an RR, delete an RRset, delete a name, with one
    client through one node."""
    pfx = "%s-%s" % (label, "tcp" if tcp else "udp")
    host = "%s.%s" % (pfx, ZONE)

    def run(body):
        if client == "nsupdate":
            rc, out = nsupdate(node, keyfile, body, tcp)
        else:
            rc, out = knsupdate(node, body, tcp)
        check(rc == 0 and "NOERROR" in out.upper() if client == "knsupdate" else rc == 0,
              "%s %s via %s failed (%d): %s" % (client, body.strip(), node.name, rc, out))
    run("update add %s 60 A 192.0.2.10\nupdate add %s 60 A 192.0.2.11\n"
        "update add %s 60 TXT \"hello\"\n" % (host, host, host))
    expect_everywhere(cluster, node, host, ["192.0.2.10", "192.0.2.11"], what=pfx + " add")
    run("update delete %s 60 A 192.0.2.10\n" % host)
    expect_everywhere(cluster, node, host, ["192.0.2.11"], what=pfx + " delete RR")
    run("update delete %s A\n" % host)
    expect_everywhere(cluster, node, host, [], what=pfx + " delete RRset")
    expect_everywhere(cluster, node, host, ['"hello"'], "TXT", what=pfx + " TXT kept")
    run("update delete %s\n" % host)
    expect_everywhere(cluster, node, host, [], "TXT", what=pfx + " delete name")
    ok("%s through %s (%s): add, delete RR, delete RRset, delete name; served at once"
       % (client, node.name, "TCP" if tcp else "UDP"))


def rcode_of(r):
    return dns.rcode.to_text(r.rcode())


def prerequisites(cluster, node):
    """Each form of RFC 2136 §2.4, true then false."""
    host = "pre.%s" % ZONE
    u = new_update()
    u.add(host, 60, "A", "192.0.2.50")
    check(rcode_of(send_update(node, u)) == "NOERROR", "setting up pre")
    cases = [
        # (what, prerequisite setter, rcode when it is false)
        ("name in use", lambda u, h: u.present(h), "NXDOMAIN"),
        ("RRset exists (value independent)", lambda u, h: u.present(h, "A"), "NXRRSET"),
        ("RRset exists (value dependent)",
         lambda u, h: u.present(h, dns.rdataset.from_text("IN", "A", 0, "192.0.2.50")), "NXRRSET"),
        ("name not in use", lambda u, h: u.absent(h), "YXDOMAIN"),
        ("RRset does not exist", lambda u, h: u.absent(h, "A"), "YXRRSET"),
    ]
    for what, setter, false_rcode in cases:
        positive = not what.startswith("name not") and not what.startswith("RRset does not")
        true_host = host if positive else "nothing-here." + ZONE
        false_host = "nothing-here." + ZONE if positive else host
        for h, want in ((true_host, "NOERROR"), (false_host, false_rcode)):
            mark = "mark-%d.%s" % (int(time.monotonic() * 1e6), ZONE)
            u = new_update()
            setter(u, h)
            u.add(mark, 60, "A", "192.0.2.99")
            got = rcode_of(send_update(node, u))
            check(got == want, "prerequisite %s on %s: %s, want %s" % (what, h, got, want))
            applied = answer(node, mark)[1] == ["192.0.2.99"]
            check(applied == (want == "NOERROR"),
                  "prerequisite %s on %s: update applied=%s with %s" % (what, h, applied, got))
    # Value-dependent with another value is false too.
    u = new_update()
    u.present(host, dns.rdataset.from_text("IN", "A", 0, "192.0.2.51"))
    u.add("never." + ZONE, 60, "A", "192.0.2.1")
    check(rcode_of(send_update(node, u)) == "NXRRSET", "value-dependent with another value")
    ok("prerequisites through %s: all five forms, true (applied) and false (rcode, not applied)"
       % node.name)


def refusals(cluster, node):
    u = new_update(None)
    u.add("nokey." + ZONE, 60, "A", "192.0.2.1")
    r = send_update(node, u)
    check(rcode_of(r) == "REFUSED", "no key: %s" % rcode_of(r))

    u = dns.update.UpdateMessage(ZONE, keyring=UNKNOWN_KEY, keyname="nobody.",
                                 keyalgorithm="hmac-sha256")
    u.add("badkey." + ZONE, 60, "A", "192.0.2.1")
    got = tsig_outcome(raw_udp(node, u.to_wire()), UNKNOWN_KEY, u.mac)
    check(got == (dns.rcode.NOTAUTH, dns.rcode.BADKEY), "unknown key: %s" % (got,))

    u = dns.update.UpdateMessage(ZONE, keyring=WRONG_SECRET, keyname="update-key.",
                                 keyalgorithm="hmac-sha256")
    u.add("badsig." + ZONE, 60, "A", "192.0.2.1")
    got = tsig_outcome(raw_udp(node, u.to_wire()), WRONG_SECRET, u.mac)
    check(got == (dns.rcode.NOTAUTH, dns.rcode.BADSIG), "bad signature: %s" % (got,))

    # A stale time: signed 1000 s ago (fudge 300). The response is signed
    # (RFC 8945 §5.2.3) with our key: dnspython verifies it, then raises
    # on its BADTIME error field.
    real = time.time
    try:
        time.time = lambda: real() - 1000
        u = new_update()
        u.add("stale." + ZONE, 60, "A", "192.0.2.1")
        wire = u.to_wire()
    finally:
        time.time = real
    got = tsig_outcome(raw_udp(node, wire), KEYRING, u.mac)
    check(got == (dns.rcode.NOTAUTH, dns.rcode.BADTIME), "stale time: %s" % (got,))
    for name in ("nokey", "badkey", "badsig", "stale"):
        check(answer(node, name + "." + ZONE)[1] == [], "%s was applied" % name)

    # RFC 2136 §3.1.1: a zone section naming a zone this server is not
    # authoritative for is NOTAUTH (Knot answers the same).
    u = new_update(zone="not-served.test.")
    u.add("x.not-served.test.", 60, "A", "192.0.2.1")
    r = send_update(node, u)
    check(rcode_of(r) == "NOTAUTH", "unserved zone: %s, want NOTAUTH" % rcode_of(r))
    # §3.4.1.3: an update RR outside the (served) zone named is NOTZONE,
    # and nothing of the message applies.
    u = new_update()
    u.add("inside-notzone." + ZONE, 60, "A", "192.0.2.1")
    u.add("x.not-served.test.", 60, "A", "192.0.2.1")
    r2 = send_update(node, u)
    check(rcode_of(r2) == "NOTZONE", "RR outside the zone: %s, want NOTZONE" % rcode_of(r2))
    check(answer(node, "inside-notzone." + ZONE)[1] == [], "NOTZONE message partly applied")
    ok("refusals through %s: no key REFUSED, BADKEY, BADSIG, BADTIME (signed), "
       "unserved zone NOTAUTH, RR outside the zone NOTZONE; nothing applied" % node.name)


def raw_udp(node, wire):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(wire, ("127.0.0.1", node.dns_port))
    data, _ = s.recvfrom(65535)
    s.close()
    return data


def tsig_outcome(data, keyring, request_mac):
    """(rcode, TSIG error) of a response, its TSIG checked by dnspython,
    which raises on a TSIG error field."""
    rcode = data[3] & 0xF
    try:
        r = dns.message.from_wire(data, keyring=keyring, request_mac=request_mac)
        return rcode, r.tsig_error
    except dns.tsig.PeerBadKey:
        return rcode, dns.rcode.BADKEY
    except dns.tsig.PeerBadSignature:
        return rcode, dns.rcode.BADSIG
    except dns.tsig.PeerBadTime:
        return rcode, dns.rcode.BADTIME


def retransmission(cluster, node):
    """The same datagram twice from the same socket: the second gets the
    first answer (NOERROR), though applying it again would fail its
    prerequisite (the name must not exist, and the first created it)."""
    host = "retx.%s" % ZONE
    u = new_update()
    u.absent(host)
    u.add(host, 60, "A", "192.0.2.77")
    wire = u.to_wire()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(4)
    s.sendto(wire, ("127.0.0.1", node.dns_port))
    first = dns.message.from_wire(s.recvfrom(65535)[0], keyring=KEYRING, request_mac=u.mac)
    s.sendto(wire, ("127.0.0.1", node.dns_port))
    second = dns.message.from_wire(s.recvfrom(65535)[0], keyring=KEYRING, request_mac=u.mac)
    check(rcode_of(first) == "NOERROR" and rcode_of(second) == "NOERROR",
          "retransmission: %s then %s (the second must repeat the first)"
          % (rcode_of(first), rcode_of(second)))
    # From another port the same bytes are a new request: applied, and fails.
    s2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s2.settimeout(4)
    s2.sendto(wire, ("127.0.0.1", node.dns_port))
    third = dns.message.from_wire(s2.recvfrom(65535)[0], keyring=KEYRING, request_mac=u.mac)
    check(rcode_of(third) == "YXDOMAIN", "same bytes from another port: %s" % rcode_of(third))
    s.close()
    s2.close()
    ok("retransmitted UDP UPDATE through %s: same answer, applied once; another source "
       "port is a new request" % node.name)


def compare_and_set(cluster):
    host = "cas.%s" % ZONE
    u = new_update()
    u.replace(host, 60, "TXT", '"v0"')
    check(rcode_of(send_update(cluster.nodes[0], u)) == "NOERROR", "cas setup")
    wait_for("cas on every node", 5,
             lambda: all(answer(n, host, "TXT")[1] == ['"v0"'] for n in cluster.nodes))
    for rnd in range(10):
        results = {}
        barrier = threading.Barrier(3)

        def client(i, node):
            u = new_update()
            u.present(host, dns.rdataset.from_text("IN", "TXT", 0, '"v%d"' % rnd))
            u.replace(host, 60, "TXT", '"v%d-by-%d"' % (rnd + 1, i))
            barrier.wait()
            results[i] = rcode_of(send_update(node, u))
        ts = [threading.Thread(target=client, args=(i, n)) for i, n in enumerate(cluster.nodes)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wins = [i for i, r in results.items() if r == "NOERROR"]
        check(len(wins) == 1 and sorted(r for r in results.values() if r != "NOERROR")
              == ["NXRRSET", "NXRRSET"], "round %d: results %s" % (rnd, results))
        # Move on: the winner's value becomes the next round's expected one.
        u = new_update()
        u.replace(host, 60, "TXT", '"v%d"' % (rnd + 1))
        check(rcode_of(send_update(cluster.nodes[0], u)) == "NOERROR", "cas reset")
        wait_for("cas value on every node", 5, lambda: all(
            answer(n, host, "TXT")[1] == ['"v%d"' % (rnd + 1)] for n in cluster.nodes))
    ok("compare-and-set: 10 rounds of 3 clients on 3 nodes, exactly one winner each")


def no_quorum(cluster, survivor, others):
    for n in others:
        n.stop()
    for tcp in (False, True):
        u = new_update()
        u.add("lonely.%s" % ZONE, 60, "A", "192.0.2.1")
        t0 = time.monotonic()
        r = send_update(survivor, u, tcp=tcp, timeout=TIMEOUT_MS / 1000.0 + 5)
        took = time.monotonic() - t0
        check(rcode_of(r) == "SERVFAIL", "no quorum (%s): %s" % ("TCP" if tcp else "UDP", rcode_of(r)))
        check(took < TIMEOUT_MS / 1000.0 + 2, "no quorum: answered after %.1f s" % took)
    ok("no quorum: SERVFAIL after about -dns.update.timeout (UDP and TCP)")


def bad_acl_refused(c, keyfile):
    """A rule naming a key that no key file defines, or a bad prefix, stops
    the daemon at start (exit 2, file:line: reason)."""
    for rule, why in (("    key: no-such-key\n", "no such TSIG key"),
                      ("    address: 10.0.0.1/8\n", "bits set beyond"),
                      ("    colour: red\n", "unknown key")):
        cfg = c.write_file("bad.yaml", "tsig.keyfile: %s\nacl:\n  - zones: [\"*\"]\n"
                           "    actions: [update]\n%s" % (keyfile, rule))
        n = c.add_node("bad%d" % len(c.nodes), join=None, extra=["-config", cfg])
        p = subprocess.run(n.argv(), capture_output=True, timeout=30, cwd=c.dir)
        out = (p.stdout + p.stderr).decode(errors="replace")
        check(p.returncode == 2 and why in out and "bad.yaml:" in out,
              "bad acl (%s): exit %d, %s" % (rule.strip(), p.returncode, out.strip()[-300:]))
        c.nodes.remove(n)
    ok("bad ACL rules stop the daemon at start with exit 2 and file:line: reason")


NEW_SECRET = base64.b64encode(os.urandom(32)).decode()
NEW_KEY = dns.tsigkeyring.from_text({"new-key.": ("hmac-sha256", NEW_SECRET)})


def key_text(name, secret):
    return 'key "%s" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' % (name, secret)


def new_key_outcome(node, name):
    u = dns.update.UpdateMessage(ZONE, keyring=NEW_KEY, keyname="new-key.",
                                 keyalgorithm="hmac-sha256")
    u.add(name, 60, "A", "192.0.2.77")
    return tsig_outcome(raw_udp(node, u.to_wire()), NEW_KEY, u.mac)


def new_key_query(node):
    """(rcode, TSIG error) of an SOA query signed with new-key (RFC 8945:
    a signed ordinary query, dns/tsigquery.c)."""
    q = dns.message.make_query(ZONE, "SOA")
    q.use_tsig(NEW_KEY, keyname="new-key.", algorithm="hmac-sha256")
    return tsig_outcome(raw_udp(node, q.to_wire()), NEW_KEY, q.mac)


def new_key_axfr(node):
    """kdig -y new-key AXFR on node: "ok" when the zone came (an SOA at
    both ends), else the rcode or TSIG error kdig reports."""
    argv = ["kdig", "@127.0.0.1", "-p", str(node.dns_port), "+time=10", "+retry=0",
            "-y", "hmac-sha256:new-key:" + NEW_SECRET, "AXFR", ZONE]
    p = subprocess.run(argv, capture_output=True, timeout=60)
    text = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    soas = [line for line in text.splitlines()
            if not line.startswith(";") and "\tSOA\t" in line.replace(" ", "\t")]
    if p.returncode == 0 and len(soas) >= 2:
        return "ok"
    for word in ("BADKEY", "NOTAUTH", "REFUSED", "BADSIG"):
        if word in text:
            return word
    return "failed: " + text[-300:]


def sighup_and_wait(node, marker):
    """SIGHUP, then waits for the node's log to say `marker` once more."""
    def count():
        with open(node.log_path, errors="replace") as f:
            return f.read().count(marker)
    before = count()
    node.signal(signal.SIGHUP)
    wait_for("%s logs %r" % (node.name, marker), 10, lambda: count() > before)


def sighup_reloads_keys(c, node, keyfile, cfg):
    """Issue 14 follow-up: SIGHUP rereads the key files and the YAML acl:
    a key added works after it, a broken file keeps the keys in use
    (file:line logged), a removed key is BADKEY again."""
    got = new_key_outcome(node, "hup0." + ZONE)
    check(got == (dns.rcode.NOTAUTH, dns.rcode.BADKEY), "new key before SIGHUP: %s" % (got,))
    got = new_key_axfr(node)
    check(got != "ok", "AXFR with the new key before SIGHUP: %s" % got)
    got = new_key_query(node)
    check(got == (dns.rcode.NOTAUTH, dns.rcode.BADKEY), "signed query before SIGHUP: %s" % (got,))
    with open(keyfile, "a") as f:
        f.write(key_text("new-key", NEW_SECRET))
    with open(cfg, "a") as f:
        f.write("  - zones: [\"*\"]\n    actions: [update, transfer]\n    key: new-key\n")
    sighup_and_wait(node, "SIGHUP: now 2 TSIG keys and 2 ACL rules")
    got = new_key_outcome(node, "hup1." + ZONE)
    check(got == (dns.rcode.NOERROR, dns.rcode.NOERROR), "added key after SIGHUP: %s" % (got,))
    got = new_key_axfr(node)
    check(got == "ok", "AXFR with the added key after SIGHUP: %s" % got)
    got = new_key_query(node)
    check(got == (dns.rcode.NOERROR, dns.rcode.NOERROR), "signed query after SIGHUP: %s" % (got,))
    expect_everywhere(c, node, "hup1." + ZONE, ["192.0.2.77"], what="UPDATE with the added key")
    # A change in the second rule alone (the keys the same) is a change too.
    with open(cfg) as f:
        two_rules = f.read()
    with open(cfg, "w") as f:
        f.write(two_rules.replace("actions: [update, transfer]\n    key: new-key",
                                  "actions: [update]\n    key: new-key"))
    sighup_and_wait(node, "SIGHUP: now 2 TSIG keys and 2 ACL rules")
    got = new_key_axfr(node)
    check(got != "ok", "AXFR with the new key after its transfer action went: %s" % got)
    with open(cfg, "w") as f:
        f.write(two_rules)
    sighup_and_wait(node, "SIGHUP: now 2 TSIG keys and 2 ACL rules")
    got = new_key_axfr(node)
    check(got == "ok", "AXFR with the new key after its transfer action came back: %s" % got)
    with open(keyfile) as f:
        good = f.read()
    with open(keyfile, "a") as f:
        f.write('key "broken" {\n\talgorithm hmac-sha256;\n')
    sighup_and_wait(node, "keeping the TSIG keys and ACL in use")
    with open(node.log_path, errors="replace") as f:
        log = f.read()
    check(re.search(r"update\.key:\d+: ", log) is not None, "no file:line for the broken key file")
    got = new_key_outcome(node, "hup2." + ZONE)
    check(got == (dns.rcode.NOERROR, dns.rcode.NOERROR), "key after a broken reload: %s" % (got,))
    with open(keyfile, "w") as f:
        f.write(good.replace(key_text("new-key", NEW_SECRET), ""))
    with open(cfg, "w") as f:
        f.write(config_text(keyfile))
    sighup_and_wait(node, "SIGHUP: now 1 TSIG keys and 1 ACL rules")
    got = new_key_outcome(node, "hup3." + ZONE)
    check(got == (dns.rcode.NOTAUTH, dns.rcode.BADKEY), "removed key after SIGHUP: %s" % (got,))
    got = new_key_axfr(node)
    check(got in ("BADKEY", "NOTAUTH"), "AXFR with the removed key after SIGHUP: %s" % got)
    got = new_key_query(node)
    check(got == (dns.rcode.NOTAUTH, dns.rcode.BADKEY), "removed key, signed query: %s" % (got,))
    u = new_update()
    u.add("hup4." + ZONE, 60, "A", "192.0.2.78")
    wire = u.to_wire()
    got = tsig_outcome(raw_udp(node, wire), KEYRING, u.mac)
    check(got == (dns.rcode.NOERROR, dns.rcode.NOERROR), "the old key after reloads: %s" % (got,))
    ok("SIGHUP on %s: an added key works (UPDATE, AXFR, signed query), a broken key file keeps the "
       "keys in use (file:line logged), a removed key is BADKEY (UPDATE, AXFR, signed query), the old "
       "key still works" % node.name)


def main():
    with Cluster("dns-update") as c:
        keyfile = c.write_file("update.key", 'key "update-key" {\n\talgorithm hmac-sha256;\n'
                               '\tsecret "%s";\n};\n' % SECRET)
        cfg = c.write_file("node.yaml", config_text(keyfile))
        bad_acl_refused(c, keyfile)
        zone = c.write_file("example.com.zone", make_zone(ZONE, [("www", "A", "192.0.2.2")]))
        n0 = c.add_node("n0", zone_files=[zone], join=None, extra=["-config", cfg])
        n0.start()
        wait_for("example.com on n0", 10, lambda: n0.resolves("www." + ZONE, ["192.0.2.2"]))
        for name in ("n1", "n2"):
            c.add_node(name, join=n0, extra=["-config", cfg]).start()
        c.wait_voters(["n0", "n1", "n2"])
        wait_for("example.com on every node", 10,
                 lambda: all(n.resolves("www." + ZONE, ["192.0.2.2"]) for n in c.nodes))
        leader = c.leader()
        follower = [n for n in c.nodes if n is not leader][0]

        for node, label in ((leader, "leader"), (follower, "follower")):
            for tcp in (False, True):
                client_scenarios(c, keyfile, node, "ns-" + label, "nsupdate", tcp)
            client_scenarios(c, keyfile, node, "kn-" + label, "knsupdate", False)
        prerequisites(c, follower)
        prerequisites(c, leader)
        refusals(c, follower)
        retransmission(c, follower)
        sighup_reloads_keys(c, follower, keyfile, cfg)
        compare_and_set(c)
        no_quorum(c, follower, [n for n in c.nodes if n is not follower])


if __name__ == "__main__":
    run_main(main)
