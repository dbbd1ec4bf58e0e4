/* dns/notify_sched.c — the NOTIFY scheduler (dns/notify_sched.h): one slot
 * per (zone, target), each idle, due (to be sent at due_ms) or waiting (for
 * a response until due_ms, then retransmitted or given up). */
#include "dns/notify_sched.h"

#include <stdlib.h>

enum slot_state { SLOT_IDLE = 0, SLOT_DUE, SLOT_WAIT };

typedef struct slot {
    enum slot_state state;
    uint32_t want;        /* the newest serial to announce */
    uint64_t due_ms;      /* DUE: send then; WAIT: retransmit or give up then */
    uint64_t sent_ms;     /* the last transmission */
    unsigned sends;       /* transmissions since the last acknowledgement */
    uint16_t ids[2];      /* the last transmission's id, then the one before */
    uint32_t serials[2];  /* the serial each carried */
    unsigned n_ids;       /* 0..2 of them valid */
} slot_t;

typedef struct zone_row {
    size_t first, count; /* its slots */
    bool known;
    uint32_t serial;
} zone_row_t;

struct notify_sched {
    notify_sched_opts_t o;
    uint64_t epoch;
    size_t n_zones, n_slots;
    zone_row_t *zones;
    slot_t *slots;
    notify_counters_t c;
};

notify_sched_t *notify_sched_new(const size_t *targets, size_t n_zones,
                                 const notify_sched_opts_t *opts)
{
    notify_sched_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->o = *opts;
    if (s->o.retry_ms == 0)
        s->o.retry_ms = NOTIFY_RETRY_MS_DEFAULT;
    if (s->o.retry_max_ms == 0)
        s->o.retry_max_ms = NOTIFY_RETRY_MAX_MS_DEFAULT;
    if (s->o.retry_max_ms < s->o.retry_ms)
        s->o.retry_max_ms = s->o.retry_ms;
    if (s->o.retries == 0)
        s->o.retries = NOTIFY_RETRIES_DEFAULT;
    s->n_zones = n_zones;
    s->zones = calloc(n_zones ? n_zones : 1, sizeof *s->zones);
    for (size_t z = 0; z < n_zones; z++) {
        s->zones[z].first = s->n_slots;
        s->zones[z].count = targets[z];
        s->n_slots += targets[z];
    }
    s->slots = calloc(s->n_slots ? s->n_slots : 1, sizeof *s->slots);
    if (s->zones == NULL || s->slots == NULL) {
        notify_sched_free(s);
        return NULL;
    }
    return s;
}

void notify_sched_free(notify_sched_t *s)
{
    if (s == NULL)
        return;
    free(s->zones);
    free(s->slots);
    free(s);
}

/* Schedules a NOTIFY of the zone's current serial to each of its targets:
 * at once when idle; a slot waiting for a response keeps waiting and
 * carries the newest serial next time (coalescing). */
static void announce_zone(notify_sched_t *s, size_t z, uint64_t now, bool fresh_start)
{
    zone_row_t *row = &s->zones[z];
    for (size_t i = 0; i < row->count; i++) {
        slot_t *sl = &s->slots[row->first + i];
        sl->want = row->serial;
        if (sl->state == SLOT_WAIT && !fresh_start) {
            /* Coalesced: the newest serial goes with the next transmission,
             * at most retry_ms after the last one (not after a long
             * backoff meant for an older serial), with retries of its own. */
            s->c.coalesced++;
            sl->sends = 0;
            if (sl->due_ms > sl->sent_ms + s->o.retry_ms)
                sl->due_ms = sl->sent_ms + s->o.retry_ms;
            continue;
        }
        if (sl->state == SLOT_DUE && !fresh_start)
            continue; /* not yet sent: it will carry the newest */
        sl->state = SLOT_DUE;
        sl->due_ms = now;
        sl->sends = 0;
        sl->n_ids = 0;
    }
}

void notify_sched_set_epoch(notify_sched_t *s, uint64_t epoch, uint64_t now)
{
    if (epoch == s->epoch)
        return;
    s->epoch = epoch;
    for (size_t i = 0; i < s->n_slots; i++)
        s->slots[i] = (slot_t){ 0 };
    if (epoch == 0)
        return;
    /* A new leader notifies every target with the current serial: the
     * previous one may have died before its NOTIFYs were acknowledged. */
    for (size_t z = 0; z < s->n_zones; z++)
        if (s->zones[z].known)
            announce_zone(s, z, now, true);
}

void notify_sched_zone_serial(notify_sched_t *s, size_t zone, uint32_t serial, uint64_t now)
{
    if (zone >= s->n_zones)
        return;
    zone_row_t *row = &s->zones[zone];
    if (row->known && row->serial == serial)
        return;
    row->known = true;
    row->serial = serial;
    if (s->epoch != 0)
        announce_zone(s, zone, now, false);
}

