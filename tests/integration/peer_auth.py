#!/usr/bin/python3
"""tests/integration/peer_auth.py — peer authentication with a cluster key
(issue #12 item 1), with real processes:

- a 3-node cluster with one key forms through authenticated joins; kv
  set/get and DNS work on every node; the admin `raft join` is refused;
- a node with another key, and a node with no key, cannot join (a log line
  on both sides says why) and the members stay the same;
- a Python client that speaks the handshake with a wrong key is refused
  (REFUSE "wrong cluster key"); one that names the real key id (sniffed
  from the wire) but cannot make the proof is closed with "bad proof";
- a client with no key sends a forged v1 hello posing as a member, then a
  heartbeat, a RequestVote and an AppendEntries with a huge term: refused
  ("requires the cluster key"), and no node's term moves;
- a man in the middle between a joining node and a member flips one byte
  of a sealed record: the member closes the connection with "bad MAC"; the
  bytes of the next (good) connection, replayed on a fresh connection, fail
  with "bad proof"; the node joins through the honest relay;
- a peer holding the key, posing as a follower, sends the leader altered,
  forged, replayed, reordered, reflected, spliced (across records and
  across connections), truncated, oversized and cut-short records: each is
  refused whole, the connection closed with a log line, and the term kept;
  a keyed v2 hello (one MAC per frame) is refused naming both versions;
- key rotation without downtime: every node restarted in turn with
  [old, new], then [new, old], then [new]; a write succeeds after every
  restart; then the old key is refused, and a node with the new key joins
  through a follower (the join is forwarded to the leader).

Checked against the seed (DNSRAFT_TEST_NO_KEY=1 DNSRAFT_BIN=<old binary>,
PEER_AUTH_SECTIONS=outsiders or forged or mitm): the cluster then runs
without keys, and each attack section fails there (the outsiders become
members; the huge term is taken; the flipped frame is not caught).
"""
import base64
import hashlib
import hmac
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, check, make_zone, ok, run_main, wait_for  # noqa: E402

NO_KEY = bool(os.environ.get("DNSRAFT_TEST_NO_KEY"))  # checking the test on the old code
SECTIONS = os.environ.get("PEER_AUTH_SECTIONS",
                          "outsiders,wrongkey,forged,mitm,records,rotation").split(",")
MAGIC = b"\xd7RF\x01"
HUGE_TERM = 2**64 - 1


def node_id(name):
    """The Raft id of a node name (raft/addrbook.c: FNV-1a 64)."""
    h = 0xcbf29ce484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h or 1


def read_key(path):
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            return base64.b64decode(line)
    raise ValueError(path)


def key_id(key):
    return hmac.new(key, b"dns-raft key id", hashlib.sha256).digest()[:8]


def hello_v3(name, addr, kid, version=3):
    n, a = name.encode(), addr.encode()
    return (MAGIC + bytes([version, 1, len(n), len(a)]) + struct.pack("<Q", node_id(name)) + kid +
            os.urandom(32) + n + a)


def hello_v1(name, addr):
    n, a = name.encode(), addr.encode()
    return MAGIC + bytes([1, 0, len(n), len(a)]) + struct.pack("<Q", node_id(name)) + n + a


def frame(body):
    return struct.pack("<I", len(body)) + body


def heartbeat(frm, to, term):
    return frame(struct.pack("<BQQQQQ", 3, frm, to, term, 0, 0))


def request_vote(frm, to, term):
    return frame(struct.pack("<BQQQBQQ", 5, frm, to, term, 0, 10**6, term))


def append_entries(frm, to, term):
    return frame(struct.pack("<BQQQQQQI", 1, frm, to, term, 0, 0, 0, 0))


def recv_all(s, timeout=3.0):
    """Everything the server sends until it closes (or timeout)."""
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return out, True
            out += chunk
    except socket.timeout:
        return out, False
    except ConnectionResetError:
        return out, True


def refusal_reason(data):
    if len(data) >= 8 and data[:4] == MAGIC and data[4] == 3 and data[5] == 2:
        return data[8:8 + data[6]].decode()
    return None


