/* kv/admin.c — parsing and formatting of the admin text protocol
 * (kv/admin.h). The parser is a small table of (group, subcommand, argument
 * shape); every line gets either a command or one exact reason, and nothing
 * in a hostile line can make it read out of bounds or echo control bytes. */
#include "kv/admin.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/addr.h"
#include "kv/text.h"

/* ---- tokens ---- */

typedef struct cursor {
    const char *p;
    const char *end;
} cursor_t;

static bool is_sep(char c)
{
    return c == ' ' || c == '\t';
}

static void skip_seps(cursor_t *c)
{
    while (c->p < c->end && is_sep(*c->p))
        c->p++;
}

/* The next word, or false at the end of the line. */
static bool next_word(cursor_t *c, const char **w, size_t *n)
{
    skip_seps(c);
    if (c->p == c->end)
        return false;
    *w = c->p;
    while (c->p < c->end && !is_sep(*c->p))
        c->p++;
    *n = (size_t)(c->p - *w);
    return true;
}

static bool at_end(cursor_t *c)
{
    skip_seps(c);
    return c->p == c->end;
}

static bool word_is(const char *w, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

static int refuse(char reason[ADMIN_REASON_MAX], const char *fmt, const char *detail)
{
    snprintf(reason, ADMIN_REASON_MAX, fmt, detail);
    return -1;
}

/* ---- arguments ---- */

static int take_key(cursor_t *c, admin_cmd_t *cmd, char reason[ADMIN_REASON_MAX])
{
    if (!next_word(c, &cmd->key, &cmd->key_len))
        return refuse(reason, "%s", "missing argument");
    const char *why = kv_text_check_key((const uint8_t *)cmd->key, cmd->key_len);
    return why ? refuse(reason, "%s", why) : 0;
}

/* VALUE is everything after the single separator that ends KEY. */
static int take_value(cursor_t *c, admin_cmd_t *cmd, char reason[ADMIN_REASON_MAX])
{
    if (c->p == c->end)
        return refuse(reason, "%s", "missing argument");
    cmd->value = c->p + 1;
    cmd->value_len = (size_t)(c->end - cmd->value);
    c->p = c->end;
    const char *why = kv_text_check_value((const uint8_t *)cmd->value, cmd->value_len);
    if (why)
        return refuse(reason, "%s", why);
    /* Refused here, not in kv/text.c: a line protocol has no room for a NUL
     * (clients read replies as C strings), while the replicated rules stay
     * as they were so logs written before replay the same. */
    if (memchr(cmd->value, 0, cmd->value_len))
        return refuse(reason, "%s", "value contains a NUL byte");
    return 0;
}

static int take_id(cursor_t *c, admin_cmd_t *cmd, bool optional, char reason[ADMIN_REASON_MAX])
{
    if (!next_word(c, &cmd->id, &cmd->id_len)) {
        cmd->id_len = 0;
        return optional ? 0 : refuse(reason, "%s", "missing argument");
    }
    const char *why = kv_text_check_node_id((const uint8_t *)cmd->id, cmd->id_len);
    return why ? refuse(reason, "invalid node id: %s", why) : 0;
}

static int take_addr(cursor_t *c, admin_cmd_t *cmd, char reason[ADMIN_REASON_MAX])
{
    if (!next_word(c, &cmd->addr, &cmd->addr_len))
        return refuse(reason, "%s", "missing argument");
    /* Printable ASCII only, checked before the address parser quotes it. */
    bool printable = cmd->addr_len < ADDR_HOST_MAX;
    for (size_t i = 0; i < cmd->addr_len && printable; i++)
        printable = cmd->addr[i] > 0x20 && cmd->addr[i] < 0x7F;
    if (!printable)
        return refuse(reason, "invalid address: %s", "not a HOST:PORT address");
    char spec[ADDR_HOST_MAX], err[ADDR_ERR_MAX];
    memcpy(spec, cmd->addr, cmd->addr_len);
    spec[cmd->addr_len] = 0;
    addr_spec_t parsed;
    if (addr_spec_parse(spec, &parsed, err) < 0)
        return refuse(reason, "invalid address: %s", err);
    if (parsed.port == 0)
        return refuse(reason, "invalid address: %s", "port 0");
    return 0;
}

static int take_origin(cursor_t *c, admin_cmd_t *cmd, char reason[ADMIN_REASON_MAX])
{
    const char *w;
    size_t n;
    if (!next_word(c, &w, &n))
        return refuse(reason, "%s", "missing argument");
    static const uint8_t root[1] = { 0 };
    const char *err = NULL;
    if (name_from_text(w, n, root, cmd->origin, &err) < 0)
        return refuse(reason, "invalid zone name: %s", err);
    return 0;
}

/* ---- the command table ---- */

enum shape { NONE, KEY, KEY_VALUE, ID_ADDR, ID, OPT_ID, ORIGIN };

static const struct command {
    const char *group;
    const char *sub;
    admin_op_t op;
    enum shape shape;
} COMMANDS[] = {
    { "kv", "ping", ADMIN_KV_PING, NONE },
    { "kv", "set", ADMIN_KV_SET, KEY_VALUE },
    { "kv", "get", ADMIN_KV_GET, KEY },
    { "kv", "del", ADMIN_KV_DEL, KEY },
    { "raft", "status", ADMIN_RAFT_STATUS, NONE },
    { "raft", "peers", ADMIN_RAFT_PEERS, NONE },
    { "raft", "join", ADMIN_RAFT_JOIN, ID_ADDR },
    { "raft", "leave", ADMIN_RAFT_LEAVE, ID },
    { "raft", "transfer", ADMIN_RAFT_TRANSFER, OPT_ID },
    { "zone", "list", ADMIN_ZONE_LIST, NONE },
    { "zone", "show", ADMIN_ZONE_SHOW, ORIGIN },
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static bool is_group(const char *w, size_t n)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (word_is(w, n, COMMANDS[i].group))
            return true;
    return false;
}

static const struct command *find_command(const char *g, size_t gn, const char *s, size_t sn)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (word_is(g, gn, COMMANDS[i].group) && word_is(s, sn, COMMANDS[i].sub))
            return &COMMANDS[i];
    return NULL;
}

