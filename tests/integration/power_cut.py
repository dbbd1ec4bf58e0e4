#!/usr/bin/python3
"""tests/integration/power_cut.py — issue 18: acknowledged writes survive
power cuts, and the power-cut model has teeth.

kill -9 keeps the page cache, so a missing fsync passes every crash test.
Here every node runs under tests/faults/powercut_shim.c (LD_PRELOAD), and a
power cut is SIGKILL followed by tests/faults/powercut.py `restore`: each
file and directory of the node's data dir goes back to its last sync (see
the shim's header for what that models). With --tear, any subset of the
512-byte sectors written since a file's last sync survives.

A 3-node cluster, in rounds, each ending with every acknowledged key read
back (linearizable kv get) on every node:
  1. writes, then a power cut of all three nodes at once;
  2. writes, a power cut of one follower, writes, a power cut of the
     leader (torn writes), writes;
  3. writes, then all three again (torn writes).
Each round's writes are acknowledged within the life of the processes
that the cut hits, so a write that is acknowledged but not durable is lost
on every node and the read-back must see it.

Then the teeth: the same rounds with build/tests/dns-raft-skip-wal-sync
(one fdatasync of the WAL removed) and build/tests/dns-raft-skip-dir-sync
(the directory fsync after a rename removed) must each lose an
acknowledged write (or leave a cluster that never comes back), in the
first round that cuts every node.
"""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "faults"))
from clusterlib import ROOT, Cluster, Conn, TestFailure, check, ok, run_main  # noqa: E402
import powercut  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
PLANTED = {
    "skip-wal-sync": os.path.join(BUILD, "tests", "dns-raft-skip-wal-sync"),
    "skip-dir-sync": os.path.join(BUILD, "tests", "dns-raft-skip-dir-sync"),
}


class Writer:
    """Sequential acknowledged writes, pipelined in small batches, through
    whichever node answers; keeps every key answered SUCCESS."""

    def __init__(self):
        self.acked = {}
        self.seq = 0

    def write(self, nodes, count, batch=10):
        done = 0
        deadline = time.time() + 60
        while done < count:
            check(time.time() < deadline, "only %d of %d writes acknowledged in 60 s" % (done, count))
            node = random.choice([n for n in nodes if n.alive()])
            keys = []
            for _ in range(batch):
                self.seq += 1
                keys.append(("p%d" % self.seq, "v%d-%08x" % (self.seq, random.getrandbits(32))))
            try:
                with Conn(node.raft_port, timeout=10) as c:
                    c.send("".join("kv set %s %s\n" % kv for kv in keys))
                    for k, v in keys:
                        if c.reply() == "SUCCESS":
                            self.acked[k] = v
                            done += 1
            except OSError:
                time.sleep(0.1)
        return done


def read_back(nodes, acked):
    """Every acknowledged key, on every node; raises TestFailure on a loss."""
    for n in nodes:
        keys = list(acked)
        got = {}
        for s in range(0, len(keys), 400):
            part = keys[s:s + 400]
            with Conn(n.raft_port, timeout=30) as c:
                c.send("".join("kv get %s\n" % k for k in part))
                for k in part:
                    got[k] = c.reply()
        lost = [k for k in keys if got[k] != acked[k]]
        if lost:
            raise TestFailure("%s lost %d of %d acknowledged writes, e.g. %s -> %r (want %r)"
                              % (n.name, len(lost), len(keys), lost[0], got[lost[0]], acked[lost[0]]))


class PowerCluster:
    def __init__(self, c, binary):
        self.c = c
        self.nodes = [c.add_node("n%d" % i, join=i > 0) for i in range(3)]
        for n in self.nodes:
            n.binary = binary
            n.shadow = n.data_dir + ".shadow"
            n.env = powercut.env(n.data_dir, n.shadow)

    def start(self, n, wait=True):
        powercut.snapshot(n.data_dir, n.shadow)
        n.start(wait=wait)

    def cut(self, victims, tear=None):
        for n in victims:
            n.kill()
        for n in victims:
            what = powercut.restore(n.data_dir, n.shadow, tear)
            print("     power cut %s: %s" % (n.name, what), flush=True)
        for n in victims:
            self.start(n, wait=False)
        for n in victims:
            n.wait_up(timeout=30)

    def leader(self):
        return self.c.leader(timeout=30)


def rounds(binary, label, rng):
    """The three rounds; returns the number of acknowledged writes checked."""
    with Cluster("power-" + label) as c:
        pc = PowerCluster(c, binary)
        pc.start(pc.nodes[0])
        pc.leader()
        for n in pc.nodes[1:]:
            pc.start(n)
        c.wait_voters([n.name for n in pc.nodes], timeout=30)
        w = Writer()
        nodes = pc.nodes

        w.write(nodes, 150)
        pc.cut(nodes)
        pc.leader()
        read_back(nodes, w.acked)
        print("     round 1 (%s): all 3 cut after %d acks, none lost" % (label, len(w.acked)), flush=True)

        w.write(nodes, 100)
        leader = pc.leader()
        follower = [n for n in nodes if n is not leader][0]
        pc.cut([follower])
        w.write(nodes, 100)
        leader = pc.leader()
        pc.cut([leader], tear=rng)
        w.write(nodes, 100)
        pc.leader()
        read_back(nodes, w.acked)
        print("     round 2 (%s): a follower, then the leader (torn) cut, %d acks, none lost"
              % (label, len(w.acked)), flush=True)

        w.write(nodes, 150)
        pc.cut(nodes, tear=rng)
        pc.leader()
        read_back(nodes, w.acked)
        print("     round 3 (%s): all 3 cut (torn), %d acks, none lost" % (label, len(w.acked)), flush=True)
        for n in nodes:
            n.stop()
        return len(w.acked)


def main():
    for path in [powercut.SHIM] + list(PLANTED.values()):
        check(os.path.exists(path), "missing %s (run make powercut)" % path)
    seed = int(os.environ.get("POWERCUT_SEED", os.getpid()))
    print("     seed %d (POWERCUT_SEED to repeat)" % seed, flush=True)
    rng = random.Random(seed)
    random.seed(seed)
    acked = rounds(os.environ.get("DNSRAFT_BIN", os.path.join(ROOT, "bin", "dns-raft")), "ours", rng)
    ok("3 power-cut rounds (all nodes, one follower, the leader, all nodes torn): "
       "all %d acknowledged writes on every node" % acked)
    for label, binary in PLANTED.items():
        try:
            rounds(binary, label, rng)
        except TestFailure as e:
            ok("teeth: %s caught: %s" % (label, str(e).splitlines()[0][:160]))
            continue
        raise TestFailure("teeth: %s was not caught: no acknowledged write lost" % label)


if __name__ == "__main__":
    run_main(main)
