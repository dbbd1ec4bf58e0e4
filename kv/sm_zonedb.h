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
/* An sm_zone_part_fn: publishes `zone` as an index built only from `part`
 * (the records at the names UPDATEs changed since the last full index,
 * and at their ancestors) over the full index published last
 * (zonedb_index_build_over), when that one's serial is base_serial (else it
 * is not the version the part is relative to). 0, or -1 when there is no such index or on
 * allocation failure: then nothing is published and the caller publishes
 * the zone in full. */
int sm_zonedb_publish_part(void *arg, const uint8_t *origin, const zone_t *zone,
                           const zone_t *part, uint32_t base_serial);

#endif
