/* tests/fuzz/make_corpus.c — writes the seed corpora of the libFuzzer
 * targets into tests/fuzz/corpus/<target>/ (run tests/fuzz/make_corpus.sh,
 * which builds this against build/ and runs it from the repository root).
 *
 * Seeds are made with the project's own encoders (kv_cmd_encode_*,
 * sm_snapshot, wal_append, snap_writer_*, hardstate_encode,
 * raft_codec_encode), so they start the fuzzer on well-formed inputs, plus
 * a few hand-made broken ones; each file starts with the mode byte or split
 * markers its target expects (see the comment at the top of each target).
 * Deterministic: the same tree gives the same files. */
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "kv/command.h"
#include "kv/statemachine.h"
#include "raft/codec.h"
#include "raft/hardstate.h"
#include "raft/snapfile.h"
#include "raft/wal.h"
#include "zone/zone.h"
#include "tests/fuzz/fuzz_common.h"

static const char *ROOT = "tests/fuzz/corpus";
static char tmpdir[64];

/* ---- output ---- */

static void die(const char *what)
{
    fprintf(stderr, "make_corpus: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void seed(const char *target, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", ROOT, target);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/%s/%s", ROOT, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
        die(path);
}

/* A growable byte string for composing seeds. */
typedef fuzz_out_t bytes_t;

static void add(bytes_t *b, const void *p, size_t n)
{
    fuzz_out_write(b, p, n);
}

static void adds(bytes_t *b, const char *s)
{
    add(b, s, strlen(s));
}

static void add8(bytes_t *b, uint8_t v)
{
    add(b, &v, 1);
}

static void seed_bytes(const char *target, const char *name, bytes_t *b)
{
    seed(target, name, b->data, b->len);
    fuzz_out_free(b);
}

static uint8_t *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path);
    bytes_t b = { 0 };
    uint8_t buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        add(&b, buf, n);
    fclose(f);
    *len = b.len;
    return b.data;
}

/* ---- a zone used by several targets ---- */

static const char ZONE[] =
    "$ORIGIN example.com.\n$TTL 300\n"
    "@ SOA ns1 hostmaster 7 7200 3600 1209600 300\n"
    "@ NS ns1\n@ MX 10 mail\nns1 A 192.0.2.53\nmail AAAA 2001:db8::25\n"
    "www CNAME web\nweb A 192.0.2.80\n*.wild TXT \"hello world\"\n"
    "_sip._udp SRV 0 5 5060 mail\n";

static zone_t *zone(void)
{
    uint8_t origin[NAME_MAX_WIRE];
    const char *e;
    char err[ZONE_ERR_MAX];
    if (name_from_text("example.com.", 12, NULL, origin, &e) < 0)
        die("origin");
    zone_t *z = zone_parse_text(ZONE, sizeof ZONE - 1, "seed", origin, err);
    if (!z) {
        fprintf(stderr, "make_corpus: zone: %s\n", err);
        exit(1);
    }
    return z;
}

/* ---- kv commands ---- */

static void kv_command(void)
{
    const char *T = "fuzz_kv_command";
    uint8_t *c;
    size_t n;
    const char *err;
    if (kv_cmd_encode_set(7, 1, (const uint8_t *)"key", 3, (const uint8_t *)"value", 5, &c, &n, &err) == 0) {
        seed(T, "set", c, n);
        free(c);
    }
    if (kv_cmd_encode_set(0, 0, (const uint8_t *)"k\xc3\xa9y", 4, (const uint8_t *)"v a l", 5, &c, &n, &err) == 0) {
        seed(T, "set-utf8", c, n);
        free(c);
    }
    if (kv_cmd_encode_del(7, 2, (const uint8_t *)"key", 3, &c, &n, &err) == 0) {
        seed(T, "del", c, n);
        free(c);
    }
    zone_t *z = zone();
    if (kv_cmd_encode_zone_del(7, 3, z->origin, &c, &n, &err) == 0) {
        seed(T, "zone-del", c, n);
        free(c);
    }
    kv_cmd_chunks_t chunks;
    if (kv_cmd_encode_zone_chunks(z, "n1", 42, 7, 10, 0, &chunks, &err) == 0) {
        seed(T, "zone-one-chunk", chunks.data[0], chunks.len[0]);
        kv_cmd_chunks_free(&chunks);
    }
    if (kv_cmd_encode_zone_chunks(z, "n1", 43, 7, 20, 200, &chunks, &err) == 0) {
        for (size_t i = 0; i < chunks.count && i < 3; i++) {
            char name[64];
            snprintf(name, sizeof name, "zone-chunk-%zu-of-%zu", i, chunks.count);
            seed(T, name, chunks.data[i], chunks.len[i]);
        }
        kv_cmd_chunks_free(&chunks);
    }
    zone_free(z);
    /* UPDATE: example.com, add new.example.com A 192.0.2.1 (the dnspython
     * seeds update-* next to these are richer messages) */
    static const uint8_t upd[] = {
        0x12, 0x34, 0x28, 0x00, 0, 1, 0, 0, 0, 1, 0, 0,
        7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 6, 0, 1,
        3, 'n', 'e', 'w', 0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 192, 0, 2, 1 };
    uint8_t ubuf[KV_UPDATE_CMD_MAX];
    int un = kv_cmd_encode_update_at(upd, sizeof upd, (const uint8_t *)"\3key", KV_SERIAL_INCREMENT,
                                     1700000000, ubuf, sizeof ubuf);
    if (un > 0)
        seed(T, "update-add", ubuf, (size_t)un);
    seed(T, "bad-version", "\x02\x01", 2);
    seed(T, "truncated", "\x01\x01\x00\x00", 4);
}

