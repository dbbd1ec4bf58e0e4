/* kv/result.h — what applying one command produced. Deterministic: every
 * replica computes the same result for the same entry, and a retried command
 * gets the result cached in its client session (kv/session.h). */
#ifndef KV_RESULT_H
#define KV_RESULT_H

#include <stdbool.h>

enum kv_status {
    KV_OK = 0,
    KV_ERR_MALFORMED = 1,       /* the entry does not decode (kv/command.h) */
    KV_ERR_SESSION_TOO_OLD = 2, /* seq is older than the session remembers */
    KV_ERR_STALE_LOAD = 3,      /* zone chunk of a load that is not staged, or out of order */
    KV_ERR_BAD_ZONE = 4,        /* the completed zone failed zone_from_records */
    KV_ERR_ALREADY_APPLIED = 5, /* index not above the applied index; nothing done */
};

#define KV_RESULT_MSG_MAX 256

typedef struct kv_result {
    enum kv_status status;
    bool duplicate;              /* served from the session cache, not applied again */
    char msg[KV_RESULT_MSG_MAX]; /* human-readable detail, "" when none */
} kv_result_t;

/* Text for a status ("ok", "malformed command", ...). */
const char *kv_status_text(enum kv_status status);

#endif
