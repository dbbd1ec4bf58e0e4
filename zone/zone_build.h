/* zone/zone_build.h — private to zone/: builds a zone_t record by record and
 * applies the named-checkzone checks as records arrive. Both the master-file
 * parser (zonefile.c) and zone_from_records feed it, so both enforce the
 * same rules.
 *
 * Checks made per record, in O(1) with hash tables: identical records merged
 * (names in rdata compared case-insensitively), at most one CNAME and no
 * CNAME beside other data (RRSIG and NSEC excepted), one SOA at the apex,
 * owner inside the zone, the TTL of an RRset taken from its first record.
 * When the apex is not known up front, it is the owner of the SOA and the
 * out-of-zone check runs once at the end.
 *
 * Errors are written as "file:line: message" into the caller's buffer; the
 * file is one registered with zb_add_source. */
#ifndef ZONE_ZONE_BUILD_H
#define ZONE_ZONE_BUILD_H

#include <stdint.h>

#include "zone/zone.h"

typedef struct zone_builder zone_builder_t;

/* apex may be NULL (then the SOA owner becomes the apex). err must stay
 * valid until zb_finish or zb_abort. Returns NULL on out-of-memory (and
 * writes the reason into err). */
zone_builder_t *zb_new(const uint8_t *apex, char err[ZONE_ERR_MAX]);
/* Registers a file name for error messages; returns its id, or -1 on
 * out-of-memory. The builder keeps a copy. */
int zb_add_source(zone_builder_t *b, const char *name);
/* The name a source id stands for. */
const char *zb_source_name(const zone_builder_t *b, int source);
/* Adds one record (class IN); owner and rdata are copied. Returns 0 when
 * added or merged as a duplicate, -1 with err written. */
int zb_add(zone_builder_t *b, const uint8_t *owner, uint16_t type, uint32_t ttl,
           const uint8_t *rdata, uint16_t rdlen, int source, uint32_t line);
/* Runs the end-of-zone checks and returns the zone (the builder is freed
 * either way). On error returns NULL; `source`/`line` locate "no SOA". */
zone_t *zb_finish(zone_builder_t *b, int source, uint32_t line);
/* A zone from records that already form a valid zone (exactly what
 * zone_from_records would return for them: class IN, no duplicates, one
 * TTL per RRset, the CNAME and SOA rules kept, one spelling per owner),
 * copied without any check, for the dynamic-update working set, which
 * keeps those rules itself (zone/update_int.h). Owner names are copied
 * once per distinct pointer. NULL on allocation failure. */
zone_t *zone_copy_valid(const uint8_t *origin, const zone_rr_t *rrs, size_t count);
/* Discards everything. */
void zb_abort(zone_builder_t *b);
/* Writes "file:line: message" into the builder's error buffer (used by the
 * parser for its own errors so that every message has the same shape). */
void zb_error(zone_builder_t *b, int source, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
