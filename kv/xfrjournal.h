/* kv/xfrjournal.h — IXFR from the replicated journal: implements
 * dns/server.h's journal_diff over the state machine's per-zone journals
 * (kv/statemachine.h sm_zone_journal_with), condensed by zone/journal.h.
 * Every node keeps the same journal (it is built from applied entries and
 * travels in snapshots), so any node serves the same differences.
 *
 * The DNS server starts before the cluster, so the state machine is
 * attached later; until then (and after detach) every IXFR is answered in
 * full (ZJ_NONE). Thread-safe: any number of DNS threads call in at once. */
#ifndef KV_XFRJOURNAL_H
#define KV_XFRJOURNAL_H

#include <stdint.h>

#include "kv/statemachine.h"
#include "zone/update.h"

typedef struct kv_xfrjournal kv_xfrjournal_t;

kv_xfrjournal_t *kv_xfrjournal_new(void);
void kv_xfrjournal_free(kv_xfrjournal_t *x); /* after detach; NULL is fine */
void kv_xfrjournal_attach(kv_xfrjournal_t *x, sm_t *sm);
/* Waits for calls in progress; no call touches the state machine after. */
void kv_xfrjournal_detach(kv_xfrjournal_t *x);

/* dns_journal_diff_fn, with arg a kv_xfrjournal_t. */
int kv_xfrjournal_diff(void *arg, const uint8_t *origin, uint32_t serial,
                       struct zone_changeset *out);

#endif
