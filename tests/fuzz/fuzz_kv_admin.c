/* tests/fuzz/fuzz_kv_admin.c — libFuzzer target for the admin text protocol:
 * the line reader (kv/linereader.h) fed a hostile byte stream in arbitrary
 * pieces, the line parser (kv/admin.h admin_parse) on every line it yields,
 * and the reply formatters on whatever the parser hands back.
 *
 * Input: byte 0 picks the piece sizes (a PRNG seeded by it and the length;
 * bits 0-3 give the largest piece, 1 to 32768 bytes); the stream is the
 * bytes from 2 on. If byte 1 is AMPLIFY (0xA5), byte 2 repeated
 * LR_LINE_MAX - 128 + byte 3 times comes first, then the bytes from 4 on:
 * lines around the length limit, which libFuzzer's small inputs cannot
 * reach otherwise (pieces are then 1 to at least 4096 bytes, and only the
 * first 64 lines and the long ones are parsed, to stay fast).
 *
 * Properties checked besides "no crash, no sanitizer report":
 *  - the reader yields exactly the events of a direct model of its contract:
 *    one event per LF-terminated line (one CR before the LF dropped),
 *    LR_TOO_LONG for a line over LR_LINE_MAX, then at EOF the unterminated
 *    rest the same way; lr_feed always makes progress;
 *  - admin_parse gives a command whose fields lie inside the line and obey
 *    kv/text.h (and a value holds no NUL, issue #12), or a non-empty reason;
 *  - admin_parse_auth gives a token inside the line, one word, or none;
 *  - every reply built from the line (the error, a value read back, a zone
 *    line for the parsed origin and node id, "zone show" lines whose TXT or
 *    unknown-type rdata holds the line's bytes, an error quoting the raw
 *    line) is exactly one line: one LF, at its end, and no CR. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv/admin.h"
#include "kv/text.h"
#include "zone/rrtype.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define AMPLIFY 0xA5

typedef struct event {
    enum lr_event type;
    const char *line;
    size_t len;
} event_t;

/* The contract of kv/linereader.h as a direct model, yielding the events
 * the reader must give one at a time (memchr, not a byte loop: amplified
 * streams are 64 KiB lines or 64 Ki empty ones, and a stored list of
 * events or a compare per byte under the fuzzer's instrumentation was most
 * of this target's time). */
typedef struct model {
    const char *s;
    size_t n, pos;
} model_t;

/* Fills *ev with the next event; false when the stream has no more. */
FUZZ_NO_COVERAGE static bool model_next(model_t *m, event_t *ev)
{
    if (m->pos >= m->n)
        return false;
    const char *line = m->s + m->pos;
    const char *lf = memchr(line, '\n', m->n - m->pos);
    size_t len = lf ? (size_t)(lf - line) : m->n - m->pos;
    m->pos += lf ? len + 1 : len;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len > LR_LINE_MAX)
        *ev = (event_t){ LR_TOO_LONG, NULL, 0 };
    else
        *ev = (event_t){ LR_LINE, line, len };
    return true;
}

FUZZ_NO_COVERAGE static void check_one_line(const char *out, int n)
{
    fuzz_check(n > 0);
    fuzz_check(out[n - 1] == '\n' && out[n] == 0);
    fuzz_check(memchr(out, '\n', (size_t)n - 1) == NULL);
    fuzz_check(memchr(out, '\r', (size_t)n) == NULL);
}

static bool inside(const char *p, size_t n, const char *line, size_t len)
{
    return n == 0 || (p >= line && p + n <= line + len);
}

/* "zone show" prints records whose rdata came from a zone file: a TXT
 * string or an unknown type holding the line's bytes (CR, LF and all) must
 * still print as one line. */
static void check_zone_show_lines(const uint8_t *origin, const char *line, size_t len)
{
    static char out[ADMIN_RR_TEXT_MAX];
    uint8_t rdata[256];
    size_t n = len < 255 ? len : 255;
    rdata[0] = (uint8_t)n;
    memcpy(rdata + 1, line, n);
    zone_rr_t rr = { .owner = origin, .type = 16, .rclass = 1, .ttl = 300,
                     .rdlen = (uint16_t)(n + 1), .rdata = rdata };
    const char *why = NULL;
    fuzz_check(rrtype_rdata_valid(rr.type, rr.rdata, rr.rdlen, &why));
    check_one_line(out, admin_format_rr(out, sizeof out, &rr));
    rr.type = 65280; /* unknown: printed as RFC 3597 hex */
    rr.rdata = (const uint8_t *)line;
    rr.rdlen = (uint16_t)(len < 1024 ? len : 1024);
    check_one_line(out, admin_format_rr(out, sizeof out, &rr));
}

