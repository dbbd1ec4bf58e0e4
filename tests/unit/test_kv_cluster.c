/* tests/unit/test_kv_cluster.c — the one write policy both write paths of
 * kv/cluster*.c share (cluster_write_retry): which node answers are retried
 * with the same bytes, that the deadline stops retries, and that once an
 * attempt may have committed (NODE_EMAYBE) the client is never told "not
 * applied", whatever the later attempts say. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kv/cluster_int.h"

static void test_retries_only_while_the_leader_is_unknown_or_changed(void **state)
{
    (void)state;
    node_status_t retried[] = { NODE_ENOLEADER, NODE_ELOST, NODE_EMAYBE };
    node_status_t final[] = { NODE_ETIMEOUT, NODE_ESHUTDOWN, NODE_ETOOBIG, NODE_EBUSY,
                              NODE_EINVAL, NODE_EIO };
    for (size_t i = 0; i < sizeof retried / sizeof retried[0]; i++) {
        bool maybe = false;
        node_status_t answer = NODE_OK;
        assert_true(cluster_write_retry(retried[i], &maybe, 10, 11, &answer));
    }
    for (size_t i = 0; i < sizeof final / sizeof final[0]; i++) {
        bool maybe = false;
        node_status_t answer = NODE_OK;
        assert_false(cluster_write_retry(final[i], &maybe, 10, 11, &answer));
        assert_int_equal(answer, final[i]);   /* said as it is */
        assert_false(maybe);
    }
}

static void test_deadline_stops_retries(void **state)
{
    (void)state;
    bool maybe = false;
    node_status_t answer = NODE_OK;
    assert_false(cluster_write_retry(NODE_ENOLEADER, &maybe, 11, 11, &answer));
    assert_int_equal(answer, NODE_ENOLEADER);
}

static void test_maybe_applied_is_never_answered_as_not_applied(void **state)
{
    (void)state;
    bool maybe = false;
    node_status_t answer = NODE_OK;
    assert_true(cluster_write_retry(NODE_EMAYBE, &maybe, 1, 100, &answer));
    assert_true(maybe);
    /* A later attempt is lost, or refused outright: the first may still
     * commit, so the client hears a timeout, not the later error. */
    assert_true(cluster_write_retry(NODE_ELOST, &maybe, 2, 100, &answer));
    assert_int_equal(answer, NODE_ETIMEOUT);
    assert_false(cluster_write_retry(NODE_EINVAL, &maybe, 3, 100, &answer));
    assert_int_equal(answer, NODE_ETIMEOUT);
    assert_false(cluster_write_retry(NODE_ENOLEADER, &maybe, 100, 100, &answer));
    assert_int_equal(answer, NODE_ETIMEOUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retries_only_while_the_leader_is_unknown_or_changed),
        cmocka_unit_test(test_deadline_stops_retries),
        cmocka_unit_test(test_maybe_applied_is_never_answered_as_not_applied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
