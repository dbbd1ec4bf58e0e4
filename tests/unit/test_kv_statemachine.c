/* tests/unit/test_kv_statemachine.c — the replicated state machine
 * (kv/statemachine.c, kv/session.c, kv/sm_snapshot.c, kv/sm_zonedb.c):
 * KV apply, chunked zone replace invisible until its last chunk, abandoned
 * and stray loads, client-session dedup and deterministic expiry, snapshot ->
 * restore -> identical state, corrupt snapshots refused with the state
 * untouched, and replicas fed the same log ending byte-identical. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "kv/bytes.h"
#include "kv/command.h"
#include "kv/session.h"
#include "kv/sm_zonedb.h"
#include "kv/statemachine.h"
#include "common/bytes.h"
#include "common/crc32c.h"
#include "zone/db.h"
#include "zone/update.h"
#include "zone/zone.h"

/* ---- helpers ---- */

typedef struct recorder {
    int calls;
    int deletes;
    uint8_t last_origin[NAME_MAX_WIRE];
    size_t last_count;
    uint32_t last_serial;
} recorder_t;

static void record_zone(void *arg, const uint8_t *origin, const zone_t *zone)
{
    recorder_t *r = arg;
    r->calls++;
    memcpy(r->last_origin, origin, name_wire_len(origin));
    if (!zone) {
        r->deletes++;
        r->last_count = 0;
        return;
    }
    r->last_count = zone->count;
    r->last_serial = zone->serial;
}

static kv_result_t apply(sm_t *sm, uint64_t index, const uint8_t *buf, size_t len)
{
    kv_result_t res;
    sm_apply(sm, index, buf, len, &res);
    return res;
}

static kv_result_t apply_set(sm_t *sm, uint64_t index, uint64_t client, uint64_t seq,
                             const char *key, const char *value)
{
    uint8_t *buf;
    size_t len;
    const char *err = NULL;
    if (kv_cmd_encode_set(client, seq, (const uint8_t *)key, strlen(key),
                          (const uint8_t *)value, strlen(value), &buf, &len, &err) < 0)
        fail_msg("encode set: %s", err);
    kv_result_t res = apply(sm, index, buf, len);
    free(buf);
    return res;
}

static kv_result_t apply_del(sm_t *sm, uint64_t index, uint64_t client, uint64_t seq,
                             const char *key)
{
    uint8_t *buf;
    size_t len;
    const char *err = NULL;
    if (kv_cmd_encode_del(client, seq, (const uint8_t *)key, strlen(key), &buf, &len, &err) < 0)
        fail_msg("encode del: %s", err);
    kv_result_t res = apply(sm, index, buf, len);
    free(buf);
    return res;
}

/* The value of key, or NULL (caller frees). */
static char *get(sm_t *sm, const char *key)
{
    uint8_t *v;
    size_t n;
    int rc = sm_kv_get(sm, (const uint8_t *)key, strlen(key), &v, &n);
    assert_true(rc >= 0);
    if (rc == 0)
        return NULL;
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, v, n);
    s[n] = 0;
    free(v);
    return s;
}

static void expect_kv(sm_t *sm, const char *key, const char *want)
{
    char *got = get(sm, key);
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* A zone "NAME." with serial and hosts A records; with_soa false makes a
 * zone that zone_from_records must refuse. */
static zone_t *make_zone(const char *name, uint32_t serial, int hosts)
{
    size_t cap = 512 + (size_t)hosts * 64;
    char *text = malloc(cap);
    assert_non_null(text);
    int n = snprintf(text, cap,
                     "$ORIGIN %s.\n$TTL 3600\n"
                     "@ IN SOA ns1 hostmaster %u 7200 900 1209600 300\n"
                     "@ IN NS ns1\nns1 IN A 192.0.2.1\n",
                     name, serial);
    for (int i = 0; i < hosts; i++)
        n += snprintf(text + n, cap - (size_t)n, "h%d IN A 10.1.%d.%d\n", i, i / 250, i % 250);
    char err[ZONE_ERR_MAX] = "";
    zone_t *z = zone_parse_text(text, (size_t)n, "test", NULL, err);
    if (!z)
        fail_msg("zone_parse_text: %s", err);
    free(text);
    return z;
}

static kv_cmd_chunks_t chunks_of(const zone_t *z, const char *node, uint64_t load_id,
                             uint64_t client, uint64_t first_seq, size_t max_len)
{
    kv_cmd_chunks_t ch;
    const char *err = NULL;
    if (kv_cmd_encode_zone_chunks(z, node, load_id, client, first_seq, max_len, &ch, &err) < 0)
        fail_msg("encode chunks: %s", err);
    return ch;
}

static bool zone_visible(sm_t *sm, const char *origin_wire, uint32_t *serial);

static void grab_serial(void *arg, const zone_t *zone, const sm_zone_info_t *info)
{
    (void)info;
    *(uint32_t *)arg = zone->serial;
}

static bool zone_visible(sm_t *sm, const char *origin_wire, uint32_t *serial)
{
    uint32_t s = 0;
    bool found = sm_zone_with(sm, (const uint8_t *)origin_wire, grab_serial, &s);
    if (serial)
        *serial = s;
    return found;
}

#define FOO "\3foo\3com"
#define BAR "\3bar\3com"

/* ---- KV ---- */

static void test_kv_set_get_del(void **state)
{
    (void)state;
    sm_t *sm = sm_new(NULL, NULL);
    assert_non_null(sm);
    kv_result_t r = apply_set(sm, 1, 0, 0, "foo", "bar");
    assert_int_equal(r.status, KV_OK);
    expect_kv(sm, "foo", "bar");
    apply_set(sm, 2, 0, 0, "foo", "baz qux");
    expect_kv(sm, "foo", "baz qux");
    assert_int_equal(sm_kv_count(sm), 1);
    r = apply_del(sm, 3, 0, 0, "foo");
    assert_int_equal(r.status, KV_OK);
    assert_string_equal(r.msg, "deleted");
    expect_kv(sm, "foo", NULL);
    r = apply_del(sm, 4, 0, 0, "foo");
    assert_int_equal(r.status, KV_OK);
    assert_string_equal(r.msg, "no such key");
    assert_int_equal(sm_applied_index(sm), 4);
    sm_free(sm);
}

static void test_many_keys_grow_the_table(void **state)
{
    (void)state;
    sm_t *sm = sm_new(NULL, NULL);
    char key[32], val[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "key%d", i);
        snprintf(val, sizeof val, "v%d", i * 7);
        apply_set(sm, (uint64_t)i + 1, 0, 0, key, val);
    }
    assert_int_equal(sm_kv_count(sm), 5000);
    for (int i = 0; i < 5000; i += 97) {
        snprintf(key, sizeof key, "key%d", i);
        snprintf(val, sizeof val, "v%d", i * 7);
        expect_kv(sm, key, val);
    }
    for (int i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof key, "key%d", i);
        apply_del(sm, 10000 + (uint64_t)i, 0, 0, key);
    }
    assert_int_equal(sm_kv_count(sm), 2500);
    expect_kv(sm, "key2", NULL);
    expect_kv(sm, "key3", "v21");
    sm_free(sm);
}

static void test_index_rules_and_malformed_entries(void **state)
{
    (void)state;
    sm_t *sm = sm_new(NULL, NULL);
    apply_set(sm, 5, 0, 0, "a", "1");
    kv_result_t r = apply_set(sm, 5, 0, 0, "a", "2");
    assert_int_equal(r.status, KV_ERR_ALREADY_APPLIED);
    r = apply_set(sm, 3, 0, 0, "a", "3");
    assert_int_equal(r.status, KV_ERR_ALREADY_APPLIED);
    expect_kv(sm, "a", "1");
    r = apply(sm, 6, NULL, 0); /* a leader's blank entry */
    assert_int_equal(r.status, KV_OK);
    assert_int_equal(sm_applied_index(sm), 6);
    static const uint8_t junk[] = { 9, 9, 9 };
    r = apply(sm, 9, junk, sizeof junk);
    assert_int_equal(r.status, KV_ERR_MALFORMED);
    assert_string_equal(r.msg, "unsupported version");
    assert_int_equal(sm_applied_index(sm), 9);
    expect_kv(sm, "a", "1");
    sm_free(sm);
}

/* ---- zones ---- */

