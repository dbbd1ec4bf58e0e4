"""tests/integration/hostile.py — an attacker on the same network: a small
client that speaks dns-raft's peer wire format (raft/codec.h, raft/codec.c)
so attack tests can send forged hellos and Raft messages, and hold sockets
open, idle, trickling or with unfinished frames.

Wire format (all little-endian):
  hello:  magic "\\xD7RF\\x01" | version u8 (1) | reserved u8 (0) |
          name length u8 | address length u8 | sender id u64 | name | address
  frame:  body length u32 | body
  body:   msg type u8 | from u64 | to u64 | term u64 | type-specific fields

A node's Raft id is FNV-1a 64 of its name (-id), never 0 (raft/addrbook.c),
so anyone can compute a member's id from its name.

Public API: node_id(name), hello(name, addr, node_id=None), frame(body),
append(...), heartbeat(...), vote(...), snapshot(...), Peer (a socket:
send_hello, send_msg, send_raw, closed), read_peers_file(data_dir),
rss_kb(pid), MSG_* constants.
"""
import os
import socket
import struct
import time

MAGIC = b"\xd7RF\x01"
VERSION = 1
FRAME_MAX = 8 << 20

MSG_APPEND = 1
MSG_APPEND_RESP = 2
MSG_HEARTBEAT = 3
MSG_HEARTBEAT_RESP = 4
MSG_VOTE = 5
MSG_VOTE_RESP = 6
MSG_SNAPSHOT = 7
MSG_SNAPSHOT_RESP = 8
MSG_TIMEOUT_NOW = 9
MSG_READ_INDEX = 10
MSG_READ_INDEX_RESP = 11

ENTRY_NORMAL = 1
ENTRY_NOOP = 2
ENTRY_CONFIG = 3


def node_id(name):
    """FNV-1a 64 of the name, never 0 (addrbook_id_of)."""
    h = 0xcbf29ce484222325
    for b in name.encode():
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h or 1


def hello(name, addr, nid=None):
    """A hello claiming to be `name` (id computed from it unless nid)."""
    n, a = name.encode(), addr.encode()
    assert len(n) < 64 and len(a) < 128
    nid = node_id(name) if nid is None else nid
    return MAGIC + struct.pack("<BBBBQ", VERSION, 0, len(n), len(a), nid) + n + a


def frame(body):
    return struct.pack("<I", len(body)) + body


def _header(mtype, frm, to, term):
    return struct.pack("<BQQQ", mtype, frm, to, term)


def heartbeat(frm, to, term, commit=0, read_seq=0):
    return frame(_header(MSG_HEARTBEAT, frm, to, term) + struct.pack("<QQ", commit, read_seq))


def vote(frm, to, term, last_index=0, last_term=0, prevote=False, transfer=False):
    flags = (1 if prevote else 0) | (2 if transfer else 0)
    return frame(_header(MSG_VOTE, frm, to, term) +
                 struct.pack("<BQQ", flags, last_index, last_term))


def append(frm, to, term, prev_index, prev_term, commit, entries=()):
    """entries: (term, index, type, data bytes)."""
    body = _header(MSG_APPEND, frm, to, term)
    body += struct.pack("<QQQI", prev_index, prev_term, commit, len(entries))
    for (eterm, eindex, etype, data) in entries:
        body += struct.pack("<QQBI", eterm, eindex, etype, len(data)) + data
    return frame(body)


def snapshot(frm, to, term, index, sterm, voters, learners, data, offset=0, total=None):
    total = len(data) if total is None else total
    body = _header(MSG_SNAPSHOT, frm, to, term)
    body += struct.pack("<QQII", index, sterm, len(voters), len(learners))
    for v in list(voters) + list(learners):
        body += struct.pack("<Q", v)
    last = 1 if offset + len(data) == total else 0
    body += struct.pack("<QQBI", total, offset, last, len(data)) + data
    return frame(body)


class Peer:
    """One TCP connection to a node's Raft port, as an attacker holds it."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_hello(self, name, addr, nid=None):
        self.sock.sendall(hello(name, addr, nid))

    def send_msg(self, data):
        self.sock.sendall(data)

    def closed(self, wait=0.0):
        """True once the node has closed the connection (EOF or reset).
        The node never writes on an incoming peer connection, so any
        readability means closed."""
        self.sock.settimeout(wait if wait > 0 else 0.0001)
        try:
            data = self.sock.recv(1)
            return data == b""
        except (socket.timeout, BlockingIOError):
            return False
        except OSError:
            return True

    def try_send(self, data):
        """Sends without raising; False if the connection is gone."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---- inspecting a node -----------------------------------------------------------------

def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC_T = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _CRC_T[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def read_peers_file(data_dir):
    """DIR/peers (raft/node.c save_address_book: CRC32C u32 | count u32 |
    per entry id u64, name length u8, name, address length u8, address) as
    {name: address}; {} if the file is absent. Raises ValueError if the CRC
    or the encoding is wrong."""
    path = os.path.join(data_dir, "peers")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}
    if len(raw) < 8:
        raise ValueError("peers file too short")
    crc, = struct.unpack_from("<I", raw, 0)
    body = raw[4:]
    if crc != crc32c(body):
        raise ValueError("peers file CRC mismatch")
    n, = struct.unpack_from("<I", body, 0)
    off, out = 4, {}
    for _ in range(n):
        _id, = struct.unpack_from("<Q", body, off)
        off += 8
        nl = body[off]
        name = body[off + 1:off + 1 + nl].decode()
        off += 1 + nl
        al = body[off]
        addr = body[off + 1:off + 1 + al].decode()
        off += 1 + al
        out[name] = addr
    return out


def rss_kb(pid):
    """VmRSS of a process in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ValueError("no VmRSS for %d" % pid)


def wait_closed(peers, timeout):
    """Seconds until every peer connection is closed by the node, or None
    if some are still open after timeout."""
    t0 = time.monotonic()
    left = list(peers)
    while left and time.monotonic() - t0 < timeout:
        left = [p for p in left if not p.closed()]
        if left:
            time.sleep(0.1)
    return None if left else time.monotonic() - t0
