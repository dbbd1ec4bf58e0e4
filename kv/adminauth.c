/* kv/adminauth.c — the admin token: loading, constant-time checking, and
 * the loopback test for admin listeners (see kv/adminauth.h). Crypto is
 * OpenSSL's (HMAC-SHA256, RAND_bytes, CRYPTO_memcmp, OPENSSL_cleanse);
 * nothing here compares secrets byte by byte. */
#include "kv/adminauth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/addr.h"

enum { DIGEST_LEN = 32, KEY_LEN = 32, FILE_READ_MAX = 4096 };

struct adminauth_token {
    uint8_t key[KEY_LEN];       /* random, per process */
    uint8_t digest[DIGEST_LEN]; /* HMAC-SHA256(key, token) */
    char text[ADMIN_TOKEN_MAX + 1];
};

static bool hmac_token(const uint8_t key[KEY_LEN], const char *msg, size_t len,
                       uint8_t out[DIGEST_LEN])
{
    unsigned int n = 0;
    static const uint8_t empty[1] = { 0 };
    const uint8_t *data = len ? (const uint8_t *)msg : empty;
    return HMAC(EVP_sha256(), key, KEY_LEN, data, len, out, &n) != NULL && n == DIGEST_LEN;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The reason text is not acceptable as a token, or NULL. */
static const char *token_problem(const char *text, size_t len)
{
    if (len == 0)
        return "the token is empty";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n' || c == '\r')
            return "the token file holds more than one line";
        if (c <= 0x20 || c >= 0x7F)
            return "the token may hold only printable ASCII without spaces";
    }
    if (len < ADMIN_TOKEN_MIN)
        return "the token is too short (at least 16 characters; make one with "
               "`openssl rand -base64 32`)";
    if (len > ADMIN_TOKEN_MAX)
        return "the token is too long (at most 1024 characters)";
    return NULL;
}

adminauth_token_t *admin_token_from_text(const char *text, size_t len, char err[ADMIN_AUTH_ERR_MAX])
{
    while (len > 0 && is_space(text[0])) {
        text++;
        len--;
    }
    while (len > 0 && is_space(text[len - 1]))
        len--;
    const char *why = token_problem(text, len);
    if (why) {
        snprintf(err, ADMIN_AUTH_ERR_MAX, "%s", why);
        return NULL;
    }
    adminauth_token_t *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, ADMIN_AUTH_ERR_MAX, "out of memory");
        return NULL;
    }
    memcpy(t->text, text, len);
    t->text[len] = 0;
    if (RAND_bytes(t->key, KEY_LEN) != 1 || !hmac_token(t->key, text, len, t->digest)) {
        snprintf(err, ADMIN_AUTH_ERR_MAX, "cannot compute the token's HMAC (OpenSSL)");
        admin_token_free(t);
        return NULL;
    }
    return t;
}

/* Reads at most FILE_READ_MAX bytes of a regular file; -1 with err. */
static ssize_t read_small_file(const char *path, char *buf, size_t cap, bool *group_readable,
                               char err[ADMIN_AUTH_ERR_MAX])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, ADMIN_AUTH_ERR_MAX, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, ADMIN_AUTH_ERR_MAX, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    *group_readable = (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, ADMIN_AUTH_ERR_MAX, "%s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == cap) {
            snprintf(err, ADMIN_AUTH_ERR_MAX, "%s: larger than %d bytes: not a token file", path,
                     FILE_READ_MAX - 1);
            close(fd);
            return -1;
        }
    }
    close(fd);
    return (ssize_t)got;
}

adminauth_token_t *admin_token_load(const char *path, bool *group_readable,
                                char err[ADMIN_AUTH_ERR_MAX])
{
    char buf[FILE_READ_MAX];
    *group_readable = false;
    ssize_t n = read_small_file(path, buf, sizeof buf, group_readable, err);
    if (n < 0)
        return NULL;
    if (memchr(buf, 0, (size_t)n)) {
        OPENSSL_cleanse(buf, sizeof buf);
        snprintf(err, ADMIN_AUTH_ERR_MAX, "%s: the token file holds a NUL byte", path);
        return NULL;
    }
    char why[ADMIN_AUTH_ERR_MAX];
    adminauth_token_t *t = admin_token_from_text(buf, (size_t)n, why);
    OPENSSL_cleanse(buf, sizeof buf);
    if (!t)
        snprintf(err, ADMIN_AUTH_ERR_MAX, "%.256s: %.256s", path, why);
    return t;
}

bool admin_token_matches(const adminauth_token_t *t, const char *candidate, size_t len)
{
    uint8_t got[DIGEST_LEN];
    if (!t || len > ADMIN_TOKEN_MAX || !hmac_token(t->key, candidate, len, got))
        return false;
    bool same = CRYPTO_memcmp(got, t->digest, DIGEST_LEN) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return same;
}

const char *admin_token_text(const adminauth_token_t *t)
{
    return t ? t->text : NULL;
}

void admin_token_free(adminauth_token_t *t)
{
    if (!t)
        return;
    OPENSSL_cleanse(t, sizeof *t);
    free(t);
}

bool adminauth_addr_is_loopback(const char *spec)
{
    addr_spec_t a;
    char err[ADDR_ERR_MAX];
    if (!spec || addr_spec_parse(spec, &a, err) != 0 || a.any)
        return false;
    if (strcasecmp(a.host, "localhost") == 0)
        return true;
    struct in_addr v4;
    if (inet_pton(AF_INET, a.host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    struct in6_addr v6;
    if (inet_pton(AF_INET6, a.host, &v6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&v6))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
    }
    return false;
}
