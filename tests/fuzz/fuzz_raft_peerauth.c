/* tests/fuzz/fuzz_raft_peerauth.c — libFuzzer target for the cluster key
 * layer (raft/peerauth.h): the acceptor's side of the handshake and the
 * frame MAC, the first code that touches a keyed peer's bytes.
 *
 * The first input byte picks a mode; the rest is:
 *   0: a dialer's HELLO for the acceptor (fixed key ring), then a PROOF: a
 *      CHALLENGE may come out, but no session (nobody without the key can
 *      make the proof); the same bytes as a CHALLENGE-or-REFUSE for a dialer.
 *   1: after a real handshake, a byte stream read as the transport reads
 *      sealed frames (length | body | tag): no frame made without the
 *      session key opens.
 *   2: after a real handshake, frames the dialer seals from the input, each
 *      possibly with one byte flipped (length, body or tag): a frame opens
 *      exactly when it was not altered, and sequence numbers stay in step.
 *   3: a key file's text: parsed, or refused with a "k:..." message; a
 *      parsed ring has one or two keys of 32..64 bytes.
 * Seeds (tests/fuzz/corpus/fuzz_raft_peerauth/) are a real HELLO, a
 * refusal, a challenge and frame streams, written by hand with Python. */
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

static void forged_frames(peerauth_session_t *as, const uint8_t *in, size_t n)
{
    while (n >= RAFT_FRAME_HEADER) {
        size_t body = le32(in);
        if (body == 0 || body > n - RAFT_FRAME_HEADER ||
            n - RAFT_FRAME_HEADER - body < PEERAUTH_TAG_LEN)
            return;
        check(!peerauth_open(as, in, body));
        in += RAFT_FRAME_HEADER + body + PEERAUTH_TAG_LEN;
        n -= RAFT_FRAME_HEADER + body + PEERAUTH_TAG_LEN;
    }
}

/* Input: pieces of  len u8 | flip u8 | body (len bytes); flip 0: intact,
 * else flip byte (flip - 1) mod frame size. */
static void sealed_frames(peerauth_session_t *ds, peerauth_session_t *as, const uint8_t *in,
                          size_t n)
{
    uint8_t f[RAFT_FRAME_HEADER + 256 + PEERAUTH_TAG_LEN];
    while (n >= 2) {
        size_t body = in[0], flip = in[1];
        in += 2;
        n -= 2;
        if (body == 0 || body > n)
            return;
        f[0] = (uint8_t)body;
        f[1] = f[2] = f[3] = 0;
        memcpy(f + RAFT_FRAME_HEADER, in, body);
        in += body;
        n -= body;
        peerauth_seal(ds, f, body);
        size_t total = RAFT_FRAME_HEADER + body + PEERAUTH_TAG_LEN;
        if (flip) {
            size_t at = (flip - 1) % total;
            f[at] ^= 0x01;
            size_t claimed = at == 0 && le32(f) <= 256 && le32(f) > 0 ? le32(f) : body;
            check(!peerauth_open(as, f, claimed));
            f[at] ^= 0x01;
        }
        check(peerauth_open(as, f, body));
    }
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
    uint8_t mode = data[0] % 4;
    if (mode == 0) {
        hostile_handshake(data + 1, size - 1);
        return 0;
    }
    if (mode == 3) {
        key_file(data + 1, size - 1);
        return 0;
    }
    peerauth_session_t *ds, *as;
    handshake(&ds, &as);
    if (mode == 1)
        forged_frames(as, data + 1, size - 1);
    else
        sealed_frames(ds, as, data + 1, size - 1);
    peerauth_session_free(ds);
    peerauth_session_free(as);
    return 0;
}
