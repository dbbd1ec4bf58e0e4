/* tests/unit/test_kv_command.c — the log-entry command format (kv/command.c):
 * round trips of every command, zone chunking limits, and rejection of every
 * malformed encoding (each truncation, bad version and type, oversize and
 * out-of-range fields, bad names and records, trailing bytes). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/bytes.h"
#include "kv/command.h"
#include "kv/result.h"
#include "kv/text.h"
#include "zone/zone.h"

/* ---- helpers ---- */

static zone_t *make_zone(int hosts)
{
    size_t cap = 512 + (size_t)hosts * 64;
    char *text = malloc(cap);
    assert_non_null(text);
    int n = snprintf(text, cap,
                     "$ORIGIN example.com.\n$TTL 3600\n"
                     "@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\n"
                     "@ IN NS ns1\nns1 IN A 192.0.2.1\n"
                     "txt IN TXT \"hello world\"\n");
    for (int i = 0; i < hosts; i++)
        n += snprintf(text + n, cap - (size_t)n, "h%d IN A 10.0.%d.%d\n", i, i / 250, i % 250);
    char err[ZONE_ERR_MAX] = "";
    zone_t *z = zone_parse_text(text, (size_t)n, "test", NULL, err);
    if (!z)
        fail_msg("zone_parse_text: %s", err);
    free(text);
    return z;
}

static void expect_reject(const uint8_t *buf, size_t len, const char *why)
{
    kv_cmd_t cmd;
    const char *err = NULL;
    assert_int_equal(kv_cmd_decode(buf, len, &cmd, &err), -1);
    assert_non_null(err);
    if (why)
        assert_string_equal(err, why);
}

/* Every proper prefix of a valid encoding must be rejected. */
static void expect_every_truncation_rejected(const uint8_t *buf, size_t len)
{
    for (size_t cut = 0; cut < len; cut++)
        expect_reject(buf, cut, NULL);
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    longer[len] = 0;
    expect_reject(longer, len + 1, "trailing bytes");
    free(longer);
}

static void header(bytebuf_t *b, uint8_t version, uint8_t type)
{
    bytebuf_put_u8(b, version);
    bytebuf_put_u8(b, type);
    bytebuf_put_u64(b, 7);
    bytebuf_put_u64(b, 9);
}

/* A hand-built ZONE_CHUNK with one A record, fields overridable. */
typedef struct chunk_fields {
    const uint8_t *origin;
    size_t origin_len;
    const char *node;
    size_t node_len;
    uint32_t no, total, rr_count;
    uint16_t rdlen_field;
} chunk_fields_t;

static chunk_fields_t good_fields(void)
{
    return (chunk_fields_t){ (const uint8_t *)"\7example\3com", 13, "id0", 3, 0, 1, 1, 4 };
}

static bytebuf_t build_chunk(const chunk_fields_t *f)
{
    bytebuf_t b;
    bytebuf_init(&b);
    header(&b, KV_CMD_VERSION, KV_CMD_ZONE_CHUNK);
    bytebuf_put(&b, f->origin, f->origin_len);
    bytebuf_put_u8(&b, (uint8_t)f->node_len);
    bytebuf_put(&b, f->node, f->node_len);
    bytebuf_put_u64(&b, 42);
    bytebuf_put_u32(&b, f->no);
    bytebuf_put_u32(&b, f->total);
    bytebuf_put_u32(&b, f->rr_count);
    bytebuf_put(&b, "\3www\7example\3com", 17);
    bytebuf_put_u16(&b, 1);
    bytebuf_put_u16(&b, 1);
    bytebuf_put_u32(&b, 60);
    bytebuf_put_u16(&b, f->rdlen_field);
    bytebuf_put(&b, "\xc0\x00\x02\x01", 4);
    return b;
}

/* ---- round trips ---- */

