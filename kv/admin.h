/* kv/admin.h — the admin text protocol spoken on the Raft port (usable with
 * `nc`): parsing one request line into a command, formatting reply lines,
 * and telling a person from a Raft peer by a connection's first bytes.
 *
 * Requests, one per line (LF or CRLF), words separated by spaces or tabs:
 *
 *   kv ping                 -> PONG
 *   kv set KEY VALUE        -> SUCCESS; VALUE is the rest of the line after
 *                              the one space or tab that follows KEY (it may
 *                              contain spaces); an empty VALUE is refused
 *   kv get KEY              -> the value, or exactly ERROR when absent
 *   kv del KEY              -> SUCCESS
 *   raft status | raft peers
 *   raft join ID ADDR | raft leave ID | raft transfer [ID]
 *   zone list | zone show ORIGIN
 *   auth TOKEN              -> SUCCESS, or ERROR unauthorized and the
 *                              connection is closed; only when the daemon
 *                              has -admin.token.file (kv/adminserver.h),
 *                              otherwise it is an unknown command
 *
 * Read-only commands: kv ping, kv get, raft status, raft peers, zone list,
 * zone show. Commands that change the cluster: kv set, kv del, raft join,
 * raft leave, raft transfer. With a token only `kv ping` and `auth` are
 * served before a successful `auth`.
 *
 * Commands are lower case. Every reply is one line; failures are
 * "ERROR <reason>". KEY, VALUE and ID follow kv/text.h; ADDR is a listen
 * address as in common/addr.h; ORIGIN is a domain name (a trailing dot is
 * optional). Lines longer than ADMIN_LINE_MAX bytes are refused (see
 * kv/linereader.h for reading them off a socket). */
#ifndef KV_ADMIN_H
#define KV_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv/linereader.h"
#include "kv/statemachine.h"
#include "raft/codec.h"
#include "zone/rrtype.h"
#include "zone/zone.h"

#define ADMIN_LINE_MAX LR_LINE_MAX
#define ADMIN_REASON_MAX 640

typedef enum admin_op {
    ADMIN_KV_PING,
    ADMIN_KV_SET,
    ADMIN_KV_GET,
    ADMIN_KV_DEL,
    ADMIN_RAFT_STATUS,
    ADMIN_RAFT_PEERS,
    ADMIN_RAFT_JOIN,
    ADMIN_RAFT_LEAVE,
    ADMIN_RAFT_TRANSFER,
    ADMIN_ZONE_LIST,
    ADMIN_ZONE_SHOW,
} admin_op_t;

/* A parsed request. Pointers point into the parsed line. */
typedef struct admin_cmd {
    admin_op_t op;
    const char *key;   /* kv set/get/del */
    size_t key_len;
    const char *value; /* kv set */
    size_t value_len;
    const char *id;    /* raft join/leave/transfer; id_len 0: transfer to any */
    size_t id_len;
    const char *addr;  /* raft join */
    size_t addr_len;
    uint8_t origin[NAME_MAX_WIRE]; /* zone show */
} admin_cmd_t;

/* Parses one line (without its LF; a trailing CR is ignored). Returns 0, or
 * -1 with the reason for "ERROR <reason>" in `reason`:
 *   "empty command", "unknown command", "missing subcommand",
 *   "missing argument", "too many arguments", "line too long",
 *   a key rule from kv/text.h ("key is not valid UTF-8", "key contains a
 *   control character", "key too long", "empty value", ...), "value contains a NUL byte",
 *   "invalid node id: ...", "invalid address: ...", "invalid zone name: ...". */
int admin_parse(const char *line, size_t len, admin_cmd_t *cmd, char reason[ADMIN_REASON_MAX]);

/* True when the line is an `auth` command (first word "auth"). *token /
 * *token_len: its one argument, or NULL / 0 when it has none or more than
 * one (which never matches a token). Points into line. */
bool admin_parse_auth(const char *line, size_t len, const char **token, size_t *token_len);

/* ---- replies: each writes one line ending in LF, NUL-terminated; returns
 * its length (without the NUL), or -1 when cap is too small ---- */

/* "ERROR <reason>", or exactly "ERROR" when reason is NULL or empty (what
 * `kv get` answers for an absent key). Control characters in the reason are
 * written as '?' so a reply is always one line. */
int admin_format_error(char *out, size_t cap, const char *reason);
/* Any fixed word: "PONG", "SUCCESS". */
int admin_format_word(char *out, size_t cap, const char *word);
/* The value for `kv get` (values never contain CR or LF, kv/text.h). */
int admin_format_value(char *out, size_t cap, const uint8_t *value, size_t len);
/* The reply to an applied write: "SUCCESS" for KV_OK (a retried command
 * answered from its session counts), else "ERROR <status text>: <detail>". */
int admin_format_result(char *out, size_t cap, const kv_result_t *res);
/* One `zone list` line: "ORIGIN serial S records N loaded-by NODE index I". */
int admin_format_zone_info(char *out, size_t cap, const sm_zone_info_t *info);
/* One `zone show` line in zone-file form: "OWNER TTL CLASS TYPE RDATA".
 * ADMIN_RR_TEXT_MAX is always enough. */
#define ADMIN_RR_TEXT_MAX (NAME_MAX_TEXT + 48 + RRTYPE_TEXT_MAX + RDATA_TEXT_MAX)
int admin_format_rr(char *out, size_t cap, const zone_rr_t *rr);

#endif
