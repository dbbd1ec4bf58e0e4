/* tests/unit/test_dns_notify_sched.c — the NOTIFY scheduler
 * (dns/notify_sched.c) on a fake clock: only a leader sends; a new leader
 * notifies every target with the current serial; a change goes to every
 * target at once; retransmissions back off (RFC 1996 §3.6) until a
 * response with the same id (§4.4), up to a bound, then give up; changes
 * faster than answers are coalesced into one outstanding NOTIFY carrying
 * the newest serial; wrong ids and wrong slots are ignored. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dns/notify_sched.h"

static uint16_t next_id;
static uint16_t counting_id(void *arg)
{
    (void)arg;
    return ++next_id;
}

static uint16_t constant_id(void *arg)
{
    (void)arg;
    return 42;
}

/* Two zones: zone 0 with 2 targets, zone 1 with 1. */
static notify_sched_t *make(unsigned retry, unsigned cap, unsigned retries)
{
    static const size_t targets[] = { 2, 1 };
    notify_sched_opts_t o = { .retry_ms = retry, .retry_max_ms = cap, .retries = retries,
                              .new_id = counting_id };
    next_id = 0;
    notify_sched_t *s = notify_sched_new(targets, 2, &o);
    assert_non_null(s);
    return s;
}

/* Takes everything due at now into out[]; returns how many. */
static size_t drain(notify_sched_t *s, uint64_t now, notify_send_t *out, size_t cap)
{
    size_t n = 0;
    notify_send_t one;
    while (notify_sched_take_due(s, now, &one)) {
        assert_true(n < cap);
        out[n++] = one;
    }
    return n;
}

static void test_only_the_leader_sends(void **state)
{
    (void)state;
    notify_sched_t *s = make(100, 1000, 3);
    notify_send_t out[8];
    notify_sched_zone_serial(s, 0, 5, 0);
    notify_sched_zone_serial(s, 0, 6, 10);
    assert_int_equal(drain(s, 10, out, 8), 0);
    assert_true(notify_sched_next_due(s) == UINT64_MAX);
    notify_sched_set_epoch(s, 3, 20); /* leads now */
    assert_int_equal(drain(s, 20, out, 8), 2);
    notify_sched_set_epoch(s, 0, 30); /* deposed: nothing more, no retransmission */
    assert_int_equal(drain(s, 10000, out, 8), 0);
    assert_true(notify_sched_next_due(s) == UINT64_MAX);
    notify_sched_free(s);
}

static void test_new_leader_notifies_every_target_with_the_current_serial(void **state)
{
    (void)state;
    notify_sched_t *s = make(100, 1000, 3);
    notify_send_t out[8];
    notify_sched_zone_serial(s, 0, 7, 0);
    notify_sched_zone_serial(s, 1, 70, 0);
    notify_sched_set_epoch(s, 2, 5);
    assert_int_equal(drain(s, 5, out, 8), 3);
    assert_int_equal(out[0].zone, 0);
    assert_int_equal(out[0].target, 0);
    assert_int_equal(out[0].serial, 7);
    assert_int_equal(out[1].target, 1);
    assert_int_equal(out[2].zone, 1);
    assert_int_equal(out[2].serial, 70);
    assert_int_equal(out[2].attempt, 1);
    /* Leadership lost and won again in a later term: everyone again,
     * even targets that had acknowledged, with a fresh retry count. */
    for (int i = 0; i < 3; i++)
        assert_int_not_equal(notify_sched_ack(s, out[i].zone, out[i].target, out[i].id, 0, 6),
                             NOTIFY_ACK_NOMATCH);
    notify_sched_zone_serial(s, 1, 71, 7);
    assert_int_equal(drain(s, 7, out, 8), 1);
    notify_sched_set_epoch(s, 0, 8);
    notify_sched_set_epoch(s, 9, 9);
    assert_int_equal(drain(s, 9, out, 8), 3);
    assert_int_equal(out[2].serial, 71);
    assert_int_equal(out[2].attempt, 1);
    /* A new term without an epoch-0 in between counts as a change too. */
    notify_sched_set_epoch(s, 11, 10);
    assert_int_equal(drain(s, 10, out, 8), 3);
    notify_sched_free(s);
}

