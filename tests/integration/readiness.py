#!/usr/bin/python3
"""tests/integration/readiness.py — a node never denies a zone it is about
to serve, and reports how stale it is (issue #16, kv/readiness.h).

A prober thread queries a node over UDP every 5 ms from the moment its
process starts (before it has bound its port), for every zone the test
configured. Each start below checks, over all the probe's answers:
  - no REFUSED, ever;
  - before the first right answer, only SERVFAIL (our choice while not
    ready, docs/operations.md *Readiness*) or no answer (port not bound);
  - from the first right answer on, only right answers (the latch);
  - once `raft status` says ready=yes, the answers are right; no
    `raft status` says ready=no once DNS has answered right.
A second thread GETs `/ready` (-metrics.addr) every 5 ms from the same
moment, and checks:
  - before the first 200, every answered `/ready` is 503 with a one-line
    "not ready: ..." body (no answer while the HTTP server does not listen
    yet is fine);
  - no 200 before DNS answers: no DNS probe sent after a 200 came back
    answers anything but the right data;
  - the first 200 comes within 1 s of DNS's first right answer, and from
    then on every `/ready` is 200 "ready ...";
  - on a restart, /ready turns 200 with DNS (within RESTART_READY_LAG):
    the node serves its replayed copy at once, leader or not. (Replaying
    the 20,000-record zone takes some ms, during which DNS says SERVFAIL
    and /ready 503, both from the same flag.)
Starts:
  1. first start: n0 founds the cluster with foo.test (20,000 records,
     so that a joiner has something to catch up on);
  2. join: n1 joins with bar.test; it must serve foo.test (committed before
     it joined) and bar.test (its own file); n2 joins with baz.test; n3
     joins with no zone file (then leaves): only the catch-up target keeps
     it from answering before it has foo.test;
  3. restart: n1 stopped and started on its data dir: answers at once;
  4. restart with the rest of the cluster frozen (SIGSTOP n0 and n2): n1
     serves its copy at once without any leader, ready=yes, stale_seconds
     growing;
  5. staleness: with n1 ready and the cluster whole, SIGSTOP the two others:
     n1 keeps answering and stale_seconds grows past 1 s; SIGCONT: back to 0;
     the same with n1 as the leader: 0 while it holds its quorum, then it
     steps down (check-quorum) and stale_seconds grows;
  6. the servfail policy: n1 restarted with -dns.stale.policy servfail
     -dns.stale.max 2; SIGSTOP the others: after ~2 s n1 answers SERVFAIL and
     says ready=no; SIGCONT: it answers again.
On the code before readiness, start 1 sees REFUSED for foo.test until the
zone load commits, and start 2 REFUSED until the join caught up.
"""
import http.client
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, check, free_port, ok, run_main, wait_for, make_zone  # noqa: E402

import dns.exception  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402

BIG = 20000
# (zone, probe name, type, the right answer's rdata)
FOO = ("foo.test", "last.foo.test", "A", "10.0.0.99")
BAR = ("bar.test", "www.bar.test", "A", "10.0.1.1")
BAZ = ("baz.test", "www.baz.test", "A", "10.0.2.1")
PERIOD = 0.005
READY_LAG = 1.0  # the first /ready 200 comes within this of DNS's first right answer
RESTART_READY_LAG = 0.25  # the same on a restart: the replayed copy is served at once


