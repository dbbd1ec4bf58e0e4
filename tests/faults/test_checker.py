#!/usr/bin/python3
"""tests/faults/test_checker.py — self-test of the linearizability checker.

Known-good and known-bad small histories, then random histories produced by
a simulated linearizable register (must pass, including indeterminate ops)
and the same histories with one read made stale (must fail), and a timing
check: a few thousand operations over a small key space in seconds.
Exit status 0 when every case behaves.
"""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linearizability import check, check_key  # noqa: E402

FAILS = []


def op(kind, value, call, ret, status="ok", key="k", client=0):
    return dict(kind=kind, key=key, value=value, call=call, ret=ret, status=status,
                client=client)


def expect(name, ops, want):
    got = check_key("k", ops).ok
    if got is not want:
        FAILS.append(f"{name}: got {got}, want {want}")


def fixed_cases():
    expect("sequential", [op("set", "a", 0, 1), op("get", "a", 2, 3)], True)
    expect("stale read", [op("set", "a", 0, 1), op("set", "b", 2, 3), op("get", "a", 4, 5)], False)
    expect("concurrent read old", [op("set", "a", 0, 1), op("set", "b", 2, 5),
                                   op("get", "a", 3, 4)], True)
    expect("read never written", [op("get", "z", 0, 1)], False)
    expect("absent at start", [op("get", None, 0, 1)], True)
    expect("del then read", [op("set", "a", 0, 1), op("del", None, 2, 3),
                             op("get", "a", 4, 5)], False)
    expect("info set seen later", [op("set", "a", 0, 1, "info"), op("get", "a", 50, 51)], True)
    expect("info set unseen", [op("set", "a", 0, 1), op("set", "b", 2, 3, "info"),
                               op("get", "a", 9, 10)], True)
    expect("info del may apply late", [op("set", "a", 0, 1), op("del", None, 2, 3, "info"),
                                       op("get", "a", 4, 5), op("get", None, 6, 7)], True)
    expect("info del cannot undo", [op("set", "a", 0, 1), op("del", None, 2, 3, "info"),
                                    op("get", None, 4, 5), op("get", "a", 6, 7)], False)
    expect("read before write", [op("get", "a", 0, 1), op("set", "a", 2, 3, "info")], False)
    expect("flip-flop", [op("set", "a", 0, 1), op("set", "b", 0, 1), op("get", "a", 2, 3),
                         op("get", "b", 4, 5), op("get", "a", 6, 7)], False)


def simulate(rng, n_ops, n_clients, keys, p_info=0.05):
    """A linearizable register store: each op takes effect at a random
    instant inside its interval; indeterminate ones may not take effect."""
    events = []
    t = [0.0] * n_clients
    seq = 0
    for _ in range(n_ops):
        c = rng.randrange(n_clients)
        call = t[c] + rng.random()
        ret = call + rng.random() * 3
        point = rng.uniform(call, ret)
        kind = rng.choice(["set", "set", "get", "get", "del"])
        seq += 1
        info = kind != "get" and rng.random() < p_info
        effect = not info or rng.random() < 0.5
        if info and effect:
            point = call + rng.random() * 10  # may land after its "return"
        events.append((point, dict(kind=kind, key=rng.choice(keys), call=call, ret=ret,
                                   value=f"v{seq}" if kind == "set" else None,
                                   status="info" if info else "ok", client=c), effect))
        t[c] = ret
    events.sort(key=lambda e: e[0])
    store = {}
    history = []
    for _, o, effect in events:
        if o["kind"] == "get":
            o["value"] = store.get(o["key"])
        elif effect:
            if o["kind"] == "set":
                store[o["key"]] = o["value"]
            else:
                store.pop(o["key"], None)
        history.append(o)
    return history


def random_cases():
    rng = random.Random(7)
    for i in range(40):
        h = simulate(rng, 300, 6, ["a", "b", "c"])
        res = check(h)
        if not all(r.ok for r in res):
            FAILS.append(f"random linearizable history {i} rejected")
            continue
        # Make one read stale: a value overwritten long before the read.
        gets = [o for o in h if o["kind"] == "get" and o["value"] is not None]
        sets = {o["value"]: o for o in h if o["kind"] == "set" and o["status"] == "ok"}
        for g in gets:
            older = [s for s in sets.values() if s["key"] == g["key"] and s["ret"] < g["call"] - 8
                     and s["value"] != g["value"]]
            newer_done = [s for s in sets.values() if s["key"] == g["key"]
                          and s["call"] > older[-1]["ret"] and s["ret"] < g["call"]] if older else []
            if older and newer_done:
                g["value"] = older[-1]["value"]
                break
        else:
            continue
        if all(r.ok for r in check(h)):
            FAILS.append(f"random history {i} with a stale read accepted")


def timing_case():
    rng = random.Random(11)
    h = simulate(rng, 4000, 8, [f"k{i}" for i in range(5)], p_info=0.03)
    t0 = time.monotonic()
    res = check(h)
    took = time.monotonic() - t0
    if not all(r.ok for r in res):
        FAILS.append("timing history rejected")
    if took > 20:
        FAILS.append(f"4000 ops took {took:.1f}s")
    print(f"4000 ops over 5 keys checked in {took:.2f}s")


if __name__ == "__main__":
    fixed_cases()
    random_cases()
    timing_case()
    for f in FAILS:
        print("FAIL", f)
    print("checker self-test:", "FAIL" if FAILS else "ok")
    sys.exit(1 if FAILS else 0)