static void test_a_change_goes_to_every_target_of_that_zone_at_once(void **state)
{
    (void)state;
    notify_sched_t *s = make(100, 1000, 3);
    notify_send_t out[8];
    notify_sched_set_epoch(s, 1, 0);
    notify_sched_zone_serial(s, 1, 1, 0);
    assert_int_equal(drain(s, 0, out, 8), 1);
    assert_int_equal(notify_sched_ack(s, 1, 0, out[0].id, 0, 1), NOTIFY_ACK_DONE);
    notify_sched_zone_serial(s, 1, 1, 2); /* the same serial again: nothing */
    assert_int_equal(drain(s, 2, out, 8), 0);
    notify_sched_zone_serial(s, 0, 9, 3);
    assert_int_equal(drain(s, 3, out, 8), 2);
    assert_int_equal(out[0].serial, 9);
    assert_int_equal(out[1].serial, 9);
    assert_int_not_equal(out[0].id, out[1].id);
    notify_counters_t c = notify_sched_counters(s);
    assert_int_equal(c.sent, 3);
    assert_int_equal(c.acked, 1);
    notify_sched_free(s);
}

static void test_retransmissions_back_off_up_to_the_cap(void **state)
{
    (void)state;
    notify_sched_t *s = make(100, 350, 5);
    notify_send_t out[8];
    notify_sched_set_epoch(s, 1, 0);
    notify_sched_zone_serial(s, 1, 4, 1000);
    assert_int_equal(drain(s, 1000, out, 8), 1);
    /* Waits: 100, 200, 350 (capped), 350. */
    static const uint64_t at[] = { 1100, 1300, 1650, 2000 };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(notify_sched_next_due(s), at[i]);
        assert_int_equal(drain(s, at[i] - 1, out, 8), 0);
        assert_int_equal(drain(s, at[i], out, 8), 1);
        assert_int_equal(out[0].attempt, (unsigned)i + 2);
        assert_int_equal(out[0].serial, 4);
    }
    assert_int_equal(notify_sched_counters(s).retried, 4);
    notify_sched_free(s);
}

static void test_gives_up_after_the_last_retransmission(void **state)
{
    (void)state;
    notify_sched_t *s = make(100, 1000, 2);
    notify_send_t out[8];
    notify_sched_set_epoch(s, 1, 0);
    notify_sched_zone_serial(s, 1, 4, 0);
    assert_int_equal(drain(s, 0, out, 8), 1);
    assert_int_equal(drain(s, 100, out, 8), 1);
    assert_int_equal(drain(s, 300, out, 8), 1); /* 2 retransmissions */
    assert_int_equal(notify_sched_next_due(s), 700);
    assert_int_equal(drain(s, 700, out, 8), 0); /* given up */
    assert_true(notify_sched_next_due(s) == UINT64_MAX);
    notify_counters_t c = notify_sched_counters(s);
    assert_int_equal(c.sent, 3);
    assert_int_equal(c.retried, 2);
    assert_int_equal(c.given_up, 1);
    /* A late answer now matches nothing. */
    assert_int_equal(notify_sched_ack(s, 1, 0, out[0].id, 0, 701), NOTIFY_ACK_NOMATCH);
    /* The next change starts afresh. */
    notify_sched_zone_serial(s, 1, 5, 800);
    assert_int_equal(drain(s, 800, out, 8), 1);
    assert_int_equal(out[0].attempt, 1);
    notify_sched_free(s);
}

