#!/usr/bin/python3
"""Differential test: send the corpus to a reference server (Knot DNS) and a
candidate (dns-raft) and compare their answers.

  compare.py --ref 127.0.0.1:PORT --cand 127.0.0.1:PORT [--only SUBSTR] [-v]

For every case of gen_corpus.build_corpus() both servers get the same bytes
over the same transport. Compared strictly: whether a response came at all,
the id, opcode, rcode (extended rcode included), the flags QR AA TC RD RA Z
AD CD, the question (exact letter case), the OPT record (version, payload,
DO, option codes), and the answer and authority sections as RRsets (owner
case-insensitive, order-insensitive, TTLs equal, no duplicate records). The
additional section is compared under the policy of
docs/differential-testing.md: the candidate must carry every RRset the
reference carries and nothing that is not real data (checked by asking the
reference). A truncated (TC) answer must agree on TC; what it carries must be
complete RRsets of the full (TCP) answer. Tolerated differences are the named
policies in POLICIES below, each documented in docs/differential-testing.md.

Prints a diff per mismatching case and closes with `diff: N passed, M
failed`; exit status 1 on any mismatch.
"""
import argparse
import os
import socket
import struct
import sys

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_corpus  # noqa: E402

FLAG_BITS = [("QR", 0x8000), ("AA", 0x0400), ("TC", 0x0200), ("RD", 0x0100),
             ("RA", 0x0080), ("Z", 0x0040), ("AD", 0x0020), ("CD", 0x0010)]
COOKIE = 10
EDE = 15
TIMEOUT = 2.0          # an answer is expected
SILENCE_TIMEOUT = 0.5  # the reference may stay silent (malformed input)


# ---------------------------------------------------------------- transport

