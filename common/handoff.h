/* common/handoff.h — a lock-free hand-off list: any number of threads push
 * items, one thread takes them all at once.
 *
 * Why: a thread that hands work or answers to an event loop should not
 * wake it once per item, nor meet it on a mutex (a contended mutex costs a
 * futex wake per hand-off, the cost perf showed for thread-per-connection
 * admin). handoff_push says when the list was empty, so the pusher wakes
 * the consumer (an eventfd write) only for the first item of a burst; the
 * consumer takes the whole burst with one atomic exchange.
 *
 * It is a Treiber stack whose consumer only ever takes everything, so the
 * ABA problem of a stack that pops single items cannot arise. Items embed a
 * handoff_link_t; the list owns nothing. */
#ifndef RAFT_HANDOFF_H
#define RAFT_HANDOFF_H

#include <stdatomic.h>
#include <stdbool.h>

typedef struct handoff_link {
    struct handoff_link *next;
} handoff_link_t;

typedef struct handoff {
    _Atomic(handoff_link_t *) head;
} handoff_t;

#define HANDOFF_INIT { NULL }

/* Any thread. True when the list was empty before: wake the consumer. */
bool handoff_push(handoff_t *h, handoff_link_t *item);
/* The consumer: every item pushed so far, oldest first (NULL if none). */
handoff_link_t *handoff_take_all(handoff_t *h);

#endif