/* ---- state-machine snapshots ---- */

static void apply(sm_t *sm, uint64_t index, uint8_t *cmd, size_t len)
{
    kv_result_t res;
    sm_apply(sm, index, cmd, len, &res);
    free(cmd);
}

static void snapshot_seed(const char *name, sm_t *sm, uint8_t mode)
{
    bytes_t b = { 0 };
    add8(&b, mode);
    if (sm_snapshot(sm, fuzz_out_write, &b) < 0)
        die("sm_snapshot");
    if (mode & 1)
        b.len -= 12; /* the target appends the trailer itself */
    seed_bytes("fuzz_kv_snapshot", name, &b);
}

static void kv_snapshot(void)
{
    sm_t *sm = sm_new(NULL, NULL);
    snapshot_seed("empty", sm, 0);
    snapshot_seed("empty-fixcrc", sm, 1);
    uint8_t *c;
    size_t n;
    const char *err;
    uint64_t idx = 1;
    const char *keys[] = { "a", "b", "zz", "k\xc3\xa9" };
    for (size_t i = 0; i < 4; i++)
        if (kv_cmd_encode_set(5, i + 1, (const uint8_t *)keys[i], strlen(keys[i]),
                              (const uint8_t *)"some value", 10, &c, &n, &err) == 0)
            apply(sm, idx++, c, n);
    snapshot_seed("keys", sm, 0);
    snapshot_seed("keys-fixcrc-pieces", sm, 1 | (2 << 1));
    zone_t *z = zone();
    kv_cmd_chunks_t chunks;
    if (kv_cmd_encode_zone_chunks(z, "n1", 42, 9, 1, 0, &chunks, &err) == 0) {
        apply(sm, idx++, chunks.data[0], chunks.len[0]);
        chunks.data[0] = NULL;
        kv_cmd_chunks_free(&chunks);
    }
    snapshot_seed("keys-zone", sm, 0);
    snapshot_seed("keys-zone-fixcrc", sm, 1);
    /* a staged (partial) load: the first of several chunks */
    if (kv_cmd_encode_zone_chunks(z, "n2", 44, 10, 1, 200, &chunks, &err) == 0) {
        apply(sm, idx++, chunks.data[0], chunks.len[0]);
        chunks.data[0] = NULL;
        kv_cmd_chunks_free(&chunks);
    }
    snapshot_seed("keys-zone-staged-fixcrc", sm, 1);
    zone_free(z);
    sm_free(sm);
    seed("fuzz_kv_snapshot", "garbage", "\x01" "DRKV\x02", 6);
}

/* ---- admin lines ---- */

