#!/usr/bin/python3
"""tests/sanitizers/clean_shutdown.py — the daemon built with ASan+UBSan
(LeakSanitizer on) runs a 3-node cluster through the seed walkthrough's
paths, then every node stops cleanly; any leak, memory error or undefined
behaviour on any path fails the test.

Run by `make asan` with DNSRAFT_BIN=build-asan/dns-raft. What it covers:
  - founding, two joins as learners and their promotion;
  - DNS over UDP and TCP on every node;
  - kv set (on a follower: forwarded), get (ReadIndex), del, get -> ERROR,
    malformed admin lines, a `kv` burst that forces a state-machine snapshot
    and log compaction (-raft.snapshot.entries is lowered for that);
  - a zone reload by SIGHUP, answered by every node;
  - -metrics.addr on every node: /metrics, /ready and a 404 scraped;
  - a follower stopped with SIGINT (Ctrl-C) and restarted from its data
    directory (WAL replay and snapshot restore), then catching up through
    InstallSnapshot (the leader compacted past it meanwhile);
  - the leader stopped with SIGTERM (leadership transfer on the way out);
  - finally every node stopped.
Every stop must exit 0 (LeakSanitizer exits 23 on a leak) and no node's
output may contain a sanitizer report.
"""
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from clusterlib import Cluster, check, free_port, ok, run_main, wait_for, make_zone, TestFailure  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402

SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: \w+Sanitizer")
SNAPSHOT_EVERY = 200


def check_no_report(node):
    m = SANITIZER_REPORT.search(node.log())
    if m:
        lines = node.log().splitlines()
        at = next(i for i, l in enumerate(lines) if SANITIZER_REPORT.search(l))
        raise TestFailure("%s: sanitizer report:\n%s" % (node.name, "\n".join(lines[at:at + 40])))


def stop_with(node, sig):
    """Stops node with sig (SIGINT or SIGTERM); it must exit 0 with no
    sanitizer report."""
    node.signal(sig)
    try:
        rc = node.proc.wait(60)
    except subprocess.TimeoutExpired:
        node.kill()
        raise TestFailure("%s did not stop within 60 s of %s" % (node.name, signal.Signals(sig).name))
    node._reaped()
    check_no_report(node)
    check(rc == 0, "%s exited with %d after %s (LeakSanitizer exits 23)" % (node.name, rc, signal.Signals(sig).name))
    ok("%s stopped by %s: exit 0, no sanitizer report" % (node.name, signal.Signals(sig).name))


def main():
    os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    with Cluster("sanitizers") as c:
        extra = ("-raft.snapshot.entries", str(SNAPSHOT_EVERY))
        zones = []
        for i, origin in enumerate(["foo.test", "bar.test", "baz.test"]):
            zones.append(c.write_file("z%d.txt" % i, make_zone(origin, [("www", "A", "192.0.2.%d" % (i + 1))])))
        metrics_port = {}

        def with_metrics(name):
            metrics_port[name] = free_port()
            return extra + ("-metrics.addr", "127.0.0.1:%d" % metrics_port[name])
        n0 = c.add_node("n0", [zones[0]], join=None, extra=with_metrics("n0")).start()
        n1 = c.add_node("n1", [zones[1]], extra=with_metrics("n1")).start()
        n2 = c.add_node("n2", [zones[2]], extra=with_metrics("n2")).start()
        c.wait_voters(["n0", "n1", "n2"], timeout=60)
        ok("3 voters")

        for n in c.nodes:
            for i, origin in enumerate(["foo.test", "bar.test", "baz.test"]):
                want = ["192.0.2.%d" % (i + 1)]
                wait_for("%s answers www.%s" % (n.name, origin), 30,
                         lambda n=n, o=origin, w=want: n.query("www." + o) == ("NOERROR", w))
                check(n.query("www." + origin, tcp=True) == ("NOERROR", want), "%s www.%s over TCP" % (n.name, origin))
        ok("every node answers every zone over UDP and TCP")

        def http_status(n, path):
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d%s" % (metrics_port[n.name], path),
                                            timeout=10) as r:
                    r.read()
                    return r.status
            except urllib.error.HTTPError as e:
                return e.code
        for n in c.nodes:
            wait_for("%s /ready 200" % n.name, 30, lambda n=n: http_status(n, "/ready") == 200)
            for path, want in (("/metrics", 200), ("/nope", 404)):
                status = http_status(n, path)
                check(status == want, "%s %s: HTTP %d" % (n.name, path, status))
        ok("/metrics, /ready and a 404 on every node")

        follower = next(n for n in c.nodes if n is not c.leader())
        check(follower.admin("kv set foo bar") == "SUCCESS", "kv set via a follower")
        for n in c.nodes:
            check(n.admin("kv get foo") == "bar", "kv get foo on %s" % n.name)
        check(n0.admin("kv del foo") == "SUCCESS", "kv del")
        check(n1.admin("kv get foo").startswith("ERROR"), "kv get after del")
        for bad in ["kv", "kv set onlykey", "nonsense", "kv get " + "x" * 5000]:
            check(n2.admin(bad).startswith("ERROR"), "ERROR for %r" % bad[:20])
        ok("kv set/get/del and malformed lines")

        with c.nodes[0].conn() as conn:
            for i in range(SNAPSHOT_EVERY * 2):
                check(conn.cmd("kv set k%d v%d" % (i, i)) == "SUCCESS", "burst write %d" % i)
        ok("%d writes (past two snapshot thresholds)" % (SNAPSHOT_EVERY * 2))

        with open(zones[1], "a") as f:
            f.write("added 60 A 198.51.100.7\n")
        n1.signal(signal.SIGHUP)
        for n in c.nodes:
            wait_for("%s answers added.bar.test" % n.name, 30,
                     lambda n=n: n.query("added.bar.test") == ("NOERROR", ["198.51.100.7"]))
        ok("SIGHUP reload answered on every node")

        follower = next(n for n in c.nodes if n is not c.leader())
        stop_with(follower, signal.SIGINT)
        # More than two snapshot intervals while it is down: the leader's
        # log is compacted past the follower's, so it catches up through
        # InstallSnapshot.
        with c.leader().conn() as conn:
            for i in range(SNAPSHOT_EVERY * 2 + 50):
                check(conn.cmd("kv set d%d v%d" % (i, i)) == "SUCCESS", "write %d while a follower is down" % i)
            check(conn.cmd("kv set after-restart yes") == "SUCCESS", "write while a follower is down")
        follower.start()
        wait_for("%s catches up" % follower.name, 30,
                 lambda: follower.admin("kv get after-restart") == "yes")
        check(follower.admin("kv get k%d" % (SNAPSHOT_EVERY * 2 - 1)) == "v%d" % (SNAPSHOT_EVERY * 2 - 1),
              "restarted follower has the burst")
        check("installed the leader's snapshot" in follower.log(),
              "%s caught up without InstallSnapshot (the test meant to cover it)" % follower.name)
        ok("%s restarted from disk and caught up through InstallSnapshot" % follower.name)

        leader = c.leader()
        stop_with(leader, signal.SIGTERM)
        rest = [n for n in c.nodes if n is not leader]
        c.leader(among=rest, timeout=15)
        check(rest[0].admin("kv set after-leader yes") == "SUCCESS", "write after the leader stopped")
        for n in rest:
            stop_with(n, signal.SIGTERM)
        for n in c.nodes:
            check_no_report(n)


if __name__ == "__main__":
    run_main(main)
