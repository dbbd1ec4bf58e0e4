/* tests/fuzz/fuzz_raft_codec.c — libFuzzer target for the peer wire format
 * (raft/codec.h): the frame body decoder and the hello parser, the trust
 * boundary for bytes from the network.
 *
 * Besides "no crash, no sanitizer report": every body the decoder accepts
 * must re-encode to exactly the same bytes (the format has one encoding per
 * message: flags, booleans and counts are checked, trailing bytes refused),
 * with a frame header that states the body length; and every accepted hello
 * must be written back byte for byte by raft_codec_hello. Every accepted
 * message also passes raft_msg_check, carries a term below RAFT_TERM_LIMIT
 * and entries of non-decreasing terms no higher than it. The same scratch
 * buffer is reused across inputs, as a connection reuses it across frames. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raft/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void check_entries(const raft_msg_t *m)
{
    if (m->type != RAFT_MSG_APPEND)
        return;
    const raft_append_t *a = &m->u.append;
    raft_term_t prev = a->prev_term;
    for (size_t i = 0; i < a->n_entries; i++) {
        check(a->entries[i].index == a->prev_index + 1 + i);
        check(a->entries[i].index < RAFT_INDEX_LIMIT);
        check(a->entries[i].len == 0 || a->entries[i].data != NULL);
        check(a->entries[i].term >= prev && a->entries[i].term <= m->term);
        prev = a->entries[i].term;
    }
}

static void frame_round_trip(const uint8_t *data, size_t size, raft_codec_scratch_t *s)
{
    raft_msg_t m;
    const char *why = NULL;
    if (raft_codec_decode(data, size, &m, s, &why) < 0) {
        check(why != NULL && why[0] != 0);
        return;
    }
    check(m.from != 0 && m.to != 0);
    check(m.term < RAFT_TERM_LIMIT);
    check(raft_msg_check(&m) == NULL);
    check_entries(&m);
    size_t frame = raft_codec_frame_size(&m);
    check(frame == RAFT_FRAME_HEADER + size);
    uint8_t *out = malloc(frame);
    check(out != NULL);
    raft_codec_encode(&m, out);
    check(le32(out) == size);
    check(memcmp(out + RAFT_FRAME_HEADER, data, size) == 0);
    free(out);
}

static void hello_round_trip(const uint8_t *data, size_t size)
{
    raft_hello_t h;
    const char *why = NULL;
    if (raft_codec_parse_hello(data, size, &h, &why) < 0) {
        check(why != NULL && why[0] != 0);
        return;
    }
    check(h.id != 0);
    const char *why_rest = NULL;
    check(raft_codec_hello_rest(data, &why_rest) == (int)(size - RAFT_HELLO_LEN));
    uint8_t out[RAFT_HELLO_LEN + RAFT_NAME_MAX + RAFT_ADDR_MAX];
    size_t n = raft_codec_hello(out, &h);
    check(n == size && memcmp(out, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static raft_codec_scratch_t scratch; /* reused, like a connection's */
    frame_round_trip(data, size, &scratch);
    hello_round_trip(data, size);
    return 0;
}