static void kv_admin(void)
{
    static const char *lines[] = {
        "kv ping\n", "kv set key some value with spaces\r\n", "kv get key\n", "kv del key\n",
        "raft status\nraft peers\n", "raft join n4 127.0.0.1:8304\n", "raft leave n2\n",
        "raft transfer\nraft transfer n3\n", "zone list\n", "zone show example.com\n",
        "zone show example.com.\nkv get a\tb\n", "kv set k\n", "kv\n", "bogus words\n",
        "raft join n4 [::1]:8300\n", "kv get \xc3\x28\n", "\n\n\r\n", "kv ping", "kv set k v\x01x\n",
    };
    char name[32];
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        bytes_t b = { 0 };
        add8(&b, (uint8_t)(i * 37)); /* piece sizes */
        add8(&b, 0);
        adds(&b, lines[i]);
        snprintf(name, sizeof name, "line-%02zu", i);
        seed_bytes("fuzz_kv_admin", name, &b);
    }
    /* lines around LR_LINE_MAX: 'x' * (LR_LINE_MAX - 128 + byte 3), then the rest */
    static const struct { uint8_t extra; const char *tail; } longs[] = {
        { 127, "\nkv ping\n" }, { 128, "\nkv ping\n" }, { 129, "\nkv ping\n" },
        { 129, "\r\nkv ping\n" }, { 130, "\r\nkv ping\n" }, { 129, "" }, { 130, "" }, { 200, "tail" },
    };
    for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++) {
        bytes_t b = { 0 };
        add8(&b, 12);
        add8(&b, 0xA5);
        add8(&b, 'x');
        add8(&b, longs[i].extra);
        adds(&b, longs[i].tail);
        snprintf(name, sizeof name, "long-%02zu", i);
        seed_bytes("fuzz_kv_admin", name, &b);
    }
}

/* ---- raft frames ---- */

static void frame_seed(const char *name, const raft_msg_t *m)
{
    size_t n = raft_codec_frame_size(m);
    uint8_t *buf = malloc(n);
    raft_codec_encode(m, buf);
    seed("fuzz_raft_codec", name, buf + RAFT_FRAME_HEADER, n - RAFT_FRAME_HEADER);
    free(buf);
}

static void raft_codec(void)
{
    raft_entry_t entries[3] = {
        { .term = 2, .index = 11, .type = RAFT_ENTRY_NORMAL, .data = (const uint8_t *)"abc", .len = 3 },
        { .term = 2, .index = 12, .type = RAFT_ENTRY_NOOP },
        { .term = 3, .index = 13, .type = RAFT_ENTRY_CONFIG, .data = (const uint8_t *)"\1\0\0\0", .len = 4 },
    };
    raft_msg_t m = { .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 3 };
    m.u.append = (raft_append_t){ .prev_index = 10, .prev_term = 2, .commit = 9,
                                  .entries = entries, .n_entries = 3 };
    frame_seed("append", &m);
    m.u.append.n_entries = 0;
    frame_seed("append-empty", &m);
    m = (raft_msg_t){ .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 3 };
    m.u.append_resp = (raft_append_resp_t){ .success = false, .index = 10, .hint_index = 7, .hint_term = 1 };
    frame_seed("append-resp", &m);
    m = (raft_msg_t){ .type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2, .term = 3 };
    m.u.heartbeat = (raft_heartbeat_t){ .commit = 5, .read_seq = 9 };
    frame_seed("heartbeat", &m);
    m = (raft_msg_t){ .type = RAFT_MSG_HEARTBEAT_RESP, .from = 2, .to = 1, .term = 3 };
    m.u.heartbeat_resp.read_seq = 9;
    frame_seed("heartbeat-resp", &m);
    m = (raft_msg_t){ .type = RAFT_MSG_VOTE, .from = 1, .to = 2, .term = 4 };
    m.u.vote = (raft_vote_t){ .prevote = true, .transfer = true, .last_index = 13, .last_term = 3 };
    frame_seed("vote", &m);
    m = (raft_msg_t){ .type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .term = 4 };
    m.u.vote_resp = (raft_vote_resp_t){ .prevote = false, .granted = true };
    frame_seed("vote-resp", &m);
    m = (raft_msg_t){ .type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 4 };
    m.u.snapshot.index = 100;
    m.u.snapshot.term = 3;
    m.u.snapshot.members.n_voters = 3;
    m.u.snapshot.members.voters[0] = 1;
    m.u.snapshot.members.voters[1] = 2;
    m.u.snapshot.members.voters[2] = 3;
    m.u.snapshot.members.n_learners = 1;
    m.u.snapshot.members.learners[0] = 4;
    m.u.snapshot.total_len = 10;
    m.u.snapshot.offset = 6;
    m.u.snapshot.data = (const uint8_t *)"wxyz";
    m.u.snapshot.len = 4;
    m.u.snapshot.last = true;
    frame_seed("snapshot", &m);
    m = (raft_msg_t){ .type = RAFT_MSG_SNAPSHOT_RESP, .from = 2, .to = 1, .term = 4 };
    m.u.snapshot_resp.index = 100;
    m.u.snapshot_resp.next_offset = 6;
    m.u.snapshot_resp.done = false;
    m.u.snapshot_resp.match_index = 3;
    frame_seed("snapshot-resp", &m);
    m = (raft_msg_t){ .type = RAFT_MSG_TIMEOUT_NOW, .from = 1, .to = 2, .term = 4 };
    frame_seed("timeout-now", &m);
    m = (raft_msg_t){ .type = RAFT_MSG_READ_INDEX, .from = 2, .to = 1, .term = 4 };
    m.u.read_index.ctx = 77;
    frame_seed("read-index", &m);
    m = (raft_msg_t){ .type = RAFT_MSG_READ_INDEX_RESP, .from = 1, .to = 2, .term = 4 };
    m.u.read_index_resp.ctx = 77;
    m.u.read_index_resp.index = 50;
    m.u.read_index_resp.ok = true;
    frame_seed("read-index-resp", &m);
    /* Issue #12: frames at and just below the 2^63 term/index limit, and an
     * append whose entry terms go down (all but the first two refused). */
    m = (raft_msg_t){ .type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2, .term = RAFT_TERM_LIMIT - 1 };
    m.u.heartbeat = (raft_heartbeat_t){ .commit = RAFT_INDEX_LIMIT - 1, .read_seq = 1 };
    frame_seed("heartbeat-last-term", &m);
    m.term = UINT64_MAX;
    frame_seed("heartbeat-term-max", &m);
    raft_entry_t at_limit[2] = {
        { .term = 7, .index = RAFT_INDEX_LIMIT - 2, .type = RAFT_ENTRY_NOOP },
        { .term = 7, .index = RAFT_INDEX_LIMIT - 1, .type = RAFT_ENTRY_NORMAL, .data = (const uint8_t *)"z", .len = 1 },
    };
    m = (raft_msg_t){ .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 7 };
    m.u.append = (raft_append_t){ .prev_index = RAFT_INDEX_LIMIT - 3, .prev_term = 6,
                                  .commit = RAFT_INDEX_LIMIT - 3, .entries = at_limit, .n_entries = 2 };
    frame_seed("append-index-limit", &m);
    at_limit[1].term = 5;
    frame_seed("append-terms-decreasing", &m);
    raft_hello_t h = { .id = 0x1122334455667788ull, .name = "n1", .addr = "127.0.0.1:8300" };
    uint8_t hb[RAFT_HELLO_LEN + RAFT_NAME_MAX + RAFT_ADDR_MAX];
    seed("fuzz_raft_codec", "hello", hb, raft_codec_hello(hb, &h));
}

