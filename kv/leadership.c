/* kv/leadership.c — the leader-and-caught-up test (kv/leadership.h): one
 * ReadIndex barrier per new term, at most one in flight. */
#include "kv/leadership.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "raft/node.h"

#define BARRIER_TIMEOUT_MS 2000

struct kv_leadership {
    struct node *node;
    _Atomic uint64_t confirmed; /* the last term whose barrier came back */
    _Atomic uint64_t asked;     /* the term of the barrier in flight */
    atomic_bool in_flight;
};

kv_leadership_t *kv_leadership_new(struct node *n)
{
    kv_leadership_t *l = calloc(1, sizeof *l);
    if (l != NULL)
        l->node = n;
    return l;
}

/* Runs on the Raft thread (node_done_fn). */
static void barrier_done(void *arg, node_status_t st, uint8_t *result, size_t len)
{
    kv_leadership_t *l = arg;
    (void)len;
    free(result);
    if (st == NODE_OK)
        atomic_store(&l->confirmed, atomic_load(&l->asked));
    atomic_store(&l->in_flight, false);
}

uint64_t kv_leadership_epoch(void *arg)
{
    kv_leadership_t *l = arg;
    uint64_t term = node_leader_term(l->node);
    if (term == 0)
        return 0;
    if (atomic_load(&l->confirmed) == term)
        return term;
    if (!atomic_load(&l->in_flight)) {
        atomic_store(&l->asked, term);
        atomic_store(&l->in_flight, true);
        if (node_read_barrier_async(l->node, BARRIER_TIMEOUT_MS, barrier_done, l) != NODE_OK)
            atomic_store(&l->in_flight, false);
    }
    return 0;
}

void kv_leadership_free(kv_leadership_t *l) { free(l); }
