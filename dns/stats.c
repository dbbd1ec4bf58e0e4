/* dns/stats.c — the DNS server's per-thread counters and their Prometheus
 * families (see stats.h). Names follow CoreDNS's coredns_dns_* where one
 * exists (requests by type, responses by rcode, response size). */
#include "dns/stats.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/promtext.h"

struct dns_stats {
    unsigned n;
    dns_stats_slot_t *slots; /* n, each 64-byte aligned */
};

/* Response sizes in bytes: CoreDNS's buckets. */
static const double size_bounds[DNS_STATS_SIZE_BOUNDS] = {
    0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16000, 32000, 48000, 64000,
};

/* The QTYPEs counted by name (RFC 1035 §3.2.2, and later RFCs); the last
 * index is every other type. */
static const struct { uint16_t type; const char *name; } qtypes[DNS_STATS_QTYPES - 1] = {
    { 1, "A" },      { 2, "NS" },      { 5, "CNAME" },  { 6, "SOA" },    { 12, "PTR" },
    { 15, "MX" },    { 16, "TXT" },    { 28, "AAAA" },  { 33, "SRV" },   { 35, "NAPTR" },
    { 43, "DS" },    { 46, "RRSIG" },  { 47, "NSEC" },  { 48, "DNSKEY" }, { 52, "TLSA" },
    { 64, "SVCB" },  { 65, "HTTPS" },  { 251, "IXFR" }, { 252, "AXFR" }, { 255, "ANY" },
    { 257, "CAA" },
};
#define QTYPE_OTHER (DNS_STATS_QTYPES - 1)

/* RFC 6895 §2.3 (the four header bits; extended RCODEs live in OPT). */
static const char *const rcode_names[DNS_STATS_RCODES] = {
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE",  "RCODE11",  "RCODE12", "RCODE13", "RCODE14",  "RCODE15",
};

static const char *const proto_names[DNS_STATS_PROTOS] = { "udp", "tcp" };
static const char *const drop_names[DNS_DROP_REASONS] = { "malformed", "oversize", "rrl", "send" };

/* QTYPE -> index into qtypes (QTYPE_OTHER for the rest), for types below
 * 256 (a loop for the rare ones above). Built on first use. */
static uint8_t qtype_small[256];
static pthread_once_t qtype_once = PTHREAD_ONCE_INIT;

static void qtype_table_build(void)
{
    memset(qtype_small, QTYPE_OTHER, sizeof qtype_small);
    for (unsigned i = 0; i < QTYPE_OTHER; i++)
        if (qtypes[i].type < 256)
            qtype_small[qtypes[i].type] = (uint8_t)i;
}

static unsigned qtype_index(int type)
{
    if (type >= 0 && type < 256)
        return qtype_small[type];
    for (unsigned i = 0; i < QTYPE_OTHER; i++)
        if (qtypes[i].type == type)
            return i;
    return QTYPE_OTHER;
}

/* size_bounds as integers, for the hot path. */
static const uint32_t size_limits[DNS_STATS_SIZE_BOUNDS] = {
    0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16000, 32000, 48000, 64000,
};

dns_stats_t *dns_stats_new(unsigned n)
{
    pthread_once(&qtype_once, qtype_table_build);
    dns_stats_t *s = calloc(1, sizeof *s);
    size_t bytes = (size_t)(n ? n : 1) * sizeof(dns_stats_slot_t);
    if (s == NULL || (s->slots = aligned_alloc(64, bytes)) == NULL) {
        free(s);
        return NULL;
    }
    memset(s->slots, 0, bytes);
    s->n = n;
    return s;
}

void dns_stats_free(dns_stats_t *s)
{
    if (s == NULL)
        return;
    free(s->slots);
    free(s);
}

dns_stats_slot_t *dns_stats_slot(dns_stats_t *s, unsigned i)
{
    return &s->slots[i];
}

static unsigned size_bucket(size_t len)
{
    if (len <= 400) /* the usual case: bounds 0, 100, 200, 300, 400 */
        return (unsigned)((len + 99) / 100);
    unsigned i = 5;
    while (i < DNS_STATS_SIZE_BOUNDS && len > size_limits[i])
        i++;
    return i;
}

void dns_stats_count_response(dns_stats_slot_t *slot, enum dns_stats_proto proto, int qtype,
                              const uint8_t *resp, size_t len)
{
    if (len < 12)
        return;
    dns_stat_add(&slot->requests[proto][qtype_index(qtype)], 1);
    dns_stat_add(&slot->responses[proto][resp[3] & 0x0F], 1);
    if (resp[2] & 0x02)
        dns_stat_add(&slot->truncated[proto], 1);
    dns_stat_add(&slot->size[proto][size_bucket(len)], 1);
    dns_stat_add(&slot->size_sum[proto], len);
}

/* ---- scrape -------------------------------------------------------------- */

