"""tests/faults/linearizability.py — the linearizability checker for kv histories.

Owns: the register model (set / get / del / compare-and-set on one key),
the preparation of a
recorded history (indeterminate operations) and the Wing–Gong search with
Lowe's memoisation, in the event-list form Porcupine uses.

The key-value store is P-compositional (Herlihy & Wing: a history is
linearizable iff its restriction to every key is), so `check` splits the
history by key and searches each key on its own.

An operation is a dict: client, kind ('set'|'get'|'del'), key, value (for set:
the value written; for get: the value read, None for absent), call, ret
(monotonic seconds), status 'ok' or 'info' (indeterminate: a timeout or no
reply; it may or may not have taken effect, at any time after its call).
Failed gets and writes that certainly did not happen are not passed in.

Compare-and-set (the guarded UPDATEs of tests/faults/updates.py, one
register per RRset): kind 'cas' with `old` (the value the prerequisite
requires) and `value` (the value written when it holds) took effect;
kind 'casfail' (YXRRSET/NXRRSET: the prerequisite was false) is a read
saying "the value was not `old`" and changes nothing; an indeterminate
'cas' (SERVFAIL, timeout) may or may not have taken effect.

Why the preparation is sound (every set writes a value no other set writes):
- an indeterminate set whose value no read saw can be removed: in any
  linearization no read sits between it and the next write, so dropping it
  changes no read's result;
- an indeterminate set whose value was read must take effect before the
  first of those reads returns, so that return time bounds it;
- an indeterminate del is dropped when no read returned "absent" after its
  call, for the same reason as the first rule; otherwise it stays open
  (return at +inf) and the search may also leave it out.
- an indeterminate cas whose value was seen (read, or required by a cas that
  took effect) is bounded like a set; one whose value nobody saw stays open
  rather than dropped: a failed cas may need it to have moved the value
  away from the failed cas's `old`.
"""
import math
import time
from collections import defaultdict

INF = math.inf


def _step(state, op):
    """Register model: returns (legal, new_state)."""
    kind = op["kind"]
    if kind == "set":
        return True, op["value"]
    if kind == "del":
        return True, None
    if kind == "cas":
        return state == op["old"], op["value"]
    if kind == "casfail":
        return state != op["old"], state
    return op["value"] == state, state


def prepare(ops):
    """Resolves indeterminate operations as the module comment explains.
    Returns a new list (dict copies) ready for the search."""
    first_read = {}
    absent_reads = []
    for op in ops:
        if op["kind"] == "cas" and op["status"] == "ok":
            v = op["old"]
            first_read[v] = min(first_read.get(v, INF), op["ret"])
        if op["kind"] == "get" and op["status"] == "ok":
            if op["value"] is None:
                absent_reads.append(op["ret"])
            else:
                v = op["value"]
                first_read[v] = min(first_read.get(v, INF), op["ret"])
    out = []
    for op in ops:
        op = dict(op)
        if op["status"] == "info":
            if op["kind"] == "get":
                continue
            if op["kind"] in ("set", "cas"):
                bound = first_read.get(op["value"])
                if bound is None and op["kind"] == "cas":
                    op["ret"] = INF
                    op["open"] = True
                    out.append(op)
                    continue
                if bound is None:
                    continue
                op["ret"] = max(bound, op["call"])
                op["open"] = False
            else:
                if not any(r > op["call"] for r in absent_reads):
                    continue
                op["ret"] = INF
                op["open"] = True
        else:
            op["open"] = False
        out.append(op)
    return out


class _Ev:
    __slots__ = ("op", "is_call", "time", "match", "prev", "next")

    def __init__(self, op, is_call, t):
        self.op, self.is_call, self.time = op, is_call, t
        self.match = self.prev = self.next = None


def _build_list(ops):
    evs = []
    for i, op in enumerate(ops):
        c = _Ev(i, True, op["call"])
        r = _Ev(i, False, op["ret"])
        c.match = r
        evs.append(c)
        evs.append(r)
    # At equal times a call sorts before a return: the two operations are
    # then concurrent, the generous reading of a clock tie.
    evs.sort(key=lambda e: (e.time, 0 if e.is_call else 1))
    head = _Ev(-1, False, -INF)
    prev = head
    for e in evs:
        prev.next = e
        e.prev = prev
        prev = e
    return head


def _lift(call):
    call.prev.next = call.next
    if call.next:
        call.next.prev = call.prev
    r = call.match
    r.prev.next = r.next
    if r.next:
        r.next.prev = r.prev


def _unlift(call):
    r = call.match
    r.prev.next = r
    if r.next:
        r.next.prev = r
    call.prev.next = call
    if call.next:
        call.next.prev = call


class KeyResult:
    def __init__(self, key, ok, n_ops, explored, elapsed, stuck=None, best_prefix=None,
                 timed_out=False):
        self.key, self.ok, self.n_ops = key, ok, n_ops
        self.explored, self.elapsed = explored, elapsed
        self.stuck = stuck              # the op whose return could not be reached
        self.best_prefix = best_prefix  # longest linearized prefix found (ops)
        self.timed_out = timed_out


def check_key(key, raw_ops, budget_s=30.0, initial=None):
    """Searches one key's history. ok is True, False, or None (budget spent)."""
    t0 = time.monotonic()
    ops = prepare(raw_ops)
    if not ops:
        return KeyResult(key, True, 0, 0, 0.0)
    head = _build_list(ops)
    state = initial
    bits = 0
    cache = set()
    stack = []
    best_len, best_prefix, stuck = -1, [], None
    explored = 0
    entry = head.next
    while entry is not None:
        explored += 1
        if explored & 0xFFF == 0 and time.monotonic() - t0 > budget_s:
            return KeyResult(key, None, len(ops), explored, time.monotonic() - t0,
                             timed_out=True)
        if entry.is_call:
            op = ops[entry.op]
            legal, new_state = _step(state, op)
            if legal:
                nbits = bits | (1 << entry.op)
                memo = (nbits, new_state)
                if memo not in cache:
                    cache.add(memo)
                    stack.append((entry, state))
                    state, bits = new_state, nbits
                    _lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
            continue
        if entry.time == INF:
            break  # only open indeterminate ops remain: leave them out
        # A return whose call was not linearized: backtrack.
        if len(stack) > best_len:
            best_len = len(stack)
            best_prefix = [ops[e.op] for e, _ in stack]
            stuck = ops[entry.op]
        if not stack:
            return KeyResult(key, False, len(ops), explored, time.monotonic() - t0,
                             stuck=stuck, best_prefix=best_prefix)
        call, state = stack.pop()
        bits &= ~(1 << call.op)
        _unlift(call)
        entry = call.next
    return KeyResult(key, True, len(ops), explored, time.monotonic() - t0)


def check(history, budget_s=60.0):
    """Checks a whole history; returns a list of KeyResult, one per key."""
    by_key = defaultdict(list)
    for op in history:
        by_key[op["key"]].append(op)
    results = []
    deadline = time.monotonic() + budget_s
    for key in sorted(by_key):
        left = max(1.0, deadline - time.monotonic())
        results.append(check_key(key, by_key[key], budget_s=left))
    return results