static int take_args(cursor_t *c, enum shape shape, admin_cmd_t *cmd,
                     char reason[ADMIN_REASON_MAX])
{
    switch (shape) {
    case NONE: return 0;
    case KEY: return take_key(c, cmd, reason);
    case KEY_VALUE:
        if (take_key(c, cmd, reason) < 0)
            return -1;
        return take_value(c, cmd, reason);
    case ID_ADDR:
        if (take_id(c, cmd, false, reason) < 0)
            return -1;
        return take_addr(c, cmd, reason);
    case ID: return take_id(c, cmd, false, reason);
    case OPT_ID: return take_id(c, cmd, true, reason);
    case ORIGIN: return take_origin(c, cmd, reason);
    }
    return -1;
}

int admin_parse(const char *line, size_t len, admin_cmd_t *cmd, char reason[ADMIN_REASON_MAX])
{
    memset(cmd, 0, sizeof *cmd);
    reason[0] = 0;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len > ADMIN_LINE_MAX)
        return refuse(reason, "%s", "line too long");
    cursor_t c = { line, line + len };
    const char *g, *s;
    size_t gn, sn;
    if (!next_word(&c, &g, &gn))
        return refuse(reason, "%s", "empty command");
    if (!is_group(g, gn))
        return refuse(reason, "%s", "unknown command");
    if (!next_word(&c, &s, &sn))
        return refuse(reason, "%s", "missing subcommand");
    const struct command *def = find_command(g, gn, s, sn);
    if (!def)
        return refuse(reason, "%s", "unknown command");
    cmd->op = def->op;
    if (take_args(&c, def->shape, cmd, reason) < 0)
        return -1;
    if (!at_end(&c))
        return refuse(reason, "%s", "too many arguments");
    return 0;
}

