"""tests/integration/log_json.py — `-log.format json`: every line a node
writes is one JSON object (python's json parses it) with time, level,
module, node and msg; and known warnings and errors name their subject:

- a peer that went away: the survivor's warning names the peer's address;
- a broken zone file on reload: the error names file:line;
- a zone file whose name holds a control character and a byte that is not
  UTF-8: still valid JSON, and the message names the file;
- a cluster key file readable by others: the warning names the file."""
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, check, make_zone, ok, wait_for  # noqa: E402

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"trace", "debug", "info", "warn", "error"}


def records(node):
    """The node's log lines as dicts (clusterlib's '==== start' lines
    excepted); fails on any line that is not one JSON object as specified."""
    out = []
    with open(node.log_path, "rb") as f:
        for raw in f.read().split(b"\n"):
            if not raw or raw.startswith(b"==== start"):
                continue
            try:
                rec = json.loads(raw.decode("utf-8"))  # strict: must be UTF-8
            except (UnicodeDecodeError, ValueError) as e:
                raise AssertionError("%s: not a JSON line (%s): %r" % (node.name, e, raw))
            check(list(rec) == ["time", "level", "module", "node", "msg"],
                  "%s: keys %s in %r" % (node.name, list(rec), raw))
            check(TIME_RE.match(rec["time"]) and rec["level"] in LEVELS and
                  rec["node"] == node.name, "%s: bad field in %r" % (node.name, rec))
            out.append(rec)
    return out


def has(node, level, *parts):
    return any(r["level"] == level and all(p in r["msg"] for p in parts) for r in records(node))


with Cluster("logjson") as c:
    zone = c.write_file("z.txt", make_zone("logs.test", [("www", "A", "192.0.2.7")]))
    key = c.make_key("cluster.key")
    os.chmod(key, 0o644)  # too open: a warning naming the file
    odd = os.path.join(c.dir, "odd\x01name\xff.zone".encode("latin-1").decode("utf-8", "surrogateescape"))
    n0 = c.add_node("n0", zone_files=[zone, odd], join=None, key_file=key,
                    extra=["-log.format", "json"])
    n1 = c.add_node("n1", key_file=key, extra=["-log.format", "json"])
    n0.start()
    n1.start()
    wait_for("n1 serves logs.test", 30, lambda: n1.resolves("www.logs.test.", ["192.0.2.7"]))
    check(len(records(n0)) > 5 and len(records(n1)) > 5, "too few log lines")
    ok("every line of both nodes parses as JSON with time, level, module, node, msg")

    check(has(n0, "warn", "cluster.key.file", key), "no warning naming the open key file")
    ok("the open cluster key warning names %s" % key)

    wait_for("an error naming the odd zone file", 20,
             lambda: has(n0, "error", "odd\u0001name\ufffd.zone"))
    ok("a zone file name with a control byte and non-UTF-8 logs as valid JSON")

    with open(zone, "a") as f:
        f.write("bad 60 A 1.2.3\n")
    line = len(open(zone).read().splitlines())
    n0.signal(signal.SIGHUP)
    wait_for("an error naming z.txt:%d" % line, 20, lambda: has(n0, "error", "z.txt:%d" % line))
    ok("a broken zone file's error names z.txt:%d" % line)

    n1.kill()
    wait_for("a warning on n0 naming n1's address", 30,
             lambda: has(n0, "warn", n1.raft_addr))
    ok("n0 warns about the lost peer by its address %s" % n1.raft_addr)
    records(n0)  # every line written since still parses
    n0.stop()
print("log_json: all passed")
