#!/usr/bin/python3
"""tests/integration/metrics.py — -metrics.addr (/metrics, /health, /ready)
on a 3-node cluster of real processes:

- every node's /metrics passes `promtool check metrics` (the Prometheus
  project's own linter of the text format and naming conventions);
- /health is 200; /ready is 200 once the node's zone files are replicated,
  and 503 with a one-line reason while its loader is stuck (a node started
  with the DNSRAFT_TEST_STUCK_LOADER hook);
- other paths are 404, other methods 405 (with Allow), HEAD works;
- DNS counters move as queries are made: UDP and TCP requests by type,
  responses by rcode (NOERROR, NXDOMAIN, REFUSED), TC=1 responses, the
  response-size histogram, and a malformed datagram counted as dropped;
- Raft counters move as writes are made (`kv set` through the admin port):
  proposals committed, commit and applied index, WAL fsyncs; has_leader on
  every node, is_leader on the leader only, per-peer match/lag/last contact
  on the leader only;
- zones: records and SOA serial of the zone served, file loads;
- a bad -metrics.addr is refused at start (exit 2);
- docs/grafana-dns-raft.json: every query parses (`promtool check rules`)
  and every metric it names is in a scrape of the leader.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import BIN, ROOT, Cluster, check, free_port, make_zone, ok, run_main, wait_for  # noqa: E402

import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402

PROMTOOL = shutil.which("promtool")
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def http(node, path, method="GET"):
    """(status, headers, body text) of one request to node's metrics port."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (node.metrics_port, path),
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def scrape(node):
    """(text, {series: float}) of node's /metrics; series is name{labels}."""
    status, headers, text = http(node, "/metrics")
    check(status == 200, "%s /metrics: HTTP %d" % (node.name, status))
    check(headers["Content-Type"].startswith("text/plain; version=0.0.4"),
          "content type %s" % headers["Content-Type"])
    samples = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = SAMPLE_RE.match(line)
        check(m is not None, "unparsable sample line %r" % line)
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return text, samples


def promtool_ok(node, text):
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
          "%s: promtool check metrics: rc %d\n%s%s" % (node.name, r.returncode,
                                                       r.stdout.decode(), r.stderr.decode()))


def with_metrics(node):
    node.metrics_port = free_port()
    node.extra += ["-metrics.addr", "127.0.0.1:%d" % node.metrics_port]
    return node


def delta(before, after, series):
    return after.get(series, 0) - before.get(series, 0)


def check_endpoints(n0):
    status, _, body = http(n0, "/health")
    check(status == 200 and body == "ok\n", "/health: %d %r" % (status, body))
    for path in ("/", "/metricsx", "/metrics/", "/READY", "/../etc/passwd"):
        status, _, _ = http(n0, path)
        check(status == 404, "%s: HTTP %d, want 404" % (path, status))
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = http(n0, "/metrics", method)
        check(status == 405 and "GET" in headers.get("Allow", ""),
              "%s /metrics: HTTP %d, Allow %s" % (method, status, headers.get("Allow")))
    status, _, body = http(n0, "/metrics", "HEAD")
    check(status == 200 and body == "", "HEAD /metrics: %d" % status)
    ok("/health 200; other paths 404; POST/PUT/DELETE 405 with Allow; HEAD 200")


def dns_traffic(node):
    """Queries of known outcome; returns nothing (the caller diffs)."""
    for _ in range(5):
        check(node.query("www.mt.test", "A")[0] == "NOERROR", "www A")
    check(node.query("nope.mt.test", "AAAA")[0] == "NXDOMAIN", "nope AAAA")
    check(node.query("other.example", "MX")[0] == "REFUSED", "other.example MX")
    for _ in range(2):
        check(node.query("www.mt.test", "A", tcp=True)[0] == "NOERROR", "www A over TCP")
    # No EDNS: the TXT set is larger than 512 octets, so TC=1.
    q = dns.message.make_query("big.mt.test", "TXT", use_edns=False)
    r = dns.query.udp(q, "127.0.0.1", timeout=2, port=node.dns_port, ignore_trailing=True)
    check(r.flags & dns.flags.TC, "big TXT without EDNS: TC not set")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"\x00\x01\x02\x03\x04", ("127.0.0.1", node.dns_port))  # a runt


