/* kv/sm_zonedb.h — connects the state machine's zone-changed callback to the
 * zone database DNS workers read (zone/db.h): each published zone is indexed
 * and swapped in with RCU, each deleted zone removed, so queries see either
 * the old or the new zone, never a mix.
 *
 *     zonedb_handle_t *db = zonedb_handle_new();
 *     sm_t *sm = sm_new(sm_zonedb_publish, db);
 *
 * The handle is borrowed: it must outlive the state machine's last apply. */
#ifndef KV_SM_ZONEDB_H
#define KV_SM_ZONEDB_H

#include <stdint.h>

#include "zone/zone.h"

/* An sm_zone_changed_fn; `arg` is a zonedb_handle_t *. */
void sm_zonedb_publish(void *arg, const uint8_t *origin, const zone_t *zone);

#endif
