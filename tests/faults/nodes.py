"""tests/faults/nodes.py — the dns-raft processes of one nemesis run.

Owns the run's work directory (zone files, data dirs, logs) and every node
process, each started inside its own network namespace with
`ip netns exec` (which execs, so the PID we hold is the daemon's own and
kill -9 / SIGSTOP reach it directly). Nodes listen on their namespace
address, Raft/admin on port 8300 and DNS on 8600; node 0 founds the
cluster, the others join through it, and a restart is the same command
line again.

UPDATE (tests/faults/updates.py): every node gets the same -config YAML
file (one TSIG key, an `acl` that lets that key update every zone, a short
dns.update.timeout), and node 0 also serves the zone dyn.test. from a file
nobody edits (zone_text_dyn), so the zone reloads of the other workload
never touch the records UPDATE changes.

Admin: one TCP connection per command (`admin`), from the ctl namespace.

Power cuts (issue 18): with Cluster(power_cut=True) every node runs under
tests/faults/powercut_shim.so, its synced state kept in work/shadow/<id>
(powercut.py), so the nemesis can roll a killed node's data dir back to
what a power cut would leave.
"""
import base64
import os
import resource
import secrets
import signal
import socket
import subprocess
import time

import dns.message
import dns.query
import dns.rdatatype

import powercut

RAFT_PORT = 8300
DNS_PORT = 8600
# Set by Cluster when the nodes run with -admin.token.file: every admin
# connection then opens with `auth TOKEN`.
ADMIN_TOKEN = None


def admin_connect(addr, timeout):
    """An admin connection to addr's Raft port, authenticated when the
    cluster has an admin token. Raises OSError."""
    s = socket.create_connection((addr, RAFT_PORT), timeout=timeout)
    if ADMIN_TOKEN:
        try:
            s.settimeout(timeout)
            s.sendall(f"auth {ADMIN_TOKEN}\n".encode())
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(64)
                if not chunk:
                    raise ConnectionResetError("closed during auth")
                buf += chunk
            if buf != b"SUCCESS\n":
                raise ConnectionRefusedError(f"auth refused: {buf!r}")
        except BaseException:
            s.close()
            raise
    return s


def admin(addr, line, timeout=7.0):
    """Sends one command; returns the reply line without LF. Raises OSError
    (ConnectionRefusedError before anything was sent, socket.timeout after)."""
    s = admin_connect(addr, timeout)
    try:
        s.settimeout(timeout)
        s.sendall(line.encode() + b"\n")
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionResetError("closed before a reply")
            buf += chunk
        return buf.split(b"\n", 1)[0].decode(errors="replace")
    finally:
        s.close()


def admin_multi(addr, line, timeout=5.0):
    """A command whose reply has several lines (zone show): reads to EOF."""
    s = admin_connect(addr, timeout)
    try:
        s.sendall(line.encode() + b"\n")
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if b";; end of zone" in buf and buf.endswith(b"\n"):
                break
            if buf.startswith(b"ERROR") and buf.endswith(b"\n"):
                break
        return buf.decode(errors="replace")
    finally:
        s.close()


def parse_status(line):
    out = {}
    for part in line.split():
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def zone_text(i, gen):
    """Zone z<i>.test.: names a, b, c change together on every reload (the
    generation is in their addresses and in the serial)."""
    g1, g2 = divmod(gen, 256)
    lines = [
        "$TTL 60",
        f"$ORIGIN z{i}.test.",
        f"@ 60 SOA ns.z{i}.test. admin.z{i}.test. {gen} 3600 600 604800 60",
        f"@ 60 NS ns.z{i}.test.",
        f"ns 60 A 10.{i}.0.1",
    ]
    for name in ("a", "b", "c"):
        lines.append(f"{name} 60 A 10.{i}.{g1}.{g2}")
    return "\n".join(lines) + "\n"


DYN_ZONE = "dyn.test."
TSIG_KEY_NAME = "update-key."
UPDATE_TIMEOUT_MS = 3000  # the daemon's SERVFAIL deadline for an UPDATE


def zone_text_dyn(registers):
    """Zone dyn.test.: the CAS registers (one TXT RR each, "init" at first);
    everything else in it is added by UPDATE."""
    lines = [
        "$TTL 60",
        f"$ORIGIN {DYN_ZONE}",
        f"@ 60 SOA ns.{DYN_ZONE} admin.{DYN_ZONE} 1 3600 600 604800 60",
        f"@ 60 NS ns.{DYN_ZONE}",
        "ns 60 A 10.99.0.1",
    ]
    for r in registers:
        lines.append(f'{r} 60 TXT "init"')
    return "\n".join(lines) + "\n"


