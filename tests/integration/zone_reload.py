#!/usr/bin/python3
"""tests/integration/zone_reload.py — zones through Raft, with real
processes on a 3-node cluster:

- n0 loads za.test; a syntax error written into its file + SIGHUP logs
  `file:line: reason` (the right line) and the old zone still answers on
  every node (the record added next to the error does not appear); the file
  fixed + SIGHUP loads it;
- n1 and n2 both load dup.test (different content): SIGHUP n2, then SIGHUP
  n1: each time the later load answers on every node, `zone list` names its
  loader, and every node logs the "later load wins" warning;
- n1 also loads big.test, ~50,000 records from bench/gen-zone.py (> 1 MiB,
  so it goes as several chunks: the leader's log grows by more than one
  entry for it); it answers on all 3 nodes;
- big.test rewritten (probe names spread over the zone, and the serial,
  change value) and reloaded with SIGHUP while threads query every node
  without pause: every query is answered, and no sample ever mixes the two
  versions (once a node showed a new value it never shows an old one, and
  no sample shows a new value before an old one).
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import ROOT, Cluster, check, ok, run_main, wait_for, make_zone  # noqa: E402

import dns.exception  # noqa: E402

BIG_RECORDS = 50000
# Spread over the zone and its chunks; "SOA" is the apex SOA's serial.
PROBES = ["aaa-probe", "SOA", "mid-probe", "zzz-probe"]
PROBE_HOST = {"aaa-probe": 1, "mid-probe": 2, "zzz-probe": 3}  # as big_zone_text writes them


def big_zone_text(base_lines, version):
    """The generated zone with probe records for version (1 or 2); the
    serial and every probe's address change with the version."""
    out = []
    mid = len(base_lines) // 2
    for i, line in enumerate(base_lines):
        if "SOA" in line:
            line = line.replace("2024010101", "20240101%02d" % version)
        out.append(line)
        if line.startswith("ns2 "):
            out.append("aaa-probe 60 A 10.99.%d.1" % version)
        if i == mid:
            out.append("mid-probe 60 A 10.99.%d.2" % version)
    out.append("zzz-probe 60 A 10.99.%d.3" % version)
    return "\n".join(out) + "\n"


def probe_query(node, probe):
    """(rcode, answer rdata texts) for a probe: its A record, or for "SOA"
    the apex SOA's serial."""
    if probe == "SOA":
        rc, got = node.query("big.test", "SOA", timeout=1.0)
        return rc, [g.split()[2] for g in got]
    return node.query(probe + ".big.test", "A", timeout=1.0)


def probe_value(version, probe):
    if probe == "SOA":
        return "20240101%02d" % version
    return "10.99.%d.%d" % (version, PROBE_HOST[probe])


def version_of(node, probe):
    """1 or 2 from the probe's answer; None for no answer; a description
    of an answer that is neither version."""
    for attempt in range(3):
        try:
            rc, got = probe_query(node, probe)
            break
        except dns.exception.Timeout:
            if attempt == 2:
                return None
    for v in (1, 2):
        if rc == "NOERROR" and got == [probe_value(v, probe)]:
            return v
    return "%s on %s: %s %r is neither version" % (probe, node.name, rc, got)


class Sampler(threading.Thread):
    """Queries the probes on one node, in alternating orders, until told to
    stop; records violations."""

    def __init__(self, node):
        super().__init__(daemon=True)
        self.node = node
        self.stop = threading.Event()
        self.samples = 0
        self.mixed = []
        self.unanswered = 0
        self.seen = set()
        self.switched_at = None

    def run(self):
        newest = 1
        order = list(PROBES)
        while not self.stop.is_set():
            order.reverse()
            seq = [version_of(self.node, p) for p in order]
            other = [v for v in seq if isinstance(v, str)]
            if other:
                self.mixed += other
                continue
            if None in seq:
                self.unanswered += 1
                continue
            self.samples += 1
            self.seen.update(seq)
            # Versions only move forward, query after query.
            for v in seq:
                if v < newest:
                    self.mixed.append("%s: %s went back to version 1 after version 2 (order %s)"
                                      % (self.node.name, list(zip(order, seq)), order))
                newest = max(newest, v)
            if newest == 2 and self.switched_at is None:
                self.switched_at = time.monotonic()


