/* tests/unit/test_dns_tsig.c — TSIG (dns/tsig.c, RFC 8945): BIND key files
 * (tsig-keygen's output, every error with its file:line), verification of
 * requests signed by dnspython, BIND's nsupdate and Knot's knsupdate
 * (tests/unit/tsig_vectors.h, made by tsig_vectors.py), every way a
 * request can fail (BADSIG for any flipped bit, BADKEY, BADTIME at the fudge's edge, the MAC truncation rules,
 * misplaced TSIG RRs), responses byte-identical to dnspython's, and a
 * three-message transfer chain both ways.
 *
 * With TSIG_DUMP_DIR=DIR set, the messages this test signs are also written
 * to DIR, for `tsig_vectors.py --check DIR` to verify with dnspython. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/tsig.h"
#include "dns/wire.h"
#include "tests/unit/tsig_vectors.h"

#define T VEC_T

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static tsig_keystore_t *vector_keys(void)
{
    tsig_keystore_t *ks = tsig_keystore_new();
    char err[TSIG_ERR_MAX];
    assert_non_null(ks);
    assert_int_equal(tsig_keystore_load_text(ks, VEC_KEY_FILE, strlen(VEC_KEY_FILE), "vec", err), 0);
    return ks;
}

static void dump(const char *name, const uint8_t *msg, size_t len)
{
    const char *dir = getenv("TSIG_DUMP_DIR");
    if (dir == NULL)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(msg, 1, len, f), len);
    fclose(f);
}

/* ---- key files -------------------------------------------------------- */

/* Verbatim tsig-keygen (BIND 9.18) output, three algorithms, plus the
 * comment styles and forms BIND also accepts. */
static const char KEYGEN_OUTPUT[] =
    "key \"k1\" {\n"
    "\talgorithm hmac-sha256;\n"
    "\tsecret \"F/zRBBSci2ASAAx+mwe4VPfJZWQhEOGzkc/VeFGMWuQ=\";\n"
    "};\n"
    "key \"k2.example\" {\n"
    "\talgorithm hmac-sha512;\n"
    "\tsecret \"GMe4soOOSJ895dDFwKLWTybG7LQ9Y6/IxmsCyP7ge0H0rCEy71KuNBzFWal1S9V5uZUHpeYQbtw6dBcud7Y7fg==\";\n"
    "};\n"
    "key \"old-key\" {\n"
    "\talgorithm hmac-sha1;\n"
    "\tsecret \"M7Y5hDqkLfErZppUedVnCMd3VtM=\";\n"
    "};\n"
    "# a hash comment\n"
    "// a slash comment\n"
    "/* a block\n   comment */ key Bare.Example. { algorithm HMAC-SHA384; secret AAECAwQF; };\n"
    "key \"short\" { algorithm hmac-sha256-128; secret \"AAAA\"; }; // trailing\n";

