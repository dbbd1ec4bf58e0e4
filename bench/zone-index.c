/* bench/zone-index.c — times zonedb_index_build on one master file, prints the
 * index's node count and memory, then times dns_answer (no network) on
 * queries for every owner of the zone in a shuffled order. Built and run by
 * bench/zone-index.sh; not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/answer.h"
#include "zone/db.h"
#include "zone/zone.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A query for `name` (type A, no EDNS) in out; returns its length. */
static size_t make_query(const uint8_t *name, uint8_t out[512])
{
    static const uint8_t header[12] = { 0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
    size_t n = name_wire_len(name);
    memcpy(out, header, 12);
    memcpy(out + 12, name, n);
    memcpy(out + 12 + n, "\0\1\0\1", 4);
    return 16 + n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s ZONEFILE\n", argv[0]);
        return 2;
    }
    char err[ZONE_ERR_MAX];
    zone_t *z = zone_parse_file(argv[1], NULL, err);
    if (!z) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double t0 = now();
    zonedb_index_t *zi = zonedb_index_build(z, err);
    double t1 = now();
    if (!zi) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("index: %zu records -> %zu nodes in %.3f s, %.1f MiB\n", z->count,
           zonedb_index_node_count(zi), t1 - t0, (double)zonedb_index_memory(zi) / 1048576.0);

    /* Queries packed back to back, so the bench itself touches little
     * memory besides the index. */
    size_t count = z->count;
    uint8_t *queries = malloc(count * 64 + 512);
    size_t *offs = malloc((count + 1) * sizeof *offs);
    if (!queries || !offs)
        return 1;
    srand(1);
    size_t used = 0, made = 0;
    for (size_t i = 0; i < count && used + 512 <= count * 64 + 512; i++) {
        offs[made++] = used;
        used += make_query(z->rrs[(size_t)rand() % count].owner, queries + used);
    }
    offs[made] = used;
    count = made;
    zonedb_t *empty = zonedb_new();
    zonedb_t *db = zonedb_with_zone(empty, zi);
    zonedb_free(empty);
    zone_free(z);

    static uint8_t resp[DNS_TCP_MAX];
    size_t bytes = 0;
    double t2 = now();
    for (size_t i = 0; i < count; i++)
        bytes += dns_answer(db, queries + offs[i], offs[i + 1] - offs[i], resp, 512, false);
    double t3 = now();
    printf("answers: %zu in %.3f s (%.0f per second on one core, %.1f octets each)\n", count,
           t3 - t2, (double)count / (t3 - t2), (double)bytes / (double)count);
    zonedb_free(db);
    free(queries);
    free(offs);
    return 0;
}
