"""tests/faults/updates.py — the RFC 2136 UPDATE workload of a nemesis run.

Owns: the UPDATE clients (threads sending TSIG-signed UPDATEs for zone
dyn.test. to random nodes, over UDP or TCP, while the faults happen), the
record of what was acknowledged, and the two checks after healing.

Two kinds of client (nodes.py gives every node the key and the ACL):
- adders: each adds names of its own (`u<client>-<n>.dyn.test. A`) and now
  and then deletes one of them again, unguarded. After healing every node
  must serve every add acknowledged with NOERROR unless a later acknowledged
  delete removed it, and must not serve a name whose last acknowledged
  operation was a delete (check_acked). A name with an indeterminate
  operation of the other kind may be either way.
- CAS clients: a register is one RRset, `r<k>.dyn.test. TXT` ("init" in the
  zone file). A guarded update is a compare-and-set: prerequisite "RRset
  exists (value dependent)" with the value the client last saw, then delete
  that RR and add a value no one else writes (RFC 2136 §2.4.2, §2.5.4,
  §2.5.1). NOERROR is a cas that took effect, NXRRSET (or YXRRSET) one whose
  prerequisite was false, SERVFAIL or no reply an indeterminate one. The
  value to try is read by a DNS query of a random node, which is not a
  linearizable read (a follower answers from its own copy) and is not put
  in the history: a stale one only makes the cas fail. After healing, a
  DNS read of every register on every node closes the history
  (final_reads); linearizability.py checks it as one register per RRset.

Any other rcode (REFUSED, NOTAUTH, FORMERR, ...) to these well-formed,
signed, allowed updates is an anomaly.
"""
import random
import threading
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdataset
import dns.rdatatype
import dns.tsigkeyring
import dns.update

from nodes import DNS_PORT, DYN_ZONE, TSIG_KEY_NAME, UPDATE_TIMEOUT_MS

REPLY_TIMEOUT = UPDATE_TIMEOUT_MS / 1000.0 + 2.0  # the daemon answers SERVFAIL before this
INDETERMINATE = ("SERVFAIL", None)  # None: no reply (timeout, connection error)


def register_key(reg):
    """The history key of a register (no ':' in it: run_schedule parses it)."""
    return f"rrset {reg}.{DYN_ZONE}/TXT"


