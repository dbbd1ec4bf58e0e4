"""tests/faults/powercut.py — the test side of the power-cut model (issue 18).

tests/faults/powercut_shim.c (built as build/powercut_shim.so) records, in a
shadow directory, the synced state of one node's data directory at every
successful fsync/fdatasync. This module:

- `snapshot(data_dir, shadow)`: before a node starts, takes the whole data
  directory as durable (as if the machine had synced everything between
  two runs) and writes the first shadow;
- `env(data_dir, shadow)`: the environment that runs a node under the shim;
- `restore(data_dir, shadow, tear=None)`: after the node was SIGKILLed,
  rebuilds the data directory as a power cut would have left it: each
  directory holds the entries of its last fsync, each file the content of
  its last sync (empty if it never had one). With tear=random.Random, each
  512-byte sector written since a file's last sync (still readable in the
  killed node's file) survives with probability 1/2, the others read as
  synced (zeros past the synced end): a torn write.

Command line (for a shell or a person): powercut.py snapshot|restore
DATA_DIR SHADOW [--tear SEED]. See the shim's header for what the model
does and does not cover.
"""
import os
import random
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIM = os.environ.get("POWERCUT_SHIM", os.path.join(ROOT, "build", "powercut_shim.so"))
SECTOR = 512


def _key(rel):
    return "@" + rel.replace("/", "%")


def env(data_dir, shadow):
    """Environment variables for a node run under the shim."""
    return {"LD_PRELOAD": SHIM, "POWERCUT_DIR": os.path.realpath(data_dir),
            "POWERCUT_SHADOW": os.path.realpath(shadow)}


def snapshot(data_dir, shadow):
    """A fresh shadow holding data_dir as it is now (all of it durable).
    A data dir that does not exist yet is an empty one."""
    shutil.rmtree(shadow, ignore_errors=True)
    os.makedirs(os.path.join(shadow, "files"))
    os.makedirs(os.path.join(shadow, "dirs"))
    os.makedirs(data_dir, exist_ok=True)

    def walk(rel):
        path = os.path.join(data_dir, rel)
        lines = []
        for e in sorted(os.scandir(path), key=lambda e: e.name):
            st = e.stat(follow_symlinks=False)
            if e.is_dir(follow_symlinks=False):
                lines.append("d %d %s\n" % (st.st_ino, e.name))
                walk(os.path.join(rel, e.name) if rel else e.name)
            else:
                lines.append("f %d %s\n" % (st.st_ino, e.name))
                shutil.copyfile(e.path, os.path.join(shadow, "files", str(st.st_ino)))
        with open(os.path.join(shadow, "dirs", _key(rel)), "w") as f:
            f.write("".join(lines))
    walk("")


def _listing(shadow, rel):
    try:
        with open(os.path.join(shadow, "dirs", _key(rel))) as f:
            text = f.read()
    except FileNotFoundError:
        return []  # a directory never fsynced since it was made: empty
    out = []
    for line in text.splitlines():
        kind, ino, name = line.split(" ", 2)
        out.append((kind, int(ino), name))
    return out


def _current_files(data_dir):
    """inode -> path of every regular file in the data dir now."""
    out = {}
    for top, _dirs, files in os.walk(data_dir):
        for name in files:
            p = os.path.join(top, name)
            out[os.lstat(p).st_ino] = p
    return out


def _torn(synced, current, rng):
    """synced with each differing 512-byte sector of current kept with
    probability 1/2; bytes past the synced end that no kept sector covers
    are zeros, and the file ends after the last byte that survived."""
    out = bytearray(synced)
    end = len(synced)
    for off in range(0, len(current), SECTOR):
        new = current[off:off + SECTOR]
        if new == bytes(synced[off:off + SECTOR]) or rng.random() < 0.5:
            continue
        if len(out) < off + len(new):
            out.extend(bytes(off + len(new) - len(out)))
        out[off:off + len(new)] = new
        end = max(end, off + len(new))
    return bytes(out[:end])


def restore(data_dir, shadow, tear=None):
    """Rebuilds data_dir from the shadow (the node must be dead). Returns
    a short summary: how many files and directory entries the cut lost."""
    current = _current_files(data_dir) if tear else {}
    before = sum(len(f) + len(d) for _t, d, f in os.walk(data_dir))
    build = data_dir.rstrip("/") + ".powercut"
    shutil.rmtree(build, ignore_errors=True)
    counts = {"entries": 0, "torn": 0}

    def make(rel, dst):
        os.makedirs(dst, exist_ok=True)
        for kind, ino, name in _listing(shadow, rel):
            counts["entries"] += 1
            child_rel = os.path.join(rel, name) if rel else name
            if kind == "d":
                make(child_rel, os.path.join(dst, name))
                continue
            try:
                with open(os.path.join(shadow, "files", str(ino)), "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                data = b""  # never synced: its data never reached the disk
            if tear and ino in current:
                with open(current[ino], "rb") as f:
                    now = f.read()
                torn = _torn(data, now, tear)
                counts["torn"] += torn != data
                data = torn
            with open(os.path.join(dst, name), "wb") as f:
                f.write(data)

    make("", build)
    # Emptied and refilled rather than replaced: the data dir may be a
    # mount point (the nemesis's tmpfs node).
    for e in os.scandir(data_dir):
        if e.is_dir(follow_symlinks=False):
            shutil.rmtree(e.path)
        else:
            os.unlink(e.path)
    for e in os.scandir(build):
        shutil.move(e.path, os.path.join(data_dir, e.name))
    os.rmdir(build)
    return "%d entries before the cut, %d after; %d files torn" % (
        before, counts["entries"], counts["torn"])


def main(argv):
    if len(argv) < 4 or argv[1] not in ("snapshot", "restore"):
        sys.stderr.write("usage: powercut.py snapshot|restore DATA_DIR SHADOW [--tear SEED]\n")
        return 2
    if argv[1] == "snapshot":
        snapshot(argv[2], argv[3])
    else:
        tear = random.Random(int(argv[5])) if len(argv) > 5 and argv[4] == "--tear" else None
        print(restore(argv[2], argv[3], tear))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
