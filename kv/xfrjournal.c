/* kv/xfrjournal.c — IXFR differences from the state machine's journal
 * (see xfrjournal.h). The condensing runs under the state machine's read
 * lock and copies what it serves, so the journal may move on as soon as
 * the call returns. */
#include "kv/xfrjournal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "zone/journal.h"

struct kv_xfrjournal {
    pthread_rwlock_t lock; /* the pointer below vs. attach/detach */
    sm_t *sm;
};

kv_xfrjournal_t *kv_xfrjournal_new(void)
{
    kv_xfrjournal_t *x = calloc(1, sizeof *x);
    if (x != NULL)
        pthread_rwlock_init(&x->lock, NULL);
    return x;
}

void kv_xfrjournal_free(kv_xfrjournal_t *x)
{
    if (x == NULL)
        return;
    pthread_rwlock_destroy(&x->lock);
    free(x);
}

void kv_xfrjournal_attach(kv_xfrjournal_t *x, sm_t *sm)
{
    pthread_rwlock_wrlock(&x->lock);
    x->sm = sm;
    pthread_rwlock_unlock(&x->lock);
}

void kv_xfrjournal_detach(kv_xfrjournal_t *x)
{
    kv_xfrjournal_attach(x, NULL);
}

typedef struct condense_call {
    uint32_t serial;
    zone_changeset_t *out;
    enum zone_journal_result result;
} condense_call_t;

static void condense(void *arg, const zone_changeset_t *v, size_t n)
{
    condense_call_t *c = arg;
    c->result = zone_journal_condense(v, n, c->serial, c->out);
}

int kv_xfrjournal_diff(void *arg, const uint8_t *origin, uint32_t serial,
                       struct zone_changeset *out)
{
    kv_xfrjournal_t *x = arg;
    condense_call_t c = { .serial = serial, .out = out, .result = ZJ_NONE };
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&x->lock);
    if (x->sm != NULL)
        (void)sm_zone_journal_with(x->sm, origin, condense, &c);
    pthread_rwlock_unlock(&x->lock);
    return (int)c.result;
}
