/* bench/rrl-cost.c — the CPU cost of response rate limiting per query,
 * measured without the network: answers the same fixed list of queries with
 * dns_answer alone ("off") or dns_answer then rrl_check ("on", as
 * dns/udp.c does), or dns_answer then dns_stats_response ("count": the
 * per-query cost of the metrics counters, dns/stats.h, which
 * bench/metrics-cost.sh measures). Built and run by bench/rrl-cost.sh, which counts the
 * instructions of run_queries under callgrind (deterministic, unlike the
 * time on a shared machine); also prints wall-clock ns per query. Not a
 * test.
 *
 *   rrl-cost off|on|count QUERIES [SOURCES]
 *
 * The zone has 10,000 names (h0000000..h0009999, one A each, every tenth
 * also an AAAA); the queries, drawn with a fixed seed as bench/qps_zone.py
 * does: 85% A of an existing name, 5% AAAA, 10% a name that does not exist.
 * They come from SOURCES addresses (default 1, as dnsperf's; 1000 spreads
 * them over 1000 /24s). The rate is high enough that nothing is limited:
 * the figure is the cost of counting, paid by every response. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "dns/answer.h"
#include "dns/rrl.h"
#include "dns/stats.h"
#include "zone/db.h"
#include "zone/zone.h"

#define NAMES 10000
#define QMAX 64

typedef struct query { uint8_t wire[QMAX]; size_t len; } query_t;

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static unsigned next_rand(unsigned n)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static char *zone_text(void)
{
    size_t cap = 64 * NAMES + 512, len = 0;
    char *t = malloc(cap);
    len += (size_t)snprintf(t + len, cap - len, "$ORIGIN bench.test.\n$TTL 3600\n"
                            "@ SOA ns1 admin 1 3600 600 604800 60\n@ NS ns1\nns1 A 192.0.2.1\n");
    for (unsigned i = 0; i < NAMES; i++) {
        len += (size_t)snprintf(t + len, cap - len, "h%07u A 10.%u.%u.%u\n", i, i >> 16 & 255,
                                i >> 8 & 255, i & 255);
        if (i % 10 == 0)
            len += (size_t)snprintf(t + len, cap - len, "h%07u AAAA 2001:db8::%x\n", i, i);
    }
    return t;
}

static size_t make_query(uint8_t *q, uint16_t id, const char *host, uint16_t qtype)
{
    size_t n = 0;
    q[n++] = (uint8_t)(id >> 8), q[n++] = (uint8_t)id;
    memcpy(q + n, "\0\0\0\1\0\0\0\0\0\0", 10), n += 10;
    size_t hl = strlen(host);
    q[n++] = (uint8_t)hl, memcpy(q + n, host, hl), n += hl;
    q[n++] = 5, memcpy(q + n, "bench", 5), n += 5;
    q[n++] = 4, memcpy(q + n, "test", 4), n += 4;
    q[n++] = 0;
    q[n++] = (uint8_t)(qtype >> 8), q[n++] = (uint8_t)qtype, q[n++] = 0, q[n++] = 1;
    return n;
}

static void make_queries(query_t *qs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        unsigned pick = next_rand(100), name = next_rand(NAMES);
        char host[16];
        snprintf(host, sizeof host, pick < 90 ? "h%07u" : "x%07u", name);
        qs[i].len = make_query(qs[i].wire, (uint16_t)i, host, pick >= 85 && pick < 90 ? 28 : 1);
    }
}

/* The measured loop (callgrind --toggle-collect=run_queries). */
__attribute__((noinline)) size_t run_queries(const zonedb_t *db, const query_t *qs, size_t count,
                                             rrl_t *rrl, const struct sockaddr_in *src,
                                             unsigned sources, dns_stats_slot_t *slot);
size_t run_queries(const zonedb_t *db, const query_t *qs, size_t count, rrl_t *rrl,
                   const struct sockaddr_in *src, unsigned sources, dns_stats_slot_t *slot)
{
    static uint8_t resp[DNS_EDNS_PAYLOAD];
    size_t sent = 0;
    unsigned limited = 0;
    uint32_t now = 1000;
    for (size_t i = 0; i < count; i++) {
        int qtype;
        size_t len = dns_answer_qtype(db, qs[i].wire, qs[i].len, resp, sizeof resp, false, &qtype);
        if (len != 0 && rrl != NULL &&
            rrl_check(rrl, (const struct sockaddr *)&src[i % sources], resp, len, now, &limited) !=
                RRL_SEND)
            len = 0;
        dns_stats_response(slot, DNS_STATS_UDP, qtype, resp, len); /* NULL slot: nothing */
        sent += len != 0;
    }
    return sent;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "on") != 0 && strcmp(argv[1], "off") != 0 &&
                     strcmp(argv[1], "count") != 0)) {
        fprintf(stderr, "usage: %s off|on|count QUERIES [SOURCES]\n", argv[0]);
        return 2;
    }
    bool on = strcmp(argv[1], "on") == 0;
    size_t count = strtoul(argv[2], NULL, 10);
    unsigned sources = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1;
    if (count == 0 || sources == 0)
        return 2;
    char err[ZONE_ERR_MAX];
    char *text = zone_text();
    zone_t *zone = zone_parse_text(text, strlen(text), "bench", NULL, err);
    free(text);
    zonedb_index_t *zi = zone ? zonedb_index_build(zone, err) : NULL;
    if (zi == NULL) {
        fprintf(stderr, "zone: %s\n", err);
        return 1;
    }
    zone_free(zone);
    zonedb_handle_t *h = zonedb_handle_new();
    zonedb_handle_put_zone(h, zi);
    zonedb_reader_register();

    query_t *qs = calloc(count, sizeof *qs);
    struct sockaddr_in *src = calloc(sources, sizeof *src);
    make_queries(qs, count);
    for (unsigned i = 0; i < sources; i++) {
        src[i].sin_family = AF_INET;
        src[i].sin_addr.s_addr = htonl(0x0a000001u + (i << 8)); /* 10.0.0.1, 10.0.1.1, ... */
    }
    rrl_config_t cfg = { .rate = RRL_RATE_MAX, .slip = 2, .seed = 1 };
    rrl_t *rrl = on ? rrl_new(&cfg) : NULL;
    dns_stats_t *stats = strcmp(argv[1], "count") == 0 ? dns_stats_new(1) : NULL;

    struct timespec t0, t1;
    zonedb_read_lock();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t sent = run_queries(zonedb_current(h), qs, count, rrl, src, sources,
                              stats ? dns_stats_slot(stats, 0) : NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    zonedb_read_unlock();
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
                (double)count;
    dns_stats_free(stats);
    printf("rrl %s: %zu queries, %zu answered, %u source(s), %.0f ns/query\n", argv[1], count,
           sent, sources, ns);
    rrl_free(rrl);
    free(qs);
    free(src);
    zonedb_reader_unregister();
    zonedb_handle_free(h);
    return 0;
}