static void test_chunked_zone_invisible_until_last_chunk(void **state)
{
    (void)state;
    recorder_t rec = { 0 };
    sm_t *sm = sm_new(record_zone, &rec);
    zone_t *z = make_zone("foo.com", 7, 200);
    kv_cmd_chunks_t ch = chunks_of(z, "id0", 1, 0, 0, 700);
    assert_true(ch.count >= 5);
    uint64_t idx = 1;
    for (size_t k = 0; k + 1 < ch.count; k++) {
        kv_result_t r = apply(sm, idx++, ch.data[k], ch.len[k]);
        assert_int_equal(r.status, KV_OK);
        assert_false(zone_visible(sm, FOO, NULL));
        assert_int_equal(sm_zone_count(sm), 0);
        assert_int_equal(sm_staged_count(sm), 1);
        assert_int_equal(rec.calls, 0);
    }
    kv_result_t r = apply(sm, idx++, ch.data[ch.count - 1], ch.len[ch.count - 1]);
    assert_int_equal(r.status, KV_OK);
    uint32_t serial;
    assert_true(zone_visible(sm, FOO, &serial));
    assert_int_equal(serial, 7);
    assert_true(zone_visible(sm, "\3FOO\3cOm", NULL)); /* case-insensitive */
    assert_int_equal(sm_staged_count(sm), 0);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.last_count, z->count);
    assert_true(name_equal(rec.last_origin, (const uint8_t *)FOO));
    kv_cmd_chunks_free(&ch);

    /* A replace keeps the old version visible until its own last chunk. */
    zone_t *z2 = make_zone("foo.com", 8, 150);
    ch = chunks_of(z2, "id0", 2, 0, 0, 700);
    for (size_t k = 0; k + 1 < ch.count; k++) {
        apply(sm, idx++, ch.data[k], ch.len[k]);
        assert_true(zone_visible(sm, FOO, &serial));
        assert_int_equal(serial, 7);
    }
    apply(sm, idx++, ch.data[ch.count - 1], ch.len[ch.count - 1]);
    assert_true(zone_visible(sm, FOO, &serial));
    assert_int_equal(serial, 8);
    assert_int_equal(rec.calls, 2);
    assert_int_equal(rec.last_count, z2->count);
    kv_cmd_chunks_free(&ch);
    zone_free(z);
    zone_free(z2);
    sm_free(sm);
}

static void test_new_load_abandons_partial_one(void **state)
{
    (void)state;
    recorder_t rec = { 0 };
    sm_t *sm = sm_new(record_zone, &rec);
    zone_t *a = make_zone("foo.com", 1, 100);
    zone_t *b = make_zone("foo.com", 2, 40);
    kv_cmd_chunks_t ca = chunks_of(a, "id0", 10, 0, 0, 600);
    kv_cmd_chunks_t cb = chunks_of(b, "id0", 11, 0, 0, 600);
    assert_true(ca.count >= 3);
    uint64_t idx = 1;
    apply(sm, idx++, ca.data[0], ca.len[0]);
    apply(sm, idx++, ca.data[1], ca.len[1]);
    /* The loader retried after a leader change: load 11 starts over. */
    for (size_t k = 0; k < cb.count; k++)
        assert_int_equal(apply(sm, idx++, cb.data[k], cb.len[k]).status, KV_OK);
    uint32_t serial;
    assert_true(zone_visible(sm, FOO, &serial));
    assert_int_equal(serial, 2);
    /* Late chunks of the abandoned load change nothing. */
    for (size_t k = 2; k < ca.count; k++) {
        kv_result_t r = apply(sm, idx++, ca.data[k], ca.len[k]);
        assert_int_equal(r.status, KV_ERR_STALE_LOAD);
    }
    assert_true(zone_visible(sm, FOO, &serial));
    assert_int_equal(serial, 2);
    assert_int_equal(sm_staged_count(sm), 0);
    assert_int_equal(rec.calls, 1);
    kv_cmd_chunks_free(&ca);
    kv_cmd_chunks_free(&cb);
    zone_free(a);
    zone_free(b);
    sm_free(sm);
}

static void test_stray_and_out_of_order_chunks_refused(void **state)
{
    (void)state;
    sm_t *sm = sm_new(NULL, NULL);
    zone_t *a = make_zone("foo.com", 1, 100);
    kv_cmd_chunks_t ca = chunks_of(a, "id0", 10, 0, 0, 600);
    kv_cmd_chunks_t other = chunks_of(a, "id1", 10, 0, 0, 600); /* same load id, other node */
    assert_true(ca.count >= 4);
    uint64_t idx = 1;
    /* A non-first chunk with nothing staged. */
    assert_int_equal(apply(sm, idx++, ca.data[1], ca.len[1]).status, KV_ERR_STALE_LOAD);
    assert_int_equal(sm_staged_count(sm), 0);
    apply(sm, idx++, ca.data[0], ca.len[0]);
    /* Skipping a chunk, repeating one, another node's chunk: all refused,
     * and the staged load survives them. */
    assert_int_equal(apply(sm, idx++, ca.data[2], ca.len[2]).status, KV_ERR_STALE_LOAD);
    assert_int_equal(apply(sm, idx++, other.data[1], other.len[1]).status, KV_ERR_STALE_LOAD);
    for (size_t k = 1; k < ca.count; k++)
        assert_int_equal(apply(sm, idx++, ca.data[k], ca.len[k]).status, KV_OK);
    assert_true(zone_visible(sm, FOO, NULL));
    assert_int_equal(apply(sm, idx++, ca.data[1], ca.len[1]).status, KV_ERR_STALE_LOAD);
    kv_cmd_chunks_free(&ca);
    kv_cmd_chunks_free(&other);
    zone_free(a);
    sm_free(sm);
}

static void test_idle_partial_load_expires_by_log_index(void **state)
{
    (void)state;
    sm_t *sm = sm_new(NULL, NULL);
    zone_t *a = make_zone("foo.com", 1, 100);
    kv_cmd_chunks_t ch = chunks_of(a, "id0", 10, 0, 0, 600);
    assert_true(ch.count >= 3);
    apply(sm, 1, ch.data[0], ch.len[0]);
    /* Exactly at the idle limit the load is still alive... */
    assert_int_equal(apply(sm, 1 + SM_STAGING_IDLE_ENTRIES, ch.data[1], ch.len[1]).status, KV_OK);
    /* ...one entry past it (counted from the last chunk) it is gone. */
    assert_int_equal(apply(sm, 2 + 2 * SM_STAGING_IDLE_ENTRIES, ch.data[2], ch.len[2]).status,
                     KV_ERR_STALE_LOAD);
    assert_int_equal(sm_staged_count(sm), 0);
    /* The periodic sweep frees an idle load even if no chunk comes. */
    apply(sm, 3 + 2 * SM_STAGING_IDLE_ENTRIES, ch.data[0], ch.len[0]);
    assert_int_equal(sm_staged_count(sm), 1);
    apply_set(sm, 4 + 3 * SM_STAGING_IDLE_ENTRIES + 2048, 0, 0, "k", "v");
    assert_int_equal(sm_staged_count(sm), 0);
    kv_cmd_chunks_free(&ch);
    zone_free(a);
    sm_free(sm);
}

/* Hand-builds a one-chunk load from raw records (here: no SOA). */
static uint8_t *chunk_without_soa(size_t *len)
{
    bytebuf_t b;
    bytebuf_init(&b);
    bytebuf_put_u8(&b, KV_CMD_VERSION);
    bytebuf_put_u8(&b, KV_CMD_ZONE_CHUNK);
    bytebuf_put_u64(&b, 0);
    bytebuf_put_u64(&b, 0);
    bytebuf_put(&b, FOO, sizeof FOO);
    bytebuf_put_u8(&b, 3);
    bytebuf_put(&b, "id2", 3);
    bytebuf_put_u64(&b, 77);
    bytebuf_put_u32(&b, 0);
    bytebuf_put_u32(&b, 1);
    bytebuf_put_u32(&b, 1);
    bytebuf_put(&b, "\3www" FOO, 4 + sizeof FOO);
    bytebuf_put_u16(&b, 1);
    bytebuf_put_u16(&b, 1);
    bytebuf_put_u32(&b, 60);
    bytebuf_put_u16(&b, 4);
    bytebuf_put(&b, "\x0a\x00\x00\x01", 4);
    return bytebuf_take(&b, len);
}

