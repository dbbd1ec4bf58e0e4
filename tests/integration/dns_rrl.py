#!/usr/bin/python3
"""tests/integration/dns_rrl.py — UDP response rate limiting on one node of
real processes (-dns.rrl.rate 10 -dns.rrl.slip 2):

- a burst of 200 UDP queries for one name from 127.0.0.1 gets at most a
  couple of seconds' worth of full answers (rate 10/s), some truncated
  replies (TC=1, no records: the slip) and the rest dropped;
- a truncated reply sends a real client to TCP, which answers in full (TCP
  is never limited), even in the middle of the flood;
- another source network (127.0.1.1, another /24) is unaffected: every
  query answered in full;
- the same source, another name: its own bucket, answered;
- with rate limiting off (the default, a second node), the same burst is
  answered in full.
"""
import os
import socket
import sys
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, check, ok, run_main, wait_for, make_zone  # noqa: E402

RATE = 10
BURST = 200


def burst(port, name, source="127.0.0.1", count=BURST, pace=0.0):
    """Sends count queries for name from source; returns (full, truncated)
    replies received (the rest were dropped)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.settimeout(0.5)
    for i in range(count):
        q = dns.message.make_query(name, "A")
        q.id = i
        s.sendto(q.to_wire(), ("127.0.0.1", port))
        if pace:
            time.sleep(pace)
    full = truncated = 0
    while True:
        try:
            data, _ = s.recvfrom(4096)
        except socket.timeout:
            break
        r = dns.message.from_wire(data)
        if r.flags & dns.flags.TC:
            check(not r.answer and not r.authority, "a slipped reply carries records")
            truncated += 1
        else:
            check(r.rcode() == dns.rcode.NOERROR and r.answer, "a full reply without the answer")
            full += 1
    s.close()
    return full, truncated


def main():
    with Cluster("dnsrrl") as c:
        z = c.write_file("zones/rrl.txt", make_zone("rrl.test", [("www", "A", "10.7.7.7"),
                                                                   ("ftp", "A", "10.7.7.8")]))
        n = c.add_node("n0", [z], join=None,
                       extra=["-dns.rrl.rate", str(RATE), "-dns.rrl.slip", "2"])
        n.start()
        wait_for("www.rrl.test answers", 15, lambda: n.resolves("www.rrl.test", ["10.7.7.7"]))
        time.sleep(1.1)  # the bucket the wait used is full again

        full, truncated = burst(n.dns_port, "www.rrl.test")
        dropped = BURST - full - truncated
        check(RATE <= full <= 3 * RATE, "%d full answers to a burst of %d (rate %d/s)"
              % (full, BURST, RATE))
        check(truncated >= (BURST - 3 * RATE) // 2 - 5 and dropped >= truncated - 5,
              "slip 2: %d truncated, %d dropped" % (truncated, dropped))
        ok("burst of %d from 127.0.0.1: %d full, %d truncated (TC=1), %d dropped"
           % (BURST, full, truncated, dropped))

        # During a flood from 127.0.0.1, TCP still answers in full.
        burst(n.dns_port, "www.rrl.test", count=50)
        r = dns.query.tcp(dns.message.make_query("www.rrl.test", "A"), "127.0.0.1",
                          timeout=3, port=n.dns_port)
        check(r.answer and not (r.flags & dns.flags.TC), "TCP answer during the flood")
        ok("the client that got TC=1 retries over TCP and is answered in full")

        full_b, trunc_b = burst(n.dns_port, "www.rrl.test", source="127.0.1.1", count=RATE)
        check(full_b == RATE and trunc_b == 0, "another /24 during the flood: %d full of %d"
              % (full_b, RATE))
        ok("another source network (127.0.1.1) is unaffected: %d of %d answered in full"
           % (full_b, RATE))
        full_o, _ = burst(n.dns_port, "ftp.rrl.test", count=5)
        check(full_o == 5, "another name from the limited source: %d of 5" % full_o)
        ok("the limited source asking another name: its own bucket, 5 of 5 answered")

        off = c.add_node("n1", [z], join=None)
        off.start()
        wait_for("www.rrl.test on the node without RRL", 15,
                 lambda: off.resolves("www.rrl.test", ["10.7.7.7"]))
        full_off, trunc_off = burst(off.dns_port, "www.rrl.test", pace=0.0005)
        check(full_off == BURST and trunc_off == 0,
              "rate limiting off: %d of %d answered" % (full_off, BURST))
        ok("without -dns.rrl.rate (off by default): %d of %d answered" % (full_off, BURST))
        n.stop()
        off.stop()


if __name__ == "__main__":
    run_main(main)
