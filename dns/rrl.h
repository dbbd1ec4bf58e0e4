/* dns/rrl.h — response rate limiting (RRL) for DNS over UDP, after Vixie
 * and Schryver's design as BIND, Knot (`rrl` module) and NSD implement it.
 *
 * An authoritative server that answers every UDP query can be used to
 * reflect and amplify traffic at a forged source address. RRL counts the
 * responses sent to each source network (IPv4 /24, IPv6 /56 by default)
 * for each kind of response, and past `rate` per second it drops them,
 * except that every `slip`-th limited response goes out truncated (TC=1,
 * no records), so a real client behind that prefix retries over TCP, which
 * cannot be forged and is not limited.
 *
 * The response's kind (its class) is part of the key, so a flood of one
 * answer does not stop others to the same network:
 *   POSITIVE  NOERROR with answers: the query name and type;
 *   EMPTY     NOERROR, no answer (NODATA, referral): the name that owns the
 *             authority section (the zone apex or delegation), so a flood
 *             of random names counts as one;
 *   NXDOMAIN  likewise keyed by the authority owner (the zone);
 *   ERROR     any other rcode (REFUSED, FORMERR, ...): no name.
 *
 * Buckets are a token bucket each (at most `rate` tokens, `rate` more per
 * second, one per response) held in one fixed-size table shared by every
 * UDP worker: each bucket is one 64-bit word updated with compare-and-swap,
 * so workers never lock. A key may live in one of two neighbouring slots;
 * a new key takes over the staler of the two, so the table never grows and
 * a forgotten bucket starts full again (RRL then errs on the side of
 * answering). The hash is seeded at random per process.
 *
 * Ownership: rrl_new returns a table owned by the caller (rrl_free). The
 * slip counter is the caller's, one per thread. */
#ifndef DNS_RRL_H
#define DNS_RRL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RRL_RATE_MAX 1000000u
#define RRL_SLIP_MAX 100u
#define RRL_SLIP_DEFAULT 2u
#define RRL_IPV4_PREFIX_DEFAULT 24u
#define RRL_IPV6_PREFIX_DEFAULT 56u
#define RRL_TABLE_DEFAULT 262144u /* buckets (8 octets each): 2 MiB */
#define RRL_TABLE_MAX (1u << 26)

typedef struct rrl rrl_t;

typedef struct rrl_config {
    unsigned rate;        /* responses per second per bucket, 1..RRL_RATE_MAX */
    unsigned slip;        /* every slip-th limited response is sent truncated;
                             0 = drop them all, 1 = truncate them all */
    unsigned ipv4_prefix; /* 1..32; 0 = RRL_IPV4_PREFIX_DEFAULT */
    unsigned ipv6_prefix; /* 1..128; 0 = RRL_IPV6_PREFIX_DEFAULT */
    unsigned table_size;  /* buckets, rounded up to a power of two (at least 2);
                             0 = RRL_TABLE_DEFAULT */
    uint64_t seed;        /* hash seed; 0 = random */
} rrl_config_t;

typedef enum rrl_action {
    RRL_SEND = 0, /* within the rate: send the response as it is */
    RRL_DROP,     /* limited: send nothing */
    RRL_SLIP,     /* limited: send it truncated (rrl_truncate) */
} rrl_action_t;

/* A table for cfg (rate must be at least 1). NULL when out of memory. */
rrl_t *rrl_new(const rrl_config_t *cfg);
void rrl_free(rrl_t *r);

/* Seconds on the monotonic clock: the `now` to pass to rrl_check. */
uint32_t rrl_now(void);

/* Counts one response `resp` (resp_len octets, as built by dns_answer)
 * about to be sent to `src` (AF_INET or AF_INET6; an IPv4-mapped IPv6
 * address counts as IPv4) at time now (seconds), and says what to do.
 * *limited counts this thread's limited responses for the slip. Safe from
 * many threads at once on the same table. */
rrl_action_t rrl_check(rrl_t *r, const struct sockaddr *src, const uint8_t *resp,
                       size_t resp_len, uint32_t now, unsigned *limited);

/* Cuts a response down to its header and question, with TC=1 and no
 * records, in place; returns the new length (a slipped response). */
size_t rrl_truncate(uint8_t *resp, size_t resp_len);

#endif
