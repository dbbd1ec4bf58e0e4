/* tests/fuzz/fuzz_dns_notify.c — libFuzzer target for what a primary
 * reads back after sending a NOTIFY (dns/notify_msg.h, dns/tsig.h,
 * dns/notify_sched.h): hostile responses through the response parser, the
 * TSIG check of a response to a signed request, and the scheduler's
 * matching of the response's id.
 *
 * Input: the first octet n (taken mod 65) is the length of the request
 * MAC that follows it (what our signed NOTIFY carried); the rest is the
 * response. The clock is fixed at T0, the time the seeds were signed.
 *
 * Properties checked besides "no crash, no sanitizer report":
 *  - a parsed response has QR=1, opcode NOTIFY and the id of its first
 *    two octets; a question only when QDCOUNT is 1;
 *  - a response verified as good was signed (never unsigned, never
 *    silently accepted);
 *  - the scheduler acknowledges a response only when its id is the one
 *    outstanding, and then exactly once. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/notify_msg.h"
#include "dns/notify_sched.h"
#include "dns/tsig.h"
#include "dns/wire.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 1700000000ull
#define OUTSTANDING_ID 0x1234

static const char KEYS[] =
    "key \"xfr-key\" { algorithm hmac-sha256; "
    "secret \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"; };\n";

static tsig_keystore_t *store(void)
{
    static tsig_keystore_t *ks;
    if (ks == NULL) {
        char err[TSIG_ERR_MAX];
        ks = tsig_keystore_new();
        fuzz_check(ks != NULL && tsig_keystore_load_text(ks, KEYS, strlen(KEYS), "fuzz", err) == 0);
    }
    return ks;
}

static uint16_t fixed_id(void *arg)
{
    (void)arg;
    return OUTSTANDING_ID;
}

static void check_parse(const uint8_t *msg, size_t len, notify_response_t *r, bool *parsed)
{
    const char *why = NULL;
    *parsed = notify_msg_parse_response(msg, len, r, &why);
    if (!*parsed) {
        fuzz_check(why != NULL);
        return;
    }
    fuzz_check(len >= DNS_HEADER_LEN);
    uint16_t flags = (uint16_t)(msg[2] << 8 | msg[3]);
    fuzz_check(flags & DNS_FLAG_QR);
    fuzz_check(DNS_OPCODE(flags) == DNS_OPCODE_NOTIFY);
    fuzz_check(r->id == (uint16_t)(msg[0] << 8 | msg[1]));
    fuzz_check(!r->has_question || (msg[4] == 0 && msg[5] == 1));
    fuzz_check(!r->has_question || name_wire_len(r->zone) <= NAME_MAX_WIRE);
}

static void check_tsig(const uint8_t *mac, uint16_t mac_len, const uint8_t *msg, size_t len)
{
    tsig_stream_t st;
    fuzz_check(tsig_stream_start_receiver(&st, tsig_keystore_key(store(), 0), mac, mac_len) == 0);
    bool was_signed = false;
    enum tsig_error e = tsig_stream_verify(&st, msg, len, T0, &was_signed);
    tsig_stream_end(&st);
    fuzz_check(e != TSIG_NOERROR || was_signed);
}

static void check_sched(const notify_response_t *r)
{
    static const size_t targets[] = { 1 };
    notify_sched_opts_t o = { .retry_ms = 100, .new_id = fixed_id };
    notify_sched_t *s = notify_sched_new(targets, 1, &o);
    fuzz_check(s != NULL);
    notify_send_t out;
    notify_sched_set_epoch(s, 1, 0);
    notify_sched_zone_serial(s, 0, 1, 0);
    fuzz_check(notify_sched_take_due(s, 0, &out) && out.id == OUTSTANDING_ID);
    enum notify_ack_result a = notify_sched_ack(s, 0, 0, r->id, r->rcode, 1);
    fuzz_check((a != NOTIFY_ACK_NOMATCH) == (r->id == OUTSTANDING_ID));
    fuzz_check(notify_sched_ack(s, 0, 0, r->id, r->rcode, 2) == NOTIFY_ACK_NOMATCH);
    notify_counters_t c = notify_sched_counters(s);
    fuzz_check(c.acked + c.rejected == (r->id == OUTSTANDING_ID ? 1u : 0u));
    notify_sched_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint16_t mac_len = data[0] % (TSIG_MAC_MAX + 1);
    if (size < 1u + mac_len)
        return 0;
    const uint8_t *mac = data + 1;
    const uint8_t *msg = data + 1 + mac_len;
    size_t len = size - 1 - mac_len;
    notify_response_t r;
    bool parsed;
    check_parse(msg, len, &r, &parsed);
    check_tsig(mac, mac_len, msg, len);
    if (parsed)
        check_sched(&r);
    return 0;
}