static void test_bad_zone_keeps_previous_version(void **state)
{
    (void)state;
    recorder_t rec = { 0 };
    sm_t *sm = sm_new(record_zone, &rec);
    zone_t *z = make_zone("foo.com", 3, 5);
    kv_cmd_chunks_t ch = chunks_of(z, "id0", 1, 0, 0, 0);
    apply(sm, 1, ch.data[0], ch.len[0]);
    size_t len;
    uint8_t *bad = chunk_without_soa(&len);
    kv_result_t r = apply(sm, 2, bad, len);
    assert_int_equal(r.status, KV_ERR_BAD_ZONE);
    assert_true(strlen(r.msg) > 0);
    uint32_t serial;
    assert_true(zone_visible(sm, FOO, &serial));
    assert_int_equal(serial, 3);
    assert_int_equal(sm_staged_count(sm), 0);
    assert_int_equal(rec.calls, 1);
    free(bad);
    kv_cmd_chunks_free(&ch);
    zone_free(z);
    sm_free(sm);
}

static void test_zone_delete(void **state)
{
    (void)state;
    recorder_t rec = { 0 };
    sm_t *sm = sm_new(record_zone, &rec);
    zone_t *foo = make_zone("foo.com", 1, 50);
    zone_t *bar = make_zone("bar.com", 1, 3);
    kv_cmd_chunks_t cf = chunks_of(foo, "id0", 1, 0, 0, 600);
    kv_cmd_chunks_t cb = chunks_of(bar, "id1", 1, 0, 0, 0);
    uint64_t idx = 1;
    apply(sm, idx++, cb.data[0], cb.len[0]);
    apply(sm, idx++, cf.data[0], cf.len[0]); /* foo only partially loaded */
    uint8_t *buf;
    size_t len;
    const char *err;
    assert_int_equal(kv_cmd_encode_zone_del(0, 0, (const uint8_t *)"\3BAR\3com", &buf, &len, &err), 0);
    kv_result_t r = apply(sm, idx++, buf, len);
    free(buf);
    assert_int_equal(r.status, KV_OK);
    assert_string_equal(r.msg, "zone deleted");
    assert_false(zone_visible(sm, BAR, NULL));
    assert_int_equal(rec.deletes, 1);
    /* Deleting foo drops its partial load: its next chunk is stale. */
    assert_int_equal(kv_cmd_encode_zone_del(0, 0, (const uint8_t *)FOO, &buf, &len, &err), 0);
    r = apply(sm, idx++, buf, len);
    free(buf);
    assert_string_equal(r.msg, "no such zone");
    assert_int_equal(sm_staged_count(sm), 0);
    assert_int_equal(apply(sm, idx++, cf.data[1], cf.len[1]).status, KV_ERR_STALE_LOAD);
    assert_int_equal(rec.deletes, 1);
    kv_cmd_chunks_free(&cf);
    kv_cmd_chunks_free(&cb);
    zone_free(foo);
    zone_free(bar);
    sm_free(sm);
}

static void count_zone(void *arg, const sm_zone_info_t *info)
{
    char **names = arg;
    char text[NAME_MAX_TEXT];
    name_to_text(info->origin, text, sizeof text);
    size_t n = strlen(*names);
    snprintf(*names + n, 256 - n, "%s/%s/%u ", text, info->node_id, info->serial);
}

static void test_zone_list_in_canonical_order(void **state)
{
    (void)state;
    sm_t *sm = sm_new(NULL, NULL);
    const char *names[] = { "foo.com", "bar.com", "a.bar.com", "baz.org" };
    for (int i = 0; i < 4; i++) {
        zone_t *z = make_zone(names[i], (uint32_t)i + 1, 1);
        kv_cmd_chunks_t ch = chunks_of(z, i % 2 ? "id1" : "id0", 1, 0, 0, 0);
        apply(sm, (uint64_t)i + 1, ch.data[0], ch.len[0]);
        kv_cmd_chunks_free(&ch);
        zone_free(z);
    }
    char buf[256] = "";
    char *p = buf;
    sm_zone_list(sm, count_zone, &p);
    assert_string_equal(buf, "bar.com./id1/2 a.bar.com./id0/3 foo.com./id0/1 baz.org./id1/4 ");
    sm_free(sm);
}

/* ---- sessions ---- */

static void test_retry_applies_once_and_gets_cached_result(void **state)
{
    (void)state;
    sm_t *sm = sm_new(NULL, NULL);
    kv_result_t r = apply_del(sm, 1, 42, 1, "k");
    assert_string_equal(r.msg, "no such key");
    apply_set(sm, 2, 42, 2, "k", "v2");
    /* A retry of seq 1 (the del) must not delete the new value, and gets the
     * original result. */
    r = apply_del(sm, 3, 42, 1, "k");
    assert_true(r.duplicate);
    assert_int_equal(r.status, KV_OK);
    assert_string_equal(r.msg, "no such key");
    expect_kv(sm, "k", "v2");
    /* The same seq from another client is a different command. */
    r = apply_del(sm, 4, 43, 1, "k");
    assert_false(r.duplicate);
    expect_kv(sm, "k", NULL);
    /* Client 0 has no session: every command applies. */
    apply_set(sm, 5, 0, 1, "z", "1");
    apply_set(sm, 6, 0, 1, "z", "2");
    expect_kv(sm, "z", "2");
    sm_free(sm);
}

static void test_session_window_and_pipelined_seqs(void **state)
{
    (void)state;
    sm_t *sm = sm_new(NULL, NULL);
    uint64_t idx = 1;
    /* Seqs 2, 4, ... 2W+20 applied; odd ones "lost" in flight. */
    for (uint64_t s = 2; s <= 2 * KV_SESSION_WINDOW + 20; s += 2)
        apply_set(sm, idx++, 7, s, "k", "x");
    uint64_t top = 2 * KV_SESSION_WINDOW + 20;
    /* A lost seq inside the window is new and applies. */
    kv_result_t r = apply_set(sm, idx++, 7, top - 1, "k", "late");
    assert_false(r.duplicate);
    assert_int_equal(r.status, KV_OK);
    expect_kv(sm, "k", "late");
    /* A remembered seq is a duplicate. */
    r = apply_set(sm, idx++, 7, top, "k", "again");
    assert_true(r.duplicate);
    expect_kv(sm, "k", "late");
    /* Seqs below the window can no longer be judged. */
    r = apply_set(sm, idx++, 7, 2, "k", "old");
    assert_int_equal(r.status, KV_ERR_SESSION_TOO_OLD);
    r = apply_set(sm, idx++, 7, 3, "k", "old");
    assert_int_equal(r.status, KV_ERR_SESSION_TOO_OLD);
    expect_kv(sm, "k", "late");
    sm_free(sm);
}

static void test_sessions_expire_by_log_index(void **state)
{
    (void)state;
    sm_t *sm = sm_new(NULL, NULL);
    apply_set(sm, 1, 9, 1, "k", "a");
    /* Just inside the idle limit the retry is still recognised... */
    kv_result_t r = apply_set(sm, 1 + KV_SESSION_IDLE_ENTRIES, 9, 1, "k", "b");
    assert_true(r.duplicate);
    expect_kv(sm, "k", "a");
    /* ...the retry refreshed nothing; one entry past the limit of the last
     * real apply, the session is gone and seq 1 is new again. */
    r = apply_set(sm, 2 + KV_SESSION_IDLE_ENTRIES, 9, 1, "k", "c");
    assert_false(r.duplicate);
    expect_kv(sm, "k", "c");
    sm_free(sm);
}

static void test_session_cap_evicts_least_recently_used(void **state)
{
    (void)state;
    sm_t *sm = sm_new(NULL, NULL);
    uint64_t idx = 1;
    for (uint64_t c = 1; c <= KV_SESSION_MAX + 1; c++)
        apply_set(sm, idx++, c, 1, "k", "v");
    /* Client 1 was used longest ago and was evicted; clients 2 and the
     * newest were not. */
    assert_true(apply_set(sm, idx++, 2, 1, "k", "v").duplicate);
    assert_true(apply_set(sm, idx++, KV_SESSION_MAX + 1, 1, "k", "v").duplicate);
    assert_false(apply_set(sm, idx++, 1, 1, "k", "v").duplicate);
    sm_free(sm);
}

/* ---- snapshots ---- */

typedef struct membuf {
    bytebuf_t b;
    int fail_after; /* writes before failing; -1 never */
} membuf_t;

static int mem_write(void *arg, const void *data, size_t len)
{
    membuf_t *m = arg;
    if (m->fail_after == 0)
        return -1;
    if (m->fail_after > 0)
        m->fail_after--;
    bytebuf_put(&m->b, data, len);
    return m->b.failed ? -1 : 0;
}

typedef struct reader {
    const uint8_t *data;
    size_t len, pos, step;
} reader_t;

