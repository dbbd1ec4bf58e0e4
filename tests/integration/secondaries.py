"""tests/integration/secondaries.py — real secondaries from Debian packages
(Knot, NSD, BIND) configured against a dns-raft cluster, for the transfer
and NOTIFY interop tests (xfr_interop.py, notify_interop.py). The configuration texts are the ones
docs/operations.md "Secondaries and scale-out" shows, with the paths and
ports filled in: the cluster's nodes are the primaries, every transfer is
signed with one TSIG key.

Each secondary runs in the foreground in its own directory, on a free
loopback port, and is stopped by PID. `refresh()` asks it to check the
primaries' SOA now (knotc zone-refresh / nsd-control transfer / rndc
refresh), as a NOTIFY would; `log()` returns its log text. NOTIFY: Knot
and NSD take it signed with the key from 127.0.0.0/8 (acl
cluster-notify, allow-notify); BIND from its primaries' address
(127.0.0.1, the port not compared), where the nodes send it from."""
import os
import subprocess
import time

from clusterlib import free_port


# Each secondary transfers from its own loopback address, so the
# cluster's log tells them apart ("transfer IXFR ... to 127.0.0.11").
SOURCE = {"knot": "127.0.0.11", "nsd": "127.0.0.12", "bind": "127.0.0.13"}


def knot_conf(d, port, primaries, key_name, secret, zone, source=SOURCE["knot"]):
    remotes = ", ".join("127.0.0.1@%d" % p for p in primaries)
    return f"""server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
control:
    listen: "{d}/knot.sock"
log:
  - target: "{d}/knot.log"
    any: info
database:
    storage: "{d}/db"
key:
  - id: {key_name}
    algorithm: hmac-sha256
    secret: {secret}
remote:
  - id: cluster
    address: [{remotes}]
    via: {source}
    key: {key_name}
acl:
  - id: cluster-notify
    address: 127.0.0.0/8
    key: {key_name}
    action: notify
  - id: local-transfer
    address: 127.0.0.0/8
    action: transfer
template:
  - id: default
    storage: "{d}"
    zonefile-sync: -1
    journal-content: changes
zone:
  - domain: {zone}
    master: cluster
    acl: [cluster-notify, local-transfer]
"""


def nsd_conf(d, port, primaries, key_name, secret, zone, source=SOURCE["nsd"]):
    req = "".join("    request-xfr: 127.0.0.1@%d %s\n" % (p, key_name) for p in primaries)
    return f"""server:
    ip-address: 127.0.0.1@{port}
    port: {port}
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd.log"
    verbosity: 2
remote-control:
    control-enable: yes
    control-interface: "{d}/nsd.sock"
key:
    name: {key_name}
    algorithm: hmac-sha256
    secret: "{secret}"
zone:
    name: {zone}
    zonefile: "{zone}zone"
    outgoing-interface: {source}
{req}    allow-notify: 127.0.0.0/8 {key_name}
    provide-xfr: 127.0.0.0/8 NOKEY
"""


def bind_conf(d, port, ctl_port, primaries, key_name, secret, zone, source=SOURCE["bind"]):
    prim = " ".join("127.0.0.1 port %d key %s;" % (p, key_name) for p in primaries)
    return f"""options {{
    directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    pid-file "{d}/named.pid";
    recursion no;
    notify no;
    dnssec-validation no;
    allow-transfer {{ 127.0.0.1; }};
    transfer-source {source};
}};
key "{key_name}" {{ algorithm hmac-sha256; secret "{secret}"; }};
key "rndc-key" {{ algorithm hmac-sha256; secret "{secret}"; }};
controls {{ inet 127.0.0.1 port {ctl_port} allow {{ 127.0.0.1; }} keys {{ "rndc-key"; }}; }};
logging {{
    channel main {{ file "{d}/named.log"; severity info; print-time yes; print-category yes; }};
    category default {{ main; }};
    category xfer-in {{ main; }};
}};
zone "{zone}" {{
    type secondary;
    file "{zone}db";
    primaries {{ {prim} }};
}};
"""


class Secondary:
    def __init__(self, kind, base_dir, primaries, key_name, secret, zone):
        self.kind = kind
        self.zone = zone
        self.dir = os.path.join(base_dir, kind)
        os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)  # Knot's journal
        self.port = free_port()
        self.ctl_port = free_port()
        self.key_name, self.secret = key_name, secret
        self.conf = os.path.join(self.dir, kind + ".conf")
        text = {"knot": lambda: knot_conf(self.dir, self.port, primaries, key_name, secret, zone),
                "nsd": lambda: nsd_conf(self.dir, self.port, primaries, key_name, secret, zone),
                "bind": lambda: bind_conf(self.dir, self.port, self.ctl_port, primaries, key_name,
                                          secret, zone)}[kind]()
        with open(self.conf, "w") as f:
            f.write(text)
        self.log_path = os.path.join(self.dir, {"knot": "knot.log", "nsd": "nsd.log",
                                                "bind": "named.log"}[kind])
        self.proc = None
        self.source = SOURCE[kind]

    def argv(self):
        return {"knot": ["knotd", "-c", self.conf],
                "nsd": ["nsd", "-d", "-c", self.conf],
                "bind": ["named", "-f", "-c", self.conf]}[self.kind]

    def start(self):
        out = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir)
        out.close()
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def refresh(self):
        """Makes the secondary check its primaries now (as a NOTIFY would)."""
        if self.kind == "knot":
            argv = ["knotc", "-s", os.path.join(self.dir, "knot.sock"), "zone-refresh", self.zone]
        elif self.kind == "nsd":
            argv = ["nsd-control", "-c", self.conf, "transfer", self.zone]
        else:
            keyf = os.path.join(self.dir, "rndc.key")
            with open(keyf, "w") as f:
                f.write('key "rndc-key" { algorithm hmac-sha256; secret "%s"; };\n' % self.secret)
            argv = ["rndc", "-s", "127.0.0.1", "-p", str(self.ctl_port), "-k", keyf, "refresh",
                    self.zone.rstrip(".")]
        return subprocess.run(argv, capture_output=True, timeout=30)

    def log(self):
        text = ""
        for name in (self.log_path, os.path.join(self.dir, "stdout.log")):
            try:
                with open(name, "rb") as f:
                    text += f.read().decode("utf-8", "replace")
            except OSError:
                pass
        return text


def wait_port(port, timeout=15):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False
