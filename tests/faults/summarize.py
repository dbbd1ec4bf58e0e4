#!/usr/bin/python3
"""tests/faults/summarize.py — adds up the RESULT lines of many nemesis runs.

Usage: summarize.py RESULTS.jsonl [--markdown]
Prints schedules run/passed/failed, operations checked (ok / indeterminate),
faults injected by kind, zone reloads and samples, UPDATEs, and the failing seeds.
"""
import json
import sys
from collections import Counter


def main():
    rows = []
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    faults = Counter()
    for r in rows:
        faults.update(r.get("faults", {}))
    failed = [r for r in rows if r.get("status") != "ok"]
    tot = lambda k: sum(r.get(k, 0) for r in rows)  # noqa: E731
    nodes = Counter(r.get("nodes") for r in rows if "nodes" in r)
    upd = Counter()
    for r in rows:
        upd.update(r.get("updates", {}))
    md = "--markdown" in sys.argv
    lines = [
        ("schedules", f"{len(rows)} ({', '.join(f'{v} with {k} nodes' for k, v in sorted(nodes.items()))})"),
        ("passed / failed", f"{len(rows) - len(failed)} / {len(failed)}"),
        ("UPDATEs (unguarded)", f"{upd['ok']} acknowledged, {upd['info']} indeterminate, "
                                f"{upd['fail']} unexpected rcodes"),
        ("guarded UPDATEs (compare-and-set)",
         f"{upd['cas_ok']} applied, {upd['cas_fail']} prerequisite false, "
         f"{upd['cas_info']} indeterminate"),
        ("operations checked (kv and guarded UPDATEs)",
         f"{tot('ops')} (kv: {tot('ops_ok')} acknowledged, {tot('ops_info')} indeterminate; "
         f"{tot('ops_fail')} more refused or not sent)"),
        ("faults injected", f"{sum(faults.values())}: " + ", ".join(f"{k} {v}" for k, v in sorted(faults.items()))),
        ("zone reloads (SIGHUP)", str(tot("zone_reloads"))),
        ("zone samples (half-applied checks)", str(tot("zone_samples"))),
        ("disk-full refusals logged", str(tot("disk_refusals"))),
        ("nodes replaced (left, wiped, rejoined)", str(tot("nodes_replaced"))),
        ("snapshots taken / installed from the leader", f"{tot('snapshots_taken')} / {tot('snapshots_installed')}"),
        ("linearizability violations", str(tot("violations"))),
        ("checker time, total", f"{sum(r.get('check_s', 0) for r in rows):.1f} s"),
        ("failing seeds", ", ".join(str(r.get("seed")) for r in failed) or "none"),
    ]
    if md:
        print("| figure | value |\n| --- | --- |")
        for k, v in lines:
            print(f"| {k} | {v} |")
    else:
        for k, v in lines:
            print(f"{k:38} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
