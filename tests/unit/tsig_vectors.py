#!/usr/bin/python3
"""tests/unit/tsig_vectors.py — TSIG test vectors made by dnspython, an
implementation independent of ours, for tests/unit/test_dns_tsig.c.

    /usr/bin/python3 tests/unit/tsig_vectors.py > tests/unit/tsig_vectors.h
        writes the C header the unit test includes (commit the result);
    /usr/bin/python3 tests/unit/tsig_vectors.py --with-clients > tests/unit/tsig_vectors.h
        the same, plus UPDATE requests signed by the real clients, BIND's
        `nsupdate -k` and Knot's `knsupdate -y`, captured on a loopback UDP
        socket (their time and ID change on every run: this mode is how
        the committed header was made);
    /usr/bin/python3 tests/unit/tsig_vectors.py --check DIR
        verifies with dnspython the messages our code signed, which the unit
        test writes to DIR when run with TSIG_DUMP_DIR=DIR.

Every vector uses a fixed clock (time.time is replaced), so the output is
the same on every run. The vectors:

  update_256     an UPDATE for example.com signed with update-key
                 (hmac-sha256) at T
  query_512      a query signed with "XFR.Key.example." (hmac-sha512, the
                 mixed case checks that the MAC uses the lowercase name)
  resp_256_body  the unsigned response to update_256, and
  resp_256       the same signed by dnspython at T+5 (request MAC
                 included): our tsig_sign_response must give these octets
  axfr_req       an AXFR request signed with xfr.key.example at T
  axfr_body_1..3 the three unsigned messages of its answer, and
  axfr_1..3      the same signed by dnspython as one multi-message stream
                 (RFC 8945 §5.3.1) at T+1, T+2, T+3: our stream signer must
                 give these octets, and our stream verifier accept them.
  axfr_gap_1..3  the same stream with the second message unsigned.
  nsupdate       (--with-clients) an UPDATE signed by BIND's nsupdate -k
                 with update-key, as captured
  knsupdate      (--with-clients) an UPDATE signed by Knot's knsupdate with
                 xfr.key.example (hmac-sha512), as captured
"""
import base64
import os
import sys
import time

import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.update

T = 1700000000
SECRET_256 = bytes(range(32))
SECRET_512 = bytes(range(1, 65))
KEY_256 = dns.tsig.Key("update-key.", SECRET_256, dns.tsig.HMAC_SHA256)
KEY_512 = dns.tsig.Key("xfr.key.example.", SECRET_512, dns.tsig.HMAC_SHA512)
KEYRING = {KEY_256.name: KEY_256, KEY_512.name: KEY_512}

KEY_FILE = (
    '# made by tests/unit/tsig_vectors.py\n'
    'key "update-key" {\n'
    '\talgorithm hmac-sha256;\n'
    '\tsecret "%s";\n'
    '};\n'
    'key "xfr.key.example." {\n'
    '\talgorithm hmac-sha512;\n'
    '\tsecret "%s";\n'
    '};\n'
) % (base64.b64encode(SECRET_256).decode(), base64.b64encode(SECRET_512).decode())


REAL_TIME = time.time


def at(t):
    """Runs dnspython's signing with the clock at t."""
    time.time = lambda: float(t)


def make_vectors():
    v = {}
    at(T)
    upd = dns.update.UpdateMessage("example.com.", id=0x1234)
    upd.use_tsig(KEY_256)
    upd.add("www", 300, "A", "192.0.2.7")
    upd.delete("old", "TXT")
    v["update_256"] = upd.to_wire()

    q = dns.message.make_query("www.example.com.", "A", use_edns=0)
    q.id = 0x4321
    q.use_tsig(dns.tsig.Key("XFR.Key.example.", SECRET_512, dns.tsig.HMAC_SHA512))
    v["query_512"] = q.to_wire()

    req = dns.message.from_wire(v["update_256"], keyring=KEYRING)
    resp = dns.message.make_response(req)
    at(T + 5)
    v["resp_256"] = resp.to_wire()
    resp.tsig = None
    v["resp_256_body"] = resp.to_wire()

    at(T)
    axfr = dns.message.make_query("example.com.", "AXFR")
    axfr.id = 0x0a0a
    axfr.flags = 0
    axfr.use_tsig(KEY_512)
    v["axfr_req"] = axfr.to_wire()
    areq = dns.message.from_wire(v["axfr_req"], keyring=KEYRING)
    ctx = None
    for i in (1, 2, 3):
        m = dns.message.make_response(areq)
        m.answer.append(dns.rrset.from_text("r%d.example.com." % i, 60, "IN", "A",
                                            "192.0.2.%d" % i))
        at(T + i)
        v["axfr_%d" % i] = m.to_wire(multi=True, tsig_ctx=ctx)
        ctx = m.tsig_ctx
        m.tsig = None
        v["axfr_body_%d" % i] = m.to_wire()

    # The same answer with its second message unsigned (§5.3.1 allows up
    # to 99 in a row): the third message's MAC covers it whole.
    ctx = None
    for i in (1, 2, 3):
        m = dns.message.make_response(areq)
        m.answer.append(dns.rrset.from_text("r%d.example.com." % i, 60, "IN", "A",
                                            "192.0.2.%d" % i))
        at(T + i)
        if i == 2:
            m.tsig = None
            wire = m.to_wire()
            ctx.update(wire)
        else:
            wire = m.to_wire(multi=True, tsig_ctx=ctx)
            ctx = m.tsig_ctx
        v["axfr_gap_%d" % i] = wire
    return v


