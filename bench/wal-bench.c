/* bench/wal-bench.c — how fast the WAL appends 100-byte records when every
 * batch of 1, 16 or 256 records shares one fdatasync (group commit).
 *
 * Not built by the Makefile. Build and run from the repository root:
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -pthread -I. -o build/wal-bench bench/wal-bench.c \
 *      raft/wal.c raft/wal_recover.c common/storage_io.c common/crc32c.c common/log.c
 *   build/wal-bench [DIR [SECONDS]]     # DIR on the disk to measure (default /var/tmp)
 *
 * For each batch size it appends for SECONDS (default 2) into a fresh log
 * under DIR/wal-bench.XXXXXX and prints records/s, syncs/s and the mean
 * time of one append-batch-plus-sync; then removes its directory. */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raft/wal.h"

#define RECORD_BYTES 100

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int run(const char *base, size_t batch, double seconds)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/wal-bench.XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror(dir);
        return -1;
    }
    struct wal *w;
    struct storage_error err;
    if (wal_open(dir, NULL, &w, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    uint8_t payload[RECORD_BYTES];
    memset(payload, 0xab, sizeof payload);
    struct wal_record *recs = calloc(batch, sizeof *recs);
    uint64_t index = 1, syncs = 0;
    double start = now(), end = start + seconds;
    while (now() < end) {
        for (size_t k = 0; k < batch; k++)
            recs[k] = (struct wal_record){ .index = index++, .term = 1, .len = RECORD_BYTES,
                                           .data = payload };
        if (wal_append(w, recs, batch, &err) < 0 || wal_sync(w, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            break;
        }
        syncs++;
    }
    double took = now() - start;
    uint64_t records = index - 1;
    printf("batch %4zu: %9.0f records/s  %7.0f syncs/s  %8.1f us per batch+sync  (%llu records)\n",
           batch, (double)records / took, (double)syncs / took, took / (double)syncs * 1e6,
           (unsigned long long)records);
    free(recs);
    wal_close(w);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : "/var/tmp";
    double seconds = argc > 2 ? atof(argv[2]) : 2.0;
    printf("WAL append of %d-byte records, one fdatasync per batch, %s, %.1f s each\n",
           RECORD_BYTES, base, seconds);
    static const size_t batches[] = { 1, 16, 256 };
    for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++)
        if (run(base, batches[i], seconds) < 0)
            return 1;
    return 0;
}
