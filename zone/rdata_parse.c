/* zone/rdata_parse.c — rdata in presentation form -> wire form (see
 * rrtype.h, rrtype_rdata_from_text).
 *
 * Each type has a small parser that consumes tokens through a cursor; the
 * cursor refuses to read past the last token ("missing rdata field") and
 * the dispatcher refuses leftovers ("extra rdata field"). Output goes to a
 * buffer of RDATA_MAX bytes through put_* helpers that check the room, so
 * no parser can overrun it. */
#include "zone/rrtype.h"

#include <arpa/inet.h>
#include <string.h>

#include "zone/name.h"

typedef struct cursor {
    const rr_token_t *toks;
    size_t count, next;
    const uint8_t *origin;
    uint8_t *out;
    size_t len;
    const char *err;
} cursor_t;

static bool fail(cursor_t *c, const char *why)
{
    if (c->err == NULL)
        c->err = why;
    return false;
}

static const rr_token_t *take(cursor_t *c)
{
    if (c->next >= c->count) {
        fail(c, "missing rdata field");
        return NULL;
    }
    return &c->toks[c->next++];
}

static bool put(cursor_t *c, const void *bytes, size_t n)
{
    if (c->len + n > RDATA_MAX)
        return fail(c, "rdata longer than 65535 octets");
    memcpy(c->out + c->len, bytes, n);
    c->len += n;
    return true;
}

static bool put_u8(cursor_t *c, uint8_t v) { return put(c, &v, 1); }

static bool put_u16(cursor_t *c, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    return put(c, b, 2);
}

static bool put_u32(cursor_t *c, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    return put(c, b, 4);
}

/* An unquoted decimal no larger than max. */
static bool take_number(cursor_t *c, uint32_t max, uint32_t *v)
{
    const rr_token_t *t = take(c);
    if (t == NULL)
        return false;
    if (t->quoted || t->len == 0 || t->len > 10)
        return fail(c, "invalid number");
    uint64_t acc = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (t->text[i] < '0' || t->text[i] > '9')
            return fail(c, "invalid number");
        acc = acc * 10 + (uint64_t)(t->text[i] - '0');
    }
    if (acc > max)
        return fail(c, "number out of range");
    *v = (uint32_t)acc;
    return true;
}

static bool take_u16(cursor_t *c)
{
    uint32_t v;
    return take_number(c, 65535, &v) && put_u16(c, (uint16_t)v);
}

static bool take_name(cursor_t *c)
{
    const rr_token_t *t = take(c);
    if (t == NULL)
        return false;
    if (t->quoted)
        return fail(c, "quoted string where a name was expected");
    uint8_t wire[NAME_MAX_WIRE];
    const char *why = NULL;
    int n = name_from_text(t->text, t->len, c->origin, wire, &why);
    if (n < 0)
        return fail(c, why);
    return put(c, wire, (size_t)n);
}

/* SOA timers take TTL syntax (BIND accepts "1h", "2d" there too). */
static bool take_timer(cursor_t *c)
{
    const rr_token_t *t = take(c);
    if (t == NULL)
        return false;
    uint32_t v;
    const char *why = NULL;
    if (t->quoted || rr_ttl_from_text(t->text, t->len, &v, &why) < 0)
        return fail(c, "invalid SOA timer");
    return put_u32(c, v);
}

/* Decodes the \X and \DDD escapes of a token into out (cap bytes). Returns
 * the decoded length or -1. */
static long unescape(cursor_t *c, const rr_token_t *t, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < t->len;) {
        uint8_t b = (uint8_t)t->text[i++];
        if (b == '\\') {
            if (i >= t->len) {
                fail(c, "dangling backslash");
                return -1;
            }
            if (t->text[i] >= '0' && t->text[i] <= '9') {
                if (i + 3 > t->len || t->text[i + 1] < '0' || t->text[i + 1] > '9' ||
                    t->text[i + 2] < '0' || t->text[i + 2] > '9') {
                    fail(c, "bad \\DDD escape");
                    return -1;
                }
                int v = (t->text[i] - '0') * 100 + (t->text[i + 1] - '0') * 10 + (t->text[i + 2] - '0');
                if (v > 255) {
                    fail(c, "\\DDD escape above 255");
                    return -1;
                }
                b = (uint8_t)v;
                i += 3;
            } else {
                b = (uint8_t)t->text[i++];
            }
        }
        if (n >= cap) {
            fail(c, cap == 255 ? "character string longer than 255 octets"
                               : "rdata longer than 65535 octets");
            return -1;
        }
        out[n++] = b;
    }
    return (long)n;
}

/* One <character-string> (RFC 1035 §3.3): length octet then the octets. */
static bool put_char_string(cursor_t *c, const rr_token_t *t)
{
    uint8_t buf[255];
    long n = unescape(c, t, buf, sizeof buf);
    return n >= 0 && put_u8(c, (uint8_t)n) && put(c, buf, (size_t)n);
}

static bool take_char_string(cursor_t *c)
{
    const rr_token_t *t = take(c);
    return t != NULL && put_char_string(c, t);
}

static bool parse_a(cursor_t *c)
{
    const rr_token_t *t = take(c);
    if (t == NULL)
        return false;
    char buf[INET_ADDRSTRLEN];
    uint8_t addr[4];
    if (t->quoted || t->len >= sizeof buf)
        return fail(c, "invalid IPv4 address");
    memcpy(buf, t->text, t->len);
    buf[t->len] = '\0';
    if (inet_pton(AF_INET, buf, addr) != 1)
        return fail(c, "invalid IPv4 address");
    return put(c, addr, 4);
}