class UpdateClients:
    def __init__(self, cluster, history, seed, n_adders=2, n_cas=3):
        self.c, self.h = cluster, history
        self.seed = seed
        self.n_adders, self.n_cas = n_adders, n_cas
        self.registers = list(cluster.registers)
        self.keyring = dns.tsigkeyring.from_text({TSIG_KEY_NAME: ("hmac-sha256",
                                                                  cluster.tsig_secret)})
        self.stop = threading.Event()
        self.threads = []
        self.lock = threading.Lock()
        self.names = {}  # name -> list of (kind 'add'|'del', status 'ok'|'info'|'fail')
        self.counts = {"ok": 0, "info": 0, "fail": 0, "cas_ok": 0, "cas_fail": 0, "cas_info": 0}

    # ---- sending -----------------------------------------------------------------------
    def new_update(self):
        return dns.update.UpdateMessage(DYN_ZONE, keyring=self.keyring, keyname=TSIG_KEY_NAME,
                                        keyalgorithm="hmac-sha256")

    def send(self, rng, node, upd):
        """Returns (rcode text or None for no reply, call, ret)."""
        call = self.h.now()
        try:
            if rng.random() < 0.3:
                r = dns.query.tcp(upd, node.addr, port=DNS_PORT, timeout=REPLY_TIMEOUT)
            else:
                r = dns.query.udp(upd, node.addr, port=DNS_PORT, timeout=REPLY_TIMEOUT)
            rcode = dns.rcode.to_text(r.rcode())
        except (dns.exception.DNSException, OSError, EOFError):
            rcode = None
        return rcode, call, self.h.now()

    def unexpected(self, node, what, rcode):
        self.h.anomaly(f"{node.id}: UPDATE {what} answered {rcode}")

    # ---- adders ------------------------------------------------------------------------
    def adder(self, cid):
        rng = random.Random(self.seed * 104729 + cid)
        n = 0
        mine = []
        while not self.stop.is_set():
            node = rng.choice(self.c.nodes)
            upd = self.new_update()
            if mine and rng.random() < 0.2:
                name = rng.choice(mine)
                kind = "del"
                upd.delete(name, "A")
            else:
                n += 1
                name = f"u{cid}-{n}.{DYN_ZONE}"
                kind = "add"
                upd.add(name, 60, "A", f"10.{100 + cid}.{n // 256 % 256}.{n % 256}")
                mine.append(name)
            rcode, call, ret = self.send(rng, node, upd)
            status = "ok" if rcode == "NOERROR" else "info" if rcode in INDETERMINATE else "fail"
            if status == "fail":
                self.unexpected(node, f"{kind} {name}", rcode)
            with self.lock:
                self.counts[status] += 1
                self.names.setdefault(name, []).append((kind, status))
            time.sleep(rng.random() * 0.02)

    def expected(self):
        """name -> True (must be served), False (must not be), for every name
        with an acknowledged operation whose outcome is certain: an
        indeterminate operation may take effect at any time after its call
        (docs/operations.md: after SERVFAIL "the update may still be
        applied"), even after a later acknowledged one, so a name with an
        indeterminate operation of the other kind is left out."""
        want = {}
        with self.lock:
            for name, ops in self.names.items():
                acked = [k for k, st in ops if st == "ok"]
                if not acked:
                    continue
                last = acked[-1]
                if all(k == last for k, st in ops if st == "info"):
                    want[name] = last == "add"
        return want

    def check_acked(self, timeout=20.0):
        """After healing: every node serves what the acknowledged adds and
        deletes say. Returns True when it holds (within timeout)."""
        want = self.expected()
        deadline = time.monotonic() + timeout
        problem = "not checked"
        while time.monotonic() < deadline:
            problem = None
            for node in self.c.nodes:
                for name, present in sorted(want.items()):
                    try:
                        r = node.dns(name, "A", timeout=1.0)
                    except Exception as e:  # noqa: BLE001 - slow node: try again
                        problem = f"{node.id}: query of {name} failed: {e}"
                        break
                    served = any(rrset.rdtype == dns.rdatatype.A for rrset in r.answer)
                    if served != present:
                        what = ("acknowledged add lost" if present
                                else "served after an acknowledged delete")
                        problem = f"{node.id}: {name} {what} (rcode {dns.rcode.to_text(r.rcode())})"
                        break
                if problem:
                    break
            if problem is None:
                return True
            time.sleep(0.5)
        self.h.anomaly(f"after healing, UPDATE: {problem}")
        return False

    # ---- compare-and-set clients ----------------------------------------------------------
    def read_txt(self, node, reg, timeout):
        """The register's value as node answers it, None if absent; raises on
        no answer."""
        r = node.dns(f"{reg}.{DYN_ZONE}", "TXT", timeout=timeout)
        vals = [b"".join(rd.strings).decode() for rrset in r.answer for rd in rrset]
        if len(vals) > 1:
            self.h.anomaly(f"{node.id}: register {reg} has {len(vals)} TXT records {vals}")
        return vals[0] if vals else None

    def cas_client(self, cid):
        rng = random.Random(self.seed * 15485863 + cid)
        n = 0
        while not self.stop.is_set():
            reg = rng.choice(self.registers)
            node = rng.choice(self.c.nodes)
            try:
                old = self.read_txt(rng.choice(self.c.nodes), reg, 0.5)
            except Exception:  # noqa: BLE001 - the node is down or cut off
                time.sleep(0.05)
                continue
            if old is None:
                old = "init"
            n += 1
            new = f"c{cid}.{n}"
            name = f"{reg}.{DYN_ZONE}"
            upd = self.new_update()
            upd.present(name, dns.rdataset.from_text("IN", "TXT", 0, f'"{old}"'))
            upd.delete(name, dns.rdataset.from_text("IN", "TXT", 0, f'"{old}"'))
            upd.add(name, 60, "TXT", f'"{new}"')
            rcode, call, ret = self.send(rng, node, upd)
            op = dict(client=100 + cid, node=node.id, key=register_key(reg), old=old, value=new,
                      call=call, ret=ret, reply=rcode)
            if rcode == "NOERROR":
                op.update(kind="cas", status="ok")
                count = "cas_ok"
            elif rcode in ("NXRRSET", "YXRRSET"):
                op.update(kind="casfail", status="ok")
                count = "cas_fail"
            elif rcode in INDETERMINATE:
                op.update(kind="cas", status="info")
                count = "cas_info"
            else:
                self.unexpected(node, f"cas {reg} {old}->{new}", rcode)
                op = None
                count = "fail"
            with self.lock:
                self.counts[count] += 1
            if op:
                self.h.add(op)
            time.sleep(rng.random() * 0.02)

    def final_reads(self):
        """After healing: a DNS read of every register on every node, one at a
        time, after every update was answered: they close the history."""
        bad = 0
        for reg in self.registers:
            for node in self.c.nodes:
                call = self.h.now()
                try:
                    v = self.read_txt(node, reg, 2.0)
                except Exception as e:  # noqa: BLE001
                    bad += 1
                    self.h.anomaly(f"final read of register {reg} on {node.id} failed: {e}")
                    continue
                self.h.add(dict(client=-2, node=node.id, kind="get", key=register_key(reg),
                                value=v, call=call, ret=self.h.now(), status="ok", reply=v))
        return bad

    def sabotage(self):
        """The teeth of --expect-update-loss: after the workload, behind its
        back, one more UPDATE (same key) deletes one
        acknowledged add and puts one register back to "init" (a lost
        acknowledged update, a rollback). check_acked and the linearizability
        check must both report it. Returns what was done, or None."""
        present = sorted(n for n, p in self.expected().items() if p)
        if not present:
            return None
        name = present[len(present) // 2]
        reg = self.registers[0]
        rname = f"{reg}.{DYN_ZONE}"
        upd = self.new_update()
        upd.delete(name, "A")
        upd.delete(rname, "TXT")
        upd.add(rname, 60, "TXT", '"init"')
        rng = random.Random(0)
        for _ in range(5):
            rcode, _, _ = self.send(rng, self.c.nodes[0], upd)
            if rcode == "NOERROR":
                self.h.event(f"sabotage: deleted {name}, register {reg} back to init")
                return f"deleted {name}, register {reg} back to init"
            time.sleep(1.0)
        return None

    # ---- threads -----------------------------------------------------------------------
    def wait_zone(self, timeout=20.0):
        """Every node serves the registers: the zone file of n0 is loaded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if all(self.read_txt(n, r, 1.0) == "init" for n in self.c.nodes
                       for r in self.registers):
                    return
            except Exception:  # noqa: BLE001
                pass
            time.sleep(0.2)
        raise TimeoutError(f"waited {timeout:.0f}s for every node to serve {DYN_ZONE}")

    def start(self):
        self.wait_zone()
        # The zone file's "init" is the registers' first value.
        for reg in self.registers:
            self.h.add(dict(client=-3, node="file", kind="set", key=register_key(reg),
                            value="init", call=-2.0, ret=-1.0, status="ok", reply="zone file"))
        fns = [(self.adder, i) for i in range(self.n_adders)] + \
              [(self.cas_client, i) for i in range(self.n_cas)]
        for fn, i in fns:
            t = threading.Thread(target=fn, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(REPLY_TIMEOUT + 5)
