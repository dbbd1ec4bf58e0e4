/* tests/unit/test_kv_session.c — the client-session table (kv/session.c):
 * duplicate detection inside the window, "too old" below it, expiry by log
 * index, eviction of the session used longest ago, the sweep, and the
 * snapshot section's round trip — with client ids inserted in random order
 * so the sorted arrays shift both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kv/session.h"

static kv_result_t result(enum kv_status st, const char *msg)
{
    kv_result_t r = { .status = st };
    snprintf(r.msg, sizeof r.msg, "%s", msg);
    return r;
}

static enum kv_dedup check(const kv_sessions_t *t, uint64_t client, uint64_t seq, uint64_t index,
                           kv_result_t *cached)
{
    kv_result_t scratch;
    return kv_sessions_check(t, client, seq, index, cached ? cached : &scratch);
}

static void test_duplicate_returns_cached_result(void **state)
{
    (void)state;
    kv_sessions_t *t = kv_sessions_new();
    kv_result_t r = result(KV_ERR_BAD_ZONE, "zone foo.com: no SOA");
    assert_int_equal(check(t, 7, 1, 10, NULL), KV_DEDUP_NEW);
    assert_int_equal(kv_sessions_record(t, 7, 1, 10, &r), 0);
    kv_result_t cached;
    assert_int_equal(check(t, 7, 1, 11, &cached), KV_DEDUP_DUPLICATE);
    assert_true(cached.duplicate);
    assert_int_equal(cached.status, KV_ERR_BAD_ZONE);
    assert_string_equal(cached.msg, "zone foo.com: no SOA");
    assert_int_equal(check(t, 7, 2, 11, NULL), KV_DEDUP_NEW);
    assert_int_equal(check(t, 8, 1, 11, NULL), KV_DEDUP_NEW); /* another client */
    kv_sessions_free(t);
}

static void test_window_forgets_oldest_seq(void **state)
{
    (void)state;
    kv_sessions_t *t = kv_sessions_new();
    kv_result_t ok = result(KV_OK, "");
    for (uint64_t seq = 1; seq <= KV_SESSION_WINDOW + 3; seq++)
        assert_int_equal(kv_sessions_record(t, 5, seq, seq, &ok), 0);
    for (uint64_t seq = 1; seq <= 3; seq++)
        assert_int_equal(check(t, 5, seq, 100, NULL), KV_DEDUP_TOO_OLD);
    for (uint64_t seq = 4; seq <= KV_SESSION_WINDOW + 3; seq++)
        assert_int_equal(check(t, 5, seq, 100, NULL), KV_DEDUP_DUPLICATE);
    assert_int_equal(check(t, 5, KV_SESSION_WINDOW + 4, 100, NULL), KV_DEDUP_NEW);
    kv_sessions_free(t);
}

static void test_idle_session_expires_by_index(void **state)
{
    (void)state;
    kv_sessions_t *t = kv_sessions_new();
    kv_result_t ok = result(KV_OK, "");
    assert_int_equal(kv_sessions_record(t, 9, 1, 100, &ok), 0);
    assert_int_equal(check(t, 9, 1, 100 + KV_SESSION_IDLE_ENTRIES, NULL), KV_DEDUP_DUPLICATE);
    assert_int_equal(check(t, 9, 1, 101 + KV_SESSION_IDLE_ENTRIES, NULL), KV_DEDUP_NEW);
    kv_sessions_sweep(t, 100 + KV_SESSION_IDLE_ENTRIES);
    assert_int_equal(kv_sessions_count(t), 1);
    kv_sessions_sweep(t, 101 + KV_SESSION_IDLE_ENTRIES);
    assert_int_equal(kv_sessions_count(t), 0);
    kv_sessions_free(t);
}

/* Distinct pseudo-random client ids (a bijection on 64 bits). */
static uint64_t client_of(uint64_t i)
{
    return (i + 1) * 0x9E3779B97F4A7C15ull;
}

