/* raft/node_metrics.c — the node's Prometheus families (dnsraft_raft_*):
 * the status snapshot the Raft thread fills (node_status: role, term,
 * indexes, per-peer progress) and the counters it keeps in struct node
 * (leader changes, proposals, WAL fsync and snapshot durations). Names
 * follow etcd's etcd_server_* / etcd_disk_* where one exists. */
#include "raft/node_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/promtext.h"

static void gauge(bytebuf_t *b, const char *name, const char *help, uint64_t v)
{
    promtext_family(b, name, help, PROM_GAUGE);
    promtext_sample_u64(b, name, NULL, v);
}

static void counter(bytebuf_t *b, const char *name, const char *help, const prom_counter_t *c)
{
    promtext_family(b, name, help, PROM_COUNTER);
    promtext_sample_u64(b, name, NULL, prom_get(c));
}

static void write_status(bytebuf_t *b, const node_status_info_t *s)
{
    gauge(b, "dnsraft_raft_has_leader", "1 if this node knows a leader, else 0.",
          s->leader_name[0] != '\0');
    gauge(b, "dnsraft_raft_is_leader", "1 if this node is the leader, else 0.",
          s->role == RAFT_LEADER);
    gauge(b, "dnsraft_raft_term", "The current Raft term.", s->term);
    gauge(b, "dnsraft_raft_commit_index", "The highest log index known committed.", s->commit);
    gauge(b, "dnsraft_raft_applied_index", "The highest log index applied to the zones.",
          s->applied);
    gauge(b, "dnsraft_raft_last_index", "The last index in this node's log.", s->last_index);
    gauge(b, "dnsraft_raft_snapshot_index", "The last index the newest snapshot covers.",
          s->snapshot_index);
}

/* Per peer, on the leader only (followers do not track replication). */
static void write_peers(bytebuf_t *b, const node_status_info_t *s)
{
    if (s->role != RAFT_LEADER)
        return;
    static const struct { const char *name, *help; } fam[] = {
        { "dnsraft_raft_peer_match_index", "The highest log index known replicated on the peer." },
        { "dnsraft_raft_peer_lag_entries", "Log entries the peer is behind the leader's last index." },
        { "dnsraft_raft_peer_last_contact_seconds",
          "Seconds since the leader last heard from the peer (absent: never)." },
        { "dnsraft_raft_peer_voter", "1 if the peer votes, 0 if it is a learner." },
    };
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        promtext_family(b, fam[f].name, fam[f].help, PROM_GAUGE);
        for (size_t i = 0; i < s->n_peers; i++) {
            const node_peer_status_t *p = &s->peers[i];
            if (p->self)
                continue;
            char l[128] = "";
            promtext_label(l, sizeof l, "peer", p->name[0] ? p->name : "?");
            if (f == 0)
                promtext_sample_u64(b, fam[f].name, l, p->match);
            else if (f == 1)
                promtext_sample_u64(b, fam[f].name, l,
                                    s->last_index > p->match ? s->last_index - p->match : 0);
            else if (f == 2 && p->last_contact_ms >= 0)
                promtext_sample_f64(b, fam[f].name, l, (double)p->last_contact_ms / 1000.0);
            else if (f == 3)
                promtext_sample_u64(b, fam[f].name, l, p->voter);
        }
    }
}

static void write_counters(node_t *n, bytebuf_t *b)
{
    counter(b, "dnsraft_raft_leader_changes_seen_total",
            "Times this node saw a new leader.", &n->metrics.leader_changes);
    counter(b, "dnsraft_raft_proposals_committed_total",
            "Proposals submitted on this node that were applied.", &n->metrics.proposals_committed);
    counter(b, "dnsraft_raft_proposals_failed_total",
            "Proposals submitted on this node that failed (no leader, timeout, lost, ...).",
            &n->metrics.proposals_failed);
    uint64_t taken = prom_get(&n->metrics.proposals_taken);
    uint64_t done = prom_get(&n->metrics.proposals_committed) +
                    prom_get(&n->metrics.proposals_failed);
    gauge(b, "dnsraft_raft_proposals_pending", "Proposals submitted on this node not yet answered.",
          taken > done ? taken - done : 0);
    promtext_family(b, "dnsraft_raft_wal_fsync_duration_seconds",
                    "Time the write-ahead log's fsync took.", PROM_HISTOGRAM);
    promtext_duration_hist(b, "dnsraft_raft_wal_fsync_duration_seconds", NULL, &n->disk.fsync);
    counter(b, "dnsraft_raft_snapshots_total", "Snapshots of the zones this node took.",
            &n->metrics.snapshots);
    promtext_family(b, "dnsraft_raft_snapshot_duration_seconds",
                    "Time taking and saving a snapshot took.", PROM_HISTOGRAM);
    promtext_duration_hist(b, "dnsraft_raft_snapshot_duration_seconds", NULL,
                           &n->metrics.snapshot_duration);
    counter(b, "dnsraft_raft_snapshots_installed_total",
            "Snapshots received from the leader and installed.", &n->metrics.snapshots_installed);
}

int node_write_metrics(node_t *n, bytebuf_t *b)
{
    write_counters(n, b);
    node_status_info_t *s = malloc(sizeof *s);
    if (s == NULL || node_status(n, s) != NODE_OK) {
        free(s);
        return -1;
    }
    write_status(b, s);
    write_peers(b, s);
    free(s);
    return 0;
}
