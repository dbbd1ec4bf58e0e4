#!/usr/bin/python3
"""Self-test of compare.py's comparison rules and tolerance policies, with
hand-built responses and no server: each rule must accept what it should
and reject what it should. Run by tests/integration/knot_diff.sh first.

  /usr/bin/python3 tests/diff/test_compare.py
"""
import os
import sys
import unittest

import dns.flags
import dns.message
import dns.rcode
import dns.rrset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import gen_corpus  # noqa: E402


def query(name, qtype, **kw):
    return gen_corpus.make_query(name, qtype, **kw)


def response(qwire, answer=(), authority=(), additional=(), rcode=0,
             aa=True, tc=False):
    q = dns.message.from_wire(qwire)
    r = dns.message.make_response(q)
    if aa:
        r.flags |= dns.flags.AA
    if tc:
        r.flags |= dns.flags.TC
    r.set_rcode(rcode)
    for sec, rrs in ((r.answer, answer), (r.authority, authority),
                     (r.additional, additional)):
        for text in rrs:
            sec.append(dns.rrset.from_text(*text.split(None, 4)))
    return r.to_wire()


class FakeComparison(compare.Comparison):
    """A Comparison whose reference 'truth' comes from a dict, not a server."""

    def __init__(self, truth):
        super().__init__("ref", "cand", None)
        self.canned = truth

    def truth(self, name, rdtype):
        key = (name.canonicalize().to_text(), rdtype)
        return self.canned.get(key)


def case(policy=None):
    return {"id": "t", "policy": policy, "transport": "udp"}


class StrictRules(unittest.TestCase):
    def setUp(self):
        self.cmp = FakeComparison({})
        self.q = query("www.example.test.", "A")

    def diffs(self, ref, cand, policy=None):
        return compare.compare_one(self.cmp, case(policy), self.q, ref, cand, "udp")

    def test_identical_responses_pass(self):
        r = response(self.q, ["www.example.test. 60 IN A 192.0.2.1"])
        self.assertEqual(self.diffs(r, r), [])

    def test_owner_case_and_order_do_not_matter(self):
        r = response(self.q, ["www.example.test. 60 IN A 192.0.2.1",
                              "www.example.test. 60 IN A 192.0.2.2"])
        c = response(self.q, ["WWW.Example.TEST. 60 IN A 192.0.2.2",
                              "www.example.test. 60 IN A 192.0.2.1"])
        self.assertEqual(self.diffs(r, c), [])

    def test_ttl_difference_fails(self):
        r = response(self.q, ["www.example.test. 60 IN A 192.0.2.1"])
        c = response(self.q, ["www.example.test. 61 IN A 192.0.2.1"])
        self.assertTrue(any("answer" in d for d in self.diffs(r, c)))

    def test_missing_authority_fails(self):
        soa = "example.test. 300 IN SOA ns. h. 1 2 3 4 300"
        r = response(self.q, authority=[soa], rcode=dns.rcode.NXDOMAIN)
        c = response(self.q, rcode=dns.rcode.NXDOMAIN)
        self.assertTrue(any("authority" in d for d in self.diffs(r, c)))

    def test_flag_and_rcode_differences_fail(self):
        r = response(self.q, aa=True)
        c = response(self.q, aa=False, rcode=dns.rcode.SERVFAIL)
        d = self.diffs(r, c)
        self.assertTrue(any(x.startswith("flags") for x in d))
        self.assertTrue(any(x.startswith("rcode") for x in d))

    def test_question_case_must_be_echoed(self):
        r = response(self.q)
        c = response(query("WWW.example.test.", "A"))
        self.assertTrue(any(x.startswith("question") for x in self.diffs(r, c)))

    def test_silence_against_answer_fails(self):
        r = response(self.q)
        self.assertTrue(self.diffs(r, None))
        self.assertTrue(self.diffs(None, r))
        self.assertEqual(self.diffs(None, None), [])

    def test_missing_glue_fails_and_invented_additional_fails(self):
        glue = "ns1.deleg.example.test. 3600 IN A 192.0.2.53"
        ns = "deleg.example.test. 3600 IN NS ns1.deleg.example.test."
        r = response(self.q, authority=[ns], additional=[glue], aa=False)
        c = response(self.q, authority=[ns], aa=False)
        self.assertTrue(any("lacks" in d for d in self.diffs(r, c)))
        bogus = "ns1.deleg.example.test. 3600 IN AAAA 2001:db8::99"
        c2 = response(self.q, authority=[ns], additional=[glue, bogus], aa=False)
        self.assertTrue(any("do not hold" in d for d in self.diffs(r, c2)))

    def test_udp_size_limit(self):
        big = [f"www.example.test. 60 IN A 192.0.2.{i}" for i in range(1, 60)]
        r = response(self.q, big)
        self.assertTrue(any(d.startswith("size") for d in self.diffs(r, r)))

    def test_truncated_partial_rrset_fails(self):
        # both TC; the candidate carries one record of a larger RRset
        full = response(self.q, [f"www.example.test. 60 IN A 192.0.2.{i}" for i in (1, 2)])
        self.cmp.ref_addr = None
        r = response(self.q, tc=True)
        c = response(self.q, ["www.example.test. 60 IN A 192.0.2.1"], tc=True)
        orig = compare.send_tcp
        compare.send_tcp = lambda addr, wires, timeout: [full]
        try:
            self.assertTrue(any("whole RRset" in d for d in self.diffs(r, c)))
            c_ok = response(self.q, tc=True)
            self.assertEqual(self.diffs(r, c_ok), [])
        finally:
            compare.send_tcp = orig


