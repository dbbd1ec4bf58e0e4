/* dns/notify_sched.h — when to send which NOTIFY (RFC 1996), as a pure
 * state machine: no sockets, no threads, no clock of its own (every call
 * takes `now` in milliseconds), so tests drive it with a fake clock.
 *
 * One slot per (zone, target). The sender (dns/notify.c) tells it:
 *
 *  - the leadership epoch (notify_sched_set_epoch): nonzero while this node
 *    leads. Only the leader notifies (one sender, not N); when the epoch
 *    changes to a new nonzero value every target of every zone whose serial
 *    is known is notified again with the current serial, since the old
 *    leader may have died with NOTIFYs unacknowledged. Epoch 0 forgets
 *    everything outstanding.
 *  - each zone's current serial (notify_sched_zone_serial), as often as it
 *    likes: only a change schedules NOTIFYs, to every target of the zone.
 *  - responses that matched a slot and an id (notify_sched_ack).
 *
 * and asks it what to send now (notify_sched_take_due) and when to wake
 * up next (notify_sched_next_due).
 *
 * Rules:
 *  - At most one NOTIFY outstanding per slot. A change while one is
 *    outstanding is coalesced: the slot remembers the newest serial, which
 *    goes out at once after the acknowledgement of the older one, or else
 *    with the next transmission, due at most retry_ms after the last one
 *    and starting a fresh count of retransmissions (RFC 1996 §4.7 lets a
 *    primary skip the intermediate serials; the secondary transfers the
 *    newest anyway).
 *  - Retransmission (§3.6, §4.4) after retry_ms, doubling each time up to
 *    retry_max_ms, until a response with the same id arrives; after
 *    `retries` retransmissions without one, the slot gives up on that
 *    serial (counted, logged by the sender) until the next change.
 *  - Every transmission has a fresh id; a response to the previous
 *    transmission of the slot is still accepted (it may be late).
 *  - A response with an error rcode also ends the retransmissions (the
 *    secondary answered; repeating will not change its mind), counted as
 *    rejected.
 *
 * Ownership: the caller owns the notify_sched_t (notify_sched_new /
 * notify_sched_free). Not thread-safe: one thread drives it. */
#ifndef DNS_NOTIFY_SCHED_H
#define DNS_NOTIFY_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTIFY_RETRY_MS_DEFAULT 2000
#define NOTIFY_RETRY_MAX_MS_DEFAULT 60000 /* RFC 1996 §3.6's 60 s interval */
#define NOTIFY_RETRIES_DEFAULT 5          /* RFC 1996 §3.6 */

typedef struct notify_sched_opts {
    unsigned retry_ms;     /* first retransmission after this (0: default) */
    unsigned retry_max_ms; /* the longest wait between two (0: default) */
    unsigned retries;      /* retransmissions before giving up (0: default) */
    /* A fresh message id (random in production; tests count). */
    uint16_t (*new_id)(void *arg);
    void *id_arg;
} notify_sched_opts_t;

/* Counters since start, for metrics (notify_sched_counters). */
typedef struct notify_counters {
    uint64_t sent;      /* NOTIFY messages sent, retransmissions included */
    uint64_t retried;   /* of those, retransmissions */
    uint64_t acked;     /* NOERROR responses that matched an outstanding NOTIFY */
    uint64_t rejected;  /* matching responses with an error rcode */
    uint64_t given_up;  /* serials abandoned after the last retransmission */
    uint64_t coalesced; /* changes folded into an outstanding NOTIFY */
    uint64_t ignored;   /* responses that matched nothing (counted by the sender too) */
} notify_counters_t;

/* One NOTIFY to send now. */
typedef struct notify_send {
    size_t zone, target;
    uint32_t serial;
    uint16_t id;
    unsigned attempt; /* 1 for the first transmission */
} notify_send_t;

enum notify_ack_result {
    NOTIFY_ACK_NOMATCH = 0, /* no outstanding NOTIFY with that id: ignore */
    NOTIFY_ACK_DONE,        /* acknowledged; nothing newer to send */
    NOTIFY_ACK_NEWER,       /* acknowledged; the newer serial goes out now */
};

typedef struct notify_sched notify_sched_t;

/* targets[z] is the number of targets of zone z (z < n_zones). NULL on
 * allocation failure. */
notify_sched_t *notify_sched_new(const size_t *targets, size_t n_zones,
                                 const notify_sched_opts_t *opts);
void notify_sched_free(notify_sched_t *s);

void notify_sched_set_epoch(notify_sched_t *s, uint64_t epoch, uint64_t now);
void notify_sched_zone_serial(notify_sched_t *s, size_t zone, uint32_t serial, uint64_t now);
/* The next NOTIFY due at `now`: true and *out filled (the slot then waits
 * for its response), or false when nothing is due. Call until false.
 * Gives up on slots past their last retransmission on the way. */
bool notify_sched_take_due(notify_sched_t *s, uint64_t now, notify_send_t *out);
/* When take_due will next have something (UINT64_MAX: never, until a
 * change). */
uint64_t notify_sched_next_due(const notify_sched_t *s);
/* A response from target `target` of zone `zone` with this id and rcode. */
enum notify_ack_result notify_sched_ack(notify_sched_t *s, size_t zone, size_t target,
                                        uint16_t id, unsigned rcode, uint64_t now);
/* The serial an outstanding NOTIFY with this id carries (for the sender's
 * logs); false when none. */
bool notify_sched_outstanding(const notify_sched_t *s, size_t zone, size_t target, uint16_t id);
/* Counts a response that matched no slot (wrong source, garbage). */
void notify_sched_count_ignored(notify_sched_t *s);
notify_counters_t notify_sched_counters(const notify_sched_t *s);

#endif
