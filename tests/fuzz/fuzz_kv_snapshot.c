/* tests/fuzz/fuzz_kv_snapshot.c — libFuzzer target for restoring the
 * replicated state machine from a snapshot stream (kv/statemachine.h
 * sm_restore): the bytes come from a file on disk or from a leader, so
 * they are hostile.
 *
 * Input: byte 0 is a mode, the rest the stream. Mode bit 0 appends a correct
 * trailer (length and CRC-32 of the rest), so the fuzzer gets past the
 * checksum to the structure behind it; without it the stream is used as is.
 * Mode bits 1-3 set the size of the pieces the read callback hands out
 * (0: whatever is asked; k: 2^k bytes), to exercise short reads.
 *
 * Properties checked besides "no crash, no sanitizer report":
 *  - the restore goes into a machine that already holds a key; when it
 *    fails, the machine's snapshot is byte for byte what it was before
 *    (the state is untouched) and the error is non-empty;
 *  - when it succeeds, sm_snapshot -> bytes -> sm_restore into a fresh
 *    machine -> sm_snapshot gives the same bytes, and the applied index is
 *    the one in the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "kv/command.h"
#include "common/crc32c.h"
#include "kv/statemachine.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_same(const fuzz_out_t *a, const fuzz_out_t *b)
{
    fuzz_check(a->len == b->len && memcmp(a->data, b->data, a->len) == 0);
}

/* A machine holding one key at index 7. */
static sm_t *machine_with_a_key(void)
{
    sm_t *sm = sm_new(NULL, NULL);
    fuzz_check(sm != NULL);
    uint8_t *cmd;
    size_t len;
    const char *err;
    fuzz_check(kv_cmd_encode_set(1, 1, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, &cmd,
                                 &len, &err) == 0);
    kv_result_t res;
    sm_apply(sm, 7, cmd, len, &res);
    fuzz_check(res.status == KV_OK);
    free(cmd);
    return sm;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void check_restored(sm_t *sm, const uint8_t *stream, size_t len)
{
    fuzz_check(len >= 13 && sm_applied_index(sm) == le64(stream + 5));
    fuzz_out_t first = { 0 }, second = { 0 };
    fuzz_check(sm_snapshot(sm, fuzz_out_write, &first) == 0);
    sm_t *again = sm_new(NULL, NULL);
    fuzz_check(again != NULL);
    fuzz_in_t in = { .data = first.data, .len = first.len };
    const char *err = NULL;
    fuzz_check(sm_restore(again, fuzz_in_read, &in, &err) == 0);
    fuzz_check(sm_snapshot(again, fuzz_out_write, &second) == 0);
    check_same(&first, &second);
    sm_free(again);
    fuzz_out_free(&first);
    fuzz_out_free(&second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) { /* every refusal is logged; a million of them is noise */
        log_set_level(LOG_OFF);
        quiet = true;
    }
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    fuzz_out_t stream = { 0 };
    fuzz_out_write(&stream, data + 1, size - 1);
    if (mode & 1) {
        uint8_t trailer[12];
        uint64_t total = size - 1;
        uint32_t crc = crc32c(0, data + 1, size - 1);
        for (int i = 0; i < 8; i++)
            trailer[i] = (uint8_t)(total >> (8 * i));
        for (int i = 0; i < 4; i++)
            trailer[8 + i] = (uint8_t)(crc >> (8 * i));
        fuzz_out_write(&stream, trailer, sizeof trailer);
    }
    unsigned k = (mode >> 1) & 7;
    fuzz_in_t in = { .data = stream.data, .len = stream.len, .piece = k ? (size_t)1 << k : 0 };

    sm_t *sm = machine_with_a_key();
    fuzz_out_t before = { 0 };
    fuzz_check(sm_snapshot(sm, fuzz_out_write, &before) == 0);
    const char *err = NULL;
    if (sm_restore(sm, fuzz_in_read, &in, &err) == 0) {
        check_restored(sm, stream.data, stream.len);
    } else {
        fuzz_check(err != NULL && err[0] != 0);
        fuzz_out_t after = { 0 };
        fuzz_check(sm_snapshot(sm, fuzz_out_write, &after) == 0);
        check_same(&before, &after);
        fuzz_out_free(&after);
    }
    fuzz_out_free(&before);
    fuzz_out_free(&stream);
    sm_free(sm);
    return 0;
}
