#!/usr/bin/python3
"""tests/integration/notify.py — NOTIFY out (RFC 1996, issue #15 item 3)
from a 3-node cluster to NOTIFY receivers written here with dnspython, on
loopback UDP. Every node has the same YAML `notify:` list naming four
receivers for example.com.:

- R1 answers (unsigned); it can be paused (silent) or made hostile;
- R2 has a TSIG key: it verifies every request with the key (dnspython
  raises on a bad MAC) and answers signed; it can be made to answer with
  a wrong key;
- R3 never answers (retransmissions, then giving up);

Checks, in order:
 1. a new leader notifies every receiver with the zone's current serial;
 2. an UPDATE (through a follower): the NOTIFY carries the new serial in
    its answer-section SOA, every node's SOA query shows that serial, and
    only the leader sends (no other node logs a NOTIFY; every NOTIFY comes
    from the leader's socket);
 3. R2's requests verify with the key and its signed answers end the
    retransmissions; answers signed with another key do not (retried,
    logged "TSIG missing or not valid");
 4. R3: 1 + `notify.retries` transmissions of the serial, with growing
    gaps (backoff), then nothing more ("given up" logged);
 5. coalescing: with R1 silent, 10 UPDATEs: R1 sees far fewer than 10
    NOTIFYs, each retransmission carries the newest serial, and once R1
    answers again the newest serial is acknowledged and nothing more comes;
 6. hostile answers (garbage, a wrong id, the right id from a wrong
    port) are ignored: the leader keeps retransmitting until the real
    answer, and logs at most 10 lines about them;
 7. the leader killed: the new leader notifies every receiver with the
    current serial, and the next UPDATE too;
 8. bad `notify:` rules (an unknown key, a name as target, "*") stop the
    daemon at start with exit status 2 and file:line.
"""
import base64
import os
import socket
import subprocess
import sys
import threading
import time

import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import BIN, Cluster, check, ok, run_main, wait_for, make_zone  # noqa: E402

ZONE = "example.com."
RETRY_MS = 300
RETRIES = 3
UPD_SECRET = base64.b64encode(os.urandom(32)).decode()
XFR_SECRET = base64.b64encode(os.urandom(32)).decode()
UPD_KEYRING = dns.tsigkeyring.from_text({"update-key.": ("hmac-sha256", UPD_SECRET)})
XFR_KEYRING = dns.tsigkeyring.from_text({"xfr-key.": ("hmac-sha256", XFR_SECRET)})
WRONG_KEYRING = dns.tsigkeyring.from_text(
    {"xfr-key.": ("hmac-sha256", base64.b64encode(os.urandom(32)).decode())})


class Receiver:
    """A NOTIFY receiver on 127.0.0.1:port. mode: 'answer', 'silent',
    'hostile' (sends garbage, a wrong id, and the right id from another
    port, but never the real answer), 'wrongkey' (answers signed with
    another key). Records (time, source port, id, serial, verified)."""

    def __init__(self, name, keyring=None):
        self.name = name
        self.keyring = keyring
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.mode = "answer"
        self.got = []
        self.bad = []
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def target(self):
        return "127.0.0.1:%d" % self.port

    def run(self):
        while not self.stopped:
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.handle(data, src)

    def handle(self, data, src):
        try:
            q = dns.message.from_wire(data, keyring=self.keyring)
        except Exception as e:  # noqa: BLE001 - a bad MAC, or garbage
            with self.lock:
                self.bad.append((time.monotonic(), repr(e)))
            return
        serial = None
        for rrset in q.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                serial = rrset[0].serial
        verified = self.keyring is not None and q.had_tsig
        with self.lock:
            self.got.append((time.monotonic(), src[1], q.id, serial, verified,
                             q.opcode(), q.question[0].name.to_text() if q.question else None))
            mode = self.mode
        if mode == "silent":
            return
        r = dns.message.make_response(q)
        if mode == "hostile":
            self.sock.sendto(b"\x00\x01garbage", src)
            r.id = (q.id + 1) & 0xffff
            self.sock.sendto(r.to_wire(), src)
            r.id = q.id
            other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            other.bind(("127.0.0.1", 0))
            other.sendto(r.to_wire(), src)
            other.close()
            return
        if mode == "wrongkey":
            r.use_tsig(WRONG_KEYRING, keyname="xfr-key.")
        self.sock.sendto(r.to_wire(), src)

    def set_mode(self, mode):
        with self.lock:
            self.mode = mode

    def since(self, t):
        with self.lock:
            return [g for g in self.got if g[0] >= t]

    def close(self):
        self.stopped = True
        self.sock.close()


