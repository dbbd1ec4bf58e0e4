/* kv/sm_publish.c — when the state machine's zones reach DNS (see
 * statemachine.h sm_publish): zone loads and deletes at once, UPDATEs once
 * per applied batch, as a full index or, while few names changed since the
 * last full one, as an index of those names over it (sm_zone_part_fn). */
#include <stdlib.h>
#include <string.h>

#include "kv/sm_state.h"
#include "kv/statemachine.h"

/* The published zone of origin, or NULL (apply thread: no lock needed). */
static const zone_t *sm_zone_current(const sm_t *sm, const uint8_t *origin)
{
    bool found;
    size_t pos = sm_zones_find(&sm->st, origin, &found);
    return found ? sm->st.zones[pos].zone : NULL;
}

static long unpublished_find(const sm_t *sm, const uint8_t *origin)
{
    for (size_t i = 0; i < sm->nunpublished; i++)
        if (name_equal(sm->unpublished[i], origin))
            return (long)i;
    return -1;
}

/* Publishes now; an UPDATE of the same origin still waiting is covered. */
void sm_notify_zone(sm_t *sm, const uint8_t *origin, const zone_t *zone)
{
    long i = unpublished_find(sm, origin);
    if (i >= 0)
        memmove(sm->unpublished[i], sm->unpublished[i + 1],
                (sm->nunpublished - (size_t)i - 1) * sizeof *sm->unpublished);
    sm->nunpublished -= i >= 0;
    if (sm->on_zone)
        sm->on_zone(sm->on_zone_arg, origin, zone);
}

/* Publishes later, in sm_publish (the batch's UPDATEs share one version). */
void sm_notify_zone_later(sm_t *sm, const uint8_t *origin)
{
    if (!sm->on_zone || unpublished_find(sm, origin) >= 0)
        return;
    if (sm->nunpublished == sm->capunpublished) {
        size_t cap = sm->capunpublished ? sm->capunpublished * 2 : 4;
        void *v = realloc(sm->unpublished, cap * sizeof *sm->unpublished);
        if (!v) {
            sm_notify_zone(sm, origin, sm_zone_current(sm, origin));
            return;
        }
        sm->unpublished = v;
        sm->capunpublished = cap;
    }
    memcpy(sm->unpublished[sm->nunpublished++], origin, name_wire_len(origin));
}

void sm_set_zone_part_fn(sm_t *sm, sm_zone_part_fn fn)
{
    sm->on_zone_part = fn;
}

/* Gives DNS only what the UPDATEs changed since the last full publication
 * (an index of those names over the full one), while that is small; true
 * when done. Costs the changed names, not the zone. */
static bool publish_part(sm_t *sm, sm_zone_t *e)
{
    if (!sm->on_zone_part || !e->batch || !e->part_ok ||
        zone_update_batch_touched(e->batch) > e->zone->count / 8 + 64)
        return false;
    bool emptied;
    zone_t *part = zone_update_batch_part(e->batch, &emptied);
    if (!part)
        return false; /* a name lost its last record, or no memory: in full */
    int rc = sm->on_zone_part(sm->on_zone_arg, e->zone->origin, e->zone, part,
                              e->part_base_serial);
    zone_free(part);
    return rc == 0;
}

static void publish_full(sm_t *sm, sm_zone_t *e)
{
    sm->on_zone(sm->on_zone_arg, e->zone->origin, e->zone);
    if (e->batch) { /* from now on the batch's touched names are relative to this */
        zone_update_batch_touched_reset(e->batch);
        e->part_ok = true;
        e->part_base_serial = e->zone->serial;
    }
}

void sm_publish(sm_t *sm)
{
    sm_flush_batches(sm);
    while (sm->nunpublished > 0) {
        uint8_t origin[NAME_MAX_WIRE];
        memcpy(origin, sm->unpublished[sm->nunpublished - 1], NAME_MAX_WIRE);
        sm->nunpublished--;
        bool found;
        size_t pos = sm_zones_find(&sm->st, origin, &found);
        if (found && !publish_part(sm, &sm->st.zones[pos]))
            publish_full(sm, &sm->st.zones[pos]);
        /* not found: a deleted zone was unpublished by its delete already */
    }
}
