/* tests/unit/test_common_loop.c — the event loop's wake-up (common/loop.h):
 * wake-ups asked for before the loop runs are one on_wake, and no work
 * handed over with a wake-up is ever left unseen, with four threads handing
 * work to a running loop as fast as they can. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/handoff.h"
#include "common/loop.h"

enum { PRODUCERS = 4, PER_PRODUCER = 50000, TIMEOUT_MS = 20000 };

typedef struct item {
    handoff_link_t link; /* first: an item is its link */
} item_t;

typedef struct world {
    loop_t *loop;
    handoff_t h;
    item_t *items;
    int taken;            /* loop thread only */
    unsigned wakes;       /* on_wake calls */
    uint64_t deadline_ms;
    bool timed_out;
    bool wake_every_push; /* or only when the list was empty */
} world_t;

static void on_wake(void *ctx)
{
    world_t *w = ctx;
    w->wakes++;
    for (handoff_link_t *l = handoff_take_all(&w->h); l; l = l->next)
        w->taken++;
    if (w->taken == PRODUCERS * PER_PRODUCER)
        loop_stop(w->loop);
}

/* A lost wake-up shows as items that stay in the list: give up then. */
static void on_tick(void *ctx)
{
    world_t *w = ctx;
    if (loop_now_ms() > w->deadline_ms) {
        w->timed_out = true;
        loop_stop(w->loop);
    }
}

typedef struct producer_arg {
    world_t *w;
    int id;
} producer_arg_t;

static void *producer(void *arg)
{
    producer_arg_t *p = arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        item_t *it = &p->w->items[p->id * PER_PRODUCER + i];
        bool first = handoff_push(&p->w->h, &it->link);
        if (first || p->w->wake_every_push)
            loop_wake(p->w->loop);
    }
    return NULL;
}

static void run_producers(bool wake_every_push)
{
    world_t w = { .h = HANDOFF_INIT, .wake_every_push = wake_every_push };
    w.items = calloc(PRODUCERS * PER_PRODUCER, sizeof *w.items);
    assert_non_null(w.items);
    w.loop = loop_new(10, on_tick, on_wake, &w);
    assert_non_null(w.loop);
    w.deadline_ms = loop_now_ms() + TIMEOUT_MS;
    pthread_t th[PRODUCERS];
    producer_arg_t args[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        args[i] = (producer_arg_t){ &w, i };
        assert_int_equal(pthread_create(&th[i], NULL, producer, &args[i]), 0);
    }
    assert_int_equal(loop_run(w.loop), 0);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(th[i], NULL);
    if (w.timed_out)
        fail_msg("%d of %d items never seen: a wake-up was lost", PRODUCERS * PER_PRODUCER - w.taken,
                 PRODUCERS * PER_PRODUCER);
    assert_int_equal(w.taken, PRODUCERS * PER_PRODUCER);
    assert_true(w.wakes >= 1);
    loop_free(w.loop);
    free(w.items);
}

static void test_no_wake_up_is_lost_waking_on_the_first_push(void **state)
{
    (void)state;
    run_producers(false);
}

static void test_no_wake_up_is_lost_waking_on_every_push(void **state)
{
    (void)state;
    run_producers(true);
}

/* Wake-ups asked for while one is pending are one wake-up: the loop sees a
 * single on_wake for a thousand loop_wake calls made before it ran. */
static void count_wake(void *ctx)
{
    world_t *w = ctx;
    w->wakes++;
    loop_stop(w->loop);
}

static void test_pending_wake_ups_coalesce(void **state)
{
    (void)state;
    world_t w = { .h = HANDOFF_INIT };
    w.loop = loop_new(1000, NULL, count_wake, &w);
    assert_non_null(w.loop);
    for (int i = 0; i < 1000; i++)
        loop_wake(w.loop);
    assert_int_equal(loop_run(w.loop), 0);
    assert_int_equal(w.wakes, 1);
    /* The loop ran on_wake, so the next wake-up is a new one. */
    loop_wake(w.loop);
    assert_int_equal(loop_run(w.loop), 0);
    assert_int_equal(w.wakes, 2);
    loop_free(w.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pending_wake_ups_coalesce),
        cmocka_unit_test(test_no_wake_up_is_lost_waking_on_the_first_push),
        cmocka_unit_test(test_no_wake_up_is_lost_waking_on_every_push),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
