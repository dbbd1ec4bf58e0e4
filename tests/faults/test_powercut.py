#!/usr/bin/python3
"""tests/faults/test_powercut.py — the power-cut model's own test: a child
Python process does file operations under build/powercut_shim.so (Python's
os.fsync and os.write go through libc, so the shim sees them), then
powercut.restore must leave exactly what a power cut would: synced data and
synced directory entries, nothing else. Also the tear and the two
disk-fault switches. Exit status 0 when every case holds.
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import powercut  # noqa: E402

CHILD = r'''
import errno, os, sys
d = sys.argv[1]
def put(path, data, sync):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, data)
    if sync:
        os.fsync(fd)
    os.close(fd)
def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)
j = os.path.join
# old: existed at start (durable); appended to without a sync
fd = os.open(j(d, "old"), os.O_WRONLY | os.O_APPEND)
os.write(fd, b" and more")
os.close(fd)
put(j(d, "synced"), b"A" * 100, True)          # file and directory synced
put(j(d, "nodata"), b"C" * 100, False)         # entry synced, data never
put(j(d, "renamed.tmp"), b"new", True)         # rename over "target", directory synced
os.rename(j(d, "renamed.tmp"), j(d, "target"))
os.unlink(j(d, "gone"))                        # unlink, directory synced after
os.mkdir(j(d, "sub"))                          # made, parent synced, itself never
put(j(d, "sub", "inner"), b"D", True)
put(j(d, "torn"), b"\0" * 2048, True)          # synced zeros, then unsynced sectors
fsync_dir(d)
# after the directory's last fsync: none of these may survive
put(j(d, "late"), b"E", True)                  # file synced, its entry never
os.rename(j(d, "target"), j(d, "target2"))
os.unlink(j(d, "keep"))
fd = os.open(j(d, "torn"), os.O_WRONLY)
os.pwrite(fd, b"x" * 2048, 0)
os.close(fd)
# the switches
open(j(sys.argv[2], "fail-sync"), "w").close()
fd = os.open(j(d, "synced"), os.O_WRONLY | os.O_APPEND)
os.write(fd, b"Z")
try:
    os.fsync(fd)
    print("fsync did not fail")
except OSError as e:
    print("fsync", errno.errorcode[e.errno])
os.close(fd)
os.unlink(j(sys.argv[2], "fail-sync"))
open(j(sys.argv[2], "fail-write"), "w").close()
fd = os.open(j(d, "synced"), os.O_WRONLY | os.O_APPEND)
try:
    os.write(fd, b"Y")
    print("write did not fail")
except OSError as e:
    print("write", errno.errorcode[e.errno])
os.close(fd)
os.unlink(j(sys.argv[2], "fail-write"))
'''

failures = []


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def run_once(tear_seed):
    base = tempfile.mkdtemp(prefix="dnsraft-powercut-test-")
    try:
        data, shadow = os.path.join(base, "data"), os.path.join(base, "shadow")
        os.makedirs(data)
        for name, text in (("old", b"old"), ("target", b"old target"), ("gone", b"g"),
                           ("keep", b"k")):
            with open(os.path.join(data, name), "wb") as f:
                f.write(text)
        powercut.snapshot(data, shadow)
        env = dict(os.environ, **powercut.env(data, shadow))
        out = subprocess.run([sys.executable, "-c", CHILD, data, shadow], env=env,
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            expect(False, "child failed: %s" % out.stderr)
            return None
        rng = random.Random(tear_seed) if tear_seed is not None else None
        powercut.restore(data, shadow, rng)
        names = sorted(os.listdir(data))
        return out.stdout, names, {n: read(os.path.join(data, n)) for n in names
                                   if os.path.isfile(os.path.join(data, n))}, \
            sorted(os.listdir(os.path.join(data, "sub"))) if "sub" in names else None
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main():
    if not os.path.exists(powercut.SHIM):
        print("FAIL missing %s (run make powercut)" % powercut.SHIM)
        return 1
    got = run_once(None)
    if got is None:
        return 1
    stdout, names, files, sub = got
    expect("fsync EIO" in stdout, "fail-sync: fsync fails with EIO (%s)" % stdout.split("\n")[0])
    expect("write ENOSPC" in stdout, "fail-write: write fails with ENOSPC")
    expect(names == ["keep", "nodata", "old", "sub", "synced", "target", "torn"],
           "after the cut the directory holds what its last fsync saw: %s" % names)
    expect(files.get("old") == b"old", "an unsynced append is lost")
    expect(files.get("synced") == b"A" * 100, "a synced file keeps its synced data (not the write of the failed fsync)")
    expect(files.get("nodata") == b"", "a file whose entry was synced but not its data is empty")
    expect(files.get("target") == b"new", "a rename made durable by the directory fsync stays")
    expect(files.get("keep") == b"k", "an unlink after the directory's last fsync is undone")
    expect(sub == [], "a directory never fsynced since its mkdir comes back empty")
    expect(files.get("torn") == b"\0" * 2048, "without tear, unsynced sectors are lost")
    kept = set()
    for seed in range(8):
        r = run_once(seed)
        if r is None:
            return 1
        torn = r[2].get("torn", b"")
        sectors = [torn[i:i + 512] for i in range(0, len(torn), 512)]
        expect(all(s in (b"\0" * 512, b"x" * 512) for s in sectors) and len(torn) == 2048,
               "tear seed %d: whole 512-byte sectors, old or new" % seed)
        kept.update(s == b"x" * 512 for s in sectors)
    expect(kept == {True, False}, "tear: some unsynced sectors kept, some lost")
    print("test_powercut: %s" % ("FAIL" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