def check_dns_counters(node):
    _, before = scrape(node)
    dns_traffic(node)

    def moved():
        _, after = scrape(node)
        want = {
            'dnsraft_dns_requests_total{proto="udp",type="A"}': 5,
            'dnsraft_dns_requests_total{proto="udp",type="AAAA"}': 1,
            'dnsraft_dns_requests_total{proto="udp",type="MX"}': 1,
            'dnsraft_dns_requests_total{proto="udp",type="TXT"}': 1,
            'dnsraft_dns_requests_total{proto="tcp",type="A"}': 2,
            'dnsraft_dns_responses_total{proto="udp",rcode="NOERROR"}': 6,
            'dnsraft_dns_responses_total{proto="udp",rcode="NXDOMAIN"}': 1,
            'dnsraft_dns_responses_total{proto="udp",rcode="REFUSED"}': 1,
            'dnsraft_dns_responses_total{proto="tcp",rcode="NOERROR"}': 2,
            'dnsraft_dns_truncated_total{proto="udp"}': 1,
            'dnsraft_dns_response_size_bytes_count{proto="udp"}': 8,
            'dnsraft_dns_response_size_bytes_count{proto="tcp"}': 2,
            'dnsraft_dns_response_size_bytes_bucket{proto="udp",le="+Inf"}': 8,
            'dnsraft_dns_dropped_total{proto="udp",reason="malformed"}': 1,
        }
        bad = {k: (delta(before, after, k), v) for k, v in want.items()
               if delta(before, after, k) != v}
        return after if not bad else check(False, "DNS counters (got, want): %s" % bad)
    after = wait_for("DNS counters to move", 10, moved, interval=0.2)
    # 8 UDP responses of at least a header and a question each (29+ bytes).
    check(delta(before, after, 'dnsraft_dns_response_size_bytes_sum{proto="udp"}') >= 8 * 29,
          "the response size sum did not grow with the responses")
    ok("DNS counters: requests by proto/type, responses by rcode, TC, size histogram, "
       "malformed drop")


def check_raft_counters(lead, followers):
    _, before = scrape(lead)
    for i in range(5):
        r = lead.admin("kv set metrics-key-%d v%d" % (i, i))
        check(r.startswith("SUCCESS"), "kv set: %s" % r)
    _, after = scrape(lead)
    check(delta(before, after, "dnsraft_raft_proposals_committed_total") >= 5,
          "proposals committed did not grow by 5")
    check(delta(before, after, "dnsraft_raft_commit_index") >= 5, "commit index")
    check(delta(before, after, "dnsraft_raft_applied_index") >= 5, "applied index")
    check(delta(before, after, "dnsraft_raft_wal_fsync_duration_seconds_count") >= 1,
          "WAL fsync count")
    check(after["dnsraft_raft_proposals_pending"] == 0, "proposals pending")
    check(after["dnsraft_raft_is_leader"] == 1 and after["dnsraft_raft_has_leader"] == 1,
          "leader: is_leader/has_leader")
    for f in followers:
        fs = wait_for("%s to apply the writes" % f.name, 10,
                      lambda: (lambda s: s if s["dnsraft_raft_applied_index"] >=
                               after["dnsraft_raft_commit_index"] else None)(scrape(f)[1]))
        check(fs["dnsraft_raft_is_leader"] == 0 and fs["dnsraft_raft_has_leader"] == 1,
              "%s: is_leader/has_leader" % f.name)
        check(not any(k.startswith("dnsraft_raft_peer_") for k in fs),
              "%s (a follower) reports per-peer progress" % f.name)
        for fam in ("match_index", "lag_entries", "last_contact_seconds", "voter"):
            check('dnsraft_raft_peer_%s{peer="%s"}' % (fam, f.name) in after,
                  "leader lacks dnsraft_raft_peer_%s for %s" % (fam, f.name))
        check(after['dnsraft_raft_peer_last_contact_seconds{peer="%s"}' % f.name] < 5,
              "last contact with %s" % f.name)
    check(not any('peer="%s"' % lead.name in k for k in after), "the leader lists itself")

    def caught_up():
        s = scrape(lead)[1]
        return all(s['dnsraft_raft_peer_lag_entries{peer="%s"}' % f.name] == 0 and
                   s['dnsraft_raft_peer_match_index{peer="%s"}' % f.name] ==
                   s["dnsraft_raft_last_index"] for f in followers)
    wait_for("per-peer lag 0 on the leader", 10, caught_up, interval=0.2)
    ok("Raft counters: proposals, commit/applied, fsyncs; leader flags; per-peer match, "
       "lag, last contact on the leader only")