def parse_addr(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def send_udp(addr, wire, timeout):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(wire, addr)
        try:
            data, _ = s.recvfrom(65535)
            return data
        except socket.timeout:
            return None


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def send_tcp(addr, wires, timeout):
    """Sends every query on one connection; returns one response per query
    (None where the server closed or stayed silent)."""
    out = []
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(b"".join(struct.pack("!H", len(w)) + w for w in wires))
        for _ in wires:
            try:
                head = recv_exact(s, 2)
                body = recv_exact(s, struct.unpack("!H", head)[0]) if head else None
            except (socket.timeout, ConnectionError):
                body = None
            out.append(body)
            if body is None:
                break
    return out + [None] * (len(wires) - len(out))


# ---------------------------------------------------------------- decoding

class Decoded:
    """The comparable view of one response."""

    def __init__(self, wire):
        self.wire = wire
        self.error = None
        self.msg = None
        if wire is None:
            return
        # dnspython rejects opcodes it has no name for (3, 6-15); the
        # opcode is compared from the raw header, so decode the rest with
        # the opcode bits cleared.
        self.opcode = (wire[2] >> 3) & 0xF if len(wire) > 2 else None
        plain = wire[:2] + bytes([wire[2] & 0x87]) + wire[3:] if len(wire) > 2 else wire
        try:
            self.msg = dns.message.from_wire(plain, ignore_trailing=False)
        except Exception as exc:  # any decoding failure is a finding
            self.error = f"{type(exc).__name__}: {exc}"

    @property
    def silent(self):
        return self.wire is None

    def header_flags(self):
        bits = struct.unpack("!H", self.wire[2:4])[0]
        return {name for name, mask in FLAG_BITS if bits & mask}

    def counts(self):
        return struct.unpack("!HHHH", self.wire[4:12])

    def rcode(self):
        return dns.rcode.to_text(self.msg.rcode())

    def question(self):
        return [(q.name.to_text(), dns.rdatatype.to_text(q.rdtype), q.rdclass)
                for q in self.msg.question]

    def edns(self):
        m = self.msg
        if m.edns < 0:
            return None
        codes = sorted((int(o.otype), o.to_wire().hex()) for o in m.options)
        return {"version": m.edns, "payload": m.payload,
                "do": bool(m.ednsflags & dns.flags.DO), "options": codes}

    def section(self, name):
        return rrset_map(getattr(self.msg, name))


def rrset_key(rrset):
    return (rrset.name.canonicalize().to_text(), rrset.rdclass, rrset.rdtype)


def rrset_value(rrset):
    return (rrset.ttl, frozenset(rd.to_digestable() for rd in rrset))


def rrset_map(rrsets):
    return {rrset_key(r): (rrset_value(r), r) for r in rrsets
            if r.rdtype != dns.rdatatype.OPT}


def rr_count(rrsets):
    return sum(len(r) for r in rrsets if r.rdtype != dns.rdatatype.OPT)


def show(rrset):
    return "; ".join(line for line in rrset.to_text().splitlines())


# ---------------------------------------------------------------- comparison

class Comparison:
    def __init__(self, ref_name, cand_name, ref_addr):
        self.ref_name, self.cand_name, self.ref_addr = ref_name, cand_name, ref_addr
        self.truth_cache = {}
        self.tolerated = {}  # policy -> results that passed only under it

    # The reference's complete answer for (name, type), used to check that
    # the candidate's extra data is real and to build chase expectations.
    def truth(self, name, rdtype):
        key = (name.canonicalize().to_text(), rdtype)
        if key not in self.truth_cache:
            q = dns.message.make_query(name, rdtype)
            q.flags = 0
            resp = send_tcp(self.ref_addr, [q.to_wire()], TIMEOUT)[0]
            self.truth_cache[key] = dns.message.from_wire(resp) if resp else None
        return self.truth_cache[key]

    def is_real_data(self, rrset):
        resp = self.truth(rrset.name, rrset.rdtype)
        if resp is None:
            return False
        want = (rrset_key(rrset), rrset_value(rrset))
        for sec in (resp.answer, resp.additional):
            for r in sec:
                if (rrset_key(r), rrset_value(r)) == want:
                    return True
        return False


def diff_sections(label, ref_map, cand_map, diffs):
    for key in sorted(set(ref_map) | set(cand_map), key=str):
        r, c = ref_map.get(key), cand_map.get(key)
        if r and c and r[0] == c[0]:
            continue
        if r and c:
            diffs.append(f"{label}: differs\n      ref:  {show(r[1])}\n"
                         f"      cand: {show(c[1])}")
        elif r:
            diffs.append(f"{label}: only in ref:  {show(r[1])}")
        else:
            diffs.append(f"{label}: only in cand: {show(c[1])}")


def compare_header(ref, cand, query_wire, diffs, check_question=True):
    if cand.wire[:2] != query_wire[:2]:
        diffs.append(f"id: cand {cand.wire[:2].hex()} != query {query_wire[:2].hex()}")
    if ref.opcode != cand.opcode:
        diffs.append(f"opcode: ref={ref.opcode} cand={cand.opcode}")
    if ref.rcode() != cand.rcode():
        diffs.append(f"rcode: ref={ref.rcode()} cand={cand.rcode()}")
    rf, cf = ref.header_flags(), cand.header_flags()
    if rf != cf:
        diffs.append(f"flags: ref={' '.join(sorted(rf))} cand={' '.join(sorted(cf))}")
    if check_question and ref.question() != cand.question():
        diffs.append(f"question: ref={ref.question()} cand={cand.question()}")
    re_, ce = ref.edns(), cand.edns()
    if re_ and ce:
        # A server COOKIE only the candidate sends, and an Extended DNS
        # Error only one side sends, are tolerated (see the docs' table).
        def has(opts, code):
            return any(o[0] == code for o in opts)
        if not has(re_["options"], COOKIE):
            ce["options"] = [o for o in ce["options"] if o[0] != COOKIE]
        if has(re_["options"], EDE) != has(ce["options"], EDE):
            re_["options"] = [o for o in re_["options"] if o[0] != EDE]
            ce["options"] = [o for o in ce["options"] if o[0] != EDE]
    if re_ != ce:
        diffs.append(f"edns: ref={re_} cand={ce}")


def compare_answer_sections(ref, cand, diffs):
    for sec in ("answer", "authority"):
        diff_sections(sec, ref.section(sec), cand.section(sec), diffs)
        wire_count = cand.counts()[1 if sec == "answer" else 2]
        if wire_count != rr_count(getattr(cand.msg, sec)):
            diffs.append(f"{sec}: cand has {wire_count} records, "
                         f"{rr_count(getattr(cand.msg, sec))} distinct (duplicates)")


def compare_additional(cmp, ref, cand, diffs):
    ref_add, cand_add = ref.section("additional"), cand.section("additional")
    for key, (val, rrset) in ref_add.items():
        if cand_add.get(key, (None,))[0] != val:
            diffs.append(f"additional: cand lacks {show(rrset)}")
    for key, (val, rrset) in cand_add.items():
        if key in ref_add and ref_add[key][0] == val:
            continue
        if not cmp.is_real_data(rrset):
            diffs.append(f"additional: cand carries data the zones do not hold: {show(rrset)}")


def udp_limit(query_wire):
    try:
        q = dns.message.from_wire(query_wire)
    except Exception:
        return 512
    return 512 if q.edns < 0 else max(512, q.payload)


def compare_truncated(cmp, ref, cand, query_wire, diffs):
    """Both set TC: what the candidate carries must be whole RRsets of the
    full answer (fetched over TCP from the reference)."""
    full = send_tcp(cmp.ref_addr, [query_wire], TIMEOUT)[0]
    full_msg = Decoded(full)
    for sec in ("answer", "authority"):
        full_map = full_msg.section(sec) if full_msg.msg else {}
        for key, (val, rrset) in cand.section(sec).items():
            if full_map.get(key, (None,))[0] != val:
                diffs.append(f"{sec} (TC): cand carries {show(rrset)} which is "
                             f"not a whole RRset of the full answer")


def compare_full(cmp, ref, cand, query_wire, diffs, transport):
    compare_header(ref, cand, query_wire, diffs)
    if transport == "udp" and len(cand.wire) > udp_limit(query_wire):
        diffs.append(f"size: cand sent {len(cand.wire)} bytes over UDP, "
                     f"limit {udp_limit(query_wire)}")
    if "TC" in ref.header_flags() and "TC" in cand.header_flags():
        compare_truncated(cmp, ref, cand, query_wire, diffs)
        return
    compare_answer_sections(ref, cand, diffs)
    compare_additional(cmp, ref, cand, diffs)


# ---------------------------------------------------------------- policies
# Each returns the list of differences that remain once the tolerance is
# applied; an empty list means the candidate is acceptable. They are tried
# only after the strict comparison found differences.

def expected_by_chasing(cmp, query):
    """The reference's answer with the CNAME chain continued through the
    other served zones (Knot stops a chain at its zone's edge)."""
    q = query.question[0]
    resp = cmp.truth(q.name, q.rdtype)
    if resp is None:
        return None
    answer, authority = list(resp.answer), list(resp.authority)
    additional, rcode = list(resp.additional), resp.rcode()
    name = q.name
    for _ in range(16):
        owned = [r for r in answer if r.name == name]
        cname = [r for r in owned if r.rdtype == dns.rdatatype.CNAME]
        if not cname:
            break
        if len(owned) > 1 and q.rdtype != dns.rdatatype.CNAME:
            name = cname[0][0].target
            continue
        target = cname[0][0].target
        if any(r.name == target for r in answer):
            name = target
            continue
        nxt = cmp.truth(target, q.rdtype)
        if nxt is None or nxt.rcode() == dns.rcode.REFUSED:
            break
        answer += nxt.answer
        authority, additional, rcode = list(nxt.authority), additional + list(nxt.additional), nxt.rcode()
        name = target
    return answer, authority, rcode


def policy_chase(cmp, ref, cand, query_wire, diffs):
    if cand.msg is None or ref.msg is None:
        return diffs
    query = dns.message.from_wire(query_wire)
    exp = expected_by_chasing(cmp, query)
    if exp is None:
        return diffs
    answer, authority, rcode = exp
    left = []
    if dns.rcode.to_text(rcode) != cand.rcode():
        left.append(f"rcode (chased): expected={dns.rcode.to_text(rcode)} cand={cand.rcode()}")
    diff_sections("answer (chased)", rrset_map(answer), cand.section("answer"), left)
    diff_sections("authority (chased)", rrset_map(authority), cand.section("authority"), left)
    hdr = []
    compare_header(ref, cand, query_wire, hdr)
    left += [d for d in hdr if not d.startswith("rcode")]
    for key, (val, rrset) in cand.section("additional").items():
        if not cmp.is_real_data(rrset):
            left.append(f"additional: cand carries data the zones do not hold: {show(rrset)}")
    return left


def policy_any(cmp, ref, cand, query_wire, diffs):
    """RFC 8482: one RRset of the name (any one) or a synthesized HINFO."""
    if cand.msg is None or ref.msg is None:
        return diffs
    left = []
    hdr = []
    compare_header(ref, cand, query_wire, hdr)
    left += hdr
    diff_sections("authority", ref.section("authority"), cand.section("authority"), left)
    ans = cand.msg.answer
    if len(ans) != 1:
        left.append(f"answer: ANY must carry exactly one RRset, cand has {len(ans)}")
        return left
    rrset = ans[0]
    qname = cand.msg.question[0].name if cand.msg.question else None
    if rrset.name != qname:
        left.append(f"answer: ANY RRset owner {rrset.name} is not the qname")
    synthesized = (rrset.rdtype == dns.rdatatype.HINFO and len(rrset) == 1 and
                   rrset[0].cpu == b"RFC8482")
    if not synthesized and not cmp.is_real_data(rrset):
        left.append(f"answer: ANY RRset is not real data: {show(rrset)}")
    return left


def silent_or_formerr_or_notimp(ref, cand, query_wire, allowed):
    if cand.silent:
        return []
    if cand.error:
        return [f"cand response does not decode: {cand.error}"]
    left = []
    if cand.rcode() not in allowed:
        left.append(f"rcode: cand={cand.rcode()} not in {sorted(allowed)}")
    if "QR" not in cand.header_flags():
        left.append("flags: cand response without QR")
    if cand.msg.answer or cand.msg.authority:
        left.append("cand error response carries answer/authority data")
    if cand.wire[:2] != query_wire[:2]:
        left.append("id: cand does not echo the query id")
    return left


def policy_opcode(cmp, ref, cand, query_wire, diffs):
    """Our server implements QUERY and UPDATE: another opcode gets NOTIMP.
    An UPDATE in the corpus is unsigned and no ACL allows it: REFUSED (RFC
    2136 §3.3; Knot answers NOTAUTH)."""
    update = (query_wire[2] >> 3) & 0xF == 5
    want = {"REFUSED"} if update else {"NOTIMP"}
    left = silent_or_formerr_or_notimp(ref, cand, query_wire, want)
    if cand.silent:
        left.append(f"cand stayed silent; {sorted(want)[0]} expected")
    elif cand.opcode != (query_wire[2] >> 3) & 0xF:
        left.append("opcode: cand does not echo the query opcode")
    return left


def policy_class_any(cmp, ref, cand, query_wire, diffs):
    """Knot answers QCLASS ANY as IN; ours refuses every class but IN."""
    left = silent_or_formerr_or_notimp(ref, cand, query_wire, {"REFUSED"})
    if cand.silent:
        left.append("cand stayed silent; REFUSED expected")
    return left


def policy_xfr_udp(cmp, ref, cand, query_wire, diffs):
    """Transfers over UDP: AXFR NOTIMP; IXFR REFUSED without a `transfer`
    ACL rule (FORMERR without its SOA) (Knot: NOTIMP/NOTAUTH)."""
    left = silent_or_formerr_or_notimp(ref, cand, query_wire, {"FORMERR", "NOTIMP", "REFUSED"})
    if cand.silent:
        left.append("cand stayed silent; FORMERR, NOTIMP or REFUSED expected")
    return left


def policy_malformed(cmp, ref, cand, query_wire, diffs):
    """Malformed queries: same rcode as the reference, question optional
    (a question that does not parse cannot be echoed); silence where the
    reference is silent may be replaced by FORMERR, except for responses
    (QR=1) and packets shorter than a header, which must get nothing."""
    must_be_silent = len(query_wire) < 12 or query_wire[2] & 0x80
    if must_be_silent:
        return [] if cand.silent else ["cand answered a packet that must be ignored"]
    if ref.silent:
        return silent_or_formerr_or_notimp(ref, cand, query_wire, {"FORMERR"})
    if cand.silent:
        return [f"cand stayed silent; ref answered {ref.rcode()}"]
    if cand.error:
        return [f"cand response does not decode: {cand.error}"]
    left = []
    compare_header(ref, cand, query_wire, left, check_question=False)
    cq = cand.question()
    if cq and cq != ref.question():
        left.append(f"question: ref={ref.question()} cand={cq}")
    compare_answer_sections(ref, cand, left)
    return left


def policy_formerr_ok(cmp, ref, cand, query_wire, diffs):
    """A query that breaks a MUST of the protocol (an OPT owner other than
    the root, a meta qtype such as OPT or 0) that Knot answers anyway may
    be rejected by a stricter parser with FORMERR."""
    if cand.msg is not None and cand.rcode() == "FORMERR":
        return silent_or_formerr_or_notimp(ref, cand, query_wire, {"FORMERR"})
    return diffs


def policy_cookie(cmp, ref, cand, query_wire, diffs):
    return diffs  # the COOKIE option is already ignored by compare_header


POLICIES = {
    "chase": policy_chase, "any": policy_any, "opcode": policy_opcode,
    "class-any": policy_class_any, "xfr-udp": policy_xfr_udp,
    "malformed": policy_malformed, "formerr-ok": policy_formerr_ok,
    "cookie": policy_cookie,
}


# ---------------------------------------------------------------- driver

def compare_one(cmp, case, query_wire, ref_wire, cand_wire, transport):
    ref, cand = Decoded(ref_wire), Decoded(cand_wire)
    diffs = []
    if ref.silent or cand.silent:
        if ref.silent != cand.silent:
            diffs.append(f"response: ref {'silent' if ref.silent else 'answered'}, "
                         f"cand {'silent' if cand.silent else 'answered'}")
    elif ref.error or cand.error:
        if ref.error:
            diffs.append(f"ref response does not decode: {ref.error}")
        if cand.error:
            diffs.append(f"cand response does not decode: {cand.error}")
    else:
        compare_full(cmp, ref, cand, query_wire, diffs, transport)
    if diffs and case["policy"] in POLICIES:
        diffs = POLICIES[case["policy"]](cmp, ref, cand, query_wire, diffs)
        if not diffs:
            cmp.tolerated[case["policy"]] = cmp.tolerated.get(case["policy"], 0) + 1
    return diffs


def run_case(cmp, case, ref_addr, cand_addr):
    """Returns a list of (label, diffs) results for one corpus case."""
    timeout = SILENCE_TIMEOUT if case["policy"] == "malformed" else TIMEOUT
    t = case["transport"]
    results = []
    if t in ("udp", "udp+tcp"):
        w = case["wire"]
        r, c = send_udp(ref_addr, w, timeout), send_udp(cand_addr, w, timeout)
        # A datagram lost on a busy machine must not fail the run: where an
        # answer is expected, silence gets one more try.
        if case["policy"] != "malformed":
            r = r if r is not None else send_udp(ref_addr, w, timeout)
            c = c if c is not None else send_udp(cand_addr, w, timeout)
        results.append((case["id"] + " [udp]", compare_one(cmp, case, w, r, c, "udp")))
    if t in ("tcp", "udp+tcp"):
        w = case["wire"]
        r, c = send_tcp(ref_addr, [w], timeout)[0], send_tcp(cand_addr, [w], timeout)[0]
        results.append((case["id"] + " [tcp]", compare_one(cmp, case, w, r, c, "tcp")))
    if t == "tcp-multi":
        ws = case["wire"]
        rs, cs = send_tcp(ref_addr, ws, timeout), send_tcp(cand_addr, ws, timeout)
        for i, (w, r, c) in enumerate(zip(ws, rs, cs)):
            results.append((f"{case['id']} [tcp #{i + 1}]",
                            compare_one(cmp, case, w, r, c, "tcp")))
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", required=True, help="reference server HOST:PORT (Knot)")
    ap.add_argument("--cand", required=True, help="candidate server HOST:PORT (dns-raft)")
    ap.add_argument("--ref-name", default="knot")
    ap.add_argument("--cand-name", default="dns-raft")
    ap.add_argument("--only", default="", help="run only cases whose id contains this")
    ap.add_argument("-v", "--verbose", action="store_true", help="print passing cases too")
    args = ap.parse_args()
    ref_addr, cand_addr = parse_addr(args.ref), parse_addr(args.cand)
    cmp = Comparison(args.ref_name, args.cand_name, ref_addr)
    passed = failed = 0
    for case in gen_corpus.build_corpus():
        if args.only not in case["id"]:
            continue
        try:
            results = run_case(cmp, case, ref_addr, cand_addr)
        except (OSError, dns.exception.DNSException) as exc:
            results = [(case["id"], [f"transport error: {exc}"])]
        for label, diffs in results:
            if diffs:
                failed += 1
                print(f"FAIL {label}  (policy: {case['policy'] or '-'}; ref={args.ref_name}, cand={args.cand_name})")
                for d in diffs:
                    print("    " + d)
            else:
                passed += 1
                if args.verbose:
                    print(f"ok   {label}")
    if cmp.tolerated:
        print("passed only under a tolerance policy: " +
              ", ".join(f"{k} {v}" for k, v in sorted(cmp.tolerated.items())))
    print(f"diff: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
