/* tests/fuzz/fuzz_kv_command.c — libFuzzer target for the log-entry command
 * decoder (kv/command.h kv_cmd_decode) and for applying what it accepts
 * (kv/statemachine.h sm_apply): a committed entry may come from a buggy or
 * hostile peer, and every replica must refuse it the same way.
 *
 * Properties checked besides "no crash, no sanitizer report":
 *  - an accepted command re-encodes to exactly the input bytes: SET, DEL and
 *    ZONE_DEL through their encoders, UPDATE's body through its encoder, ZONE_CHUNK field by field with its
 *    records written back by kv_cmd_record_put (there is no standalone chunk
 *    encoder: chunks are cut from a whole zone);
 *  - the chunk's records are exactly rr_count valid records
 *    (kv_cmd_records_valid, and kv_cmd_records_next walks them to the end);
 *  - sm_apply on a fresh state machine refuses exactly what the decoder
 *    refuses (KV_ERR_MALFORMED), stores an accepted SET so that kv get
 *    returns its value, and a later chunk of an unknown load is stale;
 *  - the state it leaves snapshots, restores and snapshots again to the
 *    same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "kv/bytes.h"
#include "kv/command.h"
#include "kv/statemachine.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    fuzz_check(alen == blen && memcmp(a, b, alen) == 0);
}

static void reencode_chunk(const kv_cmd_t *c, const uint8_t *data, size_t size)
{
    fuzz_check(kv_cmd_records_valid(c->records, c->records_len, c->rr_count));
    bytebuf_t b;
    bytebuf_init(&b);
    bytebuf_put_u8(&b, KV_CMD_VERSION);
    bytebuf_put_u8(&b, c->type);
    bytebuf_put_u64(&b, c->client_id);
    bytebuf_put_u64(&b, c->seq);
    bytebuf_put(&b, c->origin, kv_cmd_wire_name_len(c->origin, NAME_MAX_WIRE));
    bytebuf_put_u8(&b, (uint8_t)c->node_id_len);
    bytebuf_put(&b, c->node_id, c->node_id_len);
    bytebuf_put_u64(&b, c->load_id);
    bytebuf_put_u32(&b, c->chunk_no);
    bytebuf_put_u32(&b, c->chunk_total);
    bytebuf_put_u32(&b, c->rr_count);
    size_t pos = 0, n = 0;
    zone_rr_t rr;
    while (kv_cmd_records_next(c->records, c->records_len, &pos, &rr)) {
        fuzz_check(kv_cmd_record_size(&rr) <= c->records_len);
        kv_cmd_record_put(&b, &rr);
        n++;
    }
    fuzz_check(n == c->rr_count && pos == c->records_len);
    fuzz_check(!b.failed);
    check_same(b.data, b.len, data, size);
    bytebuf_free(&b);
}

static void reencode(const kv_cmd_t *c, const uint8_t *data, size_t size)
{
    uint8_t *out = NULL;
    size_t len = 0;
    const char *err = NULL;
    switch (c->type) {
    case KV_CMD_SET:
        fuzz_check(kv_cmd_encode_set(c->client_id, c->seq, c->key, c->key_len, c->value,
                                     c->value_len, &out, &len, &err) == 0);
        break;
    case KV_CMD_DEL:
        fuzz_check(kv_cmd_encode_del(c->client_id, c->seq, c->key, c->key_len, &out, &len,
                                     &err) == 0);
        break;
    case KV_CMD_ZONE_DEL:
        fuzz_check(kv_cmd_encode_zone_del(c->client_id, c->seq, c->origin, &out, &len,
                                          &err) == 0);
        break;
    case KV_CMD_ZONE_CHUNK:
        reencode_chunk(c, data, size);
        return;
    case KV_CMD_UPDATE: {
        uint8_t *buf = malloc(KV_UPDATE_CMD_MAX);
        fuzz_check(buf != NULL);
        int n = kv_cmd_encode_update_at(c->msg, c->msg_len, c->key_name,
                                        (enum kv_cmd_serial_policy)c->serial_policy, c->now, buf,
                                        KV_UPDATE_CMD_MAX);
        fuzz_check(n > 0);
        /* the encoder always writes a 0/0 header; compare the body */
        fuzz_check((size_t)n == size &&
                   memcmp(buf + 2 + 16, data + 2 + 16, size - 18) == 0);
        free(buf);
        return;
    }
    default:
        fuzz_check(0);
    }
    check_same(out, len, data, size);
    free(out);
}

/* Snapshot -> restore into a second machine -> snapshot: same bytes. */
static void snapshot_round_trip(sm_t *sm)
{
    fuzz_out_t a = { 0 }, b = { 0 };
    fuzz_check(sm_snapshot(sm, fuzz_out_write, &a) == 0);
    sm_t *other = sm_new(NULL, NULL);
    fuzz_check(other != NULL);
    fuzz_in_t in = { .data = a.data, .len = a.len };
    const char *err = NULL;
    fuzz_check(sm_restore(other, fuzz_in_read, &in, &err) == 0);
    fuzz_check(sm_snapshot(other, fuzz_out_write, &b) == 0);
    check_same(a.data, a.len, b.data, b.len);
    sm_free(other);
    fuzz_out_free(&a);
    fuzz_out_free(&b);
}

static void apply(const uint8_t *data, size_t size, bool decoded, const kv_cmd_t *c)
{
    sm_t *sm = sm_new(NULL, NULL);
    fuzz_check(sm != NULL);
    kv_result_t res;
    memset(&res, 0, sizeof res);
    sm_apply(sm, 1, data, size, &res);
    fuzz_check(sm_applied_index(sm) == 1);
    if (size == 0) {
        fuzz_check(res.status == KV_OK);
    } else if (!decoded) {
        fuzz_check(res.status == KV_ERR_MALFORMED);
    } else if (c->type == KV_CMD_SET) {
        fuzz_check(res.status == KV_OK);
        uint8_t *v = NULL;
        size_t vlen = 0;
        fuzz_check(sm_kv_get(sm, c->key, c->key_len, &v, &vlen) == 1);
        check_same(v, vlen, c->value, c->value_len);
        free(v);
    } else if (c->type == KV_CMD_UPDATE) {
        /* no zone is loaded: the message is refused or not ours */
        fuzz_check(res.status == KV_OK);
        fuzz_check(res.rcode == 1 || res.rcode == 4 || res.rcode == 9);
    } else if (c->type == KV_CMD_ZONE_CHUNK && c->chunk_no > 0) {
        fuzz_check(res.status == KV_ERR_STALE_LOAD);
    } else if (c->type == KV_CMD_ZONE_CHUNK && c->chunk_total == 1) {
        fuzz_check(res.status == KV_OK || res.status == KV_ERR_BAD_ZONE);
        fuzz_check(sm_zone_count(sm) == (res.status == KV_OK));
    } else {
        fuzz_check(res.status == KV_OK);
    }
    snapshot_round_trip(sm);
    sm_free(sm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) { /* refusals are logged; a million of them is noise */
        log_set_level(LOG_OFF);
        quiet = true;
    }
    kv_cmd_t c;
    const char *err = NULL;
    bool decoded = kv_cmd_decode(data, size, &c, &err) == 0;
    if (decoded)
        reencode(&c, data, size);
    else
        fuzz_check(err != NULL && err[0] != 0);
    apply(data, size, decoded, &c);
    return 0;
}
