/* raft/identity.c — DIR/identity (encode, check, atomic replace), the
 * cluster id, and its encodings in a log entry and in the snapshot
 * envelope (see identity.h). */
#include "raft/identity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/crc32c.h"

static const uint8_t IDENTITY_MAGIC[8] = { 'R', 'A', 'F', 'T', 'I', 'D', 'N', 0 };
static const uint8_t ENTRY_MAGIC[8] = { 0xff, 'R', 'A', 'F', 'T', 'C', 'I', 'D' };
static const uint8_t TRAILER_MAGIC[4] = { 'R', 'C', 'I', 'D' };
#define IDENTITY_VERSION 1
#define IDENTITY_HEADER 32

static bool all_zero(const uint8_t *p, size_t len)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= p[i];
    return acc == 0;
}

size_t identity_encode(const struct identity *id, uint8_t *out)
{
    size_t nl = strnlen(id->name, ADDRBOOK_NAME_MAX - 1);
    memset(out, 0, IDENTITY_HEADER);
    memcpy(out, IDENTITY_MAGIC, sizeof IDENTITY_MAGIC);
    put_le32(out + 8, IDENTITY_VERSION);
    put_le32(out + 12, (uint32_t)nl);
    if (id->has_cluster)
        memcpy(out + 16, id->cluster, CLUSTER_ID_LEN);
    memcpy(out + IDENTITY_HEADER, id->name, nl);
    put_le32(out + IDENTITY_HEADER + nl, crc32c(0, out, IDENTITY_HEADER + nl));
    return IDENTITY_HEADER + nl + 4;
}

static int bad(size_t *bad_offset, const char **why, size_t off, const char *reason)
{
    *bad_offset = off;
    *why = reason;
    return -EBADMSG;
}

int identity_decode(const uint8_t *buf, size_t len, struct identity *id, size_t *bad_offset,
                    const char **why)
{
    memset(id, 0, sizeof *id);
    if (len < IDENTITY_HEADER + 1 + 4)
        return bad(bad_offset, why, len, "file too short");
    if (memcmp(buf, IDENTITY_MAGIC, sizeof IDENTITY_MAGIC) != 0)
        return bad(bad_offset, why, 0, "bad magic");
    uint32_t nl = get_le32(buf + 12);
    if (nl == 0 || nl >= ADDRBOOK_NAME_MAX)
        return bad(bad_offset, why, 12, "bad name length");
    if (len != IDENTITY_HEADER + nl + 4)
        return bad(bad_offset, why, len < IDENTITY_HEADER + nl + 4 ? len : IDENTITY_HEADER + nl + 4,
                   len < IDENTITY_HEADER + nl + 4 ? "file too short" : "file too long");
    /* The checksum before the version: a flipped version bit is corruption,
     * not a file from the future (as in hardstate.c). */
    if (get_le32(buf + IDENTITY_HEADER + nl) != crc32c(0, buf, IDENTITY_HEADER + nl))
        return bad(bad_offset, why, IDENTITY_HEADER + nl, "checksum mismatch");
    if (get_le32(buf + 8) != IDENTITY_VERSION)
        return bad(bad_offset, why, 8, "unsupported version");
    if (memchr(buf + IDENTITY_HEADER, '\0', nl) != NULL)
        return bad(bad_offset, why, IDENTITY_HEADER, "NUL in the node name");
    memcpy(id->name, buf + IDENTITY_HEADER, nl);
    id->name[nl] = '\0';
    id->has_cluster = !all_zero(buf + 16, CLUSTER_ID_LEN);
    memcpy(id->cluster, buf + 16, CLUSTER_ID_LEN);
    return 0;
}

