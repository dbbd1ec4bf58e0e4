"""tests/faults/delayproxy.py — network delay without netem.

The kernel here has no netem qdisc, so delay is made in user space: inside a
node's namespace, iptables REDIRECTs the node's outgoing connections to
other nodes' Raft port to a local proxy, which connects on to the original
destination (SO_ORIGINAL_DST) and holds every chunk, in both directions,
for the chosen delay plus jitter (still in order: one TCP stream cannot be
reordered). Connections that existed before are reset so the node dials
again, through the proxy. The proxy's own sockets carry SO_MARK 0x77, which
the rules exempt.

Owns: the proxy's threads and sockets; `stop` closes them all (the node then
reconnects directly once the rules are gone, netlab.Lab.heal flushes them).
The threads enter the node's network namespace themselves (setns is per
thread), so the calling process stays where it is.
"""
import ctypes
import heapq
import os
import random
import socket
import struct
import threading
import time

CLONE_NEWNET = 0x40000000
SO_ORIGINAL_DST = 80
SO_MARK = 36
MARK = 0x77
PROXY_PORT = 9300
_libc = ctypes.CDLL(None, use_errno=True)


def _enter(ns):
    fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)


class DelayProxy:
    def __init__(self, lab, i, delay_s, jitter_s, seed):
        self.lab, self.i = lab, i
        self.delay, self.jitter = delay_s, jitter_s
        self.rng = random.Random(seed)
        self.stop_ev = threading.Event()
        self.socks = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.error = None

    def _track(self, s):
        with self.lock:
            self.socks.append(s)
        return s

    def start(self):
        threading.Thread(target=self._listen, daemon=True).start()
        if not self.ready.wait(5) or self.error:
            raise RuntimeError(f"delay proxy in {self.lab.ns(self.i)}: {self.error}")
        ns, net = self.lab.ns(self.i), f"{self.lab.addr(0).rsplit('.', 1)[0]}.0/24"
        for rule in (["-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", net, "--dport", "8300",
                      "-m", "mark", "!", "--mark", hex(MARK), "-j", "REDIRECT", "--to-ports",
                      str(PROXY_PORT)],
                     ["-A", "OUTPUT", "-p", "tcp", "-d", net, "--dport", "8300", "-m", "mark", "!",
                      "--mark", hex(MARK), "-m", "conntrack", "--ctstate", "ESTABLISHED", "-j",
                      "REJECT", "--reject-with", "tcp-reset"]):
            self.lab.iptables(self.i, *rule)
        del ns

    def _listen(self):
        try:
            _enter(self.lab.ns(self.i))
            ls = self._track(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(("0.0.0.0", PROXY_PORT))
            ls.listen(64)
            ls.settimeout(0.2)
        except OSError as e:
            self.error = str(e)
            self.ready.set()
            return
        self.ready.set()
        while not self.stop_ev.is_set():
            try:
                c, _ = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._track(c)
            threading.Thread(target=self._connect, args=(c,), daemon=True).start()

    def _connect(self, c):
        try:
            _enter(self.lab.ns(self.i))
            raw = c.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
            port, ip = struct.unpack("!H", raw[2:4])[0], socket.inet_ntoa(raw[4:8])
            u = self._track(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            u.setsockopt(socket.SOL_SOCKET, SO_MARK, MARK)
            u.settimeout(2)
            u.connect((ip, port))
            u.settimeout(None)
        except OSError:
            c.close()
            return
        for a, b in ((c, u), (u, c)):
            q, cv = [], threading.Condition()
            threading.Thread(target=self._read, args=(a, b, q, cv), daemon=True).start()
            threading.Thread(target=self._write, args=(b, q, cv), daemon=True).start()

    def _read(self, src, dst, q, cv):
        last = 0.0
        seq = 0
        while not self.stop_ev.is_set():
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            due = max(last, time.monotonic() + self.delay + self.rng.random() * self.jitter)
            last = due
            seq += 1
            with cv:
                heapq.heappush(q, (due, seq, data))
                cv.notify()
            if not data:
                return

    def _write(self, dst, q, cv):
        while True:
            with cv:
                while not q and not self.stop_ev.is_set():
                    cv.wait(0.2)
                if self.stop_ev.is_set():
                    return
                due, _, data = q[0]
                wait = due - time.monotonic()
                if wait > 0:
                    cv.wait(min(wait, 0.2))
                    continue
                heapq.heappop(q)
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            try:
                dst.sendall(data)
            except OSError:
                return

    def stop(self):
        self.stop_ev.set()
        with self.lock:
            for s in self.socks:
                try:
                    s.close()
                except OSError:
                    pass
            self.socks = []