static void test_many_clients_sweep_and_eviction(void **state)
{
    (void)state;
    kv_sessions_t *t = kv_sessions_new();
    kv_result_t ok = result(KV_OK, "");
    /* Clients 0..KV_SESSION_MAX-1 at indexes 1..; every client stays findable. */
    for (uint64_t i = 0; i < KV_SESSION_MAX; i++)
        assert_int_equal(kv_sessions_record(t, client_of(i), 1, i + 1, &ok), 0);
    assert_int_equal(kv_sessions_count(t), KV_SESSION_MAX);
    for (uint64_t i = 0; i < KV_SESSION_MAX; i++)
        assert_int_equal(check(t, client_of(i), 1, KV_SESSION_MAX, NULL), KV_DEDUP_DUPLICATE);
    /* Touch client 0 again, then one more client: the one used longest ago
     * (client 1, index 2) goes, not client 0. */
    assert_int_equal(kv_sessions_record(t, client_of(0), 2, KV_SESSION_MAX + 1, &ok), 0);
    assert_int_equal(kv_sessions_record(t, client_of(KV_SESSION_MAX), 1, KV_SESSION_MAX + 2, &ok), 0);
    assert_int_equal(kv_sessions_count(t), KV_SESSION_MAX);
    assert_int_equal(check(t, client_of(1), 1, KV_SESSION_MAX + 2, NULL), KV_DEDUP_NEW);
    assert_int_equal(check(t, client_of(0), 1, KV_SESSION_MAX + 2, NULL), KV_DEDUP_DUPLICATE);
    assert_int_equal(check(t, client_of(2), 1, KV_SESSION_MAX + 2, NULL), KV_DEDUP_DUPLICATE);
    /* A sweep that expires the first half keeps the rest findable. */
    uint64_t at = KV_SESSION_MAX / 2 + 1 + KV_SESSION_IDLE_ENTRIES;
    kv_sessions_sweep(t, at);
    size_t kept = 1; /* client 0 */
    for (uint64_t i = 2; i <= KV_SESSION_MAX; i++) {
        uint64_t last = i + 1;
        if (i == KV_SESSION_MAX)
            last = KV_SESSION_MAX + 2;
        enum kv_dedup want = at - last > KV_SESSION_IDLE_ENTRIES ? KV_DEDUP_NEW : KV_DEDUP_DUPLICATE;
        kept += want == KV_DEDUP_DUPLICATE;
        assert_int_equal(check(t, client_of(i), 1, at, NULL), want);
    }
    assert_int_equal(check(t, client_of(0), 2, at, NULL), KV_DEDUP_DUPLICATE);
    assert_int_equal(kept, KV_SESSION_MAX / 2 + 2); /* last index >= MAX/2+1: clients 2048.. and 0 */
    assert_int_equal(kv_sessions_count(t), kept);
    kv_sessions_free(t);
}

static void test_snapshot_round_trip(void **state)
{
    (void)state;
    kv_sessions_t *t = kv_sessions_new();
    kv_result_t ok = result(KV_OK, ""), bad = result(KV_ERR_STALE_LOAD, "stale load");
    for (uint64_t i = 0; i < 300; i++)
        for (uint64_t seq = 1; seq <= 1 + i % 20; seq++)
            assert_int_equal(kv_sessions_record(t, client_of(i), seq, i * 100 + seq,
                                                seq % 3 ? &ok : &bad), 0);
    bytebuf_t b;
    bytebuf_init(&b);
    kv_sessions_save(t, &b);
    kv_sessions_t *u = kv_sessions_new();
    kv_cursor_t c = { b.data, b.len };
    assert_int_equal(kv_sessions_load(u, &c), 0);
    assert_int_equal(kv_sessions_count(u), 300);
    for (uint64_t i = 0; i < 300; i++) {
        for (uint64_t seq = 1; seq <= 1 + i % 20; seq++) {
            kv_result_t want, got;
            enum kv_dedup dw = check(t, client_of(i), seq, 30000, &want);
            assert_int_equal(check(u, client_of(i), seq, 30000, &got), dw);
            if (dw == KV_DEDUP_DUPLICATE) {
                assert_int_equal(got.status, want.status);
                assert_string_equal(got.msg, want.msg);
            }
        }
    }
    bytebuf_t again;
    bytebuf_init(&again);
    kv_sessions_save(u, &again);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);
    bytebuf_free(&again);
    bytebuf_free(&b);
    kv_sessions_free(u);
    kv_sessions_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicate_returns_cached_result),
        cmocka_unit_test(test_window_forgets_oldest_seq),
        cmocka_unit_test(test_idle_session_expires_by_index),
        cmocka_unit_test(test_many_clients_sweep_and_eviction),
        cmocka_unit_test(test_snapshot_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
