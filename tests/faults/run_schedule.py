#!/usr/bin/python3
"""tests/faults/run_schedule.py — one nemesis run: a cluster in network
namespaces, kv clients and zone reloads, a seeded fault schedule, then
healing and every check.

Usage (as root): run_schedule.py --seed N [--nodes 3|5] [--duration S]
    [--kinds k1,k2] [--unsafe-reads] [--expect-violation] [--keep]
Exit status: 0 when every check passed (with --expect-violation: when the
linearizability checker found a violation), 1 on an anomaly, 2 when the run
itself could not be carried out. The last line is "RESULT {json}" with the
figures (ops, faults by kind, ...) that scripts/run-faults.sh adds up.

Checks: linearizability of the kv history (per key; acknowledged writes
present at the end through the final reads) and of the guarded UPDATEs
(compare-and-set, one register per RRset; updates.py), every acknowledged
unguarded UPDATE served by every node after healing, no node exits on its own, the
cluster converges after healing, every node answers identical DNS for every
zone, no zone reload acknowledged in a log ("zone X replicated (serial G")
is lost, and no zone is ever seen half-applied.
"""
import argparse
import json
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import linearizability  # noqa: E402
from nemesis import EXTRA_KINDS, KINDS, POWER_KINDS, Nemesis  # noqa: E402
import powercut  # noqa: E402
from netlab import Lab  # noqa: E402
from nodes import Cluster, admin, gen_of_address  # noqa: E402
from updates import UpdateClients  # noqa: E402
from workload import History, KvClients, ZoneTraffic  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def fmt_op(op):
    res = op["reply"] if op["kind"] != "get" or op["status"] != "ok" else (op["value"] or "<absent>")
    end = f"{op['ret']:8.3f}" if op["ret"] != float("inf") else "     inf"
    val = (f" {op['value']}" if op["kind"] == "set" else
           f" {op['old']}->{op['value']}" if op["kind"] in ("cas", "casfail") else "")
    return (f"  [{op['call']:8.3f} .. {end}] c{op['client']:<2} {op['node']:<3} {op['status']:<4} "
            f"{op['kind']} {op['key']}" + val
            + f" -> {res}")


def print_window(h, t, key=None, before=6.0, after=2.0):
    print(f"--- nemesis actions and zone events from t={t - before - 4:.1f} to t={t + after:.1f}:")
    for et, text in h.events:
        if t - before - 4 <= et <= t + after:
            print(f"  {et:8.3f} {text}")
    print(f"--- kv history {'of key ' + key if key else ''} from t={t - before:.1f} to t={t + after:.1f}:")
    for op in sorted(h.ops, key=lambda o: o["call"]):
        if key and op["key"] != key:
            continue
        if op["call"] <= t + after and op["ret"] >= t - before:
            print(fmt_op(op))


def zone_acks(cluster):
    """Highest serial each node's log says was replicated for its own zone."""
    acked = {}
    for n in cluster.nodes:
        tag = f"zone z{n.i}.test. replicated (serial "
        for line in n.log_text().splitlines():
            k = line.find(tag)
            if k >= 0:
                g = int(line[k + len(tag):].split(",")[0])
                acked[n.i] = max(acked.get(n.i, 0), g)
    return acked


def dns_view(node, n_zones):
    view = []
    for z in range(n_zones):
        for name, rdtype in ((f"z{z}.test.", "SOA"), (f"z{z}.test.", "NS"), (f"ns.z{z}.test.", "A"),
                             (f"a.z{z}.test.", "A"), (f"b.z{z}.test.", "A"), (f"c.z{z}.test.", "A")):
            r = node.dns(name, rdtype, timeout=1.0)
            view.append((name, rdtype, r.rcode(), sorted(rr.to_text() for rr in r.answer)))
    return view