def zone_list_entry(node, origin):
    for part in node.admin("zone list").split("; "):
        if part.startswith(origin + " "):
            m = re.match(r"^\S+ serial (\d+) records (\d+) loaded-by (\S+) index (\d+)$", part)
            check(m, "zone list entry %r" % part)
            return int(m.group(1)), int(m.group(2)), m.group(3)
    return None


def syntax_error(c, nodes, za_path):
    n0 = nodes[0]
    with open(za_path) as f:
        good = f.read()
    lines = good.splitlines()
    bad_lineno = len(lines) + 2
    broken = good + "new 60 A 10.0.0.9\nbroken 60 A 300.1.2.3\n"
    with open(za_path, "w") as f:
        f.write(broken)
    mark = len(n0.log())
    n0.signal(signal.SIGHUP)
    pat = re.compile(r"%s:(\d+): (.+)" % re.escape(za_path))

    def logged():
        m = pat.search(n0.log()[mark:])
        return m
    m = wait_for("n0 logs file:line: reason for the broken za.txt", 10, logged)
    check(int(m.group(1)) == bad_lineno, "error names line %s, the bad line is %d: %r"
          % (m.group(1), bad_lineno, m.group(0)))
    time.sleep(0.5)  # give a wrong load the time to show up
    for n in nodes:
        check(n.resolves("www.za.test", ["10.0.0.1"]), "the old za.test stopped answering on %s" % n.name)
        rc, got = n.query("new.za.test")
        check(got == [], "new.za.test from the broken file answers on %s: %s %r" % (n.name, rc, got))
    ok("broken za.txt + SIGHUP: n0 logs %r; the old zone still answers everywhere"
       % m.group(0)[:100])
    with open(za_path, "w") as f:
        f.write(good + "new 60 A 10.0.0.9\n")
    n0.signal(signal.SIGHUP)
    for n in nodes:
        wait_for("new.za.test on %s after the fix" % n.name, 10,
                 lambda n=n: n.resolves("new.za.test", ["10.0.0.9"]))
    ok("fixed za.txt + SIGHUP: the new record answers everywhere")


def later_load_wins(c, nodes, winner, loser, addr):
    marks = [len(n.log()) for n in nodes]
    winner.signal(signal.SIGHUP)
    for n in nodes:
        wait_for("www.dup.test -> %s on %s" % (addr, n.name), 60,
                 lambda n=n: n.resolves("www.dup.test", [addr]))
        entry = zone_list_entry(n, "dup.test.")
        check(entry and entry[2] == winner.name, "zone list on %s: dup.test loaded by %r, want %s"
              % (n.name, entry, winner.name))
    warn = "zone dup.test. loaded by node %s replaces the one loaded by node %s" % (winner.name, loser.name)
    for n, mark in zip(nodes, marks):
        wait_for("the 'later load wins' warning on %s" % n.name, 5, lambda n=n, mark=mark: warn in n.log()[mark:])
    ok("dup.test reloaded by %s after %s: %s answers everywhere, zone list says loaded-by %s, "
       "every node warns" % (winner.name, loser.name, addr, winner.name))


