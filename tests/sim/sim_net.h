/* tests/sim/sim_net.h — the simulated network between the cores.
 *
 * Owns every message in flight. A message sent at tick t is delivered at
 * t + delay (delay drawn per message, so messages overtake one another), may
 * be dropped or duplicated, and is lost if its link is cut when it is sent or
 * when it arrives. Links are directed, so one-way (asymmetric) partitions are
 * a matter of cutting one direction. The payload is opaque here: the caller
 * passes clone and free functions; the network owns the copies it queues. */
#ifndef SIM_NET_H
#define SIM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/sim/sim_rng.h"

#define SIM_MAX_NODES 5

struct sim_net_faults {
    uint32_t drop_ppm;     /* chance per message to vanish, per million */
    uint32_t dup_ppm;      /* chance per message to arrive twice */
    uint32_t delay_min;    /* ticks; 0 = delivered in the next delivery round */
    uint32_t delay_max;
};

struct sim_packet {
    uint64_t deliver_at;
    uint64_t order;        /* random tie-break among packets due the same tick */
    int from, to;          /* node slots, 0..nodes-1 */
    void *payload;         /* owned by the packet until handed out */
};

typedef void (*sim_payload_free_fn)(void *payload);
typedef void *(*sim_payload_clone_fn)(const void *payload);

struct sim_net {
    int nodes;
    bool link[SIM_MAX_NODES][SIM_MAX_NODES]; /* link[a][b]: a can reach b */
    struct sim_net_faults faults;
    struct sim_packet *heap;                 /* min-heap on (deliver_at, order) */
    size_t len, cap;
    struct sim_rng *rng;                     /* borrowed from the run */
    sim_payload_free_fn free_payload;
    sim_payload_clone_fn clone_payload;
    /* Messages due the same tick arrive in the order sent, not shuffled
     * (raft-sim --script, so a transcript reads as a conversation). */
    bool fifo;
    uint64_t sent;
};

enum sim_send_outcome {
    SIM_SENT,          /* queued once */
    SIM_SENT_TWICE,    /* queued and duplicated */
    SIM_DROPPED,       /* lost to the drop rate */
    SIM_CUT,           /* link cut at send time */
};

void sim_net_init(struct sim_net *net, int nodes, struct sim_rng *rng,
                  sim_payload_free_fn free_fn, sim_payload_clone_fn clone_fn);
/* Frees every packet still in flight. */
void sim_net_destroy(struct sim_net *net);

/* Queues copies of payload (made with clone_payload, so nothing is copied
 * for a message that is lost at once). *delay_out receives the drawn delay
 * of the first copy. Aborts on out-of-memory. */
enum sim_send_outcome sim_net_send(struct sim_net *net, uint64_t now, int from,
                                   int to, const void *payload, uint32_t *delay_out);

/* Pops the next packet due at or before `now` into *out; false when none.
 * The caller owns out->payload afterwards (and must check the link itself:
 * sim_net_link_up tells whether the packet survives its arrival). */
bool sim_net_pop_due(struct sim_net *net, uint64_t now, struct sim_packet *out);

/* Puts back a packet popped by sim_net_pop_due (raft-sim --script holds
 * some back while delivering others); the network owns it again. */
void sim_net_requeue(struct sim_net *net, const struct sim_packet *p);

bool sim_net_link_up(const struct sim_net *net, int from, int to);
void sim_net_set_link(struct sim_net *net, int from, int to, bool up);
/* Restores every link. */
void sim_net_heal(struct sim_net *net);
/* Cuts every link into and out of node (both directions). */
void sim_net_isolate(struct sim_net *net, int node);
size_t sim_net_in_flight(const struct sim_net *net);

#endif
