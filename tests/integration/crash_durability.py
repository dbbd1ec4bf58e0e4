#!/usr/bin/python3
"""tests/integration/crash_durability.py — issue 4: kill -9 nodes in the
middle of heavy writes, many times, and check that nothing acknowledged is
lost after restart.

Three-node cluster: writer threads send `kv set` of unique keys to random
live nodes, one connection each, and record every key answered SUCCESS
(acknowledged), and every key whose outcome is unknown (an ERROR reply, a
timeout, a connection cut by a kill). Meanwhile a killer SIGKILLs a random
node ten times (every third time the leader) and restarts it with the same
command line; twice it kills all three at once (then an acknowledged write
survives only if it was on a majority's disk before the ack). At the end
every acknowledged key reads back with its value on every node
(linearizable kv get), and the nodes agree on every key ever tried,
acknowledged or not.

Single-node variant: a one-node cluster killed under writes three times;
every acknowledged write survives each restart (the ack follows the fsync).
"""
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, Conn, TestFailure, check, ok, run_main  # noqa: E402


class Load:
    """Writer threads against whichever nodes are up."""

    def __init__(self, nodes, writers, prefix="w"):
        self.nodes = nodes
        self.prefix = prefix
        self.writers = writers
        self.lock = threading.Lock()
        self.acked = {}     # key -> value, answered SUCCESS
        self.unknown = {}   # key -> value, outcome unknown
        self.errors = {}    # reply text -> count
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(t,), daemon=True)
                        for t in range(writers)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)
            check(not t.is_alive(), "a writer thread did not stop")

    def count(self):
        with self.lock:
            return len(self.acked)

    def _note_error(self, what):
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1

    def run(self, t):
        rng = random.Random(t)
        conn = None
        i = 0
        while not self.stop.is_set():
            if conn is None:
                live = [n for n in self.nodes if n.alive()]
                if not live:
                    time.sleep(0.01)
                    continue
                try:
                    # A short client timeout keeps the load on: a write
                    # stuck on one node (e.g. forwarded to a leader that
                    # just died) is recorded as unknown and the writer
                    # moves to another node.
                    conn = Conn(rng.choice(live).raft_port, timeout=1.5)
                except OSError:
                    time.sleep(0.01)
                    continue
            i += 1
            key = "%s%d-%d" % (self.prefix, t, i)
            value = "v%d-%d-%08x" % (t, i, rng.getrandbits(32))
            try:
                reply = conn.cmd("kv set %s %s" % (key, value))
            except OSError as e:
                reply = None
                self._note_error(type(e).__name__)
                conn.close()
                conn = None
            with self.lock:
                if reply == "SUCCESS":
                    self.acked[key] = value
                else:
                    self.unknown[key] = value
            if reply is not None and reply != "SUCCESS":
                self._note_error(reply)
                conn.close()  # an error may come with a dying node: move on
                conn = None
                time.sleep(0.02)
        if conn is not None:
            conn.close()


def read_all(node, keys, batch=400):
    """kv get of every key on node, pipelined in batches over fresh
    connections; {key: reply}."""
    out = {}
    keys = list(keys)
    for s in range(0, len(keys), batch):
        part = keys[s:s + batch]
        with Conn(node.raft_port, timeout=20) as c:
            c.send("".join("kv get %s\n" % k for k in part))
            for k in part:
                out[k] = c.reply()
    return out


def verify(nodes, load):
    """Called once the writers have stopped."""
    acked, tried = dict(load.acked), dict(load.unknown)
    tried.update(acked)
    views = {}
    for n in nodes:
        got = read_all(n, tried)
        for k in tried:
            check(not got[k].startswith("ERROR "), "kv get %s on %s failed: %r" % (k, n.name, got[k]))
        lost = [k for k, v in acked.items() if got[k] != v]
        if lost:
            raise TestFailure("%s lost %d acknowledged writes, e.g. %s -> %r (want %r)"
                              % (n.name, len(lost), lost[0], got[lost[0]], acked[lost[0]]))
        for k in load.unknown:
            check(got[k] in (tried[k], "ERROR"), "%s: %s holds %r, never written" % (n.name, k, got[k]))
        views[n.name] = got
    first = nodes[0].name
    for name, got in views.items():
        diff = [k for k in tried if got[k] != views[first][k]]
        if diff:
            raise TestFailure("%s and %s disagree on %d keys, e.g. %s: %r vs %r"
                              % (first, name, len(diff), diff[0], views[first][diff[0]], got[diff[0]]))
    unknown_present = sum(1 for k in load.unknown if views[first][k] != "ERROR")
    return len(acked), len(load.unknown), unknown_present


