/* zone/zonefile.c — RFC 1035 §5 master files as BIND writes them
 * (zone_parse_file, zone_parse_text; see zone.h and docs/zone-format.md).
 *
 * One pass over the text: a lexer turns it into logical lines (parentheses
 * join physical lines, ';' starts a comment, quoted strings keep their
 * spaces), each logical line is a directive or a record, and records go to
 * the zone builder (zone_build.c), which holds the arena and runs the
 * named-checkzone checks. Tokens point into the file's text: nothing is
 * copied until a record's owner and rdata land in the arena.
 *
 * Each file (the top one and every $INCLUDE) is a `source` with its own
 * origin and previous owner, restored when an included file ends
 * (RFC 1035 §5.1). TTL state ($TTL, last explicit TTL) is shared by all
 * files, as in BIND.
 *
 * Errors stop everything: the first one is reported as "file:line: reason"
 * with the line where the record (or the bad token, for lexer errors)
 * starts. */
#include "zone/zone.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zone/rrtype.h"
#include "zone/zone_build.h"

#define INCLUDE_DEPTH_MAX 16
#define FILE_SIZE_MAX ((size_t)1 << 32) /* per file, and for a file with all its $INCLUDEs */
#define TOKEN_SHOW 64 /* at most this much of a bad token in a message */

typedef struct source source_t;
struct source {
    int id;                 /* builder source id, for messages */
    const char *text;
    size_t len, pos;
    uint32_t line;          /* current physical line */
    char *dir;              /* base for relative $INCLUDE paths (owned) */
    char *real;             /* realpath, for loop detection; NULL if none (owned) */
    uint8_t origin[NAME_MAX_WIRE];
    bool origin_known;
    uint8_t owner[NAME_MAX_WIRE]; /* previous owner */
    bool owner_known;
    source_t *parent;
    int depth;
};

typedef struct parser {
    zone_builder_t *b;
    rr_token_t *toks;
    size_t ntoks, cap;
    uint32_t record_line;   /* line of the current logical line's first token */
    bool leading_space;     /* the logical line starts with blank: owner omitted */
    uint8_t *rdata;         /* RDATA_MAX scratch */
    uint32_t default_ttl;   /* $TTL */
    bool default_known;
    uint32_t last_ttl;      /* last explicit TTL (RFC 1035 rule) */
    bool last_known;
    uint64_t bytes_read;    /* all files so far, bounded by FILE_SIZE_MAX */
} parser_t;