def check_dns(cluster, h, acked, timeout=20.0):
    """Identical zone list and DNS answers on every node, none behind an ack."""
    deadline = time.monotonic() + timeout
    problem = "not checked"
    while time.monotonic() < deadline:
        try:
            lists = [admin(n.addr, "zone list", 2.0) for n in cluster.nodes]
            views = [dns_view(n, len(cluster.nodes)) for n in cluster.nodes]
        except Exception as e:  # a node slow to answer: try again
            problem = f"query failed: {e}"
            time.sleep(0.5)
            continue
        problem = None
        if len(set(lists)) != 1:
            problem = "zone list differs: " + " || ".join(f"{n.id}: {l}" for n, l in zip(cluster.nodes, lists))
        elif any(v != views[0] for v in views):
            diff = [f"{n.id}: {v}" for n, v in zip(cluster.nodes, views) if v != views[0]][:2]
            problem = f"DNS answers differ from n0's {views[0][:3]}...: {diff}"
        if problem is None:
            for name, rdtype, rcode, rrs in views[0]:
                if rdtype == "A" and name[0] in "abc":
                    z = int(name.split(".")[1][1:])
                    got = gen_of_address(rrs[0].split()[-1]) if rrs else -1
                    if got < acked.get(z, 0):
                        problem = (f"zone z{z}.test.: acknowledged generation {acked[z]} lost, "
                                   f"every node answers generation {got} for {name}")
        if problem is None:
            return True
        time.sleep(0.5)
    h.anomaly(f"after healing: {problem}")
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--nodes", type=int, default=0, help="3 or 5 (default: from the seed)")
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--kinds", default="", help="comma-separated fault kinds (default: all)")
    ap.add_argument("--unsafe-reads", action="store_true")
    ap.add_argument("--expect-violation", action="store_true")
    ap.add_argument("--expect-update-loss", action="store_true",
                    help="teeth of the UPDATE checks: after the workload, delete one "
                         "acknowledged add and roll one register back behind the clients' "
                         "backs; exit 0 only when both checks report it")
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--keys", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--snapshot-entries", type=int, default=0,
                    help="start nodes with -raft.snapshot.entries N, so that snapshots are "
                         "taken and installed under the faults (default: the daemon's)")
    ap.add_argument("--cluster-key", action="store_true",
                    help="run the nodes with a cluster key (-cluster.key.file): every "
                         "peer connection authenticated")
    ap.add_argument("--admin-token", action="store_true",
                    help="run the nodes with -admin.token.file; every client authenticates")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("run_schedule.py needs root (network namespaces, iptables, tmpfs)")
        return 2
    rng = random.Random(a.seed)
    n_nodes = a.nodes or rng.choice([3, 3, 5])
    kinds = [k for k in a.kinds.split(",") if k] or None
    for k in kinds or []:
        if k not in KINDS + EXTRA_KINDS:
            print(f"unknown fault kind {k}; known: {', '.join(KINDS)}")
            return 2
    binary = os.environ.get("DNSRAFT_BIN", os.path.join(ROOT, "bin", "dns-raft"))
    if (kinds is None or any(k in POWER_KINDS for k in kinds)) and not os.path.exists(powercut.SHIM):
        print(f"missing {powercut.SHIM} (run make powercut): needed by the power-cut faults")
        return 2
    tag = os.environ.get("DRF_TAG") or secrets.token_hex(2)
    work = tempfile.mkdtemp(prefix=f"dnsraft-faults-{a.seed}-")
    lab = Lab(tag, n_nodes)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(3))
    cluster = None
    rc = 2
    print(f"seed {a.seed}: {n_nodes} nodes, {a.duration:.0f}s, tag drf{tag}, work {work}"
          + (", UNSAFE READS" if a.unsafe_reads else ""), flush=True)
    try:
        lab.up()
        use_disk = kinds is None or "disk-full" in kinds
        cluster = Cluster(lab, work, binary, unsafe_reads=a.unsafe_reads,
                          snapshot_entries=a.snapshot_entries,
                          cluster_key=a.cluster_key, admin_token=a.admin_token,
                          power_cut=kinds is None or any(k in POWER_KINDS for k in kinds))
        tmpfs_node = None
        if use_disk:
            tmpfs_node = cluster.nodes[-1]
            disk = os.path.join(work, f"disk-{tmpfs_node.id}")
            lab.mount_tmpfs(disk, "16m")
            tmpfs_node.data = os.path.join(disk, "data")
        lab.enter_ctl()
        cluster.start()
        h = History(time.monotonic())
        nem = Nemesis(cluster, lab, h, a.seed, kinds, tmpfs_node)
        clients = KvClients(cluster, h, a.seed, a.clients, a.keys)
        zones = ZoneTraffic(cluster, h, a.seed)
        updates = UpdateClients(cluster, h, a.seed)
        clients.start()
        zones.start()
        updates.start()
        nem.run(a.duration)
        nem.heal_all()
        zones.finish()
        # The UPDATE clients stop at the heal, like the reloads: their rate
        # (~50 entries/s on top of the kv writes) would otherwise keep the
        # commit index moving faster than converged() can sample it.
        updates.finish()
        converged = nem.wait_converged(40)
        clients.finish()
        nem.check_alive()
        if not converged:
            h.anomaly("the cluster did not converge within 40 s of healing")
        else:
            nem.wait_converged(20)
        clients.final_reads()
        acked = zone_acks(cluster)
        check_dns(cluster, h, acked)
        sabotaged = updates.sabotage() if a.expect_update_loss else None
        if a.expect_update_loss:
            print(f"sabotage: {sabotaged or 'could not be done'}", flush=True)
            nem.wait_converged(20)
        updates.check_acked(timeout=5.0 if sabotaged else 20.0)
        updates.final_reads()
        t_check = time.monotonic()
        results = linearizability.check(h.ops, budget_s=120)
        t_check = time.monotonic() - t_check
        bad = [r for r in results if r.ok is False]
        unknown = [r for r in results if r.ok is None]
        for r in bad:
            at = r.stuck["ret"] if r.stuck else 0.0
            h.anomaly(f"linearizability violation on key {r.key}: no order explains "
                      f"{fmt_op(r.stuck).strip() if r.stuck else '?'}", at=at)
        for r in unknown:
            h.anomaly(f"checker gave up on key {r.key} after {r.elapsed:.0f}s ({r.n_ops} ops)")
        summary = dict(seed=a.seed, nodes=n_nodes, duration=a.duration, unsafe=a.unsafe_reads,
                       ops=len(h.ops), ops_ok=clients.counts["ok"], ops_info=clients.counts["info"],
                       ops_fail=clients.counts["fail"], faults=nem.counts,
                       updates=updates.counts,
                       zone_reloads=zones.reloads, zone_samples=zones.samples,
                       zone_acks=acked, disk_refusals=nem.refused,
                       nodes_replaced=nem.replaced,
                       snapshots_taken=sum(n.log_count("raft: snapshot at index") for n in cluster.nodes),
                       snapshots_installed=sum(n.log_count("installed the leader's snapshot")
                                               for n in cluster.nodes),
                       check_s=round(t_check, 2), violations=len(bad),
                       anomalies=len(h.anomalies))
        if a.expect_update_loss:
            lost = [t for _, t in h.anomalies if "acknowledged add lost" in t]
            rolled = [r for r in bad if r.key.startswith("rrset ")]
            other = [t for _, t in h.anomalies if "acknowledged add lost" not in t
                     and "violation on key rrset " not in t]
            roll = (f"register rollback caught on {rolled[0].key}: {fmt_op(rolled[0].stuck).strip()}"
                    if rolled else "rollback NOT caught by the checker")
            print(f"update loss caught: {lost[0] if lost else 'NOT by check_acked'}; {roll}")
            for t in other[:5]:
                print(f"=== other anomaly: {t}")
            rc = 0 if sabotaged and lost and rolled and not other else 1
        elif h.anomalies and not (a.expect_violation and bad):
            print(f"FAIL seed {a.seed}: {len(h.anomalies)} anomalies (rerun: "
                  f"tests/faults/run_schedule.py --seed {a.seed} --nodes {n_nodes} "
                  f"--duration {a.duration:g}{' --unsafe-reads' if a.unsafe_reads else ''}"
                  f"{f' --snapshot-entries {a.snapshot_entries}' if a.snapshot_entries else ''}"
                  f"{' --cluster-key' if a.cluster_key else ''}"
                  f"{' --admin-token' if a.admin_token else ''}"
                  f"{' --kinds ' + a.kinds if a.kinds else ''})")
            for at, text in h.anomalies[:5]:
                print(f"=== anomaly at t={at:.3f}: {text}")
                key = text.split("key ")[1].split(":")[0] if "violation on key" in text else None
                print_window(h, at, key)
            for n in cluster.nodes:
                print(f"--- {n.id} log (last 15 lines):")
                print("\n".join(n.log_text().splitlines()[-15:]))
            rc = 1
        elif a.expect_violation:
            if bad:
                r = bad[0]
                print(f"ok: the checker caught the unsafe reads on key {r.key}: "
                      f"{fmt_op(r.stuck).strip()}")
                print_window(h, r.stuck["ret"], r.key, before=3.0, after=0.5)
                rc = 0
            else:
                print(f"no violation found (seed {a.seed})")
                rc = 1
        else:
            print(f"ok seed {a.seed}: {len(h.ops)} ops checked in {t_check:.2f}s, faults "
                  + ", ".join(f"{k}={v}" for k, v in sorted(nem.counts.items())))
            rc = 0
        print("RESULT " + json.dumps(summary), flush=True)
    except SystemExit:
        print(f"seed {a.seed}: interrupted")
        rc = 3
    except Exception as e:  # the run itself broke: say where
        import traceback
        traceback.print_exc()
        print(f"ERROR seed {a.seed}: the run could not complete: {e}")
        if cluster:
            for n in cluster.nodes:
                print(f"--- {n.id} log (last 10 lines):")
                print("\n".join(n.log_text().splitlines()[-10:]))
        rc = 2
    finally:
        if cluster:
            cluster.stop_all()
        errs = lab.down()
        for e in errs:
            print(f"cleanup: {e}")
        if not a.keep and rc not in (1, 2):
            shutil.rmtree(work, ignore_errors=True)
        elif not a.keep:
            print(f"work directory kept for the post-mortem: {work}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
