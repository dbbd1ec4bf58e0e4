#!/usr/bin/python3
"""tests/fuzz/peerauth_seeds.py — writes the seed corpus of
tests/fuzz/fuzz_raft_peerauth.c (tests/fuzz/corpus/fuzz_raft_peerauth/):
handshake messages (protocol v3, and v1/v2 hellos that must be refused),
key files, record streams and record payloads, each behind the target's
mode byte. Run from anywhere; commit the result."""
import base64
import hashlib
import hmac
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_raft_peerauth")
MAGIC = b"\xd7RF\x01"
KEY = bytes(range(32))  # the target's key_text
KEY_ID = hmac.new(KEY, b"dns-raft key id", hashlib.sha256).digest()[:8]


def hello(version, kid, name=b"n1", addr=b"127.0.0.1:8301", nid=11):
    return (MAGIC + bytes([version, 1, len(name), len(addr)]) + struct.pack("<Q", nid) + kid +
            bytes(range(0x40, 0x60)) + name + addr)


def v1_hello(name=b"n1", addr=b"", nid=11):
    return MAGIC + bytes([1, 0, len(name), len(addr)]) + struct.pack("<Q", nid) + name + addr


def challenge(name=b"n2"):
    return (MAGIC + bytes([3, 1, len(name), 0]) + struct.pack("<Q", 22) + bytes(32) +
            bytes(range(32)) + name)


def refusal(reason=b"nokey"):
    return MAGIC + bytes([3, 2, len(reason), 0]) + reason


def frame(body):
    return struct.pack("<I", len(body)) + body


def record(frames, tag=bytes(16)):
    payload = b"".join(frame(f) for f in frames)
    return struct.pack("<I", len(payload)) + payload + tag


def sealed_piece(bodies, flip=0):
    return bytes([len(bodies) - 1, flip]) + b"".join(bytes([len(b)]) + b for b in bodies)


SEEDS = {
    "hello-known-key": b"\0" + hello(3, KEY_ID) + bytes(32),
    "hello-unknown-key": b"\0" + hello(3, bytes(8)) + bytes(32),
    "hello-v1": b"\0" + v1_hello(),
    "hello-v2-per-frame": b"\0" + hello(2, KEY_ID),
    "challenge": b"\0" + challenge(),
    "refusal": b"\0" + refusal(),
    "forged-records": b"\1" + record([b"\3" + bytes(8)]) + record([b"\3hi", b"\x40x"]),
    "forged-record-too-big": b"\1" + struct.pack("<I", (8 << 20) + 5) + bytes(12),
    "sealed-intact": b"\2" + sealed_piece([b"\x40hi"]) + sealed_piece([b"\x03a", b"\x03bb", b"\x40c"]),
    "sealed-flipped": b"\2" + sealed_piece([b"\x40hi"], 7) + sealed_piece([b"\x03a", b"\x40b"], 1) +
                      sealed_piece([b"\x40hi", b"\x40x"], 30),
    "keyfile-short": b"\3" + base64.b64encode(bytes(range(31))) + b"\n",
    "keyfile-two": b"\3# c\n\n" + base64.b64encode(KEY) + b"\n" +
                   base64.b64encode(bytes(range(1, 33))) + b"\n",
    "payload-valid": b"\4" + frame(b"\3abc") + frame(b"\x40d"),
    "payload-past-end": b"\4" + frame(b"\3abc") + struct.pack("<I", 9) + b"xy",
    "payload-empty-frame": b"\4" + frame(b"\3") + struct.pack("<I", 0),
    "payload-cut-header": b"\4" + frame(b"\3") + b"\1\0",
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.unlink(os.path.join(OUT, f))
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("%s: %d seeds" % (OUT, len(SEEDS)))


if __name__ == "__main__":
    main()
