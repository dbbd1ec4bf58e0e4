/* tests/unit/test_common_handoff.c — the lock-free hand-off list
 * (common/handoff.h): the wake-up signal only for the first item of a burst,
 * arrival order, and no item lost or duplicated with four producers
 * pushing while a consumer takes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/handoff.h"

typedef struct item {
    handoff_link_t link; /* first: an item is its link */
    int producer, seq;
} item_t;

static void test_first_push_signals_and_order_is_kept(void **state)
{
    (void)state;
    handoff_t h = HANDOFF_INIT;
    item_t it[3] = { { .seq = 0 }, { .seq = 1 }, { .seq = 2 } };
    assert_null(handoff_take_all(&h));
    assert_true(handoff_push(&h, &it[0].link));
    assert_false(handoff_push(&h, &it[1].link));
    assert_false(handoff_push(&h, &it[2].link));
    handoff_link_t *l = handoff_take_all(&h);
    for (int i = 0; i < 3; i++, l = l->next)
        assert_int_equal(((item_t *)l)->seq, i);
    assert_null(l);
    assert_null(handoff_take_all(&h));
    assert_true(handoff_push(&h, &it[0].link)); /* empty again: signals again */
}

enum { PRODUCERS = 4, PER_PRODUCER = 50000 };

typedef struct shared {
    handoff_t h;
    item_t *items;
    int producer;
} shared_t;

typedef struct producer_arg {
    shared_t *s;
    int id;
} producer_arg_t;

static void *producer(void *arg)
{
    producer_arg_t *p = arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        item_t *it = &p->s->items[p->id * PER_PRODUCER + i];
        it->producer = p->id;
        it->seq = i;
        handoff_push(&p->s->h, &it->link);
    }
    return NULL;
}

static void test_concurrent_producers_lose_nothing(void **state)
{
    (void)state;
    shared_t s = { .h = HANDOFF_INIT };
    s.items = calloc(PRODUCERS * PER_PRODUCER, sizeof *s.items);
    pthread_t th[PRODUCERS];
    producer_arg_t args[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        args[i] = (producer_arg_t){ &s, i };
        assert_int_equal(pthread_create(&th[i], NULL, producer, &args[i]), 0);
    }
    int next[PRODUCERS] = { 0 };
    int taken = 0;
    while (taken < PRODUCERS * PER_PRODUCER) {
        for (handoff_link_t *l = handoff_take_all(&s.h); l; l = l->next) {
            item_t *it = (item_t *)l;
            /* Each producer's items arrive in the order it pushed them. */
            assert_int_equal(it->seq, next[it->producer]);
            next[it->producer]++;
            taken++;
        }
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(th[i], NULL);
    assert_null(handoff_take_all(&s.h));
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(next[i], PER_PRODUCER);
    free(s.items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_push_signals_and_order_is_kept),
        cmocka_unit_test(test_concurrent_producers_lose_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