static void test_set_round_trip(void **state)
{
    (void)state;
    uint8_t *buf;
    size_t len;
    const char *err = NULL;
    const char *val = "a value with spaces \xc3\xa9";
    assert_int_equal(kv_cmd_encode_set(11, 22, (const uint8_t *)"cl\xc3\xa9", 4,
                                       (const uint8_t *)val, strlen(val), &buf, &len, &err), 0);
    assert_int_equal(len, KV_CMD_HEADER_LEN + 2 + 4 + 4 + strlen(val));
    assert_int_equal(buf[0], KV_CMD_VERSION);
    assert_int_equal(buf[1], KV_CMD_SET);
    assert_int_equal(buf[2], 11); /* little-endian client id */
    kv_cmd_t cmd;
    assert_int_equal(kv_cmd_decode(buf, len, &cmd, &err), 0);
    assert_int_equal(cmd.type, KV_CMD_SET);
    assert_int_equal(cmd.client_id, 11);
    assert_int_equal(cmd.seq, 22);
    assert_int_equal(cmd.key_len, 4);
    assert_memory_equal(cmd.key, "cl\xc3\xa9", 4);
    assert_int_equal(cmd.value_len, strlen(val));
    assert_memory_equal(cmd.value, val, strlen(val));
    expect_every_truncation_rejected(buf, len);
    free(buf);
}

static void test_del_and_zone_del_round_trip(void **state)
{
    (void)state;
    uint8_t *buf;
    size_t len;
    const char *err = NULL;
    kv_cmd_t cmd;
    assert_int_equal(kv_cmd_encode_del(UINT64_MAX, 1, (const uint8_t *)"k", 1, &buf, &len, &err), 0);
    assert_int_equal(kv_cmd_decode(buf, len, &cmd, &err), 0);
    assert_int_equal(cmd.type, KV_CMD_DEL);
    assert_true(cmd.client_id == UINT64_MAX);
    assert_int_equal(cmd.key_len, 1);
    expect_every_truncation_rejected(buf, len);
    free(buf);

    const uint8_t origin[] = "\3foo\3com";
    assert_int_equal(kv_cmd_encode_zone_del(3, 4, origin, &buf, &len, &err), 0);
    assert_int_equal(kv_cmd_decode(buf, len, &cmd, &err), 0);
    assert_int_equal(cmd.type, KV_CMD_ZONE_DEL);
    assert_memory_equal(cmd.origin, origin, sizeof origin);
    expect_every_truncation_rejected(buf, len);
    free(buf);
}

static void test_encoders_refuse_bad_arguments(void **state)
{
    (void)state;
    uint8_t *buf = NULL;
    size_t len;
    const char *err = NULL;
    assert_int_equal(kv_cmd_encode_set(1, 1, (const uint8_t *)"", 0, (const uint8_t *)"v", 1,
                                       &buf, &len, &err), -1);
    assert_string_equal(err, "empty key");
    assert_int_equal(kv_cmd_encode_set(1, 1, (const uint8_t *)"k", 1, (const uint8_t *)"a\nb", 3,
                                       &buf, &len, &err), -1);
    assert_string_equal(err, "value contains a line break");
    assert_int_equal(kv_cmd_encode_del(1, 1, (const uint8_t *)"\xff", 1, &buf, &len, &err), -1);
    assert_string_equal(err, "key is not valid UTF-8");
    assert_int_equal(kv_cmd_encode_zone_del(1, 1, (const uint8_t *)"\xc0\x0c", &buf, &len, &err), -1);
    assert_string_equal(err, "bad origin name");
    assert_null(buf);
}

/* ---- zone chunks ---- */

