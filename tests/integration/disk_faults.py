#!/usr/bin/python3
"""tests/integration/disk_faults.py — issue 18: a failed fsync.

Linux may drop the dirty pages of a failed write-back and clear the error,
so a node must never take a failed fsync/fdatasync for a success (the 2018
PostgreSQL "fsyncgate"): its WAL refuses every later call, and the node
stops taking part in Raft with a clear message (DNS keeps serving).

A 3-node cluster under tests/faults/powercut_shim.so; acknowledged writes;
then every fsync of the leader's data dir fails with EIO (the shim's
fail-sync switch). Checked:
- the leader logs the failed sync and "stops taking part in Raft", and
  stays up;
- no write sent to it from then on is answered SUCCESS;
- the two others elect a leader and acknowledge writes;
- after a power cut of all three (the failed node loses what its failed
  syncs should have kept) and a restart with a healthy disk, every
  acknowledged write is on every node.
"""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import ROOT, Cluster, Conn, check, ok, run_main, wait_for  # noqa: E402
from power_cut import PowerCluster, Writer, read_back  # noqa: E402


def main():
    binary = os.environ.get("DNSRAFT_BIN", os.path.join(ROOT, "bin", "dns-raft"))
    random.seed(os.getpid())
    with Cluster("diskfault") as c:
        pc = PowerCluster(c, binary)
        pc.start(pc.nodes[0])
        pc.leader()
        for n in pc.nodes[1:]:
            pc.start(n)
        c.wait_voters([n.name for n in pc.nodes], timeout=30)
        w = Writer()
        w.write(pc.nodes, 100)

        victim = pc.leader()
        others = [n for n in pc.nodes if n is not victim]
        open(os.path.join(victim.shadow, "fail-sync"), "w").close()
        replies = []
        with Conn(victim.raft_port, timeout=15) as conn:
            for i in range(20):
                key, value = "eio%d" % i, "x%d" % i
                try:
                    reply = conn.cmd("kv set %s %s" % (key, value))
                except OSError as e:
                    reply = "no reply (%s)" % type(e).__name__
                replies.append(reply)
                if reply == "SUCCESS":  # recorded, so that the end checks it too
                    w.acked[key] = value
        acked_after = [r for r in replies if r == "SUCCESS"]
        check(not acked_after, "%d writes acknowledged by %s after its fsync failed: %s"
              % (len(acked_after), victim.name, replies))
        wait_for("%s logs that it stopped" % victim.name, 15,
                 lambda: "stops taking part in Raft" in victim.log())
        log = victim.log()
        check("Input/output error" in log, "the failed sync is not named in %s's log" % victim.name)
        check(victim.alive(), "%s exited after the failed fsync" % victim.name)
        line = [l for l in log.splitlines() if "stops taking part" in l][0]
        ok("fsync EIO on the leader %s: %d writes to it refused (%s); it logged: %s"
           % (victim.name, len(replies), replies[0], line.split("  ", 1)[-1][:200]))

        w.write(others, 100)
        ok("the two others elected %s and acknowledged 100 more writes"
           % c.leader(among=others, timeout=30).name)

        os.unlink(os.path.join(victim.shadow, "fail-sync"))
        pc.cut(pc.nodes)
        pc.leader()
        time.sleep(0.5)
        read_back(pc.nodes, w.acked)
        ok("power cut of all three, healthy disks again: all %d acknowledged writes on every node"
           % len(w.acked))
        for n in pc.nodes:
            n.stop()


if __name__ == "__main__":
    run_main(main)
