/* kv/readiness.c — the readiness latch, the staleness clock and the stale
 * policy (see readiness.h). Writers (the Raft thread, the loader) update
 * under mu and publish atomics; readers load the atomics. */
#include "kv/readiness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

#define DEFAULT_ELECTION_MS 150

#define CACHE_LINE 64

struct readiness {
    /* Read by every DNS worker batch: on a cache line of its own, written
     * only when it changes, so the Raft thread's ticks never invalidate it. */
    _Alignas(CACHE_LINE) atomic_bool answering;
    _Alignas(CACHE_LINE) atomic_bool ready;
    _Atomic uint64_t current_ms;    /* last contact with a current leader; 0: never */
    readiness_options_t o;
    uint64_t start_ms;
    pthread_mutex_t mu;             /* the fields below */
    bool zones_loaded;
    bool observed;
    readiness_obs_t last;
    bool notified;
};

readiness_t *readiness_new(const readiness_options_t *o, uint64_t start_ms)
{
    size_t size = (sizeof(readiness_t) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    readiness_t *r = aligned_alloc(CACHE_LINE, size);
    if (r == NULL)
        return NULL;
    memset(r, 0, size);
    r->o = *o;
    if (r->o.election_ms == 0)
        r->o.election_ms = DEFAULT_ELECTION_MS;
    r->start_ms = start_ms;
    atomic_init(&r->ready, false);
    atomic_init(&r->answering, false);
    atomic_init(&r->current_ms, 0);
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

void readiness_free(readiness_t *r)
{
    if (r == NULL)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

bool readiness_decide(const readiness_obs_t *o, bool zones_loaded)
{
    if (!o->target_known || o->applied < o->target)
        return false;
    /* A restart serves what it replayed at once (Knot, NSD); a node that
     * started empty waits for its own zones as well. */
    return o->had_data || zones_loaded;
}

uint64_t readiness_stale_ms_at(uint64_t now_ms, uint64_t current_ms, uint64_t start_ms,
                               unsigned election_ms)
{
    uint64_t since = current_ms ? current_ms : start_ms;
    if (now_ms <= since)
        return 0;
    uint64_t gap = now_ms - since;
    /* Within an election timeout the leader is presumed alive, as Raft
     * itself presumes (§5.2; check-quorum, thesis §6.2): not stale. */
    return current_ms != 0 && gap <= election_ms ? 0 : gap;
}

static uint64_t stale_ms(const readiness_t *r, uint64_t now_ms)
{
    return readiness_stale_ms_at(now_ms, atomic_load(&r->current_ms), r->start_ms,
                                 r->o.election_ms);
}

static bool past_stale_max(const readiness_t *r, uint64_t now_ms)
{
    return r->o.stale_policy == READINESS_STALE_SERVFAIL &&
           stale_ms(r, now_ms) > (uint64_t)r->o.stale_max_s * 1000u;
}

/* Under mu: recomputes the flags; true if the node just became ready. */
static bool update_locked(readiness_t *r, uint64_t now_ms)
{
    bool became = false;
    if (!atomic_load(&r->ready) && r->observed && readiness_decide(&r->last, r->zones_loaded)) {
        atomic_store(&r->ready, true);
        became = !r->notified;
        r->notified = true;
    }
    bool answering = atomic_load(&r->ready) && !past_stale_max(r, now_ms);
    bool changed = answering != atomic_load(&r->answering);
    if (changed)
        atomic_store(&r->answering, answering);
    double s = (double)stale_ms(r, now_ms) / 1000.0;
    if (became)
        log_info("dns", "ready (applied %llu): %s", (unsigned long long)r->last.applied,
                 answering ? "answering from the zones" : "but stale: answering SERVFAIL");
    else if (changed && answering)
        log_info("dns", "answering from the zones again (stale %.1f s)", s);
    else if (changed)
        log_warn("dns", "answering SERVFAIL: stale %.1f s > dns.stale.max %u s", s,
                 r->o.stale_max_s);
    return became;
}

static void finish_update(readiness_t *r, bool became)
{
    if (became && r->o.on_ready)
        r->o.on_ready(r->o.on_ready_arg);
}

void readiness_observe(readiness_t *r, const readiness_obs_t *o)
{
    if (o->current_ms > atomic_load(&r->current_ms))
        atomic_store(&r->current_ms, o->current_ms);
    pthread_mutex_lock(&r->mu);
    r->last = *o;
    r->observed = true;
    bool became = update_locked(r, o->now_ms);
    pthread_mutex_unlock(&r->mu);
    finish_update(r, became);
}

void readiness_zones_loaded(readiness_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->zones_loaded = true;
    bool became = update_locked(r, clock_now_ms());
    pthread_mutex_unlock(&r->mu);
    finish_update(r, became);
}

bool readiness_is_ready(const readiness_t *r) { return atomic_load(&r->ready); }
bool readiness_answering(const readiness_t *r) { return atomic_load(&r->answering); }
const atomic_bool *readiness_answering_flag(const readiness_t *r) { return &r->answering; }

double readiness_stale_seconds(const readiness_t *r)
{
    return (double)stale_ms(r, clock_now_ms()) / 1000.0;
}

/* Under mu: why the node is not ready yet. */
static size_t not_ready_reason(const readiness_t *r, char *buf, size_t cap)
{
    const readiness_obs_t *o = &r->last;
    if (!r->observed)
        return (size_t)snprintf(buf, cap, "starting");
    if (!o->target_known)
        return (size_t)snprintf(buf, cap, "waiting for a leader");
    if (o->applied < o->target)
        return (size_t)snprintf(buf, cap, "%s: applied %llu of %llu",
                                o->had_data ? "replaying the data dir" : "catching up",
                                (unsigned long long)o->applied, (unsigned long long)o->target);
    return (size_t)snprintf(buf, cap, "loading this node's zone files");
}

size_t readiness_reason(const readiness_t *r, char *buf, size_t cap)
{
    if (cap == 0)
        return 0;
    uint64_t now = clock_now_ms();
    readiness_t *m = (readiness_t *)r; /* the mutex only */
    pthread_mutex_lock(&m->mu);
    size_t n;
    if (!atomic_load(&r->ready))
        n = not_ready_reason(r, buf, cap);
    else if (past_stale_max(r, now))
        n = (size_t)snprintf(buf, cap, "stale %.1f s > dns.stale.max %u s",
                             (double)stale_ms(r, now) / 1000.0, r->o.stale_max_s);
    else
        n = (size_t)snprintf(buf, cap, "ready");
    pthread_mutex_unlock(&m->mu);
    return n < cap ? n : cap - 1;
}
