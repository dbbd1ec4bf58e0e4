#!/usr/bin/python3
"""The query corpus of the differential test (tests/diff/compare.py).

Builds, deterministically, a list of wire-format DNS queries that exercise
every answer case of tests/diff/zones/ plus the protocol edges: letter-case
(0x20) variants, EDNS sizes and versions, TC followed by a TCP retry, odd
classes and opcodes, and malformed packets that a strict parser must reject.

Each case is a dict:
  id         unique, human-readable name (printed on mismatch)
  wire       the query bytes as sent (id is fixed, so runs are repeatable)
  transport  "udp", "tcp", "udp+tcp" (UDP, then the same query over TCP),
             or "tcp-multi" (wire is a list of queries on one connection)
  policy     optional name of a documented tolerated difference (see
             docs/differential-testing.md and compare.py POLICIES)

Run it alone to print the corpus as `id transport policy hex` lines.
"""
import random
import struct
import sys

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdataclass
import dns.rdatatype

# Names of tests/diff/zones/example.test.zone and friends, grouped by the
# answer rule they exercise. Each entry is (qname, qtype[, policy]).
EXACT = [
    ("example.test.", "SOA"), ("example.test.", "NS"), ("example.test.", "A"),
    ("example.test.", "AAAA"), ("example.test.", "MX"),
    ("example.test.", "TXT"), ("example.test.", "HINFO"),
    ("example.test.", "DNSKEY"), ("example.test.", "RRSIG"),
    ("ns1.example.test.", "A"), ("ns1.example.test.", "AAAA"),
    ("mail.example.test.", "A"), ("mail.example.test.", "AAAA"),
    ("mail.example.test.", "MX"),
    ("txt.example.test.", "TXT"), ("caa.example.test.", "CAA"),
    ("ptr.example.test.", "PTR"), ("unk.example.test.", "TYPE65400"),
    ("unk.example.test.", "TYPE65401"), ("unk.example.test.", "A"),
    ("longttl.example.test.", "A"), ("zerottl.example.test.", "A"),
    ("mid.example.test.", "AAAA"),
]
CNAMES = [
    ("www.example.test.", "A"), ("www.example.test.", "AAAA"),
    ("www.example.test.", "MX"), ("www.example.test.", "CNAME"),
    ("www.example.test.", "TXT"), ("alias1.example.test.", "A"),
    ("alias1.example.test.", "CNAME"), ("alias3.example.test.", "A"),
    ("alias3.example.test.", "SOA"), ("outside.example.test.", "A"),
    ("outside.example.test.", "CNAME"), ("dangling.example.test.", "A"),
    ("loop1.example.test.", "A"), ("loop2.example.test.", "TXT"),
    ("self.example.test.", "A"), ("self.example.test.", "CNAME"),
    ("cross.example.test.", "A", "chase"),
    ("cross.example.test.", "AAAA", "chase"),
    ("cross.example.test.", "MX", "chase"),
    ("cross.example.test.", "CNAME"),
    ("crossback.example.test.", "A", "chase"),
    ("back.other.test.", "A", "chase"),
    ("chain.other.test.", "A", "chase"),
    ("c.hosts.example.test.", "A"),
]
WILDCARDS = [
    ("x.wild.example.test.", "A"), ("x.wild.example.test.", "TXT"),
    ("x.wild.example.test.", "MX"), ("x.wild.example.test.", "AAAA"),
    ("a.b.wild.example.test.", "A"), ("host.wild.example.test.", "A"),
    ("host.wild.example.test.", "TXT"), ("x.host.wild.example.test.", "A"),
    ("*.wild.example.test.", "A"), ("*.wild.example.test.", "AAAA"),
    ("wild.example.test.", "A"),
    ("y.wcname.example.test.", "A"), ("y.wcname.example.test.", "CNAME"),
    ("y.wcname.example.test.", "AAAA"), ("y.wcchain.example.test.", "A"),
    ("y.wcchain.example.test.", "TXT"), ("y.wcout.example.test.", "A"),
    ("x.rfc.example.test.", "TXT"), ("x.rfc.example.test.", "MX"),
    ("x.rfc.example.test.", "A"), ("foo.bar.rfc.example.test.", "TXT"),
    ("host1.rfc.example.test.", "A"), ("host1.rfc.example.test.", "MX"),
    ("host2.rfc.example.test.", "A"), ("host3.rfc.example.test.", "MX"),
    ("foo.host3.rfc.example.test.", "MX"),
    ("_ssh._tcp.host1.rfc.example.test.", "SRV"),
    ("_ssh._tcp.host2.rfc.example.test.", "SRV"),
    ("_ssh._tcp.host3.rfc.example.test.", "SRV"),
    ("_tcp.host1.rfc.example.test.", "SRV"),
    ("_foo._tcp.host1.rfc.example.test.", "SRV"),
    ("sub.*.rfc.example.test.", "TXT"), ("*.rfc.example.test.", "TXT"),
    ("y.*.rfc.example.test.", "TXT"), ("x.sub.*.rfc.example.test.", "TXT"),
    ("nx.child.example.test.", "TXT"), ("nx.child.example.test.", "A"),
    ("owner.example.test.", "A"), ("owner.example.test.", "TXT"),
    ("x.owner.example.test.", "TXT"), ("x.owner.example.test.", "A"),
    ("x.owner.example.test.", "MX"), ("y.x.owner.example.test.", "A"),
    ("*.owner.example.test.", "TXT"),
]
NEGATIVE = [
    ("nx.example.test.", "A"), ("deep.nx.example.test.", "TXT"),
    ("nx.other.test.", "A"), ("ent.example.test.", "A"),
    ("b.ent.example.test.", "A"), ("a.b.ent.example.test.", "TXT"),
    ("host.a.b.ent.example.test.", "A"), ("host.a.b.ent.example.test.", "MX"),
    ("x.ent.example.test.", "A"), ("x.a.b.ent.example.test.", "A"),
    ("hosts.example.test.", "SOA"), ("ns1.example.test.", "MX"),
    ("nope.foo.com.", "A"),
]
DELEGATIONS = [
    ("deleg.example.test.", "NS"), ("deleg.example.test.", "A"),
    ("deleg.example.test.", "SOA"), ("www.deleg.example.test.", "A"),
    ("ns1.deleg.example.test.", "A"), ("ns1.deleg.example.test.", "AAAA"),
    ("deleg.example.test.", "DS"), ("secure.example.test.", "DS"),
    ("secure.example.test.", "A"), ("x.secure.example.test.", "DS"),
    ("lame.example.test.", "A"), ("x.lame.example.test.", "MX"),
    ("x.subdel.rfc.example.test.", "A"), ("subdel.rfc.example.test.", "NS"),
    ("child.example.test.", "NS"), ("child.example.test.", "SOA"),
    ("child.example.test.", "DS"), ("www.child.example.test.", "A"),
    ("ns.child.example.test.", "A"),
]
ADDITIONAL = [
    ("_sip._udp.example.test.", "SRV"), ("mx2.example.test.", "MX"),
    ("other.test.", "NS"), ("other.test.", "SOA"),
    ("target.other.test.", "AAAA"),
]
ESCAPES = [
    ("weird\\.dot.example.test.", "A"), ("Abc.example.test.", "A"),
    ("abc.example.test.", "A"), ("\\065BC.example.test.", "A"),
    ("sp\\032ace.example.test.", "A"), ("b\\255in.example.test.", "TXT"),
    ("B\\255IN.example.test.", "TXT"), ("mixed.example.test.", "A"),
    ("MIXED.EXAMPLE.TEST.", "A"), ("upper.case.example.test.", "A"),
    ("case.example.test.", "A"), ("weird.example.test.", "A"),
    ("dot.weird.example.test.", "A"), ("escname.example.test.", "A"),
    ("escname.example.test.", "CNAME"), ("mxcase.example.test.", "MX"),
    ("child.example.test.", "A"), ("www.example.test.", "SOA"),
]
INCLUDES = [
    ("a.hosts.example.test.", "A"), ("b.hosts.example.test.", "AAAA"),
    ("b.hosts.example.test.", "A"), ("hosts.example.test.", "TXT"),
    ("big.example.test.", "A"),
]
SEED = [
    ("foo.com.", "A"), ("foo.com.", "SOA"), ("foo.com.", "NS"),
    ("foo.com.", "MX"), ("foo.com.", "TXT"), ("www.foo.com.", "A"),
    ("mail.bar.com.", "A"), ("vpn.baz.com.", "A"), ("webapp.baz.com.", "A"),
    ("www.bar.com.", "AAAA"), ("mail.foo.com.", "MX"),
]
LABEL63 = "a" * 63 + ".example.test."
NAME255 = ("c" * 63 + ".") * 3 + "d" * 48 + ".example.test."
LIMITS = [
    (LABEL63, "A"), (LABEL63.upper(), "A"), (LABEL63, "TXT"),
    ("x." + "b" * 63 + ".example.test.", "A"),
    ("b" * 63 + ".example.test.", "A"),
    (NAME255, "A"), ("d" * 48 + ".example.test.", "A"),
    ("x.wild." + ("e" * 63 + ".") * 3 + "example.test.", "A"),
]
REFUSED = [
    ("example.net.", "A"), ("com.", "A"), ("test.", "SOA"), (".", "NS"),
    ("nx.example.org.", "A"), ("xfoo.com.", "A"), ("example.tes.", "A"),
]
ANY = [
    ("example.test.", "ANY", "any"), ("www.example.test.", "ANY", "any"),
    ("x.wild.example.test.", "ANY", "any"), ("txt.example.test.", "ANY", "any"),
    ("nx.example.test.", "ANY"), ("b.ent.example.test.", "ANY"),
    ("deleg.example.test.", "ANY"), ("foo.com.", "ANY", "any"),
    ("unk.example.test.", "ANY", "any"),
]