class Prober:
    """Queries one node (UDP) every PERIOD for each probe, round-robin,
    until stopped; keeps (time sent, probe, rcode or None, rdata list,
    time answered)."""

    def __init__(self, node, probes):
        self.node, self.probes = node, probes
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _one(self, probe):
        """One query on a connected UDP socket, so that a port not bound
        yet fails at once (ECONNREFUSED from the ICMP error) instead of
        costing the timeout: probing really starts with the process."""
        q = dns.message.make_query(probe[1], probe[2])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(1.0)
            s.connect(("127.0.0.1", self.node.dns_port))
            s.send(q.to_wire())
            while True:
                r = dns.message.from_wire(s.recv(65535))
                if r.id == q.id:
                    break
        except (dns.exception.DNSException, OSError):
            return None, []
        finally:
            s.close()
        got = [rd.to_text() for rr in r.answer for rd in rr]
        return dns.rcode.to_text(r.rcode()), got

    def _run(self):
        i = 0
        while not self._stop.is_set():
            probe = self.probes[i % len(self.probes)]
            i += 1
            sent = time.monotonic()  # the state a sample shows is the one at sending
            rc, got = self._one(probe)
            self.samples.append((sent, probe, rc, got, time.monotonic()))
            time.sleep(PERIOD)

    def right(self, probe, rc, got):
        return rc == "NOERROR" and got == [probe[3]]

    def first_right(self, probe):
        for t, p, rc, got, _ in self.samples:
            if p == probe and self.right(p, rc, got):
                return t
        return None

    def first_right_answered(self):
        """When the first right answer (any probe) came back, or None."""
        return min((r for _, p, rc, got, r in self.samples if self.right(p, rc, got)),
                   default=None)

    def wrong_sent_after(self, t):
        """The first probe sent after t that did not answer right, or None."""
        for s in self.samples:
            if s[0] > t and not self.right(s[1], s[2], s[3]):
                return s
        return None

    def check(self, what, ready_at=None):
        """The rules in the module docstring; returns a summary."""
        counts = {}
        for probe in self.probes:
            first = self.first_right(probe)
            check(first is not None, "%s: %s never answered right" % (what, probe[1]))
            for t, p, rc, got, _ in self.samples:
                if p != probe:
                    continue
                counts[rc] = counts.get(rc, 0) + 1
                check(rc != "REFUSED", "%s: REFUSED for %s at +%.3f s (configured zone)"
                      % (what, p[1], t - self.samples[0][0]))
                if t < first:
                    check(rc in (None, "SERVFAIL"), "%s: %s before ready: %s %s"
                          % (what, p[1], rc, got))
                else:
                    check(self.right(p, rc, got), "%s: %s after the first right answer: %s %s"
                          % (what, p[1], rc, got))
                if ready_at is not None and t > ready_at:
                    check(self.right(p, rc, got), "%s: %s after ready=yes: %s %s"
                          % (what, p[1], rc, got))
        return ", ".join("%s %d" % (k or "no answer", v) for k, v in sorted(
            counts.items(), key=lambda kv: str(kv[0])))


class ReadyProber:
    """GETs node's /ready every PERIOD until stopped; keeps (time sent,
    HTTP status or None when nothing answered, body, time answered)."""

    def __init__(self, node):
        self.node = node
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _one(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.node.metrics_port, timeout=2.0)
        try:
            conn.request("GET", "/ready")
            r = conn.getresponse()
            return r.status, r.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            return None, ""
        finally:
            conn.close()

    def _run(self):
        while not self._stop.is_set():
            sent = time.monotonic()
            status, body = self._one()
            self.samples.append((sent, status, body, time.monotonic()))
            time.sleep(PERIOD)

    def check(self, what, dns, restart):
        """The /ready rules in the module docstring, against the DNS
        prober's samples; returns a summary."""
        t0 = dns.samples[0][0] if dns.samples else 0
        answered = [x for x in self.samples if x[1] is not None]
        first_ok = next((x for x in answered if x[1] == 200), None)
        check(first_ok is not None, "%s: /ready never 200 (%d answered)" % (what, len(answered)))
        seen_ok = False
        for sent, status, body, _ in answered:
            seen_ok = seen_ok or status == 200
            if not seen_ok:
                check(status == 503 and body.startswith("not ready: ")
                      and body.endswith("\n") and body.count("\n") == 1,
                      "%s: /ready before ready at +%.3f s: %s %r" % (what, sent - t0, status, body))
            else:
                check(status == 200 and body.startswith("ready") and body.count("\n") == 1,
                      "%s: /ready after its first 200, at +%.3f s: %s %r"
                      % (what, sent - t0, status, body))
        # A 200 says DNS answers from the moment it came back (the same flag).
        wrong = dns.wrong_sent_after(first_ok[3])
        if wrong is not None:
            check(False, "%s: /ready 200 at +%.3f s but DNS %s sent at +%.3f s answered %s %s"
                  % (what, first_ok[3] - t0, wrong[1][1], wrong[0] - t0, wrong[2], wrong[3]))
        dns_ok = dns.first_right_answered()
        lag = first_ok[0] - dns_ok
        check(lag < READY_LAG, "%s: /ready 200 only %.3f s after DNS answered" % (what, lag))
        if restart:
            check(lag < RESTART_READY_LAG, "%s: /ready 200 %.3f s after the restarted node "
                  "served (want < %.2f s)" % (what, lag, RESTART_READY_LAG))
        n503 = sum(1 for x in answered if x[1] == 503)
        return "/ready: %d no answer, %d 503, %d 200; first 200 %+.3f s from DNS's" % (
            len(self.samples) - len(answered), n503, len(answered) - n503, lag)


def status_ready(node, seen=None):
    sent = time.monotonic()
    s = node.status()
    if seen is not None:
        seen.append((sent, s.get("ready")))
    return s if s.get("ready") == "yes" else None


