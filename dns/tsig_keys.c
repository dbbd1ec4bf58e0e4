/* dns/tsig_keys.c — TSIG (RFC 8945) keys: owns the key store and the
 * parser of BIND-format key files (`key "name" { algorithm ...; secret
 * "..."; };`, as tsig-keygen writes them), with file:line errors. Secrets
 * are wiped (OPENSSL_cleanse) whenever their memory is released. The API
 * is in dns/tsig.h; message signing and verification are in dns/tsig.c. */
#include "dns/tsig.h"
#include "dns/tsig_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* ---- the key store ---------------------------------------------------- */

struct tsig_keystore {
    tsig_key_t *keys;
    size_t count, cap;
};

tsig_keystore_t *tsig_keystore_new(void)
{
    return calloc(1, sizeof(tsig_keystore_t));
}

void tsig_keystore_free(tsig_keystore_t *ks)
{
    if (ks == NULL)
        return;
    if (ks->keys)
        OPENSSL_cleanse(ks->keys, ks->cap * sizeof *ks->keys);
    free(ks->keys);
    free(ks);
}

size_t tsig_keystore_count(const tsig_keystore_t *ks) { return ks ? ks->count : 0; }

const tsig_key_t *tsig_keystore_key(const tsig_keystore_t *ks, size_t i)
{
    return ks && i < ks->count ? &ks->keys[i] : NULL;
}

const tsig_key_t *tsig_keystore_find(const tsig_keystore_t *ks, const uint8_t *name)
{
    for (size_t i = 0; ks && i < ks->count; i++)
        if (name_equal(ks->keys[i].name, name))
            return &ks->keys[i];
    return NULL;
}

/* Makes room for one more key; the pointer stays valid only until the
 * next growth, which is why keys are added only while loading. */
static tsig_key_t *keystore_append(tsig_keystore_t *ks)
{
    if (ks->count == ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 4;
        tsig_key_t *grown = calloc(cap, sizeof *grown);
        if (grown == NULL)
            return NULL;
        if (ks->count)
            memcpy(grown, ks->keys, ks->count * sizeof *grown);
        if (ks->keys)
            OPENSSL_cleanse(ks->keys, ks->cap * sizeof *ks->keys);
        free(ks->keys);
        ks->keys = grown;
        ks->cap = cap;
    }
    tsig_key_t *k = &ks->keys[ks->count++];
    memset(k, 0, sizeof *k);
    return k;
}

/* ---- key-file lexer --------------------------------------------------- */

enum tok_kind { TOK_EOF, TOK_WORD, TOK_STRING, TOK_LBRACE, TOK_RBRACE, TOK_SEMI, TOK_ERROR };

typedef struct token {
    enum tok_kind kind;
    const char *s; /* WORD/STRING: the text (a string without its quotes) */
    size_t n;
    unsigned line;
} token_t;

typedef struct lexer {
    const char *text;
    size_t len, pos;
    unsigned line;
    const char *label;
    char *err;
} lexer_t;