static void check_chunks_rebuild(const zone_t *z, const kv_cmd_chunks_t *ch, size_t max_len,
                                 uint64_t first_seq)
{
    size_t next_rr = 0;
    for (size_t k = 0; k < ch->count; k++) {
        assert_true(ch->len[k] <= max_len);
        kv_cmd_t cmd;
        const char *err = NULL;
        if (kv_cmd_decode(ch->data[k], ch->len[k], &cmd, &err) < 0)
            fail_msg("chunk %zu: %s", k, err);
        assert_int_equal(cmd.type, KV_CMD_ZONE_CHUNK);
        assert_int_equal(cmd.chunk_no, k);
        assert_int_equal(cmd.chunk_total, ch->count);
        assert_int_equal(cmd.seq, first_seq + k);
        assert_int_equal(cmd.load_id, 99);
        assert_int_equal(cmd.node_id_len, 3);
        assert_memory_equal(cmd.node_id, "id1", 3);
        assert_true(name_equal(cmd.origin, z->origin));
        size_t pos = 0;
        zone_rr_t rr;
        uint32_t seen = 0;
        while (kv_cmd_records_next(cmd.records, cmd.records_len, &pos, &rr)) {
            const zone_rr_t *want = &z->rrs[next_rr++];
            assert_true(name_equal(rr.owner, want->owner));
            assert_int_equal(rr.type, want->type);
            assert_int_equal(rr.rclass, want->rclass);
            assert_int_equal(rr.ttl, want->ttl);
            assert_int_equal(rr.rdlen, want->rdlen);
            assert_memory_equal(rr.rdata, want->rdata, rr.rdlen);
            seen++;
        }
        assert_int_equal(seen, cmd.rr_count);
    }
    assert_int_equal(next_rr, z->count);
}

static void test_zone_split_into_small_chunks(void **state)
{
    (void)state;
    zone_t *z = make_zone(300);
    kv_cmd_chunks_t ch;
    const char *err = NULL;
    assert_int_equal(kv_cmd_encode_zone_chunks(z, "id1", 99, 5, 100, 512, &ch, &err), 0);
    assert_true(ch.count > 10);
    check_chunks_rebuild(z, &ch, 512, 100);
    /* Each chunk is itself a valid command whose truncations all fail. */
    expect_every_truncation_rejected(ch.data[1], ch.len[1]);
    kv_cmd_chunks_free(&ch);

    assert_int_equal(kv_cmd_encode_zone_chunks(z, "id1", 99, 5, 1, 0, &ch, &err), 0);
    assert_int_equal(ch.count, 1); /* 300 records fit in one MiB */
    check_chunks_rebuild(z, &ch, KV_CMD_MAX, 1);
    kv_cmd_chunks_free(&ch);
    zone_free(z);
}

static void test_zone_of_several_mib_splits_at_one_mib(void **state)
{
    (void)state;
    zone_t *z = make_zone(60000); /* roughly 2.2 MB encoded */
    kv_cmd_chunks_t ch;
    const char *err = NULL;
    assert_int_equal(kv_cmd_encode_zone_chunks(z, "id1", 99, 5, 1, 1u << 30, &ch, &err), 0);
    assert_true(ch.count >= 2);
    check_chunks_rebuild(z, &ch, KV_CMD_MAX, 1);
    kv_cmd_chunks_free(&ch);
    zone_free(z);
}

static void test_zone_split_refusals(void **state)
{
    (void)state;
    zone_t *z = make_zone(1);
    kv_cmd_chunks_t ch;
    const char *err = NULL;
    assert_int_equal(kv_cmd_encode_zone_chunks(z, "id1", 1, 1, 1, 60, &ch, &err), -1);
    assert_string_equal(err, "a record does not fit in one chunk");
    assert_int_equal(kv_cmd_encode_zone_chunks(z, "bad id", 1, 1, 1, 0, &ch, &err), -1);
    assert_string_equal(err, "node id may contain only letters, digits, '-', '_' and '.'");
    assert_int_equal(kv_cmd_encode_zone_chunks(z, "", 1, 1, 1, 0, &ch, &err), -1);
    assert_string_equal(err, "empty node id");
    zone_free(z);
}

/* ---- malformed encodings ---- */

/* ---- UPDATE ---- */

