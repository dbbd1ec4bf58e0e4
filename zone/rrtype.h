/* zone/rrtype.h — resource record types: the mnemonic table, rdata in
 * presentation form <-> wire form, wire-rdata validation, and where the
 * domain names sit inside an rdata (for compression and additional-section
 * processing by the DNS engine).
 *
 * Implemented by three files: zone/rrtype.c (table, TTLs, validation, name
 * positions), zone/rdata_parse.c (text -> wire) and zone/rdata_print.c
 * (wire -> text). */
#ifndef ZONE_RRTYPE_H
#define ZONE_RRTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    RR_TYPE_A = 1,
    RR_TYPE_NS = 2,
    RR_TYPE_CNAME = 5,
    RR_TYPE_SOA = 6,
    RR_TYPE_PTR = 12,
    RR_TYPE_HINFO = 13,
    RR_TYPE_MX = 15,
    RR_TYPE_TXT = 16,
    RR_TYPE_AAAA = 28,
    RR_TYPE_SRV = 33,
    RR_TYPE_OPT = 41,
    RR_TYPE_RRSIG = 46,
    RR_TYPE_NSEC = 47,
    RR_TYPE_IXFR = 251,
    RR_TYPE_AXFR = 252,
    RR_TYPE_ANY = 255,
    RR_TYPE_CAA = 257,
};

#define RDATA_MAX 65535
#define RRTYPE_TEXT_MAX 16 /* "TYPE65535" and every mnemonic fit */
#define TTL_MAX 2147483647u /* RFC 2181 §8 */

/* ---- the table ---- */

/* Mnemonic (case-insensitive) or RFC 3597 "TYPEnnn" -> code; -1 if neither. */
int rrtype_from_text(const char *text, size_t len);
/* Code -> mnemonic, or "TYPEnnn" for a code without one. Returns buf. */
const char *rrtype_to_text(uint16_t type, char buf[RRTYPE_TEXT_MAX]);
/* True for the types that may not appear in zone data: OPT and the
 * meta/query types 128-255 (AXFR, IXFR, ANY, ...), and type 0. */
bool rrtype_is_meta(uint16_t type);

/* ---- TTLs and timers ---- */

/* Parses a TTL as BIND does: a plain number of seconds, or units
 * (w, d, h, m, s, case-insensitive) such as "1h30m" or "2d". The value
 * must fit in 32 bits; callers that need RFC 2181's 2^31-1 check TTL_MAX.
 * Returns 0, or -1 with *err set to a static message. */
int rr_ttl_from_text(const char *text, size_t len, uint32_t *out, const char **err);

/* ---- presentation form -> wire ---- */

/* One token of a master-file line. Text is raw: escapes are not yet
 * processed. For a quoted token, text is what is between the quotes. */
typedef struct rr_token {
    const char *text;
    size_t len;
    bool quoted;
} rr_token_t;

/* Converts the rdata tokens of one record into wire form. Relative names
 * are completed with `origin`. Every type accepts RFC 3597 "\# len hex"
 * (validated against the type's wire format when the type is known);
 * other unknown types accept only that form. Returns the rdata length,
 * or -1 with *err set to a static message. out must hold RDATA_MAX. */
int rrtype_rdata_from_text(uint16_t type, const rr_token_t *toks, size_t count,
                           const uint8_t *origin, uint8_t *out, const char **err);

/* ---- wire -> presentation form ---- */

/* Writes the rdata in presentation form (the generic "\# len hex" form for
 * types without a text format, or when the rdata is malformed for its
 * type). Returns the text length, or -1 when cap is too small. Always
 * NUL-terminates when cap > 0. At most 2 * RDATA_MAX + 16 bytes are ever
 * needed; RDATA_TEXT_MAX is enough for every record. */
#define RDATA_TEXT_MAX (4 * RDATA_MAX + 64)
int rrtype_rdata_to_text(uint16_t type, const uint8_t *rdata, size_t rdlen,
                         char *out, size_t cap);

/* ---- wire validation and names inside rdata ---- */

/* True when the rdata is well formed for its type (fixed lengths, names
 * uncompressed and within limits, character strings in bounds). Unknown
 * types are opaque and always valid. *err gets a static reason. */
bool rrtype_rdata_valid(uint16_t type, const uint8_t *rdata, size_t rdlen, const char **err);

/* Where the domain names are inside a valid rdata of this type:
 *   NS, CNAME, PTR: one name at 0;  MX: one name at 2;
 *   SOA: MNAME at 0 and RNAME right after it (then 20 octets of numbers);
 *   SRV: the target at 6.
 * Fills offsets[] and returns the count (0, 1 or 2). */
int rrtype_rdata_names(uint16_t type, const uint8_t *rdata, size_t rdlen, size_t offsets[2]);
/* True when names in this type's rdata may be compressed in responses
 * (RFC 3597 §4: only the RFC 1035 types NS, CNAME, SOA, PTR, MX; not SRV,
 * RFC 2782). */
bool rrtype_names_compressible(uint16_t type);
/* Copies rdata with its embedded names lowercased (RFC 4034 §6.2), so two
 * rdatas that differ only in the case of names compare equal. */
void rrtype_rdata_canonical(uint16_t type, const uint8_t *rdata, size_t rdlen, uint8_t *out);

#endif