/* ---- WAL segments ---- */

static void tmp_path(char *out, size_t cap, const char *rest)
{
    snprintf(out, cap, "%s/%s", tmpdir, rest);
}

/* Writes records [first, first+n) with segments of seg_size bytes; returns
 * the segment files joined by "|SEG|" after the mode byte. zeros: bytes of
 * zeros after the last segment's records, as the log's preallocation leaves
 * them after a crash; zero_at: if nonzero, the 512-byte sector of the last
 * segment holding that file offset is zeroed too (a sector lost in a crash,
 * records after it). */
typedef struct wal_seed_opts {
    size_t cut_tail, zeros, zero_at;
} wal_seed_opts_t;

static void wal_seed_with(const char *name, uint64_t first, size_t n, uint64_t seg_size,
                          uint8_t mode, wal_seed_opts_t o)
{
    char dir[256], waldir[300];
    tmp_path(dir, sizeof dir, "wal");
    fuzz_rm_rf(dir);
    struct wal_options opt = { .segment_size = seg_size };
    struct wal *w;
    struct storage_error err;
    if (wal_open(dir, &opt, &w, &err) < 0) {
        fprintf(stderr, "make_corpus: %s\n", err.msg);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        char payload[32];
        int len = snprintf(payload, sizeof payload, "entry %zu", i);
        struct wal_record r = { .index = first + i, .term = 1 + i / 3, .type = (uint8_t)(i % 3),
                                .len = (uint32_t)len, .data = (const uint8_t *)payload };
        if (wal_append(w, &r, 1, &err) < 0)
            die("wal_append");
    }
    if (wal_sync(w, &err) < 0)
        die("wal_sync");
    wal_close(w);
    snprintf(waldir, sizeof waldir, "%s/%s", dir, WAL_DIR);
    struct dirent **list;
    int k = scandir(waldir, &list, NULL, alphasort);
    if (k < 0)
        die(waldir);
    bytes_t b = { 0 };
    add8(&b, mode);
    int segs = 0;
    for (int i = 0; i < k; i++) {
        if (strstr(list[i]->d_name, ".wal") && !strstr(list[i]->d_name, ".tmp")) {
            char path[600];
            snprintf(path, sizeof path, "%s/%s", waldir, list[i]->d_name);
            size_t len;
            uint8_t *data = read_whole(path, &len);
            if (segs++)
                adds(&b, "|SEG|");
            add(&b, data, len);
            free(data);
        }
        free(list[i]);
    }
    free(list);
    b.len -= o.cut_tail < b.len ? o.cut_tail : 0;
    if (o.zero_at) { /* single-segment seeds only: file offset = seed offset - 1 */
        size_t sector = o.zero_at / 512 * 512 + 1;
        for (size_t i = sector; i < sector + 512 && i < b.len; i++)
            b.data[i] = 0;
    }
    for (size_t i = 0; i < o.zeros; i++)
        add8(&b, 0);
    seed_bytes("fuzz_raft_wal", name, &b);
    fuzz_rm_rf(dir);
}