static void test_keygen_output_parses(void **state)
{
    (void)state;
    tsig_keystore_t *ks = tsig_keystore_new();
    char err[TSIG_ERR_MAX] = "";
    int rc = tsig_keystore_load_text(ks, KEYGEN_OUTPUT, strlen(KEYGEN_OUTPUT), "k.key", err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(tsig_keystore_count(ks), 5);
    const tsig_key_t *k1 = tsig_keystore_find(ks, (const uint8_t *)"\2K1");
    assert_non_null(k1);
    assert_int_equal(k1->alg, TSIG_ALG_SHA256);
    assert_int_equal(k1->secret_len, 32);
    assert_int_equal(k1->mac_len, 32);
    assert_int_equal(k1->secret[0], 0x17); /* 'F/zR' = 0x17 0xfc 0xd1 */
    const tsig_key_t *k2 = tsig_keystore_find(ks, (const uint8_t *)"\2k2\7EXAMPLE");
    assert_non_null(k2);
    assert_int_equal(k2->alg, TSIG_ALG_SHA512);
    assert_int_equal(k2->secret_len, 64);
    assert_int_equal(tsig_keystore_find(ks, (const uint8_t *)"\7old-key")->alg, TSIG_ALG_SHA1);
    const tsig_key_t *bare = tsig_keystore_find(ks, (const uint8_t *)"\4bare\7example");
    assert_non_null(bare);
    assert_int_equal(bare->alg, TSIG_ALG_SHA384);
    assert_int_equal(bare->secret_len, 6);
    const tsig_key_t *s = tsig_keystore_find(ks, (const uint8_t *)"\5short");
    assert_int_equal(s->mac_len, 16);
    assert_null(tsig_keystore_find(ks, (const uint8_t *)"\2k3"));
    tsig_keystore_free(ks);
}

/* The real tsig-keygen (Debian's bind9 package; not a build dependency):
 * skipped when it is not on PATH or in /usr/sbin. */
static void test_real_tsig_keygen(void **state)
{
    (void)state;
    FILE *p = popen("PATH=$PATH:/usr/sbin; tsig-keygen -a hmac-sha256 k1 2>/dev/null && "
                    "tsig-keygen -a hmac-sha512 k2 2>/dev/null", "r");
    assert_non_null(p);
    char text[4096];
    size_t n = fread(text, 1, sizeof text, p);
    if (pclose(p) != 0) {
        skip();
        return;
    }
    tsig_keystore_t *ks = tsig_keystore_new();
    char err[TSIG_ERR_MAX];
    if (tsig_keystore_load_text(ks, text, n, "tsig-keygen", err) != 0)
        fail_msg("%s", err);
    assert_int_equal(tsig_keystore_count(ks), 2);
    assert_int_equal(tsig_keystore_find(ks, (const uint8_t *)"\2k2")->alg, TSIG_ALG_SHA512);
    tsig_keystore_free(ks);
}

typedef struct bad_file {
    const char *text;
    const char *error; /* the whole message */
} bad_file_t;

static const bad_file_t BAD_FILES[] = {
    { "key \"a\" { algorithm hmac-md5; secret \"AAAA\"; };",
      "f:1: algorithm hmac-md5 is refused (MD5 is broken); make a new key with tsig-keygen -a hmac-sha256" },
    { "key a {\n algorithm hmac-sha3;\n secret AAAA; };",
      "f:2: unknown algorithm hmac-sha3 (use hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224 or hmac-sha1)" },
    { "key a {\n algorithm hmac-sha256;\n};", "f:3: key \"a\" has no secret" },
    { "key a {\n secret AAAA;\n};", "f:3: key \"a\" has no algorithm" },
    { "key a { algorithm hmac-sha256;\n secret \"AA!A\"; };", "f:2: secret is not valid base64" },
    { "key a { algorithm hmac-sha256; secret \"AAA\"; };",
      "f:1: secret is not valid base64 (length or padding)" },
    { "key a { algorithm hmac-sha256; secret \"A=AA\"; };", "f:1: secret is not valid base64" },
    { "key a { algorithm hmac-sha256; secret \"\"; };", "f:1: empty secret" },
    { "key a { algorithm hmac-sha256\n secret AAAA; };", "f:2: expected ';', found 'secret'" },
    { "key a { algorithm hmac-sha256; secret AAAA; }\n", "f:2: expected ';' after '}', found end of file" },
    { "key a { algorithm hmac-sha256; secret AAAA;\n", "f:2: key \"a\" not closed (missing '}')" },
    { "key a algorithm", "f:1: expected '{', found 'algorithm'" },
    { "\nkey \"a { };", "f:2: string not closed (missing '\"')" },
    { "/* one\n two", "f:1: comment not closed (missing \"*/\")" },
    { "server 1.2.3.4 { };", "f:1: expected 'key', found 'server' (only key statements belong in a key file)" },
    { "key a { algorithm hmac-sha256; secret AAAA; keyid 3; };",
      "f:1: unknown key option 'keyid' (expected algorithm or secret)" },
    { "key a { algorithm hmac-sha256; secret AAAA; };\nkey A. { algorithm hmac-sha256; secret AAAA; };",
      "f:2: key \"A.\" defined twice" },
    { "key \"0123456789012345678901234567890123456789012345678901234567890123\" {};",
      "f:1: bad key name \"0123456789012345678901234567890123456789012345678901234567890123\": label longer than 63 octets" },
    { "key \"\" {};", "f:1: bad key name \"\": empty name" },
    { "key { };", "f:1: expected a key name, found '{'" },
    { "key a { algorithm hmac-sha256; algorithm hmac-sha512; };", "f:1: algorithm given twice" },
    { "key a { algorithm ; };", "f:1: expected a value after algorithm, found ';'" },
    { "key a { algorithm hmac-sha256-100; secret AAAA; };",
      "f:1: hmac-sha256 MAC length 100 bits: must be a multiple of 8 from 128 to 256" },
    { "key a { algorithm hmac-sha256-64; secret AAAA; };",
      "f:1: hmac-sha256 MAC length 64 bits: must be a multiple of 8 from 128 to 256" },
    { "key a { algorithm hmac-sha1-72; secret AAAA; };",
      "f:1: hmac-sha1 MAC length 72 bits: must be a multiple of 8 from 80 to 160" },
};

static void test_bad_key_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof BAD_FILES / sizeof BAD_FILES[0]; i++) {
        tsig_keystore_t *ks = tsig_keystore_new();
        char err[TSIG_ERR_MAX] = "";
        int rc = tsig_keystore_load_text(ks, BAD_FILES[i].text, strlen(BAD_FILES[i].text), "f", err);
        if (rc != -1 || strcmp(err, BAD_FILES[i].error) != 0)
            fail_msg("file %zu: rc %d, error \"%s\", expected \"%s\"", i, rc, err,
                     BAD_FILES[i].error);
        assert_int_equal(tsig_keystore_count(ks), 0); /* all or nothing */
        tsig_keystore_free(ks);
    }
}

static void test_nul_byte_and_files(void **state)
{
    (void)state;
    tsig_keystore_t *ks = vector_keys();
    char err[TSIG_ERR_MAX];
    static const char nul[] = "key a {\n\0 };";
    assert_int_equal(tsig_keystore_load_text(ks, nul, sizeof nul - 1, "n", err), -1);
    assert_string_equal(err, "n:2: NUL byte in key file");
    /* A second file may not redefine a key of the first. */
    static const char dup[] = "key ok { algorithm hmac-sha1; secret AAAA; };\n"
                              "key \"UPDATE-key.\" { algorithm hmac-sha1; secret AAAA; };";
    assert_int_equal(tsig_keystore_load_text(ks, dup, strlen(dup), "g", err), -1);
    assert_string_equal(err, "g:2: key \"UPDATE-key.\" defined twice (already loaded from another file)");
    assert_int_equal(tsig_keystore_count(ks), 2);
    assert_int_equal(tsig_keystore_load_file(ks, "/nonexistent/k.key", err), -1);
    assert_string_equal(err, "/nonexistent/k.key: cannot open: No such file or directory");
    assert_int_equal(tsig_keystore_load_file(ks, "/", err), -1);
    assert_string_equal(err, "/: not a regular file of at most 1048576 octets");
    char path[] = "/tmp/test_dns_tsig.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char one[] = "key from-file { algorithm hmac-sha512; secret AAAA; };\n";
    assert_int_equal(write(fd, one, strlen(one)), (ssize_t)strlen(one));
    close(fd);
    assert_int_equal(tsig_keystore_load_file(ks, path, err), 0);
    unlink(path);
    assert_int_equal(tsig_keystore_count(ks), 3);
    assert_non_null(tsig_keystore_find(ks, (const uint8_t *)"\11from-file"));
    tsig_keystore_free(ks);
}

