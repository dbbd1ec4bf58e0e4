"""tests/integration/install_run.py — the installed daemon runs on the
installed example config (run by install.sh with DNSRAFT_BIN pointing into
the DESTDIR; argv: the config, the example zone).

A node started as systemd would (NOTIFY_SOCKET set; Type=notify), with the
config's addresses and data dir overridden by flags onto free loopback
ports and a temp dir: it must send READY=1 only once it answers for the
example zone, keep serving after SIGHUP (ExecReload), and send STOPPING=1
then exit 0 on SIGTERM."""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, check, ok, wait_for  # noqa: E402

conf, zone = sys.argv[1], sys.argv[2]


def notify_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.05)
    return s


def messages(sock, seen):
    """Reads every datagram waiting; returns the list of all seen so far."""
    try:
        while True:
            seen.append(sock.recv(4096).decode())
    except (socket.timeout, BlockingIOError):
        pass
    return seen


with Cluster("install") as c:
    sock_path = os.path.join(c.dir, "notify.sock")
    sock = notify_socket(sock_path)
    os.environ["NOTIFY_SOCKET"] = sock_path
    n = c.add_node("ns1", zone_files=[zone], join=None, extra=["-config", conf])
    n.start(wait=False)
    seen = []
    wait_for("READY=1 from the node", 60,
             lambda: n.alive() and any("READY=1" in m for m in messages(sock, seen)))
    # READY=1 comes once the zone is served: the first query must answer.
    rc, got = n.query("www.example.com.", "A", timeout=3)
    check((rc, got) == ("NOERROR", ["192.0.2.80"]),
          "after READY=1, www.example.com. A gave %s %s" % (rc, got))
    check(any("STATUS=" in m for m in seen), "no STATUS= line before READY: %r" % seen)
    ok("READY=1 sent once the example zone answers (%s)" % " | ".join(m.replace("\n", " ") for m in seen))

    n.signal(signal.SIGHUP)  # what `systemctl reload` does
    time.sleep(0.5)
    check(n.alive() and n.resolves("www.example.com.", ["192.0.2.80"]), "serving after SIGHUP")
    check(sum("READY=1" in m for m in messages(sock, seen)) == 1, "READY=1 sent again on reload")
    ok("reload (SIGHUP) keeps serving")

    n.stop()  # SIGTERM; exit 0 checked
    messages(sock, seen)
    check(any("STOPPING=1" in m for m in seen), "no STOPPING=1 on SIGTERM: %r" % seen)
    ok("SIGTERM: STOPPING=1, exit 0")
    log = n.log()
    check("ns1" in log and "error" not in log.lower().replace("errors", ""),
          "the log has errors:\n%s" % log)
print("install_run: all passed")
