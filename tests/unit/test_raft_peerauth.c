/* tests/unit/test_raft_peerauth.c — the cluster key layer (raft/peerauth.h):
 * key files (good, bad base64, short, long, three keys, comments, errors
 * as file:line), keygen output, a whole handshake between two in-memory
 * ends, wrong key, rotation, and every way a sealed record can be tampered
 * with: reflected, replayed, reordered, spliced from another session or a
 * frame from another record, any byte altered, truncated; and the shapes a
 * record's header and frames may have. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raft/peerauth.h"
#include "common/bytes.h"

/* base64 of 32 bytes 0x00..0x1f, of 32 bytes 0xa0..0xbf, of 31 bytes, of 65 bytes */
#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8="
#define KEY_SHORT "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="
#define KEY_65 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A="

static peerauth_ring_t ring_of(const char *text)
{
    peerauth_ring_t r;
    char err[256];
    int rc = peerauth_ring_parse(&r, text, strlen(text), "k", err, sizeof err);
    if (rc != 0)
        fail_msg("parse: %s", err);
    return r;
}

static void expect_error(const char *text, const char *want)
{
    peerauth_ring_t r;
    char err[256] = "";
    assert_int_equal(peerauth_ring_parse(&r, text, strlen(text), "k", err, sizeof err), -1);
    if (strcmp(err, want) != 0)
        fail_msg("error %s, want %s", err, want);
}

static void test_key_file(void **state)
{
    (void)state;
    peerauth_ring_t r = ring_of("# comment\n\n  " KEY_A "  \r\n# old key\n" KEY_B "\n");
    assert_int_equal(r.n, 2);
    assert_int_equal(r.keys[0].len, 32);
    assert_int_equal(r.keys[0].bytes[31], 0x1f);
    assert_int_equal(r.keys[1].bytes[0], 0xa0);
    assert_memory_not_equal(r.keys[0].id, r.keys[1].id, PEERAUTH_KEYID_LEN);
    r = ring_of(KEY_A); /* no final newline */
    assert_int_equal(r.n, 1);
    expect_error("# x\n" KEY_A "\n" KEY_B "\n" KEY_A "\n", "k:4: more than two keys (one signs, "
                 "at most one more verifies during a rotation)");
    expect_error("\n" KEY_SHORT "\n", "k:2: key shorter than 32 bytes");
    expect_error(KEY_65 "\n", "k:1: key longer than 64 bytes");
    expect_error("hello world!\n", "k:1: not base64 (bad character)");
    expect_error("abc\n", "k:1: not base64 (length is not a multiple of 4)");
    expect_error("AAEC=AME\n", "k:1: not base64 (bad character)");
    expect_error("# only comments\n\n", "k: no key (a line of base64 of 32 to 64 bytes)");
    expect_error(KEY_A "\n" KEY_A "\n", "k: the same key twice");
}