/* ---- verifying requests ----------------------------------------------- */

static void test_dnspython_requests_verify(void **state)
{
    (void)state;
    tsig_keystore_t *ks = vector_keys();
    tsig_request_t req;
    assert_int_equal(tsig_verify_request(ks, VEC_UPDATE_256, sizeof VEC_UPDATE_256, T, &req),
                     TSIG_VALID);
    assert_ptr_equal(req.key, tsig_keystore_find(ks, (const uint8_t *)"\12update-key"));
    assert_int_equal(req.error, TSIG_NOERROR);
    assert_int_equal(req.mac_len, 32);
    assert_int_equal(req.fudge, 300);
    assert_int_equal(req.orig_id, 0x1234);
    assert_true(req.time_signed == T);
    assert_true(req.unsigned_len < sizeof VEC_UPDATE_256);
    /* Mixed-case owner: the MAC covers the lowercase name. */
    assert_int_equal(tsig_verify_request(ks, VEC_QUERY_512, sizeof VEC_QUERY_512, T, &req),
                     TSIG_VALID);
    assert_int_equal(req.mac_len, 64);
    assert_memory_equal(req.key_name, "\3XFR\3Key\7example", 17);
    /* The body alone is unsigned. */
    assert_int_equal(tsig_verify_request(ks, VEC_RESP_256_BODY, sizeof VEC_RESP_256_BODY, T, &req),
                     TSIG_UNSIGNED);
    tsig_keystore_free(ks);
}

/* UPDATEs signed by the real clients (BIND's nsupdate -k, Knot's
 * knsupdate), captured by tsig_vectors.py --with-clients at their own time:
 * BADTIME far from it (which is checked after the MAC), VALID at it. */
static void test_real_clients_verify(void **state)
{
    (void)state;
    tsig_keystore_t *ks = vector_keys();
    const uint8_t *const msgs[2] = { VEC_NSUPDATE, VEC_KNSUPDATE };
    const size_t lens[2] = { sizeof VEC_NSUPDATE, sizeof VEC_KNSUPDATE };
    const char *const keys[2] = { "\12update-key", "\3xfr\3key\7example" };
    for (int i = 0; i < 2; i++) {
        tsig_request_t req;
        assert_int_equal(tsig_verify_request(ks, msgs[i], lens[i], 0, &req), TSIG_NOTAUTH);
        assert_int_equal(req.error, TSIG_BADTIME);
        assert_int_equal(DNS_OPCODE(rd16(msgs[i] + 2)), 5); /* UPDATE */
        assert_int_equal(tsig_verify_request(ks, msgs[i], lens[i], req.time_signed + 1, &req),
                         TSIG_VALID);
        assert_ptr_equal(req.key, tsig_keystore_find(ks, (const uint8_t *)keys[i]));
        uint8_t bad[256];
        memcpy(bad, msgs[i], lens[i]);
        bad[lens[i] / 3] ^= 0x04;
        assert_int_not_equal(tsig_verify_request(ks, bad, lens[i], req.time_signed, &req),
                             TSIG_VALID);
    }
    tsig_keystore_free(ks);
}

/* Whether flipping `bit` of byte i of a signed message may leave it valid:
 * the message ID (the MAC covers the original ID in the TSIG RR, RFC 8945
 * §4.3.3) and the case of the letters of the key and algorithm names (the
 * MAC covers them lowercased). */
static bool flip_is_harmless(const uint8_t *msg, size_t i, uint8_t bit, size_t tsig_start)
{
    if (i < 2)
        return true;
    if (bit != 0x20 || i < tsig_start)
        return false;
    uint8_t c = msg[i] | 0x20;
    size_t key_end = tsig_start + 12 /* "\12update-key" */;
    size_t alg_start = key_end + 10, alg_end = alg_start + 13;
    return c >= 'a' && c <= 'z' && (i < key_end || (i >= alg_start && i < alg_end));
}

static void test_any_flipped_bit_fails(void **state)
{
    (void)state;
    tsig_keystore_t *ks = vector_keys();
    tsig_request_t req;
    uint8_t msg[sizeof VEC_UPDATE_256];
    assert_int_equal(tsig_verify_request(ks, VEC_UPDATE_256, sizeof msg, T, &req), TSIG_VALID);
    size_t tsig_start = req.unsigned_len;
    size_t badsig = 0;
    for (size_t i = 0; i < sizeof msg; i++)
        for (int b = 0; b < 8; b++) {
            memcpy(msg, VEC_UPDATE_256, sizeof msg);
            msg[i] ^= (uint8_t)(1u << b);
            enum tsig_status st = tsig_verify_request(ks, msg, sizeof msg, T, &req);
            if (flip_is_harmless(VEC_UPDATE_256, i, (uint8_t)(1u << b), tsig_start)) {
                if (st != TSIG_VALID)
                    fail_msg("byte %zu bit %d: expected still valid, got %d", i, b, st);
            } else if (st == TSIG_VALID) {
                fail_msg("byte %zu bit %d flipped and still valid", i, b);
            }
            badsig += st == TSIG_NOTAUTH && req.error == TSIG_BADSIG;
        }
    assert_true(badsig > 8 * 40); /* the rest: FORMERR, BADKEY, BADTIME, BADTRUNC */
    /* In the rdata of the update, and in the MAC itself: BADSIG exactly. */
    memcpy(msg, VEC_UPDATE_256, sizeof msg);
    msg[48] ^= 1; /* 192.0.2.7 -> .6 */
    assert_int_equal(tsig_verify_request(ks, msg, sizeof msg, T, &req), TSIG_NOTAUTH);
    assert_int_equal(req.error, TSIG_BADSIG);
    assert_int_equal(req.mac_len, 0); /* not authentic: not echoed */
    memcpy(msg, VEC_UPDATE_256, sizeof msg);
    msg[sizeof msg - 7] ^= 0x80; /* last MAC octet */
    assert_int_equal(tsig_verify_request(ks, msg, sizeof msg, T, &req), TSIG_NOTAUTH);
    assert_int_equal(req.error, TSIG_BADSIG);
    tsig_keystore_free(ks);
}