static ssize_t mem_read(void *arg, void *buf, size_t len)
{
    reader_t *r = arg;
    size_t n = r->len - r->pos;
    if (n > len)
        n = len;
    if (r->step && n > r->step)
        n = r->step;
    memcpy(buf, r->data + r->pos, n);
    r->pos += n;
    return (ssize_t)n;
}

static bytebuf_t snapshot(sm_t *sm)
{
    membuf_t m = { .fail_after = -1 };
    bytebuf_init(&m.b);
    assert_int_equal(sm_snapshot(sm, mem_write, &m), 0);
    return m.b;
}

static int restore(sm_t *sm, const uint8_t *data, size_t len, size_t step, const char **err)
{
    reader_t r = { data, len, 0, step };
    return sm_restore(sm, mem_read, &r, err);
}

/* A state with keys, two zones, a partial load and sessions. Returns the
 * chunks of the partial load (chunks 0..1 applied) and the next index. */
static uint64_t build_rich_state(sm_t *sm, kv_cmd_chunks_t *partial)
{
    uint64_t idx = 1;
    apply_set(sm, idx++, 5, 1, "foo", "bar");
    apply_set(sm, idx++, 5, 2, "caf\xc3\xa9", "cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e");
    apply_set(sm, idx++, 6, 1, "gone", "soon");
    apply_del(sm, idx++, 6, 2, "gone");
    zone_t *foo = make_zone("foo.com", 11, 60);
    zone_t *bar = make_zone("bar.com", 12, 2);
    zone_t *baz = make_zone("baz.com", 13, 80);
    kv_cmd_chunks_t cf = chunks_of(foo, "id0", 1, 8, 1, 700);
    kv_cmd_chunks_t cb = chunks_of(bar, "id1", 1, 9, 1, 0);
    for (size_t k = 0; k < cf.count; k++)
        apply(sm, idx++, cf.data[k], cf.len[k]);
    apply(sm, idx++, cb.data[0], cb.len[0]);
    *partial = chunks_of(baz, "id2", 4, 10, 1, 700);
    assert_true(partial->count >= 4);
    apply(sm, idx++, partial->data[0], partial->len[0]);
    apply(sm, idx++, partial->data[1], partial->len[1]);
    kv_cmd_chunks_free(&cf);
    kv_cmd_chunks_free(&cb);
    zone_free(foo);
    zone_free(bar);
    zone_free(baz);
    return idx;
}

/* Issue #12: a leader's snapshot is checked whole before it replaces
 * anything (kv/cluster.c fsm_check): the good one passes, every cut or
 * flipped byte and an applied index past the Raft index fail, and the
 * checking state machine's own state never changes. */
static void test_snapshot_check_leaves_state_alone(void **state)
{
    (void)state;
    sm_t *a = sm_new(NULL, NULL);
    kv_cmd_chunks_t partial;
    uint64_t idx = build_rich_state(a, &partial);
    kv_cmd_chunks_free(&partial);
    bytebuf_t snap = snapshot(a);

    recorder_t rec = { 0 };
    sm_t *b = sm_new(record_zone, &rec);
    apply_set(b, 1, 0, 0, "mine", "x");
    const char *err = NULL;
    reader_t r = { snap.data, snap.len, 0, 5 };
    assert_int_equal(sm_check_snapshot(b, idx - 1, mem_read, &r, &err), 0);
    r = (reader_t){ snap.data, snap.len, 0, 0 };
    assert_int_equal(sm_check_snapshot(b, idx - 2, mem_read, &r, &err), -1);
    assert_string_equal(err, "state applied past the snapshot's index");
    for (size_t cut = 0; cut < snap.len; cut += 97) {
        r = (reader_t){ snap.data, cut, 0, 0 };
        err = NULL;
        assert_int_equal(sm_check_snapshot(b, idx, mem_read, &r, &err), -1);
        assert_non_null(err);
    }
    for (size_t at = 0; at < snap.len; at += 89) {
        snap.data[at] ^= 0x40;
        r = (reader_t){ snap.data, snap.len, 0, 0 };
        err = NULL;
        assert_int_equal(sm_check_snapshot(b, idx, mem_read, &r, &err), -1);
        assert_non_null(err);
        snap.data[at] ^= 0x40;
    }
    assert_int_equal(rec.calls, 0);
    assert_int_equal(sm_applied_index(b), 1);
    expect_kv(b, "mine", "x");
    expect_kv(b, "foo", NULL);
    bytebuf_free(&snap);
    sm_free(a);
    sm_free(b);
}

static void test_snapshot_restore_identical_state(void **state)
{
    (void)state;
    sm_t *a = sm_new(NULL, NULL);
    kv_cmd_chunks_t partial;
    uint64_t idx = build_rich_state(a, &partial);
    bytebuf_t snap = snapshot(a);

    recorder_t rec = { 0 };
    sm_t *b = sm_new(record_zone, &rec);
    apply_set(b, 1, 0, 0, "stale", "x"); /* replaced wholesale by the restore */
    const char *err = NULL;
    assert_int_equal(restore(b, snap.data, snap.len, 7, &err), 0);
    assert_int_equal(rec.calls, 2); /* foo and bar published to DNS */
    assert_int_equal(sm_applied_index(b), idx - 1);
    expect_kv(b, "foo", "bar");
    expect_kv(b, "caf\xc3\xa9", "cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e");
    expect_kv(b, "stale", NULL);
    expect_kv(b, "gone", NULL);
    uint32_t serial;
    assert_true(zone_visible(b, FOO, &serial));
    assert_int_equal(serial, 11);
    assert_int_equal(sm_staged_count(b), 1);

    bytebuf_t again = snapshot(b);
    assert_int_equal(again.len, snap.len);
    assert_memory_equal(again.data, snap.data, snap.len);

    /* Both continue identically: the staged load completes, sessions dedup. */
    for (size_t k = 2; k < partial.count; k++) {
        kv_result_t ra = apply(a, idx, partial.data[k], partial.len[k]);
        kv_result_t rb = apply(b, idx, partial.data[k], partial.len[k]);
        assert_int_equal(ra.status, KV_OK);
        assert_int_equal(rb.status, ra.status);
        assert_string_equal(rb.msg, ra.msg);
        idx++;
    }
    assert_true(zone_visible(b, "\3baz\3com", &serial));
    assert_int_equal(serial, 13);
    assert_int_equal(rec.calls, 3);
    kv_result_t r = apply_set(b, idx, 5, 1, "foo", "retry");
    assert_true(r.duplicate);
    expect_kv(b, "foo", "bar");
    apply_set(a, idx, 5, 1, "foo", "retry");
    bytebuf_t sa = snapshot(a), sb = snapshot(b);
    assert_int_equal(sa.len, sb.len);
    assert_memory_equal(sa.data, sb.data, sa.len);

    bytebuf_free(&sa);
    bytebuf_free(&sb);
    bytebuf_free(&again);
    bytebuf_free(&snap);
    kv_cmd_chunks_free(&partial);
    sm_free(a);
    sm_free(b);
}

static void test_restore_removes_zones_absent_from_snapshot(void **state)
{
    (void)state;
    sm_t *empty = sm_new(NULL, NULL);
    bytebuf_t snap = snapshot(empty);
    recorder_t rec = { 0 };
    sm_t *b = sm_new(record_zone, &rec);
    zone_t *z = make_zone("foo.com", 1, 1);
    kv_cmd_chunks_t ch = chunks_of(z, "id0", 1, 0, 0, 0);
    apply(b, 1, ch.data[0], ch.len[0]);
    const char *err = NULL;
    assert_int_equal(restore(b, snap.data, snap.len, 0, &err), 0);
    assert_int_equal(rec.deletes, 1);
    assert_int_equal(sm_zone_count(b), 0);
    assert_int_equal(sm_applied_index(b), 0);
    kv_cmd_chunks_free(&ch);
    zone_free(z);
    bytebuf_free(&snap);
    sm_free(empty);
    sm_free(b);
}

/* After a refused restore the state is exactly what it was. */
static void expect_untouched(sm_t *b, const bytebuf_t *before)
{
    bytebuf_t now = snapshot(b);
    assert_int_equal(now.len, before->len);
    assert_memory_equal(now.data, before->data, now.len);
    bytebuf_free(&now);
}