def wait_log(node, text, timeout=10):
    wait_for("%s logs %r" % (node.name, text), timeout, lambda: text in node.log())


def write_ok(c, key, value, timeout=15):
    """A write through some running node succeeds, and reads back."""
    def attempt():
        for n in c.running():
            try:
                if n.admin("kv set %s %s" % (key, value), timeout=3) == "SUCCESS":
                    return n.admin("kv get %s" % key, timeout=3) == value
            except OSError:
                pass
        return False
    wait_for("kv set %s through a running node" % key, timeout, attempt)


# ---- a relay between a joining node and a member --------------------------------------

class Relay:
    """Listens on a free port and relays each connection to target. While
    flip is set, the first connection gets one byte flipped inside its first
    sealed record (after HELLO and PROOF). Records the client bytes of every
    connection that was not tampered with."""

    def __init__(self, target_port):
        self.target = target_port
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.port = self.srv.getsockname()[1]
        self.flip = True
        self.flipped = 0
        self.clean = []  # client->server bytes of untampered connections
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                cl, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(cl,), daemon=True).start()

    def _relay(self, cl):
        up = socket.create_connection(("127.0.0.1", self.target))
        tamper = self.flip
        if tamper:
            self.flip = False
        rec = bytearray()

        def down():
            try:
                while True:
                    d = up.recv(65536)
                    if not d:
                        break
                    cl.sendall(d)
            except OSError:
                pass
            finally:
                try:
                    cl.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
        threading.Thread(target=down, daemon=True).start()
        try:
            while True:
                d = cl.recv(65536)
                if not d:
                    break
                start = len(rec)
                rec += d
                if tamper and len(rec) >= 16:
                    hl = 56 + rec[6] + rec[7]
                    at = hl + 32 + 10  # in the first record: its first frame's body
                    if start <= at < len(rec):
                        d = bytearray(d)
                        d[at - start] ^= 0x20
                        d = bytes(d)
                        self.flipped += 1
                up.sendall(d)
        except OSError:
            pass
        finally:
            try:
                up.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        if not tamper:
            self.clean.append(bytes(rec))

    def close(self):
        self.srv.close()


# ---- the test ----------------------------------------------------------------------------

def forms(c, k1):
    zone = c.write_file("zones/auth.test.zone", make_zone("auth.test", [("www", "A", "192.0.2.80")]))
    n0 = c.add_node("n0", zone_files=[zone], join=None, key_file=k1).start()
    n1 = c.add_node("n1", key_file=k1).start()
    n2 = c.add_node("n2", key_file=k1).start()
    c.wait_voters(["n0", "n1", "n2"], timeout=20)
    write_ok(c, "k", "v")
    check(n2.admin("kv get k") == "v", "kv get on n2")
    for n in (n0, n1, n2):
        wait_for("%s answers www.auth.test" % n.name, 10,
                 lambda n=n: n.resolves("www.auth.test", ["192.0.2.80"]))
    ok("a keyed 3-node cluster forms through authenticated joins; kv and DNS work")
    if not NO_KEY:
        r = n0.admin("raft join evil 127.0.0.1:9")
        check(r == "ERROR join needs the cluster key: use -raft.join", "text raft join: %r" % r)
        ok("the admin `raft join` is refused with a key: %s" % r)
    return n0, n1, n2


def members_unchanged(c, names):
    time.sleep(1.0)
    p = c.leader(among=[c.node(x) for x in names]).peers()
    check(set(p) == set(names), "members changed: %s" % sorted(p))


def outsiders_cannot_join(c, n0):
    bad = c.add_node("bad", join=n0, key_file=None if NO_KEY else c.make_key("kbad")).start()
    nokey = c.add_node("nokey", join=n0).start()
    if not NO_KEY:
        wait_log(bad, "wrong cluster key")
        wait_log(n0, "refusing peer connection from bad")
        wait_log(nokey, "join needs the cluster key")
    members_unchanged(c, ["n0", "n1", "n2"])
    bad.kill()
    nokey.kill()
    ok("a node with another key and a node with no key cannot join; both sides log why")