static void test_badkey(void **state)
{
    (void)state;
    tsig_keystore_t *ks = tsig_keystore_new();
    char err[TSIG_ERR_MAX];
    static const char other[] = "key xfr.key.example { algorithm hmac-sha512; secret AAAA; };\n"
                                "key update-key { algorithm hmac-sha512; secret AAAA; };";
    assert_int_equal(tsig_keystore_load_text(ks, other, strlen(other), "o", err), 0);
    tsig_request_t req;
    /* Same name, other algorithm. */
    assert_int_equal(tsig_verify_request(ks, VEC_UPDATE_256, sizeof VEC_UPDATE_256, T, &req),
                     TSIG_NOTAUTH);
    assert_int_equal(req.error, TSIG_BADKEY);
    assert_null(req.key);
    tsig_keystore_free(ks);
    /* No such key. */
    ks = tsig_keystore_new();
    assert_int_equal(tsig_verify_request(ks, VEC_UPDATE_256, sizeof VEC_UPDATE_256, T, &req),
                     TSIG_NOTAUTH);
    assert_int_equal(req.error, TSIG_BADKEY);
    assert_memory_equal(req.key_name, "\12update-key", 12);
    tsig_keystore_free(ks);
}

static void test_badtime_at_the_fudge(void **state)
{
    (void)state;
    tsig_keystore_t *ks = vector_keys();
    tsig_request_t req;
    const uint64_t ok[] = { T - 300, T - 1, T, T + 1, T + 300 };
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(tsig_verify_request(ks, VEC_UPDATE_256, sizeof VEC_UPDATE_256, ok[i], &req),
                         TSIG_VALID);
    const uint64_t late[] = { T - 301, T + 301, 0, UINT64_MAX };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(tsig_verify_request(ks, VEC_UPDATE_256, sizeof VEC_UPDATE_256, late[i], &req),
                         TSIG_NOTAUTH);
        assert_int_equal(req.error, TSIG_BADTIME);
        assert_int_equal(req.mac_len, 32); /* authentic: the response covers it */
    }
    tsig_keystore_free(ks);
}

/* Copies VEC_UPDATE_256 with its MAC cut (or padded) to mac_len octets. */
static size_t with_mac_len(uint8_t *out, size_t mac_len, size_t tsig_start)
{
    size_t rdata = tsig_start + 12 + 10;           /* owner "\12update-key" + fixed fields */
    size_t mac_at = rdata + 13 + 10;               /* alg "\13hmac-sha256" + time, fudge, size */
    size_t n = 0;
    memcpy(out, VEC_UPDATE_256, mac_at);
    n = mac_at;
    for (size_t i = 0; i < mac_len; i++)
        out[n++] = i < 32 ? VEC_UPDATE_256[mac_at + i] : 0;
    memcpy(out + n, VEC_UPDATE_256 + mac_at + 32, 6);
    n += 6;
    wr16(out + mac_at - 2, (uint16_t)mac_len);
    wr16(out + rdata - 2, (uint16_t)(n - rdata));
    return n;
}

static void test_truncated_macs(void **state)
{
    (void)state;
    tsig_keystore_t *ks = vector_keys();
    tsig_request_t req;
    assert_int_equal(tsig_verify_request(ks, VEC_UPDATE_256, sizeof VEC_UPDATE_256, T, &req),
                     TSIG_VALID);
    size_t start = req.unsigned_len;
    uint8_t msg[sizeof VEC_UPDATE_256 + 8];
    size_t n = with_mac_len(msg, 32, start);
    assert_int_equal(n, sizeof VEC_UPDATE_256);
    assert_memory_equal(msg, VEC_UPDATE_256, n);
    /* §5.2.2.1 rule 1 and 3: over the hash, under max(10, half): FORMERR. */
    const size_t formerr[] = { 0, 1, 9, 10, 15, 33, 40 };
    for (size_t i = 0; i < sizeof formerr / sizeof formerr[0]; i++) {
        n = with_mac_len(msg, formerr[i], start);
        if (tsig_verify_request(ks, msg, n, T, &req) != TSIG_FORMERR)
            fail_msg("MAC of %zu octets: status %d", formerr[i], req.status);
    }
    /* Allowed by the RFC but shorter than the key's policy (full): BADTRUNC. */
    for (size_t len = 16; len < 32; len++) {
        n = with_mac_len(msg, len, start);
        assert_int_equal(tsig_verify_request(ks, msg, n, T, &req), TSIG_NOTAUTH);
        assert_int_equal(req.error, TSIG_BADTRUNC);
        assert_int_equal(req.mac_len, len);
    }
    /* Wrong truncated MAC: BADSIG comes first. */
    n = with_mac_len(msg, 20, start);
    msg[n - 7] ^= 1;
    assert_int_equal(tsig_verify_request(ks, msg, n, T, &req), TSIG_NOTAUTH);
    assert_int_equal(req.error, TSIG_BADSIG);
    tsig_keystore_free(ks);
    /* A key declared hmac-sha256-128 accepts 16 octets and more. */
    ks = tsig_keystore_new();
    char err[TSIG_ERR_MAX];
    static const char trunc[] = "key update-key { algorithm hmac-sha256-160; "
                                "secret \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"; };";
    assert_int_equal(tsig_keystore_load_text(ks, trunc, strlen(trunc), "t", err), 0);
    for (size_t len = 16; len <= 32; len++) {
        n = with_mac_len(msg, len, start);
        enum tsig_status want = len >= 20 ? TSIG_VALID : TSIG_NOTAUTH;
        assert_int_equal(tsig_verify_request(ks, msg, n, T, &req), want);
    }
    tsig_keystore_free(ks);
}

