/* kv/leadership.h — "does this node lead, with everything committed
 * applied?", for threads outside Raft that must act only on the leader
 * (the NOTIFY sender, dns/notify.h).
 *
 * A freshly elected leader may not have applied the entries its
 * predecessor committed (Raft paper §8: it knows what is committed only
 * once an entry of its own term commits). So for each new term it asks a
 * ReadIndex barrier (node_read_barrier_async, thesis §6.4); once that
 * comes back, the local state holds every change committed before the
 * term began, and kv_leadership_epoch answers the term.
 *
 * Ownership: main owns it; free it only after cluster_stop (a barrier's
 * callback may still run until then). kv_leadership_epoch is called by one
 * thread at a time. */
#ifndef KV_LEADERSHIP_H
#define KV_LEADERSHIP_H

#include <stdint.h>

struct node;
typedef struct kv_leadership kv_leadership_t;

kv_leadership_t *kv_leadership_new(struct node *n);
/* The term this node leads in once caught up; 0 otherwise (not leading,
 * or the barrier not back yet). Signature of notify_opts_t.leader_epoch. */
uint64_t kv_leadership_epoch(void *arg);
void kv_leadership_free(kv_leadership_t *l);

#endif
