#!/usr/bin/python3
"""tests/faults/test_checker.py — self-test of the linearizability checker.

Known-good and known-bad small histories, then random histories produced by
a simulated linearizable register (must pass, including indeterminate ops)
and the same histories with one read made stale (must fail), and a timing
check: a few thousand operations over a small key space in seconds.
Compare-and-set (the guarded UPDATEs of updates.py): fixed cases, random
histories of a simulated register that must pass, and the same simulation
with a broken apply (one update applied although its prerequisite was
false: a value overwritten before the update was sent) that must fail.
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


def cas(old, new, call, ret, status="ok"):
    return dict(kind="cas", key="k", old=old, value=new, call=call, ret=ret, status=status,
                client=0)


def casfail(old, call, ret):
    return dict(kind="casfail", key="k", old=old, value=None, call=call, ret=ret, status="ok",
                client=0)


def cas_cases():
    init = op("set", "init", -2, -1)
    expect("cas chain", [init, cas("init", "a", 0, 1), cas("a", "b", 2, 3), op("get", "b", 4, 5)],
           True)
    expect("two cas from one value both applied", [init, cas("init", "a", 0, 2),
                                                   cas("init", "b", 1, 3)], False)
    expect("cas concurrent winner and loser", [init, cas("init", "a", 0, 2),
                                               casfail("init", 1, 3)], True)
    expect("prerequisite false on the current value", [init, casfail("init", 2, 3)], False)
    expect("cas from a value never there", [init, cas("zz", "a", 0, 1)], False)
    expect("acknowledged cas lost", [init, cas("init", "a", 0, 1), op("get", "init", 5, 6)],
           False)
    expect("info cas explains a failed one", [init, cas("init", "a", 0, 1, "info"),
                                              casfail("init", 2, 3)], True)
    expect("info cas both did and did not happen", [init, cas("init", "a", 0, 1, "info"),
                                                    casfail("init", 2, 3),
                                                    op("get", "init", 4, 5)], False)
    expect("info cas seen by a later cas", [init, cas("init", "a", 0, 1, "info"),
                                            cas("a", "b", 2, 3), op("get", "b", 4, 5)], True)
    expect("value read before its cas was sent", [init, op("get", "a", 0, 1),
                                                  cas("init", "a", 2, 3, "info")], False)
    expect("failed cas after a later write", [init, cas("init", "a", 0, 1), cas("a", "b", 2, 3),
                                              casfail("b", 4, 5)], False)


def simulate_cas(rng, n_ops, n_clients, p_info=0.05, broken=False):
    """A register changed only by compare-and-set, each op taking effect at
    a random instant of its interval; clients try values up to 3 writes
    stale. broken: the first cas whose `old` was overwritten before it was
    sent is applied anyway (a prerequisite ignored), and reported NOERROR.
    Returns (history, whether the broken apply happened)."""
    t = [0.0] * n_clients
    pending = []
    for seq in range(n_ops):
        c = rng.randrange(n_clients)
        call = t[c] + rng.random()
        ret = call + rng.random() * 3
        info = rng.random() < p_info
        point = rng.uniform(call, ret)
        if info:
            point = call + rng.random() * 10
        pending.append((point, seq, c, call, ret, info))
        t[c] = ret
    pending.sort()
    values = [("init", -1.0)]  # (value, point of the write that replaced it: set below)
    replaced = {}
    state = "init"
    history = [op("set", "init", -2, -1)]
    did_break = False
    reads = []
    for point, seq, c, call, ret, info in pending:
        if rng.random() < 0.3:
            reads.append(op("get", state, point - rng.random() * 0.5, point + rng.random() * 0.5,
                            client=c))
            continue
        recent = [v for v, _ in values[-3:]]
        old = rng.choice(recent)
        stale = [v for v, _ in values if v in replaced and replaced[v] < call]
        cheat = broken and not did_break and stale and not info
        if cheat:
            old = stale[-1]
        new = f"v{seq}"
        holds = old == state
        if info:
            history.append(cas(old, new, call, ret, "info"))
            if holds and rng.random() < 0.5:
                replaced[state] = point
                state = new
                values.append((new, point))
            continue
        if holds or cheat:
            replaced[state] = point
            state = new
            values.append((new, point))
            history.append(cas(old, new, call, ret))
            did_break = did_break or cheat
        else:
            history.append(casfail(old, call, ret))
    for o in history + reads:
        o["client"] = o.get("client", 0)
    end = max(o["ret"] for o in history) + 20
    return history + reads + [op("get", state, end, end + 1)], did_break


def random_cas_cases():
    rng = random.Random(17)
    broke = 0
    for i in range(40):
        h, _ = simulate_cas(rng, 200, 5)
        r = check_key("k", h)
        if r.ok is not True:
            FAILS.append(f"random cas history {i} rejected ({r.ok})")
        h, did = simulate_cas(rng, 200, 5, broken=True)
        if not did:
            continue
        broke += 1
        r = check_key("k", h)
        if r.ok is not False:
            FAILS.append(f"random cas history {i} with a prerequisite ignored accepted ({r.ok})")
    if broke < 20:
        FAILS.append(f"only {broke} of 40 broken cas histories had a stale cas to break")


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
    cas_cases()
    random_cases()
    random_cas_cases()
    timing_case()
    for f in FAILS:
        print("FAIL", f)
    print("checker self-test:", "FAIL" if FAILS else "ok")
    sys.exit(1 if FAILS else 0)
