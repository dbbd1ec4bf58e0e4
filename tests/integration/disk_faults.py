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

Then a full disk (the shim's fail-write switch: every write to the data
dir fails with ENOSPC), again on the leader of a fresh cluster:
- writes sent to it are answered `ERROR storage full`, and it logs that it
  stops taking part until space returns; DNS keeps answering;
- the two others elect a leader and acknowledge writes;
- once the switch is off it says "storage space is back" by itself (no
  restart), takes writes again, catches up, and after a power cut of all
  three every acknowledged write is on every node;
- a full disk whose retry then meets an fsync error stops for good, once.
"""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import ROOT, Cluster, Conn, check, make_zone, ok, run_main, wait_for  # noqa: E402
from power_cut import PowerCluster, Writer, read_back  # noqa: E402


BINARY = os.environ.get("DNSRAFT_BIN", os.path.join(ROOT, "bin", "dns-raft"))


def send_writes(node, prefix, count, acked):
    """count kv sets to node, one at a time; the replies (SUCCESS ones are
    recorded in acked)."""
    replies = []
    with Conn(node.raft_port, timeout=15) as conn:
        for i in range(count):
            key, value = "%s%d" % (prefix, i), "x%d" % i
            try:
                reply = conn.cmd("kv set %s %s" % (key, value))
            except OSError as e:
                reply = "no reply (%s)" % type(e).__name__
            replies.append(reply)
            if reply == "SUCCESS":
                acked[key] = value
    return replies


def disk_full():
    with Cluster("diskfull") as c:
        pc = PowerCluster(c, BINARY)
        zone = c.write_file("zf.test.zone", make_zone("zf.test", [("www", "A", "10.9.0.1")]))
        pc.nodes[0].zone_files = [zone]
        pc.start(pc.nodes[0])
        pc.leader()
        for n in pc.nodes[1:]:
            pc.start(n)
        c.wait_voters([n.name for n in pc.nodes], timeout=30)
        w = Writer()
        w.write(pc.nodes, 50)
        victim = pc.leader()
        others = [n for n in pc.nodes if n is not victim]
        switch = os.path.join(victim.shadow, "fail-write")
        open(switch, "w").close()
        replies = send_writes(victim, "full", 10, w.acked)
        check(all(r == "ERROR storage full" for r in replies),
              "writes to %s with a full disk: %s" % (victim.name, replies))
        wait_for("%s logs the full disk" % victim.name, 15, lambda: "storage full" in victim.log())
        check(victim.resolves("www.zf.test", ["10.9.0.1"]), "%s stopped answering DNS" % victim.name)
        ok("full disk on the leader %s: 10 writes answered ERROR storage full, DNS answers"
           % victim.name)
        w.write(others, 50)
        ok("the two others elected %s and acknowledged 50 more writes"
           % c.leader(among=others, timeout=30).name)
        os.unlink(switch)
        wait_for("%s says the space is back" % victim.name, 15,
                 lambda: "storage space is back" in victim.log())
        def takes_writes():
            return send_writes(victim, "back%d-" % time.monotonic_ns(), 1, w.acked) == ["SUCCESS"]
        wait_for("%s acknowledges writes again" % victim.name, 30, takes_writes)
        w.write(pc.nodes, 50)
        pc.leader()
        read_back(pc.nodes, w.acked)
        ok("space back: %s took part again without a restart; all %d acknowledged writes on "
           "every node" % (victim.name, len(w.acked)))
        pc.cut(pc.nodes)
        pc.leader()
        read_back(pc.nodes, w.acked)
        ok("then a power cut of all three: all %d still on every node" % len(w.acked))

        # Full, then an fsync error while it retries: it stops for good,
        # once (no retry loop), and says storage failure from then on.
        victim = pc.leader()
        shadow = victim.shadow
        open(os.path.join(shadow, "fail-write"), "w").close()
        check(send_writes(victim, "full2-", 1, w.acked) == ["ERROR storage full"],
              "%s: no ERROR storage full" % victim.name)
        open(os.path.join(shadow, "fail-sync"), "w").close()
        os.unlink(os.path.join(shadow, "fail-write"))
        wait_for("%s gives up" % victim.name, 15, lambda: "fix the disk and restart it" in victim.log())
        time.sleep(3)
        stops = victim.log().count("fix the disk and restart it")
        check(stops == 1, "%s logged %d permanent failures: a retry loop" % (victim.name, stops))
        replies = send_writes(victim, "eio2-", 3, w.acked)
        check(all(r.startswith("ERROR storage failure") for r in replies),
              "%s after a failed retry: %s" % (victim.name, replies))
        os.unlink(os.path.join(shadow, "fail-sync"))
        ok("full, then fsync EIO during the retry: %s stopped for good, once, and refuses writes"
           % victim.name)
        for n in pc.nodes:
            if n is not victim:
                n.stop()


def fsync_eio():
    binary = BINARY
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


def main():
    random.seed(os.getpid())
    fsync_eio()
    disk_full()


if __name__ == "__main__":
    run_main(main)
