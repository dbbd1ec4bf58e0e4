/* tests/unit/test_kv_store.c — the KV hash table (kv/store.c): set, get,
 * replace, delete across table growth, and kv_store_sorted's order checked
 * against a plain memcmp sort on keys built to hit every branch of its
 * 16-byte-prefix comparison (short keys, zero bytes, long common prefixes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kv/store.h"

static int set_text(kv_store_t *s, const char *k, const char *v)
{
    return kv_store_set(s, (const uint8_t *)k, strlen(k), (const uint8_t *)v, strlen(v));
}

static void assert_value(const kv_store_t *s, const char *k, const char *want)
{
    const uint8_t *v;
    size_t vlen;
    assert_true(kv_store_get(s, (const uint8_t *)k, strlen(k), &v, &vlen));
    assert_int_equal(vlen, strlen(want));
    assert_memory_equal(v, want, vlen);
}

static void test_set_get_replace_delete(void **state)
{
    (void)state;
    kv_store_t *s = kv_store_new();
    assert_non_null(s);
    assert_int_equal(set_text(s, "foo", "bar"), 0);
    assert_value(s, "foo", "bar");
    assert_int_equal(set_text(s, "foo", "longer value"), 0);
    assert_value(s, "foo", "longer value");
    assert_int_equal(kv_store_count(s), 1);
    assert_int_equal(set_text(s, "empty", ""), 0);
    assert_value(s, "empty", "");
    assert_true(kv_store_del(s, (const uint8_t *)"foo", 3));
    assert_false(kv_store_del(s, (const uint8_t *)"foo", 3));
    const uint8_t *v;
    size_t vlen;
    assert_false(kv_store_get(s, (const uint8_t *)"foo", 3, &v, &vlen));
    assert_int_equal(kv_store_count(s), 1);
    kv_store_free(s);
}

/* Enough keys to double the bucket array several times; every key must
 * survive the rehashes, and deleting half must leave exactly the other half. */
static void test_growth_keeps_every_key(void **state)
{
    (void)state;
    kv_store_t *s = kv_store_new();
    char k[32], v[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "key-%d", i);
        snprintf(v, sizeof v, "v%d", i * 7);
        assert_int_equal(set_text(s, k, v), 0);
    }
    assert_int_equal(kv_store_count(s), 5000);
    for (int i = 0; i < 5000; i += 2) {
        snprintf(k, sizeof k, "key-%d", i);
        assert_true(kv_store_del(s, (const uint8_t *)k, strlen(k)));
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "key-%d", i);
        snprintf(v, sizeof v, "v%d", i * 7);
        const uint8_t *got;
        size_t glen;
        bool present = kv_store_get(s, (const uint8_t *)k, strlen(k), &got, &glen);
        assert_int_equal(present, i % 2 == 1);
        if (present)
            assert_value(s, k, v);
    }
    assert_int_equal(kv_store_count(s), 2500);
    kv_store_free(s);
}

typedef struct raw_key {
    uint8_t b[40];
    size_t len;
} raw_key_t;

static int reference_cmp(const void *a, const void *b)
{
    const raw_key_t *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->b, y->b, n);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Keys drawn from a tiny alphabet (0x00, 0x01, 'a', 0xff) over lengths 0..40
 * so that many share 16-byte prefixes, differ only past byte 16, or are a
 * prefix of one another with zero bytes after. */
static size_t random_keys(raw_key_t *keys, size_t want, unsigned seed)
{
    static const uint8_t alphabet[] = { 0x00, 0x01, 'a', 0xff };
    srand(seed);
    size_t n = 0;
    while (n < want) {
        raw_key_t k = { .len = (size_t)(rand() % 41) };
        size_t common = (size_t)(rand() % 3 == 0 ? 16 : 0);
        for (size_t i = 0; i < k.len; i++)
            k.b[i] = i < common ? 'a' : alphabet[rand() % 4];
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = reference_cmp(&keys[j], &k) == 0;
        if (!dup)
            keys[n++] = k;
    }
    return n;
}

static void test_sorted_matches_bytewise_order(void **state)
{
    (void)state;
    enum { N = 1500 };
    raw_key_t *keys = calloc(N, sizeof *keys);
    for (unsigned seed = 1; seed <= 4; seed++) {
        size_t n = random_keys(keys, N, seed);
        kv_store_t *s = kv_store_new();
        for (size_t i = 0; i < n; i++)
            assert_int_equal(kv_store_set(s, keys[i].b, keys[i].len, (const uint8_t *)&i, sizeof i), 0);
        qsort(keys, n, sizeof *keys, reference_cmp);
        size_t count;
        kv_entry_t *e = kv_store_sorted(s, &count);
        assert_non_null(e);
        assert_int_equal(count, n);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(e[i].key_len, keys[i].len);
            if (keys[i].len)
                assert_memory_equal(e[i].key, keys[i].b, keys[i].len);
            const uint8_t *v;
            size_t vlen;
            assert_true(kv_store_get(s, keys[i].b, keys[i].len, &v, &vlen));
            assert_ptr_equal(e[i].value, v);
            assert_int_equal(e[i].value_len, vlen);
        }
        free(e);
        kv_store_free(s);
    }
    free(keys);
}

static void test_sorted_edge_pairs(void **state)
{
    (void)state;
    /* Each pair in the order it must come out. */
    static const struct {
        const char *k;
        size_t len;
    } order[] = {
        { "", 0 },
        { "a", 1 },
        { "a\0", 2 },
        { "a\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16 },
        { "a\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 17 },
        { "a\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 17 },
        { "aaaaaaaaaaaaaaaa", 16 },
        { "aaaaaaaaaaaaaaaab", 17 },
        { "aaaaaaaaaaaaaaaabb", 18 },
        { "aaaaaaaaaaaaaaaac", 17 },
        { "b", 1 },
        { "\xff", 1 },
    };
    size_t n = sizeof order / sizeof order[0];
    kv_store_t *s = kv_store_new();
    for (size_t i = n; i-- > 0;)
        assert_int_equal(kv_store_set(s, (const uint8_t *)order[i].k, order[i].len,
                                      (const uint8_t *)"v", 1), 0);
    size_t count;
    kv_entry_t *e = kv_store_sorted(s, &count);
    assert_int_equal(count, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(e[i].key_len, order[i].len);
        assert_memory_equal(e[i].key, order[i].k, order[i].len);
    }
    free(e);
    kv_store_free(s);
}

static void test_sorted_empty_store(void **state)
{
    (void)state;
    kv_store_t *s = kv_store_new();
    size_t count = 99;
    assert_null(kv_store_sorted(s, &count));
    assert_int_equal(count, 0);
    kv_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_replace_delete),
        cmocka_unit_test(test_growth_keeps_every_key),
        cmocka_unit_test(test_sorted_matches_bytewise_order),
        cmocka_unit_test(test_sorted_edge_pairs),
        cmocka_unit_test(test_sorted_empty_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
