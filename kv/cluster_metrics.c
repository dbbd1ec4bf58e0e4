/* kv/cluster_metrics.c — what the replicated service tells /metrics and
 * /ready (metrics/httpd.h): the node's Raft families (raft/node.h), the
 * zones served (records and SOA serial per zone, from the zone database
 * DNS answers from) and this node's zone file loads; and a readiness
 * answer from what the cluster knows today (the loader went through every
 * zone file once). */
#include "kv/cluster_int.h"

#include <stdio.h>

#include "common/promtext.h"
#include "zone/db.h"
#include "zone/name.h"

/* The zones DNS answers from now, read under the RCU read lock. The
 * calling thread is registered as a reader for this call only (a scrape
 * is rare; the HTTP thread is no DNS worker). */
static void write_zones(cluster_t *c, bytebuf_t *b)
{
    static const char *const rr = "dnsraft_zone_records", *const serial = "dnsraft_zone_serial";
    bytebuf_t serials = { 0 };
    zonedb_reader_register();
    zonedb_read_lock();
    const zonedb_t *db = zonedb_current(c->o.zonedb);
    size_t n = db ? zonedb_zone_count(db) : 0;
    promtext_family(b, "dnsraft_zones", "Zones this node serves.", PROM_GAUGE);
    promtext_sample_u64(b, "dnsraft_zones", NULL, n);
    promtext_family(b, rr, "Resource records in the zone as served.", PROM_GAUGE);
    promtext_family(&serials, serial, "The SOA serial of the zone as served.", PROM_GAUGE);
    for (size_t i = 0; i < n; i++) {
        const zonedb_index_t *zi = zonedb_zone_at(db, i);
        char origin[NAME_MAX_TEXT], l[NAME_MAX_TEXT * 2 + 16] = "";
        name_to_text(zonedb_index_origin(zi), origin, sizeof origin);
        promtext_label(l, sizeof l, "zone", origin);
        promtext_sample_u64(b, rr, l, zonedb_index_rr_count(zi));
        promtext_sample_u64(&serials, serial, l, zonedb_index_serial(zi));
    }
    zonedb_read_unlock();
    zonedb_reader_unregister();
    if (!serials.failed)
        bytebuf_put(b, bytebuf_head(&serials), serials.len);
    else
        b->failed = true;
    bytebuf_free(&serials);
}

int cluster_write_metrics(cluster_t *c, bytebuf_t *b)
{
    write_zones(c, b);
    promtext_family(b, "dnsraft_zone_file_loads_total",
                    "This node's zone files replicated (at start and on reload).", PROM_COUNTER);
    promtext_sample_u64(b, "dnsraft_zone_file_loads_total", NULL, prom_get(&c->zone_loads));
    promtext_family(b, "dnsraft_zone_file_load_errors_total",
                    "This node's zone files that did not parse or that the cluster refused.",
                    PROM_COUNTER);
    promtext_sample_u64(b, "dnsraft_zone_file_load_errors_total", NULL,
                        prom_get(&c->zone_load_errors));
    return node_write_metrics(c->node, b);
}

size_t cluster_loader_activity(cluster_t *c, char *buf, size_t cap)
{
    pthread_mutex_lock(&c->mu);
    const char *doing = c->loader_doing, *file = c->loader_file;
    int n = doing && file ? snprintf(buf, cap, "zone file %s: %s", file, doing) : 0;
    pthread_mutex_unlock(&c->mu);
    return n > 0 ? (size_t)n : 0;
}