static void test_an_answer_with_the_id_ends_retransmission(void **state)
{
    (void)state;
    notify_sched_t *s = make(100, 1000, 3);
    notify_send_t out[8];
    notify_sched_set_epoch(s, 1, 0);
    notify_sched_zone_serial(s, 1, 4, 0);
    assert_int_equal(drain(s, 0, out, 8), 1);
    uint16_t id = out[0].id;
    /* Wrong id, wrong target, wrong zone: ignored, still outstanding. */
    assert_int_equal(notify_sched_ack(s, 1, 0, (uint16_t)(id + 1), 0, 10), NOTIFY_ACK_NOMATCH);
    assert_int_equal(notify_sched_ack(s, 0, 0, id, 0, 10), NOTIFY_ACK_NOMATCH);
    assert_int_equal(notify_sched_ack(s, 1, 1, id, 0, 10), NOTIFY_ACK_NOMATCH);
    assert_int_equal(notify_sched_ack(s, 7, 0, id, 0, 10), NOTIFY_ACK_NOMATCH);
    assert_true(notify_sched_outstanding(s, 1, 0, id));
    assert_int_equal(notify_sched_counters(s).ignored, 4);
    assert_int_equal(notify_sched_ack(s, 1, 0, id, 0, 20), NOTIFY_ACK_DONE);
    assert_false(notify_sched_outstanding(s, 1, 0, id));
    assert_true(notify_sched_next_due(s) == UINT64_MAX);
    assert_int_equal(drain(s, 100000, out, 8), 0);
    /* A duplicate answer is ignored. */
    assert_int_equal(notify_sched_ack(s, 1, 0, id, 0, 30), NOTIFY_ACK_NOMATCH);
    notify_sched_free(s);
}

static void test_a_late_answer_to_the_previous_transmission_counts(void **state)
{
    (void)state;
    notify_sched_t *s = make(100, 1000, 3);
    notify_send_t out[8];
    notify_sched_set_epoch(s, 1, 0);
    notify_sched_zone_serial(s, 1, 4, 0);
    assert_int_equal(drain(s, 0, out, 8), 1);
    uint16_t first = out[0].id;
    assert_int_equal(drain(s, 100, out, 8), 1);
    assert_int_not_equal(out[0].id, first);
    assert_int_equal(notify_sched_ack(s, 1, 0, first, 0, 120), NOTIFY_ACK_DONE);
    assert_true(notify_sched_next_due(s) == UINT64_MAX);
    notify_sched_free(s);
}

static void test_ids_never_repeat_back_to_back(void **state)
{
    (void)state;
    static const size_t targets[] = { 1 };
    notify_sched_opts_t o = { .retry_ms = 10, .new_id = constant_id };
    notify_sched_t *s = notify_sched_new(targets, 1, &o);
    notify_send_t a, b;
    notify_sched_set_epoch(s, 1, 0);
    notify_sched_zone_serial(s, 0, 1, 0);
    assert_true(notify_sched_take_due(s, 0, &a));
    assert_true(notify_sched_take_due(s, 10, &b));
    assert_int_not_equal(a.id, b.id);
    notify_sched_free(s);
}

static void test_changes_faster_than_answers_are_coalesced(void **state)
{
    (void)state;
    notify_sched_t *s = make(100, 1000, 5);
    notify_send_t out[8];
    notify_sched_set_epoch(s, 1, 0);
    notify_sched_zone_serial(s, 1, 10, 0);
    assert_int_equal(drain(s, 0, out, 8), 1);
    uint16_t first = out[0].id;
    for (uint32_t v = 11; v <= 15; v++) {
        notify_sched_zone_serial(s, 1, v, v);
        assert_int_equal(drain(s, v, out, 8), 0); /* one outstanding at most */
    }
    assert_int_equal(notify_sched_counters(s).coalesced, 5);
    /* The answer to the old serial: the newest goes at once. */
    assert_int_equal(notify_sched_ack(s, 1, 0, first, 0, 50), NOTIFY_ACK_NEWER);
    assert_int_equal(drain(s, 50, out, 8), 1);
    assert_int_equal(out[0].serial, 15);
    assert_int_equal(out[0].attempt, 1);
    assert_int_equal(notify_sched_ack(s, 1, 0, out[0].id, 0, 60), NOTIFY_ACK_DONE);
    assert_int_equal(notify_sched_counters(s).sent, 2);
    notify_sched_free(s);
}

