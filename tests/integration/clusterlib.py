"""tests/integration/clusterlib.py — drives a dns-raft cluster of real
processes for the multi-process integration tests.

A Cluster owns a temp directory (zones, one data dir and one log per node)
and the node processes. Nodes listen on 127.0.0.1 ports picked below the
kernel's ephemeral range (so an outgoing connection cannot be holding one),
checked free for TCP and UDP. Nodes are started with a fixed command line,
so a restart is the same command line again (what an operator does).

Cleanup: every process started here is recorded by PID; Cluster.close()
(also run by `with`, by atexit and on SIGTERM/SIGINT) SIGKILLs the ones
still running, reaps them, and removes the temp dir unless KEEP_TMP=1.

Admin: one TCP connection per call (admin), or several commands on one
connection (Conn). A node added with token=... gets -admin.token.file and
its admin calls send `auth TOKEN` first; admin_addr=True gives it its own
admin listener (-admin.addr), which its admin calls then use. The server closes a connection ~300 ms after its last
reply when nothing more arrives, so Conn sends each next command promptly.

Waiting: every wait is a bounded poll (wait_for) that raises
TestFailure(description) when its deadline passes.

Public API: Cluster(n=0, name=...), Cluster.add_node(..., key_file=),
Cluster.make_key (cluster key files), Node.start /
kill / stop / restart / admin / status / peers / query, Conn, wait_for,
free_port, make_zone, TestFailure, check.
"""
import atexit
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("DNSRAFT_BIN", os.path.join(ROOT, "bin", "dns-raft"))


class TestFailure(Exception):
    pass


def check(cond, what):
    """Raises TestFailure(what) unless cond."""
    if not cond:
        raise TestFailure(what)


_T0 = time.monotonic()


def ok(msg):
    print("ok   [%5.1fs] %s" % (time.monotonic() - _T0, msg), flush=True)


def wait_for(what, timeout, fn, interval=0.05):
    """Polls fn() until it returns a truthy value (returned) or timeout
    seconds pass (TestFailure). Exceptions from fn count as 'not yet'; the
    last one is in the failure message."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
            last = v
        except (OSError, TestFailure, dns.exception.DNSException) as e:
            last = e
        if time.monotonic() >= deadline:
            raise TestFailure("%s (waited %.1fs; last: %r)" % (what, timeout, last))
        time.sleep(interval)


# ---- ports ------------------------------------------------------------------------------

_used_ports = set()


def _port_free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_port():
    """A port free for TCP and UDP on 127.0.0.1, never handed out twice by
    this process. Drawn from 20000-32000: below Linux's ephemeral range."""
    for _ in range(1000):
        p = random.randint(20000, 32000)
        if p not in _used_ports and _port_free(p):
            _used_ports.add(p)
            return p
    raise TestFailure("no free port")


# ---- zones ------------------------------------------------------------------------------

def make_zone(origin, records, serial=1):
    """Zone-file text for origin (no trailing dot needed) with an SOA, one
    NS and the given (owner, type, rdata) records."""
    origin = origin.rstrip(".") + "."
    lines = ["$TTL 60", "$ORIGIN " + origin,
             "@ 3600 SOA ns1 hostmaster %d 3600 600 604800 60" % serial,
             "@ 3600 NS ns1", "ns1 60 A 192.0.2.1"]
    for owner, rtype, rdata in records:
        lines.append("%s 60 %s %s" % (owner, rtype, rdata))
    return "\n".join(lines) + "\n"


# ---- admin connections ------------------------------------------------------------------

