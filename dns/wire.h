/* dns/wire.h — the DNS message format (RFC 1035 §4): strict parsing of
 * queries and a response builder with name compression.
 *
 * Parsing treats every octet as hostile: every read is bounds-checked,
 * compression pointers must point strictly backwards (which also makes
 * loops impossible), labels are at most 63 octets and names at most 255,
 * the section counts must match the packet exactly, and an OPT RR
 * (RFC 6891) is accepted only once, in the additional section, owned by
 * the root.
 *
 * The builder writes into a caller-owned buffer up to a limit; every put
 * either writes a whole RR or nothing, and a mark/rollback pair lets the
 * answer engine drop a partly written RRset. Names are compressed
 * (RFC 1035 §4.1.4) in owners and inside the rdata of NS, CNAME, PTR, MX
 * and SOA (the types RFC 3597 §4 allows); never inside SRV or unknown
 * types. Matching for compression is case-insensitive, so a later name
 * may take the letter case of an earlier one (DNS names are
 * case-insensitive; the question itself is always written as received). */
#ifndef DNS_WIRE_H
#define DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone/name.h"

#define DNS_HEADER_LEN 12

/* Header flag bits (the 16-bit word after the ID). */
#define DNS_FLAG_QR 0x8000u
#define DNS_FLAG_AA 0x0400u
#define DNS_FLAG_TC 0x0200u
#define DNS_FLAG_RD 0x0100u
#define DNS_FLAG_RA 0x0080u
#define DNS_FLAG_AD 0x0020u
#define DNS_FLAG_CD 0x0010u
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xfu)
#define DNS_RCODE(flags) ((flags) & 0xfu)

enum dns_opcode { DNS_OPCODE_QUERY = 0 };

enum dns_rcode {
    DNS_RCODE_NOERROR = 0,
    DNS_RCODE_FORMERR = 1,
    DNS_RCODE_SERVFAIL = 2,
    DNS_RCODE_NXDOMAIN = 3,
    DNS_RCODE_NOTIMP = 4,
    DNS_RCODE_REFUSED = 5,
    DNS_RCODE_BADVERS = 16, /* extended: upper 8 bits go in the OPT TTL */
};

enum dns_type {
    DNS_TYPE_A = 1,
    DNS_TYPE_NS = 2,
    DNS_TYPE_CNAME = 5,
    DNS_TYPE_SOA = 6,
    DNS_TYPE_PTR = 12,
    DNS_TYPE_HINFO = 13,
    DNS_TYPE_MX = 15,
    DNS_TYPE_TXT = 16,
    DNS_TYPE_AAAA = 28,
    DNS_TYPE_SRV = 33,
    DNS_TYPE_OPT = 41,
    DNS_TYPE_DS = 43,
    DNS_TYPE_RRSIG = 46,
    DNS_TYPE_IXFR = 251,
    DNS_TYPE_AXFR = 252,
    DNS_TYPE_MAILB = 253,
    DNS_TYPE_MAILA = 254,
    DNS_TYPE_ANY = 255,
};

enum dns_class { DNS_CLASS_IN = 1, DNS_CLASS_CH = 3, DNS_CLASS_NONE = 254, DNS_CLASS_ANY = 255 };

/* ---- parsing ---------------------------------------------------------- */

/* Reads a possibly compressed name at *pos of pkt[0..len) into `out`
 * (uncompressed wire form, letter case kept) and advances *pos past the
 * name as it sits in the packet. Returns the name's wire length, or -1 if
 * it runs past the packet, uses a forward or self pointer, a reserved label
 * type (0x40/0x80), a label over 63 or a name over 255 octets. */
int dns_read_name(const uint8_t *pkt, size_t len, size_t *pos, uint8_t out[NAME_MAX_WIRE]);

/* What parsing a query found out. */
typedef enum dns_parse_status {
    DNS_PARSE_OK = 0,
    DNS_PARSE_DROP,    /* shorter than a header, or QR=1: send nothing */
    DNS_PARSE_FORMERR, /* header readable but the rest is not a valid query */
} dns_parse_status_t;

typedef struct dns_query {
    uint16_t id;
    uint16_t flags;       /* the header flag word as received */
    uint16_t qdcount;
    uint8_t qname[NAME_MAX_WIRE]; /* uncompressed, letter case as received */
    size_t qname_len;
    uint16_t qtype;
    uint16_t qclass;
    /* EDNS (RFC 6891 §6.1.2), valid when has_edns. */
    bool has_edns;
    uint16_t edns_payload; /* the requestor's UDP payload size, as sent */
    uint8_t edns_version;
    bool edns_do;          /* the DO bit (RFC 3225) */
} dns_query_t;