def soa_serial(node):
    q = dns.message.make_query(ZONE, "SOA")
    r = dns.query.udp(q, "127.0.0.1", port=node.dns_port, timeout=1.0)
    return r.answer[0][0].serial


def update(node, name, addr="192.0.2.44"):
    u = dns.update.UpdateMessage(ZONE, keyring=UPD_KEYRING, keyname="update-key.",
                                 keyalgorithm="hmac-sha256")
    u.add(name, 60, "A", addr)
    r = dns.query.udp(u, "127.0.0.1", port=node.dns_port, timeout=5.0)
    check(r.rcode() == dns.rcode.NOERROR, "UPDATE %s: %s" % (name, dns.rcode.to_text(r.rcode())))


def wait_serial(rcv, serial, since, timeout=10, what=""):
    return wait_for("%s: %s gets a NOTIFY with serial %d" % (what, rcv.name, serial), timeout,
                    lambda: [g for g in rcv.since(since) if g[3] == serial])


def notify_lines(node):
    return [l for l in node.log().splitlines() if ": NOTIFY to " in l or "NOTIFY to " in l]


def config_text(keyfile, r1, r2, r3):
    return ("tsig.keyfile: %s\n"
            "raft.heartbeat: \"100\"\n"
            "raft.election: \"400\"\n"
            "notify.retry: \"%d\"\n"
            "notify.retries: \"%d\"\n"
            "acl:\n"
            "  - zones: [\"*\"]\n"
            "    actions: [update]\n"
            "    key: update-key\n"
            "notify:\n"
            "  - zones: [%s]\n"
            "    targets: [\"%s\", \"%s\"]\n"
            "  - zones: %s\n"
            "    targets: \"%s\"\n"
            "    key: xfr-key\n"
            % (keyfile, RETRY_MS, RETRIES, ZONE, r1.target(), r3.target(), ZONE, r2.target()))


def bad_configs(c, keyfile):
    cases = [
        ("notify:\n  - zones: [example.com.]\n    targets: [\"127.0.0.1:53\"]\n    key: nokey\n",
         "not in any tsig.keyfile"),
        ("notify:\n  - zones: [example.com.]\n    targets: [\"ns1.example.net:53\"]\n",
         "an address, not a name"),
        ("notify:\n  - zones: [\"*\"]\n    targets: [\"127.0.0.1:53\"]\n", "name each zone"),
        ("notify:\n  - zones: [example.com.]\n    targets: [\"127.0.0.1:53\"]\n    port: 5\n",
         "unknown key \"port\""),
        ("notify:\n  - zones: [example.com.]\n", "needs targets"),
    ]
    for i, (text, want) in enumerate(cases):
        path = c.write_file("bad%d.yaml" % i, "tsig.keyfile: %s\n%s" % (keyfile, text))
        p = subprocess.run([BIN, "-id", "bad", "-config", path, "-data.dir",
                            os.path.join(c.dir, "bad"), "-dns.addr", "127.0.0.1:0",
                            "-raft.addr", "127.0.0.1:0"],
                           capture_output=True, timeout=20, cwd=c.dir)
        out = (p.stdout + p.stderr).decode(errors="replace")
        check(p.returncode == 2 and want in out and ("bad%d.yaml:" % i) in out,
              "bad notify rule %r: exit %d, want 2 and %r: %s" % (text, p.returncode, want, out))
    ok("bad notify: rules stop the daemon with exit 2 and file:line (%d cases)" % len(cases))


