/* tests/unit/test_kv_readiness.c — the readiness rules of kv/readiness.c:
 * an empty node is ready only once it has applied the catch-up target and
 * loaded its zone files; a restarted node once it replayed what it had; the
 * latch; on_ready called once; stale_seconds (0 within an election timeout
 * of the last contact, then the time since it); the servfail stale policy
 * and its recovery; the reason lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"
#include "kv/readiness.h"

static int ready_calls;
static void on_ready(void *arg)
{
    (void)arg;
    ready_calls++;
}

static void expect_reason(const readiness_t *r, const char *want)
{
    char buf[128];
    readiness_reason(r, buf, sizeof buf);
    if (strstr(buf, want) == NULL)
        fail_msg("reason \"%s\", want \"%s\"", buf, want);
}

static void test_decide_empty_node(void **state)
{
    (void)state;
    readiness_obs_t o = { .had_data = false };
    assert_false(readiness_decide(&o, true)); /* no target learnt yet */
    o.target_known = true;
    o.target = 10;
    o.applied = 9;
    assert_false(readiness_decide(&o, true)); /* behind the leader's commit */
    o.applied = 10;
    assert_false(readiness_decide(&o, false)); /* own zones not loaded */
    assert_true(readiness_decide(&o, true));
    o.applied = 12;
    assert_true(readiness_decide(&o, true));
}

static void test_decide_restart_serves_at_once(void **state)
{
    (void)state;
    readiness_obs_t o = { .had_data = true, .target_known = true, .target = 40, .applied = 39 };
    assert_false(readiness_decide(&o, false)); /* still replaying */
    o.applied = 40;
    assert_true(readiness_decide(&o, false)); /* no leader, no zone load needed */
}

static void test_stale_ms(void **state)
{
    (void)state;
    assert_int_equal(readiness_stale_ms_at(1000, 900, 0, 150), 0);    /* within the window */
    assert_int_equal(readiness_stale_ms_at(1000, 850, 0, 150), 0);
    assert_int_equal(readiness_stale_ms_at(1000, 849, 0, 150), 151);  /* past it: the whole gap */
    assert_int_equal(readiness_stale_ms_at(5000, 0, 1000, 150), 4000); /* never: since start */
    assert_int_equal(readiness_stale_ms_at(500, 0, 1000, 150), 0);     /* clock before start */
    assert_int_equal(readiness_stale_ms_at(100, 200, 0, 150), 0);
}

static void test_latch_and_on_ready_once(void **state)
{
    (void)state;
    ready_calls = 0;
    uint64_t now = clock_now_ms();
    readiness_options_t opts = { .on_ready = on_ready };
    readiness_t *r = readiness_new(&opts, now);
    assert_non_null(r);
    assert_false(readiness_is_ready(r));
    assert_false(readiness_answering(r));
    assert_false(atomic_load(readiness_answering_flag(r)));
    expect_reason(r, "starting");
    readiness_obs_t o = { .now_ms = now };
    readiness_observe(r, &o);
    expect_reason(r, "waiting for a leader");
    o = (readiness_obs_t){ .now_ms = now, .target_known = true, .target = 10, .applied = 3,
                           .current_ms = now };
    readiness_observe(r, &o);
    expect_reason(r, "catching up: applied 3 of 10");
    o.applied = 10;
    readiness_observe(r, &o);
    assert_false(readiness_answering(r));
    expect_reason(r, "loading this node's zone files");
    assert_int_equal(ready_calls, 0);
    readiness_zones_loaded(r);
    assert_true(readiness_is_ready(r));
    assert_true(readiness_answering(r));
    assert_true(atomic_load(readiness_answering_flag(r)));
    assert_int_equal(ready_calls, 1);
    expect_reason(r, "ready");
    /* A latch: a later observation behind the target does not undo it. */
    o.applied = 2;
    o.target = 50;
    readiness_observe(r, &o);
    readiness_zones_loaded(r);
    assert_true(readiness_answering(r));
    assert_int_equal(ready_calls, 1);
    assert_true(readiness_stale_seconds(r) < 0.15 + 0.5);
    readiness_free(r);
}

static void test_servfail_policy_and_recovery(void **state)
{
    (void)state;
    uint64_t now = clock_now_ms();
    if (now < 10000)
        skip(); /* the clock origin is too recent to place a contact 5 s ago */
    readiness_options_t opts = { .stale_policy = READINESS_STALE_SERVFAIL, .stale_max_s = 2 };
    readiness_t *r = readiness_new(&opts, now - 9000);
    readiness_obs_t o = { .now_ms = now, .had_data = true, .target_known = true, .target = 5,
                          .applied = 5, .current_ms = now - 1000 };
    readiness_observe(r, &o);
    assert_true(readiness_is_ready(r));
    assert_true(readiness_answering(r)); /* stale 1 s <= 2 s */
    double s = readiness_stale_seconds(r);
    assert_true(s >= 1.0 && s < 3.0);
    o.current_ms = now - 5000; /* older contacts never move the clock back */
    readiness_observe(r, &o);
    assert_true(readiness_answering(r));
    readiness_free(r);

    r = readiness_new(&opts, now - 9000);
    o.current_ms = now - 5000;
    readiness_observe(r, &o);
    assert_true(readiness_is_ready(r));
    assert_false(readiness_answering(r)); /* stale 5 s > 2 s */
    expect_reason(r, "> dns.stale.max 2 s");
    assert_true(readiness_stale_seconds(r) >= 5.0);
    o.current_ms = now; /* a leader heard again */
    readiness_observe(r, &o);
    assert_true(readiness_answering(r));
    assert_true(readiness_stale_seconds(r) == 0.0);
    expect_reason(r, "ready");
    readiness_free(r);

    /* The default policy keeps answering however stale. */
    opts.stale_policy = READINESS_STALE_SERVE;
    r = readiness_new(&opts, now - 9000);
    o.current_ms = 0; /* never heard a leader since start */
    readiness_observe(r, &o);
    assert_true(readiness_answering(r));
    assert_true(readiness_stale_seconds(r) >= 9.0);
    readiness_free(r);
}

static void test_reason_truncates(void **state)
{
    (void)state;
    readiness_options_t opts = { 0 };
    readiness_t *r = readiness_new(&opts, clock_now_ms());
    char buf[8];
    readiness_obs_t o = { .now_ms = clock_now_ms() };
    readiness_observe(r, &o);
    assert_int_equal(readiness_reason(r, buf, sizeof buf), 7);
    assert_string_equal(buf, "waiting");
    assert_int_equal(readiness_reason(r, buf, 0), 0);
    readiness_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_empty_node),
        cmocka_unit_test(test_decide_restart_serves_at_once),
        cmocka_unit_test(test_stale_ms),
        cmocka_unit_test(test_latch_and_on_ready_once),
        cmocka_unit_test(test_servfail_policy_and_recovery),
        cmocka_unit_test(test_reason_truncates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