/* Parses a whole query packet. On DNS_PARSE_FORMERR, q->id and q->flags are
 * valid (the header was readable) and, when the question itself parsed,
 * so are the question fields (q->qdcount == 1 and qname_len > 0);
 * otherwise qname_len is 0. */
dns_parse_status_t dns_parse_query(const uint8_t *pkt, size_t len, dns_query_t *q);

/* ---- building --------------------------------------------------------- */

#define DNS_COMPRESS_MAX 128 /* remembered name offsets; more only compress less */

enum dns_section { DNS_SECTION_ANSWER = 0, DNS_SECTION_AUTHORITY, DNS_SECTION_ADDITIONAL };

/* An optional index for big messages (zone transfers: hundreds of names
 * a message): remembers up to DNS_COMPRESS_INDEX_MAX names and finds one by a
 * hash of its lowercased suffix instead of a scan of DNS_COMPRESS_MAX.
 * Set with dns_builder_use_index after dns_builder_init; queries do not
 * use it. One candidate per hash slot: a collision only compresses less. */
#define DNS_COMPRESS_INDEX_MAX 8192
#define DNS_COMPRESS_INDEX_SLOTS 8192 /* a power of two */
typedef struct dns_compress_index {
    uint16_t slot[DNS_COMPRESS_INDEX_SLOTS]; /* remembered name number + 1, 0: empty */
    uint16_t offs[DNS_COMPRESS_INDEX_MAX];   /* where each remembered name starts */
} dns_compress_index_t;

typedef struct dns_builder {
    uint8_t *buf;
    size_t limit;          /* no octet is written at or beyond this */
    size_t len;
    uint16_t count[3];     /* per enum dns_section */
    uint16_t ncomp;
    uint16_t comp[DNS_COMPRESS_MAX]; /* offsets where a name (suffix) starts */
    dns_compress_index_t *index;     /* NULL: comp[] is scanned */
} dns_builder_t;

/* A point to roll back to (an RRset that did not fit). */
typedef struct dns_builder_mark {
    size_t len;
    uint16_t count[3];
    uint16_t ncomp;
} dns_builder_mark_t;

/* Starts a response in buf (the limit must be at least DNS_HEADER_LEN):
 * writes the header with the given id and flags, and all counts 0. */
void dns_builder_init(dns_builder_t *b, uint8_t *buf, size_t limit, uint16_t id, uint16_t flags);
void dns_builder_set_flags(dns_builder_t *b, uint16_t flags);
/* Compresses through `index` (emptied here; the caller owns it, and it
 * must outlive the message) instead of comp[]. Call right after init. */
void dns_builder_use_index(dns_builder_t *b, dns_compress_index_t *index);
/* Writes the question (qname uncompressed, as given) and sets QDCOUNT to 1.
 * Call once, before any RR. Returns 0, or -1 if it does not fit. */
int dns_builder_question(dns_builder_t *b, const uint8_t *qname, uint16_t qtype, uint16_t qclass);
/* Appends one RR to `section` (sections must be filled in order). rdata is
 * in zone wire form (names uncompressed). Returns 0, or -1 when it does not
 * fit before the limit (nothing is then written) or the rdata is malformed
 * for its type. */
int dns_builder_rr(dns_builder_t *b, enum dns_section section, const uint8_t *owner,
                   uint16_t type, uint16_t rclass, uint32_t ttl,
                   const uint8_t *rdata, uint16_t rdlen);
/* Appends the OPT pseudo-RR (RFC 6891 §6.1.2) to the additional section:
 * our payload size, the upper 8 bits of the extended rcode, version 0, and
 * the DO bit. Returns 0, or -1 if it does not fit. */
int dns_builder_opt(dns_builder_t *b, uint16_t payload, uint8_t ext_rcode_hi, bool do_bit);
/* Moves the limit (e.g. to keep room for the OPT RR); never below len. */
void dns_builder_set_limit(dns_builder_t *b, size_t limit);
dns_builder_mark_t dns_builder_mark(const dns_builder_t *b);
void dns_builder_rollback(dns_builder_t *b, const dns_builder_mark_t *m);
/* Writes the section counts into the header; returns the message length. */
size_t dns_builder_finish(dns_builder_t *b);

#endif
