/* common/handoff.c — lock-free multi-producer, single-consumer hand-off (see
 * handoff.h). Release on push and acquire on take make everything a
 * producer wrote into an item before pushing it visible to the consumer. */
#include "common/handoff.h"

#include <stddef.h>

bool handoff_push(handoff_t *h, handoff_link_t *item)
{
    handoff_link_t *head = atomic_load_explicit(&h->head, memory_order_relaxed);
    do {
        item->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&h->head, &head, item, memory_order_release,
                                                    memory_order_relaxed));
    return head == NULL;
}

handoff_link_t *handoff_take_all(handoff_t *h)
{
    handoff_link_t *newest = atomic_exchange_explicit(&h->head, NULL, memory_order_acquire);
    /* The stack holds them newest first; reverse into arrival order. */
    handoff_link_t *oldest = NULL;
    while (newest) {
        handoff_link_t *next = newest->next;
        newest->next = oldest;
        oldest = newest;
        newest = next;
    }
    return oldest;
}
