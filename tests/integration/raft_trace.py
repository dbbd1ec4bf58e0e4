#!/usr/bin/python3
"""tests/integration/raft_trace.py — watching an election in a real 3-node
cluster with -log.level trace (docs/operations.md):

- n0, n1, n2 run with -log.level trace; once all three are voters the
  leader is killed;
- the two survivors elect a new leader, and its log shows, in this order:
  it campaigns ("becomes pre-candidate" / "becomes candidate in term T"),
  "becomes leader in term T (votes from a majority ...)", "commit
  advanced to N"; the other survivor's log shows the vote it granted, with
  the reason ("grants vote to <leader> for term T: its log (i,t) is at
  least as up to date as ours (i,t)");
- every trace line names its node by its -id and peers by theirs (the
  format of raft_trace_format, shared with raft-sim).
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clusterlib import Cluster, check, ok, run_main, wait_for  # noqa: E402

TRACE = ["-log.level", "trace"]


def lines_after(log, marker):
    """The raft trace lines of a log after its last line containing marker."""
    at = log.rfind(marker) if marker else 0
    return [ln for ln in log[max(at, 0):].splitlines() if " raft: " in ln]


def first_index(lines, pattern, start=0):
    rx = re.compile(pattern)
    for i in range(start, len(lines)):
        if rx.search(lines[i]):
            return i
    return -1


def check_order(lines, patterns, who):
    """Each pattern matches a line after the previous one's; returns the
    matches."""
    at, got = 0, []
    for p in patterns:
        i = first_index(lines, p, at)
        check(i >= 0, "%s: no line matching %r after line %d of its trace:\n%s"
              % (who, p, at, "\n".join(lines[-40:])))
        got.append(re.search(p, lines[i]))
        at = i + 1
    return got


def main():
    with Cluster("trace") as c:
        nodes = [c.add_node("n%d" % i, join=i > 0, extra=TRACE) for i in range(3)]
        for n in nodes:
            n.start()
        c.wait_voters([n.name for n in nodes], timeout=20)
        old = c.leader()
        old_term = int(old.status()["term"])
        ok("3 voters with -log.level trace; %s leads term %d" % (old.name, old_term))

        old.kill()
        rest = [n for n in nodes if n is not old]
        new = c.leader(among=rest, timeout=20)
        other = [n for n in rest if n is not new][0]
        term = int(new.status()["term"])
        check(term > old_term, "new term %d after %d" % (term, old_term))
        wait_for("commit advanced in %s's trace" % new.name, 10,
                 lambda: re.search(r"%s commit advanced to \d+" % new.name,
                                   "\n".join(lines_after(new.log(), ""))[-20000:]))

        lines = lines_after(new.log(), "")
        check_order(lines, [
            r" %s becomes (pre-candidate in term %d|candidate in term %d) \((election "
            r"timeout|a majority granted)" % (new.name, term - 1, term),
        ], new.name)
        start = first_index(lines, r" %s becomes candidate in term %d " % (new.name, term))
        check_order(lines[start:], [
            r" %s becomes candidate in term %d \(" % (new.name, term),
            r" %s becomes leader in term %d \(votes from a majority" % (new.name, term),
            r" %s commit advanced to \d+" % new.name,
        ], new.name)
        ok("%s's trace: campaign, becomes candidate, becomes leader in term %d, "
           "commit advanced" % (new.name, term))

        voter = lines_after(other.log(), "")
        got = check_order(voter, [
            r" %s grants vote to %s for term %d: its log \(\d+,\d+\) is at least as up to "
            r"date as ours \(\d+,\d+\)" % (other.name, new.name, term),
        ], other.name)
        ok("%s's trace: %s" % (other.name, got[0].group(0).strip()))

        # Every trace line is "<node> <event>", the node named by its -id.
        for n in rest:
            for ln in lines_after(n.log(), ""):
                if " TRACE " in ln.upper() and " raft: " in ln:
                    check(ln.split(" raft: ", 1)[1].startswith(n.name + " "),
                          "%s: trace line without its name: %r" % (n.name, ln))
        ok("every trace line starts with its node's -id")


if __name__ == "__main__":
    run_main(main)