static void test_key_file_on_disk(void **state)
{
    (void)state;
    char path[] = "/tmp/test_peerauth_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, KEY_A "\n", strlen(KEY_A) + 1), (ssize_t)strlen(KEY_A) + 1);
    close(fd);
    peerauth_ring_t r;
    char err[256];
    bool too_open = true;
    chmod(path, 0600);
    assert_int_equal(peerauth_ring_load(&r, path, &too_open, err, sizeof err), 0);
    assert_false(too_open);
    chmod(path, 0644);
    assert_int_equal(peerauth_ring_load(&r, path, &too_open, err, sizeof err), 0);
    assert_true(too_open);
    unlink(path);
    assert_int_equal(peerauth_ring_load(&r, path, &too_open, err, sizeof err), -1);
    assert_int_equal(peerauth_ring_load(&r, "/tmp", &too_open, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
}

static void test_keygen_parses(void **state)
{
    (void)state;
    char text[256];
    size_t n = peerauth_keygen(text, sizeof text);
    assert_true(n > 0);
    assert_int_equal(text[0], '#');
    peerauth_ring_t r = ring_of(text);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.keys[0].len, 32);
    char other[256];
    peerauth_keygen(other, sizeof other);
    assert_string_not_equal(text, other);
    assert_int_equal(peerauth_keygen(text, 10), 0);
}

/* ---- handshakes between two in-memory ends ---- */

typedef struct pair {
    peerauth_hs_t d, a;
    peerauth_session_t *ds, *as; /* dialer's and acceptor's sessions */
} pair_t;

static const raft_hello_t dialer_self = { .id = 11, .name = "n1", .addr = "127.0.0.1:8301" };
static const raft_hello_t acceptor_self = { .id = 22, .name = "n2", .addr = "" };

/* Runs a handshake; true if both ends got a session. */
static bool handshake(pair_t *p, const peerauth_ring_t *dring, const peerauth_ring_t *aring,
                      const char **why)
{
    memset(p, 0, sizeof *p);
    uint8_t hello[PEERAUTH_HELLO_MAX], ch[PEERAUTH_CHALLENGE_MAX], proof[PEERAUTH_PROOF_LEN];
    size_t hl = peerauth_dialer_hello(&p->d, dring, &dialer_self, hello);
    assert_true(hl > 0);
    assert_int_equal(peerauth_hello_len(hello, hl, why), (int)hl);
    int cl = peerauth_acceptor_challenge(&p->a, aring, &acceptor_self, hello, hl, ch, why);
    if (cl < 0)
        return false;
    assert_int_equal(peerauth_reply_len(ch, (size_t)cl, why), cl);
    p->ds = peerauth_dialer_finish(&p->d, ch, (size_t)cl, 22, proof, why);
    if (!p->ds)
        return false;
    p->as = peerauth_acceptor_finish(&p->a, proof, why);
    return p->as != NULL;
}

static void pair_free(pair_t *p)
{
    peerauth_session_free(p->ds);
    peerauth_session_free(p->as);
}

/* A sealed record holding one frame with body `text` (type byte 1 then
 * the text). */
static size_t make_frame(peerauth_session_t *s, const char *text, uint8_t *out)
{
    uint8_t body[64];
    body[0] = 1;
    memcpy(body + 1, text, strlen(text));
    return peerauth_seal_one(s, out, body, 1 + strlen(text));
}

/* A record's payload length (small records: its first byte). */
static size_t body_of(const uint8_t *record) { return record[0]; }

static void test_full_handshake(void **state)
{
    (void)state;
    peerauth_ring_t ring = ring_of(KEY_A);
    pair_t p;
    const char *why = NULL;
    assert_true(handshake(&p, &ring, &ring, &why));
    assert_int_equal(p.a.peer.id, 11);
    assert_string_equal(p.a.peer.name, "n1");
    assert_string_equal(p.a.peer.addr, "127.0.0.1:8301");
    assert_int_equal(p.d.peer.id, 22);
    assert_string_equal(p.d.peer.name, "n2");
    uint8_t f[64];
    for (int i = 0; i < 3; i++) { /* both ways, several frames */
        make_frame(p.ds, "append", f);
        assert_true(peerauth_open(p.as, f, body_of(f)));
        make_frame(p.as, "reply", f);
        assert_true(peerauth_open(p.ds, f, body_of(f)));
    }
    pair_free(&p);
}

static void test_wrong_key_refused(void **state)
{
    (void)state;
    peerauth_ring_t a = ring_of(KEY_A), b = ring_of(KEY_B);
    pair_t p;
    const char *why = NULL;
    assert_false(handshake(&p, &a, &b, &why));
    assert_string_equal(why, "wrong cluster key (the peer's key id is not in our key file)");
    pair_free(&p);
    /* Same key id but other key bytes (a forged id): the acceptor's MAC
     * fails at the dialer, and a forged proof fails at the acceptor. */
    peerauth_ring_t forged = b;
    memcpy(forged.keys[0].id, a.keys[0].id, PEERAUTH_KEYID_LEN);
    assert_false(handshake(&p, &forged, &a, &why));
    assert_string_equal(why, "bad challenge MAC: the peer does not have our cluster key");
    pair_free(&p);
    uint8_t hello[PEERAUTH_HELLO_MAX], ch[PEERAUTH_CHALLENGE_MAX], proof[PEERAUTH_PROOF_LEN] = { 0 };
    size_t hl = peerauth_dialer_hello(&p.d, &forged, &dialer_self, hello);
    assert_true(peerauth_acceptor_challenge(&p.a, &a, &acceptor_self, hello, hl, ch, &why) > 0);
    assert_null(peerauth_acceptor_finish(&p.a, proof, &why));
    assert_string_equal(why, "bad proof: the peer does not have our cluster key");
}

static void test_rotation(void **state)
{
    (void)state;
    peerauth_ring_t old_only = ring_of(KEY_A), both_old_first = ring_of(KEY_A "\n" KEY_B),
                    both_new_first = ring_of(KEY_B "\n" KEY_A), new_only = ring_of(KEY_B);
    pair_t p;
    const char *why = NULL;
    /* every neighbouring pair of steps in the rotation talks, both ways */
    const peerauth_ring_t *steps[] = { &old_only, &both_old_first, &both_new_first, &new_only };
    for (int i = 0; i + 1 < 4; i++) {
        assert_true(handshake(&p, steps[i], steps[i + 1], &why));
        pair_free(&p);
        assert_true(handshake(&p, steps[i + 1], steps[i], &why));
        pair_free(&p);
    }
    assert_false(handshake(&p, &old_only, &new_only, &why));
    pair_free(&p);
}

static void test_dialer_checks_acceptor_id(void **state)
{
    (void)state;
    peerauth_ring_t ring = ring_of(KEY_A);
    peerauth_hs_t d, a;
    uint8_t hello[PEERAUTH_HELLO_MAX], ch[PEERAUTH_CHALLENGE_MAX], proof[PEERAUTH_PROOF_LEN];
    const char *why = NULL;
    size_t hl = peerauth_dialer_hello(&d, &ring, &dialer_self, hello);
    int cl = peerauth_acceptor_challenge(&a, &ring, &acceptor_self, hello, hl, ch, &why);
    assert_null(peerauth_dialer_finish(&d, ch, (size_t)cl, 33, proof, &why));
    assert_string_equal(why, "the node at that address is another member than the one we dialed");
}

static void test_reflected_replayed_reordered_spliced(void **state)
{
    (void)state;
    peerauth_ring_t ring = ring_of(KEY_A);
    pair_t p, q;
    const char *why = NULL;
    assert_true(handshake(&p, &ring, &ring, &why));
    assert_true(handshake(&q, &ring, &ring, &why));
    uint8_t f0[64], f1[64], g[64], r[64];
    make_frame(p.ds, "first", f0);
    make_frame(p.ds, "second", f1);
    /* reflected: the dialer's own frame back to it */
    assert_false(peerauth_open(p.ds, f0, body_of(f0)));
    /* reordered */
    assert_false(peerauth_open(p.as, f1, body_of(f1)));
    assert_true(peerauth_open(p.as, f0, body_of(f0)));
    /* replayed */
    assert_false(peerauth_open(p.as, f0, body_of(f0)));
    assert_true(peerauth_open(p.as, f1, body_of(f1)));
    /* spliced from another session at the same sequence number */
    make_frame(q.ds, "other", g);
    make_frame(q.ds, "other", g);
    make_frame(q.ds, "other", g);
    make_frame(p.ds, "other", r);
    assert_false(peerauth_open(p.as, g, body_of(g)));
    assert_true(peerauth_open(p.as, r, body_of(r)));
    /* a first frame of another session after the handshake's: same seq 0 */
    pair_t s;
    assert_true(handshake(&s, &ring, &ring, &why));
    make_frame(q.as, "x", g); /* acceptor->dialer seq 0 of q */
    assert_false(peerauth_open(s.ds, g, body_of(g)));
    pair_free(&s);
    pair_free(&p);
    pair_free(&q);
}

static void test_every_altered_byte(void **state)
{
    (void)state;
    peerauth_ring_t ring = ring_of(KEY_A);
    pair_t p;
    const char *why = NULL;
    assert_true(handshake(&p, &ring, &ring, &why));
    uint8_t f[64] = { 0 };
    size_t n = make_frame(p.ds, "payload", f);
    /* length, type, payload and tag: every bit flip refused */
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            uint8_t g[64];
            memcpy(g, f, sizeof g);
            g[i] ^= (uint8_t)(1 << bit);
            size_t body = i < 4 && (i > 0 || g[0] > 40) ? body_of(f) : body_of(g);
            assert_false(peerauth_open(p.as, g, body));
        }
    assert_true(peerauth_open(p.as, f, body_of(f))); /* the sequence did not move */
    /* truncated: the tag is read from where a shorter frame would end */
    make_frame(p.ds, "payload", f);
    assert_false(peerauth_open(p.as, f, body_of(f) - 1));
    pair_free(&p);
}