/* The sum over every slot of the counter at byte offset `off`. */
static uint64_t sum_at(const dns_stats_t *s, size_t off)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < s->n; i++) {
        const dns_counter_t *c = (const dns_counter_t *)((const char *)&s->slots[i] + off);
        total += atomic_load_explicit((dns_counter_t *)c, memory_order_relaxed);
    }
    return total;
}
#define SUM(s, field) sum_at((s), offsetof(dns_stats_slot_t, field))

static void labels2(char *out, size_t cap, const char *k1, const char *v1, const char *k2,
                    const char *v2)
{
    out[0] = '\0';
    promtext_label(out, cap, k1, v1);
    if (k2)
        promtext_label(out, cap, k2, v2);
}

static void write_requests(const dns_stats_t *s, bytebuf_t *b)
{
    const char *name = "dnsraft_dns_requests_total";
    promtext_family(b, name, "DNS queries answered, by transport and query type.", PROM_COUNTER);
    for (unsigned p = 0; p < DNS_STATS_PROTOS; p++)
        for (unsigned t = 0; t < DNS_STATS_QTYPES; t++) {
            char l[96];
            labels2(l, sizeof l, "proto", proto_names[p], "type",
                    t == QTYPE_OTHER ? "other" : qtypes[t].name);
            promtext_sample_u64(b, name, l, SUM(s, requests[p][t]));
        }
}

static void write_responses(const dns_stats_t *s, bytebuf_t *b)
{
    const char *name = "dnsraft_dns_responses_total";
    promtext_family(b, name, "DNS responses sent, by transport and RCODE.", PROM_COUNTER);
    for (unsigned p = 0; p < DNS_STATS_PROTOS; p++)
        for (unsigned r = 0; r < DNS_STATS_RCODES; r++) {
            if (r > 10 && SUM(s, responses[p][r]) == 0)
                continue; /* unassigned codes appear only once seen */
            char l[96];
            labels2(l, sizeof l, "proto", proto_names[p], "rcode", rcode_names[r]);
            promtext_sample_u64(b, name, l, SUM(s, responses[p][r]));
        }
}

static void write_sizes(const dns_stats_t *s, bytebuf_t *b)
{
    const char *name = "dnsraft_dns_response_size_bytes";
    promtext_family(b, name, "Size of the DNS responses sent, in bytes.", PROM_HISTOGRAM);
    for (unsigned p = 0; p < DNS_STATS_PROTOS; p++) {
        uint64_t counts[DNS_STATS_SIZE_BOUNDS + 1];
        for (unsigned i = 0; i <= DNS_STATS_SIZE_BOUNDS; i++)
            counts[i] = SUM(s, size[p][i]);
        char l[64];
        labels2(l, sizeof l, "proto", proto_names[p], NULL, NULL);
        promtext_histogram(b, name, l, size_bounds, counts, DNS_STATS_SIZE_BOUNDS,
                           (double)SUM(s, size_sum[p]));
    }
}

static void write_per_proto(const dns_stats_t *s, bytebuf_t *b, const char *name,
                            const char *help, size_t off0, size_t stride)
{
    promtext_family(b, name, help, PROM_COUNTER);
    for (unsigned p = 0; p < DNS_STATS_PROTOS; p++) {
        char l[64];
        labels2(l, sizeof l, "proto", proto_names[p], NULL, NULL);
        promtext_sample_u64(b, name, l, sum_at(s, off0 + p * stride));
    }
}

static void write_dropped(const dns_stats_t *s, bytebuf_t *b)
{
    const char *name = "dnsraft_dns_dropped_total";
    promtext_family(b, name, "DNS queries not answered, by transport and reason.", PROM_COUNTER);
    for (unsigned p = 0; p < DNS_STATS_PROTOS; p++)
        for (unsigned r = 0; r < DNS_DROP_REASONS; r++) {
            if (p == DNS_STATS_TCP && (r == DNS_DROP_OVERSIZE || r == DNS_DROP_RRL))
                continue; /* cannot happen over TCP */
            char l[96];
            labels2(l, sizeof l, "proto", proto_names[p], "reason", drop_names[r]);
            promtext_sample_u64(b, name, l, SUM(s, dropped[p][r]));
        }
}

void dns_stats_write(const dns_stats_t *s, bytebuf_t *b)
{
    write_requests(s, b);
    write_responses(s, b);
    write_per_proto(s, b, "dnsraft_dns_truncated_total",
                    "DNS responses sent with TC=1 (the client should retry over TCP).",
                    offsetof(dns_stats_slot_t, truncated), sizeof(dns_counter_t));
    write_sizes(s, b);
    write_dropped(s, b);
    promtext_family(b, "dnsraft_dns_rrl_slipped_total",
                    "Rate-limited UDP responses sent truncated (slip) instead of dropped.",
                    PROM_COUNTER);
    promtext_sample_u64(b, "dnsraft_dns_rrl_slipped_total", NULL, SUM(s, rrl_slipped));
    write_per_proto(s, b, "dnsraft_dns_update_requests_total",
                    "DNS UPDATE (RFC 2136) messages received.",
                    offsetof(dns_stats_slot_t, updates), sizeof(dns_counter_t));
}