def wrong_key_clients(c, n0, k1):
    wrong = os.urandom(32)
    s = socket.create_connection(("127.0.0.1", n0.raft_port))
    s.sendall(hello_v3("n1", "127.0.0.1:1", key_id(wrong)))
    data, closed = recv_all(s)
    s.close()
    reason = refusal_reason(data)
    check(closed and reason and "wrong cluster key" in reason,
          "wrong-key handshake: %r closed=%s" % (data, closed))
    # The key id travels in clear: an eavesdropper can name it, but not
    # make the proof.
    s = socket.create_connection(("127.0.0.1", n0.raft_port))
    hello = hello_v3("n1", "127.0.0.1:1", key_id(read_key(k1)))
    s.sendall(hello)
    s.settimeout(3)
    challenge = s.recv(4096)
    check(challenge[:4] == MAGIC and challenge[5] == 1, "no challenge: %r" % challenge)
    proof = hmac.new(wrong, b"dns-raft v3 dialer\0" + hello + challenge, hashlib.sha256).digest()
    s.sendall(proof + heartbeat(node_id("n1"), node_id("n0"), HUGE_TERM))
    data, closed = recv_all(s)
    s.close()
    check(closed, "a bad proof must close the connection")
    wait_log(n0, "bad proof")
    ok("handshakes with a wrong key are refused (REFUSE: %s; then 'bad proof')" % reason)


def forged_v1_frames(c, n0, n1):
    terms = {n.name: n.status()["term"] for n in c.running()}
    for target, poser, victim in ((n1, "n0", n1), (n0, "n2", n0)):
        s = socket.create_connection(("127.0.0.1", target.raft_port))
        frm, to = node_id(poser), node_id(victim.name)
        s.sendall(hello_v1(poser, "127.0.0.1:%d" % c.node(poser).raft_port) +
                  heartbeat(frm, to, HUGE_TERM) + request_vote(frm, to, HUGE_TERM) +
                  append_entries(frm, to, 2**63 + 5))
        data, closed = recv_all(s, timeout=2)
        s.close()
    time.sleep(1.0)
    after = {n.name: n.status()["term"] for n in c.running()}
    check(all(t < 2**63 for t in after.values()), "a forged term was taken: %s" % after)
    check(all(after[k] <= terms[k] + 2 for k in terms), "terms moved: %s -> %s" % (terms, after))
    wait_log(n0, "requires the cluster key")
    write_ok(c, "after-forgery", "1")
    ok("forged v1 hello + heartbeat/vote/append with a huge term refused; terms %s" % after)


def man_in_the_middle(c, n0, k1):
    relay = Relay(n0.raft_port)
    n3 = c.add_node("n3", join="127.0.0.1:%d" % relay.port, key_file=k1).start()
    wait_log(n0, "bad MAC")
    check(relay.flipped == 1, "the relay flipped %d bytes" % relay.flipped)
    c.wait_voters(["n0", "n1", "n2", "n3"], timeout=30)
    ok("a byte flipped in a sealed record: the member closed it (bad MAC); n3 joined via the honest relay")
    wait_for("a recorded clean connection", 10, lambda: relay.clean)
    recorded = relay.clean[0]
    s = socket.create_connection(("127.0.0.1", n0.raft_port))
    s.sendall(recorded)
    data, closed = recv_all(s)
    s.close()
    if not NO_KEY:
        check(closed and data[:4] == MAGIC and data[5] == 1, "replay: %r closed=%s" % (data, closed))
        wait_log(n0, "bad proof")
    relay.close()
    ok("recorded handshake and frames replayed on a fresh connection: refused (bad proof)")
    return n3


# ---- sealed records: a Python peer that holds the key ------------------------------------

RECORD_MAX = 4 + (8 << 20)  # PEERAUTH_RECORD_MAX: one largest frame