static int error_at(parser_t *p, const source_t *s, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int error_at(parser_t *p, const source_t *s, uint32_t line, const char *fmt, ...)
{
    char msg[ZONE_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    zb_error(p->b, s->id, line, "%s", msg);
    return -1;
}

/* ---- lexer ---- */

static int push_token(parser_t *p, const source_t *s, const char *text, size_t len, bool quoted)
{
    if (p->ntoks == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        rr_token_t *t = realloc(p->toks, cap * sizeof *t);
        if (t == NULL)
            return error_at(p, s, s->line, "out of memory");
        p->toks = t;
        p->cap = cap;
    }
    if (p->ntoks == 0)
        p->record_line = s->line;
    p->toks[p->ntoks++] = (rr_token_t){ .text = text, .len = len, .quoted = quoted };
    return 0;
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static bool ends_word(char c)
{
    return is_blank(c) || c == '\n' || c == ';' || c == '(' || c == ')' || c == '"';
}

/* A quoted string starting at the opening quote; escapes stay raw. */
static int lex_quoted(parser_t *p, source_t *s)
{
    size_t start = ++s->pos;
    while (s->pos < s->len && s->text[s->pos] != '"') {
        if (s->text[s->pos] == '\n')
            return error_at(p, s, s->line, "newline inside a quoted string");
        if (s->text[s->pos] == '\\' && s->pos + 1 < s->len && s->text[s->pos + 1] != '\n')
            s->pos++;
        s->pos++;
    }
    if (s->pos >= s->len)
        return error_at(p, s, s->line, "unterminated quoted string");
    size_t end = s->pos++;
    return push_token(p, s, s->text + start, end - start, true);
}

/* An unquoted word; a backslash escapes the next character, whatever it is. */
static int lex_word(parser_t *p, source_t *s)
{
    size_t start = s->pos;
    uint32_t line = s->line;
    while (s->pos < s->len && !ends_word(s->text[s->pos])) {
        if (s->text[s->pos] == '\\' && s->pos + 1 < s->len) {
            s->pos++;
            if (s->text[s->pos] == '\n')
                s->line++;
        }
        s->pos++;
    }
    int rc = push_token(p, s, s->text + start, s->pos - start, false);
    if (p->ntoks == 1)
        p->record_line = line;
    return rc;
}

/* Reads the next logical line into p->toks. Returns 1 for a line, 0 at the
 * end of the text, -1 on error. */
static int next_line(parser_t *p, source_t *s)
{
    int depth = 0;
    uint32_t open_line = 0;
    p->ntoks = 0;
    p->leading_space = s->pos < s->len && is_blank(s->text[s->pos]);
    while (s->pos < s->len) {
        char c = s->text[s->pos];
        if (c == '\n') {
            s->line++;
            s->pos++;
            if (depth > 0)
                continue;
            if (p->ntoks > 0)
                return 1;
            p->leading_space = s->pos < s->len && is_blank(s->text[s->pos]);
        } else if (is_blank(c)) {
            s->pos++;
        } else if (c == ';') {
            while (s->pos < s->len && s->text[s->pos] != '\n')
                s->pos++;
        } else if (c == '(') {
            if (depth++ == 0)
                open_line = s->line;
            s->pos++;
        } else if (c == ')') {
            if (depth == 0)
                return error_at(p, s, s->line, "closing parenthesis without an opening one");
            depth--;
            s->pos++;
        } else if (c == '"') {
            if (lex_quoted(p, s) < 0)
                return -1;
        } else if (lex_word(p, s) < 0) {
            return -1;
        }
    }
    if (depth > 0)
        return error_at(p, s, open_line, "unbalanced parenthesis");
    return p->ntoks > 0 ? 1 : 0;
}

/* ---- helpers on tokens ---- */

static bool token_is(const rr_token_t *t, const char *word)
{
    return !t->quoted && strlen(word) == t->len && strncasecmp(t->text, word, t->len) == 0;
}

static int show_len(const rr_token_t *t) { return t->len > TOKEN_SHOW ? TOKEN_SHOW : (int)t->len; }

static int parse_name(parser_t *p, source_t *s, const rr_token_t *t, uint8_t out[NAME_MAX_WIRE])
{
    const char *why = NULL;
    if (t->quoted)
        return error_at(p, s, p->record_line, "quoted string where a name was expected");
    if (name_from_text(t->text, t->len, s->origin_known ? s->origin : NULL, out, &why) < 0)
        return error_at(p, s, p->record_line, "bad name '%.*s': %s", show_len(t), t->text, why);
    return 0;
}

static int parse_ttl(parser_t *p, source_t *s, const rr_token_t *t, uint32_t *ttl)
{
    const char *why = NULL;
    if (rr_ttl_from_text(t->text, t->len, ttl, &why) < 0)
        return error_at(p, s, p->record_line, "%s '%.*s'", why, show_len(t), t->text);
    if (*ttl > TTL_MAX)
        return error_at(p, s, p->record_line, "TTL %u above 2147483647", (unsigned)*ttl);
    return 0;
}

/* ---- directives ---- */

static int parse_source(parser_t *p, source_t *s);

static int directive_origin(parser_t *p, source_t *s)
{
    if (p->ntoks != 2)
        return error_at(p, s, p->record_line, "$ORIGIN takes one name");
    uint8_t name[NAME_MAX_WIRE];
    if (parse_name(p, s, &p->toks[1], name) < 0)
        return -1;
    memcpy(s->origin, name, name_wire_len(name));
    s->origin_known = true;
    return 0;
}

static int directive_ttl(parser_t *p, source_t *s)
{
    if (p->ntoks != 2)
        return error_at(p, s, p->record_line, "$TTL takes one TTL");
    if (parse_ttl(p, s, &p->toks[1], &p->default_ttl) < 0)
        return -1;
    p->default_known = true;
    return 0;
}

/* Opens a zone file without ever blocking: O_NONBLOCK so that a FIFO
 * with no writer (or a device) cannot hang open(), O_NOCTTY so that a
 * terminal cannot become ours. Only a regular file is read (fstat on the
 * fd, so the check and the read see the same file); anything else is
 * READ_NOT_REGULAR. A symlink to a regular file is fine: open follows it. */
#define READ_NOT_REGULAR (-1) /* not an errno: "not a regular file" */

static int open_regular(const char *path, struct stat *st, int *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (fstat(fd, st) < 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        *err = READ_NOT_REGULAR;
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads a whole regular file into a malloc'd buffer (owned by the caller),
 * at most FILE_SIZE_MAX bytes (the size fstat saw: a file that grows while
 * it is read is read up to that size). */
static char *read_file(const char *path, size_t *len, int *err)
{
    struct stat st;
    int fd = open_regular(path, &st, err);
    if (fd < 0)
        return NULL;
    if ((uint64_t)st.st_size > FILE_SIZE_MAX) {
        *err = EFBIG;
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *buf = malloc(size + 1);
    if (buf == NULL) {
        *err = ENOMEM;
        close(fd);
        return NULL;
    }
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the file shrank: parse what was read */
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
}

/* The reason read_file failed, for messages. */
static const char *read_error_text(int err, char *buf, size_t size)
{
    if (err == READ_NOT_REGULAR)
        return "not a regular file";
    if (err == EFBIG) {
        snprintf(buf, size, "larger than %llu bytes", (unsigned long long)FILE_SIZE_MAX);
        return buf;
    }
    return strerror_r(err, buf, size);
}

/* The directory part of path ("." when it has none). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static bool on_include_stack(const source_t *s, const char *real)
{
    for (; s != NULL; s = s->parent)
        if (s->real != NULL && strcmp(s->real, real) == 0)
            return true;
    return false;
}

/* Parses one file as a child of `parent`; path is as it will be shown in
 * messages. origin is the included file's starting origin (NULL: none). */
static int include_file(parser_t *p, source_t *parent, const char *path, const uint8_t *origin)
{
    uint32_t line = p->record_line;
    if (parent->depth + 1 >= INCLUDE_DEPTH_MAX)
        return error_at(p, parent, line, "$INCLUDE nested more than %d deep", INCLUDE_DEPTH_MAX);
    char *real = realpath(path, NULL);
    if (real != NULL && on_include_stack(parent, real)) {
        free(real);
        return error_at(p, parent, line, "$INCLUDE loop: '%s' is already being read", path);
    }
    size_t len = 0;
    int err = 0;
    char *text = read_file(path, &len, &err);
    if (text == NULL) {
        free(real);
        char ebuf[128];
        if (err == READ_NOT_REGULAR)
            return error_at(p, parent, line, "$INCLUDE '%s': not a regular file", path);
        return error_at(p, parent, line, "cannot read $INCLUDE file '%s': %s", path,
                        read_error_text(err, ebuf, sizeof ebuf));
    }
    p->bytes_read += len;
    if (p->bytes_read > FILE_SIZE_MAX) {
        free(real);
        free(text);
        return error_at(p, parent, line, "$INCLUDE '%s': zone files larger than %llu bytes in total",
                        path, (unsigned long long)FILE_SIZE_MAX);
    }
    source_t child = { .text = text, .len = len, .line = 1, .real = real, .dir = dir_of(path),
                       .parent = parent, .depth = parent->depth + 1 };
    child.id = zb_add_source(p->b, path);
    int rc;
    if (child.dir == NULL || child.id < 0) {
        rc = error_at(p, parent, line, "out of memory");
    } else {
        if (origin != NULL) {
            memcpy(child.origin, origin, name_wire_len(origin));
            child.origin_known = true;
        }
        rc = parse_source(p, &child);
    }
    free(child.dir);
    free(child.real);
    free(text);
    return rc;
}

static int directive_include(parser_t *p, source_t *s)
{
    if (p->ntoks != 2 && p->ntoks != 3)
        return error_at(p, s, p->record_line, "$INCLUDE takes a file name and an optional origin");
    uint8_t origin[NAME_MAX_WIRE];
    const uint8_t *child_origin = s->origin_known ? s->origin : NULL;
    if (p->ntoks == 3) {
        if (parse_name(p, s, &p->toks[2], origin) < 0)
            return -1;
        child_origin = origin;
    }
    const rr_token_t *f = &p->toks[1];
    if (f->len == 0 || f->len >= PATH_MAX)
        return error_at(p, s, p->record_line, "bad $INCLUDE file name");
    char path[PATH_MAX * 2];
    if (f->text[0] == '/')
        snprintf(path, sizeof path, "%.*s", (int)f->len, f->text);
    else
        snprintf(path, sizeof path, "%s/%.*s", s->dir, (int)f->len, f->text);
    /* The tokens belong to this file's text and the child reuses the token
     * array, so nothing of this line is used after the call. */
    return include_file(p, s, path, child_origin);
}

static int directive(parser_t *p, source_t *s)
{
    const rr_token_t *t = &p->toks[0];
    if (token_is(t, "$ORIGIN"))
        return directive_origin(p, s);
    if (token_is(t, "$TTL"))
        return directive_ttl(p, s);
    if (token_is(t, "$INCLUDE"))
        return directive_include(p, s);
    return error_at(p, s, p->record_line, "unsupported directive '%.*s'", show_len(t), t->text);
}

/* ---- records ---- */

/* Classes other than IN, by name or RFC 3597 "CLASSnnn". */
static bool is_other_class(const rr_token_t *t)
{
    if (token_is(t, "CH") || token_is(t, "HS") || token_is(t, "CS") || token_is(t, "NONE"))
        return true;
    return !t->quoted && t->len > 5 && strncasecmp(t->text, "CLASS", 5) == 0 &&
           t->text[5] >= '0' && t->text[5] <= '9';
}

/* Reads the optional TTL and class (either order) from toks[*i]. */
static int ttl_and_class(parser_t *p, source_t *s, size_t *i, uint32_t *ttl, bool *explicit_ttl)
{
    bool have_class = false;
    *explicit_ttl = false;
    while (*i < p->ntoks) {
        const rr_token_t *t = &p->toks[*i];
        if (!t->quoted && t->len > 0 && t->text[0] >= '0' && t->text[0] <= '9') {
            if (*explicit_ttl)
                return error_at(p, s, p->record_line, "two TTLs in one record");
            if (parse_ttl(p, s, t, ttl) < 0)
                return -1;
            *explicit_ttl = true;
        } else if (token_is(t, "IN") || token_is(t, "CLASS1")) {
            if (have_class)
                return error_at(p, s, p->record_line, "two classes in one record");
            have_class = true;
        } else if (is_other_class(t)) {
            return error_at(p, s, p->record_line, "class '%.*s' is not supported (only IN)",
                            show_len(t), t->text);
        } else {
            break;
        }
        (*i)++;
    }
    return 0;
}

/* The SOA minimum: the last four octets of a valid SOA rdata. */
static uint32_t soa_minimum(const uint8_t *rdata, int len)
{
    const uint8_t *m = rdata + len - 4;
    return (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
}

/* BIND's TTL rules: an explicit TTL wins (and is remembered); otherwise
 * $TTL; otherwise the last explicit TTL (RFC 1035); otherwise, for the SOA
 * only, its minimum field, which then becomes the default. */
static int resolve_ttl(parser_t *p, source_t *s, uint16_t type, int rdlen, bool explicit_ttl,
                       uint32_t *ttl)
{
    if (explicit_ttl) {
        p->last_ttl = *ttl;
        p->last_known = true;
    } else if (p->default_known) {
        *ttl = p->default_ttl;
    } else if (p->last_known) {
        *ttl = p->last_ttl;
    } else if (type == RR_TYPE_SOA) {
        *ttl = soa_minimum(p->rdata, rdlen);
        if (*ttl > TTL_MAX)
            return error_at(p, s, p->record_line, "SOA minimum %u above 2147483647 used as TTL",
                            (unsigned)*ttl);
        p->default_ttl = *ttl;
        p->default_known = true;
    } else {
        return error_at(p, s, p->record_line, "no TTL specified (no $TTL and no earlier TTL)");
    }
    return 0;
}

static int record(parser_t *p, source_t *s)
{
    size_t i = 0;
    uint8_t owner[NAME_MAX_WIRE];
    if (p->leading_space) {
        if (!s->owner_known)
            return error_at(p, s, p->record_line, "no previous owner name to repeat");
        memcpy(owner, s->owner, name_wire_len(s->owner));
    } else {
        if (parse_name(p, s, &p->toks[0], owner) < 0)
            return -1;
        i = 1;
    }
    uint32_t ttl = 0;
    bool explicit_ttl;
    if (ttl_and_class(p, s, &i, &ttl, &explicit_ttl) < 0)
        return -1;
    if (i >= p->ntoks)
        return error_at(p, s, p->record_line, "missing type");
    const rr_token_t *t = &p->toks[i];
    int type = t->quoted ? -1 : rrtype_from_text(t->text, t->len);
    if (type < 0)
        return error_at(p, s, p->record_line, "unknown type '%.*s'", show_len(t), t->text);
    char tname[RRTYPE_TEXT_MAX];
    rrtype_to_text((uint16_t)type, tname);
    if (rrtype_is_meta((uint16_t)type))
        return error_at(p, s, p->record_line, "type %s is not allowed in a zone", tname);
    const char *why = NULL;
    int rdlen = rrtype_rdata_from_text((uint16_t)type, p->toks + i + 1, p->ntoks - i - 1,
                                       s->origin_known ? s->origin : NULL, p->rdata, &why);
    if (rdlen < 0)
        return error_at(p, s, p->record_line, "%s rdata: %s", tname, why);
    if (resolve_ttl(p, s, (uint16_t)type, rdlen, explicit_ttl, &ttl) < 0)
        return -1;
    memcpy(s->owner, owner, name_wire_len(owner));
    s->owner_known = true;
    return zb_add(p->b, owner, (uint16_t)type, ttl, p->rdata, (uint16_t)rdlen, s->id, p->record_line);
}

static int parse_source(parser_t *p, source_t *s)
{
    int rc;
    while ((rc = next_line(p, s)) > 0) {
        const rr_token_t *t = &p->toks[0];
        bool is_directive = !p->leading_space && !t->quoted && t->len > 0 && t->text[0] == '$';
        if ((is_directive ? directive(p, s) : record(p, s)) < 0)
            return -1;
    }
    return rc;
}

/* ---- entry points ---- */

static zone_t *parse_top(const char *text, size_t len, const char *name, char *real,
                         const uint8_t *origin, char err[ZONE_ERR_MAX])
{
    zone_builder_t *b = zb_new(origin, err);
    if (b == NULL) {
        free(real);
        return NULL;
    }
    parser_t p = { .b = b, .rdata = malloc(RDATA_MAX), .bytes_read = len };
    source_t top = { .text = text, .len = len, .line = 1, .real = real, .dir = dir_of(name) };
    top.id = zb_add_source(b, name);
    int rc = -1;
    if (p.rdata == NULL || top.dir == NULL || top.id < 0) {
        snprintf(err, ZONE_ERR_MAX, "%s:0: out of memory", name);
    } else {
        if (origin != NULL) {
            memcpy(top.origin, origin, name_wire_len(origin));
            top.origin_known = true;
        }
        rc = parse_source(&p, &top);
    }
    /* "No SOA" is reported at the last line of the file. */
    uint32_t last_line = top.line;
    if (last_line > 1 && len > 0 && text[len - 1] == '\n')
        last_line--;
    free(top.dir);
    free(top.real);
    free(p.rdata);
    free(p.toks);
    if (rc < 0) {
        zb_abort(b);
        return NULL;
    }
    return zb_finish(b, top.id, last_line);
}

zone_t *zone_parse_text(const char *text, size_t len, const char *name,
                        const uint8_t *origin, char err[ZONE_ERR_MAX])
{
    return parse_top(text, len, name ? name : "<text>", NULL, origin, err);
}

zone_t *zone_parse_file(const char *path, const uint8_t *origin, char err[ZONE_ERR_MAX])
{
    size_t len = 0;
    int e = 0;
    char *text = read_file(path, &len, &e);
    if (text == NULL) {
        char ebuf[128];
        if (e == READ_NOT_REGULAR)
            snprintf(err, ZONE_ERR_MAX, "%s: not a regular file", path);
        else
            snprintf(err, ZONE_ERR_MAX, "%s:0: cannot read: %s", path,
                     read_error_text(e, ebuf, sizeof ebuf));
        return NULL;
    }
    zone_t *z = parse_top(text, len, path, realpath(path, NULL), origin, err);
    free(text);
    return z;
}