static void test_handshake_messages_altered_or_truncated(void **state)
{
    (void)state;
    peerauth_ring_t ring = ring_of(KEY_A);
    peerauth_hs_t d, a;
    uint8_t hello[PEERAUTH_HELLO_MAX], ch[PEERAUTH_CHALLENGE_MAX], proof[PEERAUTH_PROOF_LEN];
    const char *why = NULL;
    size_t hl = peerauth_dialer_hello(&d, &ring, &dialer_self, hello);
    for (size_t cut = 0; cut < hl; cut++) {
        int want = peerauth_hello_len(hello, cut, &why);
        assert_true(want == 0 || want == (int)hl);
        assert_int_equal(peerauth_acceptor_challenge(&a, &ring, &acceptor_self, hello, cut, ch, &why), -1);
    }
    int cl = peerauth_acceptor_challenge(&a, &ring, &acceptor_self, hello, hl, ch, &why);
    assert_true(cl > 0);
    /* any byte of the challenge altered: the dialer refuses it */
    for (int i = 0; i < cl; i++) {
        uint8_t g[PEERAUTH_CHALLENGE_MAX];
        memcpy(g, ch, (size_t)cl);
        g[i] ^= 0x40;
        peerauth_hs_t d2 = d;
        peerauth_session_t *s = peerauth_dialer_finish(&d2, g, (size_t)cl, 0, proof, &why);
        assert_null(s);
    }
    for (int cut = 0; cut < cl; cut++) {
        peerauth_hs_t d2 = d;
        assert_null(peerauth_dialer_finish(&d2, ch, (size_t)cut, 0, proof, &why));
    }
    /* the hello altered after the challenge was made (the acceptor's
     * transcript and the dialer's differ): the proof fails */
    peerauth_session_t *ds = peerauth_dialer_finish(&d, ch, (size_t)cl, 0, proof, &why);
    assert_non_null(ds);
    peerauth_hs_t a2;
    hello[hl - 1] ^= 1;
    assert_true(peerauth_acceptor_challenge(&a2, &ring, &acceptor_self, hello, hl, ch, &why) > 0);
    assert_null(peerauth_acceptor_finish(&a2, proof, &why));
    /* a refusal reads as one */
    uint8_t refuse[PEERAUTH_REFUSE_MAX];
    size_t rl = peerauth_refusal(refuse, "no key here");
    peerauth_hs_t d3;
    peerauth_dialer_hello(&d3, &ring, &dialer_self, hello);
    assert_null(peerauth_dialer_finish(&d3, refuse, rl, 0, proof, &why));
    assert_string_equal(why, "no key here");
    /* a v1 hello is named as such */
    memcpy(hello, RAFT_WIRE_MAGIC, 4);
    hello[4] = 1;
    assert_int_equal(peerauth_hello_len(hello, PEERAUTH_HELLO_FIXED, &why), -1);
    assert_string_equal(why, "unauthenticated peer (protocol v1, no cluster key)");
    /* and a keyed v2 hello (one MAC per frame) too */
    hello[4] = PEERAUTH_VERSION_PER_FRAME;
    assert_int_equal(peerauth_hello_len(hello, PEERAUTH_HELLO_FIXED, &why), -1);
    assert_non_null(strstr(why, "keyed protocol v2"));
    peerauth_session_free(ds);
}

