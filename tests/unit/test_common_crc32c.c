/* tests/unit/test_common_crc32c.c — CRC-32C (common/crc32c.c): the RFC 3720 §B.4
 * vectors, software and hardware paths agreeing on every length and
 * alignment, and chaining. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);
static const crc_fn implementations[] = { crc32c, crc32c_portable, crc32c_hardware };
#define N_IMPL (sizeof implementations / sizeof implementations[0])

static void expect_all(const void *buf, size_t len, uint32_t want)
{
    for (size_t i = 0; i < N_IMPL; i++)
        assert_int_equal(implementations[i](0, buf, len), want);
}

/* RFC 3720 Appendix B.4 (the CRC bytes there are listed least significant
 * first: "aa 36 91 8a" is 0x8a9136aa). */
static void test_rfc3720_vectors(void **state)
{
    (void)state;
    uint8_t buf[32];
    memset(buf, 0, sizeof buf);
    expect_all(buf, sizeof buf, 0x8a9136aau);
    memset(buf, 0xff, sizeof buf);
    expect_all(buf, sizeof buf, 0x62a8ab43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    expect_all(buf, sizeof buf, 0x46dd794eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    expect_all(buf, sizeof buf, 0x113fdb5cu);

    static const uint8_t iscsi_read_pdu[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    expect_all(iscsi_read_pdu, sizeof iscsi_read_pdu, 0xd9963a56u);
}

static void test_check_value_and_empty(void **state)
{
    (void)state;
    expect_all("123456789", 9, 0xe3069283u);
    expect_all("", 0, 0);
    expect_all("a", 1, 0xc1d04330u);
}

/* A cheap deterministic generator so failures reproduce. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_paths_agree_on_every_length_and_alignment(void **state)
{
    (void)state;
    uint8_t buf[600];
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)next_random(&seed);
    for (size_t align = 0; align < 8; align++)
        for (size_t len = 0; len + align <= 300; len++) {
            uint32_t sw = crc32c_portable(0, buf + align, len);
            assert_int_equal(crc32c_hardware(0, buf + align, len), sw);
            assert_int_equal(crc32c(0, buf + align, len), sw);
        }
}

static void test_chaining_equals_one_pass(void **state)
{
    (void)state;
    uint8_t buf[257];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < N_IMPL; i++) {
        uint32_t whole = implementations[i](0, buf, sizeof buf);
        for (size_t cut = 0; cut <= sizeof buf; cut += 13) {
            uint32_t head = implementations[i](0, buf, cut);
            assert_int_equal(implementations[i](head, buf + cut, sizeof buf - cut), whole);
        }
    }
}

static void test_single_bit_flip_changes_crc(void **state)
{
    (void)state;
    uint8_t buf[100];
    memset(buf, 0x5a, sizeof buf);
    uint32_t base = crc32c(0, buf, sizeof buf);
    for (size_t bit = 0; bit < sizeof buf * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_not_equal(crc32c(0, buf, sizeof buf), base);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

/* On x86-64 the instruction must really be used when the CPU has it
 * (/proc/cpuinfo lists "sse4_2"), or the fast path silently rotted. */
static void test_hardware_path_is_used_when_available(void **state)
{
    (void)state;
#if defined(__x86_64__)
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        skip();
    char line[4096];
    bool has = false;
    while (!has && fgets(line, sizeof line, f))
        has = strncmp(line, "flags", 5) == 0 && strstr(line, " sse4_2") != NULL;
    fclose(f);
    assert_int_equal(crc32c_has_hardware(), has);
#else
    assert_false(crc32c_has_hardware());
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3720_vectors),
        cmocka_unit_test(test_check_value_and_empty),
        cmocka_unit_test(test_paths_agree_on_every_length_and_alignment),
        cmocka_unit_test(test_chaining_equals_one_pass),
        cmocka_unit_test(test_single_bit_flip_changes_crc),
        cmocka_unit_test(test_hardware_path_is_used_when_available),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
