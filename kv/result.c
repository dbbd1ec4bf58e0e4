/* kv/result.c — names for apply statuses (kv/result.h), for logs and
 * admin replies. */
#include "kv/result.h"

const char *kv_status_text(enum kv_status status)
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
