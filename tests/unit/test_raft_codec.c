/* tests/unit/test_raft_codec.c — the peer wire codec: round trips of every
 * message type, every truncation rejected, hand-built hostile frames, and
 * well-formed frames that say impossible things (terms and indexes at the
 * 2^63 limit, entry terms, snapshot metadata: raft_msg_check). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "raft/codec.h"

static uint8_t *encode(const raft_msg_t *m, size_t *len)
{
    *len = raft_codec_frame_size(m);
    uint8_t *buf = malloc(*len);
    assert_non_null(buf);
    raft_codec_encode(m, buf);
    uint32_t body = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
                    (uint32_t)buf[3] << 24;
    assert_int_equal(body, *len - RAFT_FRAME_HEADER);
    return buf;
}

static raft_entry_t sample_entries[3] = {
    { .term = 2, .index = 11, .type = RAFT_ENTRY_NOOP, .data = NULL, .len = 0 },
    { .term = 2, .index = 12, .type = RAFT_ENTRY_NORMAL, .data = (const uint8_t *)"hello", .len = 5 },
    { .term = 3, .index = 13, .type = RAFT_ENTRY_CONFIG, .data = (const uint8_t *)"\x01\x02", .len = 2 },
};

static raft_msg_t sample_append(void)
{
    raft_msg_t m = { .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 3 };
    m.u.append.prev_index = 10;
    m.u.append.prev_term = 2;
    m.u.append.commit = 9;
    m.u.append.entries = sample_entries;
    m.u.append.n_entries = 3;
    return m;
}

static raft_msg_t sample_snapshot(void)
{
    raft_msg_t m = { .type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 3, .term = 7 };
    raft_snapshot_chunk_t *c = &m.u.snapshot;
    c->index = 100;
    c->term = 6;
    c->members.n_voters = 3;
    c->members.voters[0] = 1;
    c->members.voters[1] = 2;
    c->members.voters[2] = 3;
    c->members.n_learners = 1;
    c->members.learners[0] = 9;
    c->total_len = 10;
    c->offset = 6;
    c->data = (const uint8_t *)"abcd";
    c->len = 4;
    c->last = true;
    return m;
}

/* Every message type, encoded then decoded, comes back field for field. */
static void test_round_trip_every_type(void **state)
{
    (void)state;
    raft_msg_t msgs[11];
    memset(msgs, 0, sizeof msgs);
    msgs[0] = sample_append();
    msgs[1] = (raft_msg_t){ .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 3 };
    msgs[1].u.append_resp = (raft_append_resp_t){ false, 10, 7, 2 };
    msgs[2] = (raft_msg_t){ .type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2, .term = 3 };
    msgs[2].u.heartbeat = (raft_heartbeat_t){ 9, 44 };
    msgs[3] = (raft_msg_t){ .type = RAFT_MSG_HEARTBEAT_RESP, .from = 2, .to = 1, .term = 3 };
    msgs[3].u.heartbeat_resp.read_seq = 44;
    msgs[4] = (raft_msg_t){ .type = RAFT_MSG_VOTE, .from = 3, .to = 1, .term = 4 };
    msgs[4].u.vote = (raft_vote_t){ true, true, 12, 3 };
    msgs[5] = (raft_msg_t){ .type = RAFT_MSG_VOTE_RESP, .from = 1, .to = 3, .term = 4 };
    msgs[5].u.vote_resp = (raft_vote_resp_t){ true, true };
    msgs[6] = sample_snapshot();
    msgs[7] = (raft_msg_t){ .type = RAFT_MSG_SNAPSHOT_RESP, .from = 3, .to = 1, .term = 7 };
    msgs[7].u.snapshot_resp = (raft_snapshot_resp_t){ 100, 10, true, 100 };
    msgs[8] = (raft_msg_t){ .type = RAFT_MSG_TIMEOUT_NOW, .from = 1, .to = 2, .term = 7 };
    msgs[9] = (raft_msg_t){ .type = RAFT_MSG_READ_INDEX, .from = 2, .to = 1, .term = 7 };
    msgs[9].u.read_index.ctx = 0xdeadbeef;
    msgs[10] = (raft_msg_t){ .type = RAFT_MSG_READ_INDEX_RESP, .from = 1, .to = 2, .term = 7 };
    msgs[10].u.read_index_resp = (raft_read_index_resp_t){ 0xdeadbeef, 55, true };

    raft_codec_scratch_t s = { 0 };
    for (size_t i = 0; i < 11; i++) {
        size_t len;
        uint8_t *buf = encode(&msgs[i], &len);
        raft_msg_t out;
        const char *why = NULL;
        assert_int_equal(raft_codec_decode(buf + 4, len - 4, &out, &s, &why), 0);
        assert_int_equal(out.type, msgs[i].type);
        assert_int_equal(out.from, msgs[i].from);
        assert_int_equal(out.to, msgs[i].to);
        assert_int_equal(out.term, msgs[i].term);
        if (out.type == RAFT_MSG_APPEND) {
            assert_int_equal(out.u.append.n_entries, 3);
            assert_int_equal(out.u.append.prev_index, 10);
            assert_int_equal(out.u.append.commit, 9);
            for (int k = 0; k < 3; k++) {
                assert_int_equal(out.u.append.entries[k].index, sample_entries[k].index);
                assert_int_equal(out.u.append.entries[k].term, sample_entries[k].term);
                assert_int_equal(out.u.append.entries[k].type, sample_entries[k].type);
                assert_int_equal(out.u.append.entries[k].len, sample_entries[k].len);
                if (sample_entries[k].len)
                    assert_memory_equal(out.u.append.entries[k].data, sample_entries[k].data,
                                        sample_entries[k].len);
            }
        } else if (out.type == RAFT_MSG_SNAPSHOT) {
            const raft_snapshot_chunk_t *c = &out.u.snapshot;
            assert_int_equal(c->index, 100);
            assert_int_equal(c->members.n_voters, 3);
            assert_int_equal(c->members.learners[0], 9);
            assert_int_equal(c->offset, 6);
            assert_true(c->last);
            assert_memory_equal(c->data, "abcd", 4);
        } else {
            assert_memory_equal(&out.u, &msgs[i].u, sizeof out.u);
        }
        free(buf);
    }
    raft_codec_scratch_free(&s);
}

