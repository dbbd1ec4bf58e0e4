"""tests/faults/netlab.py — the private network the nemesis tests run on.

Owns every namespace, link, iptables rule and tmpfs mount a run creates.
Topology: a "switch" namespace holding a bridge; one namespace per node and
one for the test's own clients ("ctl"), each joined to the bridge by a veth
pair. Addresses are 10.77.0.0/24 and exist only inside those namespaces; the
root namespace's interfaces are never touched. Every name starts with the
run's tag (drf<TAG>), so a cleanup (ours, or the shell wrapper's sweep) finds
exactly what this run made.

The calling process moves its own network namespace to "ctl" (setns on the
main thread before any other thread starts; later threads and children
inherit it), so clients reach nodes over the bridge while partitions drop
only node-to-node packets.
"""
import ctypes
import os
import subprocess

CLONE_NEWNET = 0x40000000
SUBNET = "10.77.0"
CTL_HOST = 200


def run(*args, check=True):
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r


class Lab:
    def __init__(self, tag, n_nodes):
        self.tag = tag
        self.prefix = f"drf{tag}"
        self.n = n_nodes
        self.switch = f"{self.prefix}-sw"
        self.ctl = f"{self.prefix}-ctl"
        self.mounts = []
        self.made = []  # namespaces, in creation order

    def ns(self, i):
        return f"{self.prefix}-n{i}"

    @staticmethod
    def addr(i):
        return f"{SUBNET}.{i + 1}"

    @property
    def ctl_addr(self):
        return f"{SUBNET}.{CTL_HOST}"

    def _netns_add(self, name):
        run("ip", "netns", "add", name)
        self.made.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")

    def _attach(self, name, short, host):
        # veth names are at most 15 bytes: drf<tag:4>s<short>.
        inside, outside = f"{self.prefix}{short}i", f"{self.prefix}{short}o"
        run("ip", "-n", self.switch, "link", "add", outside, "type", "veth", "peer", "name", inside)
        run("ip", "-n", self.switch, "link", "set", inside, "netns", name)
        run("ip", "-n", self.switch, "link", "set", outside, "master", "br0", "up")
        run("ip", "-n", name, "addr", "add", f"{SUBNET}.{host}/24", "dev", inside)
        run("ip", "-n", name, "link", "set", inside, "up")

    def up(self):
        self._netns_add(self.switch)
        run("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", self.switch, "link", "set", "br0", "up")
        for i in range(self.n):
            self._netns_add(self.ns(i))
            self._attach(self.ns(i), f"n{i}", i + 1)
        self._netns_add(self.ctl)
        self._attach(self.ctl, "c", CTL_HOST)

    def enter_ctl(self):
        """Moves the calling thread (call it from the main thread first) into ctl."""
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/var/run/netns/{self.ctl}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)

    # ---- faults --------------------------------------------------------------------
    def iptables(self, i, *rule):
        run("ip", "netns", "exec", self.ns(i), "iptables", "-w", *rule)

    def cut(self, i, j):
        """Node i stops receiving from node j (one direction)."""
        self.iptables(i, "-A", "INPUT", "-s", self.addr(j), "-j", "DROP")

    def cut_both(self, i, j):
        self.cut(i, j)
        self.cut(j, i)

    def loss(self, i, probability):
        """Drops a share of the packets node i receives from other nodes."""
        self.iptables(i, "-A", "INPUT", "-s", self.ctl_addr, "-j", "ACCEPT")
        self.iptables(i, "-A", "INPUT", "-s", f"{SUBNET}.0/24", "-m", "statistic", "--mode",
                      "random", "--probability", f"{probability:.2f}", "-j", "DROP")

    def heal(self):
        for i in range(self.n):
            self.iptables(i, "-F")
            self.iptables(i, "-t", "nat", "-F")

    # ---- storage ---------------------------------------------------------------------
    def mount_tmpfs(self, path, size):
        os.makedirs(path, exist_ok=True)
        run("mount", "-t", "tmpfs", "-o", f"size={size}", f"{self.prefix}-tmpfs", path)
        self.mounts.append(path)

    # ---- teardown --------------------------------------------------------------------
    def down(self):
        errors = []
        for path in reversed(self.mounts):
            r = run("umount", "-l", path, check=False)
            if r.returncode != 0:
                errors.append(r.stderr.strip())
        self.mounts = []
        for name in reversed(self.made):
            r = run("ip", "netns", "del", name, check=False)
            if r.returncode != 0:
                errors.append(r.stderr.strip())
        self.made = []
        return errors


def sweep(tag):
    """Removes whatever a run with this tag left (used by the shell wrapper too)."""
    prefix = f"drf{tag}-"
    out = run("ip", "netns", "list", check=False).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(prefix):
            run("ip", "netns", "del", name, check=False)
    with open("/proc/mounts") as f:
        for line in f:
            if line.startswith(f"drf{tag}-tmpfs "):
                run("umount", "-l", line.split()[1], check=False)
