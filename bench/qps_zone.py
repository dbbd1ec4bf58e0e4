#!/usr/bin/python3
"""Writes the zone and the dnsperf query file of bench/dns-qps.

  qps_zone.py OUTDIR [NAMES] [QUERIES]

OUTDIR/bench.test.zone: the zone bench.test. with NAMES host names (default
100,000), each with an A record, every tenth also with an AAAA, plus the
apex SOA/NS. OUTDIR/queries.txt: QUERIES dnsperf lines (default 200,000),
drawn with a fixed seed: 85% A for an existing name, 5% AAAA (answer or
NODATA), 10% A for a name that does not exist (NXDOMAIN).
"""
import os
import random
import sys


def write_zone(path, names):
    with open(path, "w") as f:
        f.write("$ORIGIN bench.test.\n$TTL 3600\n")
        f.write("@ SOA ns1.bench.test. hostmaster.bench.test. 1 7200 3600 1209600 300\n")
        f.write("@ NS ns1.bench.test.\n@ NS ns2.bench.test.\n")
        f.write("ns1 A 192.0.2.1\nns2 A 192.0.2.2\n")
        for i in range(names):
            f.write(f"h{i:06d} A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n")
            if i % 10 == 0:
                f.write(f"h{i:06d} AAAA 2001:db8::{i >> 16:x}:{i & 0xffff:x}\n")


def write_queries(path, names, count):
    rng = random.Random(20261126)
    with open(path, "w") as f:
        for _ in range(count):
            roll = rng.random()
            i = rng.randrange(names)
            if roll < 0.85:
                f.write(f"h{i:06d}.bench.test. A\n")
            elif roll < 0.90:
                f.write(f"h{i:06d}.bench.test. AAAA\n")
            else:
                f.write(f"nx{i:06d}.bench.test. A\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    names = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    queries = int(sys.argv[3]) if len(sys.argv) > 3 else 200000
    os.makedirs(out, exist_ok=True)
    write_zone(os.path.join(out, "bench.test.zone"), names)
    write_queries(os.path.join(out, "queries.txt"), names, queries)


if __name__ == "__main__":
    main()
