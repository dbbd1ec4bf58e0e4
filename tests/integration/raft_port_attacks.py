#!/usr/bin/python3
"""tests/integration/raft_port_attacks.py — issue 12's attacks on the Raft
port by someone on the same network who has no key (hostile.py speaks the
peer wire format), against a 3-node cluster of real processes:

- junk_hellos: 32 hellos with fresh ids are refused (connections closed)
  and none of them reaches the address book (DIR/peers);
- fake_member_hello: a hello with the leader's id and the attacker's
  address does not move the leader on a follower (DIR/peers unchanged, the
  attacker's listener is never called, forwarded writes still work);
- idle_sockets: 255 sockets that say nothing are all closed within the
  hello deadline, and admin commands and forwarded writes keep working
  while they are open;
- trickle_hello, trickle_frame: a hello trickled a byte a second, and a
  frame trickled a byte a second after a member's hello, are both closed
  within seconds;
- big_frames: 32 unfinished 8 MiB frames leave the node's RSS bounded and
  the cluster working;
- huge_term: heartbeats posing as the leader with term 2^64-1 and 2^63 do
  not change the cluster's leader or term (needs the codec's term
  validation from the "core" part of issue 12).

Usage: raft_port_attacks.py [CASE...] (default: all, in the order above).
DNSRAFT_BIN selects the binary (to check a case fails on an old build).
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, TestFailure, check, ok, run_main, wait_for  # noqa: E402
import hostile  # noqa: E402

HELLO_DEADLINE_S = 5        # TRANSPORT_HELLO_MS
FRAME_STEP_S = 5            # TRANSPORT_FRAME_STEP_MS
MEMBERS = ("n0", "n1", "n2")


def writes_work(node, tag, timeout=10):
    """A kv set on node (forwarded when it is a follower) and a read back."""
    word = tag.replace(" ", "-")
    key, value = "attack-" + word, "still-" + word
    got = node.admin("kv set %s %s" % (key, value), timeout=timeout)
    check(got == "SUCCESS", "kv set on %s after %s: %r" % (node.name, tag, got))
    got = node.admin("kv get " + key, timeout=timeout)
    check(got == value, "kv get on %s after %s: %r" % (node.name, tag, got))


def roles(c):
    """(leader, a follower, the other follower)."""
    lead = c.leader(timeout=10)
    fol = [n for n in c.nodes if n is not lead]
    return lead, fol[0], fol[1]


def peers_file_is_members(node):
    book = hostile.read_peers_file(node.data_dir)
    extra = set(book) - set(MEMBERS)
    check(not extra, "%s's DIR/peers holds non-members: %s" % (node.name, sorted(extra)))
    return book


# ---- cases -----------------------------------------------------------------------------

def junk_hellos(c):
    lead, target, _ = roles(c)
    before = peers_file_is_members(target)
    conns = []
    for i in range(32):
        p = hostile.Peer(target.raft_port)
        name = "junk%02d" % i
        p.send_hello(name, "127.0.0.1:%d" % (40000 + i))
        # A frame after the hello, as a peer would send.
        p.try_send(hostile.heartbeat(hostile.node_id(name), hostile.node_id(target.name), 1))
        conns.append(p)
    time.sleep(1.5)
    after = peers_file_is_members(target)
    check(after == before, "%s's DIR/peers changed: %s -> %s" % (target.name, before, after))
    took = hostile.wait_closed(conns, 3)
    check(took is not None, "%s kept connections whose hello came from non-members"
          % target.name)
    for p in conns:
        p.close()
    writes_work(target, "junk hellos")
    ok("32 junk hellos: refused and closed, DIR/peers on %s still only %s"
       % (target.name, sorted(after)))


def fake_member_hello(c):
    lead, target, _ = roles(c)
    trap = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    trap.bind(("127.0.0.1", 0))
    trap.listen(16)
    trap.settimeout(0.2)
    trap_addr = "127.0.0.1:%d" % trap.getsockname()[1]
    before = hostile.read_peers_file(target.data_dir)
    check(before.get(lead.name) == lead.raft_addr,
          "%s's DIR/peers has %s at %r, want %s" % (target.name, lead.name,
                                                    before.get(lead.name), lead.raft_addr))
    p = hostile.Peer(target.raft_port)
    p.send_hello(lead.name, trap_addr)
    time.sleep(1.0)
    after = hostile.read_peers_file(target.data_dir)
    check(after.get(lead.name) == lead.raft_addr,
          "a fake hello moved %s on %s to %r" % (lead.name, target.name, after.get(lead.name)))
    writes_work(target, "fake hello")
    try:
        conn, _ = trap.accept()
        conn.close()
        raise TestFailure("%s called the attacker's address %s" % (target.name, trap_addr))
    except socket.timeout:
        pass
    p.close()
    trap.close()
    ok("fake hello as %s from %s: %s keeps %s, forwarded writes work"
       % (lead.name, trap_addr, target.name, lead.raft_addr))


def idle_sockets(c):
    lead, target, _ = roles(c)
    socks = []
    for _ in range(255):
        s = hostile.Peer(target.raft_port)
        socks.append(s)
    t0 = time.monotonic()
    # Meanwhile people and peers still get in.
    try:
        for i in range(3):
            got = target.admin("kv ping", timeout=3)
            check(got == "PONG", "kv ping on %s with 255 idle sockets open: %r"
                  % (target.name, got))
        writes_work(target, "idle sockets")
    except OSError as e:
        raise TestFailure("admin on %s with 255 idle sockets open: %s" % (target.name, e))
    took = hostile.wait_closed(socks, HELLO_DEADLINE_S + 4 - (time.monotonic() - t0))
    check(took is not None, "%s still holds idle sockets after %ds"
          % (target.name, HELLO_DEADLINE_S + 4))
    for s in socks:
        s.close()
    writes_work(target, "idle sockets closed")
    ok("255 idle sockets closed within %.1fs of opening; admin and writes worked meanwhile"
       % (time.monotonic() - t0))


def trickle_until_closed(p, data, limit):
    """Sends data a byte a second until the node closes p; seconds taken,
    or None if still open after limit seconds."""
    t0 = time.monotonic()
    for b in data:
        if p.closed() or not p.try_send(bytes([b])):
            return time.monotonic() - t0
        if time.monotonic() - t0 > limit:
            return None
        time.sleep(1.0)
    return None


def trickle_hello(c):
    lead, target, other = roles(c)
    p = hostile.Peer(target.raft_port)
    took = trickle_until_closed(p, hostile.hello(other.name, other.raft_addr) * 4,
                                HELLO_DEADLINE_S + 4)
    p.close()
    check(took is not None, "%s kept a hello trickled a byte a second" % target.name)
    ok("a hello trickled a byte a second: closed after %.1fs" % took)


def trickle_frame(c):
    lead, target, other = roles(c)
    p = hostile.Peer(target.raft_port)
    p.send_hello(other.name, other.raft_addr)
    body = hostile.heartbeat(hostile.node_id(other.name), hostile.node_id(target.name), 1)
    took = trickle_until_closed(p, body * 4, FRAME_STEP_S + 4)
    p.close()
    check(took is not None, "%s kept a frame trickled a byte a second" % target.name)
    writes_work(target, "trickle")
    ok("a frame trickled a byte a second after %s's hello: closed after %.1fs"
       % (other.name, took))


def big_frames(c):
    lead, target, other = roles(c)
    pid = target.proc.pid
    rss0 = hostile.rss_kb(pid)
    conns = []
    chunk = b"\0" * (1 << 20)
    for _ in range(32):
        p = hostile.Peer(target.raft_port, timeout=10)
        p.send_hello(other.name, other.raft_addr)
        data = b"\x01" + b"\0" * (hostile.FRAME_MAX - 1)
        p.try_send(hostile.frame(data)[:4])
        sent = 0
        while sent < hostile.FRAME_MAX - 1:
            n = min(len(chunk), hostile.FRAME_MAX - 1 - sent)
            if not p.try_send(chunk[:n]):
                break
            sent += n
        conns.append(p)
    time.sleep(0.5)
    rss1 = hostile.rss_kb(pid)
    grew_mb = (rss1 - rss0) / 1024
    check(grew_mb < 64, "%s's RSS grew from %d to %d KiB with 32 unfinished 8 MiB frames"
          % (target.name, rss0, rss1))
    writes_work(target, "big frames")
    for p in conns:
        p.close()
    ok("32 unfinished 8 MiB frames: %s's RSS %d -> %d KiB; writes work"
       % (target.name, rss0, rss1))


def huge_term(c):
    lead, target, _ = roles(c)
    term0 = lead.status()["term"]
    for term in ((1 << 64) - 1, 1 << 63):
        p = hostile.Peer(target.raft_port)
        p.send_hello(lead.name, lead.raft_addr)
        p.try_send(hostile.heartbeat(hostile.node_id(lead.name), hostile.node_id(target.name),
                                     term))
        time.sleep(1.0)
        p.close()
    time.sleep(1.0)
    for n in c.nodes:
        s = n.status()
        check(s["term"] < (1 << 63), "%s went to term %d" % (n.name, s["term"]))
        check(s["leader"] == lead.name and s["term"] == term0,
              "%s: leader %s term %d, want %s term %d" % (n.name, s["leader"], s["term"],
                                                        lead.name, term0))
    writes_work(target, "huge term")
    ok("heartbeats as %s with terms 2^64-1 and 2^63: leader %s and term %d kept"
       % (lead.name, lead.name, term0))


CASES = [junk_hellos, fake_member_hello, idle_sockets, trickle_hello, trickle_frame, big_frames,
         huge_term]


def main():
    names = sys.argv[1:] or [f.__name__ for f in CASES]
    by_name = {f.__name__: f for f in CASES}
    for n in names:
        check(n in by_name, "unknown case %r (cases: %s)" % (n, ", ".join(by_name)))
    with Cluster("raftport") as c:
        nodes = [c.add_node(name, join=i > 0) for i, name in enumerate(MEMBERS)]
        for n in nodes:
            n.start()
        c.wait_voters(list(MEMBERS), timeout=20)
        writes_work(nodes[1], "setup")
        wait_for("every node saved DIR/peers with all members", 10,
                 lambda: all(set(hostile.read_peers_file(n.data_dir)) == set(MEMBERS)
                             for n in nodes))
        ok("3 voters, writes work, DIR/peers saved")
        for n in names:
            by_name[n](c)


if __name__ == "__main__":
    run_main(main)
