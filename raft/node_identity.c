/* raft/node_identity.c — the data dir's identity and the cluster id's life
 * cycle on a node (node_identity.h): checked at start, drawn by the
 * founder, learnt from the log or a snapshot, enforced before any foreign
 * data is written. */
#include "raft/node_identity.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "raft/node_disk.h"

#define ANNOUNCE_RETRY_MS 1000
#define ASK_INTERVAL_MS 20
#define CLUSTER_FRAME_VERSION 1
#define CLUSTER_FRAME_ASK 1

enum {
    IDENTITY_PEER_UNCHECKED = 0, /* nothing heard since its connection opened */
    IDENTITY_PEER_SAME,          /* our cluster, or it does not know its own yet */
    IDENTITY_PEER_FOREIGN,       /* another cluster: its messages are refused */
};

static int save(node_identity_t *ni, char *err, size_t err_len)
{
    struct storage_error se = { 0 };
    if (identity_save(ni->dir, &ni->file, &se) != 0) {
        if (err)
            snprintf(err, err_len, "%s", se.msg);
        else
            log_error("raft", "cannot write the identity file: %s", se.msg);
        return -1;
    }
    return 0;
}

static int draw_cluster_id(node_identity_t *ni, char *err, size_t err_len)
{
    if (cluster_id_generate(ni->file.cluster) != 0) {
        snprintf(err, err_len, "%s: cannot draw a cluster id (RAND_bytes failed)", ni->dir);
        return -1;
    }
    ni->file.has_cluster = true;
    return 0;
}

int node_identity_open(node_identity_t *ni, const char *dir, const char *name, bool fresh,
                       bool founder, char *err, size_t err_len)
{
    memset(ni, 0, sizeof *ni);
    snprintf(ni->dir, sizeof ni->dir, "%s", dir);
    ni->founder = founder;
    struct storage_error se = { 0 };
    bool found = false;
    if (identity_load(dir, &ni->file, &found, &se) != 0) {
        snprintf(err, err_len, "%s", se.msg);
        return -1;
    }
    if (found) {
        if (strcmp(ni->file.name, name) != 0) {
            snprintf(err, err_len, "data dir %s belongs to node %s, not %s", dir, ni->file.name,
                     name);
            return -1;
        }
        return 0;
    }
    snprintf(ni->file.name, sizeof ni->file.name, "%s", name);
    /* The founder draws the cluster id when it founds the cluster, or when
     * it adopts a data dir from before identity files: either way the
     * replicated state holds none yet, and it will propose its own. */
    if (founder && draw_cluster_id(ni, err, err_len) != 0)
        return -1;
    if (save(ni, err, err_len) != 0)
        return -1;
    char text[CLUSTER_ID_TEXT];
    node_identity_cluster_text(ni, text);
    if (fresh)
        log_info("raft", "new data dir %s: node %s, cluster %s", dir, name, text);
    else
        log_warn("raft", "data dir %s had no identity file (made by an older version): adopted "
                 "it as node %s's, cluster %s", dir, name,
                 founder ? text : "not known yet (learnt from the founder)");
    return 0;
}

static bool same_cluster(const node_identity_t *ni, const uint8_t id[CLUSTER_ID_LEN])
{
    return !ni->file.has_cluster || memcmp(ni->file.cluster, id, CLUSTER_ID_LEN) == 0;
}

static void describe_conflict(const node_identity_t *ni, const uint8_t id[CLUSTER_ID_LEN],
                              const char *what, char *why, size_t len)
{
    char ours[CLUSTER_ID_TEXT], theirs[CLUSTER_ID_TEXT];
    cluster_id_text(ni->file.cluster, ours);
    cluster_id_text(id, theirs);
    snprintf(why, len, "refusing %s of cluster %s: data dir %s belongs to cluster %s", what,
             theirs, ni->dir, ours);
}

int node_identity_check(const node_identity_t *ni, const raft_ready_t *rd, char *why, size_t len)
{
    if (!ni->file.has_cluster)
        return 0;
    uint8_t id[CLUSTER_ID_LEN];
    if (rd->snapshot) {
        addrbook_t book;
        const uint8_t *fsm;
        size_t fsm_len;
        bool has = false;
        if (node_envelope_split_cluster(rd->snapshot->data, rd->snapshot->len, &book, &fsm,
                                        &fsm_len, &has, id) == 0 &&
            has && !same_cluster(ni, id)) {
            describe_conflict(ni, id, "a snapshot", why, len);
            return -1;
        }
    }
    for (size_t i = 0; i < rd->n_entries; i++) {
        const raft_entry_t *e = &rd->entries[i];
        if (e->type == RAFT_ENTRY_NORMAL && cluster_entry_decode(e->data, e->len, id) &&
            !same_cluster(ni, id)) {
            describe_conflict(ni, id, "log entries", why, len);
            return -1;
        }
    }
    return 0;
}

static void learn(node_identity_t *ni, const uint8_t id[CLUSTER_ID_LEN], const char *from)
{
    ni->replicated = true;
    if (ni->file.has_cluster)
        return;
    memcpy(ni->file.cluster, id, CLUSTER_ID_LEN);
    ni->file.has_cluster = true;
    char text[CLUSTER_ID_TEXT];
    cluster_id_text(id, text);
    if (save(ni, NULL, 0) == 0)
        log_info("raft", "learnt cluster id %s from %s; saved in %s/%s", text, from, ni->dir,
                 IDENTITY_FILE);
}

