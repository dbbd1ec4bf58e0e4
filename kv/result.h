/* kv/result.h — what applying one command produced. Deterministic: every
 * replica computes the same result for the same entry, and a retried command
 * gets the result cached in its client session (kv/session.h). */
#ifndef KV_RESULT_H
#define KV_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    /* (last, so positional initializers of the fields above still work)
     * KV_CMD_UPDATE only, when status is KV_OK: the RFC 2136 rcode of the
     * update (enum dns_rcode values: 0 NOERROR, 1 FORMERR, 2 SERVFAIL,
     * 3 NXDOMAIN, 4 NOTIMP, 5 REFUSED, 6 YXDOMAIN, 7 YXRRSET, 8 NXRRSET,
     * 9 NOTAUTH, 10 NOTZONE). Any other status means the entry did not
     * apply as an update: answer SERVFAIL. 0 for every other command. */
    uint8_t rcode;
} kv_result_t;

/* The bytes a proposer gets back for an applied entry (the Raft apply
 * result): u8 status, u8 duplicate, u8 rcode, msg (no NUL). */
#define KV_RESULT_BYTES_FIXED 3
/* Encodes res into a malloc'd buffer; NULL on allocation failure. */
uint8_t *kv_result_to_bytes(const kv_result_t *res, size_t *len);
/* Decodes reply bytes; anything shorter than the fixed part decodes as
 * KV_ERR_MALFORMED. */
void kv_result_from_bytes(const uint8_t *reply, size_t len, kv_result_t *res);
/* The RFC 2136 rcode of an applied UPDATE from the proposal's reply bytes,
 * or -1 when the entry did not apply (status not KV_OK, or a short reply):
 * answer SERVFAIL then. (The bytes do not say which command they answer;
 * call it only for an UPDATE's reply.) */
int kv_result_update_rcode(const uint8_t *reply, size_t reply_len);

/* Text for a status ("ok", "malformed command", ...). */
const char *kv_result_status_text(enum kv_status status);

#endif