static int lex_error(lexer_t *lx, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int lex_error(lexer_t *lx, unsigned line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(lx->err, TSIG_ERR_MAX, "%.200s:%u: %s", lx->label, line, msg);
    return -1;
}

static bool at(const lexer_t *lx, size_t off, char c)
{
    return lx->pos + off < lx->len && lx->text[lx->pos + off] == c;
}

/* Skips blanks and the three comment styles. -1 on an unclosed block
 * comment. */
static int skip_space(lexer_t *lx)
{
    while (lx->pos < lx->len) {
        char c = lx->text[lx->pos];
        if (c == '\n') {
            lx->line++;
            lx->pos++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            lx->pos++;
        } else if (c == '#' || (c == '/' && at(lx, 1, '/'))) {
            while (lx->pos < lx->len && lx->text[lx->pos] != '\n')
                lx->pos++;
        } else if (c == '/' && at(lx, 1, '*')) {
            unsigned start = lx->line;
            lx->pos += 2;
            while (lx->pos < lx->len && !(at(lx, 0, '*') && at(lx, 1, '/'))) {
                if (lx->text[lx->pos] == '\n')
                    lx->line++;
                lx->pos++;
            }
            if (lx->pos >= lx->len)
                return lex_error(lx, start, "comment not closed (missing \"*/\")");
            lx->pos += 2;
        } else {
            break;
        }
    }
    return 0;
}

static bool word_char(const lexer_t *lx)
{
    char c = lx->text[lx->pos];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v' || c == '{' ||
        c == '}' || c == ';' || c == '"' || c == '#')
        return false;
    return !(c == '/' && (at(lx, 1, '/') || at(lx, 1, '*')));
}

/* A quoted string: backslash keeps the next character (names decode their
 * own escapes). */
static token_t lex_string(lexer_t *lx)
{
    token_t t = { TOK_STRING, NULL, 0, lx->line };
    size_t start = ++lx->pos;
    while (lx->pos < lx->len && lx->text[lx->pos] != '"') {
        if (lx->text[lx->pos] == '\n')
            lx->line++;
        if (lx->text[lx->pos] == '\\' && lx->pos + 1 < lx->len) {
            lx->pos++;
            if (lx->text[lx->pos] == '\n')
                lx->line++;
        }
        lx->pos++;
    }
    if (lx->pos >= lx->len) {
        lex_error(lx, t.line, "string not closed (missing '\"')");
        t.kind = TOK_ERROR;
        return t;
    }
    t.s = lx->text + start;
    t.n = lx->pos - start;
    lx->pos++;
    return t;
}

static token_t next_token(lexer_t *lx)
{
    token_t t = { TOK_ERROR, NULL, 0, lx->line };
    if (skip_space(lx) != 0)
        return t;
    t.line = lx->line;
    if (lx->pos >= lx->len) {
        t.kind = TOK_EOF;
        return t;
    }
    char c = lx->text[lx->pos];
    if (c == '"')
        return lex_string(lx);
    if (c == '{' || c == '}' || c == ';') {
        t.kind = c == '{' ? TOK_LBRACE : c == '}' ? TOK_RBRACE : TOK_SEMI;
        t.s = lx->text + lx->pos++;
        t.n = 1;
        return t;
    }
    t.kind = TOK_WORD;
    t.s = lx->text + lx->pos;
    while (lx->pos < lx->len && word_char(lx))
        lx->pos++;
    t.n = (size_t)(lx->text + lx->pos - t.s);
    return t;
}

/* How a token is shown in an error message. */
static void describe(const token_t *t, char *out, size_t cap)
{
    switch (t->kind) {
    case TOK_EOF: snprintf(out, cap, "end of file"); break;
    case TOK_STRING: snprintf(out, cap, "\"%.*s\"", (int)(t->n > 40 ? 40 : t->n), t->s); break;
    case TOK_WORD: snprintf(out, cap, "'%.*s'", (int)(t->n > 40 ? 40 : t->n), t->s); break;
    default: snprintf(out, cap, "'%.*s'", (int)t->n, t->s ? t->s : "?"); break;
    }
}

static bool token_is(const token_t *t, const char *word)
{
    size_t n = strlen(word);
    return t->kind == TOK_WORD && t->n == n && strncasecmp(t->s, word, n) == 0;
}

static int expect(lexer_t *lx, enum tok_kind kind, const char *what)
{
    token_t t = next_token(lx);
    if (t.kind == TOK_ERROR)
        return -1;
    if (t.kind != kind) {
        char got[64];
        describe(&t, got, sizeof got);
        return lex_error(lx, t.line, "expected %s, found %s", what, got);
    }
    return 0;
}

/* ---- key-file grammar -------------------------------------------------
 *   file   := { "key" NAME "{" { option } "}" ";" }
 *   option := "algorithm" ALG ";" | "secret" BASE64 ";"
 * NAME, ALG and BASE64 may each be quoted or bare, as BIND accepts. */

typedef struct key_draft {
    tsig_key_t key;
    bool has_alg, has_secret;
} key_draft_t;

/* "hmac-sha256" or "hmac-sha256-BITS" (BIND's truncation syntax). */
static int parse_algorithm(lexer_t *lx, const token_t *t, key_draft_t *d)
{
    if (t->n >= 8 && strncasecmp(t->s, "hmac-md5", 8) == 0)
        return lex_error(lx, t->line, "algorithm hmac-md5 is refused (MD5 is broken); "
                         "make a new key with tsig-keygen -a hmac-sha256");
    for (size_t i = 0; i < TSIG_ALG_COUNT; i++) {
        size_t n = strlen(TSIG_ALGS[i].name);
        if (t->n < n || strncasecmp(t->s, TSIG_ALGS[i].name, n) != 0)
            continue;
        unsigned bits = TSIG_ALGS[i].mac_len * 8u;
        if (t->n > n) {
            if (t->s[n] != '-' || t->n == n + 1 || t->n > n + 4)
                continue;
            bits = 0;
            for (size_t j = n + 1; j < t->n; j++) {
                if (t->s[j] < '0' || t->s[j] > '9')
                    return lex_error(lx, t->line, "bad MAC length in algorithm %.*s",
                                     (int)t->n, t->s);
                bits = bits * 10 + (unsigned)(t->s[j] - '0');
            }
            unsigned full = TSIG_ALGS[i].mac_len * 8u, least = full / 2 > 80 ? full / 2 : 80;
            if (bits % 8 || bits < least || bits > full)
                return lex_error(lx, t->line, "%s MAC length %u bits: must be a multiple of 8 "
                                 "from %u to %u", TSIG_ALGS[i].name, bits, least, full);
        }
        d->key.alg = TSIG_ALGS[i].alg;
        d->key.mac_len = (uint16_t)(bits / 8);
        d->has_alg = true;
        return 0;
    }
    return lex_error(lx, t->line, "unknown algorithm %.*s (use hmac-sha256, hmac-sha512, "
                     "hmac-sha384, hmac-sha224 or hmac-sha1)", (int)(t->n > 40 ? 40 : t->n), t->s);
}

static bool base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* Strict base64 (blanks between groups allowed, as BIND's multi-line
 * secrets), decoded with OpenSSL. */
static int parse_secret(lexer_t *lx, const token_t *t, key_draft_t *d)
{
    char clean[TSIG_SECRET_MAX * 4 / 3 + 8];
    size_t n = 0, pad = 0;
    for (size_t i = 0; i < t->n; i++) {
        char c = t->s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=' && n > 0) {
            pad++;
        } else if (!base64_char(c) || pad) {
            return lex_error(lx, t->line, "secret is not valid base64");
        }
        if (n == sizeof clean - 1)
            return lex_error(lx, t->line, "secret longer than %d octets", TSIG_SECRET_MAX);
        clean[n++] = c;
    }
    if (n == 0)
        return lex_error(lx, t->line, "empty secret");
    if (n % 4 != 0 || pad > 2)
        return lex_error(lx, t->line, "secret is not valid base64 (length or padding)");
    clean[n] = '\0';
    uint8_t out[sizeof clean];
    int got = EVP_DecodeBlock(out, (const unsigned char *)clean, (int)n);
    if (got < 0 || (size_t)got < pad)
        return lex_error(lx, t->line, "secret is not valid base64");
    size_t len = (size_t)got - pad;
    if (len == 0 || len > TSIG_SECRET_MAX) {
        OPENSSL_cleanse(out, sizeof out);
        return lex_error(lx, t->line, len ? "secret longer than %d octets" : "empty secret",
                         TSIG_SECRET_MAX);
    }
    memcpy(d->key.secret, out, len);
    d->key.secret_len = (uint16_t)len;
    d->has_secret = true;
    OPENSSL_cleanse(out, sizeof out);
    OPENSSL_cleanse(clean, sizeof clean);
    return 0;
}