static void wal_seed(const char *name, uint64_t first, size_t n, uint64_t seg_size, uint8_t mode,
                     size_t cut_tail)
{
    wal_seed_with(name, first, n, seg_size, mode, (wal_seed_opts_t){ .cut_tail = cut_tail });
}

static void raft_wal(void)
{
    wal_seed("one-segment", 1, 5, 0, 0, 0);
    wal_seed("one-segment-fixcrc", 1, 5, 0, 1, 0);
    wal_seed("three-segments", 1, 9, 140, 0, 0);
    wal_seed("three-segments-fixcrc-tmp", 1, 9, 140, 1 | 4 | 8, 0);
    wal_seed("starts-at-100", 100, 4, 0, 0, 0);
    wal_seed("torn-tail", 1, 5, 0, 0, 7);
    wal_seed("torn-tail-fixcrc", 1, 5, 0, 1, 3);
    wal_seed("header-only", 1, 0, 0, 0, 0);
    wal_seed("name-mismatch", 1, 3, 0, 1 | 2, 0);
    wal_seed("two-segments-gap", 1, 6, 140, 1, 0);
    wal_seed_with("zero-tail", 1, 5, 0, 0, (wal_seed_opts_t){ .zeros = 1024 });
    wal_seed_with("zero-tail-torn", 1, 5, 0, 0, (wal_seed_opts_t){ .cut_tail = 5, .zeros = 700 });
    wal_seed_with("lost-sector", 1, 60, 0, 0, (wal_seed_opts_t){ .zeros = 600, .zero_at = 1100 });
    wal_seed_with("lost-sector-fixcrc", 1, 60, 0, 1, (wal_seed_opts_t){ .zero_at = 700 });
    seed("fuzz_raft_wal", "empty", "\x00", 1);
}

/* ---- snapshot files and hard state ---- */

static void snap_file(uint64_t index, uint64_t term, const char *config, const char *data,
                      bytes_t *out)
{
    char dir[256];
    tmp_path(dir, sizeof dir, "snap");
    fuzz_rm_rf(dir);
    if (mkdir(dir, 0755) < 0)
        die(dir);
    struct snap_writer *w;
    struct storage_error err;
    struct snap_meta meta;
    if (snap_writer_begin(dir, index, term, config, (uint32_t)strlen(config), &w, &err) < 0 ||
        snap_writer_write(w, data, strlen(data), &err) < 0 ||
        snap_writer_commit(w, &meta, &err) < 0) {
        fprintf(stderr, "make_corpus: %s\n", err.msg);
        exit(1);
    }
    char path[600];
    snprintf(path, sizeof path, "%s/%s/snap-%016llx-%016llx.snap", dir, SNAP_DIR,
             (unsigned long long)index, (unsigned long long)term);
    size_t len;
    uint8_t *bytes = read_whole(path, &len);
    add(out, bytes, len);
    free(bytes);
    fuzz_rm_rf(dir);
}

static void hardstate(bytes_t *b, uint64_t term, uint64_t vote, uint64_t commit)
{
    struct hardstate hs = { .term = term, .vote = vote, .commit = commit };
    uint8_t buf[HARDSTATE_SIZE];
    hardstate_encode(&hs, buf);
    add(b, buf, sizeof buf);
}