bool node_identity_apply(node_identity_t *ni, const raft_entry_t *e, bool *conflict)
{
    uint8_t id[CLUSTER_ID_LEN];
    *conflict = false;
    if (e->type != RAFT_ENTRY_NORMAL || !cluster_entry_decode(e->data, e->len, id))
        return false;
    if (!same_cluster(ni, id)) {
        *conflict = true;
        return true;
    }
    /* Only the founder proposes, always the same id: a second copy (a
     * retry whose first try committed after all) changes nothing. */
    learn(ni, id, "the log");
    return true;
}

bool node_identity_forward_ok(const node_identity_t *ni, const uint8_t *data, size_t len)
{
    uint8_t id[CLUSTER_ID_LEN];
    if (!cluster_entry_marked(data, len))
        return true;
    return cluster_entry_decode(data, len, id) && !ni->replicated && same_cluster(ni, id);
}

int node_identity_restore(node_identity_t *ni, bool has, const uint8_t id[CLUSTER_ID_LEN])
{
    if (!has)
        return 0;
    if (!same_cluster(ni, id))
        return -1;
    learn(ni, id, "a snapshot");
    return 0;
}

bool node_identity_should_announce(node_identity_t *ni, uint64_t now_ms,
                                   uint8_t entry[CLUSTER_ENTRY_LEN])
{
    if (!ni->founder || !ni->file.has_cluster || ni->replicated || ni->announcing ||
        now_ms < ni->next_announce_ms)
        return false;
    cluster_entry_encode(ni->file.cluster, entry);
    ni->announcing = true;
    return true;
}

void node_identity_announced(node_identity_t *ni, bool ok, uint64_t now_ms)
{
    ni->announcing = false;
    if (!ok)
        ni->next_announce_ms = now_ms + ANNOUNCE_RETRY_MS;
}

void node_identity_cluster_text(const node_identity_t *ni, char out[CLUSTER_ID_TEXT])
{
    if (ni->file.has_cluster)
        cluster_id_text(ni->file.cluster, out);
    else
        snprintf(out, CLUSTER_ID_TEXT, "none");
}

/* ---- peers: the cluster frame ---------------------------------------------- */

/* The slot of peer id, or a new one (a free slot, else the one heard from
 * least recently: a flood of forged ids only costs re-asking). */
static identity_peer_t *peer_slot(node_identity_t *ni, raft_id_t id)
{
    identity_peer_t *victim = &ni->peers[0];
    for (size_t i = 0; i < ADDRBOOK_MAX; i++) {
        identity_peer_t *p = &ni->peers[i];
        if (p->id == id)
            return p;
        if (victim->id != 0 && (p->id == 0 || p->seen_ms < victim->seen_ms))
            victim = p;
    }
    memset(victim, 0, sizeof *victim);
    victim->id = id;
    return victim;
}

bool node_identity_admit(node_identity_t *ni, raft_id_t from, uint64_t now_ms, bool *ask)
{
    *ask = false;
    if (!ni->file.has_cluster)
        return true; /* nothing to check against yet: we learn it from them */
    identity_peer_t *p = peer_slot(ni, from);
    if (p->state == IDENTITY_PEER_SAME)
        return true;
    if (p->state == IDENTITY_PEER_UNCHECKED && now_ms >= p->asked_ms + ASK_INTERVAL_MS) {
        p->asked_ms = now_ms;
        *ask = true;
    }
    return false;
}

bool node_identity_frames_due(node_identity_t *ni, uint64_t now_ms)
{
    if (now_ms < ni->next_frames_ms)
        return false;
    ni->next_frames_ms = now_ms + IDENTITY_FRAME_EVERY_MS;
    return true;
}

void node_identity_peer_reset(node_identity_t *ni, raft_id_t from)
{
    for (size_t i = 0; i < ADDRBOOK_MAX; i++)
        if (ni->peers[i].id == from)
            memset(&ni->peers[i], 0, sizeof ni->peers[i]);
}

size_t node_identity_frame(const node_identity_t *ni, uint8_t type, bool ask,
                           uint8_t out[CLUSTER_FRAME_LEN])
{
    out[0] = type;
    out[1] = CLUSTER_FRAME_VERSION;
    out[2] = ask ? CLUSTER_FRAME_ASK : 0;
    memset(out + 3, 0, CLUSTER_ID_LEN);
    if (ni->file.has_cluster)
        memcpy(out + 3, ni->file.cluster, CLUSTER_ID_LEN);
    return CLUSTER_FRAME_LEN;
}

void node_identity_on_frame(node_identity_t *ni, raft_id_t from, const char *who,
                            const uint8_t *body, size_t len, uint64_t now_ms, bool *answer)
{
    *answer = false;
    if (len != CLUSTER_FRAME_LEN || body[1] != CLUSTER_FRAME_VERSION ||
        (body[2] & ~CLUSTER_FRAME_ASK) != 0)
        return;
    *answer = (body[2] & CLUSTER_FRAME_ASK) != 0;
    const uint8_t *id = body + 3;
    identity_peer_t *p = peer_slot(ni, from);
    p->seen_ms = now_ms;
    static const uint8_t none[CLUSTER_ID_LEN];
    bool unknown = memcmp(id, none, CLUSTER_ID_LEN) == 0;
    if (unknown || same_cluster(ni, id)) {
        p->state = IDENTITY_PEER_SAME;
        return;
    }
    if (p->state != IDENTITY_PEER_FOREIGN) {
        char ours[CLUSTER_ID_TEXT], theirs[CLUSTER_ID_TEXT];
        cluster_id_text(ni->file.cluster, ours);
        cluster_id_text(id, theirs);
        log_error("raft", "peer %s belongs to cluster %s, this data dir (%s) to cluster %s: "
                  "refusing its messages", who, theirs, ni->dir, ours);
    }
    p->state = IDENTITY_PEER_FOREIGN;
}