def first_notifies(c, leader, rcvs, t0):
    serial = soa_serial(leader)
    for r in rcvs:
        wait_serial(r, serial, t0, what="new leader")
    ok("a new leader notifies every receiver with the current serial %d" % serial)


def update_notifies(c, leader, follower, r1, r2):
    t = time.monotonic()
    before = soa_serial(leader)
    update(follower, "u1." + ZONE)
    new = before + 1
    g = wait_serial(r1, new, t, what="UPDATE")
    for n in c.nodes:
        wait_for("%s's SOA shows serial %d" % (n.name, new), 5, lambda n=n: soa_serial(n) == new)
    check(g[0][5] == dns.opcode.NOTIFY and g[0][6] == ZONE,
          "the NOTIFY has opcode NOTIFY and the zone as question: %r" % (g[0],))
    for n in c.nodes:
        if n is not leader:
            check(not notify_lines(n), "%s (not leader) sent NOTIFYs: %s" % (n.name, notify_lines(n)))
    ports = {x[1] for x in r1.since(t)}
    check(len(ports) == 1, "NOTIFYs came from one socket: %s" % ports)
    ok("UPDATE: NOTIFY with the new serial %d in the answer SOA; every node's SOA shows it; "
       "only the leader sends (%d NOTIFY lines in its log, none elsewhere)" % (new, len(notify_lines(leader))))
    wait_serial(r2, new, t, what="signed")
    check(all(x[4] for x in r2.since(t)), "every NOTIFY to R2 verified with xfr-key")
    time.sleep(RETRY_MS * 3 / 1000.0)
    sent = [x for x in r2.since(t) if x[3] == new]
    check(len(sent) == 1, "R2's signed answer ended the retransmissions: got %d NOTIFYs" % len(sent))
    ok("TSIG: NOTIFY to R2 signed with xfr-key and verified; its signed answer acknowledged")
    return new


def wrong_key(c, leader, follower, r2, serial):
    r2.set_mode("wrongkey")
    t = time.monotonic()
    update(follower, "u2." + ZONE)
    serial += 1
    wait_for("R2 gets the serial %d again (answer with a wrong key ignored)" % serial, 10,
             lambda: len([x for x in r2.since(t) if x[3] == serial]) >= 2)
    check("TSIG missing or not valid" in leader.log(), "leader logs the bad TSIG answer")
    r2.set_mode("answer")
    ok("an answer signed with another key does not acknowledge: retransmitted, logged")
    return serial


def silent_target(r3_leader, r3, serial, t):
    want = 1 + RETRIES
    total_ms = sum(min(RETRY_MS * 2 ** i, 60000) for i in range(want))
    time.sleep(total_ms / 1000.0 + 1.5)
    # The first serial's NOTIFY is usually still unanswered when the
    # UPDATE comes: the new serial is coalesced into it, and gets 1 +
    # RETRIES transmissions of its own.
    got = [x for x in r3.since(t) if x[3] == serial]
    check(len(got) == want, "R3 (silent): %d transmissions of serial %d (all: %s), want %d"
          % (len(got), serial, [x[3] for x in r3.since(t)], want))
    gaps = [b[0] - a[0] for a, b in zip(got, got[1:])]
    check(all(b > a * 1.4 for a, b in zip(gaps, gaps[1:])), "gaps grow (backoff): %s" % gaps)
    check("given up unanswered" in r3_leader.log(), "the leader logs that it gave up")
    ok("R3 never answers: %d transmissions, gaps %s s (backoff), then given up"
       % (len(got), ["%.2f" % g for g in gaps]))


def coalescing(c, follower, r1, serial):
    r1.set_mode("silent")
    t = time.monotonic()
    for i in range(10):
        update(follower, "burst%d.%s" % (i, ZONE))
    final = serial + 10
    time.sleep(RETRY_MS * 1.5 / 1000.0)
    r1.set_mode("answer")
    wait_serial(r1, final, t, what="coalesced")
    time.sleep(RETRY_MS * 4 / 1000.0)
    got = r1.since(t)
    check(len(got) < 6, "R1 got %d NOTIFYs for 10 quick UPDATEs (coalescing): %s"
          % (len(got), [x[3] for x in got]))
    check(got[-1][3] == final, "the last NOTIFY carries the newest serial %d: %s" % (final, got[-1]))
    retrans = got[1:]
    check(all(x[3] == final for x in retrans[-2:]), "retransmissions carry the newest serial")
    ok("coalescing: 10 UPDATEs while R1 was silent -> %d NOTIFYs, serials %s; the newest acknowledged"
       % (len(got), [x[3] for x in got]))
    return final