int identity_load(const char *dir, struct identity *id, bool *found, struct storage_error *err)
{
    memset(id, 0, sizeof *id);
    *found = false;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.tmp", dir, IDENTITY_FILE);
    if (access(path, F_OK) == 0) {
        /* An interrupted save: the real file (if any) is authoritative. */
        int rc = storage_unlink_durable(dir, IDENTITY_FILE ".tmp", err);
        if (rc < 0)
            return rc;
    }
    snprintf(path, sizeof path, "%s/%s", dir, IDENTITY_FILE);
    uint8_t *buf;
    size_t len;
    int rc = storage_read_file(path, IDENTITY_SIZE_MAX, &buf, &len, err);
    if (rc == -ENOENT)
        return 0;
    if (rc == -EFBIG)
        return storage_fail(err, -EBADMSG, "%s: offset %d: file too long (corrupt identity file)",
                            path, IDENTITY_SIZE_MAX);
    if (rc < 0)
        return rc;
    size_t bad_offset = 0;
    const char *why = NULL;
    rc = identity_decode(buf, len, id, &bad_offset, &why);
    free(buf);
    if (rc < 0)
        return storage_fail(err, rc, "%s: offset %zu: %s (corrupt identity file; refusing to start)",
                            path, bad_offset, why);
    *found = true;
    return 0;
}

int identity_save(const char *dir, const struct identity *id, struct storage_error *err)
{
    uint8_t buf[IDENTITY_SIZE_MAX];
    size_t len = identity_encode(id, buf);
    return storage_write_file_atomic(dir, IDENTITY_FILE, buf, len, err);
}

int cluster_id_generate(uint8_t out[CLUSTER_ID_LEN])
{
    do {
        if (RAND_bytes(out, CLUSTER_ID_LEN) != 1)
            return -1;
    } while (all_zero(out, CLUSTER_ID_LEN));
    return 0;
}

void cluster_id_text(const uint8_t id[CLUSTER_ID_LEN], char out[CLUSTER_ID_TEXT])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < CLUSTER_ID_LEN; i++) {
        out[2 * i] = hex[id[i] >> 4];
        out[2 * i + 1] = hex[id[i] & 15];
    }
    out[2 * CLUSTER_ID_LEN] = '\0';
}

void cluster_entry_encode(const uint8_t id[CLUSTER_ID_LEN], uint8_t out[CLUSTER_ENTRY_LEN])
{
    memcpy(out, ENTRY_MAGIC, sizeof ENTRY_MAGIC);
    memcpy(out + sizeof ENTRY_MAGIC, id, CLUSTER_ID_LEN);
}

bool cluster_entry_marked(const uint8_t *data, size_t len)
{
    return len >= sizeof ENTRY_MAGIC && memcmp(data, ENTRY_MAGIC, sizeof ENTRY_MAGIC) == 0;
}

bool cluster_entry_decode(const uint8_t *data, size_t len, uint8_t id[CLUSTER_ID_LEN])
{
    if (len != CLUSTER_ENTRY_LEN || !cluster_entry_marked(data, len) ||
        all_zero(data + sizeof ENTRY_MAGIC, CLUSTER_ID_LEN))
        return false;
    memcpy(id, data + sizeof ENTRY_MAGIC, CLUSTER_ID_LEN);
    return true;
}

void cluster_trailer_encode(const uint8_t id[CLUSTER_ID_LEN], uint8_t out[CLUSTER_TRAILER_LEN])
{
    memcpy(out, TRAILER_MAGIC, sizeof TRAILER_MAGIC);
    put_le32(out + 4, 0);
    memcpy(out + 8, id, CLUSTER_ID_LEN);
}

int cluster_trailer_decode(const uint8_t *p, size_t len, uint8_t id[CLUSTER_ID_LEN])
{
    if (len == 0)
        return 0;
    if (len != CLUSTER_TRAILER_LEN || memcmp(p, TRAILER_MAGIC, sizeof TRAILER_MAGIC) != 0 ||
        get_le32(p + 4) != 0 || all_zero(p + 8, CLUSTER_ID_LEN))
        return -1;
    memcpy(id, p + 8, CLUSTER_ID_LEN);
    return 1;
}