static void test_a_retransmission_carries_the_newest_serial(void **state)
{
    (void)state;
    notify_sched_t *s = make(100, 1000, 5);
    notify_send_t out[8];
    notify_sched_set_epoch(s, 1, 0);
    notify_sched_zone_serial(s, 1, 10, 0);
    assert_int_equal(drain(s, 0, out, 8), 1);
    uint16_t old = out[0].id;
    notify_sched_zone_serial(s, 1, 11, 20);
    notify_sched_zone_serial(s, 1, 12, 30);
    assert_int_equal(drain(s, 100, out, 8), 1);
    assert_int_equal(out[0].serial, 12);
    assert_int_equal(out[0].attempt, 1); /* a new serial: retries of its own */
    uint16_t newest = out[0].id;
    /* A late answer to the old serial: the newest is already out, so wait
     * for its own answer (no third message now). */
    assert_int_equal(notify_sched_ack(s, 1, 0, old, 0, 110), NOTIFY_ACK_DONE);
    assert_int_equal(drain(s, 110, out, 8), 0);
    assert_true(notify_sched_outstanding(s, 1, 0, newest));
    assert_int_equal(notify_sched_ack(s, 1, 0, newest, 0, 120), NOTIFY_ACK_DONE);
    assert_true(notify_sched_next_due(s) == UINT64_MAX);
    notify_sched_free(s);
}

static void test_a_change_late_in_a_backoff_waits_no_longer_than_retry_ms(void **state)
{
    (void)state;
    notify_sched_t *s = make(100, 10000, 3);
    notify_send_t out[8];
    notify_sched_set_epoch(s, 1, 0);
    notify_sched_zone_serial(s, 1, 10, 0);
    assert_int_equal(drain(s, 0, out, 8), 1);
    assert_int_equal(drain(s, 100, out, 8), 1);
    assert_int_equal(drain(s, 300, out, 8), 1);
    assert_int_equal(drain(s, 700, out, 8), 1); /* the last retransmission of 10 */
    assert_int_equal(notify_sched_next_due(s), 1500);
    notify_sched_zone_serial(s, 1, 11, 750);
    assert_int_equal(notify_sched_next_due(s), 800); /* not 1500 */
    assert_int_equal(drain(s, 800, out, 8), 1);
    assert_int_equal(out[0].serial, 11);
    /* ... and 11 is not given up with 10: three retransmissions of its own. */
    assert_int_equal(drain(s, 900, out, 8), 1);
    assert_int_equal(drain(s, 1100, out, 8), 1);
    assert_int_equal(drain(s, 1500, out, 8), 1);
    assert_int_equal(drain(s, 2300, out, 8), 0);
    assert_int_equal(notify_sched_counters(s).given_up, 1);
    notify_sched_free(s);
}

static void test_an_error_rcode_ends_retransmission(void **state)
{
    (void)state;
    notify_sched_t *s = make(100, 1000, 5);
    notify_send_t out[8];
    notify_sched_set_epoch(s, 1, 0);
    notify_sched_zone_serial(s, 1, 10, 0);
    assert_int_equal(drain(s, 0, out, 8), 1);
    assert_int_equal(notify_sched_ack(s, 1, 0, out[0].id, 5 /* REFUSED */, 10), NOTIFY_ACK_DONE);
    assert_true(notify_sched_next_due(s) == UINT64_MAX);
    notify_counters_t c = notify_sched_counters(s);
    assert_int_equal(c.rejected, 1);
    assert_int_equal(c.acked, 0);
    notify_sched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_the_leader_sends),
        cmocka_unit_test(test_new_leader_notifies_every_target_with_the_current_serial),
        cmocka_unit_test(test_a_change_goes_to_every_target_of_that_zone_at_once),
        cmocka_unit_test(test_retransmissions_back_off_up_to_the_cap),
        cmocka_unit_test(test_gives_up_after_the_last_retransmission),
        cmocka_unit_test(test_an_answer_with_the_id_ends_retransmission),
        cmocka_unit_test(test_a_late_answer_to_the_previous_transmission_counts),
        cmocka_unit_test(test_ids_never_repeat_back_to_back),
        cmocka_unit_test(test_changes_faster_than_answers_are_coalesced),
        cmocka_unit_test(test_a_retransmission_carries_the_newest_serial),
        cmocka_unit_test(test_a_change_late_in_a_backoff_waits_no_longer_than_retry_ms),
        cmocka_unit_test(test_an_error_rcode_ends_retransmission),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
