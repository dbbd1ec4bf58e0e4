/* tests/fuzz/fuzz_dns_xfr.c — libFuzzer target for zone transfer requests
 * (dns/xfr.h) and signed queries (dns/tsigquery.h): xfr_start (the
 * checks, TSIG verification with a store of two keys, the `transfer` ACL,
 * the zone lookup, the IXFR choice with a fake journal), the whole message
 * stream of the cursor, xfr_udp_answer, and dns_signed_answer, on a small
 * zone in a real zone database.
 *
 * Input: the first octet picks the source address (bit 0: inside the
 * ACL prefix or not), what the fake journal answers (bits 1-2: none, up to
 * date, a difference) and the message size (bit 3: 512 or 65535 octets);
 * the rest is the request.
 *
 * Properties checked besides "no crash, no sanitizer report":
 *  - a cursor only when the ACL allows the zone for the source and key;
 *  - every message fits the size given, echoes the ID, has QR and rcode
 *    NOERROR, the question only in the first; the stream ends (at most
 *    as many messages as RRs + 2) and starts with an SOA;
 *  - an error response (when one is built) echoes the ID and has QR. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/acl.h"
#include "dns/tsig.h"
#include "dns/tsigquery.h"
#include "dns/wire.h"
#include "dns/xfr.h"
#include "tests/fuzz/fuzz_common.h"
#include "zone/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 1700000000ull

static const char KEYS[] =
    "key \"xfr-key\" { algorithm hmac-sha256; "
    "secret \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"; };\n"
    "key \"other.\" { algorithm hmac-sha512; secret \"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY"
    "GRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QA==\"; };\n";
static const char ZONE[] = "$TTL 60\n@ SOA ns1 hostmaster 10 3600 600 604800 60\n@ NS ns1\n"
                           "ns1 A 192.0.2.1\nwww A 192.0.2.2\nwww AAAA 2001:db8::2\n"
                           "mail MX 10 www\n*.w TXT \"wild\"\n";

static tsig_keystore_t *ks;
static acl_t *acl;
static zonedb_handle_t *db;
static int journal_mode;
static uint8_t origin[NAME_MAX_WIRE];

static int fake_diff(void *arg, const uint8_t *o, uint32_t serial, zone_changeset_t *out)
{
    (void)arg;
    (void)o;
    if (journal_mode != ZJ_DIFF)
        return journal_mode == 1 ? ZJ_UPTODATE : ZJ_NONE;
    static const uint8_t soa[] = { 0, 0, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 };
    static const uint8_t a[] = { 192, 0, 2, 9 };
    zone_rr_t rem[1] = { { origin, 6, 1, 60, sizeof soa, soa } };
    zone_rr_t add[2] = { { origin, 6, 1, 60, sizeof soa, soa }, { origin, 1, 1, 60, 4, a } };
    return zone_changeset_make(out, serial, 10, rem, 1, add, 2) == 0 ? ZJ_DIFF : ZJ_NONE;
}

static void setup(void)
{
    if (ks != NULL)
        return;
    char err[ZONE_ERR_MAX], aerr[ACL_ERR_MAX];
    ks = tsig_keystore_new();
    fuzz_check(tsig_keystore_load_text(ks, KEYS, sizeof KEYS - 1, "fuzz", err) == 0);
    acl = acl_new();
    const char *zones[] = { "example.com." };
    fuzz_check(acl_add_rule(acl, zones, 1, ACL_TRANSFER, "xfr-key", NULL, ks, aerr) == 0);
    fuzz_check(acl_add_rule(acl, zones, 1, ACL_TRANSFER, NULL, "10.0.0.0/8", ks, aerr) == 0);
    const char *e;
    fuzz_check(name_from_text("example.com.", 12, NULL, origin, &e) > 0);
    zone_t *z = zone_parse_text(ZONE, sizeof ZONE - 1, "fuzz", origin, err);
    fuzz_check(z != NULL);
    zonedb_index_t *zi = zonedb_index_build(z, err);
    zone_free(z);
    db = zonedb_handle_new();
    fuzz_check(zi != NULL && zonedb_handle_put_zone(db, zi) == 0);
    zonedb_reader_register();
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static void check_stream(xfr_cursor_t *c, const uint8_t *req, size_t cap)
{
    static uint8_t msg[65535];
    unsigned n = 0;
    size_t len;
    while ((len = xfr_cursor_next(c, msg, cap, T0)) > 0) {
        fuzz_check(len <= cap && len >= DNS_HEADER_LEN);
        fuzz_check(be16(msg) == be16(req) && (be16(msg + 2) & DNS_FLAG_QR));
        fuzz_check(DNS_RCODE(be16(msg + 2)) == 0);
        fuzz_check(be16(msg + 4) == (n == 0 ? 1 : 0));
        fuzz_check(++n <= 20);
    }
    fuzz_check(xfr_cursor_done(c) && n >= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    const uint8_t *pkt = data + 1;
    size_t len = size - 1;
    journal_mode = (sel >> 1) & 3;
    size_t cap = (sel & 8) ? 65535 : 512;
    struct sockaddr_in peer = { .sin_family = AF_INET };
    inet_pton(AF_INET, (sel & 1) ? "10.1.2.3" : "192.0.2.99", &peer.sin_addr);
    xfr_ctx_t ctx = { .keys = ks, .acl = acl, .journal_diff = fake_diff };

    static uint8_t resp[65535];
    size_t rlen = 0;
    bool not_xfr = false;
    xfr_cursor_t *c = xfr_start(&ctx, db, pkt, len, (struct sockaddr *)&peer, T0, resp,
                                sizeof resp, &rlen, &not_xfr);
    if (c != NULL) {
        tsig_request_t tr;
        bool keyed = tsig_verify_request(ks, pkt, len, T0, &tr) == TSIG_VALID;
        fuzz_check((sel & 1) || keyed); /* the ACL: the prefix or the key */
        check_stream(c, pkt, cap);
        xfr_cursor_free(c);
    } else if (rlen > 0) {
        fuzz_check(rlen >= DNS_HEADER_LEN && be16(resp) == be16(pkt) &&
                   (be16(resp + 2) & DNS_FLAG_QR));
    }
    rlen = xfr_udp_answer(&ctx, db, pkt, len, (struct sockaddr *)&peer, T0, resp, 1232, &not_xfr);
    fuzz_check(rlen <= 1232);
    if (dns_maybe_signed(pkt, len)) {
        bool handled;
        zonedb_read_lock();
        rlen = dns_signed_answer(ks, zonedb_current(db), pkt, len, resp, cap, cap > 512, T0,
                                 &handled);
        zonedb_read_unlock();
        fuzz_check(rlen <= cap);
    }
    return 0;
}