/* An RR appended to VEC_UPDATE_256 (ARCOUNT + 1). */
static size_t append_rr(uint8_t *out, const uint8_t *rr, size_t rrlen)
{
    memcpy(out, VEC_UPDATE_256, sizeof VEC_UPDATE_256);
    memcpy(out + sizeof VEC_UPDATE_256, rr, rrlen);
    wr16(out + 10, (uint16_t)(rd16(out + 10) + 1));
    return sizeof VEC_UPDATE_256 + rrlen;
}

static void test_misplaced_tsig_is_formerr(void **state)
{
    (void)state;
    tsig_keystore_t *ks = vector_keys();
    tsig_request_t req;
    assert_int_equal(tsig_verify_request(ks, VEC_UPDATE_256, sizeof VEC_UPDATE_256, T, &req),
                     TSIG_VALID);
    size_t start = req.unsigned_len, tlen = sizeof VEC_UPDATE_256 - start;
    uint8_t msg[2 * sizeof VEC_UPDATE_256];
    /* TSIG not last. */
    static const uint8_t a_rr[] = { 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4 };
    size_t n = append_rr(msg, a_rr, sizeof a_rr);
    assert_int_equal(tsig_verify_request(ks, msg, n, T, &req), TSIG_FORMERR);
    /* Two TSIGs. */
    n = append_rr(msg, VEC_UPDATE_256 + start, tlen);
    assert_int_equal(tsig_verify_request(ks, msg, n, T, &req), TSIG_FORMERR);
    /* Trailing octets after the TSIG RR. */
    memcpy(msg, VEC_UPDATE_256, sizeof VEC_UPDATE_256);
    msg[sizeof VEC_UPDATE_256] = 0;
    assert_int_equal(tsig_verify_request(ks, msg, sizeof VEC_UPDATE_256 + 1, T, &req), TSIG_FORMERR);
    /* Class IN, TTL 1, TSIG counted in the authority section. */
    const size_t cls = start + 12 + 2, ttl = cls + 2;
    memcpy(msg, VEC_UPDATE_256, sizeof VEC_UPDATE_256);
    wr16(msg + cls, DNS_CLASS_IN);
    assert_int_equal(tsig_verify_request(ks, msg, sizeof VEC_UPDATE_256, T, &req), TSIG_FORMERR);
    memcpy(msg, VEC_UPDATE_256, sizeof VEC_UPDATE_256);
    msg[ttl + 3] = 1;
    assert_int_equal(tsig_verify_request(ks, msg, sizeof VEC_UPDATE_256, T, &req), TSIG_FORMERR);
    memcpy(msg, VEC_UPDATE_256, sizeof VEC_UPDATE_256);
    wr16(msg + 8, (uint16_t)(rd16(msg + 8) + 1));
    wr16(msg + 10, 0);
    assert_int_equal(tsig_verify_request(ks, msg, sizeof VEC_UPDATE_256, T, &req), TSIG_FORMERR);
    /* Every truncation of the message: never valid, never a crash. */
    for (size_t len = 0; len < sizeof VEC_UPDATE_256; len++) {
        enum tsig_status st = tsig_verify_request(ks, VEC_UPDATE_256, len, T, &req);
        assert_true(st == TSIG_FORMERR || st == TSIG_UNSIGNED);
    }
    tsig_keystore_free(ks);
}

/* ---- signing responses ------------------------------------------------ */

static void test_response_matches_dnspython(void **state)
{
    (void)state;
    tsig_keystore_t *ks = vector_keys();
    tsig_request_t req;
    assert_int_equal(tsig_verify_request(ks, VEC_UPDATE_256, sizeof VEC_UPDATE_256, T, &req),
                     TSIG_VALID);
    uint8_t msg[512];
    size_t len = sizeof VEC_RESP_256_BODY;
    memcpy(msg, VEC_RESP_256_BODY, len);
    size_t space = tsig_space(&req);
    /* No room: nothing changes. */
    size_t short_len = len;
    assert_int_equal(tsig_sign_response(&req, msg, &short_len, len + space - 1, T + 5), -1);
    assert_int_equal(short_len, len);
    assert_memory_equal(msg, VEC_RESP_256_BODY, len);
    assert_int_equal(tsig_sign_response(&req, msg, &len, sizeof msg, T + 5), 0);
    assert_int_equal(len, sizeof VEC_RESP_256_BODY + space);
    assert_int_equal(len, sizeof VEC_RESP_256);
    assert_memory_equal(msg, VEC_RESP_256, len);
    dump("response_valid", msg, len);
    /* And our own receiver accepts it. */
    tsig_stream_t s;
    bool was_signed = false;
    assert_int_equal(tsig_stream_start_receiver(&s, req.key, req.mac, req.mac_len), 0);
    assert_int_equal(tsig_stream_verify(&s, msg, len, T + 5, &was_signed), TSIG_NOERROR);
    assert_true(was_signed);
    tsig_stream_end(&s);
    tsig_keystore_free(ks);
}

