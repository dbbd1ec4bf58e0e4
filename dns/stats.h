/* dns/stats.h — the DNS server's counters, for /metrics (metrics/).
 *
 * One slot per serving thread (each UDP worker, and the TCP thread), each
 * on its own cache lines and written only by its thread, with a relaxed
 * load and store (no locked instruction, no shared line written per
 * query); a scrape sums the slots with relaxed loads. A sum read while
 * workers run is a moment's view, and each counter only grows.
 *
 * What is counted per answered query: its QTYPE (as dns_answer_qtype
 * parsed it), the response's RCODE (the header's four bits), TC, and its
 * size. Queries not answered are counted as dropped, by reason. */
#ifndef DNS_STATS_H
#define DNS_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytebuf.h"

enum dns_stats_proto { DNS_STATS_UDP, DNS_STATS_TCP, DNS_STATS_PROTOS };

enum dns_stats_drop {
    DNS_DROP_MALFORMED, /* shorter than a header, or a response (QR=1) */
    DNS_DROP_OVERSIZE,  /* a UDP datagram larger than we read */
    DNS_DROP_RRL,       /* response rate limiting dropped the answer */
    DNS_DROP_SEND,      /* the reply could not be sent */
    DNS_DROP_REASONS
};

enum { DNS_STATS_QTYPES = 22, DNS_STATS_RCODES = 16, DNS_STATS_SIZE_BOUNDS = 14 };

typedef _Atomic uint64_t dns_counter_t;

typedef struct dns_stats_slot {
    _Alignas(64) dns_counter_t requests[DNS_STATS_PROTOS][DNS_STATS_QTYPES];
    dns_counter_t responses[DNS_STATS_PROTOS][DNS_STATS_RCODES];
    dns_counter_t truncated[DNS_STATS_PROTOS];
    dns_counter_t size[DNS_STATS_PROTOS][DNS_STATS_SIZE_BOUNDS + 1];
    dns_counter_t size_sum[DNS_STATS_PROTOS];
    dns_counter_t dropped[DNS_STATS_PROTOS][DNS_DROP_REASONS];
    dns_counter_t rrl_slipped;
    dns_counter_t updates[DNS_STATS_PROTOS];
} dns_stats_slot_t;

typedef struct dns_stats dns_stats_t;

/* n slots, zeroed. NULL when out of memory. */
dns_stats_t *dns_stats_new(unsigned n);
void dns_stats_free(dns_stats_t *s);
dns_stats_slot_t *dns_stats_slot(dns_stats_t *s, unsigned i);

/* Appends every DNS family (dnsraft_dns_*) in the Prometheus text format:
 * the slots summed. Safe while the threads run. */
void dns_stats_write(const dns_stats_t *s, bytebuf_t *b);

/* ---- hot path: the owning thread only ----------------------------------- */

/* Single writer: a plain add the compiler may not tear or reorder across
 * threads' reads; no read-modify-write is needed. */
static inline void dns_stat_add(dns_counter_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Each takes the thread's slot, or NULL when nothing is counted (metrics
 * off: one predictable branch per query). */

/* Counts one response of len bytes (as sent) to a query of type qtype
 * (-1: the question did not parse: type "other"). */
void dns_stats_count_response(dns_stats_slot_t *slot, enum dns_stats_proto proto, int qtype,
                              const uint8_t *resp, size_t len);
static inline void dns_stats_response(dns_stats_slot_t *slot, enum dns_stats_proto proto,
                                      int qtype, const uint8_t *resp, size_t len)
{
    if (slot != NULL)
        dns_stats_count_response(slot, proto, qtype, resp, len);
}

static inline void dns_stats_drop(dns_stats_slot_t *slot, enum dns_stats_proto proto,
                                  enum dns_stats_drop why)
{
    if (slot != NULL)
        dns_stat_add(&slot->dropped[proto][why], 1);
}

static inline void dns_stats_slip(dns_stats_slot_t *slot)
{
    if (slot != NULL)
        dns_stat_add(&slot->rrl_slipped, 1);
}

static inline void dns_stats_update(dns_stats_slot_t *slot, enum dns_stats_proto proto)
{
    if (slot != NULL)
        dns_stat_add(&slot->updates[proto], 1);
}

#endif