static void check_command(const admin_cmd_t *c, const char *line, size_t len)
{
    static char out[ADMIN_LINE_MAX + 64];
    fuzz_check(inside(c->key, c->key_len, line, len));
    fuzz_check(inside(c->value, c->value_len, line, len));
    fuzz_check(inside(c->id, c->id_len, line, len));
    fuzz_check(inside(c->addr, c->addr_len, line, len));
    switch (c->op) {
    case ADMIN_KV_SET:
        fuzz_check(kv_text_check_value((const uint8_t *)c->value, c->value_len) == NULL);
        fuzz_check(memchr(c->value, 0, c->value_len) == NULL);
        check_one_line(out, admin_format_value(out, sizeof out, (const uint8_t *)c->value,
                                               c->value_len));
        /* fall through: SET has a key too */
    case ADMIN_KV_GET:
    case ADMIN_KV_DEL:
        fuzz_check(c->key_len > 0 && kv_text_check_key((const uint8_t *)c->key, c->key_len) == NULL);
        break;
    case ADMIN_RAFT_JOIN:
    case ADMIN_RAFT_LEAVE:
    case ADMIN_RAFT_TRANSFER:
        if (c->id_len) {
            char id[KV_NODE_ID_MAX + 1];
            fuzz_check(c->id_len <= KV_NODE_ID_MAX);
            memcpy(id, c->id, c->id_len);
            id[c->id_len] = 0;
            uint8_t root[1] = { 0 };
            sm_zone_info_t info = { .origin = root, .node_id = id };
            check_one_line(out, admin_format_zone_info(out, sizeof out, &info));
        }
        break;
    case ADMIN_ZONE_SHOW: {
        sm_zone_info_t info = { .origin = c->origin, .node_id = "n1", .serial = 1 };
        check_one_line(out, admin_format_zone_info(out, sizeof out, &info));
        check_zone_show_lines(c->origin, line, len);
        break;
    }
    default:
        break;
    }
}

/* quoted = the line without its NULs (a reason is a C string), at most
 * ADMIN_LINE_MAX bytes, then a NUL. */
FUZZ_NO_COVERAGE static void quote_line(char *quoted, const char *line, size_t len)
{
    size_t q = 0;
    for (size_t i = 0; i < len && q < ADMIN_LINE_MAX;) {
        const char *nul = memchr(line + i, 0, len - i);
        size_t end = nul ? (size_t)(nul - line) : len, run = end - i;
        if (run > ADMIN_LINE_MAX - q)
            run = ADMIN_LINE_MAX - q;
        memcpy(quoted + q, line + i, run);
        q += run;
        i = end + 1;
    }
    quoted[q] = 0;
}

static void handle_line(const char *line, size_t len)
{
    static char out[ADMIN_LINE_MAX + ADMIN_REASON_MAX + 64];
    static char quoted[ADMIN_LINE_MAX + 1];
    admin_cmd_t cmd;
    char reason[ADMIN_REASON_MAX];
    const char *token;
    size_t token_len;
    if (admin_parse_auth(line, len, &token, &token_len) && token_len > 0) {
        fuzz_check(inside(token, token_len, line, len));
        fuzz_check(memchr(token, ' ', token_len) == NULL && memchr(token, '\t', token_len) == NULL);
    }
    if (admin_parse(line, len, &cmd, reason) == 0) {
        check_command(&cmd, line, len);
    } else {
        fuzz_check(reason[0] != 0 && strlen(reason) < ADMIN_REASON_MAX);
        check_one_line(out, admin_format_error(out, sizeof out, reason));
    }
    /* A reason may quote hostile text; the formatter must keep it one line. */
    quote_line(quoted, line, len);
    check_one_line(out, admin_format_error(out, sizeof out, quoted));
}

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Parsing the same line thousands of times in a repeated stream teaches
 * nothing and costs the speed the fuzzer needs: parse the first lines and
 * every long one. */
static void maybe_handle(size_t k, const char *line, size_t len)
{
    if (k < 64 || len > 4096)
        handle_line(line, len);
}

/* Feeds the stream in pieces and compares every event with the model. */
FUZZ_NO_COVERAGE static void run_reader(const char *s, size_t n, uint8_t split, bool amplified)
{
    linereader_t lr;
    fuzz_check(lr_init(&lr) == 0);
    uint32_t rng = 0x9e3779b9u ^ (uint32_t)n ^ ((uint32_t)split << 24);
    size_t max_piece = (size_t)1 << (split & 15), pos = 0, k = 0;
    if (amplified && max_piece < 4096) /* keeps a 127 KiB stream fast */
        max_piece = 4096;
    model_t want = { s, n, 0 };
    event_t w;
    const char *line;
    size_t len;
    enum lr_event ev;
    while (pos < n) {
        size_t piece = 1 + next_rand(&rng) % max_piece;
        if (piece > n - pos)
            piece = n - pos;
        while (piece > 0) {
            size_t used = lr_feed(&lr, s + pos, piece);
            fuzz_check(used > 0 && used <= piece);
            pos += used;
            piece -= used;
            while ((ev = lr_next(&lr, &line, &len)) != LR_NEED_MORE) {
                fuzz_check(model_next(&want, &w) && w.type == ev);
                if (ev == LR_LINE) {
                    fuzz_check(len == w.len && memcmp(line, w.line, len) == 0);
                    maybe_handle(k, line, len);
                }
                k++;
            }
        }
    }
    ev = lr_finish(&lr, &line, &len);
    if (ev != LR_NEED_MORE) {
        fuzz_check(model_next(&want, &w) && w.type == ev);
        if (ev == LR_LINE) {
            fuzz_check(len == w.len && memcmp(line, w.line, len) == 0);
            handle_line(line, len);
        }
    }
    fuzz_check(!model_next(&want, &w));
    lr_free(&lr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t split = data[0];
    const char *payload = (const char *)data + 2;
    size_t n = size - 2;
    char *stream = NULL;
    if (data[1] == AMPLIFY && size >= 4) {
        size_t run = LR_LINE_MAX - 128 + data[3];
        n = run + size - 4;
        stream = malloc(n);
        fuzz_check(stream != NULL);
        memset(stream, data[2], run);
        memcpy(stream + run, data + 4, size - 4);
        payload = stream;
    }
    run_reader(payload, n, split, stream != NULL);
    free(stream);
    return 0;
}