/* The TSIG RR at the end of a signed response: fields by offset. */
typedef struct tsig_fields {
    uint16_t mac_len, orig_id, error, other_len;
    uint64_t time_signed, other;
} tsig_fields_t;

static tsig_fields_t read_tsig(const uint8_t *msg, size_t start)
{
    tsig_fields_t f = { 0 };
    size_t p = start + 12 + 10 + 13; /* owner, fixed fields, algorithm */
    for (int i = 0; i < 6; i++)
        f.time_signed = f.time_signed << 8 | msg[p + i];
    f.mac_len = rd16(msg + p + 8);
    p += 10 + f.mac_len;
    f.orig_id = rd16(msg + p);
    f.error = rd16(msg + p + 2);
    f.other_len = rd16(msg + p + 4);
    for (int i = 0; i < f.other_len && i < 8; i++)
        f.other = f.other << 8 | msg[p + 6 + i];
    return f;
}

static void test_error_responses(void **state)
{
    (void)state;
    tsig_keystore_t *ks = vector_keys();
    tsig_request_t req;
    uint8_t msg[512];
    size_t len;
    /* BADTIME: signed, the request's time echoed, ours in Other Data. */
    assert_int_equal(tsig_verify_request(ks, VEC_UPDATE_256, sizeof VEC_UPDATE_256, T + 1000, &req),
                     TSIG_NOTAUTH);
    len = sizeof VEC_RESP_256_BODY;
    memcpy(msg, VEC_RESP_256_BODY, len);
    assert_int_equal(tsig_sign_response(&req, msg, &len, sizeof msg, T + 1000), 0);
    assert_int_equal(len, sizeof VEC_RESP_256_BODY + tsig_space(&req));
    assert_int_equal(rd16(msg + 10), rd16(VEC_RESP_256_BODY + 10) + 1);
    tsig_fields_t f = read_tsig(msg, sizeof VEC_RESP_256_BODY);
    assert_int_equal(f.error, TSIG_BADTIME);
    assert_int_equal(f.mac_len, 32);
    assert_true(f.time_signed == T);
    assert_int_equal(f.other_len, 6);
    assert_true(f.other == T + 1000);
    /* BADSIG and BADKEY: unsigned (MAC size 0), §5.3.2. */
    uint8_t bad[sizeof VEC_UPDATE_256];
    memcpy(bad, VEC_UPDATE_256, sizeof bad);
    bad[48] ^= 1;
    assert_int_equal(tsig_verify_request(ks, bad, sizeof bad, T, &req), TSIG_NOTAUTH);
    len = sizeof VEC_RESP_256_BODY;
    memcpy(msg, VEC_RESP_256_BODY, len);
    assert_int_equal(tsig_sign_response(&req, msg, &len, sizeof msg, T), 0);
    assert_int_equal(len, sizeof VEC_RESP_256_BODY + tsig_space(&req));
    f = read_tsig(msg, sizeof VEC_RESP_256_BODY);
    assert_int_equal(f.error, TSIG_BADSIG);
    assert_int_equal(f.mac_len, 0);
    assert_int_equal(f.orig_id, rd16(msg));
    tsig_keystore_t *empty = tsig_keystore_new();
    assert_int_equal(tsig_verify_request(empty, VEC_UPDATE_256, sizeof VEC_UPDATE_256, T, &req),
                     TSIG_NOTAUTH);
    len = sizeof VEC_RESP_256_BODY;
    memcpy(msg, VEC_RESP_256_BODY, len);
    assert_int_equal(tsig_sign_response(&req, msg, &len, sizeof msg, T), 0);
    f = read_tsig(msg, sizeof VEC_RESP_256_BODY);
    assert_int_equal(f.error, TSIG_BADKEY);
    assert_int_equal(f.mac_len, 0);
    assert_memory_equal(msg + sizeof VEC_RESP_256_BODY, "\12update-key", 12);
    tsig_keystore_free(empty);
    /* FORMERR and unsigned: nothing is added. */
    uint8_t two[2 * sizeof VEC_UPDATE_256];
    assert_int_equal(tsig_verify_request(ks, VEC_UPDATE_256, sizeof VEC_UPDATE_256, T, &req),
                     TSIG_VALID);
    size_t n = append_rr(two, VEC_UPDATE_256 + req.unsigned_len,
                         sizeof VEC_UPDATE_256 - req.unsigned_len);
    assert_int_equal(tsig_verify_request(ks, two, n, T, &req), TSIG_FORMERR);
    assert_int_equal(tsig_space(&req), 0);
    len = sizeof VEC_RESP_256_BODY;
    assert_int_equal(tsig_sign_response(&req, msg, &len, sizeof msg, T), 0);
    assert_int_equal(len, sizeof VEC_RESP_256_BODY);
    tsig_keystore_free(ks);
}