def check_status_seen(what, dns, seen):
    """raft status said ready=no only before DNS answered right."""
    dns_ok = dns.first_right_answered()
    late = [t for t, r in seen if r != "yes" and t > dns_ok]
    if late:
        check(False, "%s: raft status ready=no %.3f s after DNS answered right"
              % (what, late[0] - dns_ok))
    return "raft status: %d ready=no then ready=yes" % sum(1 for _, r in seen if r != "yes")


def with_metrics(node):
    """-metrics.addr on a free port, so that /ready can be probed."""
    node.metrics_port = free_port()
    node.extra += ["-metrics.addr", "127.0.0.1:%d" % node.metrics_port]
    return node


def start_probed(node, probes, what, timeout=60, restart=False):
    """Starts node with a DNS prober and a /ready prober running from
    before its exec; waits for ready=yes and every probe answered right;
    checks the samples."""
    ready_at = None
    seen = []
    with Prober(node, probes) as p, ReadyProber(node) as h:
        t0 = time.monotonic()
        node.start(wait=False)
        try:
            node.wait_up(timeout=20)
            wait_for("%s: ready=yes" % what, timeout, lambda: status_ready(node, seen),
                     interval=0.02)
            ready_at = time.monotonic()
            wait_for("%s: every zone answers" % what, 10,
                     lambda: all(p.first_right(x) for x in probes))
            wait_for("%s: /ready 200" % what, 10, lambda: any(x[1] == 200 for x in h.samples))
            time.sleep(0.3)  # more samples after ready
        except Exception:
            p.stop()
            h.stop()
            p.check(what)  # a REFUSED seen says more than the timeout
            raise
    summary = p.check(what, ready_at)
    hsummary = h.check(what, p, restart)
    ssummary = check_status_seen(what, p, seen)
    ok("%s: ready after %.2f s; probes: %s; %s; %s"
       % (what, ready_at - t0, summary, hsummary, ssummary))


def stale(node):
    return float(node.status()["stale_seconds"])


def freeze(nodes):
    for n in nodes:
        n.signal(signal.SIGSTOP)


def thaw(nodes):
    for n in nodes:
        n.signal(signal.SIGCONT)


def answers(node, probe):
    try:
        rc, got = node.query(probe[1], probe[2], timeout=0.5)
    except dns.exception.DNSException:
        return None
    return rc, got


def check_stale_serving(c, n1, others):
    """Start 5: n1 keeps answering while stale_seconds grows."""
    role = n1.status()["role"]
    check(stale(n1) == 0, "stale_seconds on a whole cluster: %s" % n1.status())
    freeze(others)
    try:
        wait_for("n1 stale_seconds > 1.5", 15, lambda: stale(n1) > 1.5, interval=0.1)
        s1 = stale(n1)
        time.sleep(1.0)
        s2 = stale(n1)
        check(s2 > s1 + 0.5, "stale_seconds does not grow: %.3f then %.3f" % (s1, s2))
        for probe in (FOO, BAR, BAZ):
            check(answers(n1, probe) == ("NOERROR", [probe[3]]),
                  "stale n1 must keep answering %s: %s" % (probe[1], answers(n1, probe)))
        st = n1.status()
        check(st["ready"] == "yes", "stale n1 with policy serve: %s" % st)
    finally:
        thaw(others)
    wait_for("n1 stale_seconds back to 0", 20, lambda: stale(n1) == 0, interval=0.1)
    ok("n1 (%s) cut off: stale_seconds %.1f -> %.1f, kept answering; back to 0 after SIGCONT"
       % (role, s1, s2))


def check_stale_leader(c, n1, others):
    """Start 5b: n1 leads, then loses its quorum. 0 while it holds it;
    check-quorum (thesis §6.2) makes it step down, and stale_seconds grows
    from its last contact with a quorum."""
    wait_for("n1 leads", 20, lambda: n1.admin("raft transfer n1", timeout=10) == "SUCCESS"
             and c.leader(timeout=5) is n1, interval=0.5)
    wait_for("leader n1 stale_seconds 0", 10, lambda: stale(n1) == 0, interval=0.1)
    freeze(others)
    try:
        wait_for("cut-off leader n1 stale_seconds > 1.5", 15, lambda: stale(n1) > 1.5,
                 interval=0.1)
        st = n1.status()
        check(st["role"] != "leader", "n1 still leads without a quorum: %s" % st)
        check(answers(n1, FOO) == ("NOERROR", [FOO[3]]), "n1 must keep answering")
    finally:
        thaw(others)
    wait_for("n1 stale_seconds back to 0", 20, lambda: stale(n1) == 0, interval=0.1)
    ok("leader n1 cut off: stepped down (%s), stale_seconds %s, kept answering; 0 again"
       % (st["role"], st["stale_seconds"]))


