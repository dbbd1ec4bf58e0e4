#!/usr/bin/python3
"""tests/integration/hardening_misc.py — the smaller holes of issue #12
(docs/security.md, "Smaller holes"), with real processes:

1. Zone files that are not regular files. A node whose -zone.file is a
   FIFO, and whose other zone file $INCLUDEs that FIFO, logs
   `FILE: not a regular file` and `FILE:LINE: $INCLUDE 'FIFO': not a
   regular file`, still loads its third, good zone file (listed after
   them), answers DNS and admin, and stops at SIGTERM with status 0. (The
   old loader blocked in open() on the FIFO for good: the good zone never
   loaded and SIGTERM hung.)
2. Data dir identity. Every member reports the same cluster id in
   `raft status`; a node started with `-id n2` on n1's stopped data dir
   exits 1 with `data dir DIR belongs to node n1, not n2`; n1 restarts on it
   fine; a data dir without its identity file (as an older version left
   it) is adopted, logged, and gets the file back with the same cluster id.
3. Another cluster's leader. A second cluster's founder adds n1 to its
   configuration (`raft join n1 ADDR`) and so sends it its log: n1 logs
   that the peer belongs to another cluster and refuses it, keeps
   following n0, and keeps serving n0's writes. (The old n1 flipped between
   the two leaders and took the other cluster's configuration.)
4. SIGTERM is bounded. A node whose zone loader hangs where no flag reaches
   it (test hook DNSRAFT_TEST_STUCK_LOADER, as a read from a dead NFS mount
   would) exits within -stop.timeout with status 3 and a log line naming
   the loader and its file; with a long -stop.timeout, a second SIGTERM
   ends it at once (status 3). A node whose loader waits for a quorum that
   never comes (the two other members killed) stops within 3 s, status 0
   (this one passed on the old code too: node_shutdown already answered
   waiting proposals). A node whose -raft.join member accepts the
   connection but never answers stops at SIGTERM within 3 s with status 0
   (the old joiner sat 10-12 s in poll).
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import (Cluster, Node, TestFailure, check, free_port, make_zone, ok,  # noqa: E402
                        run_main, wait_for)


def wait_exit(proc, timeout):
    """(exit status, seconds it took) or TestFailure after timeout."""
    t0 = time.monotonic()
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure("still running %.1fs after SIGTERM" % timeout)
    return rc, time.monotonic() - t0


def sigterm_and_wait(node, timeout):
    node.proc.send_signal(signal.SIGTERM)
    try:
        rc, took = wait_exit(node.proc, timeout)
    except TestFailure as e:
        node.kill()
        raise TestFailure("%s: %s" % (node.name, e))
    node._reaped()
    return rc, took


def zone_files_that_are_not_regular():
    with Cluster("holes-fifo") as c:
        fifo = os.path.join(c.dir, "fifo.zone")
        os.mkfifo(fifo)
        inc = c.write_file("inc.zone", "$TTL 60\n$ORIGIN inc.test.\n"
                           "@ SOA ns h 1 2 3 4 5\n$INCLUDE fifo.zone\n")
        good = c.write_file("good.zone", make_zone("good.test", [("www", "A", "10.0.0.7")]))
        n0 = c.add_node("n0", zone_files=[fifo, inc, good], join=None)
        n0.start()
        wait_for("the FIFO refused", 5, lambda: "%s: not a regular file" % fifo in n0.log())
        wait_for("the $INCLUDE of the FIFO refused", 5,
                 lambda: "%s:4: $INCLUDE '%s': not a regular file" % (inc, fifo) in n0.log())
        ok("a FIFO as -zone.file and as $INCLUDE: 'not a regular file', file:line for $INCLUDE")
        wait_for("good.test loads after them", 10, lambda: n0.resolves("www.good.test", ["10.0.0.7"]))
        check(n0.admin("kv ping") == "PONG", "admin answers")
        ok("the loader went on: the good zone answers, admin answers")
        rc, took = sigterm_and_wait(n0, 10)
        check(rc == 0, "n0 exited %d after SIGTERM" % rc)
        ok("SIGTERM: stopped in %.2fs with status 0" % took)


STATUS_CLUSTER = re.compile(r"cluster=([0-9a-f]{32})\b")


def cluster_id(node):
    line = node.admin("raft status", timeout=3)
    m = STATUS_CLUSTER.search(line)
    return m.group(1) if m else None


def data_dir_identity(c):
    n0 = c.add_node("n0", join=None)
    n0.start()
    n1 = c.add_node("n1")
    n1.start()
    c.wait_voters(["n0", "n1"])
    cid = wait_for("n0 knows its cluster id", 10, lambda: cluster_id(n0))
    wait_for("n1 learns the same cluster id", 10, lambda: cluster_id(n1) == cid)
    ok("n0 and n1 report cluster=%s" % cid)
    check(n0.admin("kv set k v1") == "SUCCESS", "kv set")
    n1.stop()

    # Another name on n1's data dir.
    impostor = Node(c, "n2")
    impostor.data_dir = n1.data_dir
    c.nodes.append(impostor)
    impostor.start(wait=False)
    rc, _ = wait_exit(impostor.proc, 10)
    impostor._reaped()
    want = "data dir %s belongs to node n1, not n2" % n1.data_dir
    check(rc == 1, "n2 on n1's data dir exited %d, not 1" % rc)
    check(want in impostor.log(), "n2's log lacks %r" % want)
    ok("-id n2 on n1's data dir: exit 1, %r" % want)

    # The right name starts; an identity file from before identity files
    # (none at all) is adopted and comes back with the cluster id.
    os.unlink(os.path.join(n1.data_dir, "identity"))
    n1.start()
    check("had no identity file" in n1.log(), "n1 did not log the adoption")
    wait_for("n1 has the cluster id again", 10, lambda: cluster_id(n1) == cid)
    wait_for("n1 reads k", 10, lambda: n1.admin("kv get k") == "v1")
    check(os.path.exists(os.path.join(n1.data_dir, "identity")), "identity file not rewritten")
    ok("n1 restarts on its data dir; without its identity file it is adopted (logged)")
    return n0, n1, cid


def another_clusters_leader(c, n0, n1, cid):
    p = c.add_node("p", join=None)
    p.start()
    pid = wait_for("p knows its cluster id", 10, lambda: cluster_id(p))
    check(pid != cid, "two clusters drew the same id")
    reply = p.admin("raft join n1 %s" % n1.raft_addr, timeout=15)
    check(reply == "SUCCESS", "p's raft join of n1: %s" % reply)
    # p is no member of n1's configuration, so n1 refuses its hello
    # (raft/node.c on_hello) before any cluster frame; a member of another
    # cluster would get past that and be refused by the cluster id.
    refusals = ["peer p belongs to cluster %s, this data dir (%s) to cluster %s" % (
        pid, n1.data_dir, cid), "closing peer connection from p "]
    wait_for("n1 refuses p", 10, lambda: any(r in n1.log() for r in refusals))
    ok("n1 logs: %s" % [r for r in refusals if r in n1.log()][0])
    check(n0.admin("kv set k v2") == "SUCCESS", "kv set after p's attempt")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        s = n1.status()
        check(s["leader"] in ("n0", "n1"), "n1 follows %s" % s["leader"])
        time.sleep(0.2)
    lead = c.leader(among=[n0, n1])
    check("following p" not in n1.log(), "n1 followed p at some point")
    check("p" not in n1.peers(), "n1 took p's configuration: %s" % n1.peers())
    wait_for("n1 has n0's write", 10, lambda: n1.admin("kv get k") == "v2")
    ok("n1 stays in its cluster for 3 s (leader %s), never followed p, has n0's writes"
       % lead.name)


def identity_and_other_cluster():
    with Cluster("holes-identity") as c:
        n0, n1, cid = data_dir_identity(c)
        another_clusters_leader(c, n0, n1, cid)


def bounded_stop():
    with Cluster("holes-stop") as c:
        z = c.write_file("a.zone", make_zone("a.test", [("www", "A", "10.0.0.1")]))
        os.environ["DNSRAFT_TEST_STUCK_LOADER"] = "1"
        try:
            n0 = c.add_node("n0", zone_files=[z], join=None, extra=["-stop.timeout", "1500"])
            n0.start()
            n1 = c.add_node("n1", zone_files=[z], join=None, extra=["-stop.timeout", "60000"])
            n1.start()
        finally:
            del os.environ["DNSRAFT_TEST_STUCK_LOADER"]
        wait_for("n0's loader hangs", 5, lambda: "the loader hangs" in n0.log())
        rc, took = sigterm_and_wait(n0, 8)
        check(rc == 3, "n0 exited %d, not 3" % rc)
        check(took < 4, "n0 took %.1fs (stop.timeout 1.5s)" % took)
        want = "stop not done after 1500 ms while waiting for the zone loader (parsing %s)" % z
        check(want in n0.log(), "n0's log lacks %r" % want)
        ok("stuck loader: exit 3 after %.2fs (stop.timeout 1.5 s), log names the loader" % took)

        wait_for("n1's loader hangs", 5, lambda: "the loader hangs" in n1.log())
        n1.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        check(n1.alive(), "n1 stopped before its 60 s deadline")
        rc, took = sigterm_and_wait(n1, 3)
        check(rc == 3, "n1 exited %d after a second SIGTERM, not 3" % rc)
        check("second SIGTERM while waiting for the zone loader" in n1.log(),
              "n1's log does not say why it exited")
        ok("second SIGTERM: exit 3 after %.2fs" % took)

        # A loader whose proposals wait for a quorum that never comes.
        q = c.write_file("q.zone", make_zone("q.test", [("www", "A", "10.0.1.1")]))
        m0 = c.add_node("m0", zone_files=[q], join=None)
        m0.start()
        m1 = c.add_node("m1", join=m0)
        m1.start()
        m2 = c.add_node("m2", join=m0)
        m2.start()
        c.wait_voters(["m0", "m1", "m2"], via=m0)
        wait_for("q.test loads", 10, lambda: m0.resolves("www.q.test", ["10.0.1.1"]))
        m1.kill()
        m2.kill()
        c.write_file("q.zone", make_zone("q.test", [("www", "A", "10.0.1.2")], serial=2))
        m0.signal(signal.SIGHUP)
        wait_for("m0 reloads", 5, lambda: "SIGHUP: reloading" in m0.log())
        time.sleep(1)  # its proposal now waits for a commit that cannot come
        rc, took = sigterm_and_wait(m0, 8)
        check(rc == 0, "m0 exited %d" % rc)
        check(took < 3, "m0 took %.1fs to stop with its loader waiting for a quorum" % took)
        ok("loader waiting for a quorum that never comes: stopped in %.2fs, status 0" % took)

        # A member that accepts the connection and never answers.
        silent = socket.socket()
        silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        port = free_port()
        silent.bind(("127.0.0.1", port))
        silent.listen(8)
        try:
            j = c.add_node("j", join="127.0.0.1:%d" % port)
            j.start(wait=False)
            wait_for("j is up", 10, lambda: j.admin("kv ping", timeout=1) == "PONG")
            time.sleep(1)  # the joiner is now waiting for an answer
            rc, took = sigterm_and_wait(j, 8)
        finally:
            silent.close()
        check(rc == 0, "j exited %d" % rc)
        check(took < 3, "j took %.1fs to stop while joining a silent member" % took)
        ok("joiner waiting on a silent member: stopped in %.2fs, status 0" % took)


def main():
    zone_files_that_are_not_regular()
    identity_and_other_cluster()
    bounded_stop()


if __name__ == "__main__":
    run_main(main)