static const uint8_t upd_msg[] = { 0x12, 0x34, 0x28, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                                   7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
                                   0, 6, 0, 1 };

static void test_update_round_trip(void **state)
{
    (void)state;
    uint8_t out[KV_UPDATE_CMD_MAX];
    const uint8_t *key = (const uint8_t *)"\3key"; /* the literal's NUL is the root label */
    int n = kv_cmd_encode_update_at(upd_msg, sizeof upd_msg, key, KV_SERIAL_DATESERIAL,
                                    1700000000, out, sizeof out);
    assert_int_equal(n, KV_CMD_HEADER_LEN + 1 + 8 + 1 + 5 + 2 + (int)sizeof upd_msg);
    kv_cmd_t cmd;
    const char *err = NULL;
    assert_int_equal(kv_cmd_decode(out, (size_t)n, &cmd, &err), 0);
    assert_int_equal(cmd.type, KV_CMD_UPDATE);
    assert_int_equal(cmd.client_id, 0);
    assert_int_equal(cmd.serial_policy, KV_SERIAL_DATESERIAL);
    assert_int_equal(cmd.now, 1700000000);
    assert_non_null(cmd.key_name);
    assert_memory_equal(cmd.key_name, "\3key", 5);
    assert_int_equal(cmd.msg_len, sizeof upd_msg);
    assert_memory_equal(cmd.msg, upd_msg, sizeof upd_msg);
    expect_every_truncation_rejected(out, (size_t)n);
    /* unsigned, through the interface encoder (policy set globally) */
    kv_cmd_set_serial_policy(KV_SERIAL_UNIXTIME);
    n = kv_cmd_encode_update(upd_msg, sizeof upd_msg, NULL, out, sizeof out);
    kv_cmd_set_serial_policy(KV_SERIAL_INCREMENT);
    assert_int_equal(kv_cmd_decode(out, (size_t)n, &cmd, &err), 0);
    assert_null(cmd.key_name);
    assert_int_equal(cmd.serial_policy, KV_SERIAL_UNIXTIME);
    assert_true(cmd.now > 1700000000);
    expect_every_truncation_rejected(out, (size_t)n);
}

static void test_update_encoder_refusals(void **state)
{
    (void)state;
    uint8_t out[KV_UPDATE_CMD_MAX];
    assert_int_equal(kv_cmd_encode_update(upd_msg, 0, NULL, out, sizeof out), -1);
    assert_int_equal(kv_cmd_encode_update(NULL, 5, NULL, out, sizeof out), -1);
    assert_int_equal(kv_cmd_encode_update(upd_msg, KV_UPDATE_MSG_MAX + 1, NULL, out, sizeof out), -1);
    assert_int_equal(kv_cmd_encode_update(upd_msg, sizeof upd_msg, (const uint8_t *)"\x40", out,
                                          sizeof out), -1);
    assert_int_equal(kv_cmd_encode_update(upd_msg, sizeof upd_msg, NULL, out, 20), -1);
    assert_int_equal(kv_cmd_serial_policy_from_text("dateserial"), KV_SERIAL_DATESERIAL);
    assert_int_equal(kv_cmd_serial_policy_from_text("increment"), KV_SERIAL_INCREMENT);
    assert_int_equal(kv_cmd_serial_policy_from_text("unixtime"), KV_SERIAL_UNIXTIME);
    assert_int_equal(kv_cmd_serial_policy_from_text("Increment"), -1);
}