/* The wait after the n-th transmission: retry_ms doubled n-1 times, capped. */
static uint64_t backoff_ms(const notify_sched_t *s, unsigned n)
{
    uint64_t wait = s->o.retry_ms;
    for (unsigned i = 1; i < n && wait < s->o.retry_max_ms; i++)
        wait *= 2;
    return wait < s->o.retry_max_ms ? wait : s->o.retry_max_ms;
}

static void transmit(notify_sched_t *s, size_t z, size_t t, slot_t *sl, uint64_t now,
                     notify_send_t *out)
{
    uint16_t id = s->o.new_id(s->o.id_arg);
    if (sl->n_ids > 0 && id == sl->ids[0])
        id ^= 0x8000u; /* never reuse the id just sent: a late reply would be ambiguous */
    sl->ids[1] = sl->ids[0];
    sl->serials[1] = sl->serials[0];
    sl->ids[0] = id;
    sl->serials[0] = sl->want;
    sl->n_ids = sl->n_ids < 2 ? sl->n_ids + 1 : 2;
    sl->sends++;
    sl->state = SLOT_WAIT;
    sl->sent_ms = now;
    sl->due_ms = now + backoff_ms(s, sl->sends);
    s->c.sent++;
    if (sl->sends > 1)
        s->c.retried++;
    *out = (notify_send_t){ .zone = z, .target = t, .serial = sl->want, .id = id,
                            .attempt = sl->sends };
}

bool notify_sched_take_due(notify_sched_t *s, uint64_t now, notify_send_t *out)
{
    if (s->epoch == 0)
        return false;
    for (size_t z = 0; z < s->n_zones; z++) {
        const zone_row_t *row = &s->zones[z];
        for (size_t t = 0; t < row->count; t++) {
            slot_t *sl = &s->slots[row->first + t];
            if (sl->state == SLOT_IDLE || sl->due_ms > now)
                continue;
            if (sl->state == SLOT_WAIT && sl->sends > s->o.retries) {
                s->c.given_up++; /* §3.6: a bounded number of retransmissions */
                sl->state = SLOT_IDLE;
                sl->n_ids = 0;
                continue;
            }
            transmit(s, z, t, sl, now, out);
            return true;
        }
    }
    return false;
}

uint64_t notify_sched_next_due(const notify_sched_t *s)
{
    uint64_t next = UINT64_MAX;
    if (s->epoch == 0)
        return next;
    for (size_t i = 0; i < s->n_slots; i++)
        if (s->slots[i].state != SLOT_IDLE && s->slots[i].due_ms < next)
            next = s->slots[i].due_ms;
    return next;
}

static slot_t *slot_of(notify_sched_t *s, size_t zone, size_t target)
{
    if (zone >= s->n_zones || target >= s->zones[zone].count)
        return NULL;
    return &s->slots[s->zones[zone].first + target];
}

/* Which of the slot's last two transmissions had this id: 0, 1 or -1. */
static int id_index(const slot_t *sl, uint16_t id)
{
    for (unsigned i = 0; i < sl->n_ids; i++)
        if (sl->ids[i] == id)
            return (int)i;
    return -1;
}

bool notify_sched_outstanding(const notify_sched_t *s, size_t zone, size_t target, uint16_t id)
{
    slot_t *sl = slot_of((notify_sched_t *)s, zone, target);
    return sl != NULL && sl->state == SLOT_WAIT && id_index(sl, id) >= 0;
}

enum notify_ack_result notify_sched_ack(notify_sched_t *s, size_t zone, size_t target,
                                        uint16_t id, unsigned rcode, uint64_t now)
{
    slot_t *sl = slot_of(s, zone, target);
    int k = sl != NULL && sl->state == SLOT_WAIT ? id_index(sl, id) : -1;
    if (k < 0) {
        s->c.ignored++;
        return NOTIFY_ACK_NOMATCH;
    }
    /* RFC 1996 §4.4: a response with the same id ends the retransmissions. */
    if (rcode == 0)
        s->c.acked++;
    else
        s->c.rejected++;
    if (sl->serials[k] == sl->want) {
        sl->state = SLOT_IDLE;
        sl->n_ids = 0;
        sl->sends = 0;
        return NOTIFY_ACK_DONE;
    }
    if (k == 1 && sl->serials[0] == sl->want) {
        /* A late answer to the transmission before, with an older serial;
         * the newest is already outstanding: wait for its own answer. */
        sl->n_ids = 1;
        return NOTIFY_ACK_DONE;
    }
    sl->n_ids = 0;
    sl->sends = 0;
    sl->state = SLOT_DUE; /* a newer serial was coalesced: it goes now */
    sl->due_ms = now;
    return NOTIFY_ACK_NEWER;
}

void notify_sched_count_ignored(notify_sched_t *s) { s->c.ignored++; }

notify_counters_t notify_sched_counters(const notify_sched_t *s) { return s->c; }
