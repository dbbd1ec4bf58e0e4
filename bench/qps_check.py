#!/usr/bin/python3
"""Checks that the servers of bench/dns-qps give the same answers before they
are timed, so that a fast but wrong server cannot win.

  qps_check.py QUERYFILE COUNT NAME=PORT...

Sends the first COUNT lines of the dnsperf query file to every server over
UDP and compares rcode and answer section; prints up to five differences and
exits 1 if there is any.
"""
import sys

import dns.message
import dns.query


def view(port, name, qtype):
    q = dns.message.make_query(name, qtype)
    q.flags = 0
    r = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
    return (r.rcode(), sorted(rr.to_text() for rr in r.answer))


def main():
    queries, count = sys.argv[1], int(sys.argv[2])
    servers = [(a.split("=")[0], int(a.split("=")[1])) for a in sys.argv[3:]]
    bad = 0
    with open(queries) as f:
        lines = [next(f) for _ in range(count)]
    for line in lines:
        name, qtype = line.split()
        seen = [view(port, name, qtype) for _, port in servers]
        if any(v != seen[0] for v in seen[1:]):
            bad += 1
            if bad <= 5:
                print(f"{name} {qtype}: " +
                      " | ".join(f"{n}: {v}" for (n, _), v in zip(servers, seen)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