def three_nodes(rounds=10):
    with Cluster("crash3") as c:
        nodes = [c.add_node("n%d" % i, join=i > 0) for i in range(3)]
        for n in nodes:
            n.start()
        c.wait_voters([n.name for n in nodes], timeout=20)
        load = Load(nodes, writers=8)
        load.start()
        rng = random.Random(os.getpid())
        kills = []
        time.sleep(0.5)
        for r in range(rounds):
            time.sleep(rng.uniform(0.2, 0.6))
            if r % 5 == 4:
                # The whole cluster at once: an acknowledged write must be
                # on a majority's disk, nowhere else to come back from.
                before = load.count()
                for n in nodes:
                    n.kill()
                time.sleep(rng.uniform(0.05, 0.3))
                for n in nodes:
                    n.start(wait=False)
                for n in nodes:
                    n.wait_up()
                kills.append("all")
                print("     round %d: killed all 3 at %d acks, restarted" % (r + 1, before), flush=True)
                continue
            victim = c.leader(timeout=15) if r % 3 == 0 else rng.choice(nodes)
            was_leader = victim.status()["role"] == "leader"
            before = load.count()
            victim.kill()
            time.sleep(rng.uniform(0.05, 0.4))
            victim.start()
            kills.append("%s%s" % (victim.name, "(leader)" if was_leader else ""))
            print("     round %d: killed %s%s at %d acks, restarted; %d unknown so far"
                  % (r + 1, victim.name, " (leader)" if was_leader else "", before,
                     len(load.unknown)), flush=True)
        time.sleep(0.5)
        load.finish()
        c.leader(timeout=15)
        check(load.count() > 100, "only %d writes acknowledged under load" % load.count())
        acked, unknown, present = verify(nodes, load)
        ok("3 nodes, %d SIGKILLs (%s): all %d acknowledged writes on every node; "
           "%d unknown-outcome writes (%d committed), the nodes agree on all"
           % (rounds, " ".join(kills), acked, unknown, present))
        if load.errors:
            print("     errors seen by writers: %s" % sorted(load.errors.items(), key=lambda x: -x[1])[:6])
        for n in nodes:
            n.stop()


def solo_leader(c, n, when):
    """A restarted one-node cluster must elect itself again."""
    try:
        c.leader(timeout=10)
    except TestFailure:
        raise TestFailure("single node %s never became leader again %s: raft status %r, "
                          "raft peers %r (see /work/notes/cluster-bugs.txt)"
                          % (n.name, when, n.admin("raft status"), n.admin("raft peers")))


def one_node(rounds=3):
    """Each round: writers on, SIGKILL under them, writers off, restart,
    then every write acknowledged so far (this round and before) reads
    back. Writers pause for the check so that it stays short."""
    with Cluster("crash1") as c:
        n = c.add_node("solo", join=False)
        n.start()
        c.leader(timeout=10)
        n.stop()
        n.start()
        solo_leader(c, n, "after a graceful restart with no writes")
        acked, unknown = {}, {}
        for r in range(rounds):
            load = Load([n], writers=6, prefix="r%dw" % r)
            load.start()
            time.sleep(0.7)
            during = load.count()
            n.kill()
            load.finish()
            acked.update(load.acked)
            unknown.update(load.unknown)
            check(during > 50, "only %d writes acknowledged in round %d" % (during, r + 1))
            n.start()
            solo_leader(c, n, "after SIGKILL %d" % (r + 1))
            got = read_all(n, list(acked) + list(unknown))
            lost = [k for k, v in acked.items() if got[k] != v]
            if lost:
                raise TestFailure("single node lost %d acknowledged writes after kill %d, e.g. %s"
                                  % (len(lost), r + 1, lost[:3]))
            odd = [k for k, v in unknown.items() if got[k] not in (v, "ERROR")]
            check(not odd, "keys with values never written: %s" % odd[:3])
            print("     kill %d: under %d writers, %d acknowledged so far, none lost"
                  % (r + 1, load.writers, len(acked)), flush=True)
        ok("single node, %d SIGKILLs under writes: all %d acknowledged writes survive (%d unknown)"
           % (rounds, len(acked), len(unknown)))
        n.stop()


def main():
    three_nodes()
    one_node()


if __name__ == "__main__":
    run_main(main)