class Conn:
    """One admin connection. send() writes lines; reply() reads one reply
    (one line, or a whole `zone show` text)."""

    def __init__(self, port, timeout=10.0, token=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        if token:
            got = self.cmd("auth " + token)
            if got != "SUCCESS":
                self.close()
                raise TestFailure("auth on port %d: %r" % (port, got))

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        """The next reply line without its LF, as bytes. OSError on EOF."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server (got %r)" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def reply(self, multi=False):
        """One reply as str. multi: a `zone show` reply, read up to its
        ';; end of zone' line (or a one-line ERROR)."""
        first = self.line().decode("utf-8", "replace")
        if not multi or first.startswith("ERROR"):
            return first
        lines = [first]
        while not lines[-1].startswith(";; end of zone"):
            lines.append(self.line().decode("utf-8", "replace"))
        return "\n".join(lines)

    def cmd(self, command, multi=False):
        self.send(command + "\n")
        return self.reply(multi)


# ---- nodes ------------------------------------------------------------------------------

class Node:
    def __init__(self, cluster, name, zone_files=(), join=None, extra=(), key_file=None,
                 token=None, admin_addr=False):
        self.cluster = cluster
        self.key_file = key_file  # -cluster.key.file; may change between starts
        self.name = name
        self.token = token
        self.has_admin_addr = admin_addr
        self._pick_ports()
        self.data_dir = os.path.join(cluster.dir, "data", name)
        self.log_path = os.path.join(cluster.dir, name + ".log")
        self.zone_files = list(zone_files)
        self.join = join
        self.extra = list(extra)
        self.proc = None
        self.starts = 0
        self.binary = BIN  # a test may run another build (power_cut.py)
        self.env = None    # extra environment variables (power_cut.py: the shim)

    def _pick_ports(self):
        self.raft_port = free_port()
        self.dns_port = free_port()
        self.raft_addr = "127.0.0.1:%d" % self.raft_port
        self.admin_port = free_port() if self.has_admin_addr else self.raft_port

    def argv(self):
        a = [self.binary, "-id", self.name, "-raft.addr", self.raft_addr,
             "-dns.addr", "127.0.0.1:%d" % self.dns_port, "-data.dir", self.data_dir,
             "-dns.workers", "1"]
        for z in self.zone_files:
            a += ["-zone.file", z]
        if self.key_file:
            a += ["-cluster.key.file", self.key_file]
        if self.join:
            # A Node: its address now (it may have moved ports at its first start).
            a += ["-raft.join", self.join if isinstance(self.join, str) else self.join.raft_addr]
        if self.token:
            path = self.cluster.write_file(self.name + ".token", self.token + "\n")
            os.chmod(path, 0o600)
            a += ["-admin.token.file", path]
        if self.has_admin_addr:
            a += ["-admin.addr", "127.0.0.1:%d" % self.admin_port]
        return a + self.extra

    # -- process control --

    def start(self, wait=True):
        """Starts the process (same command line every time); with wait,
        returns once the admin port answers `kv ping`."""
        check(not self.alive(), "%s already running" % self.name)
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(("==== start %d: %s\n" % (self.starts, " ".join(self.argv()))).encode("utf-8", "surrogateescape"))
        log.flush()
        self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.cluster.dir,
                                     env=dict(os.environ, **self.env) if self.env else None)
        log.close()
        self.cluster._pids.add(self.proc.pid)
        if wait:
            try:
                self.wait_up()
            except TestFailure:
                if not self._port_taken_at_first_start():
                    raise
                # Another program took a port between free_port's check and
                # our bind: a node that never ran may move (nobody knows its
                # address yet; joiners read it from the Node when started).
                self.starts -= 1
                shutil.rmtree(self.data_dir, ignore_errors=True)
                self._pick_ports()
                return self.start(wait)
        return self

    def _port_taken_at_first_start(self):
        return (self.starts == 1 and self.proc.poll() is not None
                and "in use" in self.log().lower())

    def wait_up(self, timeout=10):
        def up():
            if self.proc.poll() is not None:
                raise TestFailure("%s exited with %s" % (self.name, self.proc.returncode))
            return self.admin("kv ping", timeout=1) == "PONG"
        try:
            wait_for("%s answers kv ping" % self.name, timeout, up)
        except TestFailure:
            if self.proc.poll() is not None:
                raise TestFailure("%s exited with %s at start" % (self.name, self.proc.returncode))
            raise

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _reaped(self):
        self.cluster._pids.discard(self.proc.pid)

    def kill(self):
        """SIGKILL (a crash) and reap."""
        if self.alive():
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()
            self._reaped()

    def stop(self, timeout=15):
        """SIGTERM (graceful) and reap; the exit status must be 0."""
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure("%s did not stop within %ss of SIGTERM" % (self.name, timeout))
        self._reaped()
        check(rc == 0, "%s exited with %d after SIGTERM" % (self.name, rc))

    def restart(self, wait=True):
        self.stop()
        return self.start(wait)

    def signal(self, sig):
        self.proc.send_signal(sig)

    # -- admin --

    def admin(self, command, timeout=10, multi=False):
        """Sends one command on a new connection; returns the reply."""
        with Conn(self.admin_port, timeout, self.token) as c:
            return c.cmd(command, multi)

    def conn(self, timeout=10):
        return Conn(self.admin_port, timeout, self.token)

    def status(self):
        """`raft status` as a dict (role, term, leader, ...)."""
        line = self.admin("raft status", timeout=3)
        check(not line.startswith("ERROR"), "%s raft status: %s" % (self.name, line))
        return parse_status(line)

    def peers(self):
        """`raft peers` as {name: dict(addr, voter, match, contact, self)}."""
        line = self.admin("raft peers", timeout=3)
        return parse_peers(line)

    # -- DNS --

    def query(self, name, rdtype="A", timeout=1.0, tcp=False):
        """(rcode text, sorted answer rdata texts of the asked type)."""
        q = dns.message.make_query(name, rdtype)
        fn = dns.query.tcp if tcp else dns.query.udp
        r = fn(q, "127.0.0.1", timeout=timeout, port=self.dns_port)
        want = dns.rdatatype.from_text(rdtype)
        out = []
        for rrset in r.answer:
            if rrset.rdtype == want:
                out += [rd.to_text() for rd in rrset]
        return dns.rcode.to_text(r.rcode()), sorted(out)

    def resolves(self, name, want, rdtype="A"):
        """True when name's answer is exactly the rdata list want."""
        try:
            rc, got = self.query(name, rdtype)
        except dns.exception.DNSException:
            return False
        return rc == "NOERROR" and got == sorted(want)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


STATUS_RE = re.compile(r"(\w+)=(\S+)")


def parse_status(line):
    d = dict(STATUS_RE.findall(line))
    check("role" in d and "term" in d, "bad raft status line: %r" % line)
    for k in ("term", "commit", "applied", "last_index", "snapshot"):
        d[k] = int(d[k])
    return d


PEER_RE = re.compile(r"^(\S+) (\S+) (voter|learner) match=(\d+) contact=(\S+?)( self)?$")


def parse_peers(line):
    check(not line.startswith("ERROR"), "raft peers: %s" % line)
    peers = {}
    for part in line.split("; "):
        m = PEER_RE.match(part)
        check(m, "bad raft peers entry %r in %r" % (part, line))
        peers[m.group(1)] = dict(addr=m.group(2), voter=m.group(3) == "voter",
                                 match=int(m.group(4)), contact=m.group(5),
                                 self=bool(m.group(6)))
    return peers


# ---- the cluster ------------------------------------------------------------------------

_live_clusters = []


def _cleanup_all(*_):
    for c in list(_live_clusters):
        c.close()


def _on_signal(signum, frame):
    _cleanup_all()
    sys.exit(128 + signum)


atexit.register(_cleanup_all)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


class Cluster:
    """Nodes in one temp dir. Use as a context manager; on an exception
    inside it, the tail of every node's log is printed."""

    def __init__(self, name="cluster"):
        check(os.access(BIN, os.X_OK), "missing %s (run make)" % BIN)
        self.dir = tempfile.mkdtemp(prefix="dnsraft-%s-" % name)
        self.nodes = []
        self._pids = set()
        self._closed = False
        _live_clusters.append(self)

    def __enter__(self):
        return self

    def __exit__(self, etype, e, tb):
        if etype is not None:
            self.dump_logs()
        self.close()
        return False

    def write_file(self, rel, text):
        path = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def make_key(self, name, keys=None):
        """Writes a cluster key file (mode 0600) named name in the temp dir
        and returns its path: keys is a list of base64 key lines (the first
        signs), or None for one fresh key from `dns-raft keygen`."""
        if keys is None:
            text = subprocess.run([BIN, "keygen"], check=True, capture_output=True).stdout.decode()
        else:
            text = "# test key file\n" + "".join(k + "\n" for k in keys)
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def add_node(self, name=None, zone_files=(), join=True, extra=(), key_file=None,
                 token=None, admin_addr=False):
        """A new node (not started). join=True: joins through the first
        node; join=None/False: bootstraps; a Node or an address string:
        joins through it. key_file: its -cluster.key.file (see make_key)."""
        name = name or "n%d" % len(self.nodes)
        if join is True:
            join = self.nodes[0] if self.nodes else None
        n = Node(self, name, zone_files, join or None, extra, key_file, token, admin_addr)
        self.nodes.append(n)
        return n

    def node(self, name):
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def running(self):
        return [n for n in self.nodes if n.alive()]

    def leader(self, among=None, timeout=10):
        """The node that every running node (or among) agrees is leader,
        in one term; waits for it."""
        nodes = among or self.running()

        def agreed():
            ss = [n.status() for n in nodes]
            leaders = {s["leader"] for s in ss}
            if len(leaders) != 1 or "none" in leaders:
                return None
            name = leaders.pop()
            lead = [n for n in nodes if n.name == name]
            if lead and [s for s in ss if s["id"] == name][0]["role"] == "leader":
                return lead[0]
            return None
        return wait_for("one leader agreed by %s" % [n.name for n in nodes], timeout, agreed)

    def wait_voters(self, names, timeout=15, via=None):
        """Waits until `raft peers` (on via, default the leader) lists
        exactly names, all voters."""
        def ready():
            v = via or self.leader(timeout=3)
            p = v.peers()
            return set(p) == set(names) and all(x["voter"] for x in p.values())
        wait_for("voters %s" % sorted(names), timeout, ready)

    def dump_logs(self, lines=30):
        for n in self.nodes:
            print("--- %s log (%s), last %d lines:" % (n.name, n.log_path, lines))
            for l in n.log().splitlines()[-lines:]:
                print("    " + l)
        sys.stdout.flush()

    def close(self):
        """Kills (SIGKILL) every process still running, by PID; removes the
        temp dir unless KEEP_TMP is set."""
        if self._closed:
            return
        self._closed = True
        for n in self.nodes:
            if n.proc is not None and n.proc.poll() is None:
                try:
                    n.proc.kill()
                except OSError:
                    pass
        for n in self.nodes:
            if n.proc is not None:
                try:
                    n.proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass
        if os.environ.get("KEEP_TMP"):
            print("kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if self in _live_clusters:
            _live_clusters.remove(self)


def run_main(fn):
    """Runs a test's main; prints FAIL and exits 1 on TestFailure."""
    t0 = time.monotonic()
    try:
        fn()
    except TestFailure as e:
        print("FAIL: %s" % e, flush=True)
        sys.exit(1)
    print("PASS (%.1fs)" % (time.monotonic() - t0), flush=True)