/* A record of the frames named by `texts` (one frame each, type 1), sealed
 * with s; returns its size. */
static size_t make_record(peerauth_session_t *s, const char *const *texts, int n, uint8_t *out)
{
    size_t at = PEERAUTH_RECORD_HEADER;
    for (int i = 0; i < n; i++) {
        size_t body = 1 + strlen(texts[i]);
        put_le32(out + at, (uint32_t)body);
        out[at + RAFT_FRAME_HEADER] = 1;
        memcpy(out + at + RAFT_FRAME_HEADER + 1, texts[i], body - 1);
        at += RAFT_FRAME_HEADER + body;
    }
    put_le32(out, (uint32_t)(at - PEERAUTH_RECORD_HEADER));
    peerauth_seal(s, out, at - PEERAUTH_RECORD_HEADER);
    return at + PEERAUTH_TAG_LEN;
}

/* Several frames share a record and its one tag; a frame moved from one
 * record to another (spliced), a record cut short (a frame or its tag
 * missing), and frames that do not fill the record exactly are refused. */
static void test_records(void **state)
{
    (void)state;
    peerauth_ring_t ring = ring_of(KEY_A);
    pair_t p;
    const char *why = NULL;
    assert_true(handshake(&p, &ring, &ring, &why));
    static const char *const a[] = { "a1", "a2" }, *const b[] = { "b1", "b2" };
    uint8_t ra[128], rb[128], g[128];
    size_t na = make_record(p.ds, a, 2, ra), nb = make_record(p.ds, b, 2, rb);
    /* the frames of a, in order */
    assert_int_equal(peerauth_record_size(ra, na, &why), (long)na);
    const uint8_t *payload = ra + PEERAUTH_RECORD_HEADER, *body;
    size_t plen = na - PEERAUTH_RECORD_OVERHEAD, at = 0, len;
    assert_true(peerauth_record_valid(payload, plen, &why));
    assert_int_equal(peerauth_record_next(payload, plen, &at, &body, &len, &why), 1);
    assert_memory_equal(body, "\x01" "a1", 3);
    assert_int_equal(peerauth_record_next(payload, plen, &at, &body, &len, &why), 1);
    assert_memory_equal(body, "\x01" "a2", 3);
    assert_int_equal(peerauth_record_next(payload, plen, &at, &body, &len, &why), 0);
    /* spliced: a's first frame with b's second, under a's tag or b's */
    size_t f = RAFT_FRAME_HEADER + 3;
    memcpy(g, ra, na);
    memcpy(g + PEERAUTH_RECORD_HEADER + f, rb + PEERAUTH_RECORD_HEADER + f, f);
    assert_false(peerauth_open(p.as, g, plen));
    memcpy(g + PEERAUTH_RECORD_HEADER + 2 * f, rb + nb - PEERAUTH_TAG_LEN, PEERAUTH_TAG_LEN);
    assert_false(peerauth_open(p.as, g, plen));
    /* cut short: a without its second frame (the length fixed, a's tag) */
    memcpy(g, ra, PEERAUTH_RECORD_HEADER + f);
    put_le32(g, (uint32_t)f);
    memcpy(g + PEERAUTH_RECORD_HEADER + f, ra + na - PEERAUTH_TAG_LEN, PEERAUTH_TAG_LEN);
    assert_false(peerauth_open(p.as, g, f));
    /* a's tag read from where a shorter record would end */
    assert_false(peerauth_open(p.as, ra, plen - 1));
    /* the real ones, in order, still open: nothing above moved the sequence */
    assert_true(peerauth_open(p.as, ra, plen));
    assert_false(peerauth_open(p.as, ra, plen)); /* replayed */
    assert_true(peerauth_open(p.as, rb, nb - PEERAUTH_RECORD_OVERHEAD));
    pair_free(&p);
}