static bool parse_aaaa(cursor_t *c)
{
    const rr_token_t *t = take(c);
    if (t == NULL)
        return false;
    char buf[INET6_ADDRSTRLEN];
    uint8_t addr[16];
    if (t->quoted || t->len >= sizeof buf)
        return fail(c, "invalid IPv6 address");
    memcpy(buf, t->text, t->len);
    buf[t->len] = '\0';
    if (inet_pton(AF_INET6, buf, addr) != 1)
        return fail(c, "invalid IPv6 address");
    return put(c, addr, 16);
}

static bool parse_soa(cursor_t *c)
{
    uint32_t serial;
    if (!take_name(c) || !take_name(c))
        return false;
    if (!take_number(c, UINT32_MAX, &serial) || !put_u32(c, serial))
        return fail(c, "invalid SOA serial");
    for (int i = 0; i < 4; i++)
        if (!take_timer(c))
            return false;
    return true;
}

static bool parse_mx(cursor_t *c) { return take_u16(c) && take_name(c); }

static bool parse_srv(cursor_t *c)
{
    return take_u16(c) && take_u16(c) && take_u16(c) && take_name(c);
}

static bool parse_txt(cursor_t *c)
{
    if (!take_char_string(c))
        return false;
    while (c->next < c->count)
        if (!take_char_string(c))
            return false;
    return true;
}

static bool parse_hinfo(cursor_t *c) { return take_char_string(c) && take_char_string(c); }

static bool is_alnum(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* RFC 8659 §4.1.1: flags, a tag of letters and digits, then the value as
 * the rest of the rdata (not a length-prefixed string). */
static bool parse_caa(cursor_t *c)
{
    uint32_t flags;
    if (!take_number(c, 255, &flags) || !put_u8(c, (uint8_t)flags))
        return false;
    const rr_token_t *tag = take(c);
    if (tag == NULL)
        return false;
    if (tag->quoted || tag->len == 0 || tag->len > 255)
        return fail(c, "invalid CAA tag");
    for (size_t i = 0; i < tag->len; i++)
        if (!is_alnum(tag->text[i]))
            return fail(c, "invalid CAA tag");
    if (!put_u8(c, (uint8_t)tag->len) || !put(c, tag->text, tag->len))
        return false;
    const rr_token_t *value = take(c);
    if (value == NULL)
        return false;
    long n = unescape(c, value, c->out + c->len, RDATA_MAX - c->len);
    if (n < 0)
        return false;
    c->len += (size_t)n;
    return true;
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* RFC 3597 §5: "\#" <length> <hex words...>; the hex may be split into
 * words anywhere, and must decode to exactly <length> octets. */
static bool parse_generic(cursor_t *c)
{
    uint32_t want;
    c->next++; /* the "\#" token */
    if (!take_number(c, RDATA_MAX, &want))
        return false;
    int high = -1;
    while (c->next < c->count) {
        const rr_token_t *t = &c->toks[c->next++];
        if (t->quoted)
            return fail(c, "invalid hex in RFC 3597 rdata");
        for (size_t i = 0; i < t->len; i++) {
            int d = hex_digit(t->text[i]);
            if (d < 0)
                return fail(c, "invalid hex in RFC 3597 rdata");
            if (high < 0) {
                high = d;
                continue;
            }
            if (c->len >= want)
                return fail(c, "RFC 3597 rdata longer than its length");
            c->out[c->len++] = (uint8_t)(high << 4 | d);
            high = -1;
        }
    }
    if (high >= 0)
        return fail(c, "odd number of hex digits in RFC 3597 rdata");
    if (c->len != want)
        return fail(c, "RFC 3597 rdata shorter than its length");
    return true;
}

static bool is_generic_marker(const rr_token_t *t)
{
    return !t->quoted && t->len == 2 && t->text[0] == '\\' && t->text[1] == '#';
}

static bool parse_typed(uint16_t type, cursor_t *c)
{
    switch (type) {
    case RR_TYPE_A: return parse_a(c);
    case RR_TYPE_AAAA: return parse_aaaa(c);
    case RR_TYPE_NS:
    case RR_TYPE_CNAME:
    case RR_TYPE_PTR: return take_name(c);
    case RR_TYPE_SOA: return parse_soa(c);
    case RR_TYPE_MX: return parse_mx(c);
    case RR_TYPE_TXT: return parse_txt(c);
    case RR_TYPE_SRV: return parse_srv(c);
    case RR_TYPE_HINFO: return parse_hinfo(c);
    case RR_TYPE_CAA: return parse_caa(c);
    default: return fail(c, "unknown type needs RFC 3597 \\# rdata");
    }
}

int rrtype_rdata_from_text(uint16_t type, const rr_token_t *toks, size_t count,
                           const uint8_t *origin, uint8_t *out, const char **err)
{
    cursor_t c = { .toks = toks, .count = count, .origin = origin, .out = out };
    bool ok;
    if (count > 0 && is_generic_marker(&toks[0])) {
        ok = parse_generic(&c) && rrtype_rdata_valid(type, out, c.len, &c.err);
    } else {
        ok = parse_typed(type, &c);
        if (ok && c.next < c.count)
            ok = fail(&c, "extra rdata field");
    }
    if (!ok) {
        *err = c.err;
        return -1;
    }
    return (int)c.len;
}