def main():
    with Cluster("zones") as c:
        za = c.write_file("zones/za.txt", make_zone("za.test", [("www", "A", "10.0.0.1")]))
        dup1 = c.write_file("zones/dup1.txt", make_zone("dup.test", [("www", "A", "10.1.1.1")], serial=11))
        dup2 = c.write_file("zones/dup2.txt", make_zone("dup.test", [("www", "A", "10.2.2.2")], serial=22))
        gen = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench/gen-zone.py"),
                              str(BIG_RECORDS), "--origin", "big.test."],
                             capture_output=True, text=True, check=True)
        base = gen.stdout.splitlines()
        big = c.write_file("zones/big.txt", big_zone_text(base, 1))
        check(os.path.getsize(big) > 1 << 20, "big.txt is only %d bytes" % os.path.getsize(big))

        nodes = [c.add_node("n0", [za], join=False),
                 c.add_node("n1", [dup1, big]),
                 c.add_node("n2", [dup2])]
        t0 = time.monotonic()
        for n in nodes:
            n.start()
        c.wait_voters([n.name for n in nodes], timeout=20)
        for n in nodes:
            wait_for("big.test on %s" % n.name, 60,
                     lambda n=n: all(version_of(n, p) == 1 for p in PROBES))
        took = time.monotonic() - t0
        for n in nodes:
            serial, count, loader = zone_list_entry(n, "big.test.")
            check(loader == "n1" and serial == 2024010101 and count >= BIG_RECORDS,
                  "zone list big.test on %s: serial %d, %d records, loaded by %s"
                  % (n.name, serial, count, loader))
            check(n.resolves("h12340.big.test", ["10.0.48.52", "172.16.48.52"]),
                  "h12340.big.test on %s" % n.name)
            check(n.resolves("www.za.test", ["10.0.0.1"]), "www.za.test on %s" % n.name)
        ok("big.test (%d records, %.1f MiB of zone file) answers on all 3 nodes, %.1f s after start"
           % (count, os.path.getsize(big) / 1048576, took))

        syntax_error(c, nodes, za)
        # Both loaded dup.test at start, in either order: first the one
        # whose load lost, then (below, with big.test) n1 again.
        for n in nodes:
            wait_for("dup.test in zone list on %s" % n.name, 10,
                     lambda n=n: zone_list_entry(n, "dup.test."))
        first = zone_list_entry(nodes[0], "dup.test.")[2]
        if first == "n2":
            later_load_wins(c, nodes, nodes[1], nodes[2], "10.1.1.1")
        later_load_wins(c, nodes, nodes[2], nodes[1], "10.2.2.2")

        # A large reload under queries: n1 reloads dup1 (making it win again)
        # and the rewritten big.test.
        with open(big, "w") as f:
            f.write(big_zone_text(base, 2))
        leader = c.leader()
        before = leader.status()["last_index"]
        samplers = [Sampler(n) for n in nodes]
        for s in samplers:
            s.start()
        time.sleep(0.3)
        t_hup = time.monotonic()
        later_load_wins(c, nodes, nodes[1], nodes[2], "10.1.1.1")
        for n in nodes:
            wait_for("big.test version 2 on %s" % n.name, 60,
                     lambda n=n: all(version_of(n, p) == 2 for p in PROBES))
        time.sleep(0.3)
        for s in samplers:
            s.stop.set()
        for s in samplers:
            s.join(10)
        entries = leader.status()["last_index"] - before
        check(entries >= 3, "the reload of dup.test and big.test took %d log entries; a zone over "
              "1 MiB must go in several chunks" % entries)
        for s in samplers:
            check(not s.mixed, "%s: %d mixed samples, e.g. %s" % (s.node.name, len(s.mixed), s.mixed[:2]))
            check(s.unanswered == 0, "%s: %d samples with an unanswered query during the reload"
                  % (s.node.name, s.unanswered))
            check(s.seen == {1, 2}, "%s: samples saw versions %s" % (s.node.name, sorted(s.seen)))
        for n in nodes:
            serial, count, loader = zone_list_entry(n, "big.test.")
            check(serial == 2024010102, "big.test serial on %s after the reload: %d" % (n.name, serial))
        ok("big.test reloaded under queries (%d log entries for the reload): %s; never a mix, "
           "every query answered" % (entries, ", ".join(
               "%s %d samples, new after %.2f s" % (s.node.name, s.samples, s.switched_at - t_hup)
               for s in samplers)))
        for n in nodes:
            n.stop()


if __name__ == "__main__":
    run_main(main)