/* What a record's header may announce, and how its frames must fill it. */
static void test_record_shape(void **state)
{
    (void)state;
    const char *why = NULL;
    uint8_t h[4] = { 0 };
    assert_int_equal(peerauth_record_size(h, 3, &why), 0);
    put_le32(h, PEERAUTH_RECORD_MIN - 1);
    assert_int_equal(peerauth_record_size(h, 4, &why), -1);
    put_le32(h, PEERAUTH_RECORD_MIN);
    assert_int_equal(peerauth_record_size(h, 4, &why), PEERAUTH_RECORD_OVERHEAD + PEERAUTH_RECORD_MIN);
    put_le32(h, PEERAUTH_RECORD_MAX);
    assert_int_equal(peerauth_record_size(h, 4, &why), PEERAUTH_RECORD_OVERHEAD + PEERAUTH_RECORD_MAX);
    put_le32(h, PEERAUTH_RECORD_MAX + 1);
    assert_int_equal(peerauth_record_size(h, 4, &why), -1);
    assert_string_equal(why, "record larger than the limit");
    put_le32(h, 0xffffffffu);
    assert_int_equal(peerauth_record_size(h, 4, &why), -1);
    /* payloads: exact fill, an empty frame, a frame past the end, a cut header */
    uint8_t pl[16] = { 0 };
    put_le32(pl, 2);
    put_le32(pl + 6, 2);
    assert_true(peerauth_record_valid(pl, 12, &why));
    assert_false(peerauth_record_valid(pl, 11, &why));
    assert_string_equal(why, "frame runs past its record's end");
    assert_false(peerauth_record_valid(pl, 13, &why));
    assert_string_equal(why, "record ends inside a frame header");
    assert_false(peerauth_record_valid(pl, 16, &why));
    assert_string_equal(why, "empty frame in a record");
    put_le32(pl, RAFT_FRAME_MAX + 1);
    assert_false(peerauth_record_valid(pl, 12, &why));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_key_file_on_disk),
        cmocka_unit_test(test_keygen_parses),
        cmocka_unit_test(test_full_handshake),
        cmocka_unit_test(test_wrong_key_refused),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_dialer_checks_acceptor_id),
        cmocka_unit_test(test_reflected_replayed_reordered_spliced),
        cmocka_unit_test(test_every_altered_byte),
        cmocka_unit_test(test_handshake_messages_altered_or_truncated),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_record_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