QID = 0x2a2a  # fixed so that two runs send byte-identical packets


def make_query(qname, qtype, rd=False, cd=False, ad=False, edns=None,
               payload=None, ednsflags=0, options=None, rdclass="IN"):
    """A standard query as bytes. edns=None: no OPT; otherwise its version."""
    name = dns.name.from_text(qname)
    msg = dns.message.make_query(name, dns.rdatatype.from_text(qtype),
                                 dns.rdataclass.from_text(rdclass),
                                 use_edns=edns if edns is not None else False,
                                 payload=payload or 1232,
                                 options=options or [])
    msg.id = QID
    msg.flags = 0
    if rd:
        msg.flags |= dns.flags.RD
    if cd:
        msg.flags |= dns.flags.CD
    if ad:
        msg.flags |= dns.flags.AD
    if edns is not None:
        msg.ednsflags |= ednsflags
    return msg.to_wire()


def mix_case(qname, rng):
    """The same name with each letter's case flipped at random (0x20)."""
    return "".join(c.upper() if c.isalpha() and rng.random() < 0.5 else c
                   for c in qname)


def header(qid=QID, flags=0, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def question(wire_name, qtype=1, qclass=1):
    return wire_name + struct.pack("!HH", qtype, qclass)


def wire_name(text):
    return dns.name.from_text(text).to_wire()


def malformed_cases():
    """Hand-built packets a strict parser must reject (or ignore)."""
    q = question(wire_name("example.test."))
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    cases = [
        ("empty-packet", b"", "udp"),
        ("header-5-bytes", header()[:5], "udp"),
        ("header-11-bytes", header()[:11], "udp"),
        ("header-only-qd1", header(), "udp"),
        ("qdcount-0", header(qd=0), "udp"),
        ("qdcount-0-with-question", header(qd=0) + q, "udp"),
        ("qdcount-2", header(qd=2) + q + q, "udp"),
        ("qdcount-2-one-question", header(qd=2) + q, "udp"),
        ("question-cut-in-name", header() + q[:6], "udp"),
        ("question-no-type", header() + wire_name("example.test."), "udp"),
        ("question-half-class", header() + q[:-1], "udp"),
        ("label-runs-past-end", header() + b"\x3fabc", "udp"),
        ("pointer-loop-self", header() + b"\xc0\x0c" + b"\x00\x01\x00\x01",
         "udp"),
        ("pointer-loop-two", header() + b"\x01a\xc0\x0e" + b"\x00\x01\x00\x01",
         "udp"),
        ("pointer-forward", header() + b"\xc0\x12\x00\x01\x00\x01" +
         wire_name("example.test."), "udp"),
        ("pointer-into-header", header() + b"\xc0\x02\x00\x01\x00\x01", "udp"),
        ("pointer-past-end", header() + b"\xc0\xff\x00\x01\x00\x01", "udp"),
        ("label-type-0x40", header() + b"\x41abc\x00\x00\x01\x00\x01", "udp"),
        ("label-type-0x80", header() + b"\x81abc\x00\x00\x01\x00\x01", "udp"),
        ("name-over-255", header() +
         (b"\x3f" + b"a" * 63) * 4 + b"\x00\x00\x01\x00\x01", "udp"),
        ("arcount-1-missing", header(ar=1) + q, "udp"),
        ("ancount-1-in-query", header(an=1) + q, "udp"),
        ("nscount-1-garbage", header(ns=1) + q + b"\xff\xff", "udp"),
        ("trailing-garbage", header() + q + b"\xde\xad\xbe\xef", "udp"),
        ("two-opt-records", header(ar=2) + q + opt + opt, "udp"),
        ("opt-non-root-owner", header(ar=1) + q + b"\x01x\x00" +
         opt[1:], "udp", "formerr-ok"),
        ("opt-rdlen-too-long", header(ar=1) + q + b"\x00" +
         struct.pack("!HHIH", 41, 1232, 0, 8) + b"\x00\x0a", "udp"),
        ("opt-option-overruns", header(ar=1) + q + b"\x00" +
         struct.pack("!HHIH", 41, 1232, 0, 4) + b"\x00\x0a\x00\x08", "udp"),
        ("qr-set-response", header(flags=0x8000) + q, "udp"),
        ("qr-set-with-answer", header(flags=0x8400, an=0) + q, "udp"),
        ("tc-set-in-query", header(flags=0x0200) + q, "udp"),
        ("z-bit-set", header(flags=0x0040) + q, "udp"),
        ("aa-set-in-query", header(flags=0x0400) + q, "udp"),
        ("rcode-set-in-query", header(flags=0x0003) + q, "udp"),
        ("qtype-0", header() + question(wire_name("example.test."), 0),
         "udp", "formerr-ok"),
        ("qtype-opt", header() + question(wire_name("example.test."), 41),
         "udp", "formerr-ok"),
        ("tcp-qdcount-2", header(qd=2) + q + q, "tcp"),
        ("tcp-pointer-loop", header() + b"\xc0\x0c\x00\x01\x00\x01", "tcp"),
        ("tcp-qr-set", header(flags=0x8000) + q, "tcp"),
    ]
    return [{"id": "malformed/" + c[0], "wire": c[1], "transport": c[2],
             "policy": c[3] if len(c) > 3 else "malformed"} for c in cases]


def opcode_cases():
    q = question(wire_name("example.test."), 6)
    out = []
    for op, name in [(1, "IQUERY"), (2, "STATUS"), (3, "3"), (4, "NOTIFY"),
                     (5, "UPDATE"), (6, "DSO"), (15, "15")]:
        out.append({"id": "opcode/" + name,
                    "wire": header(flags=op << 11) + q, "transport": "udp",
                    "policy": "opcode"})
    return out


def class_cases():
    out = []
    for cls, pol in [("CH", None), ("HS", None), ("NONE", None),
                     ("ANY", "class-any"), ("CLASS42", None)]:
        for qname in ("example.test.", "foo.com.", "nx.example.test."):
            out.append({"id": f"class/{cls}/{qname}/A",
                        "wire": make_query(qname, "A", rdclass=cls),
                        "transport": "udp", "policy": pol})
    return out


def transfer_cases():
    out = []
    for qt in ("AXFR", "IXFR"):
        for qname in ("example.test.", "foo.com."):
            out.append({"id": f"xfr-udp/{qname}/{qt}",
                        "wire": make_query(qname, qt), "transport": "udp",
                        "policy": "xfr-udp"})
    # An IXFR carries the client's SOA in the authority section.
    msg = dns.message.make_query("example.test.", "IXFR")
    msg.id = QID
    msg.flags = 0
    soa = dns.rrset.from_text("example.test.", 0, "IN", "SOA",
                              "ns1.example.test. h.example.test. 1 1 1 1 1")
    msg.authority.append(soa)
    out.append({"id": "xfr-udp/example.test./IXFR-with-soa",
                "wire": msg.to_wire(), "transport": "udp",
                "policy": "xfr-udp"})
    return out


def edns_cases():
    out = []
    sizes = [None, 0, 100, 512, 700, 1232, 4096, 65535]
    for qname, qtype in [("big.example.test.", "A"),
                         ("bigtxt.example.test.", "TXT"),
                         ("example.test.", "MX"), ("mid.example.test.", "AAAA"),
                         ("deleg.example.test.", "NS"),
                         ("_sip._udp.example.test.", "SRV"),
                         ("manyns.example.test.", "NS"),
                         ("www.manyns.example.test.", "A"),
                         ("bigmx.example.test.", "MX"),
                         ("tobig.example.test.", "A"),
                         ("tobigtxt.example.test.", "TXT")]:
        for size in sizes:
            tag = "noedns" if size is None else f"edns{size}"
            wire = (make_query(qname, qtype) if size is None else
                    make_query(qname, qtype, edns=0, payload=size))
            out.append({"id": f"edns/{tag}/{qname}/{qtype}", "wire": wire,
                        "transport": "udp+tcp", "policy": None})
    for qname, qtype in [("example.test.", "A"), ("nx.example.test.", "A"),
                         ("example.net.", "A"), ("big.example.test.", "A")]:
        for ver in (1, 255):
            out.append({"id": f"edns/version{ver}/{qname}/{qtype}",
                        "wire": make_query(qname, qtype, edns=ver),
                        "transport": "udp", "policy": None})
    do = dns.flags.DO
    for qname, qtype in [("big.example.test.", "A"), ("bigmx.example.test.", "MX"),
                         ("manyns.example.test.", "A")]:
        for size in (512, 1232):
            out.append({"id": f"edns/do-bit-edns{size}/{qname}/{qtype}",
                        "wire": make_query(qname, qtype, edns=0, payload=size,
                                           ednsflags=do),
                        "transport": "udp+tcp", "policy": None})
    out.append({"id": "edns/do-bit/example.test./A",
                "wire": make_query("example.test.", "A", edns=0,
                                   ednsflags=do),
                "transport": "udp", "policy": None})
    out.append({"id": "edns/do-bit/nx.example.test./A",
                "wire": make_query("nx.example.test.", "A", edns=0,
                                   ednsflags=do),
                "transport": "udp", "policy": None})
    unknown = dns.edns.GenericOption(65001, b"\x01\x02\x03")
    out.append({"id": "edns/unknown-option/example.test./A",
                "wire": make_query("example.test.", "A", edns=0,
                                   options=[unknown]),
                "transport": "udp", "policy": None})
    cookie = dns.edns.GenericOption(10, bytes(range(8)))
    out.append({"id": "edns/client-cookie/www.example.test./A",
                "wire": make_query("www.example.test.", "A", edns=0,
                                   options=[cookie]),
                "transport": "udp", "policy": "cookie"})
    return out


def flag_cases():
    out = []
    for qname, qtype in [("example.test.", "A"), ("nx.example.test.", "A"),
                         ("deleg.example.test.", "A"), ("example.net.", "A"),
                         ("www.example.test.", "A")]:
        for tag, kw in [("rd", {"rd": True}), ("cd", {"cd": True}),
                        ("ad", {"ad": True}),
                        ("rd-cd-ad", {"rd": True, "cd": True, "ad": True})]:
            out.append({"id": f"flags/{tag}/{qname}/{qtype}",
                        "wire": make_query(qname, qtype, **kw),
                        "transport": "udp", "policy": None})
    return out


def case_variant_cases(pool):
    rng = random.Random(4592)
    out = []
    for entry in pool:
        qname, qtype = entry[0], entry[1]
        policy = entry[2] if len(entry) > 2 else None
        for i in range(2):
            mixed = mix_case(qname, rng)
            if mixed == qname:
                mixed = qname.upper()
            out.append({"id": f"0x20/{mixed}/{qtype}",
                        "wire": make_query(mixed, qtype), "transport": "udp",
                        "policy": policy})
    return out


def tcp_cases(pool):
    out = []
    for entry in pool:
        qname, qtype = entry[0], entry[1]
        policy = entry[2] if len(entry) > 2 else None
        out.append({"id": f"tcp/{qname}/{qtype}",
                    "wire": make_query(qname, qtype, edns=0),
                    "transport": "tcp", "policy": policy})
    multi = [make_query(n, t) for n, t in
             [("example.test.", "SOA"), ("big.example.test.", "A"),
              ("nx.example.test.", "A"), ("deleg.example.test.", "A"),
              ("bigtxt.example.test.", "TXT")]]
    out.append({"id": "tcp-multi/five-queries-one-connection", "wire": multi,
                "transport": "tcp-multi", "policy": None})
    return out


def answer_cases():
    out = []
    groups = [("exact", EXACT), ("cname", CNAMES), ("wildcard", WILDCARDS),
              ("negative", NEGATIVE), ("delegation", DELEGATIONS),
              ("additional", ADDITIONAL), ("escape", ESCAPES),
              ("include", INCLUDES), ("seed", SEED), ("refused", REFUSED),
              ("limits", LIMITS),
              ("any", ANY)]
    for group, entries in groups:
        for entry in entries:
            qname, qtype = entry[0], entry[1]
            policy = entry[2] if len(entry) > 2 else None
            out.append({"id": f"{group}/{qname}/{qtype}",
                        "wire": make_query(qname, qtype),
                        "transport": "udp+tcp", "policy": policy})
    return out


# Labels and types that random_cases() combines into names: every label of
# the test zones, some that exist nowhere, and the wildcard label itself.
RANDOM_LABELS = ["www", "x", "wild", "*", "ent", "a", "b", "host", "deleg",
                 "ns1", "child", "owner", "rfc", "host1", "host2", "_tcp",
                 "_ssh", "sub", "mail", "secure", "lame", "alias1", "cross",
                 "loop1", "wcname", "wcchain", "big", "hosts", "nx", "zz"]
RANDOM_TYPES = ["A", "AAAA", "MX", "TXT", "NS", "SOA", "CNAME", "SRV", "DS",
                "ANY", "CAA", "PTR", "TYPE65400"]
RANDOM_ZONES = ["example.test.", "other.test.", "child.example.test."]
CHASED = ("cross.", "back.other", "chain.other", "crossback.")


def random_cases(count=300):
    """Names built at random from the zones' labels (1 to 3 of them, random
    letter case) under a random served zone: reaches combinations nobody
    thought to list."""
    rng = random.Random(1034)
    out = []
    seen = set()
    while len(out) < count:
        labels = [rng.choice(RANDOM_LABELS) for _ in range(rng.randint(1, 3))]
        qname = mix_case(".".join(labels) + "." + rng.choice(RANDOM_ZONES), rng)
        qtype = rng.choice(RANDOM_TYPES)
        if (qname.lower(), qtype) in seen:
            continue
        seen.add((qname.lower(), qtype))
        policy = ("any" if qtype == "ANY" else
                  "chase" if qname.lower().startswith(CHASED) else None)
        out.append({"id": f"random/{qname}/{qtype}",
                    "wire": make_query(qname, qtype, edns=0 if rng.random() < 0.5 else None),
                    "transport": "udp", "policy": policy})
    return out


def build_corpus():
    """Every case, in a stable order, with unique ids."""
    variant_pool = (EXACT[:8] + CNAMES[:8] + CNAMES[16:19] + WILDCARDS[:12] +
                    NEGATIVE[:6] + DELEGATIONS[:8] + ESCAPES[:6] + SEED[:4] +
                    REFUSED[:3] + ANY[:2])
    tcp_pool = [("example.test.", "SOA"), ("nx.example.test.", "A"),
                ("b.ent.example.test.", "A"), ("deleg.example.test.", "A"),
                ("x.wild.example.test.", "TXT"), ("loop1.example.test.", "A"),
                ("example.net.", "A"), ("bigtxt.example.test.", "TXT"),
                ("cross.example.test.", "A", "chase")]
    corpus = (answer_cases() + case_variant_cases(variant_pool) +
              edns_cases() + flag_cases() + tcp_cases(tcp_pool) +
              class_cases() + opcode_cases() + transfer_cases() +
              malformed_cases() + random_cases())
    seen = set()
    for case in corpus:
        assert case["id"] not in seen, "duplicate case id " + case["id"]
        seen.add(case["id"])
    return corpus


def main():
    corpus = build_corpus()
    for case in corpus:
        wires = case["wire"] if isinstance(case["wire"], list) else [case["wire"]]
        print(case["id"], case["transport"], case["policy"] or "-",
              ",".join(w.hex() for w in wires))
    print(f"# {len(corpus)} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