def capture(argv, script):
    """Runs a client against a socket on 127.0.0.1 and returns the first
    datagram it sends (the client is killed after that)."""
    import socket
    import subprocess
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    port = sock.getsockname()[1]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    proc.stdin.write(script.replace("PORT", str(port)).encode())
    proc.stdin.close()
    try:
        data, _ = sock.recvfrom(65535)
    finally:
        proc.kill()
        proc.wait()
        sock.close()
    return data


def client_vectors():
    import tempfile
    time.time = REAL_TIME
    v = {}
    with tempfile.NamedTemporaryFile("w", suffix=".key") as f:
        f.write(KEY_FILE.split("};\n")[0] + "};\n")  # nsupdate uses a file's only key
        f.flush()
        v["nsupdate"] = capture(
            ["nsupdate", "-k", f.name],
            "server 127.0.0.1 PORT\nzone example.com.\n"
            "update add www.example.com. 300 A 192.0.2.9\nsend\n")
    v["knsupdate"] = capture(
        ["knsupdate", "-y", "hmac-sha512:xfr.key.example.:" +
         base64.b64encode(SECRET_512).decode()],
        "server 127.0.0.1 PORT\nzone example.com.\norigin example.com.\n"
        "update delete old.example.com. TXT\nsend\n")
    for name, wire in v.items():
        if not dns.message.from_wire(wire, keyring=KEYRING).had_tsig:  # and dnspython verifies
            raise SystemExit("%s sent an unsigned message" % name)
    return v


def c_array(name, data):
    lines = []
    for i in range(0, len(data), 12):
        lines.append("    " + ", ".join("0x%02x" % b for b in data[i:i + 12]) + ",")
    return "static const uint8_t %s[%d] = {\n%s\n};\n" % (name.upper(), len(data), "\n".join(lines))


def write_header(out, with_clients):
    v = make_vectors()
    if with_clients:
        v.update(client_vectors())
    out.write("/* tests/unit/tsig_vectors.h — generated by tests/unit/tsig_vectors.py "
              "(dnspython %s); do not edit. */\n" % dns.version.version)
    out.write("#ifndef TESTS_UNIT_TSIG_VECTORS_H\n#define TESTS_UNIT_TSIG_VECTORS_H\n\n")
    out.write("#include <stdint.h>\n\n")
    out.write("#define VEC_T %dull\n" % T)
    key_file = KEY_FILE.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    out.write('static const char VEC_KEY_FILE[] = "%s";\n\n' % key_file)
    for name, data in v.items():
        out.write(c_array("vec_" + name, data) + "\n")
    out.write("#endif\n")


def check(directory):
    """Verifies what our code signed (files written by test_dns_tsig)."""
    v = make_vectors()
    ok = 0
    with open(os.path.join(directory, "response_valid"), "rb") as f:
        wire = f.read()
    req = dns.message.from_wire(v["update_256"], keyring=KEYRING)
    at(T + 5)
    dns.message.from_wire(wire, keyring=KEYRING, request_mac=req.mac)
    ok += 1
    areq = dns.message.from_wire(v["axfr_req"], keyring=KEYRING)
    ctx = None
    for i in (1, 2, 3):
        with open(os.path.join(directory, "stream_%d" % i), "rb") as f:
            wire = f.read()
        at(T + i)
        m = dns.message.from_wire(wire, keyring=KEYRING, request_mac=areq.mac,
                                  xfr=True, tsig_ctx=ctx, multi=True)
        ctx = m.tsig_ctx
        ok += 1
    with open(os.path.join(directory, "request_signed"), "rb") as f:
        wire = f.read()
    at(T)
    dns.message.from_wire(wire, keyring=KEYRING)
    ok += 1
    print("dnspython verified %d messages signed by dns/tsig.c" % ok)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        write_header(sys.stdout, "--with-clients" in sys.argv[1:])
