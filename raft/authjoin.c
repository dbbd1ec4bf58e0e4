/* raft/authjoin.c — join request over an authenticated connection (see
 * authjoin.h). Runs on the joiner's own thread with a blocking socket; every
 * read is bounded by poll, every length by the protocol's maxima. */
#include "raft/authjoin.h"

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

/* PROOF then the sealed JOIN_REQ (type | name length | name | address). */
static bool send_request(int fd, peerauth_session_t *s, const uint8_t *proof,
                         const raft_hello_t *self)
{
    size_t nl = strnlen(self->name, RAFT_NAME_MAX - 1), al = strnlen(self->addr, RAFT_ADDR_MAX - 1);
    size_t body = 2 + nl + al;
    uint8_t msg[PEERAUTH_PROOF_LEN + RAFT_FRAME_HEADER + 2 + RAFT_NAME_MAX + RAFT_ADDR_MAX +
                PEERAUTH_TAG_LEN];
    memcpy(msg, proof, PEERAUTH_PROOF_LEN);
    uint8_t *f = msg + PEERAUTH_PROOF_LEN;
    for (int i = 0; i < 4; i++)
        f[i] = (uint8_t)(body >> (8 * i));
    f[4] = RAFT_FRAME_JOIN_REQ;
    f[5] = (uint8_t)nl;
    memcpy(f + 6, self->name, nl);
    memcpy(f + 6 + nl, self->addr, al);
    peerauth_seal(s, f, body);
    return write_all(fd, msg, PEERAUTH_PROOF_LEN + RAFT_FRAME_HEADER + body + PEERAUTH_TAG_LEN);
}

/* The sealed JOIN_RESP; true if SUCCESS, and the text in answer. */
static bool read_response(int fd, peerauth_session_t *s, unsigned timeout_ms, char *answer,
                          size_t cap)
{
    uint8_t f[RAFT_FRAME_HEADER + RESP_MAX + PEERAUTH_TAG_LEN];
    if (!read_exact(fd, f, RAFT_FRAME_HEADER, timeout_ms)) {
        snprintf(answer, cap, "no answer from the member");
        return false;
    }
    size_t body = (size_t)f[0] | (size_t)f[1] << 8 | (size_t)f[2] << 16 | (size_t)f[3] << 24;
    if (body < 2 || body > RESP_MAX ||
        !read_exact(fd, f + RAFT_FRAME_HEADER, body + PEERAUTH_TAG_LEN, timeout_ms)) {
        snprintf(answer, cap, "malformed or missing answer from the member");
        return false;
    }
    if (!peerauth_open(s, f, body) || f[4] != RAFT_FRAME_JOIN_RESP) {
        snprintf(answer, cap, "answer with a bad MAC or of the wrong type");
        return false;
    }
    size_t tl = body - 2;
    char text[RESP_MAX];
    for (size_t i = 0; i < tl; i++)
        text[i] = f[6 + i] >= 0x20 && f[6 + i] < 0x7f ? (char)f[6 + i] : '?';
    text[tl] = '\0';
    snprintf(answer, cap, "%s", text);
    return f[5] == 0 && strcmp(text, "SUCCESS") == 0;
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