/* Cutting a valid frame body short anywhere must fail cleanly. */
static void test_every_truncation_rejected(void **state)
{
    (void)state;
    raft_msg_t msgs[2] = { sample_append(), sample_snapshot() };
    raft_codec_scratch_t s = { 0 };
    for (int k = 0; k < 2; k++) {
        size_t len;
        uint8_t *buf = encode(&msgs[k], &len);
        for (size_t cut = 0; cut < len - 4; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
            memcpy(copy, buf + 4, cut);
            raft_msg_t out;
            const char *why = NULL;
            assert_int_equal(raft_codec_decode(copy, cut, &out, &s, &why), -1);
            assert_non_null(why);
            free(copy);
        }
        free(buf);
    }
    raft_codec_scratch_free(&s);
}

static void expect_reject(const uint8_t *body, size_t len, const char *reason)
{
    raft_codec_scratch_t s = { 0 };
    raft_msg_t out;
    const char *why = NULL;
    assert_int_equal(raft_codec_decode(body, len, &out, &s, &why), -1);
    assert_string_equal(why, reason);
    raft_codec_scratch_free(&s);
}

static size_t header(uint8_t *p, uint8_t type)
{
    memset(p, 0, 25);
    p[0] = type;
    p[1] = 1;  /* from = 1 */
    p[9] = 2;  /* to = 2 */
    p[17] = 5; /* term = 5 */
    return 25;
}