def recv_exact(s, n, timeout=5.0):
    s.settimeout(timeout)
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        check(chunk, "closed after %d of %d bytes" % (len(out), n))
        out += chunk
    return out


class KeyedPeer:
    """The dialer's side of the v3 handshake with the real key, posing as
    member `name`; then records sealed as raft/peerauth.h says (tag =
    HMAC(session, direction | seq | length | payload)[:16])."""

    def __init__(self, port, key, name, addr):
        self.s = socket.create_connection(("127.0.0.1", port))
        hello = hello_v3(name, addr, key_id(key))
        self.s.sendall(hello)
        head = recv_exact(self.s, 16)
        check(head[:4] == MAGIC and head[4] == 3 and head[5] == 1, "no challenge: %r" % head)
        challenge = head + recv_exact(self.s, 80 + head[6] - 16)
        proof = hmac.new(key, b"dns-raft v3 dialer\0" + hello + challenge, hashlib.sha256).digest()
        self.session = hmac.new(key, b"dns-raft v3 session\0" + hello + challenge,
                                hashlib.sha256).digest()
        self.s.sendall(proof)
        self.seq = 0

    def record(self, frames, direction=0):
        """A sealed record of whole frames (each length | body); takes the next sequence number."""
        payload = b"".join(frames)
        head = struct.pack("<I", len(payload))
        mac = hmac.new(self.session, bytes([direction]) + struct.pack("<Q", self.seq) + head + payload,
                       hashlib.sha256).digest()[:16]
        self.seq += 1
        return head + payload + mac

    def send_and_wait_close(self, data, timeout=5.0):
        self.s.sendall(data)
        _, closed = recv_all(self.s, timeout)
        self.s.close()
        return closed


def log_count(node, text):
    return node.log().count(text)


def records(c, k1):
    """Altered, forged, replayed, reordered, reflected, spliced (across
    records and across connections) and truncated records, sent by a peer
    with the key posing as a follower to the leader: each is refused as a
    whole (none of its frames is applied), the connection closed and the
    reason logged; a record over the size limit is refused from its header."""
    if NO_KEY:
        return
    key = read_key(k1)
    members = [n for n in c.running() if n.name in ("n0", "n1", "n2", "n3")]
    lead = c.leader(among=members)
    f = [n for n in members if n is not lead][0]
    term0 = lead.status()["term"]
    frm, to = node_id(f.name), node_id(lead.name)
    stale = heartbeat(frm, to, 1)              # harmless when applied: an old term
    harmful = heartbeat(frm, to, term0 + 100)  # would depose the leader if applied

    def peer():
        return KeyedPeer(lead.raft_port, key, f.name, "127.0.0.1:%d" % f.raft_port)

    def refused(label, data_fn, text="bad MAC"):
        before = log_count(lead, text)
        p = peer()
        closed = p.send_and_wait_close(data_fn(p))
        check(closed, "%s: the connection stayed open" % label)
        wait_for("%s: %s logs %r" % (label, lead.name, text), 10,
                 lambda: log_count(lead, text) > before)
        time.sleep(0.25)  # handshake/MAC warnings are rate limited (5 a second)

    def altered(p):
        r = bytearray(p.record([stale, harmful]))
        r[4 + len(stale) + 4 + 1 + 16] ^= 0x01  # in the second frame's term
        return bytes(r)
    refused("altered", altered)
    refused("forged tag", lambda p: p.record([harmful])[:-16] + os.urandom(16))
    refused("replayed", lambda p: (lambda r: r + r)(p.record([stale])))
    refused("reordered", lambda p: (lambda r0, r1: r1 + r0)(p.record([stale]), p.record([harmful])))
    refused("reflected", lambda p: p.record([harmful], direction=1))

    def spliced(p):
        r0, r1 = p.record([stale, stale]), p.record([harmful, stale])
        n = len(stale)
        return r0[:4 + n] + r1[4:4 + n] + r0[4 + 2 * n:]  # r1's first frame under r0's tag
    refused("spliced across records", spliced)

    def other_session(p):
        q = peer()
        r = q.record([harmful])
        q.s.close()
        return r
    refused("spliced across connections", other_session)

    def truncated(p):
        r = p.record([stale, harmful])
        n = len(stale)
        return struct.pack("<I", n) + r[4:4 + n] + r[-16:]  # the first frame alone, the whole's tag
    refused("truncated record", truncated)
    refused("record over the limit", lambda p: struct.pack("<I", RECORD_MAX + 1) + bytes(64),
            "record larger than the limit")
    before = log_count(lead, "in the middle of a record")
    p = peer()
    p.s.sendall(p.record([harmful, stale])[:-5])  # cut short, then the connection ends
    p.s.close()
    wait_for("the leader logs a record cut short", 10,
             lambda: log_count(lead, "in the middle of a record") > before)
    time.sleep(1.0)
    after = lead.status()
    check(after["term"] < term0 + 100 and after["term"] <= term0 + 2,
          "a frame of a refused record was applied: term %d -> %d" % (term0, after["term"]))
    check(c.leader(among=members) is lead, "the leader changed")
    write_ok(c, "after-records", "1")
    ok("altered, forged, replayed, reordered, reflected, spliced (across records and "
       "connections), truncated, oversized and cut-short records refused whole; term %d kept"
       % after["term"])


