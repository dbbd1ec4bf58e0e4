/* bench/raft-core-bench.c — how fast the Raft core alone (no disk, no
 * network) commits 100-byte proposals in a 3-node in-process cluster, and
 * how many allocations each proposal costs in steady state.
 *
 * Not built by the Makefile. Build and run from the repository root:
 *
 *   make build/libraftcore.a
 *   cc -std=c11 -D_GNU_SOURCE -O2 -I. -o build/raft-core-bench \
 *      bench/raft-core-bench.c build/libraftcore.a \
 *      -Wl,--wrap=malloc -Wl,--wrap=realloc
 *   build/raft-core-bench [PROPOSALS [BATCH]]
 *
 * Every BATCH proposals (default 8) the messages are delivered, so the
 * leader batches entries into AppendEntries like under load. The
 * allocation count includes this harness's own message copies
 * (raft_msg_clone: one entry array plus one copy per entry data for each
 * append); the core itself copies each entry's data once per node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raft/core/raft.h"

void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);

static long allocations;

void *__wrap_malloc(size_t n)
{
    allocations++;
    return __real_malloc(n);
}

void *__wrap_realloc(void *p, size_t n)
{
    allocations++;
    return __real_realloc(p, n);
}

#define NODES 3

static raft_t *cores[NODES + 1];
static raft_msg_t *queue;
static size_t n_queue, cap_queue;

static void enqueue(const raft_msg_t *m)
{
    if (n_queue == cap_queue) {
        cap_queue = cap_queue ? cap_queue * 2 : 1024;
        queue = realloc(queue, cap_queue * sizeof(*queue));
        if (!queue)
            abort();
    }
    if (raft_msg_clone(m, &queue[n_queue]) == 0)
        n_queue++;
}

/* The Ready contract without a disk: everything is "durable" at once. */
static void flush(raft_id_t id)
{
    while (raft_has_ready(cores[id])) {
        raft_ready_t rd;
        raft_ready(cores[id], &rd);
        for (size_t i = 0; i < rd.n_msgs; i++)
            enqueue(&rd.msgs[i]);
        raft_advance(cores[id], &rd);
    }
}

static void deliver(void)
{
    while (n_queue > 0) {
        size_t n = n_queue;
        raft_msg_t *batch = malloc(n * sizeof(*batch));
        if (!batch)
            abort();
        memcpy(batch, queue, n * sizeof(*batch));
        n_queue = 0;
        for (size_t i = 0; i < n; i++) {
            raft_step(cores[batch[i].to], &batch[i]);
            raft_msg_free(&batch[i]);
            flush(batch[i].to);
        }
        free(batch);
    }
}

int main(int argc, char **argv)
{
    long proposals = argc > 1 ? atol(argv[1]) : 200000;
    long batch = argc > 2 ? atol(argv[2]) : 8;
    if (proposals <= 0 || batch <= 0) {
        fprintf(stderr, "usage: %s [PROPOSALS [BATCH]]\n", argv[0]);
        return 2;
    }
    for (raft_id_t id = 1; id <= NODES; id++) {
        raft_options_t o;
        raft_options_init(&o);
        o.id = id;
        o.seed = id;
        for (raft_id_t v = 1; v <= NODES; v++)
            o.bootstrap.voters[o.bootstrap.n_voters++] = v;
        cores[id] = raft_new(&o, NULL, NULL);
        if (!cores[id])
            return 1;
    }
    while (raft_role(cores[1]) != RAFT_LEADER) {
        raft_tick(cores[1]);
        flush(1);
        deliver();
    }
    char data[100];
    memset(data, 'x', sizeof(data));
    for (int i = 0; i < 1000; i++) {  /* warm up: buffers reach size */
        raft_propose(cores[1], data, sizeof(data), NULL);
        flush(1);
        deliver();
    }
    long before = allocations;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < proposals; i++) {
        if (raft_propose(cores[1], data, sizeof(data), NULL) != 0)
            return 1;
        flush(1);
        if (i % batch == batch - 1)
            deliver();
        if (i % 10000 == 9999)  /* keep the logs short, as the runtime does */
            for (raft_id_t id = 1; id <= NODES; id++)
                raft_compact(cores[id], raft_applied(cores[id]), "s", 1);
    }
    deliver();
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%ld proposals of 100 bytes, delivery every %ld: %.0f commits/s, "
           "%.2f allocations per proposal (harness copies included)\n",
           proposals, batch, (double)proposals / s,
           (double)(allocations - before) / (double)proposals);
    for (raft_id_t id = 1; id <= NODES; id++)
        raft_free(cores[id]);
    free(queue);
    return 0;
}