def check_stale_servfail(c, n1, others):
    """Start 6: the servfail policy."""
    freeze(others)
    try:
        t0 = time.monotonic()
        wait_for("n1 answers SERVFAIL past dns.stale.max", 20,
                 lambda: answers(n1, FOO) == ("SERVFAIL", []), interval=0.05)
        took = time.monotonic() - t0
        check(took > 1.5, "SERVFAIL after only %.2f s, dns.stale.max is 2" % took)
        st = n1.status()
        check(st["ready"] == "no" and float(st["stale_seconds"]) > 2,
              "past dns.stale.max: %s" % st)
        for probe in (BAR, BAZ):
            check(answers(n1, probe) == ("SERVFAIL", []), "%s: %s" % (probe[1], answers(n1, probe)))
    finally:
        thaw(others)
    wait_for("n1 answers again", 20, lambda: answers(n1, FOO) == ("NOERROR", [FOO[3]]))
    wait_for("n1 ready=yes again", 10, lambda: status_ready(n1))
    ok("servfail policy: SERVFAIL %.1f s after the cut (max 2 s), ready=no; answers after SIGCONT"
       % took)


def restart_frozen(c, n1, others):
    """Start 4: n1 restarts while no leader can exist; serves its copy."""
    n1.stop()
    freeze(others)
    try:
        start_probed(n1, [FOO, BAR, BAZ], "restart with no leader", timeout=20, restart=True)
        st = n1.status()
        check(st["leader"] == "none", "a leader while the others are frozen? %s" % st)
        s1 = stale(n1)
        time.sleep(0.5)
        check(stale(n1) > s1, "stale_seconds must grow with no leader: %s" % n1.status())
    finally:
        thaw(others)
    ok("restart with no leader: serves its copy, stale_seconds %.1f and growing" % s1)


def main():
    with Cluster("readiness") as c:
        big = [("r%d" % i, "A", "10.1.%d.%d" % (i // 250, i % 250 + 1)) for i in range(BIG)]
        z0 = c.write_file("zones/foo.txt", make_zone("foo.test", big + [("last", "A", FOO[3])]))
        z1 = c.write_file("zones/bar.txt", make_zone("bar.test", [("www", "A", BAR[3])]))
        z2 = c.write_file("zones/baz.txt", make_zone("baz.test", [("www", "A", BAZ[3])]))
        n0 = with_metrics(c.add_node("n0", [z0], join=None))
        start_probed(n0, [FOO], "first start (n0 founds)")
        n1 = with_metrics(c.add_node("n1", [z1], join=n0))
        start_probed(n1, [FOO, BAR], "join (n1)")
        n2 = with_metrics(c.add_node("n2", [z2], join=n0))
        start_probed(n2, [FOO, BAR, BAZ], "join (n2)")
        # A joiner without zone files of its own: only the catch-up target
        # (the leader's commit index when it first heard from it) holds it.
        n3 = with_metrics(c.add_node("n3", [], join=n0))
        start_probed(n3, [FOO, BAR, BAZ], "join without zone files (n3)")
        n3.stop()
        check(n0.admin("raft leave n3", timeout=15) == "SUCCESS", "raft leave n3")
        c.wait_voters(["n0", "n1", "n2"], timeout=30)
        wait_for("n1 serves baz.test", 10, lambda: n1.resolves(BAZ[1], [BAZ[3]]))
        n1.stop()
        start_probed(n1, [FOO, BAR, BAZ], "restart (n1)", restart=True)
        c.leader(timeout=20)
        restart_frozen(c, n1, [n0, n2])
        c.leader(timeout=20)
        wait_for("n1 stale_seconds 0", 20, lambda: stale(n1) == 0, interval=0.1)
        check_stale_serving(c, n1, [n0, n2])
        check_stale_leader(c, n1, [n0, n2])
        n1.extra += ["-dns.stale.policy", "servfail", "-dns.stale.max", "2"]
        n1.stop()
        start_probed(n1, [FOO, BAR, BAZ], "restart (n1, servfail policy)", restart=True)
        c.leader(timeout=20)
        wait_for("n1 stale_seconds 0", 20, lambda: stale(n1) == 0, interval=0.1)
        check_stale_servfail(c, n1, [n0, n2])
        # The leader's own view: 0 while it holds a quorum.
        lead = c.leader(timeout=20)
        check(stale(lead) == 0, "leader %s stale_seconds: %s" % (lead.name, lead.status()))
        ok("leader %s: stale_seconds 0 with its quorum" % lead.name)


if __name__ == "__main__":
    run_main(main)