def old_protocol_refused(c, n0, k1):
    """A v2 hello (one MAC per frame, before records) gets a REFUSE naming both versions."""
    if NO_KEY:
        return
    s = socket.create_connection(("127.0.0.1", n0.raft_port))
    s.sendall(hello_v3("n1", "127.0.0.1:1", key_id(read_key(k1)), version=2))
    data, closed = recv_all(s)
    s.close()
    reason = refusal_reason(data)
    check(closed and reason and "keyed protocol v2" in reason and "v3" in reason,
          "v2 hello: %r closed=%s" % (data, closed))
    wait_log(n0, "keyed protocol v2")
    ok("a keyed v2 hello is refused: %s" % reason)


def rotation(c, k1):
    if NO_KEY:
        return
    old, new = read_key(k1), os.urandom(32)
    b64 = lambda k: base64.b64encode(k).decode()
    phases = [("old+new", [b64(old), b64(new)]), ("new+old", [b64(new), b64(old)]),
              ("new", [b64(new)])]
    members = [n for n in c.nodes if n.name in ("n0", "n1", "n2", "n3")]
    for i, (label, keys) in enumerate(phases):
        path = c.make_key("rot%d" % i, keys)
        for n in members:
            n.key_file = path
            n.restart()
            write_ok(c, "rot-%d-%s" % (i, n.name), "x")
        ok("rotation step %s: every node restarted in turn, a write succeeded after each" % label)
    c.wait_voters(["n0", "n1", "n2", "n3"], timeout=20)
    stale = c.add_node("stale", join=members[0], key_file=k1).start()
    wait_log(stale, "wrong cluster key")
    stale.kill()
    ok("after the rotation the old key is refused")
    leader = c.leader(among=members)
    follower = [n for n in members if n is not leader][0]
    c.add_node("n4", join=follower, key_file=path).start()
    c.wait_voters(["n0", "n1", "n2", "n3", "n4"], timeout=30)
    ok("a node with the new key joins through a follower (%s forwards it)" % follower.name)


def main():
    with Cluster("peerauth") as c:
        k1 = None if NO_KEY else c.make_key("k1")
        n0, n1, n2 = forms(c, k1)
        if "outsiders" in SECTIONS:
            outsiders_cannot_join(c, n0)
        if "wrongkey" in SECTIONS and not NO_KEY:
            wrong_key_clients(c, n0, k1)
        if "forged" in SECTIONS:
            forged_v1_frames(c, n0, n1)
        if "mitm" in SECTIONS:
            man_in_the_middle(c, n0, k1)
        if "records" in SECTIONS:
            records(c, k1)
            old_protocol_refused(c, n0, k1)
        if "rotation" in SECTIONS:
            rotation(c, k1)


if __name__ == "__main__":
    run_main(main)