static void test_hostile_frames(void **state)
{
    (void)state;
    uint8_t b[256];
    size_t n;

    n = header(b, 42);
    expect_reject(b, n, "unknown message type");
    n = header(b, 0);
    expect_reject(b, n, "unknown message type");

    n = header(b, RAFT_MSG_TIMEOUT_NOW);
    b[1] = 0;
    expect_reject(b, n, "node id 0 in message header");

    n = header(b, RAFT_MSG_TIMEOUT_NOW);
    b[n++] = 0;
    expect_reject(b, n, "trailing bytes after message");

    n = header(b, RAFT_MSG_VOTE_RESP);
    b[n++] = 0x04;
    expect_reject(b, n, "unknown flag bits");

    n = header(b, RAFT_MSG_APPEND_RESP);
    b[n++] = 2; /* success = 2 */
    memset(b + n, 0, 24);
    n += 24;
    expect_reject(b, n, "boolean field not 0 or 1");

    /* An append claiming 4 billion entries must not allocate for them. */
    n = header(b, RAFT_MSG_APPEND);
    memset(b + n, 0, 24);
    n += 24;
    b[n++] = 0xff; b[n++] = 0xff; b[n++] = 0xff; b[n++] = 0xff;
    expect_reject(b, n, "entry count larger than frame");

    /* One entry whose length runs past the frame. */
    n = header(b, RAFT_MSG_APPEND);
    memset(b + n, 0, 24);
    n += 24;
    b[n++] = 1; b[n++] = 0; b[n++] = 0; b[n++] = 0;
    memset(b + n, 0, 21);
    b[n + 8] = 1;                 /* index 1 (prev_index 0 + 1) */
    b[n + 16] = RAFT_ENTRY_NORMAL;
    b[n + 17] = 0xff;             /* len 255, but only 0 bytes follow */
    n += 21;
    expect_reject(b, n, "entry data past end of frame");

    /* Entries must be contiguous after prev_index. */
    b[n - 21 + 8] = 2;
    b[n - 21 + 17] = 0;
    expect_reject(b, n, "entries not contiguous");

    b[n - 21 + 8] = 1;
    b[n - 21 + 16] = 9;
    expect_reject(b, n, "unknown entry type");

    /* Snapshot chunks: membership and offsets checked. */
    n = header(b, RAFT_MSG_SNAPSHOT);
    memset(b + n, 0, 16);
    n += 16;
    b[n++] = 17; b[n++] = 0; b[n++] = 0; b[n++] = 0; /* 17 voters */
    memset(b + n, 0, 4);
    n += 4;
    expect_reject(b, n, "too many members");

    raft_msg_t m = sample_snapshot();
    m.u.snapshot.last = false; /* offset 6 + 4 == total 10, so last must be set */
    size_t len;
    uint8_t *buf = encode(&m, &len);
    expect_reject(buf + 4, len - 4, "snapshot last flag inconsistent");
    free(buf);
    m = sample_snapshot();
    m.u.snapshot.total_len = 8;
    buf = encode(&m, &len);
    expect_reject(buf + 4, len - 4, "snapshot chunk outside the snapshot");
    free(buf);
}

/* Decodes m's encoding; expects rejection with `reason` (NULL: accepted). */
static void expect_decode(const raft_msg_t *m, const char *reason)
{
    size_t len;
    uint8_t *buf = encode(m, &len);
    raft_codec_scratch_t s = { 0 };
    raft_msg_t out;
    const char *why = NULL;
    int rc = raft_codec_decode(buf + 4, len - 4, &out, &s, &why);
    if (reason) {
        assert_int_equal(rc, -1);
        assert_string_equal(why, reason);
    } else {
        assert_int_equal(rc, 0);
    }
    raft_codec_scratch_free(&s);
    free(buf);
}

/* Issue #12: well-formed frames saying impossible things. A heartbeat with
 * term 2^64-1 once left a cluster leaderless for good; every term and
 * index from the wire is now below 2^63 (raft.h RAFT_TERM_LIMIT), entries
 * and snapshots are what an honest leader could send (raft_msg_check). */
