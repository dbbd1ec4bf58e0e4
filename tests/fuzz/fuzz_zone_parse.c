/* tests/fuzz/fuzz_zone_parse.c — libFuzzer target for the master-file
 * parser (zone_parse_text).
 *
 * Besides "no crash, no sanitizer report", every accepted zone must hold
 * its invariants and survive a round trip: printed back in presentation
 * form (absolute names, rrtype_rdata_to_text) and parsed again, it must
 * give exactly the same records in the same order. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zone/rrtype.h"
#include "zone/zone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

/* Writes the zone as master-file text; returns a malloc'd buffer. */
static char *print_zone(const zone_t *z, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    check(out != NULL);
    static char rdata[RDATA_TEXT_MAX];
    for (size_t i = 0; i < z->count; i++) {
        const zone_rr_t *rr = &z->rrs[i];
        char owner[NAME_MAX_TEXT], type[RRTYPE_TEXT_MAX];
        name_to_text(rr->owner, owner, sizeof owner);
        rrtype_to_text(rr->type, type);
        int m = rrtype_rdata_to_text(rr->type, rr->rdata, rr->rdlen, rdata, sizeof rdata);
        check(m >= 0);
        size_t need = strlen(owner) + strlen(type) + (size_t)m + 32;
        while (n + need > cap) {
            cap *= 2;
            out = realloc(out, cap);
            check(out != NULL);
        }
        n += (size_t)snprintf(out + n, cap - n, "%s %u IN %s %s\n", owner, (unsigned)rr->ttl,
                              type, rdata);
    }
    *len = n;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[ZONE_ERR_MAX];
    zone_t *z = zone_parse_text((const char *)data, size, "fuzz", NULL, err);
    if (z == NULL) {
        check(strncmp(err, "fuzz", 4) == 0 || strstr(err, ":") != NULL);
        return 0;
    }
    for (size_t i = 0; i < z->count; i++) {
        const zone_rr_t *rr = &z->rrs[i];
        const char *why = NULL;
        check(name_is_subdomain(rr->owner, z->origin));
        check(rrtype_rdata_valid(rr->type, rr->rdata, rr->rdlen, &why));
        check(rr->ttl <= TTL_MAX && rr->rclass == RR_CLASS_IN);
    }
    size_t len = 0;
    char *text = print_zone(z, &len);
    zone_t *again = zone_parse_text(text, len, "printed", z->origin, err);
    check(again != NULL);
    check(again->count == z->count && again->serial == z->serial);
    for (size_t i = 0; i < z->count; i++) {
        const zone_rr_t *a = &z->rrs[i], *b = &again->rrs[i];
        check(name_wire_len(a->owner) == name_wire_len(b->owner));
        check(memcmp(a->owner, b->owner, name_wire_len(a->owner)) == 0);
        check(a->type == b->type && a->ttl == b->ttl && a->rdlen == b->rdlen);
        check(memcmp(a->rdata, b->rdata, a->rdlen) == 0);
    }
    free(text);
    zone_free(again);
    zone_free(z);
    return 0;
}
