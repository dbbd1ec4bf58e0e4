/* tests/fuzz/fuzz_raft_peerauth.c — libFuzzer target for the cluster key
 * layer (raft/peerauth.h): the acceptor's side of the handshake and the
 * sealed records, the first code that touches a keyed peer's bytes.
 *
 * The first input byte picks a mode; the rest is:
 *   0: a dialer's HELLO for the acceptor (fixed key ring), then a PROOF: a
 *      CHALLENGE may come out, but no session (nobody without the key can
 *      make the proof); the same bytes as a CHALLENGE-or-REFUSE for a dialer.
 *   1: after a real handshake, a byte stream read as the transport reads
 *      records (length | payload | tag): no record made without the session
 *      key opens.
 *   2: after a real handshake, records the dialer seals from the input (each
 *      of one or more frames), each possibly with one byte flipped (record
 *      length, a frame's length or body, or the tag): a record opens exactly
 *      when it was not altered, sequence numbers stay in step, and an opened
 *      record gives back exactly the frames sealed into it.
 *   3: a key file's text: parsed, or refused with a "k:..." message; a
 *      parsed ring has one or two keys of 32..64 bytes.
 *   4: a record's payload as the receiver walks it after its tag matched:
 *      every frame returned lies inside the payload, and a payload is valid
 *      exactly when its frames fill it.
 * Seeds (tests/fuzz/corpus/fuzz_raft_peerauth/) are a real HELLO, a
 * refusal, a challenge, record streams and payloads, written with Python
 * (tests/fuzz/peerauth_seeds.py). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raft/peerauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

static const char key_text[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
static const raft_hello_t dialer_self = { .id = 11, .name = "n1", .addr = "127.0.0.1:8301" };
static const raft_hello_t acceptor_self = { .id = 22, .name = "n2", .addr = "" };

static const peerauth_ring_t *ring(void)
{
    static peerauth_ring_t r;
    static int loaded;
    if (!loaded) {
        char err[128];
        check(peerauth_ring_parse(&r, key_text, sizeof key_text - 1, "k", err, sizeof err) == 0);
        loaded = 1;
    }
    return &r;
}

static void hostile_handshake(const uint8_t *in, size_t n)
{
    peerauth_hs_t hs;
    uint8_t ch[PEERAUTH_CHALLENGE_MAX], proof[PEERAUTH_PROOF_LEN];
    const char *why = NULL;
    int want = peerauth_hello_len(in, n, &why);
    check(want == -1 ? why != NULL : want == 0 || want >= PEERAUTH_HELLO_FIXED);
    if (want > 0 && (size_t)want <= n) {
        int cl = peerauth_acceptor_challenge(&hs, ring(), &acceptor_self, in, (size_t)want, ch, &why);
        if (cl > 0) {
            check(cl <= PEERAUTH_CHALLENGE_MAX);
            check(hs.peer.id != 0 && strlen(hs.peer.name) > 0);
            uint8_t p[PEERAUTH_PROOF_LEN] = { 0 };
            size_t rest = n - (size_t)want;
            memcpy(p, in + want, rest < sizeof p ? rest : sizeof p);
            check(peerauth_acceptor_finish(&hs, p, &why) == NULL);
        }
    }
    /* the same bytes as the acceptor's reply to a real dialer */
    uint8_t hello[PEERAUTH_HELLO_MAX];
    check(peerauth_dialer_hello(&hs, ring(), &dialer_self, hello) > 0);
    want = peerauth_reply_len(in, n, &why);
    if (want > 0 && (size_t)want <= n)
        check(peerauth_dialer_finish(&hs, in, (size_t)want, 0, proof, &why) == NULL);
}