static void test_corrupt_snapshots_refused(void **state)
{
    (void)state;
    sm_t *a = sm_new(NULL, NULL);
    kv_cmd_chunks_t partial;
    build_rich_state(a, &partial);
    bytebuf_t snap = snapshot(a);

    sm_t *b = sm_new(NULL, NULL);
    apply_set(b, 1, 0, 0, "mine", "keep");
    bytebuf_t before = snapshot(b);
    log_set_level(LOG_OFF); /* thousands of refusals follow */
    uint8_t *copy = malloc(snap.len + 1);
    assert_non_null(copy);
    const char *err = NULL;

    /* Every single-byte change is caught (by a check or the CRC). */
    for (size_t i = 0; i < snap.len; i++) {
        memcpy(copy, snap.data, snap.len);
        copy[i] ^= (uint8_t)(1u << (i % 8));
        err = NULL;
        if (restore(b, copy, snap.len, 0, &err) == 0)
            fail_msg("flipped byte %zu accepted", i);
        assert_non_null(err);
    }
    expect_untouched(b, &before);

    /* Every truncation, and one byte too many. */
    for (size_t cut = 0; cut < snap.len; cut += (cut < 64 || snap.len - cut < 64) ? 1 : 13)
        assert_int_equal(restore(b, snap.data, cut, 0, &err), -1);
    memcpy(copy, snap.data, snap.len);
    copy[snap.len] = 0;
    assert_int_equal(restore(b, copy, snap.len + 1, 0, &err), -1);
    assert_string_equal(err, "trailing bytes after snapshot");

    /* Specific reasons. */
    memcpy(copy, snap.data, snap.len);
    copy[0] = 'X';
    assert_int_equal(restore(b, copy, snap.len, 0, &err), -1);
    assert_string_equal(err, "not a state-machine snapshot");
    memcpy(copy, snap.data, snap.len);
    copy[4] = SM_SNAPSHOT_VERSION + 1;
    assert_int_equal(restore(b, copy, snap.len, 0, &err), -1);
    assert_string_equal(err, "unsupported snapshot version");
    memcpy(copy, snap.data, snap.len);
    copy[snap.len - 1] ^= 0xff; /* the CRC itself */
    assert_int_equal(restore(b, copy, snap.len, 0, &err), -1);
    assert_string_equal(err, "snapshot checksum mismatch");
    memcpy(copy, snap.data, snap.len);
    copy[snap.len - 12] ^= 0x01; /* the length */
    assert_int_equal(restore(b, copy, snap.len, 0, &err), -1);
    assert_string_equal(err, "snapshot length mismatch");
    memcpy(copy, snap.data, snap.len);
    copy[6] ^= 0x01; /* applied index: only the CRC can tell */
    assert_int_equal(restore(b, copy, snap.len, 0, &err), -1);
    assert_string_equal(err, "snapshot checksum mismatch");

    expect_untouched(b, &before);
    log_set_level(LOG_ERROR);
    free(copy);
    bytebuf_free(&before);
    bytebuf_free(&snap);
    kv_cmd_chunks_free(&partial);
    sm_free(a);
    sm_free(b);
}

static void test_snapshot_writer_failure(void **state)
{
    (void)state;
    sm_t *a = sm_new(NULL, NULL);
    kv_cmd_chunks_t partial;
    build_rich_state(a, &partial);
    log_set_level(LOG_OFF);
    for (int n = 0; n < 3; n++) {
        membuf_t m = { .fail_after = n };
        bytebuf_init(&m.b);
        assert_int_equal(sm_snapshot(a, mem_write, &m), -1);
        bytebuf_free(&m.b);
    }
    log_set_level(LOG_ERROR);
    kv_cmd_chunks_free(&partial);
    sm_free(a);
}

/* ---- determinism ---- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A seeded log mixing sets, dels, retries, zone loads (some abandoned,
 * some interleaved) and zone deletes. */
typedef struct logbuf {
    uint8_t **e;
    size_t *len;
    size_t n, cap;
} logbuf_t;

static void log_push(logbuf_t *l, uint8_t *e, size_t len)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->e = realloc(l->e, l->cap * sizeof *l->e);
        l->len = realloc(l->len, l->cap * sizeof *l->len);
        assert_non_null(l->e);
        assert_non_null(l->len);
    }
    l->e[l->n] = e;
    l->len[l->n++] = len;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n);
    assert_non_null(d);
    memcpy(d, p, n);
    return d;
}

static logbuf_t random_log(uint64_t seed, size_t steps)
{
    logbuf_t l = { 0 };
    zone_t *zones[3] = { make_zone("foo.com", 1, 30), make_zone("bar.com", 2, 5),
                         make_zone("foo.com", 3, 10) };
    uint64_t seq[4] = { 0 };
    const char *err;
    for (size_t i = 0; i < steps; i++) {
        uint64_t r = rng_next(&seed);
        uint64_t client = 1 + r % 4;
        char key[16], val[16];
        snprintf(key, sizeof key, "k%u", (unsigned)((r >> 8) % 20));
        snprintf(val, sizeof val, "v%u", (unsigned)((r >> 16) % 1000));
        uint8_t *buf;
        size_t len;
        switch ((r >> 24) % 8) {
        case 0: case 1: case 2:
            kv_cmd_encode_set(client, ++seq[client - 1], (uint8_t *)key, strlen(key),
                              (uint8_t *)val, strlen(val), &buf, &len, &err);
            log_push(&l, buf, len);
            break;
        case 3:
            kv_cmd_encode_del(client, ++seq[client - 1], (uint8_t *)key, strlen(key), &buf, &len, &err);
            log_push(&l, buf, len);
            break;
        case 4: /* a retry of an older command of this client */
            if (l.n > 0) {
                size_t back = (size_t)((r >> 32) % (l.n < 30 ? l.n : 30));
                log_push(&l, dup_bytes(l.e[l.n - 1 - back], l.len[l.n - 1 - back]), l.len[l.n - 1 - back]);
            }
            break;
        case 5: case 6: { /* a zone load, maybe cut short */
            const zone_t *z = zones[(r >> 32) % 3];
            kv_cmd_chunks_t ch;
            kv_cmd_encode_zone_chunks(z, client % 2 ? "id0" : "id1", r >> 40, client,
                                  seq[client - 1] + 1, 400, &ch, &err);
            size_t upto = (r >> 36) % 4 == 0 ? ch.count / 2 : ch.count;
            for (size_t k = 0; k < upto; k++)
                log_push(&l, dup_bytes(ch.data[k], ch.len[k]), ch.len[k]);
            seq[client - 1] += ch.count;
            kv_cmd_chunks_free(&ch);
            break;
        }
        case 7:
            kv_cmd_encode_zone_del(client, ++seq[client - 1],
                                   (const uint8_t *)((r >> 32) % 2 ? FOO : BAR), &buf, &len, &err);
            log_push(&l, buf, len);
            break;
        }
    }
    for (int i = 0; i < 3; i++)
        zone_free(zones[i]);
    return l;
}

static void log_free(logbuf_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i]);
    free(l->e);
    free(l->len);
}

static void test_replicas_agree(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        logbuf_t l = random_log(seed * 0x9E3779B97F4A7C15ull, 300);
        sm_t *a = sm_new(NULL, NULL), *b = sm_new(NULL, NULL), *c = sm_new(NULL, NULL);
        size_t half = l.n / 2;
        for (size_t i = 0; i < l.n; i++) {
            kv_result_t ra = apply(a, i + 1, l.e[i], l.len[i]);
            kv_result_t rb = apply(b, i + 1, l.e[i], l.len[i]);
            assert_int_equal(ra.status, rb.status);
            assert_int_equal(ra.duplicate, rb.duplicate);
            assert_string_equal(ra.msg, rb.msg);
            if (i + 1 == half) { /* c joins from a snapshot halfway */
                bytebuf_t s = snapshot(a);
                const char *err = NULL;
                assert_int_equal(restore(c, s.data, s.len, 0, &err), 0);
                bytebuf_free(&s);
            } else if (i + 1 > half) {
                kv_result_t rc = apply(c, i + 1, l.e[i], l.len[i]);
                assert_int_equal(rc.status, ra.status);
                assert_string_equal(rc.msg, ra.msg);
            }
        }
        bytebuf_t sa = snapshot(a), sb = snapshot(b), sc = snapshot(c);
        assert_int_equal(sa.len, sb.len);
        assert_memory_equal(sa.data, sb.data, sa.len);
        assert_int_equal(sa.len, sc.len);
        assert_memory_equal(sa.data, sc.data, sa.len);
        bytebuf_free(&sa);
        bytebuf_free(&sb);
        bytebuf_free(&sc);
        sm_free(a);
        sm_free(b);
        sm_free(c);
        log_free(&l);
    }
}

/* ---- readers on other threads ---- */

typedef struct watcher {
    sm_t *sm;
    atomic_int stop;
    uint32_t last_serial;
    int bad;
    atomic_long reads;
} watcher_t;

