/* raft/session.h — client sessions for the replicated state machine, so a
 * retried command is applied at most once (thesis §6.3 "Implementing
 * linearizable semantics").
 *
 * The Raft core carries commands as opaque bytes; a client that times out
 * and retries may get its command into the log twice. Thesis §6.3: "each
 * client is given a unique identifier, and clients assign unique serial
 * numbers to every command. Each server's state machine maintains a session
 * for each client. The session tracks the latest serial number processed
 * for the client, along with the associated response. If a server receives
 * a command whose serial number has already been executed, it responds
 * immediately without re-executing the request."
 *
 * Usage, inside the state machine's apply (every node runs the same code
 * on the same log, so every node's table is identical):
 *   register entry at index i:  raft_session_register(s, i, i)  (the
 *                               client id is the register entry's index);
 *   command (client, seq) at index i:
 *     switch (raft_session_check(s, client, seq, &resp, &len)) {
 *     NEW:       r = execute(); raft_session_record(s, client, seq, i, r);
 *     DUPLICATE: reply with resp (not executed again);
 *     STALE:     the client already saw a later reply: reply an error;
 *     EXPIRED:   unknown client: reply "session expired" (executing could
 *                apply a command twice, §6.3) }
 * The table is bounded: registering beyond max_clients evicts the session
 * used longest ago (by log index: deterministic on every node, §6.3
 * "servers must agree on when a client's session expires"). Snapshots
 * must include the table: raft_sessions_encode / raft_sessions_decode.
 *
 * Ownership: the table owns copies of the cached responses.
 */
#ifndef RAFT_SESSION_H
#define RAFT_SESSION_H

#include <stddef.h>
#include <stdint.h>

typedef struct raft_sessions raft_sessions_t;

typedef enum raft_session_verdict {
    RAFT_SESSION_NEW = 0,
    RAFT_SESSION_DUPLICATE,
    RAFT_SESSION_STALE,
    RAFT_SESSION_EXPIRED,
} raft_session_verdict_t;

/* max_clients >= 1. NULL on allocation failure. */
raft_sessions_t *raft_sessions_new(size_t max_clients);
void raft_sessions_free(raft_sessions_t *s);
size_t raft_sessions_count(const raft_sessions_t *s);

/* Opens a session for client (nonzero) at log index `index`, evicting the
 * least recently used one if the table is full. Registering an existing
 * client keeps its session. Returns 0, -1 on bad input or no memory. */
int raft_session_register(raft_sessions_t *s, uint64_t client,
                          uint64_t index);

/* Classifies command (client, seq). For DUPLICATE, *resp and *resp_len (may be
 * NULL) point at the cached response, valid until the next change. */
raft_session_verdict_t raft_session_check(const raft_sessions_t *s,
                                          uint64_t client, uint64_t seq,
                                          const uint8_t **resp,
                                          size_t *resp_len);

/* Records that (client, seq), applied at log index `index`, produced resp
 * (copied). Only for a NEW verdict. Returns 0, -1 if the client has no
 * session, seq does not advance, or no memory. */
int raft_session_record(raft_sessions_t *s, uint64_t client, uint64_t seq,
                        uint64_t index, const void *resp, size_t resp_len);

/* Serialises the table for a snapshot (*out malloc'd, caller frees). */
int raft_sessions_encode(const raft_sessions_t *s, uint8_t **out,
                         size_t *out_len);
/* Rebuilds a table from raft_sessions_encode output; NULL if malformed. */
raft_sessions_t *raft_sessions_decode(const uint8_t *data, size_t len,
                                      size_t max_clients);

#endif