bool admin_parse_auth(const char *line, size_t len, const char **token, size_t *token_len)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    cursor_t c = { line, line + len };
    const char *w;
    size_t n;
    *token = NULL;
    *token_len = 0;
    if (!next_word(&c, &w, &n) || !word_is(w, n, "auth"))
        return false;
    if (next_word(&c, &w, &n) && at_end(&c)) {
        *token = w;
        *token_len = n;
    }
    return true;
}

/* ---- replies ---- */

static int finish_line(char *out, size_t cap, size_t n)
{
    if (n + 2 > cap)
        return -1;
    out[n] = '\n';
    out[n + 1] = 0;
    return (int)(n + 1);
}

int admin_format_error(char *out, size_t cap, const char *reason)
{
    static const char word[] = "ERROR";
    size_t n = sizeof word - 1, rlen = reason ? strlen(reason) : 0;
    if (n + (rlen ? rlen + 1 : 0) + 2 > cap)
        return -1;
    memcpy(out, word, n);
    if (rlen) {
        out[n++] = ' ';
        for (size_t i = 0; i < rlen; i++) {
            unsigned char ch = (unsigned char)reason[i];
            out[n++] = ch < 0x20 || ch == 0x7F ? '?' : (char)ch;
        }
    }
    return finish_line(out, cap, n);
}

int admin_format_word(char *out, size_t cap, const char *word)
{
    size_t n = strlen(word);
    if (n + 2 > cap)
        return -1;
    memcpy(out, word, n);
    return finish_line(out, cap, n);
}

int admin_format_value(char *out, size_t cap, const uint8_t *value, size_t len)
{
    if (len + 2 > cap)
        return -1;
    memcpy(out, value, len);
    return finish_line(out, cap, len);
}

int admin_format_result(char *out, size_t cap, const kv_result_t *res)
{
    if (res->status == KV_OK)
        return admin_format_word(out, cap, "SUCCESS");
    char reason[sizeof res->msg + 64];
    if (res->msg[0])
        snprintf(reason, sizeof reason, "%s: %s", kv_result_status_text(res->status), res->msg);
    else
        snprintf(reason, sizeof reason, "%s", kv_result_status_text(res->status));
    return admin_format_error(out, cap, reason);
}

int admin_format_zone_info(char *out, size_t cap, const sm_zone_info_t *info)
{
    char origin[NAME_MAX_TEXT];
    name_to_text(info->origin, origin, sizeof origin);
    int n = snprintf(out, cap, "%s serial %" PRIu32 " records %zu loaded-by %s index %" PRIu64,
                     origin, info->serial, info->rr_count, info->node_id, info->index);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return finish_line(out, cap, (size_t)n);
}

static const char *class_text(uint16_t rclass, char buf[16])
{
    switch (rclass) {
    case 1: return "IN";
    case 3: return "CH";
    case 4: return "HS";
    }
    snprintf(buf, 16, "CLASS%u", rclass);
    return buf;
}

int admin_format_rr(char *out, size_t cap, const zone_rr_t *rr)
{
    char owner[NAME_MAX_TEXT], type[RRTYPE_TEXT_MAX], cls[16];
    name_to_text(rr->owner, owner, sizeof owner);
    int n = snprintf(out, cap, "%s %" PRIu32 " %s %s ", owner, rr->ttl,
                     class_text(rr->rclass, cls), rrtype_to_text(rr->type, type));
    if (n < 0 || (size_t)n >= cap)
        return -1;
    int r = rrtype_rdata_to_text(rr->type, rr->rdata, rr->rdlen, out + n, cap - (size_t)n);
    if (r < 0)
        return -1;
    return finish_line(out, cap, (size_t)n + (size_t)r);
}

