/* kv/dnsupdate.h — the replicated side of the DNS server's UPDATE path:
 * implements dns/server.h's submit_update by encoding the UPDATE as a
 * KV_CMD_UPDATE command (kv/command.h) and proposing it through the Raft
 * node (node_propose_async; a follower forwards it to the leader). `done`
 * gets the rcode the state machine computed (kv_result_update_rcode), once
 * the entry is applied on this node; SERVFAIL when it is not committed
 * within the timeout, or may have been applied but its outcome is unknown
 * (no client session: never proposed twice).
 *
 * The DNS server starts before the Raft node, so the node is attached
 * later; until then (and after kv_dnsupdate_detach) submissions fail and
 * the DNS side answers SERVFAIL. Thread-safe. */
#ifndef KV_DNSUPDATE_H
#define KV_DNSUPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "dns/server.h"
#include "raft/node.h"

typedef struct kv_dnsupdate kv_dnsupdate_t;

kv_dnsupdate_t *kv_dnsupdate_new(void);
/* Frees; after kv_dnsupdate_detach and once every `done` has run. */
void kv_dnsupdate_free(kv_dnsupdate_t *u);
/* Submissions go to node from now on. */
void kv_dnsupdate_attach(kv_dnsupdate_t *u, node_t *node);
/* No more submissions to the node (call before the node stops; requests
 * already submitted still end with `done`). */
void kv_dnsupdate_detach(kv_dnsupdate_t *u);

/* dns_submit_update_fn, with arg a kv_dnsupdate_t. */
int kv_dnsupdate_submit(void *arg, const uint8_t *msg, size_t len, const uint8_t *key_name_wire,
                        uint64_t timeout_ms, dns_update_done_fn done, void *ctx);

#endif
