/* metrics/process.c — the process_* families the Prometheus client
 * libraries export on Linux (client_golang's process collector: same names
 * and units), read from /proc/self. A figure that cannot be read is left
 * out rather than reported as 0. */
#include "metrics/httpd.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/promtext.h"

static void sample(bytebuf_t *b, const char *name, const char *help, double v,
                   enum promtext_type type)
{
    promtext_family(b, name, help, type);
    promtext_sample_f64(b, name, NULL, v);
}

/* Seconds since the epoch the system booted (/proc/stat btime). */
static long long boot_time(void)
{
    FILE *f = fopen("/proc/stat", "re");
    if (f == NULL)
        return -1;
    char line[256];
    long long btime = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %lld", &btime) == 1)
            break;
    fclose(f);
    return btime;
}

/* proc(5) /proc/self/stat: fields 14-15 utime stime, 22 starttime (clock
 * ticks), 23 vsize (bytes), 24 rss (pages). The command (field 2) may hold
 * spaces and parentheses: parse after its last ')'. */
static void write_stat(bytebuf_t *b)
{
    FILE *f = fopen("/proc/self/stat", "re");
    if (f == NULL)
        return;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long utime, stime, start, vsize;
    long long rss;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d "
                                   "%*d %*d %*d %*d %llu %llu %lld",
                            &utime, &stime, &start, &vsize, &rss) != 5)
        return;
    double tck = (double)sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    sample(b, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
           (double)(utime + stime) / tck, PROM_COUNTER);
    sample(b, "process_resident_memory_bytes", "Resident memory size in bytes.",
              (double)rss * (double)page, PROM_GAUGE);
    sample(b, "process_virtual_memory_bytes", "Virtual memory size in bytes.", (double)vsize, PROM_GAUGE);
    long long btime = boot_time();
    if (btime >= 0)
        sample(b, "process_start_time_seconds",
                  "Start time of the process since unix epoch in seconds.",
                  (double)btime + (double)start / tck, PROM_GAUGE);
}

static void write_fds(bytebuf_t *b)
{
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        long count = 0;
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            if (e->d_name[0] != '.')
                count++;
        closedir(d);
        sample(b, "process_open_fds", "Number of open file descriptors.",
                  (double)(count - 1), PROM_GAUGE); /* less the one opendir holds */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        sample(b, "process_max_fds", "Maximum number of open file descriptors.",
                  (double)rl.rlim_cur, PROM_GAUGE);
}

void metrics_write_process(bytebuf_t *b)
{
    write_stat(b);
    write_fds(b);
}