/* Zone version s (serial s) has 10 + s hosts + 3 apex records. */
static void check_complete(void *arg, const zone_t *zone, const sm_zone_info_t *info)
{
    watcher_t *w = arg;
    if (zone->count != 13 + zone->serial || info->serial != zone->serial ||
        zone->serial < w->last_serial)
        w->bad++;
    w->last_serial = zone->serial;
}

static void *watch(void *arg)
{
    watcher_t *w = arg;
    while (!atomic_load(&w->stop)) {
        sm_zone_with(w->sm, (const uint8_t *)FOO, check_complete, w);
        uint8_t *v;
        size_t n;
        if (sm_kv_get(w->sm, (const uint8_t *)"k", 1, &v, &n) == 1)
            free(v);
        atomic_fetch_add(&w->reads, 1);
    }
    return NULL;
}

/* Lets the watcher make `more` further reads (it may start late on a busy
 * machine, and a test that never overlapped would prove nothing). */
static void wait_for_reads(watcher_t *w, long more)
{
    long target = atomic_load(&w->reads) + more;
    while (atomic_load(&w->reads) < target)
        sched_yield();
}

static void test_readers_never_see_half_a_zone(void **state)
{
    (void)state;
    sm_t *sm = sm_new(NULL, NULL);
    watcher_t w = { .sm = sm };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, watch, &w), 0);
    uint64_t idx = 1;
    for (uint32_t v = 1; v <= 40; v++) {
        wait_for_reads(&w, 3);
        zone_t *z = make_zone("foo.com", v, 10 + (int)v);
        kv_cmd_chunks_t ch = chunks_of(z, "id0", v, 0, 0, 300);
        for (size_t k = 0; k < ch.count; k++)
            assert_int_equal(apply(sm, idx++, ch.data[k], ch.len[k]).status, KV_OK);
        apply_set(sm, idx++, 0, 0, "k", v % 2 ? "odd" : "even");
        kv_cmd_chunks_free(&ch);
        zone_free(z);
    }
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    assert_int_equal(w.bad, 0);
    assert_true(w.last_serial > 0);
    sm_free(sm);
}

/* ---- the bridge to the DNS zone database ---- */

static void test_zonedb_bridge_publishes_and_removes(void **state)
{
    (void)state;
    zonedb_reader_register();
    zonedb_handle_t *h = zonedb_handle_new();
    sm_t *sm = sm_new(sm_zonedb_publish, h);
    zone_t *z = make_zone("foo.com", 21, 40);
    kv_cmd_chunks_t ch = chunks_of(z, "id0", 1, 0, 0, 600);
    uint64_t idx = 1;
    for (size_t k = 0; k + 1 < ch.count; k++) {
        apply(sm, idx++, ch.data[k], ch.len[k]);
        zonedb_read_lock();
        assert_null(zonedb_get_zone(zonedb_current(h), (const uint8_t *)FOO));
        zonedb_read_unlock();
    }
    apply(sm, idx++, ch.data[ch.count - 1], ch.len[ch.count - 1]);
    zonedb_read_lock();
    const zonedb_index_t *zi = zonedb_get_zone(zonedb_current(h), (const uint8_t *)FOO);
    assert_non_null(zi);
    assert_int_equal(zonedb_index_serial(zi), 21);
    zonedb_read_unlock();
    uint8_t *buf;
    size_t len;
    const char *err;
    assert_int_equal(kv_cmd_encode_zone_del(0, 0, (const uint8_t *)FOO, &buf, &len, &err), 0);
    apply(sm, idx++, buf, len);
    free(buf);
    zonedb_read_lock();
    assert_null(zonedb_get_zone(zonedb_current(h), (const uint8_t *)FOO));
    zonedb_read_unlock();
    kv_cmd_chunks_free(&ch);
    zone_free(z);
    sm_free(sm);
    zonedb_handle_free(h);
    zonedb_reader_unregister();
}


/* ---- dynamic updates (RFC 2136, issue #14) ---- */

/* A wire UPDATE for foo.com built by hand (names uncompressed). */
typedef struct umsg {
    uint8_t b[1024];
    size_t len;
} umsg_t;

static void u16be(umsg_t *m, uint16_t v)
{
    m->b[m->len++] = (uint8_t)(v >> 8);
    m->b[m->len++] = (uint8_t)v;
}

static void umsg_init(umsg_t *m, const char *zone_wire, uint16_t prcount, uint16_t upcount)
{
    m->len = 0;
    u16be(m, 0x4242);
    u16be(m, 5u << 11);
    u16be(m, 1);
    u16be(m, prcount);
    u16be(m, upcount);
    u16be(m, 0);
    size_t n = strlen(zone_wire) + 1;
    memcpy(m->b + m->len, zone_wire, n);
    m->len += n;
    u16be(m, 6);
    u16be(m, 1);
}

static void umsg_rr(umsg_t *m, const char *owner_wire, uint16_t type, uint16_t rclass,
                    uint32_t ttl, const uint8_t *rdata, uint16_t rdlen)
{
    size_t n = strlen(owner_wire) + 1;
    memcpy(m->b + m->len, owner_wire, n);
    m->len += n;
    u16be(m, type);
    u16be(m, rclass);
    u16be(m, (uint16_t)(ttl >> 16));
    u16be(m, (uint16_t)ttl);
    u16be(m, rdlen);
    if (rdlen)
        memcpy(m->b + m->len, rdata, rdlen);
    m->len += rdlen;
}

static kv_result_t apply_update(sm_t *sm, uint64_t index, const umsg_t *m)
{
    uint8_t cmd[KV_UPDATE_CMD_MAX];
    int n = kv_cmd_encode_update_at(m->b, m->len, (const uint8_t *)"\3key", KV_SERIAL_INCREMENT,
                                    0, cmd, sizeof cmd);
    assert_true(n > 0);
    return apply(sm, index, cmd, (size_t)n);
}

/* UPDATE foo.com: add DYN.foo.com A 192.0.2.99. */
static void umsg_add_dyn(umsg_t *m)
{
    umsg_init(m, FOO, 0, 1);
    umsg_rr(m, "\3dyn" FOO, 1, 1, 300, (const uint8_t *)"\xc0\x00\x02\x63", 4);
}

static size_t journal_len;
static uint32_t journal_last_to;
static void grab_journal(void *arg, const zone_changeset_t *v, size_t n)
{
    (void)arg;
    journal_len = n;
    journal_last_to = n ? v[n - 1].serial_to : 0;
}

static bool has_dyn_fn_result;
static void find_dyn(void *arg, const zone_t *zone, const sm_zone_info_t *info)
{
    (void)arg;
    (void)info;
    has_dyn_fn_result = false;
    for (size_t i = 0; i < zone->count; i++)
        if (name_equal(zone->rrs[i].owner, (const uint8_t *)"\3dyn" FOO))
            has_dyn_fn_result = true;
}

static bool has_dyn(sm_t *sm)
{
    assert_true(sm_zone_with(sm, (const uint8_t *)FOO, find_dyn, NULL));
    return has_dyn_fn_result;
}

static uint64_t load_zone(sm_t *sm, uint64_t idx, const zone_t *z, uint64_t load_id,
                          enum kv_status want)
{
    kv_cmd_chunks_t ch = chunks_of(z, "id0", load_id, 0, 0, 0);
    kv_result_t r = { 0 };
    for (size_t k = 0; k < ch.count; k++)
        r = apply(sm, idx++, ch.data[k], ch.len[k]);
    assert_int_equal(r.status, want);
    kv_cmd_chunks_free(&ch);
    return idx;
}

