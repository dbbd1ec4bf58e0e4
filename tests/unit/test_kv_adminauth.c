/* tests/unit/test_kv_adminauth.c — the admin token (kv/adminauth.c): what a
 * token file may hold (trimmed, one line, long enough, printable), files
 * that are not regular files, the group-readable warning flag, matching
 * (exact only: no prefix, no extension, no empty), and which listen
 * addresses count as loopback. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kv/adminauth.h"

#define GOOD "Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OQ=="

static void test_token_text_rules(void **state)
{
    (void)state;
    char err[ADMIN_AUTH_ERR_MAX];
    adminauth_token_t *t = admin_token_from_text("  " GOOD " \n\n", strlen(GOOD) + 5, err);
    assert_non_null(t);
    assert_string_equal(admin_token_text(t), GOOD);
    admin_token_free(t);

    static const struct {
        const char *text;
        const char *why;
    } bad[] = {
        { "", "the token is empty" },
        { " \n\t", "the token is empty" },
        { "short", "the token is too short" },
        { "0123456789abcde", "the token is too short" }, /* 15 */
        { GOOD "\n" GOOD, "the token file holds more than one line" },
        { "0123456789 abcdef", "the token may hold only printable ASCII" },
        { "0123456789abcdef\x01", "the token may hold only printable ASCII" },
        { "0123456789abcdef\xc3\xa9", "the token may hold only printable ASCII" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_null(admin_token_from_text(bad[i].text, strlen(bad[i].text), err));
        if (strncmp(err, bad[i].why, strlen(bad[i].why)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err, bad[i].why);
    }
    char *huge = malloc(ADMIN_TOKEN_MAX + 2);
    memset(huge, 'x', ADMIN_TOKEN_MAX + 1);
    assert_non_null(t = admin_token_from_text(huge, ADMIN_TOKEN_MAX, err));
    admin_token_free(t);
    assert_null(admin_token_from_text(huge, ADMIN_TOKEN_MAX + 1, err));
    assert_string_equal(err, "the token is too long (at most 1024 characters)");
    free(huge);
}

static void test_token_matches_exactly(void **state)
{
    (void)state;
    char err[ADMIN_AUTH_ERR_MAX];
    adminauth_token_t *t = admin_token_from_text(GOOD, strlen(GOOD), err);
    assert_non_null(t);
    assert_true(admin_token_matches(t, GOOD, strlen(GOOD)));
    assert_false(admin_token_matches(t, GOOD, strlen(GOOD) - 1)); /* a prefix */
    assert_false(admin_token_matches(t, GOOD "=", strlen(GOOD) + 1));
    assert_false(admin_token_matches(t, "", 0));
    assert_false(admin_token_matches(t, "Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OQ=!", strlen(GOOD)));
    char *big = malloc(ADMIN_TOKEN_MAX + 10);
    memset(big, 'Z', ADMIN_TOKEN_MAX + 10);
    assert_false(admin_token_matches(t, big, ADMIN_TOKEN_MAX + 10));
    free(big);
    assert_false(admin_token_matches(NULL, GOOD, strlen(GOOD)));
    admin_token_free(t);
}

static char *temp_path(const char *name)
{
    char *p = malloc(256);
    snprintf(p, 256, "/tmp/test_kv_adminauth.%d.%s", (int)getpid(), name);
    return p;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_token_file(void **state)
{
    (void)state;
    char err[ADMIN_AUTH_ERR_MAX];
    bool loose = true;
    char *path = temp_path("token");
    write_file(path, GOOD "\n", 0600);
    adminauth_token_t *t = admin_token_load(path, &loose, err);
    assert_non_null(t);
    assert_false(loose);
    assert_true(admin_token_matches(t, GOOD, strlen(GOOD)));
    admin_token_free(t);

    chmod(path, 0644);
    assert_non_null(t = admin_token_load(path, &loose, err));
    assert_true(loose); /* the daemon warns */
    admin_token_free(t);

    write_file(path, "\n", 0600);
    assert_null(admin_token_load(path, &loose, err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "the token is empty"));

    write_file(path, "tooshort\n", 0600);
    assert_null(admin_token_load(path, &loose, err));
    assert_non_null(strstr(err, "too short"));

    unlink(path);
    assert_null(admin_token_load(path, &loose, err));
    assert_non_null(strstr(err, "No such file"));

    /* A FIFO would block a plain open/read forever. */
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_null(admin_token_load(path, &loose, err));
    assert_non_null(strstr(err, "not a regular file"));
    unlink(path);

    assert_null(admin_token_load("/tmp", &loose, err));
    assert_non_null(strstr(err, "not a regular file"));
    free(path);
}

static void test_loopback_addresses(void **state)
{
    (void)state;
    assert_true(adminauth_addr_is_loopback("127.0.0.1:8400"));
    assert_true(adminauth_addr_is_loopback("127.9.8.7:1"));
    assert_true(adminauth_addr_is_loopback("[::1]:8400"));
    assert_true(adminauth_addr_is_loopback("[::ffff:127.0.0.1]:8400"));
    assert_true(adminauth_addr_is_loopback("localhost:8400"));
    assert_false(adminauth_addr_is_loopback(":8300"));
    assert_false(adminauth_addr_is_loopback("0.0.0.0:8300"));
    assert_false(adminauth_addr_is_loopback("[::]:8300"));
    assert_false(adminauth_addr_is_loopback("192.0.2.1:8300"));
    assert_false(adminauth_addr_is_loopback("128.0.0.1:8300"));
    assert_false(adminauth_addr_is_loopback("example.com:8300"));
    assert_false(adminauth_addr_is_loopback("nonsense"));
    assert_false(adminauth_addr_is_loopback(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_text_rules),
        cmocka_unit_test(test_token_matches_exactly),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_loopback_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
