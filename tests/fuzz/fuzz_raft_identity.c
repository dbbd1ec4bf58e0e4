/* tests/fuzz/fuzz_raft_identity.c — libFuzzer target for the data dir's
 * identity (raft/identity.h, raft/node_identity.h): the identity file
 * decoder, the cluster entry, the snapshot envelope's cluster trailer and
 * the cluster frame a peer sends, all bytes a node reads from disk or from
 * the network.
 *
 * The first input byte picks the decoder; the rest is its input. Besides
 * "no crash, no sanitizer report": an identity file the decoder accepts
 * re-encodes to exactly the same bytes; an accepted cluster entry or
 * trailer re-encodes to its input; a cluster frame never admits a peer
 * that said another cluster than ours. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "raft/identity.h"
#include "raft/node_disk.h"
#include "raft/node_identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

static void identity_file(const uint8_t *data, size_t size)
{
    struct identity id;
    size_t bad = 0;
    const char *why = NULL;
    if (identity_decode(data, size, &id, &bad, &why) != 0) {
        check(why != NULL && bad <= size + 4);
        return;
    }
    uint8_t out[IDENTITY_SIZE_MAX];
    size_t len = identity_encode(&id, out);
    check(len == size && memcmp(out, data, size) == 0);
}

static void cluster_entry(const uint8_t *data, size_t size)
{
    uint8_t id[CLUSTER_ID_LEN], out[CLUSTER_ENTRY_LEN];
    if (!cluster_entry_decode(data, size, id))
        return;
    check(cluster_entry_marked(data, size));
    cluster_entry_encode(id, out);
    check(size == CLUSTER_ENTRY_LEN && memcmp(out, data, size) == 0);
}

static void envelope(const uint8_t *data, size_t size)
{
    static addrbook_t book;
    const uint8_t *fsm;
    size_t fsm_len;
    bool has = false;
    uint8_t id[CLUSTER_ID_LEN];
    if (node_envelope_split_cluster(data, size, &book, &fsm, &fsm_len, &has, id) != 0)
        return;
    check(fsm >= data && fsm + fsm_len == data + size);
    check(book.n <= ADDRBOOK_MAX);
}

static void cluster_frame(const uint8_t *data, size_t size)
{
    static node_identity_t ni;
    static const uint8_t ours[CLUSTER_ID_LEN] = { 1, 2, 3 };
    memcpy(ni.file.cluster, ours, CLUSTER_ID_LEN);
    ni.file.has_cluster = true;
    bool answer = false, ask = false;
    const raft_id_t peer = 42;
    node_identity_peer_reset(&ni, peer);
    node_identity_on_frame(&ni, peer, "fuzz", data, size, 1, &answer);
    static const uint8_t none[CLUSTER_ID_LEN];
    bool says_ours = size == CLUSTER_FRAME_LEN &&
                     (memcmp(data + 3, ours, CLUSTER_ID_LEN) == 0 ||
                      memcmp(data + 3, none, CLUSTER_ID_LEN) == 0);
    if (node_identity_admit(&ni, peer, 2, &ask))
        check(says_ours);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet++)
        log_set_level(LOG_OFF);
    if (size == 0)
        return 0;
    switch (data[0] % 4) {
    case 0: identity_file(data + 1, size - 1); break;
    case 1: cluster_entry(data + 1, size - 1); break;
    case 2: envelope(data + 1, size - 1); break;
    default: cluster_frame(data + 1, size - 1); break;
    }
    return 0;
}
