/* kv/sm_zonedb.c — the state machine -> zone database bridge
 * (kv/sm_zonedb.h). Indexing happens here on the apply thread; readers keep
 * answering from the previous version meanwhile. A failure leaves DNS
 * serving the previous version of that zone, which is logged loudly: the
 * replicated state itself is unaffected and the next replace retries. */
#include "kv/sm_zonedb.h"

#include "common/log.h"
#include "zone/db.h"

void sm_zonedb_publish(void *arg, const uint8_t *origin, const zone_t *zone)
{
    zonedb_handle_t *h = arg;
    char text[NAME_MAX_TEXT];
    name_to_text(origin, text, sizeof text);
    if (!zone) {
        if (zonedb_handle_remove_zone(h, origin) < 0)
            log_error("kv", "zone %s: out of memory removing it from the DNS view", text);
        return;
    }
    char err[ZONE_ERR_MAX] = "";
    zonedb_index_t *zi = zonedb_index_build(zone, err);
    if (!zi) {
        log_error("kv", "zone %s: cannot index it for DNS, still serving the old version: %s",
                  text, err[0] ? err : "out of memory");
        return;
    }
    if (zonedb_handle_put_zone(h, zi) < 0)
        log_error("kv", "zone %s: out of memory publishing it, still serving the old version", text);
}

int sm_zonedb_publish_part(void *arg, const uint8_t *origin, const zone_t *zone,
                           const zone_t *part, uint32_t base_serial)
{
    zonedb_handle_t *h = arg;
    zonedb_index_t *cur = zonedb_handle_get_zone(h, origin);
    if (!cur || zonedb_index_serial(zonedb_index_base(cur)) != base_serial) {
        zonedb_index_unref(cur);
        return -1;
    }
    char err[ZONE_ERR_MAX] = "";
    zonedb_index_t *zi = zonedb_index_build_over(cur, part, err);
    zonedb_index_unref(cur);
    if (!zi || zonedb_index_serial(zi) != zone->serial) {
        zonedb_index_unref(zi);
        return -1;
    }
    if (zonedb_handle_put_zone(h, zi) < 0)
        return -1;
    return 0;
}