static void test_update_applies_with_rcodes_and_journal(void **state)
{
    (void)state;
    recorder_t rec = { 0 };
    sm_t *sm = sm_new(record_zone, &rec);
    zone_t *foo = make_zone("foo.com", 11, 3);
    uint64_t idx = load_zone(sm, 1, foo, 1, KV_OK);
    umsg_t m;
    umsg_add_dyn(&m);
    kv_result_t r = apply_update(sm, idx++, &m);
    assert_int_equal(r.status, KV_OK);
    assert_int_equal(r.rcode, ZU_NOERROR);
    uint32_t serial;
    assert_true(zone_visible(sm, FOO, &serial));
    assert_int_equal(serial, 11); /* in the open batch: seen at sm_publish */
    assert_int_equal(rec.last_serial, 11);
    sm_publish(sm);
    assert_true(zone_visible(sm, FOO, &serial));
    assert_int_equal(serial, 12);
    assert_int_equal(rec.last_serial, 12); /* published to DNS */
    assert_true(has_dyn(sm));
    assert_true(sm_zone_journal_with(sm, (const uint8_t *)FOO, grab_journal, NULL));
    assert_int_equal(journal_len, 1);
    assert_int_equal(journal_last_to, 12);
    /* the same again: a duplicate, NOERROR and no change */
    r = apply_update(sm, idx++, &m);
    assert_int_equal(r.rcode, ZU_NOERROR);
    assert_true(zone_visible(sm, FOO, &serial));
    assert_int_equal(serial, 12);
    /* a prerequisite that fails: nothing changes */
    umsg_init(&m, FOO, 1, 1);
    umsg_rr(&m, "\3dyn" FOO, 1, ZU_CLASS_NONE, 0, NULL, 0);
    umsg_rr(&m, "\3new" FOO, 1, 1, 300, (const uint8_t *)"\1\2\3\4", 4);
    r = apply_update(sm, idx++, &m);
    assert_int_equal(r.rcode, ZU_YXRRSET);
    /* a zone we do not serve */
    umsg_init(&m, BAR, 0, 0);
    r = apply_update(sm, idx++, &m);
    assert_int_equal(r.rcode, ZU_NOTAUTH);
    /* a message that does not parse */
    m.len = 14;
    r = apply_update(sm, idx++, &m);
    assert_int_equal(r.status, KV_OK);
    assert_int_equal(r.rcode, ZU_FORMERR);
    assert_true(sm_zone_journal_with(sm, (const uint8_t *)FOO, grab_journal, NULL));
    assert_int_equal(journal_len, 1);
    zone_free(foo);
    sm_free(sm);
}

/* The UPDATEs of one applied batch share one publication (sm_publish), and
 * the replicated outcome does not depend on the batching: applying them one
 * by one (publishing after each) and as one batch gives the same rcodes,
 * zones and journals (compared through the snapshot bytes), also across
 * the working set's reopening. */
static void batch_messages(umsg_t *m, int n)
{
    for (int i = 0; i < n; i++) {
        uint8_t a[4] = { 10, 9, (uint8_t)(i / 7), (uint8_t)i };
        if (i % 11 == 10) { /* add and delete the same RR: no net change, undone */
            umsg_init(&m[i], FOO, 0, 2);
            umsg_rr(&m[i], "\1z" FOO, 1, 1, 300, a, 4);
            umsg_rr(&m[i], "\1z" FOO, 1, ZU_CLASS_NONE, 0, a, 4);
        } else if (i % 13 == 12) { /* another spelling of x: one spelling kept */
            umsg_init(&m[i], FOO, 0, 1);
            umsg_rr(&m[i], "\1X" FOO, 16, 1, 300, (const uint8_t *)"\3abc", 4);
        } else if (i % 5 == 3) { /* prerequisite "x does not exist": fails once x is there */
            umsg_init(&m[i], FOO, 1, 1);
            umsg_rr(&m[i], "\1x" FOO, 255, ZU_CLASS_NONE, 0, NULL, 0);
            umsg_rr(&m[i], "\1y" FOO, 1, 1, 300, a, 4);
        } else if (i % 5 == 4) { /* delete the RRset added two steps before */
            umsg_init(&m[i], FOO, 0, 1);
            umsg_rr(&m[i], "\1x" FOO, 1, ZU_CLASS_ANY, 0, NULL, 0);
        } else if (i % 7 == 6) { /* a duplicate of message 0: no change */
            m[i] = m[0];
        } else {
            umsg_init(&m[i], FOO, 0, 1);
            umsg_rr(&m[i], "\1x" FOO, 1, 1, 300 + (uint32_t)(i % 3), a, 4);
        }
    }
}

static void test_update_batch_equals_one_by_one(void **state)
{
    (void)state;
    enum { N = 1300 }; /* past the batch's reopening (over 1024 changes) */
    umsg_t *m = calloc(N, sizeof *m);
    assert_non_null(m);
    batch_messages(m, N);
    zone_t *foo = make_zone("foo.com", 11, 3);
    recorder_t rec_one = { 0 }, rec_batch = { 0 };
    sm_t *one = sm_new(record_zone, &rec_one), *batch = sm_new(record_zone, &rec_batch);
    uint64_t idx = load_zone(one, 1, foo, 1, KV_OK);
    assert_int_equal(load_zone(batch, 1, foo, 1, KV_OK), idx);
    int before = rec_batch.calls;
    int changed = 0;
    for (int i = 0; i < N; i++) {
        kv_result_t a = apply_update(one, idx + (uint64_t)i, &m[i]);
        sm_publish(one);
        kv_result_t b = apply_update(batch, idx + (uint64_t)i, &m[i]);
        assert_int_equal(a.status, b.status);
        assert_int_equal(a.rcode, b.rcode);
        assert_string_equal(a.msg, b.msg);
        changed += strncmp(a.msg, "updated", 7) == 0;
    }
    assert_true(changed > 10);
    assert_int_equal(rec_batch.calls, before); /* nothing published yet */
    sm_publish(batch);
    assert_int_equal(rec_batch.calls, before + 1); /* one version for the batch */
    sm_publish(batch);
    assert_int_equal(rec_batch.calls, before + 1); /* nothing pending: no-op */
    assert_int_equal(rec_batch.last_serial, rec_one.last_serial);
    assert_int_equal(rec_batch.last_count, rec_one.last_count);
    uint32_t serial;
    assert_true(zone_visible(batch, FOO, &serial));
    assert_int_equal(serial, rec_batch.last_serial);
    bytebuf_t sa = snapshot(one), sb = snapshot(batch);
    assert_int_equal(sa.len, sb.len);
    assert_memory_equal(bytebuf_head(&sa), bytebuf_head(&sb), sa.len);
    bytebuf_free(&sa);
    bytebuf_free(&sb);
    zone_free(foo);
    sm_free(one);
    sm_free(batch);
    free(m);
}

/* DNS gets UPDATEs as indexes of the changed names over the last full one
 * (sm_zonedb_publish_part); after every sm_publish the published index
 * finds exactly what a full index of the zone finds, at every name
 * (names emptied by a delete force a full one). */
static void same_dns_node(const zonedb_index_t *a, const zonedb_index_t *b, const uint8_t *name)
{
    const zonedb_node_t *x = zonedb_index_find(a, name), *y = zonedb_index_find(b, name);
    assert_int_equal(x == NULL, y == NULL);
    if (!x)
        return;
    assert_int_equal(zonedb_node_flags(x), zonedb_node_flags(y));
    assert_int_equal(zonedb_node_rrset_count(x), zonedb_node_rrset_count(y));
    for (size_t i = 0; i < zonedb_node_rrset_count(x); i++) {
        const zonedb_rrset_t *r = zonedb_node_rrset_at(x, i), *q = zonedb_node_rrset_at(y, i);
        assert_int_equal(r->type, q->type);
        assert_int_equal(r->ttl, q->ttl);
        assert_int_equal(r->rdata_len, q->rdata_len);
        assert_memory_equal(r->rdata, q->rdata, r->rdata_len);
    }
}

typedef struct view_check {
    zonedb_handle_t *h;
    bool partial; /* the published index was an overlay */
} view_check_t;

static void compare_view(void *arg, const zone_t *zone, const sm_zone_info_t *info)
{
    (void)info;
    view_check_t *v = arg;
    zonedb_index_t *full = zonedb_index_build(zone, NULL);
    assert_non_null(full);
    zonedb_read_lock();
    const zonedb_index_t *dns = zonedb_get_zone(zonedb_current(v->h), (const uint8_t *)FOO);
    assert_non_null(dns);
    v->partial |= zonedb_index_base(dns) != dns;
    assert_int_equal(zonedb_index_serial(dns), zone->serial);
    for (size_t i = 0; i < zone->count; i++)
        same_dns_node(dns, full, zone->rrs[i].owner);
    const char *probe[] = { "\1x" FOO, "\1y" FOO, "\1z" FOO, "\1*" FOO, "\1q\1x" FOO, FOO };
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++)
        same_dns_node(dns, full, (const uint8_t *)probe[i]);
    zonedb_read_unlock();
    zonedb_index_unref(full);
}

