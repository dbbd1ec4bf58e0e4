/* zone/rdata_print.c — rdata in wire form -> presentation form (see
 * rrtype.h, rrtype_rdata_to_text). Used by the admin `zone show` command
 * and by tests that round-trip records.
 *
 * Output goes through a bounded writer: once the buffer is full, further
 * writes are dropped and the result is -1. Rdata that is malformed for its
 * type (checked first with rrtype_rdata_valid) is shown in the RFC 3597
 * generic form, which can represent any bytes. */
#include "zone/rrtype.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "zone/name.h"

typedef struct writer {
    char *out;
    size_t cap, len;
    bool overflow;
} writer_t;

static void emit(writer_t *w, const char *s, size_t n)
{
    if (w->overflow || w->len + n + 1 > w->cap) {
        w->overflow = true;
        return;
    }
    memcpy(w->out + w->len, s, n);
    w->len += n;
    w->out[w->len] = '\0';
}

static void emit_str(writer_t *w, const char *s) { emit(w, s, strlen(s)); }

static void emit_uint(writer_t *w, uint32_t v)
{
    char buf[16];
    int n = snprintf(buf, sizeof buf, "%u", (unsigned)v);
    emit(w, buf, (size_t)n);
}

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Emits the name at p (valid: checked by rrtype_rdata_valid); returns its
 * wire length. */
static size_t emit_name(writer_t *w, const uint8_t *p)
{
    char buf[NAME_MAX_TEXT];
    size_t n = name_to_text(p, buf, sizeof buf);
    emit(w, buf, n);
    return name_wire_len(p);
}

/* Octets inside quotes: '"' and '\' escaped, non-printables as \DDD. */
static void emit_quoted(writer_t *w, const uint8_t *p, size_t n)
{
    emit(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = p[i];
        char buf[5];
        if (ch < 0x20 || ch >= 0x7f) {
            snprintf(buf, sizeof buf, "\\%03u", ch);
            emit(w, buf, 4);
        } else if (ch == '"' || ch == '\\') {
            buf[0] = '\\';
            buf[1] = (char)ch;
            emit(w, buf, 2);
        } else {
            emit(w, (const char *)&ch, 1);
        }
    }
    emit(w, "\"", 1);
}

/* A sequence of character strings separated by spaces (TXT, HINFO). */
static void emit_strings(writer_t *w, const uint8_t *p, size_t rdlen)
{
    for (size_t off = 0; off < rdlen; off += (size_t)p[off] + 1) {
        if (off > 0)
            emit(w, " ", 1);
        emit_quoted(w, p + off + 1, p[off]);
    }
}

static void emit_generic(writer_t *w, const uint8_t *p, size_t rdlen)
{
    static const char hex[] = "0123456789abcdef";
    emit_str(w, "\\# ");
    emit_uint(w, (uint32_t)rdlen);
    if (rdlen > 0)
        emit(w, " ", 1);
    for (size_t i = 0; i < rdlen; i++) {
        char b[2] = { hex[p[i] >> 4], hex[p[i] & 15] };
        emit(w, b, 2);
    }
}

static void emit_soa(writer_t *w, const uint8_t *p)
{
    size_t off = emit_name(w, p);
    emit(w, " ", 1);
    off += emit_name(w, p + off);
    for (int i = 0; i < 5; i++, off += 4) {
        emit(w, " ", 1);
        emit_uint(w, get_u32(p + off));
    }
}

static void emit_caa(writer_t *w, const uint8_t *p, size_t rdlen)
{
    emit_uint(w, p[0]);
    emit(w, " ", 1);
    emit(w, (const char *)p + 2, p[1]);
    emit(w, " ", 1);
    emit_quoted(w, p + 2 + p[1], rdlen - 2 - p[1]);
}

static bool emit_typed(writer_t *w, uint16_t type, const uint8_t *p, size_t rdlen)
{
    char addr[INET6_ADDRSTRLEN];
    switch (type) {
    case RR_TYPE_A:
        emit_str(w, inet_ntop(AF_INET, p, addr, sizeof addr));
        return true;
    case RR_TYPE_AAAA:
        emit_str(w, inet_ntop(AF_INET6, p, addr, sizeof addr));
        return true;
    case RR_TYPE_NS:
    case RR_TYPE_CNAME:
    case RR_TYPE_PTR:
        emit_name(w, p);
        return true;
    case RR_TYPE_MX:
        emit_uint(w, get_u16(p));
        emit(w, " ", 1);
        emit_name(w, p + 2);
        return true;
    case RR_TYPE_SRV:
        for (int i = 0; i < 3; i++) {
            emit_uint(w, get_u16(p + 2 * i));
            emit(w, " ", 1);
        }
        emit_name(w, p + 6);
        return true;
    case RR_TYPE_SOA: emit_soa(w, p); return true;
    case RR_TYPE_TXT:
    case RR_TYPE_HINFO: emit_strings(w, p, rdlen); return true;
    case RR_TYPE_CAA: emit_caa(w, p, rdlen); return true;
    default: return false;
    }
}

int rrtype_rdata_to_text(uint16_t type, const uint8_t *rdata, size_t rdlen,
                         char *out, size_t cap)
{
    writer_t w = { .out = out, .cap = cap };
    if (cap > 0)
        out[0] = '\0';
    const char *why = NULL;
    bool known_ok = rrtype_rdata_valid(type, rdata, rdlen, &why) &&
                    emit_typed(&w, type, rdata, rdlen);
    if (!known_ok) {
        w.len = 0;
        w.overflow = false;
        emit_generic(&w, rdata, rdlen);
    }
    return w.overflow ? -1 : (int)w.len;
}
