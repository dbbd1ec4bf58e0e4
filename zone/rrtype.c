/* zone/rrtype.c — the RR type table, TTL parsing, wire-rdata validation and
 * the positions of names inside rdata (see rrtype.h).
 *
 * Validation walks untrusted bytes (rdata may come from a Raft log entry),
 * so every read is bounded by rdlen. The text conversions live in
 * rdata_parse.c and rdata_print.c. */
#include "zone/rrtype.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "zone/name.h"

static const struct {
    uint16_t code;
    const char *name;
} type_table[] = {
    { RR_TYPE_A, "A" },         { RR_TYPE_NS, "NS" },       { RR_TYPE_CNAME, "CNAME" },
    { RR_TYPE_SOA, "SOA" },     { RR_TYPE_PTR, "PTR" },     { RR_TYPE_HINFO, "HINFO" },
    { RR_TYPE_MX, "MX" },       { RR_TYPE_TXT, "TXT" },     { RR_TYPE_AAAA, "AAAA" },
    { RR_TYPE_SRV, "SRV" },     { RR_TYPE_OPT, "OPT" },     { RR_TYPE_RRSIG, "RRSIG" },
    { RR_TYPE_NSEC, "NSEC" },   { RR_TYPE_IXFR, "IXFR" },   { RR_TYPE_AXFR, "AXFR" },
    { RR_TYPE_ANY, "ANY" },     { RR_TYPE_CAA, "CAA" },
};
#define TYPE_TABLE_LEN (sizeof type_table / sizeof type_table[0])

/* Parses an unsigned decimal of at most 5 digits into 0..65535. */
static int parse_u16_digits(const char *s, size_t len)
{
    if (len == 0 || len > 5)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v > 65535 ? -1 : (int)v;
}

int rrtype_from_text(const char *text, size_t len)
{
    for (size_t i = 0; i < TYPE_TABLE_LEN; i++) {
        const char *n = type_table[i].name;
        if (strlen(n) == len && strncasecmp(n, text, len) == 0)
            return type_table[i].code;
    }
    if (len > 4 && strncasecmp(text, "TYPE", 4) == 0)
        return parse_u16_digits(text + 4, len - 4);
    return -1;
}

const char *rrtype_to_text(uint16_t type, char buf[RRTYPE_TEXT_MAX])
{
    for (size_t i = 0; i < TYPE_TABLE_LEN; i++)
        if (type_table[i].code == type) {
            /* Every mnemonic is shorter than RRTYPE_TEXT_MAX. */
            strcpy(buf, type_table[i].name);
            return buf;
        }
    snprintf(buf, RRTYPE_TEXT_MAX, "TYPE%u", (unsigned)type);
    return buf;
}

bool rrtype_is_meta(uint16_t type)
{
    return type == 0 || type == RR_TYPE_OPT || (type >= 128 && type <= 255);
}

/* Seconds per TTL unit letter, 0 for a letter that is not a unit. */
static uint32_t ttl_unit(char c)
{
    switch (c) {
    case 'w': case 'W': return 604800;
    case 'd': case 'D': return 86400;
    case 'h': case 'H': return 3600;
    case 'm': case 'M': return 60;
    case 's': case 'S': return 1;
    default: return 0;
    }
}

int rr_ttl_from_text(const char *text, size_t len, uint32_t *out, const char **err)
{
    uint64_t total = 0, cur = 0;
    bool have_digits = false;
    if (len == 0 || text[0] < '0' || text[0] > '9') {
        *err = "invalid TTL";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c >= '0' && c <= '9') {
            cur = cur * 10 + (uint64_t)(c - '0');
            have_digits = true;
            if (cur > UINT32_MAX) {
                *err = "TTL out of range";
                return -1;
            }
            continue;
        }
        uint32_t unit = ttl_unit(c);
        if (unit == 0 || !have_digits) {
            *err = "invalid TTL";
            return -1;
        }
        total += cur * unit;
        cur = 0;
        have_digits = false;
        if (total > UINT32_MAX) {
            *err = "TTL out of range";
            return -1;
        }
    }
    total += cur; /* a trailing bare number counts as seconds */
    if (total > UINT32_MAX) {
        *err = "TTL out of range";
        return -1;
    }
    *out = (uint32_t)total;
    return 0;
}

