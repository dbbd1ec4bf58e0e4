/* tests/unit/test_raft_session.c — client sessions (raft/session.c, thesis
 * §6.3): a retried command is detected and answered from the cache, stale
 * and unknown clients are refused, eviction is LRU by log index, and the
 * table survives a snapshot round trip while malformed snapshots are
 * rejected. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "raft/session.h"

static void test_retry_answered_from_cache(void **state)
{
    (void)state;
    raft_sessions_t *s = raft_sessions_new(4);
    assert_non_null(s);
    assert_int_equal(raft_session_register(s, 10, 10), 0);
    assert_int_equal(raft_session_check(s, 10, 1, NULL, NULL), RAFT_SESSION_NEW);
    assert_int_equal(raft_session_record(s, 10, 1, 11, "OK 1", 4), 0);
    /* The client retries seq 1: same answer, not executed again. */
    const uint8_t *resp;
    size_t len;
    assert_int_equal(raft_session_check(s, 10, 1, &resp, &len),
                     RAFT_SESSION_DUPLICATE);
    assert_int_equal(len, 4);
    assert_memory_equal(resp, "OK 1", 4);
    assert_int_equal(raft_session_check(s, 10, 2, NULL, NULL), RAFT_SESSION_NEW);
    assert_int_equal(raft_session_record(s, 10, 2, 12, NULL, 0), 0);
    /* An older seq arrives after a newer one was answered. */
    assert_int_equal(raft_session_check(s, 10, 1, NULL, NULL),
                     RAFT_SESSION_STALE);
    /* Recording must move forward. */
    assert_int_equal(raft_session_record(s, 10, 2, 13, "x", 1), -1);
    raft_sessions_free(s);
}

static void test_unknown_client_expired(void **state)
{
    (void)state;
    raft_sessions_t *s = raft_sessions_new(2);
    assert_int_equal(raft_session_check(s, 5, 1, NULL, NULL),
                     RAFT_SESSION_EXPIRED);
    assert_int_equal(raft_session_record(s, 5, 1, 1, NULL, 0), -1);
    assert_int_equal(raft_session_register(s, 0, 1), -1);
    raft_sessions_free(s);
}

/* Thesis §6.3: bounded table, least recently used session evicted; the
 * evicted client then gets "expired" rather than a second execution. */
static void test_lru_eviction_by_log_index(void **state)
{
    (void)state;
    raft_sessions_t *s = raft_sessions_new(2);
    assert_int_equal(raft_session_register(s, 1, 1), 0);
    assert_int_equal(raft_session_register(s, 2, 2), 0);
    assert_int_equal(raft_session_record(s, 1, 1, 3, NULL, 0), 0);  /* 1 used */
    assert_int_equal(raft_session_register(s, 3, 4), 0);  /* evicts 2 */
    assert_int_equal(raft_sessions_count(s), 2);
    assert_int_equal(raft_session_check(s, 2, 1, NULL, NULL),
                     RAFT_SESSION_EXPIRED);
    assert_int_equal(raft_session_check(s, 1, 1, NULL, NULL),
                     RAFT_SESSION_DUPLICATE);
    assert_int_equal(raft_session_check(s, 3, 1, NULL, NULL), RAFT_SESSION_NEW);
    /* Re-registering keeps the session (and its cache). */
    assert_int_equal(raft_session_register(s, 1, 9), 0);
    assert_int_equal(raft_session_check(s, 1, 1, NULL, NULL),
                     RAFT_SESSION_DUPLICATE);
    raft_sessions_free(s);
}

static void test_snapshot_round_trip(void **state)
{
    (void)state;
    raft_sessions_t *s = raft_sessions_new(8);
    for (uint64_t c = 5; c >= 1; c--) {
        assert_int_equal(raft_session_register(s, c * 100, c), 0);
        assert_int_equal(raft_session_record(s, c * 100, c, 10 + c, "resp", c % 4), 0);
    }
    uint8_t *buf;
    size_t len;
    assert_int_equal(raft_sessions_encode(s, &buf, &len), 0);
    raft_sessions_t *d = raft_sessions_decode(buf, len, 8);
    assert_non_null(d);
    assert_int_equal(raft_sessions_count(d), 5);
    const uint8_t *resp;
    size_t rl;
    assert_int_equal(raft_session_check(d, 300, 3, &resp, &rl),
                     RAFT_SESSION_DUPLICATE);
    assert_int_equal(rl, 3);
    assert_memory_equal(resp, "res", 3);
    assert_int_equal(raft_session_check(d, 400, 5, NULL, NULL), RAFT_SESSION_NEW);
    /* Same table, same bytes. */
    uint8_t *buf2;
    size_t len2;
    assert_int_equal(raft_sessions_encode(d, &buf2, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    free(buf2);
    raft_sessions_free(d);

    /* Every truncation is malformed; so is trailing junk and a table larger
     * than the limit. */
    for (size_t cut = 0; cut < len; cut++)
        assert_null(raft_sessions_decode(buf, cut, 8));
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    assert_null(raft_sessions_decode(longer, len + 1, 8));
    assert_null(raft_sessions_decode(buf, len, 4));
    /* Unsorted ids. */
    memcpy(longer, buf, len);
    longer[4 + 7] = 0xff;  /* first id now the largest */
    assert_null(raft_sessions_decode(longer, len, 8));
    free(longer);
    free(buf);
    raft_sessions_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_answered_from_cache),
        cmocka_unit_test(test_unknown_client_expired),
        cmocka_unit_test(test_lru_eviction_by_log_index),
        cmocka_unit_test(test_snapshot_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