static int handshake(peerauth_session_t **ds, peerauth_session_t **as)
{
    peerauth_hs_t d, a;
    uint8_t hello[PEERAUTH_HELLO_MAX], ch[PEERAUTH_CHALLENGE_MAX], proof[PEERAUTH_PROOF_LEN];
    const char *why = NULL;
    size_t hl = peerauth_dialer_hello(&d, ring(), &dialer_self, hello);
    int cl = peerauth_acceptor_challenge(&a, ring(), &acceptor_self, hello, hl, ch, &why);
    check(cl > 0);
    *ds = peerauth_dialer_finish(&d, ch, (size_t)cl, 22, proof, &why);
    check(*ds != NULL);
    *as = peerauth_acceptor_finish(&a, proof, &why);
    check(*as != NULL);
    return 0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void forged_records(peerauth_session_t *as, const uint8_t *in, size_t n)
{
    const char *why = NULL;
    long size;
    while ((size = peerauth_record_size(in, n, &why)) > 0 && (size_t)size <= n) {
        check(!peerauth_open(as, in, (size_t)size - PEERAUTH_RECORD_OVERHEAD));
        in += size;
        n -= (size_t)size;
    }
    check(size >= 0 || why != NULL);
}

enum { FRAMES_MAX = 8, BODY_MAX = 255 };
enum { REC_MAX = PEERAUTH_RECORD_OVERHEAD + FRAMES_MAX * (RAFT_FRAME_HEADER + BODY_MAX) };

/* Input: pieces of  frames u8 | flip u8 | frames x (len u8 | body (len
 * bytes)); flip 0: intact, else flip byte (flip - 1) mod record size. */
static void sealed_records(peerauth_session_t *ds, peerauth_session_t *as, const uint8_t *in,
                           size_t n)
{
    static uint8_t r[REC_MAX];
    const uint8_t *bodies[FRAMES_MAX];
    size_t lens[FRAMES_MAX];
    while (n >= 2) {
        size_t frames = in[0] % FRAMES_MAX + 1, flip = in[1];
        in += 2;
        n -= 2;
        size_t at = PEERAUTH_RECORD_HEADER;
        for (size_t i = 0; i < frames; i++) {
            if (n < 1 || in[0] == 0 || in[0] > n - 1)
                return;
            lens[i] = in[0];
            bodies[i] = in + 1;
            r[at] = (uint8_t)lens[i];
            r[at + 1] = r[at + 2] = r[at + 3] = 0;
            memcpy(r + at + RAFT_FRAME_HEADER, bodies[i], lens[i]);
            at += RAFT_FRAME_HEADER + lens[i];
            in += 1 + lens[i];
            n -= 1 + lens[i];
        }
        size_t payload = at - PEERAUTH_RECORD_HEADER;
        r[0] = (uint8_t)payload;
        r[1] = (uint8_t)(payload >> 8);
        r[2] = r[3] = 0;
        peerauth_seal(ds, r, payload);
        size_t total = at + PEERAUTH_TAG_LEN;
        if (flip) {
            size_t f = (flip - 1) % total;
            r[f] ^= 0x01;
            size_t claimed = le32(r);
            if (claimed + PEERAUTH_RECORD_OVERHEAD > total)
                claimed = payload; /* a longer one would read past the record */
            check(!peerauth_open(as, r, claimed));
            r[f] ^= 0x01;
        }
        check(peerauth_open(as, r, payload));
        const char *why = NULL;
        const uint8_t *body;
        size_t pos = 0, len, i = 0;
        while (peerauth_record_next(r + PEERAUTH_RECORD_HEADER, payload, &pos, &body, &len,
                                    &why) == 1) {
            check(i < frames && len == lens[i] && memcmp(body, bodies[i], len) == 0);
            i++;
        }
        check(i == frames && pos == payload);
    }
}

static void record_payload(const uint8_t *in, size_t n)
{
    const char *why = NULL;
    const uint8_t *body;
    size_t at = 0, len, sum = 0;
    int r;
    while ((r = peerauth_record_next(in, n, &at, &body, &len, &why)) == 1) {
        check(len >= 1 && len <= RAFT_FRAME_MAX && body >= in && body + len <= in + n);
        sum += RAFT_FRAME_HEADER + len;
        check(at == sum);
    }
    check(r == 0 ? at == n : why != NULL);
    check(peerauth_record_valid(in, n, &why) == (r == 0));
}

static void key_file(const uint8_t *in, size_t n)
{
    peerauth_ring_t r;
    char err[256] = "";
    if (peerauth_ring_parse(&r, (const char *)in, n, "k", err, sizeof err) != 0) {
        check(err[0] == 'k' && err[1] == ':');
        return;
    }
    check(r.n >= 1 && r.n <= PEERAUTH_KEYS_MAX);
    for (size_t i = 0; i < r.n; i++)
        check(r.keys[i].len >= PEERAUTH_KEY_MIN && r.keys[i].len <= PEERAUTH_KEY_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 5;
    if (mode == 0) {
        hostile_handshake(data + 1, size - 1);
        return 0;
    }
    if (mode == 3) {
        key_file(data + 1, size - 1);
        return 0;
    }
    if (mode == 4) {
        record_payload(data + 1, size - 1);
        return 0;
    }
    peerauth_session_t *ds, *as;
    handshake(&ds, &as);
    if (mode == 1)
        forged_records(as, data + 1, size - 1);
    else
        sealed_records(ds, as, data + 1, size - 1);
    peerauth_session_free(ds);
    peerauth_session_free(as);
    return 0;
}
