#!/usr/bin/python3
"""tests/integration/admin_security.py — issue #12's admin attacks, on real
processes (each part fails on a5cd0ba and passes now):

Without a token (the seed's single port; these parts run on the old binary
too, so they show what the old code did):
- nul:     `kv set k a<NUL>b` used to be stored and `kv get k` then wrote
           `a` without its LF, so the next reply ran on (`aPONG`). Now the
           set is refused (`ERROR value contains a NUL byte`) and pipelined
           replies stay one per line.
- trickle: a text connection on the Raft port that sends a byte every 2 s
           and never an LF used to be kept forever (each byte renewed its
           timer); now it is closed ADMIN_LINE_MS (5 s) after the line
           began.
- flood:   140 such connections: the ones over the limit get
           `ERROR too many connections`, and a real client is served again
           within seconds (the trickling holders are closed), instead of
           never.

With a token (-admin.token.file) and -admin.addr (new flags):
- auth:    `kv set`, `kv get`, `kv del`, `raft join/leave/transfer`,
           `raft status`, `zone list/show` before `auth` -> `ERROR
           unauthorized` and the connection closed, on the Raft port and on
           the admin address, and nothing changed (no key, same members,
           same leader); `kv ping` answers without auth; a wrong token ->
           `ERROR unauthorized` + closed; the right one -> SUCCESS and
           commands work; nodes with the token join through the Raft port
           (the join thread authenticates).
- idle:    sockets on the admin address that never send a byte are closed
           after ADMIN_FIRST_MS (10 s); a trickled line there too.
- isolated: 255 idle sockets on the Raft port (which made the old admin
           port reset connections) do not keep -admin.addr from answering.
- offraft: -admin.on.raft.port=false: the Raft port refuses text with a
           clear line, the admin address serves.

Usage: admin_security.py [part ...] (default: all, in the order above).
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, Conn, TestFailure, check, ok, run_main, wait_for  # noqa: E402

TOKEN = "dGVzdC10b2tlbi1mb3ItYWRtaW4tc2VjdXJpdHk="
LINE_MS = 5000
FIRST_MS = 10000
MAX_CONNS = 128


def raw(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_all(s, limit=1 << 16):
    """Everything until the server closes; raises on a timeout."""
    out = b""
    while len(out) < limit:
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            raise TestFailure("connection reset (got %r first)" % out)
        if not chunk:
            return out
        out += chunk
    return out


def is_closed(s):
    """True when the server has closed s (EOF or reset), without waiting."""
    s.setblocking(False)
    try:
        data = s.recv(4096)
        return data == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.setblocking(True)


def refused_and_closed(port, line, what):
    with raw(port) as s:
        s.sendall(line.encode() if isinstance(line, str) else line)
        got = read_all(s)
    check(got == b"ERROR unauthorized\n",
          "%s: %r -> %r, want ERROR unauthorized then close" % (what, line, got))


# ---- without a token ------------------------------------------------------------------

def part_nul(n):
    with raw(n.admin_port) as s:
        s.sendall(b"kv set nulkey a\x00b\nkv get nulkey\nkv ping\n")
        got = read_all(s)  # the server closes ~300 ms after the last reply
    check(got == b"ERROR value contains a NUL byte\nERROR\nPONG\n",
          "pipelined set-with-NUL, get, ping: replies %r" % got)
    ok("kv set with a NUL is refused; the replies after it stay one per line")


def trickle(sock, stop_after):
    """Sends a byte every 2 s; returns seconds until the server closed the
    connection, or None if it was still open after stop_after seconds."""
    t0 = time.monotonic()
    sock.sendall(b"k")
    while time.monotonic() - t0 < stop_after:
        time.sleep(2)
        if is_closed(sock):
            return time.monotonic() - t0
        try:
            sock.sendall(b"v")
        except OSError:
            return time.monotonic() - t0
    return None


def part_trickle(port, what):
    with raw(port) as s:
        took = trickle(s, 14)
    check(took is not None, "%s: a line trickled a byte every 2 s was still open after 14 s"
          % what)
    check(took <= LINE_MS / 1000 + 3, "%s: trickled line closed only after %.1f s" % (what, took))
    ok("%s: a trickled line is closed after %.1f s" % (what, took))


def part_flood(n, port, what):
    holders, refused = [], 0
    try:
        for i in range(MAX_CONNS + 12):
            s = raw(port)
            s.sendall(b"kv pi")  # a line begun, never finished
            holders.append(s)
            time.sleep(0.005)
        time.sleep(0.5)
        t0 = time.monotonic()
        # The ones over the limit were answered and closed.
        answered = []
        for s in holders:
            s.setblocking(False)
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b"<reset>"
            finally:
                s.setblocking(True)
            answered.append(data)
        refused = sum(1 for d in answered if d == b"ERROR too many connections\n")
        check(refused >= 1, "%s: %d connections over the limit: replies %r"
              % (what, len(holders) - MAX_CONNS, sorted(set(answered))))
        # Keep the holders trickling; a real client must get a slot soon.
        def served():
            for s in holders:
                try:
                    s.send(b"n")
                except OSError:
                    pass
            return n.admin("kv ping", timeout=1) == "PONG"
        wait_for("%s: a real client served while %d connections trickle" % (what, len(holders)),
                 LINE_MS / 1000 + 4, served, interval=0.5)
        ok("%s: %d connections: %d refused with 'ERROR too many connections'; a real client "
           "served %.1f s later" % (what, len(holders), refused, time.monotonic() - t0))
    finally:
        for s in holders:
            s.close()


def without_token(parts):
    with Cluster("admin-sec-open") as cl:
        n = cl.add_node("n0", join=None)
        n.start()
        cl.leader()
        if "nul" in parts:
            part_nul(n)
        if "trickle" in parts:
            part_trickle(n.raft_port, "Raft port")
        if "flood" in parts:
            part_flood(n, n.raft_port, "Raft port")
        n.stop()


# ---- with a token -----------------------------------------------------------------------

def part_auth(cl, n0):
    n1, n2 = cl.node("n1"), cl.node("n2")
    lead = cl.leader()
    before = n0.peers()
    attacker = "127.0.0.1:%d" % 9
    attacks = ["kv set owned evil", "kv get owned", "kv del owned", "raft status", "raft peers",
               "raft join evil %s" % attacker, "raft leave n2", "raft transfer n1",
               "raft transfer", "zone list", "zone show example.com", "bogus", "",
               "auth", "auth " + TOKEN + " extra"]
    for port, where in ((n0.raft_port, "n0 Raft port"), (n0.admin_port, "n0 admin address"),
                        (n1.raft_port, "n1 Raft port")):
        for a in attacks:
            refused_and_closed(port, a + "\n", "%s unauthenticated" % where)
        # After a ping, still nothing else.
        with raw(port) as s:
            s.sendall(b"kv ping\nkv set owned evil\nkv ping\n")
            got = read_all(s)
        check(got == b"PONG\nERROR unauthorized\n", "%s: ping, set, ping -> %r" % (where, got))
        for wrong in ("auth wrong-token-0123456789", "auth " + TOKEN[:-1], "auth " + TOKEN + "A"):
            refused_and_closed(port, wrong + "\nkv set owned evil\n", "%s wrong token" % where)
    ok("unauthenticated kv set/get/del, raft join/leave/transfer/status/peers, zone list/show, "
       "wrong tokens: ERROR unauthorized + closed, on both ports")
    with Conn(n0.raft_port) as c:
        check(c.cmd("kv ping") == "PONG", "kv ping without auth")
    ok("kv ping answers without auth")
    # Nothing changed.
    check(n0.admin("kv get owned") == "ERROR", "the unauthenticated set was applied")
    check(set(n0.peers()) == set(before), "members changed: %s -> %s" % (before, n0.peers()))
    check(cl.leader() is lead, "the leader changed")
    check(n2.alive(), "n2 is gone")
    ok("after the attacks: no key written, members %s, leader %s" % (sorted(before), lead.name))
    # The token works on both ports, on every node.
    for n in (n0, n1, n2):
        with Conn(n.raft_port, token=TOKEN) as c:
            check(c.cmd("kv set good-%s yes" % n.name) == "SUCCESS", "authenticated set")
    with Conn(n0.admin_port, token=TOKEN) as c:
        for n in (n0, n1, n2):
            check(c.cmd("kv get good-%s" % n.name) == "yes", "authenticated get")
        check(c.cmd("raft transfer %s" % ("n1" if lead is not n1 else "n2")) == "SUCCESS",
              "authenticated transfer")
    ok("with `auth TOKEN`: writes, reads and a transfer work, on the Raft port and -admin.addr")


def part_idle(n0):
    socks = [raw(n0.admin_port, timeout=FIRST_MS / 1000 + 5) for _ in range(20)]
    t0 = time.monotonic()
    try:
        for s in socks:
            got = s.recv(100)  # blocks until the server closes
            check(got == b"", "an idle socket got %r" % got)
        took = time.monotonic() - t0
        check(FIRST_MS / 1000 - 1 <= took <= FIRST_MS / 1000 + 3,
              "20 idle sockets closed after %.1f s, want ~%d s" % (took, FIRST_MS // 1000))
    except socket.timeout:
        raise TestFailure("an idle socket on the admin address was still open after %d s"
                          % (FIRST_MS // 1000 + 5))
    finally:
        for s in socks:
            s.close()
    ok("20 sockets that never send a byte to -admin.addr are closed after %.1f s" % took)


def part_isolated(n0):
    socks = []
    try:
        for _ in range(255):
            try:
                socks.append(raw(n0.raft_port))
            except OSError:
                break  # the Raft port may refuse some: that is its business
        with Conn(n0.admin_port, 5, TOKEN) as c:
            check(c.cmd("kv get good-n0") == "yes", "-admin.addr with the Raft port flooded")
    finally:
        for s in socks:
            s.close()
    ok("with %d idle sockets on the Raft port, -admin.addr answers" % len(socks))


def part_offraft(cl):
    n = cl.add_node("solo", join=None, token=TOKEN, admin_addr=True,
                    extra=["-admin.on.raft.port", "false"])
    n.start()
    with raw(n.raft_port) as s:
        s.sendall(b"kv ping\n")
        got = read_all(s)
    check(got == b"ERROR the admin protocol is served on -admin.addr only\n",
          "text on the Raft port with -admin.on.raft.port=false: %r" % got)
    check(n.admin("kv set k v") == "SUCCESS", "the admin address serves")
    n.stop()
    ok("-admin.on.raft.port=false: the Raft port refuses text; -admin.addr serves")


def with_token(parts):
    with Cluster("admin-sec-token") as cl:
        n0 = cl.add_node("n0", join=None, token=TOKEN, admin_addr=True)
        n0.start()
        cl.leader()
        for name in ("n1", "n2"):
            cl.add_node(name, join=n0, token=TOKEN).start()
        cl.wait_voters(["n0", "n1", "n2"], timeout=20)
        ok("3 nodes with a token; n1 and n2 joined through n0's Raft port (authenticated)")
        log = n0.log()
        check("without authentication" not in log, "a warning about an open port on loopback")
        if "auth" in parts:
            part_auth(cl, n0)
        if "trickle" in parts:
            part_trickle(n0.admin_port, "admin address")
        if "idle" in parts:
            part_idle(n0)
        if "flood" in parts:
            part_flood(n0, n0.admin_port, "admin address")
        if "isolated" in parts and "auth" in parts:
            part_isolated(n0)
        if "offraft" in parts:
            part_offraft(cl)


ALL = ["nul", "trickle", "flood", "auth", "idle", "isolated", "offraft"]


def main():
    parts = sys.argv[1:] or ALL
    for p in parts:
        check(p in ALL, "unknown part %r (parts: %s)" % (p, " ".join(ALL)))
    if {"nul", "trickle", "flood"} & set(parts):
        without_token(parts)
    if {"auth", "idle", "isolated", "offraft"} & set(parts):
        with_token(parts)


if __name__ == "__main__":
    run_main(main)
