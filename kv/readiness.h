/* kv/readiness.h — whether this node may answer DNS, and how stale its copy
 * of the zones is (issue #16). Owns the readiness latch, the staleness
 * clock and the optional stale policy; it knows nothing of sockets or Raft
 * internals: the Raft thread feeds it observations (readiness_observe, from
 * raft/node.h's health hook), the zone loader says when its first pass is
 * done, and every other thread only reads.
 *
 * Ready (a latch: once ready, a node stays ready):
 *   - a node that started on a data dir holding a commit is ready once it has
 *     applied what it had committed before the restart (the replay, a few
 *     ms), whatever the leader says: it serves its copy at once, as Knot
 *     and NSD serve their zone files, and reports how stale it is;
 *   - a node that started empty (first start, join) is ready once it has
 *     applied everything the leader had committed when it first heard
 *     from it (raft/node.h: the catch-up target), and the zone loader's
 *     first pass is done (each of its own zone files replicated and
 *     applied here, or refused with an error logged).
 * Until then DNS answers SERVFAIL (docs/operations.md, *Readiness*, says
 * why not silence and never REFUSED).
 *
 * Stale: stale_seconds is 0 while the node knows a current leader (it is
 * the leader and heard a quorum within the election timeout, or it heard
 * its leader within the election timeout); otherwise the time since that
 * last contact (from process start when there never was one). With the
 * stale policy READINESS_STALE_SERVFAIL, DNS answers SERVFAIL while
 * stale_seconds > stale_max_s.
 *
 * Threads: readiness_observe and readiness_zones_loaded take a mutex (Raft
 * thread, loader thread, once per tick at most); readers take no lock. The
 * DNS workers read one atomic flag (readiness_answering_flag) per batch.
 * on_ready runs once, on the thread whose observation made the node ready,
 * outside the mutex: it must not block (sd_notify("READY=1") is fine). */
#ifndef KV_READINESS_H
#define KV_READINESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum readiness_stale_policy {
    READINESS_STALE_SERVE = 0,    /* keep answering from the local copy (default) */
    READINESS_STALE_SERVFAIL = 1, /* SERVFAIL once stale longer than stale_max_s */
};

typedef void (*readiness_ready_fn)(void *arg);

typedef struct readiness_options {
    enum readiness_stale_policy stale_policy;
    unsigned stale_max_s;        /* with READINESS_STALE_SERVFAIL */
    unsigned election_ms;        /* contact within this counts as current; 0: 150 */
    readiness_ready_fn on_ready; /* or NULL; called once (see above) */
    void *on_ready_arg;
} readiness_options_t;

/* One observation by the Raft thread (raft/node.h node_health_t, copied
 * so that this module does not depend on raft/). Times are clock_now_ms. */
typedef struct readiness_obs {
    uint64_t now_ms;
    bool had_data;         /* the data dir held state at start */
    bool target_known;     /* catch-up target learnt */
    uint64_t target;       /* index to apply before being ready */
    uint64_t applied;
    uint64_t current_ms;   /* last moment a current leader was known (0: never) */
} readiness_obs_t;

typedef struct readiness readiness_t;

/* NULL when out of memory. start_ms: the process start (clock_now_ms). */
readiness_t *readiness_new(const readiness_options_t *o, uint64_t start_ms);
void readiness_free(readiness_t *r);

/* The Raft thread's view, every tick and after every batch. */
void readiness_observe(readiness_t *r, const readiness_obs_t *o);
/* The zone loader's first pass is done (every file replicated or refused). */
void readiness_zones_loaded(readiness_t *r);

/* Readers (any thread, no lock). */
bool readiness_is_ready(const readiness_t *r);
/* Ready and not past the stale policy: DNS answers from the zones. */
bool readiness_answering(const readiness_t *r);
/* The flag behind readiness_answering, for dns/server.h (a load per batch). */
const atomic_bool *readiness_answering_flag(const readiness_t *r);
/* Seconds (ms resolution) since the last contact with a current leader;
 * 0 while in contact. */
double readiness_stale_seconds(const readiness_t *r);
/* One line, no newline: "ready", or what it waits for: "starting",
 * "waiting for a leader", "catching up: applied 12 of 40", "replaying the
 * data dir: applied 12 of 40", "loading this node's zone files", "stale
 * 12.3 s > dns.stale.max 10 s". Returns the length written (at most
 * cap - 1; the text is cut to fit). */
size_t readiness_reason(const readiness_t *r, char *buf, size_t cap);

/* Pure decision, for tests: ready given these facts? */
bool readiness_decide(const readiness_obs_t *o, bool zones_loaded);
/* Pure: stale milliseconds at now, given the last contact and the window. */
uint64_t readiness_stale_ms_at(uint64_t now_ms, uint64_t current_ms, uint64_t start_ms,
                               unsigned election_ms);

#endif