static void test_request_round_trip(void **state)
{
    (void)state;
    tsig_keystore_t *ks = vector_keys();
    for (size_t k = 0; k < tsig_keystore_count(ks); k++) {
        const tsig_key_t *key = tsig_keystore_key(ks, k);
        uint8_t msg[512], mac[TSIG_MAC_MAX];
        uint16_t mac_len = 0;
        size_t len = sizeof VEC_RESP_256_BODY;
        memcpy(msg, VEC_RESP_256_BODY, len);
        wr16(msg + 2, 0x2800); /* back to an UPDATE request */
        assert_int_equal(tsig_sign_request(key, msg, &len, sizeof msg, T, 300, mac, &mac_len), 0);
        assert_int_equal(mac_len, tsig_alg_mac_len(key->alg));
        if (k == 0)
            dump("request_signed", msg, len);
        tsig_request_t req;
        assert_int_equal(tsig_verify_request(ks, msg, len, T + 10, &req), TSIG_VALID);
        assert_ptr_equal(req.key, key);
        assert_memory_equal(req.mac, mac, mac_len);
        /* The response to it, verified as the client would. */
        size_t rlen = sizeof VEC_RESP_256_BODY;
        uint8_t resp[512];
        memcpy(resp, VEC_RESP_256_BODY, rlen);
        assert_int_equal(tsig_sign_response(&req, resp, &rlen, sizeof resp, T + 11), 0);
        tsig_stream_t s;
        bool was_signed;
        assert_int_equal(tsig_stream_start_receiver(&s, key, mac, mac_len), 0);
        assert_int_equal(tsig_stream_verify(&s, resp, rlen, T + 11, &was_signed), TSIG_NOERROR);
        tsig_stream_end(&s);
        /* A response covering another request MAC fails. */
        mac[0] ^= 1;
        assert_int_equal(tsig_stream_start_receiver(&s, key, mac, mac_len), 0);
        assert_int_equal(tsig_stream_verify(&s, resp, rlen, T + 11, &was_signed), TSIG_BADSIG);
        tsig_stream_end(&s);
    }
    tsig_keystore_free(ks);
}

/* ---- multi-message streams -------------------------------------------- */

static const uint8_t *const AXFR[3] = { VEC_AXFR_1, VEC_AXFR_2, VEC_AXFR_3 };
static const size_t AXFR_LEN[3] = { sizeof VEC_AXFR_1, sizeof VEC_AXFR_2, sizeof VEC_AXFR_3 };
static const uint8_t *const AXFR_BODY[3] = { VEC_AXFR_BODY_1, VEC_AXFR_BODY_2, VEC_AXFR_BODY_3 };
static const size_t AXFR_BODY_LEN[3] = { sizeof VEC_AXFR_BODY_1, sizeof VEC_AXFR_BODY_2,
                                         sizeof VEC_AXFR_BODY_3 };

static void test_stream_sender_matches_dnspython(void **state)
{
    (void)state;
    tsig_keystore_t *ks = vector_keys();
    tsig_request_t req;
    assert_int_equal(tsig_verify_request(ks, VEC_AXFR_REQ, sizeof VEC_AXFR_REQ, T, &req), TSIG_VALID);
    tsig_stream_t s;
    assert_int_equal(tsig_stream_start_sender(&s, &req), 0);
    for (int i = 0; i < 3; i++) {
        uint8_t msg[512];
        size_t len = AXFR_BODY_LEN[i];
        memcpy(msg, AXFR_BODY[i], len);
        assert_int_equal(tsig_stream_sign(&s, msg, &len, sizeof msg, T + 1 + (uint64_t)i), 0);
        assert_int_equal(len, AXFR_LEN[i]);
        assert_memory_equal(msg, AXFR[i], len);
        static const char *const names[3] = { "stream_1", "stream_2", "stream_3" };
        dump(names[i], msg, len);
    }
    tsig_stream_end(&s);
    /* Only a valid request starts a stream. */
    tsig_request_t unsigned_req = { .status = TSIG_UNSIGNED };
    assert_int_equal(tsig_stream_start_sender(&s, &unsigned_req), -1);
    tsig_keystore_free(ks);
}