/* One "algorithm X;" or "secret X;" inside the braces. */
static int parse_option(lexer_t *lx, const token_t *opt, key_draft_t *d)
{
    bool is_alg = token_is(opt, "algorithm"), is_secret = token_is(opt, "secret");
    if (!is_alg && !is_secret) {
        char got[64];
        describe(opt, got, sizeof got);
        return lex_error(lx, opt->line, "unknown key option %s (expected algorithm or secret)",
                         got);
    }
    if ((is_alg && d->has_alg) || (is_secret && d->has_secret))
        return lex_error(lx, opt->line, "%s given twice", is_alg ? "algorithm" : "secret");
    token_t v = next_token(lx);
    if (v.kind == TOK_ERROR)
        return -1;
    if (v.kind != TOK_WORD && v.kind != TOK_STRING) {
        char got[64];
        describe(&v, got, sizeof got);
        return lex_error(lx, v.line, "expected a value after %s, found %s",
                         is_alg ? "algorithm" : "secret", got);
    }
    int rc = is_alg ? parse_algorithm(lx, &v, d) : parse_secret(lx, &v, d);
    if (rc != 0)
        return -1;
    return expect(lx, TOK_SEMI, "';'");
}

static int parse_key_name(lexer_t *lx, const token_t *t, key_draft_t *d)
{
    if (t->kind != TOK_WORD && t->kind != TOK_STRING) {
        char got[64];
        describe(t, got, sizeof got);
        return lex_error(lx, t->line, "expected a key name, found %s", got);
    }
    static const uint8_t root[1] = { 0 };
    uint8_t wire[NAME_MAX_WIRE];
    const char *why = NULL;
    if (t->n == 0 || name_from_text(t->s, t->n, root, wire, &why) < 0)
        return lex_error(lx, t->line, "bad key name \"%.*s\": %s", (int)(t->n > 80 ? 80 : t->n),
                         t->s, why ? why : "empty name");
    name_to_lower(wire, d->key.name);
    return 0;
}

