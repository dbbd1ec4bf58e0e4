/* raft/authjoin.c — join request over an authenticated connection (see
 * authjoin.h). Runs on the joiner's own thread with a blocking socket; every
 * read is bounded by poll, every length by the protocol's maxima. */
#include "raft/authjoin.h"
#include "common/bytes.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { RESP_MAX = 512 };

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* Reads exactly n bytes, each wait bounded; false on EOF, error or timeout. */
static bool read_exact(int fd, uint8_t *p, size_t n, unsigned timeout_ms)
{
    while (n > 0) {
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        int r = poll(&pf, 1, (int)timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* The acceptor's CHALLENGE (or REFUSE), whole; its length or -1. */
static int read_reply(int fd, uint8_t *buf, unsigned timeout_ms, const char **why)
{
    size_t have = 0;
    for (;;) {
        int want = peerauth_reply_len(buf, have, why);
        if (want < 0)
            return -1;
        if (want > 0 && have >= (size_t)want)
            return want;
        size_t need = want > 0 ? (size_t)want
                      : have < PEERAUTH_REFUSE_FIXED ? PEERAUTH_REFUSE_FIXED : RAFT_HELLO_LEN;
        if (!read_exact(fd, buf + have, need - have, timeout_ms)) {
            *why = "closed during the handshake: does the member have our cluster key?";
            return -1;
        }
        have = need;
    }
}

/* PROOF then the JOIN_REQ (type | name length | name | address) in a
 * sealed record. */
static bool send_request(int fd, peerauth_session_t *s, const uint8_t *proof,
                         const raft_hello_t *self)
{
    size_t nl = strnlen(self->name, RAFT_NAME_MAX - 1), al = strnlen(self->addr, RAFT_ADDR_MAX - 1);
    size_t body = 2 + nl + al;
    uint8_t req[2 + RAFT_NAME_MAX + RAFT_ADDR_MAX];
    uint8_t msg[PEERAUTH_PROOF_LEN + PEERAUTH_RECORD_OVERHEAD + RAFT_FRAME_HEADER + sizeof req];
    req[0] = RAFT_FRAME_JOIN_REQ;
    req[1] = (uint8_t)nl;
    memcpy(req + 2, self->name, nl);
    memcpy(req + 2 + nl, self->addr, al);
    memcpy(msg, proof, PEERAUTH_PROOF_LEN);
    size_t n = peerauth_seal_one(s, msg + PEERAUTH_PROOF_LEN, req, body);
    return write_all(fd, msg, PEERAUTH_PROOF_LEN + n);
}

/* The JOIN_RESP, alone in a sealed record; true if SUCCESS, and the text
 * in answer. */
static bool read_response(int fd, peerauth_session_t *s, unsigned timeout_ms, char *answer,
                          size_t cap)
{
    enum { FRAME_AT = PEERAUTH_RECORD_HEADER, BODY_AT = FRAME_AT + RAFT_FRAME_HEADER };
    uint8_t f[PEERAUTH_RECORD_OVERHEAD + RAFT_FRAME_HEADER + RESP_MAX];
    if (!read_exact(fd, f, PEERAUTH_RECORD_HEADER, timeout_ms)) {
        snprintf(answer, cap, "no answer from the member");
        return false;
    }
    size_t payload = get_le32(f);
    if (payload < RAFT_FRAME_HEADER + 2 || payload > RAFT_FRAME_HEADER + RESP_MAX ||
        !read_exact(fd, f + FRAME_AT, payload + PEERAUTH_TAG_LEN, timeout_ms)) {
        snprintf(answer, cap, "malformed or missing answer from the member");
        return false;
    }
    if (!peerauth_open(s, f, payload)) {
        snprintf(answer, cap, "answer with a bad MAC");
        return false;
    }
    size_t body = get_le32(f + FRAME_AT);
    if (body != payload - RAFT_FRAME_HEADER || f[BODY_AT] != RAFT_FRAME_JOIN_RESP) {
        snprintf(answer, cap, "answer of the wrong type or shape");
        return false;
    }
    size_t tl = body - 2;
    const uint8_t *t = f + BODY_AT + 2;
    char text[RESP_MAX];
    for (size_t i = 0; i < tl; i++)
        text[i] = t[i] >= 0x20 && t[i] < 0x7f ? (char)t[i] : '?';
    text[tl] = '\0';
    snprintf(answer, cap, "%s", text);
    return f[BODY_AT + 1] == 0 && strcmp(text, "SUCCESS") == 0;
}

bool authjoin_exchange(int fd, const peerauth_ring_t *ring, const raft_hello_t *self,
                       unsigned timeout_ms, char *answer, size_t cap)
{
    peerauth_hs_t *hs = calloc(1, sizeof *hs);
    uint8_t hello[PEERAUTH_HELLO_MAX], reply[PEERAUTH_REFUSE_MAX], proof[PEERAUTH_PROOF_LEN];
    const char *why = "out of memory";
    size_t hl = hs ? peerauth_dialer_hello(hs, ring, self, hello) : 0;
    peerauth_session_t *s = NULL;
    bool ok = false;
    answer[0] = '\0';
    if (hl == 0 || !write_all(fd, hello, hl)) {
        why = hl ? "cannot send the handshake" : why;
    } else {
        int rl = read_reply(fd, reply, timeout_ms, &why);
        if (rl > 0)
            s = peerauth_dialer_finish(hs, reply, (size_t)rl, 0, proof, &why);
    }
    if (s && !send_request(fd, s, proof, self))
        why = "cannot send the join request";
    else if (s)
        ok = read_response(fd, s, timeout_ms, answer, cap);
    if (!s || (!ok && answer[0] == '\0'))
        snprintf(answer, cap, "%s", why);
    peerauth_session_free(s);
    free(hs);
    return ok;
}