static void test_update_bad_fields(void **state)
{
    (void)state;
    uint8_t out[KV_UPDATE_CMD_MAX];
    int n = kv_cmd_encode_update_at(upd_msg, sizeof upd_msg, NULL, KV_SERIAL_INCREMENT, 1, out,
                                    sizeof out);
    assert_true(n > 0);
    uint8_t bad[KV_UPDATE_CMD_MAX];
    memcpy(bad, out, (size_t)n);
    bad[KV_CMD_HEADER_LEN] = 3; /* policy */
    expect_reject(bad, (size_t)n, "bad serial policy");
    memcpy(bad, out, (size_t)n);
    bad[KV_CMD_HEADER_LEN + 9] = 2; /* key flag */
    expect_reject(bad, (size_t)n, "bad key flag");
    memcpy(bad, out, (size_t)n);
    bad[KV_CMD_HEADER_LEN + 9] = 1; /* a key flag without a valid name */
    bad[KV_CMD_HEADER_LEN + 10] = 0xc0;
    expect_reject(bad, (size_t)n, "bad key name");
    memcpy(bad, out, (size_t)n);
    bad[KV_CMD_HEADER_LEN + 10] = 0; /* message length 0 */
    bad[KV_CMD_HEADER_LEN + 11] = 0;
    expect_reject(bad, KV_CMD_HEADER_LEN + 12, "empty update message");
}

static void test_result_bytes_round_trip(void **state)
{
    (void)state;
    kv_result_t r = { .status = KV_OK, .duplicate = false, .rcode = 8 };
    snprintf(r.msg, sizeof r.msg, "prerequisite failed");
    size_t len;
    uint8_t *b = kv_result_to_bytes(&r, &len);
    assert_non_null(b);
    assert_int_equal(kv_result_update_rcode(b, len), 8);
    kv_result_t back;
    kv_result_from_bytes(b, len, &back);
    assert_int_equal(back.status, KV_OK);
    assert_int_equal(back.rcode, 8);
    assert_string_equal(back.msg, "prerequisite failed");
    b[0] = KV_ERR_MALFORMED;
    assert_int_equal(kv_result_update_rcode(b, len), -1);
    assert_int_equal(kv_result_update_rcode(b, 2), -1);
    kv_result_from_bytes(b, 1, &back);
    assert_int_equal(back.status, KV_ERR_MALFORMED);
    free(b);
}

static void test_bad_version_and_type(void **state)
{
    (void)state;
    static const uint8_t versions[] = { 0, 2, 0x7f, 0xff };
    for (size_t i = 0; i < sizeof versions; i++) {
        bytebuf_t b;
        bytebuf_init(&b);
        header(&b, versions[i], KV_CMD_DEL);
        bytebuf_put_u16(&b, 1);
        bytebuf_put(&b, "k", 1);
        expect_reject(b.data, b.len, "unsupported version");
        bytebuf_free(&b);
    }
    static const uint8_t types[] = { 0, 6, 0x80, 0xff };
    for (size_t i = 0; i < sizeof types; i++) {
        bytebuf_t b;
        bytebuf_init(&b);
        header(&b, KV_CMD_VERSION, types[i]);
        bytebuf_put_u16(&b, 1);
        bytebuf_put(&b, "k", 1);
        expect_reject(b.data, b.len, "unknown command type");
        bytebuf_free(&b);
    }
    expect_reject(NULL, 0, "truncated");
}

static void reject_set(uint16_t klen_field, const char *key, size_t klen, uint32_t vlen_field,
                       const char *value, size_t vlen, const char *why)
{
    bytebuf_t b;
    bytebuf_init(&b);
    header(&b, KV_CMD_VERSION, KV_CMD_SET);
    bytebuf_put_u16(&b, klen_field);
    bytebuf_put(&b, key, klen);
    bytebuf_put_u32(&b, vlen_field);
    bytebuf_put(&b, value, vlen);
    expect_reject(b.data, b.len, why);
    bytebuf_free(&b);
}

