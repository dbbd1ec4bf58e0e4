/* zone/zone.h — a zone as parsed from a master file: its origin and its
 * resource records in wire form. This is the hand-off between the zone-file
 * parser (zone/zonefile.c), the replicated state machine (kv/, which
 * serialises it into log entries) and the zone database (zone/db.c, which
 * indexes it for answering).
 *
 * Ownership: a zone_t owns every byte its records point to (an arena freed
 * by zone_free), except a view of an UPDATE batch (zone/update.h
 * zone_update_batch_view), which owns only its record array and is valid
 * while the batch is (no arena: zone_free frees the array). */
#ifndef ZONE_ZONE_H
#define ZONE_ZONE_H

#include <stddef.h>
#include <stdint.h>

#include "zone/name.h"

#define RR_CLASS_IN 1

typedef struct zone_rr {
    const uint8_t *owner; /* wire-form name, case as written */
    uint16_t type;
    uint16_t rclass;
    uint32_t ttl;
    uint16_t rdlen;
    const uint8_t *rdata; /* wire form; names inside uncompressed */
} zone_rr_t;

typedef struct zone zone_t;
struct zone {
    uint8_t origin[NAME_MAX_WIRE]; /* the apex: owner of the SOA */
    uint32_t serial;               /* from the SOA */
    zone_rr_t *rrs;
    size_t count;
    struct zone_arena *arena;      /* private to zone/: owns names and rdata */
};

/* Error text for a rejected file: "path:line: reason". */
#define ZONE_ERR_MAX 512

/* Parses and checks a master file (RFC 1035 §5). `origin` may be NULL, in
 * which case the file must set it with $ORIGIN before relative names are
 * used. On success returns a new zone; on any error returns NULL and writes
 * "file:line: message" into err. */
zone_t *zone_parse_file(const char *path, const uint8_t *origin, char err[ZONE_ERR_MAX]);
/* The same for text already in memory; `name` is used in error messages
 * and as the base directory for $INCLUDE. */
zone_t *zone_parse_text(const char *text, size_t len, const char *name,
                        const uint8_t *origin, char err[ZONE_ERR_MAX]);
/* Builds a zone from records already in wire form (e.g. from a Raft log
 * entry), copying them, and applies the same checks as the parser. */
zone_t *zone_from_records(const uint8_t *origin, const zone_rr_t *rrs, size_t count,
                          char err[ZONE_ERR_MAX]);
void zone_free(zone_t *zone);

#endif
