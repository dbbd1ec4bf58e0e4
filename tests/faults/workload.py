"""tests/faults/workload.py — the traffic a nemesis run sends while faults happen.

Owns: the kv clients (threads doing kv set/get/del on a small key space
against random nodes, each operation recorded with its invocation and
completion times and classified ok / info / fail), the zone reloader (edits a
node's zone file and SIGHUPs it) and the zone watcher (samples DNS and
`zone show` for half-applied zones).

Classification of replies (docs/operations.md, kv/cluster.c):
- connection refused or connect timeout: nothing was sent, the op did not happen;
- get: a value, or exactly "ERROR" (absent) is ok; any other ERROR line or no
  reply means the read did not happen (a read has no effect);
- set/del: "SUCCESS" is ok; an ERROR saying "not applied" is fail (did not
  happen; the checker would catch the daemon if that were a lie); any other
  error, a timeout or no reply is info (may or may not have happened).
"""
import random
import threading
import time

from nodes import DNS_PORT, RAFT_PORT, admin_connect, gen_of_address, parse_status  # noqa: F401

REPLY_TIMEOUT = 8.0  # above the daemon's 5 s budget for writes and reads


class History:
    def __init__(self, t0):
        self.t0 = t0
        self.lock = threading.Lock()
        self.ops = []
        self.anomalies = []
        self.events = []  # (time, text): nemesis actions and notable observations

    def now(self):
        return time.monotonic() - self.t0

    def add(self, op):
        with self.lock:
            self.ops.append(op)

    def event(self, text):
        with self.lock:
            self.events.append((self.now(), text))

    def anomaly(self, text, at=None):
        with self.lock:
            self.anomalies.append((self.now() if at is None else at, text))


def send_command(addr, line):
    """Returns (sent, reply): sent False when the connection never opened."""
    try:
        s = admin_connect(addr, 2.0)
    except OSError:
        return False, None
    try:
        s.settimeout(REPLY_TIMEOUT)
        s.sendall(line.encode() + b"\n")
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                return True, None
            buf += chunk
        return True, buf.split(b"\n", 1)[0].decode(errors="replace")
    except OSError:
        return True, None
    finally:
        s.close()


def classify(kind, sent, reply):
    if not sent:
        return "fail", None
    if kind == "get":
        if reply is None:
            return "fail", None
        if reply == "ERROR":
            return "ok", None
        if reply.startswith("ERROR"):
            return "fail", None
        return "ok", reply
    if reply == "SUCCESS":
        return "ok", None
    if reply is not None and reply.startswith("ERROR") and "not applied" in reply:
        return "fail", None
    return "info", None


class KvClients:
    def __init__(self, cluster, history, seed, n_clients=6, n_keys=4):
        self.c, self.h = cluster, history
        self.seed, self.n_clients = seed, n_clients
        self.keys = [f"k{i}" for i in range(n_keys)]
        self.stop = threading.Event()
        self.threads = []
        self.counts = {"ok": 0, "info": 0, "fail": 0}

    def run_one(self, cid, node, kind, key, value):
        line = f"kv {kind} {key}" + (f" {value}" if kind == "set" else "")
        call = self.h.now()
        sent, reply = send_command(node.addr, line)
        ret = self.h.now()
        status, read = classify(kind, sent, reply)
        op = dict(client=cid, node=node.id, kind=kind, key=key,
                  value=value if kind == "set" else read, call=call, ret=ret,
                  status=status, reply=reply)
        with self.h.lock:
            self.counts[status] += 1
        if status != "fail":
            self.h.add(op)
        return op

    def worker(self, cid):
        rng = random.Random(self.seed * 7919 + cid)
        n = 0
        while not self.stop.is_set():
            node = rng.choice(self.c.nodes)
            key = rng.choice(self.keys)
            r = rng.random()
            kind = "get" if r < 0.5 else "set" if r < 0.88 else "del"
            n += 1
            self.run_one(cid, node, kind, key, f"c{cid}.{n}")
            time.sleep(rng.random() * 0.02)

    def start(self):
        for cid in range(self.n_clients):
            t = threading.Thread(target=self.worker, args=(cid,), daemon=True)
            t.start()
            self.threads.append(t)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(REPLY_TIMEOUT + 5)

    def final_reads(self):
        """After healing: a get of every key on every node, one at a time.
        They close the history, so the checker also proves that every
        acknowledged write is still there (or was overwritten/deleted by an
        operation ordered after it)."""
        bad = 0
        for key in self.keys:
            for node in self.c.nodes:
                op = self.run_one(-1, node, "get", key, None)
                if op["status"] != "ok":
                    bad += 1
                    self.h.anomaly(f"final read of {key} on {node.id} failed: {op['reply']!r}")
        return bad


