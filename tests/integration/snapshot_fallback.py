#!/usr/bin/python3
"""tests/integration/snapshot_fallback.py — issue 18: a corrupt newest
snapshot falls back to the one before it, with the log covering the gap.

A one-node cluster snapshots every 40 entries (-raft.snapshot.entries), with
1 KiB log segments (DNSRAFT_TEST_WAL_SEGMENT_SIZE) so that snapshots delete
old segments, while 300 keys are written; it is stopped, a byte in the middle of its newest
snapshot file is flipped, and it is started again. It must start (log:
"the newest snapshot ... is corrupt"), serve every acknowledged key, keep
the bad file as *.corrupt, and go on snapshotting (the set-aside file is
neither loaded nor pruned). A node whose log did not reach back to the
older snapshot would refuse to start instead ("entries missing").
"""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, Conn, check, ok, run_main, wait_for  # noqa: E402


def write(n, first, count):
    keys = {"k%d" % i: "v%d" % i for i in range(first, first + count)}
    with Conn(n.raft_port, timeout=30) as c:
        for k, v in keys.items():
            check(c.cmd("kv set %s %s" % (k, v)) == "SUCCESS", "kv set %s failed" % k)
    return keys


def read_back(n, keys):
    with Conn(n.raft_port, timeout=30) as c:
        c.send("".join("kv get %s\n" % k for k in keys))
        for k, v in keys.items():
            got = c.reply()
            check(got == v, "kv get %s after the fall-back: %r, want %r" % (k, got, v))


def snapshots(n):
    return sorted(glob.glob(os.path.join(n.data_dir, "snap", "snap-*.snap")))


def main():
    with Cluster("snapfall") as c:
        n = c.add_node("solo", join=False, extra=["-raft.snapshot.entries", "40"])
        # 1 KiB log segments (a dozen entries each), so that snapshots do
        # delete segments and the log's reach back matters.
        n.env = {"DNSRAFT_TEST_WAL_SEGMENT_SIZE": "1024"}
        n.start()
        c.leader(timeout=15)
        keys = write(n, 0, 300)
        wait_for("two snapshots on disk", 20, lambda: len(snapshots(n)) >= 2)
        n.stop()
        snaps = snapshots(n)
        newest = snaps[-1]
        size = os.path.getsize(newest)
        with open(newest, "r+b") as f:
            f.seek(size // 2)
            b = f.read(1)
            f.seek(size // 2)
            f.write(bytes([b[0] ^ 0x40]))
        n.start()
        c.leader(timeout=15)
        read_back(n, keys)
        log = n.log()
        check("is corrupt" in log and "trying the one before it" in log,
              "no fall-back message in the log")
        check(os.path.exists(newest + ".corrupt"), "the bad snapshot was not kept as .corrupt")
        check(newest not in snapshots(n), "the bad snapshot is still taken for a snapshot")
        ok("corrupt newest snapshot %s: started from %s and the log; all %d keys served"
           % (os.path.basename(newest), os.path.basename(snaps[-2]), len(keys)))
        keys.update(write(n, 300, 200))
        wait_for("a new snapshot after the fall-back", 20,
                 lambda: snapshots(n) and snapshots(n)[-1] > newest)
        n.stop()
        n.start()
        c.leader(timeout=15)
        read_back(n, keys)
        check(os.path.exists(newest + ".corrupt"), "the .corrupt file was pruned")
        ok("after the fall-back: new snapshots, a clean restart, all %d keys served" % len(keys))
        n.stop()


if __name__ == "__main__":
    run_main(main)