static void test_stream_receiver_checks_the_chain(void **state)
{
    (void)state;
    tsig_keystore_t *ks = vector_keys();
    tsig_request_t req;
    assert_int_equal(tsig_verify_request(ks, VEC_AXFR_REQ, sizeof VEC_AXFR_REQ, T, &req), TSIG_VALID);
    tsig_stream_t s;
    bool was_signed;
    /* dnspython's stream verifies. */
    assert_int_equal(tsig_stream_start_receiver(&s, req.key, req.mac, req.mac_len), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tsig_stream_verify(&s, AXFR[i], AXFR_LEN[i], T + 1 + (uint64_t)i,
                                            &was_signed), TSIG_NOERROR);
        assert_true(was_signed);
    }
    tsig_stream_end(&s);
    /* Out of order: the second message first fails (its MAC chains to the
     * first's), and the stream stays failed. */
    assert_int_equal(tsig_stream_start_receiver(&s, req.key, req.mac, req.mac_len), 0);
    assert_int_equal(tsig_stream_verify(&s, AXFR[1], AXFR_LEN[1], T, &was_signed), TSIG_BADSIG);
    assert_int_equal(tsig_stream_verify(&s, AXFR[0], AXFR_LEN[0], T, &was_signed), TSIG_BADSIG);
    tsig_stream_end(&s);
    /* A flipped bit in the second message's body. */
    uint8_t msg[512];
    memcpy(msg, AXFR[1], AXFR_LEN[1]);
    msg[AXFR_BODY_LEN[1] - 1] ^= 1;
    assert_int_equal(tsig_stream_start_receiver(&s, req.key, req.mac, req.mac_len), 0);
    assert_int_equal(tsig_stream_verify(&s, AXFR[0], AXFR_LEN[0], T, &was_signed), TSIG_NOERROR);
    assert_int_equal(tsig_stream_verify(&s, msg, AXFR_LEN[1], T, &was_signed), TSIG_BADSIG);
    tsig_stream_end(&s);
    /* The first message may not be unsigned; a later one is covered by the
     * next signed one (here it is not, so the next MAC fails). */
    assert_int_equal(tsig_stream_start_receiver(&s, req.key, req.mac, req.mac_len), 0);
    assert_int_equal(tsig_stream_verify(&s, AXFR_BODY[0], AXFR_BODY_LEN[0], T, &was_signed),
                     TSIG_BADSIG);
    tsig_stream_end(&s);
    assert_int_equal(tsig_stream_start_receiver(&s, req.key, req.mac, req.mac_len), 0);
    assert_int_equal(tsig_stream_verify(&s, AXFR[0], AXFR_LEN[0], T, &was_signed), TSIG_NOERROR);
    assert_int_equal(tsig_stream_verify(&s, AXFR_BODY[1], AXFR_BODY_LEN[1], T, &was_signed),
                     TSIG_NOERROR);
    assert_false(was_signed);
    assert_int_equal(tsig_stream_verify(&s, AXFR[2], AXFR_LEN[2], T, &was_signed), TSIG_BADSIG);
    tsig_stream_end(&s);
    /* Time: each message within its fudge. */
    assert_int_equal(tsig_stream_start_receiver(&s, req.key, req.mac, req.mac_len), 0);
    assert_int_equal(tsig_stream_verify(&s, AXFR[0], AXFR_LEN[0], T + 1 + 301, &was_signed),
                     TSIG_BADTIME);
    tsig_stream_end(&s);
    tsig_keystore_free(ks);
}

/* §5.3.1: unsigned messages between signed ones are covered by the next
 * MAC (dnspython's stream with its second message unsigned), at most 99
 * in a row. */
static void test_stream_unsigned_messages(void **state)
{
    (void)state;
    tsig_keystore_t *ks = vector_keys();
    tsig_request_t req;
    assert_int_equal(tsig_verify_request(ks, VEC_AXFR_REQ, sizeof VEC_AXFR_REQ, T, &req), TSIG_VALID);
    tsig_stream_t s;
    bool was_signed;
    assert_int_equal(tsig_stream_start_receiver(&s, req.key, req.mac, req.mac_len), 0);
    assert_int_equal(tsig_stream_verify(&s, VEC_AXFR_GAP_1, sizeof VEC_AXFR_GAP_1, T, &was_signed),
                     TSIG_NOERROR);
    assert_true(was_signed);
    assert_int_equal(tsig_stream_verify(&s, VEC_AXFR_GAP_2, sizeof VEC_AXFR_GAP_2, T, &was_signed),
                     TSIG_NOERROR);
    assert_false(was_signed);
    assert_int_equal(tsig_stream_verify(&s, VEC_AXFR_GAP_3, sizeof VEC_AXFR_GAP_3, T, &was_signed),
                     TSIG_NOERROR);
    assert_true(was_signed);
    tsig_stream_end(&s);
    /* Without the unsigned message the third MAC does not match. */
    assert_int_equal(tsig_stream_start_receiver(&s, req.key, req.mac, req.mac_len), 0);
    assert_int_equal(tsig_stream_verify(&s, VEC_AXFR_GAP_1, sizeof VEC_AXFR_GAP_1, T, &was_signed),
                     TSIG_NOERROR);
    assert_int_equal(tsig_stream_verify(&s, VEC_AXFR_GAP_3, sizeof VEC_AXFR_GAP_3, T, &was_signed),
                     TSIG_BADSIG);
    tsig_stream_end(&s);
    /* The limit. */
    assert_int_equal(tsig_stream_start_receiver(&s, req.key, req.mac, req.mac_len), 0);
    assert_int_equal(tsig_stream_verify(&s, AXFR[0], AXFR_LEN[0], T, &was_signed), TSIG_NOERROR);
    for (int i = 0; i < TSIG_MAX_UNSIGNED; i++)
        assert_int_equal(tsig_stream_verify(&s, AXFR_BODY[1], AXFR_BODY_LEN[1], T, &was_signed),
                         TSIG_NOERROR);
    assert_int_equal(tsig_stream_verify(&s, AXFR_BODY[1], AXFR_BODY_LEN[1], T, &was_signed),
                     TSIG_BADSIG);
    tsig_stream_end(&s);
    tsig_stream_end(&s); /* twice is harmless */
    tsig_keystore_free(ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_output_parses),
        cmocka_unit_test(test_real_tsig_keygen),
        cmocka_unit_test(test_bad_key_files),
        cmocka_unit_test(test_nul_byte_and_files),
        cmocka_unit_test(test_dnspython_requests_verify),
        cmocka_unit_test(test_real_clients_verify),
        cmocka_unit_test(test_any_flipped_bit_fails),
        cmocka_unit_test(test_badkey),
        cmocka_unit_test(test_badtime_at_the_fudge),
        cmocka_unit_test(test_truncated_macs),
        cmocka_unit_test(test_misplaced_tsig_is_formerr),
        cmocka_unit_test(test_response_matches_dnspython),
        cmocka_unit_test(test_error_responses),
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_stream_sender_matches_dnspython),
        cmocka_unit_test(test_stream_receiver_checks_the_chain),
        cmocka_unit_test(test_stream_unsigned_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