def check_not_ready_while_stuck(c, zone):
    """A node whose loader hangs (test hook) is alive but not ready."""
    os.environ["DNSRAFT_TEST_STUCK_LOADER"] = "1"
    try:
        s = with_metrics(c.add_node("stuck", zone_files=[zone], join=False))
        s.start()
    finally:
        del os.environ["DNSRAFT_TEST_STUCK_LOADER"]
    status, _, body = http(s, "/ready")
    check(status == 503, "/ready of a stuck loader: %d %r" % (status, body))
    check(body.startswith("not ready: ") and body.count("\n") == 1 and "mt.zone" in body,
          "/ready body %r" % body)
    check(http(s, "/health")[0] == 200, "/health of a stuck loader")
    check(scrape(s)[1]["dnsraft_ready"] == 0, "dnsraft_ready of a stuck loader")
    s.kill()
    ok("/ready 503 with a one-line reason (%s) while the zones are not loaded" % body.strip())


def check_dashboard(c, text):
    """Every query of the Grafana dashboard parses and names only metrics
    the leader exports (text: its /metrics)."""
    import json
    with open(os.path.join(ROOT, "docs", "grafana-dns-raft.json")) as f:
        dash = json.load(f)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    check(len(exprs) >= 20, "dashboard has %d queries" % len(exprs))
    exported = {l.split()[2] for l in text.splitlines() if l.startswith("# TYPE ")}
    rules = ["groups:", "  - name: dashboard", "    rules:"]
    for i, e in enumerate(exprs):
        e = e.replace("$__rate_interval", "1m").replace("$instance", ".*").replace("$job", ".*")
        rules += ["      - record: dashboard:q%d" % i, "        expr: '%s'" % e.replace("'", "''")]
        for name in re.findall(r"\b((?:dnsraft|process)_[a-z_]+)", e):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            # dnsraft_stale_seconds comes with the readiness module's callback.
            check(name in exported or base in exported or name == "dnsraft_stale_seconds",
                  "the dashboard names %s, which is not exported" % name)
    path = c.write_file("dashboard-rules.yml", "\n".join(rules) + "\n")
    r = subprocess.run([PROMTOOL, "check", "rules", path], capture_output=True, timeout=60)
    check(r.returncode == 0, "promtool check rules (dashboard queries): %s%s"
          % (r.stdout.decode(), r.stderr.decode()))
    ok("Grafana dashboard: %d queries parse and name only exported metrics" % len(exprs))


def main():
    check(PROMTOOL is not None, "promtool missing (Debian package prometheus; make deps)")
    r = subprocess.run([BIN, "-id", "x", "-metrics.addr", "no-port"], capture_output=True,
                       timeout=10)
    check(r.returncode == 2 and b"metrics.addr" in r.stderr, "bad -metrics.addr: rc %d %r"
          % (r.returncode, r.stderr))
    with Cluster("metrics") as c:
        big = [("big", "TXT", '"%s"' % ("x" * 200)) for _ in range(1)]
        big += [("big", "TXT", '"%d%s"' % (i, "y" * 150)) for i in range(5)]
        zone = c.write_file("mt.zone", make_zone("mt.test", [("www", "A", "192.0.2.10")] + big,
                                                 serial=42))
        n0 = with_metrics(c.add_node("n0", zone_files=[zone], join=False)).start()
        wait_for("n0 /ready 200", 20, lambda: http(n0, "/ready")[0] == 200)
        body = http(n0, "/ready")[2]
        check(re.fullmatch(r"ready stale_seconds=0\.000\n", body) is not None, "/ready body %r" % body)
        ok("/ready 200 once the zone file is replicated")
        check_endpoints(n0)
        n1 = with_metrics(c.add_node("n1")).start()
        n2 = with_metrics(c.add_node("n2")).start()
        c.wait_voters(["n0", "n1", "n2"], timeout=30)
        for n in (n0, n1, n2):
            wait_for("%s serves mt.test" % n.name, 20,
                     lambda n=n: n.resolves("www.mt.test", ["192.0.2.10"]))
            text, s = scrape(n)
            promtool_ok(n, text)
            check(s['dnsraft_zone_records{zone="mt.test."}'] == 10 and
                  s['dnsraft_zone_serial{zone="mt.test."}'] == 42 and s["dnsraft_zones"] == 1,
                  "%s zone metrics" % n.name)
            check(s["process_resident_memory_bytes"] > 0 and s["process_open_fds"] > 3 and
                  s["process_start_time_seconds"] > 1e9, "%s process metrics" % n.name)
        check(scrape(n0)[1]["dnsraft_zone_file_loads_total"] == 1, "n0 zone file loads")
        ok("promtool check metrics passes on all 3 nodes; zone records/serial; process_*")
        lead = c.leader(timeout=15)
        check_dns_counters(n1)
        check_raft_counters(lead, [n for n in (n0, n1, n2) if n is not lead])
        text = scrape(lead)[0]
        promtool_ok(lead, text)
        check_dashboard(c, text)
        check_not_ready_while_stuck(c, zone)


if __name__ == "__main__":
    run_main(main)
