"""tests/faults/nemesis.py — the seeded fault schedule and the faults themselves.

Owns: choosing the faults of one run from its seed (so a seed replays the
same schedule), applying each one, holding it, healing it, and counting the
faults injected by kind. Every action is written to the run's event list
with its time, so a failure can show the nemesis around the anomaly.

Faults (each healed before the next starts):
  kill-leader / kill-follower     kill -9, restart after the hold
  pause-leader / pause-follower   SIGSTOP, SIGCONT after the hold
  partition-halves                random majority/minority split (both ways)
  isolate-leader                  the leader cut from every other node
  bridge                          two sides that only one node connects
  one-way                         one node stops hearing from the others
  loss                            every node drops 10-40% of peer packets
  delay                           every node-to-node connection delayed 20-270 ms
                                  (+0-50 ms jitter) each way by a user-space
                                  proxy (no netem here: delayproxy.py)
  truncate-wal                    an isolated leader appends entries it cannot
                                  commit; kill -9, cut 1-16 bytes off its last
                                  WAL segment, restart, heal
  torn-tail                       kill -9, append a half-written record to the
                                  last WAL segment, restart
  disk-full                       the tmpfs node's data dir filled up; it must
                                  log a storage error and stay up; space
                                  freed, the node restarted
  power-cut                       kill -9 one node (the leader 1 time in 3)
                                  under load, roll its data dir back to its
                                  last syncs, with torn unsynced sectors
                                  (powercut.py, the shim's page-cache model),
                                  restart after the hold
  power-cut-all                   the same for every node at once
  replace-node                    a node (the leader too) replaced the way
                                  docs/operations.md says: raft leave, stop
                                  it, wipe its data dir, start it again with
                                  -raft.join; it rejoins as a learner, catches
                                  up and is promoted (a membership change
                                  under the other faults)
"""
import glob
import os
import random
import shutil
import struct
import time

import powercut
from nodes import admin_connect

KINDS = ["kill-leader", "kill-follower", "pause-leader", "pause-follower", "partition-halves",
         "isolate-leader", "bridge", "one-way", "loss", "delay", "truncate-wal", "torn-tail",
         "disk-full", "replace-node", "power-cut", "power-cut-all"]
POWER_KINDS = ("power-cut", "power-cut-all")  # need the nodes under the shim


# Outside the failure model (Raft assumes what a node acknowledged stays on
# its disk), so never drawn by default; --kinds truncate-acked reproduces the
# stuck follower described in docs/reliability.md.
EXTRA_KINDS = ["truncate-acked"]