def hostile(c, leader, follower, r1, serial):
    r1.set_mode("hostile")
    t = time.monotonic()
    update(follower, "hostile." + ZONE)
    serial += 1
    wait_for("R1 gets serial %d 3 times (hostile answers ignored)" % serial, 10,
             lambda: len([x for x in r1.since(t) if x[3] == serial]) >= 3)
    r1.set_mode("answer")
    wait_for("the real answer stops the retransmissions", 10,
             lambda: time.monotonic() - r1.since(t)[-1][0] > RETRY_MS * 8 / 1000.0, interval=0.2)
    lines = [l for l in leader.log().splitlines() if "response from" in l and "ignored" in l]
    check(lines and len(lines) <= 10, "hostile answers logged, at most 10 lines: %d" % len(lines))
    whys = " ".join(lines)
    for why in ("shorter than a header", "no NOTIFY outstanding", "not from a target"):
        check(why in whys, "reason %r logged: %s" % (why, lines[:4]))
    ok("hostile answers (garbage, wrong id, wrong port) ignored, %d log lines; retransmitted until "
       "the real answer" % len(lines))
    return serial


def leader_killed(c, leader, r1, r2, serial):
    t = time.monotonic()
    leader.kill()
    rest = [n for n in c.nodes if n is not leader]
    new_leader = c.leader(among=rest, timeout=15)
    wait_serial(r1, serial, t, what="after the leader died")
    wait_serial(r2, serial, t, what="after the leader died (signed)")
    check("leading: notifying" in new_leader.log(), "the new leader says it notifies")
    t2 = time.monotonic()
    update(new_leader, "after-kill." + ZONE)
    wait_serial(r1, serial + 1, t2, what="UPDATE after the kill")
    ok("leader %s killed: the new leader %s notified every receiver with serial %d, then %d"
       % (leader.name, new_leader.name, serial, serial + 1))


def main():
    r1, r2, r3 = Receiver("R1"), Receiver("R2", XFR_KEYRING), Receiver("R3")
    r3.set_mode("silent")
    with Cluster("notify") as c:
        keyfile = c.write_file("keys.key",
                               'key "update-key" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n'
                               'key "xfr-key" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n'
                               % (UPD_SECRET, XFR_SECRET))
        bad_configs(c, keyfile)
        cfg = c.write_file("node.yaml", config_text(keyfile, r1, r2, r3))
        zone = c.write_file("example.com.zone", make_zone(ZONE, [("www", "A", "192.0.2.2")], serial=7))
        t0 = time.monotonic()
        n0 = c.add_node("n0", zone_files=[zone], join=None, extra=["-config", cfg])
        n0.start()
        for name in ("n1", "n2"):
            c.add_node(name, join=n0, extra=["-config", cfg]).start()
        c.wait_voters(["n0", "n1", "n2"])
        leader = c.leader()
        wait_for("example.com on every node", 10,
                 lambda: all(n.resolves("www." + ZONE, ["192.0.2.2"]) for n in c.nodes))
        first_notifies(c, leader, (r1, r2, r3), t0)
        follower = [n for n in c.nodes if n is not leader][0]
        serial = update_notifies(c, leader, follower, r1, r2)
        silent_target(leader, r3, serial, t0)
        serial = wrong_key(c, leader, follower, r2, serial)
        serial = coalescing(c, follower, r1, serial)
        serial = hostile(c, leader, follower, r1, serial)
        leader_killed(c, leader, r1, r2, serial)
    for r in (r1, r2, r3):
        r.close()


if __name__ == "__main__":
    run_main(main)