static void test_terms_indexes_and_meaning_checked(void **state)
{
    (void)state;
    raft_msg_t hb = { .type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2, .term = UINT64_MAX };
    expect_decode(&hb, "term at or above the limit");
    hb.term = RAFT_TERM_LIMIT;
    expect_decode(&hb, "term at or above the limit");
    hb.term = RAFT_TERM_LIMIT - 1; /* the largest term an honest peer may use */
    expect_decode(&hb, NULL);
    hb.term = 0;
    expect_decode(&hb, "leader or candidate message in term 0");
    hb.term = 3;
    hb.u.heartbeat.commit = RAFT_INDEX_LIMIT;
    expect_decode(&hb, "heartbeat commit at or above the limit");

    raft_entry_t e[3];
    memcpy(e, sample_entries, sizeof e);
    raft_msg_t m = sample_append();
    m.u.append.entries = e;
    expect_decode(&m, NULL);
    e[2].term = 4; /* above the message term 3 */
    expect_decode(&m, "entry term above the message term");
    e[2].term = 1; /* below the entry before it */
    expect_decode(&m, "entry terms decreasing");
    e[2].term = 3;
    e[0].term = 1; /* below prev_term 2 */
    expect_decode(&m, "entry terms decreasing");
    e[0].term = 0;
    expect_decode(&m, "entry of term 0");
    e[0].term = 2;
    m.u.append.prev_term = 4;
    expect_decode(&m, "append prev_term above the message term");
    m.u.append.prev_term = 0;
    expect_decode(&m, "append prev_term 0 with an index, or a term at index 0");
    m.u.append.prev_term = 2;
    m.u.append.commit = UINT64_MAX;
    expect_decode(&m, "append index at or above the limit");
    m.u.append.commit = 9;
    m.u.append.prev_index = RAFT_INDEX_LIMIT - 2;
    for (int i = 0; i < 3; i++)
        e[i].index = RAFT_INDEX_LIMIT - 1 + (raft_index_t)i;
    expect_decode(&m, "append entries past the index limit");
    m.u.append.prev_index = RAFT_INDEX_LIMIT;
    m.u.append.n_entries = 0;
    expect_decode(&m, "append index at or above the limit");

    raft_msg_t r = { .type = RAFT_MSG_APPEND_RESP, .from = 2, .to = 1, .term = 3 };
    r.u.append_resp = (raft_append_resp_t){ false, 10, 7, 4 };
    expect_decode(&r, "append response hint term above the message term");
    r.u.append_resp = (raft_append_resp_t){ false, RAFT_INDEX_LIMIT, 7, 2 };
    expect_decode(&r, "append response index at or above the limit");

    raft_msg_t v = { .type = RAFT_MSG_VOTE, .from = 3, .to = 1, .term = 4 };
    v.u.vote = (raft_vote_t){ true, false, 12, 5 };
    expect_decode(&v, "vote last term above the term asked for");
    v.u.vote = (raft_vote_t){ false, false, UINT64_MAX, 3 };
    expect_decode(&v, "vote last index at or above the limit");
    v.u.vote.last_index = 12;
    v.term = 0;
    expect_decode(&v, "leader or candidate message in term 0");

    raft_msg_t sn = sample_snapshot();
    expect_decode(&sn, NULL);
    sn.u.snapshot.term = 8; /* above the message term 7 */
    expect_decode(&sn, "snapshot term 0 or above the message term");
    sn.u.snapshot.term = 0;
    expect_decode(&sn, "snapshot term 0 or above the message term");
    sn = sample_snapshot();
    sn.u.snapshot.index = 0;
    expect_decode(&sn, "snapshot index 0 or at or above the limit");
    sn.u.snapshot.index = RAFT_INDEX_LIMIT;
    expect_decode(&sn, "snapshot index 0 or at or above the limit");
    sn = sample_snapshot();
    sn.u.snapshot.members.n_voters = 0; /* learner 9 alone: nobody votes */
    expect_decode(&sn, "snapshot configuration empty or invalid");
    sn = sample_snapshot();
    sn.u.snapshot.members.voters[2] = 1; /* voter 1 twice */
    expect_decode(&sn, "snapshot configuration empty or invalid");
    sn = sample_snapshot();
    sn.u.snapshot.members.learners[0] = 2; /* both voter and learner */
    expect_decode(&sn, "snapshot configuration empty or invalid");

    raft_msg_t sr = { .type = RAFT_MSG_SNAPSHOT_RESP, .from = 2, .to = 1, .term = 4 };
    sr.u.snapshot_resp = (raft_snapshot_resp_t){ 100, 10, true, RAFT_INDEX_LIMIT };
    expect_decode(&sr, "snapshot response index at or above the limit");
    raft_msg_t ri = { .type = RAFT_MSG_READ_INDEX_RESP, .from = 1, .to = 2, .term = 4 };
    ri.u.read_index_resp = (raft_read_index_resp_t){ 77, UINT64_MAX, true };
    expect_decode(&ri, "read index at or above the limit");
    raft_msg_t tn = { .type = RAFT_MSG_TIMEOUT_NOW, .from = 1, .to = 2, .term = 0 };
    expect_decode(&tn, "leader or candidate message in term 0");
}

