/* bench/zone-parse.c — times zone_parse_file on one master file and prints
 * the record count and the wall-clock time. Built and run by
 * bench/zone-parse.sh; not a test. */
#include <stdio.h>
#include <time.h>

#include "zone/zone.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s ZONEFILE\n", argv[0]);
        return 2;
    }
    char err[ZONE_ERR_MAX];
    double t0 = now();
    zone_t *z = zone_parse_file(argv[1], NULL, err);
    double t1 = now();
    if (z == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("%zu records in %.3f s (%.0f records/s)\n", z->count, t1 - t0,
           (double)z->count / (t1 - t0));
    zone_free(z);
    return 0;
}