class Policies(unittest.TestCase):
    def test_malformed_formerr_allowed_where_reference_is_silent(self):
        cmp = FakeComparison({})
        q = gen_corpus.header(qd=2) + gen_corpus.question(gen_corpus.wire_name("a.test."))
        formerr = q[:2] + b"\x80\x01" + b"\x00" * 8
        self.assertEqual(compare.compare_one(cmp, case("malformed"), q, None, formerr, "udp"), [])
        noerror = q[:2] + b"\x80\x00" + b"\x00" * 8
        self.assertTrue(compare.compare_one(cmp, case("malformed"), q, None, noerror, "udp"))

    def test_response_to_a_response_is_never_allowed(self):
        cmp = FakeComparison({})
        q = gen_corpus.header(flags=0x8000) + gen_corpus.question(gen_corpus.wire_name("a.test."))
        formerr = q[:2] + b"\x80\x01" + b"\x00" * 8
        self.assertTrue(compare.compare_one(cmp, case("malformed"), q, None, formerr, "udp"))

    def test_opcode_notimp_allowed_other_rcode_not(self):
        cmp = FakeComparison({})
        for opcode, good, bad in ((4, 0x04, 0x05), (5, 0x05, 0x04)):  # NOTIFY, UPDATE
            q = gen_corpus.header(flags=opcode << 11) + gen_corpus.question(
                gen_corpus.wire_name("a.test."), 6)
            ref = q[:2] + bytes([0x80 | (opcode << 3), 0x09]) + q[4:]
            ok = q[:2] + bytes([0x80 | (opcode << 3), good]) + q[4:]
            wrong = q[:2] + bytes([0x80 | (opcode << 3), bad]) + q[4:]
            self.assertEqual(compare.compare_one(cmp, case("opcode"), q, ref, ok, "udp"), [])
            self.assertTrue(compare.compare_one(cmp, case("opcode"), q, ref, wrong, "udp"))

    def test_chase_accepts_the_continued_chain_only(self):
        q = query("cross.example.test.", "A")
        cname = "cross.example.test. 3600 IN CNAME target.other.test."
        target = "target.other.test. 1800 IN A 192.0.2.153"
        first = dns.message.from_wire(response(q, [cname]))
        tq = query("target.other.test.", "A")
        second = dns.message.from_wire(response(tq, [target]))
        cmp = FakeComparison({("cross.example.test.", 1): first,
                              ("target.other.test.", 1): second})
        ref = response(q, [cname])
        chased = response(q, [cname, target])
        self.assertEqual(compare.compare_one(cmp, case("chase"), q, ref, chased, "udp"), [])
        wrong = response(q, [cname, "target.other.test. 1800 IN A 192.0.2.1"])
        self.assertTrue(compare.compare_one(cmp, case("chase"), q, ref, wrong, "udp"))

    def test_any_accepts_one_real_rrset_only(self):
        q = query("example.test.", "ANY")
        a = "example.test. 3600 IN A 192.0.2.10"
        mx = "example.test. 3600 IN MX 10 mail.example.test."
        mxq = query("example.test.", "MX")
        cmp = FakeComparison({("example.test.", 15): dns.message.from_wire(response(mxq, [mx]))})
        ref = response(q, [a])
        self.assertEqual(compare.compare_one(cmp, case("any"), q, ref, response(q, [mx]), "udp"), [])
        self.assertTrue(compare.compare_one(cmp, case("any"), q, ref, response(q, [a, mx]), "udp"))
        fake = "example.test. 3600 IN MX 20 other.example.test."
        self.assertTrue(compare.compare_one(cmp, case("any"), q, ref, response(q, [fake]), "udp"))


class Corpus(unittest.TestCase):
    def test_corpus_is_large_unique_and_policies_exist(self):
        corpus = gen_corpus.build_corpus()
        self.assertGreaterEqual(len(corpus), 200)
        for c in corpus:
            self.assertTrue(c["policy"] is None or c["policy"] in compare.POLICIES, c["id"])

    def test_corpus_is_deterministic(self):
        a = [(c["id"], c["wire"]) for c in gen_corpus.build_corpus()]
        b = [(c["id"], c["wire"]) for c in gen_corpus.build_corpus()]
        self.assertEqual(a, b)


if __name__ == "__main__":
    unittest.main()
