"""tests/integration/xfrlib.py — helpers for the zone transfer tests
(dns_xfr.py, xfr_interop.py): kdig transfers parsed into RR sets, a TSIG
key file, and the node config with the `transfer` ACL."""
import base64
import os
import subprocess

import dns.query
import dns.tsigkeyring
import dns.update

KEY_NAME = "xfr-key"
SECRET = base64.b64encode(os.urandom(32)).decode()
KEYRING = dns.tsigkeyring.from_text({KEY_NAME + ".": ("hmac-sha256", SECRET)})
KDIG_KEY = "hmac-sha256:%s:%s" % (KEY_NAME, SECRET)


def key_file_text():
    return 'key "%s" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' % (KEY_NAME, SECRET)


def node_config(keyfile, extra=""):
    """YAML for every node: the key; UPDATE and transfers with it."""
    return ("tsig.keyfile: %s\n"
            "raft.heartbeat: \"300\"\n"
            "raft.election: \"1200\"\n"
            "acl:\n"
            "  - zones: [\"*\"]\n"
            "    actions: [update, transfer]\n"
            "    key: %s\n" % (keyfile, KEY_NAME)) + extra


def kdig(port, qtype, zone, signed=True, extra=(), timeout=60):
    """Runs kdig; returns (returncode, stdout text)."""
    argv = ["kdig", "@127.0.0.1", "-p", str(port), "+time=20", "+retry=0"]
    if signed:
        argv += ["-y", KDIG_KEY]
    argv += list(extra) + [qtype, zone]
    p = subprocess.run(argv, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")


def parse_rrs(text):
    """The RRs of kdig/dig output as a list of normalised tuples (TSIG
    and comments left out): (owner lowercased, ttl, type, rdata)."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        f = line.split()
        if len(f) < 5 or f[2] != "IN":
            continue
        rdata = " ".join(f[4:])
        if f[3] in ("SOA", "NS", "CNAME", "MX", "PTR"):
            rdata = rdata.lower()
        out.append((f[0].lower(), int(f[1]), f[3], rdata))
    return out


def axfr_set(port, zone, signed=True):
    """(serial, set of RRs without the closing SOA, messages) of an AXFR."""
    rc, text = kdig(port, "AXFR", zone, signed)
    if rc != 0 or ";; ERROR" in text:
        raise RuntimeError("kdig AXFR on port %d failed: %s" % (port, text[-400:]))
    rrs = parse_rrs(text)
    if not rrs or rrs[0][2] != "SOA" or rrs[-1] != rrs[0]:
        raise RuntimeError("AXFR not framed by its SOA: %r ... %r" % (rrs[:1], rrs[-1:]))
    serial = int(rrs[0][3].split()[2])
    msgs = 0
    for line in text.splitlines():
        if line.startswith(";; Received") and "messages" in line:
            msgs = int(line.split("(")[1].split()[0])
    return serial, set(rrs[:-1]), msgs


def update(port, zone, adds=(), deletes=(), timeout=10):
    """One signed UPDATE over TCP: adds (name, ttl, type, rdata), deletes
    (name, type). Returns the rcode."""
    u = dns.update.UpdateMessage(zone, keyring=KEYRING, keyname=KEY_NAME + ".",
                                 keyalgorithm="hmac-sha256")
    for name, ttl, rtype, rdata in adds:
        u.add(name, ttl, rtype, rdata)
    for name, rtype in deletes:
        u.delete(name, rtype)
    return dns.query.tcp(u, "127.0.0.1", port=port, timeout=timeout).rcode()