static void test_hello(void **state)
{
    (void)state;
    uint8_t h[RAFT_HELLO_LEN + RAFT_NAME_MAX + RAFT_ADDR_MAX];
    raft_hello_t in = { .id = 0x1122334455667788ull, .name = "id0", .addr = "127.0.0.1:8300" };
    size_t n = raft_codec_hello(h, &in);
    assert_int_equal(n, RAFT_HELLO_LEN + 3 + 14);
    assert_true(h[0] >= 0x80); /* not ASCII: tells a peer from a person */
    const char *why = NULL;
    assert_int_equal(raft_codec_hello_rest(h, &why), 17);
    raft_hello_t out;
    assert_int_equal(raft_codec_parse_hello(h, n, &out, &why), 0);
    assert_int_equal(out.id, in.id);
    assert_string_equal(out.name, "id0");
    assert_string_equal(out.addr, "127.0.0.1:8300");

    uint8_t bad[sizeof h];
    memcpy(bad, h, n);
    bad[1] = 'X';
    assert_int_equal(raft_codec_hello_rest(bad, &why), -1);
    assert_string_equal(why, "bad magic");
    memcpy(bad, h, n);
    bad[4] = 2;
    assert_int_equal(raft_codec_parse_hello(bad, n, &out, &why), -1);
    assert_string_equal(why, "unsupported protocol version");
    memcpy(bad, h, n);
    bad[5] = 0x93; /* found by fuzz_raft_codec: the reserved byte was ignored */
    assert_int_equal(raft_codec_parse_hello(bad, n, &out, &why), -1);
    assert_string_equal(why, "nonzero reserved byte");
    memcpy(bad, h, n);
    bad[6] = 200;
    assert_int_equal(raft_codec_hello_rest(bad, &why), -1);
    assert_string_equal(why, "name or address too long");
    memcpy(bad, h, n);
    bad[RAFT_HELLO_LEN + 1] = '\n';
    assert_int_equal(raft_codec_parse_hello(bad, n, &out, &why), -1);
    assert_string_equal(why, "unprintable name or address in hello");
    assert_int_equal(raft_codec_parse_hello(h, n - 1, &out, &why), -1);
    assert_string_equal(why, "hello length mismatch");
    in.id = 0;
    n = raft_codec_hello(bad, &in);
    assert_int_equal(raft_codec_parse_hello(bad, n, &out, &why), -1);
    assert_string_equal(why, "sender id 0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_every_truncation_rejected),
        cmocka_unit_test(test_hostile_frames),
        cmocka_unit_test(test_terms_indexes_and_meaning_checked),
        cmocka_unit_test(test_hello),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