class ZoneTraffic:
    """Reloads (SIGHUP after editing a zone file) and a watcher that looks for
    half-applied zones: names a, b, c of a zone always change together."""

    def __init__(self, cluster, history, seed, period=1.0):
        self.c, self.h = cluster, history
        self.rng = random.Random(seed * 31 + 5)
        self.period = period
        self.stop = threading.Event()
        self.threads = []
        self.reloads = 0
        self.samples = 0

    def reloader(self):
        while not self.stop.wait(self.period * (0.5 + self.rng.random())):
            node = self.rng.choice(self.c.nodes)
            if not node.blocks_sighup():
                continue  # down, or just started and not yet in main()
            node.write_zone(node.gen + 1)
            node.signal(__import__("signal").SIGHUP)
            self.reloads += 1
            self.h.event(f"zone z{node.i}.test. file -> generation {node.gen}, SIGHUP {node.id}")

    def sample_dns(self, rng):
        node = rng.choice(self.c.nodes)
        z = rng.randrange(len(self.c.nodes))
        if not node.alive or node.paused:
            return
        pid = node.proc.pid
        gens = []
        for name in ("a", "b", "c", "a"):
            try:
                r = node.dns(f"{name}.z{z}.test.", timeout=0.5)
            except Exception:
                return
            addrs = [rd.address for rrset in r.answer for rd in rrset]
            if len(addrs) != 1:
                if addrs:
                    self.h.anomaly(f"{node.id}: {name}.z{z}.test. has {len(addrs)} addresses {addrs}")
                return
            gens.append(gen_of_address(addrs[0]))
        if node.proc is None or node.proc.pid != pid:
            return  # restarted in between: not one process's view
        self.samples += 1
        if gens[0] == gens[3] and (gens[1] != gens[0] or gens[2] != gens[0]):
            self.h.anomaly(f"{node.id}: zone z{z}.test. half-applied over DNS: a/b/c/a "
                           f"generations {gens}")

    def sample_show(self, rng):
        node = rng.choice(self.c.nodes)
        z = rng.randrange(len(self.c.nodes))
        if not node.alive or node.paused:
            return
        from nodes import admin_multi
        try:
            text = admin_multi(node.addr, f"zone show z{z}.test.", timeout=1.0)
        except OSError:
            return
        if ";; end of zone" not in text:
            return
        gens = set()
        serial = None
        for line in text.splitlines():
            f = line.split()
            if len(f) >= 5 and f[3] == "A" and f[0].split(".")[0] in ("a", "b", "c"):
                gens.add(gen_of_address(f[4]))
            if line.startswith(";; end of zone"):
                for i, w in enumerate(line.split()):
                    if w == "serial":
                        serial = int(line.split()[i + 1].rstrip(","))
        self.samples += 1
        if len(gens) != 1 or (serial is not None and serial not in gens):
            self.h.anomaly(f"{node.id}: zone show z{z}.test. half-applied: generations {sorted(gens)}"
                           f" serial {serial}")

    def watcher(self):
        rng = random.Random(self.rng.random())
        while not self.stop.wait(0.05):
            if rng.random() < 0.7:
                self.sample_dns(rng)
            else:
                self.sample_show(rng)

    def start(self):
        for fn in (self.reloader, self.watcher):
            t = threading.Thread(target=fn, daemon=True)
            t.start()
            self.threads.append(t)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(10)