static void test_bad_set_fields(void **state)
{
    (void)state;
    reject_set(200, "k", 1, 1, "v", 1, "truncated");        /* key length past the end */
    reject_set(1, "k", 1, 1000, "v", 1, "truncated");       /* value length past the end */
    reject_set(1, "k", 1, KV_VALUE_MAX + 1, "v", 1, "value too long");
    reject_set(1, "k", 1, UINT32_MAX, "v", 1, "value too long");
    reject_set(0, "", 0, 1, "v", 1, "empty key");
    reject_set(1, "k", 1, 0, "", 0, "empty value");
    reject_set(1, "\x80", 1, 1, "v", 1, "key is not valid UTF-8");
    reject_set(2, "\xc0\xaf", 2, 1, "v", 1, "key is not valid UTF-8");      /* overlong '/' */
    reject_set(3, "\xed\xa0\x80", 3, 1, "v", 1, "key is not valid UTF-8");  /* surrogate */
    reject_set(4, "\xf4\x90\x80\x80", 4, 1, "v", 1, "key is not valid UTF-8"); /* > U+10FFFF */
    reject_set(1, "\x07", 1, 1, "v", 1, "key contains a control character");
    reject_set(2, "\xc2\x85", 2, 1, "v", 1, "key contains a control character"); /* NEL */
    reject_set(3, "a b", 3, 1, "v", 1, "key contains a space");
    reject_set(1, "k", 1, 2, "a\r", 2, "value contains a line break");

    char *big = malloc(KV_KEY_MAX + 1);
    assert_non_null(big);
    memset(big, 'k', KV_KEY_MAX + 1);
    reject_set(KV_KEY_MAX + 1, big, KV_KEY_MAX + 1, 1, "v", 1, "key too long");
    free(big);
}

static void test_oversize_command(void **state)
{
    (void)state;
    size_t len = KV_CMD_MAX + 1;
    uint8_t *buf = calloc(1, len);
    assert_non_null(buf);
    buf[0] = KV_CMD_VERSION;
    expect_reject(buf, len, "command too large");
    free(buf);
}

static void reject_chunk(const chunk_fields_t *f, const char *why)
{
    bytebuf_t b = build_chunk(f);
    expect_reject(b.data, b.len, why);
    bytebuf_free(&b);
}

static void test_good_hand_built_chunk(void **state)
{
    (void)state;
    chunk_fields_t f = good_fields();
    bytebuf_t b = build_chunk(&f);
    kv_cmd_t cmd;
    const char *err = NULL;
    assert_int_equal(kv_cmd_decode(b.data, b.len, &cmd, &err), 0);
    assert_int_equal(cmd.rr_count, 1);
    assert_int_equal(cmd.load_id, 42);
    expect_every_truncation_rejected(b.data, b.len);
    bytebuf_free(&b);
}

static void test_bad_chunk_fields(void **state)
{
    (void)state;
    chunk_fields_t f;
    f = good_fields(); f.total = 0;                          reject_chunk(&f, "bad chunk total");
    f = good_fields(); f.total = KV_ZONE_MAX_CHUNKS + 1; f.no = 0; reject_chunk(&f, "bad chunk total");
    f = good_fields(); f.no = 1; f.total = 1;                reject_chunk(&f, "chunk number out of range");
    f = good_fields(); f.no = UINT32_MAX; f.total = 5;       reject_chunk(&f, "chunk number out of range");
    f = good_fields(); f.rr_count = 2;                       reject_chunk(&f, "bad record");
    f = good_fields(); f.rr_count = UINT32_MAX;              reject_chunk(&f, "truncated");
    f = good_fields(); f.rr_count = 0;                       reject_chunk(&f, "trailing bytes");
    f = good_fields(); f.rdlen_field = 5;                    reject_chunk(&f, "bad record");
    f = good_fields(); f.rdlen_field = 3;                    reject_chunk(&f, "trailing bytes");
    f = good_fields(); f.node_len = 0;                       reject_chunk(&f, "empty node id");
    f = good_fields(); f.node = "i d"; f.node_len = 3;       reject_chunk(&f, "node id may contain only letters, digits, '-', '_' and '.'");
    f = good_fields(); f.node = "id\x80"; f.node_len = 3;    reject_chunk(&f, "node id may contain only letters, digits, '-', '_' and '.'");
    f = good_fields(); f.origin = (const uint8_t *)"\xc0\x0c"; f.origin_len = 2;
    reject_chunk(&f, "bad origin name");                      /* compression pointer */
    f = good_fields(); f.origin = (const uint8_t *)"\x40xxxx"; f.origin_len = 5;
    reject_chunk(&f, "bad origin name");                      /* label of 64 */
}