class Nemesis:
    def __init__(self, cluster, lab, history, seed, kinds=None, tmpfs_node=None):
        self.c, self.lab, self.h = cluster, lab, history
        self.rng = random.Random(seed)
        self.kinds = kinds or [k for k in KINDS if k != "disk-full" or tmpfs_node is not None]
        self.tmpfs_node = tmpfs_node
        self.counts = {}
        self.refused = 0   # disk-full faults whose node logged the storage error
        self.replaced = 0  # replace-node faults that removed and wiped the node
        self.expected_dead = set()  # nodes we killed and have not restarted

    def log(self, text):
        self.h.event(text)

    def pick_leader(self):
        ld = self.c.leader()
        return ld if ld is not None else self.rng.choice(self.c.nodes)

    def pick_follower(self):
        ld = self.c.leader()
        others = [n for n in self.c.nodes if n is not ld]
        return self.rng.choice(others)

    def check_alive(self):
        for n in self.c.nodes:
            if n.i in self.expected_dead or n.proc is None:
                continue
            rc = n.proc.poll()
            if rc is not None:
                self.h.anomaly(f"{n.id} exited on its own (status {rc})")
                self.expected_dead.add(n.i)
                n.start()
                self.log(f"restarted {n.id} after its unexpected exit")

    # ---- one fault -------------------------------------------------------------------
    def apply(self, kind, hold):
        self.counts[kind] = self.counts.get(kind, 0) + 1
        getattr(self, "f_" + kind.replace("-", "_"))(hold)
        self.check_alive()

    def f_kill(self, node, hold, wipe=False, join=None):
        """kill -9, hold, restart; wipe=True also empties its data dir, so the
        restart joins the cluster anew through `join`."""
        self.log(f"kill -9 {node.id}" + ("; data dir wiped" if wipe else ""))
        self.expected_dead.add(node.i)
        node.kill()
        if wipe:
            shutil.rmtree(node.data, ignore_errors=True)
        time.sleep(hold)
        node.start(join=join)
        self.expected_dead.discard(node.i)
        self.log(f"restart {node.id}" + (f" with -raft.join {join.id}" if join else ""))

    def f_kill_leader(self, hold):
        self.f_kill(self.pick_leader(), hold)

    def f_kill_follower(self, hold):
        self.f_kill(self.pick_follower(), hold)

    def f_pause(self, node, hold):
        self.log(f"SIGSTOP {node.id}")
        node.pause()
        time.sleep(hold)
        node.resume()
        self.log(f"SIGCONT {node.id}")

    def f_pause_leader(self, hold):
        self.f_pause(self.pick_leader(), hold)

    def f_pause_follower(self, hold):
        self.f_pause(self.pick_follower(), hold)

    def partition(self, side_a, side_b, what, hold):
        for a in side_a:
            for b in side_b:
                self.lab.cut_both(a.i, b.i)
        self.log(f"partition ({what}): {[n.id for n in side_a]} | {[n.id for n in side_b]}")
        time.sleep(hold)
        self.lab.heal()
        self.log("heal network")

    def f_partition_halves(self, hold):
        nodes = list(self.c.nodes)
        self.rng.shuffle(nodes)
        k = len(nodes) // 2
        self.partition(nodes[:k], nodes[k:], "minority | majority", hold)

    def f_isolate_leader(self, hold):
        ld = self.pick_leader()
        self.partition([ld], [n for n in self.c.nodes if n is not ld], "isolated leader", hold)

    def f_bridge(self, hold):
        nodes = list(self.c.nodes)
        self.rng.shuffle(nodes)
        bridge, rest = nodes[0], nodes[1:]
        half = len(rest) // 2
        side_a, side_b = rest[:half], rest[half:]
        for a in side_a:
            for b in side_b:
                self.lab.cut_both(a.i, b.i)
        self.log(f"bridge: {[n.id for n in side_a]} <-> {bridge.id} <-> {[n.id for n in side_b]}")
        time.sleep(hold)
        self.lab.heal()
        self.log("heal network")

    def f_one_way(self, hold):
        node = self.pick_leader() if self.rng.random() < 0.5 else self.rng.choice(self.c.nodes)
        for other in self.c.nodes:
            if other is not node:
                self.lab.cut(node.i, other.i)
        self.log(f"one-way: {node.id} hears nobody (its own packets still leave)")
        time.sleep(hold)
        self.lab.heal()
        self.log("heal network")

    def f_loss(self, hold):
        p = 0.1 + self.rng.random() * 0.3
        for n in self.c.nodes:
            self.lab.loss(n.i, p)
        self.log(f"packet loss {p:.2f} on every node")
        time.sleep(hold)
        self.lab.heal()
        self.log("heal network")

    def last_segment(self, node):
        segs = sorted(glob.glob(os.path.join(node.data, "wal", "*.wal")))
        return segs[-1] if segs else None

    @staticmethod
    def records(seg):
        """(offset, index) of each whole record of a segment, and the offset
        where they end: the file runs on with the zeros the log preallocates
        (docs/storage.md), so its size is not that end."""
        with open(seg, "rb") as f:
            data = f.read()
        off, recs = 32, []  # after the segment header
        while off + 25 <= len(data) and data[off:off + 25] != bytes(25):
            n = struct.unpack_from("<I", data, off)[0]
            if off + 25 + n > len(data):
                break
            recs.append((off, struct.unpack_from("<Q", data, off + 17)[0]))
            off += 25 + n
        return recs, min(off, len(data))

    @classmethod
    def records_end(cls, seg):
        return cls.records(seg)[1]

    def append_uncommitted(self, node, n=12):
        """Sends n writes of ~300 bytes to an isolated leader without waiting
        for their answers (there will be none): it appends them, so its
        uncommitted tail spans whole sectors. Keys `pad<k>` are not checked.
        Returns the open connections, to close after the kill."""
        socks = []
        for k in range(n):
            try:
                sock = admin_connect(node.addr, 1.0)
                sock.sendall(f"kv set pad{k} {'p' * 300}\n".encode())
                socks.append(sock)
            except OSError:
                pass
        return socks

    def lose_sector(self, seg, commit):
        """Zeroes a 512-byte sector that lies wholly inside the records after
        `commit`, with records after it: what a power cut leaves when the
        disk kept later sectors of an unsynced write but not that one. The
        log must cut there (docs/storage.md), not refuse to start. Returns
        the sector's offset, or None when the uncommitted tail is too short."""
        recs, end = self.records(seg)
        starts = [off for off, index in recs if index > commit]
        if not starts:
            return None
        first = (starts[0] + 511) // 512 * 512
        sectors = list(range(first, end - 512 - 1, 512))  # some record bytes follow each
        if not sectors:
            return None
        sector = self.rng.choice(sectors)
        with open(seg, "r+b") as f:
            f.seek(sector)
            f.write(bytes(512))
        return sector

    def f_truncate_wal(self, hold):
        """Damages the uncommitted tail of an isolated leader's WAL, as a
        crash can: it appended entries nobody else acknowledged, is killed,
        and then either a sector inside those records is zeroed (half the
        time, when they span a whole sector with records after it) or bytes
        are cut off its last record. (Damaging a record the node had fsynced
        and acknowledged breaks Raft's durability assumption; see
        docs/reliability.md.) When the leader appended nothing uncommitted, a
        torn tail is written instead."""
        node = self.pick_leader()
        others = [n for n in self.c.nodes if n is not node]
        for o in others:
            self.lab.cut_both(node.i, o.i)
        self.log(f"partition (isolated leader, to tear its WAL): {node.id} | {[o.id for o in others]}")
        zero_sector = self.rng.random() < 0.5
        pending = self.append_uncommitted(node) if zero_sector else []
        time.sleep(0.3 + self.rng.random())
        st = node.status(1.0) or {}
        uncommitted = int(st.get("last_index", 0)) > int(st.get("commit", 0))
        self.expected_dead.add(node.i)
        node.kill()
        for sock in pending:
            sock.close()
        seg = self.last_segment(node)
        lost = None
        if uncommitted and seg and zero_sector:
            lost = self.lose_sector(seg, int(st.get("commit", 0)))
        if lost is not None:
            self.log(f"kill -9 {node.id}; zeroed the sector at {lost} of {os.path.basename(seg)} "
                     f"inside its uncommitted records (last_index {st.get('last_index')} > "
                     f"commit {st.get('commit')})")
        elif uncommitted and seg:
            size = self.records_end(seg)
            cut = 1 + self.rng.randrange(16)
            os.truncate(seg, max(32, size - cut))
            self.log(f"kill -9 {node.id}; cut {cut} bytes off {os.path.basename(seg)} "
                     f"(last_index {st.get('last_index')} > commit {st.get('commit')})")
        else:
            self.tear(node, seg)
        time.sleep(hold / 2)
        node.start()
        self.expected_dead.discard(node.i)
        self.log(f"restart {node.id}")
        time.sleep(hold / 2)
        self.lab.heal()
        self.log("heal network")
        self.wait_converged(20)

    def tear(self, node, seg):
        """Writes the start of a record that never finished right after the
        last whole one: a header whose length runs past what was written (a
        write cut by a crash), over the preallocated zeros if there are any."""
        if not seg:
            return
        torn = struct.pack("<I", 64 + self.rng.randrange(200)) + bytes(
            self.rng.randrange(256) for _ in range(self.rng.randrange(40)))
        end = self.records_end(seg)
        with open(seg, "r+b") as f:
            f.seek(end)
            f.write(torn)
        self.log(f"appended a torn record ({len(torn)} bytes) to {os.path.basename(seg)} of {node.id}")

    def f_delay(self, hold):
        """Every node's connections to other nodes go through a proxy that
        holds each chunk 20-270 ms (+ up to 50 ms jitter) each way."""
        from delayproxy import DelayProxy
        d = 0.02 + self.rng.random() * 0.25
        proxies = []
        try:
            for n in self.c.nodes:
                p = DelayProxy(self.lab, n.i, d, 0.05, self.rng.random())
                proxies.append(p)
                p.start()
            self.log(f"delay {d * 1000:.0f} ms (+0-50 ms jitter) on every node-to-node connection")
            time.sleep(hold * 2)
        finally:
            self.lab.heal()
            for p in proxies:
                p.stop()
            self.log("heal network (delay proxies stopped)")

    def f_truncate_acked(self, hold):
        node = self.pick_follower()
        self.expected_dead.add(node.i)
        node.kill()
        seg = self.last_segment(node)
        if seg:
            size = self.records_end(seg)
            os.truncate(seg, max(32, size - 1 - self.rng.randrange(16)))
            self.log(f"kill -9 {node.id}; cut its last (acknowledged) WAL record: {size} -> "
                     f"{os.path.getsize(seg)} bytes")
        time.sleep(hold / 2)
        node.start()
        self.expected_dead.discard(node.i)
        self.log(f"restart {node.id}")

    def power_cut(self, nodes, hold):
        """kill -9 nodes at once, roll each data dir back to its synced
        state (unsynced sectors torn), hold, restart them."""
        names = " ".join(n.id for n in nodes)
        for n in nodes:
            self.expected_dead.add(n.i)
            n.kill()
        self.log(f"power cut {names}")
        for n in nodes:
            what = powercut.restore(n.data, n.shadow, tear=self.rng)
            self.log(f"{n.id} data dir rolled back to its syncs: {what}")
        time.sleep(hold)
        for n in nodes:
            n.start()
            self.expected_dead.discard(n.i)
        self.log(f"restart {names}")

    def f_power_cut(self, hold):
        self.power_cut([self.pick_leader() if self.rng.random() < 1 / 3 else self.pick_follower()], hold)

    def f_power_cut_all(self, hold):
        self.power_cut(list(self.c.nodes), hold)

    def f_torn_tail(self, hold):
        node = self.pick_leader() if self.rng.random() < 0.3 else self.pick_follower()
        self.log(f"kill -9 {node.id} (to tear its WAL)")
        self.expected_dead.add(node.i)
        node.kill()
        self.tear(node, self.last_segment(node))
        time.sleep(hold / 2)
        node.start()
        self.expected_dead.discard(node.i)
        self.log(f"restart {node.id}")

    def f_disk_full(self, hold):
        node = self.tmpfs_node
        junk = os.path.join(os.path.dirname(node.data), "junk")
        before = node.log_text().count("stops taking part in Raft")
        # Unbuffered: a buffered file would raise ENOSPC again on close.
        with open(junk, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
            try:
                while True:  # the last partial block
                    f.write(b"\0" * 512)
            except OSError:
                pass
        self.log(f"disk full under {node.id}")
        self.write_past_preallocation(node)
        time.sleep(hold)
        refused = node.log_text().count("stops taking part in Raft") > before
        if node.alive:
            self.log(f"{node.id} still up; storage error logged: {refused}")
        os.unlink(junk)
        self.log(f"space freed under {node.id}; kill -9 and restart it")
        self.expected_dead.add(node.i)
        node.kill()
        node.start()
        self.expected_dead.discard(node.i)
        self.refused += 1 if refused else 0

    def write_past_preallocation(self, node):
        """The WAL keeps 1 MiB of zeros ahead of its records (docs/storage.md),
        so a node whose disk just filled goes on logging into that space.
        About 1.2 MB of big values through the other nodes makes it need more
        while the disk is full. Keys `fill<k>` are outside the checked ones."""
        others = [n for n in self.c.nodes if n is not node and n.alive]
        value = "x" * 60000
        for k in range(20):
            if not others:
                return
            try:
                self.rng.choice(others).admin(f"kv set fill{k} {value}", timeout=3.0)
            except OSError:
                pass

    def f_replace_node(self, hold):
        node = self.rng.choice(self.c.nodes)
        others = [n for n in self.c.nodes if n is not node]
        removed = False
        for _ in range(5):  # `raft leave` of a non-member is SUCCESS: retrying is safe
            via = self.rng.choice(others)
            try:
                reply = via.admin(f"raft leave {node.id}", timeout=7.0)
            except OSError as e:
                reply = f"no reply ({e.__class__.__name__})"
            self.log(f"raft leave {node.id} via {via.id}: {reply}")
            if reply == "SUCCESS":
                removed = True
                break
            time.sleep(0.3)
        if not removed:  # still a member: wiping would destroy acknowledged entries
            self.log(f"leave of {node.id} not confirmed: its data dir is kept")
        self.f_kill(node, hold, wipe=removed, join=self.rng.choice(others))
        self.replaced += 1 if removed else 0

    def wait_converged(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.c.converged():
                return True
            time.sleep(0.3)
        self.log(f"not converged after {timeout}s")
        return False

    # ---- the schedule ----------------------------------------------------------------
    def run(self, duration, stop_event=None):
        t_end = time.monotonic() + duration
        while time.monotonic() < t_end:
            kind = self.rng.choice(self.kinds)
            hold = 0.5 + self.rng.random() * 3.0
            self.apply(kind, min(hold, max(0.3, t_end - time.monotonic())))
            gap = 0.5 + self.rng.random() * 1.5
            time.sleep(gap)

    def heal_all(self):
        self.lab.heal()
        for n in self.c.nodes:
            if n.paused:
                n.resume()
            if not n.alive:
                n.start()
        self.expected_dead.clear()
        self.log("final heal: network healed, every node running")