/* key NAME { ... }; after the word "key". */
static int parse_key(lexer_t *lx, tsig_keystore_t *ks, size_t first_new)
{
    key_draft_t d;
    memset(&d, 0, sizeof d);
    token_t name = next_token(lx);
    int rc = -1;
    if (name.kind == TOK_ERROR || parse_key_name(lx, &name, &d) != 0 ||
        expect(lx, TOK_LBRACE, "'{'") != 0)
        goto out;
    for (;;) {
        token_t t = next_token(lx);
        if (t.kind == TOK_ERROR)
            goto out;
        if (t.kind == TOK_RBRACE) {
            if (!d.has_alg || !d.has_secret) {
                lex_error(lx, t.line, "key \"%.*s\" has no %s", (int)name.n, name.s,
                          d.has_alg ? "secret" : "algorithm");
                goto out;
            }
            break;
        }
        if (t.kind == TOK_EOF) {
            lex_error(lx, t.line, "key \"%.*s\" not closed (missing '}')", (int)name.n, name.s);
            goto out;
        }
        if (parse_option(lx, &t, &d) != 0)
            goto out;
    }
    if (expect(lx, TOK_SEMI, "';' after '}'") != 0)
        goto out;
    const tsig_key_t *dup = tsig_keystore_find(ks, d.key.name);
    if (dup != NULL) {
        bool earlier_file = (size_t)(dup - ks->keys) < first_new;
        lex_error(lx, name.line, "key \"%.*s\" defined twice%s", (int)name.n, name.s,
                  earlier_file ? " (already loaded from another file)" : "");
        goto out;
    }
    if (ks->count >= TSIG_MAX_KEYS) {
        lex_error(lx, name.line, "more than %d keys", TSIG_MAX_KEYS);
        goto out;
    }
    tsig_key_t *k = keystore_append(ks);
    if (k == NULL) {
        lex_error(lx, name.line, "out of memory");
        goto out;
    }
    *k = d.key;
    rc = 0;
out:
    OPENSSL_cleanse(&d, sizeof d);
    return rc;
}

int tsig_keystore_load_text(tsig_keystore_t *ks, const char *text, size_t len, const char *label,
                            char err[TSIG_ERR_MAX])
{
    lexer_t lx = { text, len, 0, 1, label, err };
    size_t before = ks->count;
    const char *nul = memchr(text, '\0', len);
    if (nul != NULL) {
        unsigned line = 1;
        for (const char *p = text; p < nul; p++)
            line += *p == '\n';
        return lex_error(&lx, line, "NUL byte in key file");
    }
    for (;;) {
        token_t t = next_token(&lx);
        if (t.kind == TOK_EOF)
            return 0;
        int rc = -1;
        if (t.kind == TOK_ERROR) {
            rc = -1;
        } else if (token_is(&t, "key")) {
            rc = parse_key(&lx, ks, before);
        } else {
            char got[64];
            describe(&t, got, sizeof got);
            lex_error(&lx, t.line, "expected 'key', found %s (only key statements belong in "
                      "a key file)", got);
        }
        if (rc != 0) {
            OPENSSL_cleanse(ks->keys + before, (ks->count - before) * sizeof *ks->keys);
            ks->count = before; /* all or nothing */
            return -1;
        }
    }
}

int tsig_keystore_load_file(tsig_keystore_t *ks, const char *path, char err[TSIG_ERR_MAX])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, TSIG_ERR_MAX, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)TSIG_FILE_MAX) {
        snprintf(err, TSIG_ERR_MAX, "%s: not a regular file of at most %u octets", path,
                 TSIG_FILE_MAX);
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *text = malloc(size + 1);
    if (text == NULL) {
        snprintf(err, TSIG_ERR_MAX, "%s: out of memory", path);
        close(fd);
        return -1;
    }
    while (got < size) {
        ssize_t n = read(fd, text + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    int rc;
    if (got != size) {
        snprintf(err, TSIG_ERR_MAX, "%s: read failed", path);
        rc = -1;
    } else {
        rc = tsig_keystore_load_text(ks, text, size, path, err);
    }
    OPENSSL_cleanse(text, size);
    free(text);
    return rc;
}