static void test_name_longer_than_255_rejected(void **state)
{
    (void)state;
    uint8_t name[400];
    size_t n = 0;
    for (int i = 0; i < 5; i++) { /* 5 labels of 63 = 320 octets */
        name[n++] = 63;
        memset(name + n, 'a', 63);
        n += 63;
    }
    assert_true(n <= sizeof name);
    assert_int_equal(kv_cmd_wire_name_len(name, n), 0);
    bytebuf_t b;
    bytebuf_init(&b);
    header(&b, KV_CMD_VERSION, KV_CMD_ZONE_DEL);
    bytebuf_put(&b, name, n);
    bytebuf_put_u8(&b, 0);
    expect_reject(b.data, b.len, "bad origin name");
    bytebuf_free(&b);
    /* 255 octets exactly is fine: 3 x 63 + 1 x 61 labels + root. */
    n = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t l = i < 3 ? 63 : 61;
        name[n++] = l;
        memset(name + n, 'b', l);
        n += l;
    }
    name[n++] = 0;
    assert_int_equal(n, 255);
    assert_int_equal(kv_cmd_wire_name_len(name, n), 255);
}

/* Flipping bytes of a valid chunk must never crash the decoder, and
 * anything it accepts must be internally consistent. */
static void test_byte_flips_never_break_the_decoder(void **state)
{
    (void)state;
    zone_t *z = make_zone(5);
    kv_cmd_chunks_t ch;
    const char *err = NULL;
    assert_int_equal(kv_cmd_encode_zone_chunks(z, "id1", 99, 5, 1, 0, &ch, &err), 0);
    uint8_t *copy = malloc(ch.len[0]);
    assert_non_null(copy);
    static const uint8_t vals[] = { 0x00, 0x01, 0x3f, 0x40, 0x7f, 0xc0, 0xff };
    size_t accepted = 0;
    for (size_t i = 0; i < ch.len[0]; i++) {
        for (size_t v = 0; v < sizeof vals; v++) {
            memcpy(copy, ch.data[0], ch.len[0]);
            copy[i] = vals[v];
            kv_cmd_t cmd;
            if (kv_cmd_decode(copy, ch.len[0], &cmd, &err) == 0) {
                accepted++;
                assert_true(cmd.records + cmd.records_len <= copy + ch.len[0]);
                assert_true(kv_cmd_records_valid(cmd.records, cmd.records_len, cmd.rr_count));
            }
        }
    }
    assert_true(accepted > 0); /* e.g. TTL and address bytes are free-form */
    free(copy);
    kv_cmd_chunks_free(&ch);
    zone_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_round_trip),
        cmocka_unit_test(test_del_and_zone_del_round_trip),
        cmocka_unit_test(test_encoders_refuse_bad_arguments),
        cmocka_unit_test(test_zone_split_into_small_chunks),
        cmocka_unit_test(test_zone_of_several_mib_splits_at_one_mib),
        cmocka_unit_test(test_zone_split_refusals),
        cmocka_unit_test(test_bad_version_and_type),
        cmocka_unit_test(test_update_round_trip),
        cmocka_unit_test(test_update_encoder_refusals),
        cmocka_unit_test(test_update_bad_fields),
        cmocka_unit_test(test_result_bytes_round_trip),
        cmocka_unit_test(test_bad_set_fields),
        cmocka_unit_test(test_oversize_command),
        cmocka_unit_test(test_good_hand_built_chunk),
        cmocka_unit_test(test_bad_chunk_fields),
        cmocka_unit_test(test_name_longer_than_255_rejected),
        cmocka_unit_test(test_byte_flips_never_break_the_decoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
