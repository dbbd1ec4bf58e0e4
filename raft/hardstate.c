/* raft/hardstate.c — encode, check and atomically replace DIR/hardstate
 * (see hardstate.h for the layout). */
#include "raft/hardstate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crc32c.h"

static const uint8_t HARDSTATE_MAGIC[8] = { 'R', 'A', 'F', 'T', 'H', 'S', 'T', 0 };
#define HARDSTATE_VERSION 1
#define HARDSTATE_CRC_OFFSET 40

void hardstate_encode(const struct hardstate *hs, uint8_t out[HARDSTATE_SIZE])
{
    memset(out, 0, HARDSTATE_SIZE);
    memcpy(out, HARDSTATE_MAGIC, sizeof HARDSTATE_MAGIC);
    put_le32(out + 8, HARDSTATE_VERSION);
    put_le64(out + 16, hs->term);
    put_le64(out + 24, hs->vote);
    put_le64(out + 32, hs->commit);
    put_le32(out + HARDSTATE_CRC_OFFSET, crc32c(0, out, HARDSTATE_CRC_OFFSET));
}

int hardstate_decode(const uint8_t *buf, size_t len, struct hardstate *hs,
                     size_t *bad_offset, const char **why)
{
    if (len != HARDSTATE_SIZE) {
        *bad_offset = len < HARDSTATE_SIZE ? len : HARDSTATE_SIZE;
        *why = len < HARDSTATE_SIZE ? "file too short" : "file too long";
        return -EBADMSG;
    }
    if (memcmp(buf, HARDSTATE_MAGIC, sizeof HARDSTATE_MAGIC) != 0) {
        *bad_offset = 0;
        *why = "bad magic";
        return -EBADMSG;
    }
    /* The checksum before the version: a flipped version bit is corruption,
     * not a file from the future. */
    if (get_le32(buf + HARDSTATE_CRC_OFFSET) != crc32c(0, buf, HARDSTATE_CRC_OFFSET)) {
        *bad_offset = HARDSTATE_CRC_OFFSET;
        *why = "checksum mismatch";
        return -EBADMSG;
    }
    /* The pad after the checksum is outside it; zero is the only valid
     * value, so no byte of the file can change unnoticed. */
    if (get_le32(buf + HARDSTATE_CRC_OFFSET + 4) != 0) {
        *bad_offset = HARDSTATE_CRC_OFFSET + 4;
        *why = "nonzero padding";
        return -EBADMSG;
    }
    /* The reserved word at 12 is inside the checksum but must be zero too:
     * otherwise two files would decode to the same state. */
    if (get_le32(buf + 12) != 0) {
        *bad_offset = 12;
        *why = "nonzero reserved field";
        return -EBADMSG;
    }
    if (get_le32(buf + 8) != HARDSTATE_VERSION) {
        *bad_offset = 8;
        *why = "unsupported version";
        return -EBADMSG;
    }
    hs->term = get_le64(buf + 16);
    hs->vote = get_le64(buf + 24);
    hs->commit = get_le64(buf + 32);
    return 0;
}

/* A temp file is an interrupted save whose rename never happened: the
 * real file (old version) is authoritative, the temp file garbage. */
static int remove_stale_temp(const char *data_dir, struct storage_error *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", data_dir, HARDSTATE_FILE);
    if (access(tmp, F_OK) != 0)
        return 0;
    return storage_unlink_durable(data_dir, HARDSTATE_FILE ".tmp", err);
}

int hardstate_load(const char *data_dir, struct hardstate *hs, bool *found,
                   struct storage_error *err)
{
    memset(hs, 0, sizeof *hs);
    *found = false;
    int rc = remove_stale_temp(data_dir, err);
    if (rc < 0)
        return rc;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data_dir, HARDSTATE_FILE);
    uint8_t *buf;
    size_t len;
    rc = storage_read_file(path, 4096, &buf, &len, err);
    if (rc == -ENOENT)
        return 0;
    if (rc == -EFBIG)
        return storage_fail(err, -EBADMSG, "%s: offset %d: file too long (corrupt hard state)",
                            path, HARDSTATE_SIZE);
    if (rc < 0)
        return rc;
    size_t bad_offset = 0;
    const char *why = NULL;
    rc = hardstate_decode(buf, len, hs, &bad_offset, &why);
    free(buf);
    if (rc < 0) {
        memset(hs, 0, sizeof *hs);
        return storage_fail(err, rc, "%s: offset %zu: %s (corrupt hard state; refusing to start)",
                            path, bad_offset, why);
    }
    *found = true;
    return 0;
}

int hardstate_save(const char *data_dir, const struct hardstate *hs, struct storage_error *err)
{
    uint8_t buf[HARDSTATE_SIZE];
    hardstate_encode(hs, buf);
    return storage_write_file_atomic(data_dir, HARDSTATE_FILE, buf, sizeof buf, err);
}
