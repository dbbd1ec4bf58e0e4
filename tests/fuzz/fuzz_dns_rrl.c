/* tests/fuzz/fuzz_dns_rrl.c — libFuzzer target for response rate limiting
 * (dns/rrl.c): its parsing of the response it counts (class, question
 * name and type, the authority owner behind the answers) and rrl_truncate.
 *
 * Each input is used twice: as a raw "response" of hostile octets (from
 * an IPv4, an IPv4-mapped and an IPv6 source), and as a query whose real
 * answer from a small zone is counted. Besides "no crash, no sanitizer
 * report": rrl_truncate never grows a message, keeps the ID, sets TC and
 * QR as they were, and leaves no records; on a real answer it keeps the
 * question exactly; and a real answer from a fresh table is always sent
 * (rate 1, first response). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "dns/answer.h"
#include "dns/rrl.h"
#include "dns/wire.h"
#include "zone/db.h"
#include "zone/zone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ZONE[] =
    "$ORIGIN example.com.\n$TTL 3600\n"
    "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
    "@ NS ns1\n@ A 192.0.2.1\nns1 A 192.0.2.53\n"
    "www CNAME web\nweb A 192.0.2.80\nout CNAME nothere\n"
    "*.wild A 192.0.2.99\ndeleg NS ns.deleg\nns.deleg A 192.0.2.100\n";

static zonedb_t *db;
static rrl_t *shared;

static void check(int cond)
{
    if (!cond)
        abort();
}

static void load(void)
{
    uint8_t origin[NAME_MAX_WIRE];
    const char *e;
    check(name_from_text("example.com.", 12, NULL, origin, &e) > 0);
    char err[ZONE_ERR_MAX];
    zone_t *z = zone_parse_text(ZONE, sizeof ZONE - 1, "fuzz", origin, err);
    check(z != NULL);
    zonedb_index_t *zi = zonedb_index_build(z, err);
    check(zi != NULL);
    zone_free(z);
    zonedb_t *empty = zonedb_new();
    db = zonedb_with_zone(empty, zi);
    zonedb_free(empty);
    rrl_config_t cfg = { .rate = 3, .slip = 2, .table_size = 64, .seed = 1 };
    shared = rrl_new(&cfg);
    check(shared != NULL);
}

static void sources(struct sockaddr_in *v4, struct sockaddr_in6 *mapped, struct sockaddr_in6 *v6,
                    const uint8_t *data, size_t size)
{
    memset(v4, 0, sizeof *v4);
    memset(mapped, 0, sizeof *mapped);
    memset(v6, 0, sizeof *v6);
    v4->sin_family = AF_INET;
    mapped->sin6_family = AF_INET6;
    v6->sin6_family = AF_INET6;
    memcpy(&v4->sin_addr, data, size < 4 ? size : 4);
    mapped->sin6_addr.s6_addr[10] = mapped->sin6_addr.s6_addr[11] = 0xff;
    memcpy(mapped->sin6_addr.s6_addr + 12, data, size < 4 ? size : 4);
    memcpy(&v6->sin6_addr, data, size < 16 ? size : 16);
}

static void check_truncated(const uint8_t *before, size_t len, const uint8_t *after, size_t cut)
{
    check(cut <= len);
    if (len < DNS_HEADER_LEN) {
        check(cut == len);
        return;
    }
    check(cut >= DNS_HEADER_LEN);
    check(after[0] == before[0] && after[1] == before[1]);
    check((after[2] & 0x80) == (before[2] & 0x80));
    check(after[2] & 0x02);
    check(after[4] == 0 && after[5] <= 1);
    for (int i = 6; i < 12; i++)
        check(after[i] == 0);
}

static void count_and_cut(const uint8_t *resp, size_t len, const struct sockaddr *src)
{
    static uint8_t copy[DNS_TCP_MAX];
    unsigned limited = 0;
    rrl_action_t a = rrl_check(shared, src, resp, len, 100, &limited);
    check(a == RRL_SEND || a == RRL_DROP || a == RRL_SLIP);
    if (len > 0)
        memcpy(copy, resp, len);
    check_truncated(resp, len, copy, rrl_truncate(copy, len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t resp[DNS_EDNS_PAYLOAD];
    if (!db)
        load();
    if (size > DNS_TCP_MAX)
        return 0;
    struct sockaddr_in v4;
    struct sockaddr_in6 mapped, v6;
    sources(&v4, &mapped, &v6, data, size);
    /* Hostile octets as a response. */
    count_and_cut(data, size, (const struct sockaddr *)&v4);
    count_and_cut(data, size, (const struct sockaddr *)&mapped);
    count_and_cut(data, size, (const struct sockaddr *)&v6);
    /* A real answer: sent by a fresh table; truncated, its question kept. */
    size_t len = dns_answer(db, data, size, resp, sizeof resp, false);
    if (len == 0)
        return 0;
    rrl_config_t cfg = { .rate = 1, .slip = 1, .table_size = 2, .seed = 7 };
    rrl_t *fresh = rrl_new(&cfg);
    check(fresh != NULL);
    unsigned limited = 0;
    check(rrl_check(fresh, (const struct sockaddr *)&v4, resp, len, 5, &limited) == RRL_SEND);
    check(rrl_check(fresh, (const struct sockaddr *)&v4, resp, len, 5, &limited) == RRL_SLIP);
    rrl_free(fresh);
    count_and_cut(resp, len, (const struct sockaddr *)&v6);
    static uint8_t cut[DNS_EDNS_PAYLOAD];
    memcpy(cut, resp, len);
    size_t n = rrl_truncate(cut, len);
    if (resp[4] == 0 && resp[5] == 1) {
        size_t pos = DNS_HEADER_LEN;
        uint8_t name[NAME_MAX_WIRE];
        check(dns_read_name(resp, len, &pos, name) > 0);
        check(n == pos + 4 && memcmp(cut + DNS_HEADER_LEN, resp + DNS_HEADER_LEN, n - DNS_HEADER_LEN) == 0);
    }
    return 0;
}
