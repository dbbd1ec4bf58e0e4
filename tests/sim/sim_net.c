/* tests/sim/sim_net.c — packets in flight kept in a binary min-heap ordered by
 * delivery tick, then by a random number drawn at send time: that random
 * tie-break is what reorders messages that are due in the same tick. */
#include "tests/sim/sim_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_net_init(struct sim_net *net, int nodes, struct sim_rng *rng,
                  sim_payload_free_fn free_fn, sim_payload_clone_fn clone_fn)
{
    memset(net, 0, sizeof *net);
    net->nodes = nodes;
    net->rng = rng;
    net->free_payload = free_fn;
    net->clone_payload = clone_fn;
    sim_net_heal(net);
}

void sim_net_destroy(struct sim_net *net)
{
    for (size_t i = 0; i < net->len; i++)
        net->free_payload(net->heap[i].payload);
    free(net->heap);
    net->heap = NULL;
    net->len = net->cap = 0;
}

static bool packet_before(const struct sim_packet *a, const struct sim_packet *b)
{
    if (a->deliver_at != b->deliver_at)
        return a->deliver_at < b->deliver_at;
    return a->order < b->order;
}

static void swap_packets(struct sim_packet *a, struct sim_packet *b)
{
    struct sim_packet t = *a;
    *a = *b;
    *b = t;
}

static void heap_push(struct sim_net *net, struct sim_packet p)
{
    if (net->len == net->cap) {
        size_t cap = net->cap ? net->cap * 2 : 256;
        struct sim_packet *h = realloc(net->heap, cap * sizeof *h);
        if (!h) {
            fprintf(stderr, "raft-sim: out of memory in the network\n");
            abort();
        }
        net->heap = h;
        net->cap = cap;
    }
    size_t i = net->len++;
    net->heap[i] = p;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!packet_before(&net->heap[i], &net->heap[parent]))
            break;
        swap_packets(&net->heap[i], &net->heap[parent]);
        i = parent;
    }
}

static struct sim_packet heap_pop(struct sim_net *net)
{
    struct sim_packet top = net->heap[0];
    net->heap[0] = net->heap[--net->len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < net->len && packet_before(&net->heap[l], &net->heap[m]))
            m = l;
        if (r < net->len && packet_before(&net->heap[r], &net->heap[m]))
            m = r;
        if (m == i)
            break;
        swap_packets(&net->heap[i], &net->heap[m]);
        i = m;
    }
    return top;
}

static uint32_t draw_delay(struct sim_net *net)
{
    return sim_rng_range(net->rng, net->faults.delay_min, net->faults.delay_max);
}

static void queue_copy(struct sim_net *net, uint64_t now, int from, int to,
                       void *payload, uint32_t delay)
{
    struct sim_packet p = {
        .deliver_at = now + delay,
        .order = net->fifo ? net->sent++ : sim_rng_next(net->rng),
        .from = from,
        .to = to,
        .payload = payload,
    };
    heap_push(net, p);
}

enum sim_send_outcome sim_net_send(struct sim_net *net, uint64_t now, int from,
                                   int to, const void *payload, uint32_t *delay_out)
{
    *delay_out = 0;
    if (!sim_net_link_up(net, from, to))
        return SIM_CUT;
    if (net->faults.drop_ppm && sim_rng_chance(net->rng, net->faults.drop_ppm))
        return SIM_DROPPED;
    bool twice = net->faults.dup_ppm && sim_rng_chance(net->rng, net->faults.dup_ppm);
    if (twice)
        queue_copy(net, now, from, to, net->clone_payload(payload), draw_delay(net));
    *delay_out = draw_delay(net);
    queue_copy(net, now, from, to, net->clone_payload(payload), *delay_out);
    return twice ? SIM_SENT_TWICE : SIM_SENT;
}

bool sim_net_pop_due(struct sim_net *net, uint64_t now, struct sim_packet *out)
{
    if (net->len == 0 || net->heap[0].deliver_at > now)
        return false;
    *out = heap_pop(net);
    return true;
}

void sim_net_requeue(struct sim_net *net, const struct sim_packet *p)
{
    heap_push(net, *p);
}

bool sim_net_link_up(const struct sim_net *net, int from, int to)
{
    return net->link[from][to];
}

void sim_net_set_link(struct sim_net *net, int from, int to, bool up)
{
    net->link[from][to] = up;
}

void sim_net_heal(struct sim_net *net)
{
    for (int a = 0; a < SIM_MAX_NODES; a++)
        for (int b = 0; b < SIM_MAX_NODES; b++)
            net->link[a][b] = true;
}

void sim_net_isolate(struct sim_net *net, int node)
{
    for (int other = 0; other < net->nodes; other++) {
        if (other == node)
            continue;
        net->link[node][other] = false;
        net->link[other][node] = false;
    }
}

size_t sim_net_in_flight(const struct sim_net *net)
{
    return net->len;
}
