/* kv/result.c — names for apply statuses (kv/result.h), for logs and
 * admin replies. */
#include "kv/result.h"

#include <stdlib.h>
#include <string.h>

const char *kv_result_status_text(enum kv_status status)
{
    switch (status) {
    case KV_OK: return "ok";
    case KV_ERR_MALFORMED: return "malformed command";
    case KV_ERR_SESSION_TOO_OLD: return "session sequence too old";
    case KV_ERR_STALE_LOAD: return "stale zone load";
    case KV_ERR_BAD_ZONE: return "bad zone";
    case KV_ERR_ALREADY_APPLIED: return "already applied";
    }
    return "unknown status";
}

uint8_t *kv_result_to_bytes(const kv_result_t *res, size_t *len)
{
    size_t mlen = strnlen(res->msg, KV_RESULT_MSG_MAX - 1);
    uint8_t *out = malloc(KV_RESULT_BYTES_FIXED + mlen);
    if (!out)
        return NULL;
    out[0] = (uint8_t)res->status;
    out[1] = res->duplicate;
    out[2] = res->rcode;
    memcpy(out + KV_RESULT_BYTES_FIXED, res->msg, mlen);
    *len = KV_RESULT_BYTES_FIXED + mlen;
    return out;
}

void kv_result_from_bytes(const uint8_t *reply, size_t len, kv_result_t *res)
{
    memset(res, 0, sizeof *res);
    if (!reply || len < KV_RESULT_BYTES_FIXED) {
        res->status = KV_ERR_MALFORMED;
        return;
    }
    res->status = (enum kv_status)reply[0];
    res->duplicate = reply[1] != 0;
    res->rcode = reply[2];
    size_t m = len - KV_RESULT_BYTES_FIXED;
    if (m > KV_RESULT_MSG_MAX - 1)
        m = KV_RESULT_MSG_MAX - 1;
    memcpy(res->msg, reply + KV_RESULT_BYTES_FIXED, m);
}

int kv_result_update_rcode(const uint8_t *reply, size_t reply_len)
{
    if (!reply || reply_len < KV_RESULT_BYTES_FIXED || reply[0] != KV_OK)
        return -1;
    return reply[2];
}