static void raft_snapfile(void)
{
    const char *T = "fuzz_raft_snapfile";
    bytes_t b = { 0 };
    add8(&b, 0);
    hardstate(&b, 5, 2, 100);
    seed_bytes(T, "hardstate-only", &b);

    add8(&b, 0);
    hardstate(&b, 5, 0, 0);
    adds(&b, "|SNAP|");
    snap_file(100, 3, "voters 1 2 3", "state machine bytes", &b);
    seed_bytes(T, "one-snapshot", &b);

    add8(&b, 1 | 8 | 0x30);
    hardstate(&b, 5, 0, 0);
    adds(&b, "|SNAP|");
    snap_file(100, 3, "", "data", &b);
    seed_bytes(T, "empty-config-fixcrc-receive", &b);

    add8(&b, 4 | 8);
    hardstate(&b, 7, 3, 0);
    adds(&b, "|SNAP|");
    snap_file(100, 3, "cfg", "older", &b);
    adds(&b, "|SNAP|");
    snap_file(200, 4, "cfg", "newer data, a bit longer", &b);
    seed_bytes(T, "two-snapshots-tmp-receive", &b);

    add8(&b, 1 | 2);
    hardstate(&b, 1, 1, 1);
    adds(&b, "|SNAP|");
    snap_file(5, 1, "c", "", &b);
    seed_bytes(T, "name-mismatch-fixcrc", &b);

    add8(&b, 0);
    adds(&b, "RAFTHST");
    adds(&b, "|SNAP|");
    adds(&b, "RAFTSNAP short");
    seed_bytes(T, "short-files", &b);
}

/* ---- DNS wire ---- */

static void dns_wire(void)
{
    const char *T = "fuzz_dns_wire";
    /* a query for www.example.com A with EDNS (DO set), then a builder program */
    static const uint8_t q[] = {
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1,
        3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
        0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0,
    };
    seed(T, "query-edns", q, sizeof q);
    seed(T, "query-plain", q, sizeof q - 11);
    /* a response-like packet with a compressed name, for dns_read_name */
    static const uint8_t r[] = {
        0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
        3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 5, 0, 1,
        0xc0, 12, 0, 5, 0, 1, 0, 0, 1, 0, 0, 6, 3, 'w', 'e', 'b', 0xc0, 16,
    };
    seed(T, "response-compressed", r, sizeof r);
    /* builder programs: op%5 0/1 RR (sel, section, owner, ttl x2, rdata), 2 mark,
     * 3 rollback, 4 limit; the first byte sets the limit */
    bytes_t b = { 0 };
    add(&b, q, sizeof q);
    adds(&b, "|B|");
    static const uint8_t prog1[] = {
        0xff,
        0, 1, 0, 1, 0, 60, 3,             /* NS -> pool name 3 */
        0, 5, 0, 2, 0, 60, 0, 10, 4,      /* MX 10 -> pool name 4 */
        0, 3, 1, 1, 0, 60, 1, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, /* SOA */
        2,                                /* mark */
        0, 8, 2, 3, 0, 1, 0, 1, 0, 2, 0x14, 0x00, 1, /* SRV */
        3,                                /* rollback */
        0, 6, 2, 2, 0, 9, 5, 4, 'a', 'b', 'c', 'd', /* TXT */
        0, 0, 2, 1, 0, 9, 192, 0, 2, 1,   /* A */
        4, 3,                             /* limit */
        0, 7, 2, 1, 0, 9, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, /* AAAA */
    };
    add(&b, prog1, sizeof prog1);
    seed_bytes(T, "query-and-program", &b);
    add(&b, r, sizeof r);
    adds(&b, "|B|");
    static const uint8_t prog2[] = {
        0x20, 0, 0x82, 0, 3, 0, 1, 5, 3, 'a', 'b', 'c', 1, 0, 0x81, 0, 4, 0, 1, 9, 4, 3, 'f', 'o', 'o', 0,
    };
    add(&b, prog2, sizeof prog2);
    seed_bytes(T, "raw-rdata-program", &b);
}

int main(void)
{
    log_set_level(LOG_OFF);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/make_corpus.XXXXXX");
    if (!mkdtemp(tmpdir))
        die("mkdtemp");
    kv_command();
    kv_snapshot();
    kv_admin();
    raft_codec();
    raft_wal();
    raft_snapfile();
    dns_wire();
    fuzz_rm_rf(tmpdir);
    return 0;
}