/* Length of the uncompressed wire name at rdata[off], or 0 when it is not
 * one (runs past rdlen, a compression pointer, a label over 63 or a name
 * over 255 octets). */
static size_t wire_name_len(const uint8_t *rdata, size_t rdlen, size_t off)
{
    size_t start = off;
    for (;;) {
        if (off >= rdlen)
            return 0;
        uint8_t l = rdata[off];
        if (l > LABEL_MAX)
            return 0;
        off += (size_t)l + 1;
        if (off - start > NAME_MAX_WIRE)
            return 0;
        if (l == 0)
            return off - start;
    }
}

/* True when rdata is a sequence of `min`..`max` character strings that
 * exactly fills it (max 0 = no upper bound). */
static bool valid_strings(const uint8_t *rdata, size_t rdlen, size_t min, size_t max)
{
    size_t n = 0, off = 0;
    while (off < rdlen) {
        off += (size_t)rdata[off] + 1;
        n++;
    }
    return off == rdlen && n >= min && (max == 0 || n <= max);
}

static bool valid_caa(const uint8_t *rdata, size_t rdlen)
{
    if (rdlen < 2)
        return false;
    size_t taglen = rdata[1];
    if (taglen == 0 || 2 + taglen > rdlen)
        return false;
    for (size_t i = 0; i < taglen; i++) {
        uint8_t c = rdata[2 + i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum)
            return false;
    }
    return true;
}

/* A name at `off` followed by exactly `tail` more octets. */
static bool name_then(const uint8_t *rdata, size_t rdlen, size_t off, size_t tail)
{
    size_t n = wire_name_len(rdata, rdlen, off);
    return n != 0 && off + n + tail == rdlen;
}

bool rrtype_rdata_valid(uint16_t type, const uint8_t *rdata, size_t rdlen, const char **err)
{
    bool ok = true;
    size_t n;
    switch (type) {
    case RR_TYPE_A: ok = rdlen == 4; break;
    case RR_TYPE_AAAA: ok = rdlen == 16; break;
    case RR_TYPE_NS:
    case RR_TYPE_CNAME:
    case RR_TYPE_PTR: ok = name_then(rdata, rdlen, 0, 0); break;
    case RR_TYPE_MX: ok = rdlen > 2 && name_then(rdata, rdlen, 2, 0); break;
    case RR_TYPE_SRV: ok = rdlen > 6 && name_then(rdata, rdlen, 6, 0); break;
    case RR_TYPE_SOA:
        n = wire_name_len(rdata, rdlen, 0);
        ok = n != 0 && name_then(rdata, rdlen, n, 20);
        break;
    case RR_TYPE_TXT: ok = valid_strings(rdata, rdlen, 1, 0); break;
    case RR_TYPE_HINFO: ok = valid_strings(rdata, rdlen, 2, 2); break;
    case RR_TYPE_CAA: ok = valid_caa(rdata, rdlen); break;
    default: break;
    }
    if (!ok)
        *err = "malformed rdata for its type";
    return ok;
}

int rrtype_rdata_names(uint16_t type, const uint8_t *rdata, size_t rdlen, size_t offsets[2])
{
    switch (type) {
    case RR_TYPE_NS:
    case RR_TYPE_CNAME:
    case RR_TYPE_PTR:
        offsets[0] = 0;
        return 1;
    case RR_TYPE_MX:
        offsets[0] = 2;
        return 1;
    case RR_TYPE_SRV:
        offsets[0] = 6;
        return 1;
    case RR_TYPE_SOA:
        offsets[0] = 0;
        offsets[1] = wire_name_len(rdata, rdlen, 0);
        return offsets[1] == 0 ? 0 : 2;
    default:
        return 0;
    }
}

bool rrtype_names_compressible(uint16_t type)
{
    return type == RR_TYPE_NS || type == RR_TYPE_CNAME || type == RR_TYPE_SOA ||
           type == RR_TYPE_PTR || type == RR_TYPE_MX;
}

void rrtype_rdata_canonical(uint16_t type, const uint8_t *rdata, size_t rdlen, uint8_t *out)
{
    memcpy(out, rdata, rdlen);
    size_t offs[2];
    int n = rrtype_rdata_names(type, rdata, rdlen, offs);
    for (int k = 0; k < n; k++) {
        size_t len = wire_name_len(rdata, rdlen, offs[k]);
        if (len != 0)
            name_to_lower(rdata + offs[k], out + offs[k]);
    }
}