def gen_of_address(a):
    parts = a.split(".")
    return int(parts[2]) * 256 + int(parts[3])


def _allow_core():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


class Node:
    def __init__(self, cluster, i):
        self.c, self.i = cluster, i
        self.id = f"n{i}"
        self.addr = cluster.lab.addr(i)
        self.data = os.path.join(cluster.work, "data", self.id)
        self.zone = os.path.join(cluster.work, "zones", f"z{i}.txt")
        self.log = os.path.join(cluster.work, f"{self.id}.log")
        self.zone_dyn = cluster.dyn_zone_file if i == 0 else None
        # The synced state of the data dir (powercut.py), never on the
        # node's own (maybe tmpfs) disk.
        self.shadow = os.path.join(cluster.work, "shadow", self.id)
        self.proc = None
        self.paused = False
        self.gen = 1

    def write_zone(self, gen):
        tmp = self.zone + ".tmp"
        with open(tmp, "w") as f:
            f.write(zone_text(self.i, gen))
        os.rename(tmp, self.zone)
        self.gen = gen

    def start(self, join=None):
        """Starts the daemon; with an empty data dir it joins through `join`
        (a Node; default n0, and n0 itself founds the cluster)."""
        args = ["ip", "netns", "exec", self.c.lab.ns(self.i), self.c.bin, "-id", self.id,
                "-raft.addr", f"{self.addr}:{RAFT_PORT}", "-dns.addr", f"{self.addr}:{DNS_PORT}",
                "-zone.file", self.zone, "-data.dir", self.data, "-dns.workers", "1",
                "-config", self.c.config_file]
        if self.zone_dyn:
            args += ["-zone.file", self.zone_dyn]
        if self.c.snapshot_entries:
            args += ["-raft.snapshot.entries", str(self.c.snapshot_entries)]
        if self.c.key_file:
            args += ["-cluster.key.file", self.c.key_file]
        if self.c.token_file:
            args += ["-admin.token.file", self.c.token_file]
        if join is not None or self.i > 0:
            via = join.addr if join is not None else self.c.lab.addr(0)
            args += ["-raft.join", f"{via}:{RAFT_PORT}"]
        env = dict(os.environ)
        if self.c.power_cut:
            # Under the power-cut model (powercut.py): what is on disk now
            # counts as synced; from here on only what the node syncs does.
            powercut.snapshot(self.data, self.shadow)
            env.update(powercut.env(self.data, self.shadow))
        env.pop("DNSRAFT_TEST_UNSAFE_READS", None)
        if self.c.unsafe_reads:
            env["DNSRAFT_TEST_UNSAFE_READS"] = "1"
        with open(self.log, "ab") as logf:
            logf.write(f"==== start {time.strftime('%H:%M:%S')}\n".encode())
            logf.flush()
            # cwd = the work dir and no core size limit: a crash leaves
            # work/core (core_pattern "core") for the post-mortem.
            self.proc = subprocess.Popen(args, stdout=logf, stderr=logf, env=env, cwd=self.c.work,
                                         start_new_session=True, preexec_fn=_allow_core)
        self.paused = False

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive:
            os.kill(self.proc.pid, sig)

    def blocks_sighup(self):
        """True once the daemon's main() has blocked SIGHUP (its first act):
        a SIGHUP sent earlier, while `ip netns exec` or the dynamic loader
        still runs, would kill the process with the default action."""
        if not self.alive:
            return False
        # Any thread will do: the main thread's mask reads as unblocked while
        # it sits in sigwait, the threads it started inherit the block.
        bit = 1 << (signal.SIGHUP - 1)
        try:
            for task in os.listdir(f"/proc/{self.proc.pid}/task"):
                with open(f"/proc/{self.proc.pid}/task/{task}/status") as f:
                    for line in f:
                        if line.startswith("SigBlk:") and int(line.split()[1], 16) & bit:
                            return True
        except OSError:
            pass
        return False

    def kill(self):
        if self.proc is None:
            return
        if self.alive:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.paused = False

    def pause(self):
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self.signal(signal.SIGCONT)
        self.paused = False

    def admin(self, line, timeout=7.0):
        return admin(self.addr, line, timeout)

    def status(self, timeout=1.0):
        try:
            return parse_status(self.admin("raft status", timeout))
        except OSError:
            return None

    def dns(self, name, rdtype="A", timeout=1.0):
        q = dns.message.make_query(name, rdtype)
        return dns.query.udp(q, self.addr, port=DNS_PORT, timeout=timeout)

    def log_count(self, text):
        """How many lines of this node's log (every run of it) contain text."""
        return sum(1 for line in self.log_text().splitlines() if text in line)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Cluster:
    def __init__(self, lab, work, binary, unsafe_reads=False, snapshot_entries=0,
                 cluster_key=False, admin_token=False, power_cut=False):
        global ADMIN_TOKEN
        self.lab, self.work, self.bin = lab, work, binary
        self.power_cut = power_cut  # every node under powercut_shim.so
        self.unsafe_reads = unsafe_reads
        self.snapshot_entries = snapshot_entries  # 0: the daemon's default
        self.key_file = self.token_file = None
        if cluster_key:
            self.key_file = self.secret_file("cluster.key", base64.b64encode(os.urandom(32)).decode())
        if admin_token:
            ADMIN_TOKEN = secrets.token_hex(16)
            self.token_file = self.secret_file("admin.token", ADMIN_TOKEN)
        os.makedirs(os.path.join(work, "zones"), exist_ok=True)
        os.makedirs(os.path.join(work, "data"), exist_ok=True)
        self.tsig_secret = base64.b64encode(os.urandom(32)).decode()
        keyfile = self.secret_file("update.key", f'key "{TSIG_KEY_NAME.rstrip(".")}" {{\n'
                                   f'\talgorithm hmac-sha256;\n\tsecret "{self.tsig_secret}";\n}};')
        self.config_file = os.path.join(work, "dnsraft.yaml")
        with open(self.config_file, "w") as f:
            f.write(f"tsig.keyfile: {keyfile}\n"
                    f"dns.update.timeout: \"{UPDATE_TIMEOUT_MS}\"\n"
                    "acl:\n"
                    "  - zones: [\"*\"]\n"
                    "    actions: [update]\n"
                    f"    key: {TSIG_KEY_NAME.rstrip('.')}\n")
        self.registers = [f"r{i}" for i in range(3)]
        self.dyn_zone_file = os.path.join(work, "zones", "dyn.txt")
        with open(self.dyn_zone_file, "w") as f:
            f.write(zone_text_dyn(self.registers))
        self.nodes = [Node(self, i) for i in range(lab.n)]

    def secret_file(self, name, text):
        """A mode-0600 file in the work dir holding one secret line."""
        path = os.path.join(self.work, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        return path

    def start(self, timeout=30.0):
        for n in self.nodes:
            n.write_zone(1)
        self.nodes[0].start()
        self.wait(lambda: (self.nodes[0].status() or {}).get("role") == "leader", timeout,
                  "n0 founds the cluster")
        for n in self.nodes[1:]:
            n.start()
        self.wait(self.converged, timeout, "all nodes joined as voters and caught up")

    def wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            time.sleep(0.2)
        raise TimeoutError(f"waited {timeout:.0f}s for: {what}")

    def leader(self):
        """The node that says it leads in the highest term, or None."""
        best = None
        for n in self.nodes:
            if not n.alive or n.paused:
                continue
            st = n.status(0.5)
            if st and st.get("role") == "leader":
                if best is None or int(st["term"]) > best[1]:
                    best = (n, int(st["term"]))
        return best[0] if best else None

    def converged(self):
        """Every node up, one leader, all voters, everyone applied the leader's commit."""
        sts = []
        for n in self.nodes:
            if not n.alive or n.paused:
                return False
            st = n.status(1.0)
            if not st:
                return False
            sts.append(st)
        leaders = [s for s in sts if s.get("role") == "leader"]
        if len(leaders) != 1:
            return False
        try:
            peers = self.nodes[int(leaders[0]["id"][1:])].admin("raft peers", 1.0)
        except OSError:
            return False
        if peers.count(" voter") != len(self.nodes):
            return False
        commit = int(leaders[0]["commit"])
        return all(int(s["applied"]) >= commit and s.get("leader") == leaders[0]["id"]
                   for s in sts)

    def stop_all(self):
        for n in self.nodes:
            if n.proc is not None and n.alive:
                n.resume()
                n.kill()