static void test_dns_view_by_parts_matches_full_index(void **state)
{
    (void)state;
    enum { N = 300 };
    zonedb_reader_register();
    zonedb_handle_t *h = zonedb_handle_new();
    sm_t *sm = sm_new(sm_zonedb_publish, h);
    sm_set_zone_part_fn(sm, sm_zonedb_publish_part);
    umsg_t *m = calloc(N, sizeof *m);
    assert_non_null(m);
    batch_messages(m, N);
    zone_t *foo = make_zone("foo.com", 11, 40);
    uint64_t idx = load_zone(sm, 1, foo, 1, KV_OK);
    view_check_t v = { h, false };
    for (int i = 0; i < N; i++) {
        apply_update(sm, idx++, &m[i]);
        if (i % 4 == 3 || i % 7 == 0 || i % 5 == 4) { /* also right after deletes */
            sm_publish(sm);
            assert_true(sm_zone_with(sm, (const uint8_t *)FOO, compare_view, &v));
        }
    }
    sm_publish(sm);
    assert_true(sm_zone_with(sm, (const uint8_t *)FOO, compare_view, &v));
    assert_true(v.partial); /* overlays were used, not only full indexes */
    zone_free(foo);
    free(m);
    sm_free(sm);
    zonedb_handle_free(h);
    zonedb_reader_unregister();
}

static void test_journal_is_bounded(void **state)
{
    (void)state;
    sm_t *sm = sm_new(NULL, NULL);
    sm_set_journal_limits(sm, 3, SM_JOURNAL_MAX_BYTES);
    zone_t *foo = make_zone("foo.com", 11, 3);
    uint64_t idx = load_zone(sm, 1, foo, 1, KV_OK);
    for (int i = 0; i < 5; i++) {
        umsg_t m;
        umsg_init(&m, FOO, 0, 1);
        uint8_t a[4] = { 10, 9, 9, (uint8_t)i };
        umsg_rr(&m, "\1x" FOO, 1, 1, 300, a, 4);
        assert_int_equal(apply_update(sm, idx++, &m).rcode, ZU_NOERROR);
    }
    assert_true(sm_zone_journal_with(sm, (const uint8_t *)FOO, grab_journal, NULL));
    assert_int_equal(journal_len, 3);
    assert_int_equal(journal_last_to, 16);
    zone_free(foo);
    sm_free(sm);
}

/* Issue #14 item 4: a reload applies the file difference to the current
 * zone, so the dynamic record stays; the same file again changes nothing;
 * a newer file serial wins. */
static void test_reload_keeps_dynamic_changes(void **state)
{
    (void)state;
    sm_t *sm = sm_new(NULL, NULL);
    zone_t *v1 = make_zone("foo.com", 11, 3);
    uint64_t idx = load_zone(sm, 1, v1, 1, KV_OK);
    umsg_t m;
    umsg_add_dyn(&m);
    assert_int_equal(apply_update(sm, idx++, &m).rcode, ZU_NOERROR);
    idx = load_zone(sm, idx, v1, 2, KV_OK); /* the same file (a restart) */
    assert_true(has_dyn(sm));
    uint32_t serial;
    zone_visible(sm, FOO, &serial);
    assert_int_equal(serial, 12);
    zone_t *v2 = make_zone("foo.com", 11, 4); /* one more host, same serial */
    idx = load_zone(sm, idx, v2, 3, KV_OK);
    assert_true(has_dyn(sm));
    zone_visible(sm, FOO, &serial);
    assert_int_equal(serial, 13); /* bumped: the file's serial did not move */
    zone_t *v3 = make_zone("foo.com", 500, 4);
    idx = load_zone(sm, idx, v3, 4, KV_OK);
    zone_visible(sm, FOO, &serial);
    assert_int_equal(serial, 500);
    assert_true(has_dyn(sm));
    assert_true(sm_zone_journal_with(sm, (const uint8_t *)FOO, grab_journal, NULL));
    assert_int_equal(journal_len, 3);

    /* snapshot keeps the file version and the journal: a restored replica
     * reloads the same way and ends byte-identical */
    bytebuf_t snap = snapshot(sm);
    sm_t *b = sm_new(NULL, NULL);
    const char *err = NULL;
    assert_int_equal(restore(b, snap.data, snap.len, 0, &err), 0);
    assert_true(sm_zone_journal_with(b, (const uint8_t *)FOO, grab_journal, NULL));
    assert_int_equal(journal_len, 3);
    zone_t *v4 = make_zone("foo.com", 500, 1);
    load_zone(sm, idx, v4, 5, KV_OK);
    load_zone(b, idx, v4, 5, KV_OK);
    assert_true(has_dyn(b));
    bytebuf_t sa = snapshot(sm), sb = snapshot(b);
    assert_int_equal(sa.len, sb.len);
    assert_memory_equal(sa.data, sb.data, sa.len);
    bytebuf_free(&sa);
    bytebuf_free(&sb);
    bytebuf_free(&snap);
    zone_free(v1);
    zone_free(v2);
    zone_free(v3);
    zone_free(v4);
    sm_free(sm);
    sm_free(b);
}

/* A version-1 snapshot (before journals and file versions) still restores:
 * built from a version-2 one by dropping the per-zone extras. */
static void test_version1_snapshot_restores(void **state)
{
    (void)state;
    sm_t *a = sm_new(NULL, NULL);
    zone_t *foo = make_zone("foo.com", 11, 3);
    load_zone(a, 1, foo, 1, KV_OK);
    bytebuf_t snap = snapshot(a);
    /* header 4+1+8, kv count 8, zone count 4, then the zone */
    size_t pos = 25;
    pos += strlen(FOO) + 1;
    pos += 1 + snap.data[pos];          /* node id */
    pos += 8 + 8 + 8;                   /* load id, index, rr count */
    uint64_t rlen = get_le64(snap.data + pos);
    pos += 8 + rlen;                    /* the extras: u8 1, u32 0 */
    assert_int_equal(snap.data[pos], 1);
    uint8_t *v1 = malloc(snap.len);
    memcpy(v1, snap.data, pos);
    memcpy(v1 + pos, snap.data + pos + 5, snap.len - pos - 5);
    size_t len = snap.len - 5;
    v1[4] = 1;
    uint64_t body = len - 12;
    put_le64(v1 + body, body);
    put_le32(v1 + body + 8, crc32c(0, v1, body));
    sm_t *b = sm_new(NULL, NULL);
    const char *err = NULL;
    assert_int_equal(restore(b, v1, len, 0, &err), 0);
    uint32_t serial;
    assert_true(zone_visible(b, FOO, &serial));
    assert_int_equal(serial, 11);
    /* and it can take an update and a reload */
    umsg_t m;
    umsg_add_dyn(&m);
    assert_int_equal(apply_update(b, 10, &m).rcode, ZU_NOERROR);
    load_zone(b, 11, foo, 2, KV_OK);
    assert_true(has_dyn(b));
    free(v1);
    bytebuf_free(&snap);
    zone_free(foo);
    sm_free(a);
    sm_free(b);
}

int main(void)
{
    log_set_level(LOG_ERROR); /* the refusals tested here are logged as warnings */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_set_get_del),
        cmocka_unit_test(test_many_keys_grow_the_table),
        cmocka_unit_test(test_index_rules_and_malformed_entries),
        cmocka_unit_test(test_chunked_zone_invisible_until_last_chunk),
        cmocka_unit_test(test_new_load_abandons_partial_one),
        cmocka_unit_test(test_stray_and_out_of_order_chunks_refused),
        cmocka_unit_test(test_idle_partial_load_expires_by_log_index),
        cmocka_unit_test(test_bad_zone_keeps_previous_version),
        cmocka_unit_test(test_zone_delete),
        cmocka_unit_test(test_zone_list_in_canonical_order),
        cmocka_unit_test(test_retry_applies_once_and_gets_cached_result),
        cmocka_unit_test(test_session_window_and_pipelined_seqs),
        cmocka_unit_test(test_sessions_expire_by_log_index),
        cmocka_unit_test(test_session_cap_evicts_least_recently_used),
        cmocka_unit_test(test_snapshot_restore_identical_state),
        cmocka_unit_test(test_snapshot_check_leaves_state_alone),
        cmocka_unit_test(test_restore_removes_zones_absent_from_snapshot),
        cmocka_unit_test(test_corrupt_snapshots_refused),
        cmocka_unit_test(test_snapshot_writer_failure),
        cmocka_unit_test(test_replicas_agree),
        cmocka_unit_test(test_readers_never_see_half_a_zone),
        cmocka_unit_test(test_zonedb_bridge_publishes_and_removes),
        cmocka_unit_test(test_update_applies_with_rcodes_and_journal),
        cmocka_unit_test(test_update_batch_equals_one_by_one),
        cmocka_unit_test(test_dns_view_by_parts_matches_full_index),
        cmocka_unit_test(test_journal_is_bounded),
        cmocka_unit_test(test_reload_keeps_dynamic_changes),
        cmocka_unit_test(test_version1_snapshot_restores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
