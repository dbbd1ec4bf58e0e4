/* bench/kvload.c — closed-loop write load generator for bench/raft-write.
 *
 * Opens C connections (one epoll thread, non-blocking sockets) spread
 * round-robin over the given addresses; each connection sends one small
 * write, waits for its reply, records the latency and sends the next one
 * at once. Two protocols:
 *   kv    dns-raft's admin text protocol: "kv set KEY VALUE\n" -> "SUCCESS\n"
 *   etcd  etcd 3.4's gRPC-gateway: POST /v3/kv/put with a JSON body of
 *         base64 key and value over HTTP/1.1 keep-alive -> 200
 * A connection that fails or is closed reconnects to the next address, so
 * the load goes on when a node dies.
 *
 * Failover mode (-k PID -K SECONDS): at that time the client itself sends
 * SIGKILL to PID (so the kill instant and the write timestamps share one
 * clock) and reports the time from the kill to the first successful write
 * that was *sent* after the kill, and to the moment every connection has had
 * such a success (all clients served again).
 *
 * Output: one line of key=value pairs on stdout (the script parses it).
 * Owner of memory: everything is allocated in main and lives until exit.
 *
 * usage: kvload -p kv|etcd -a HOST:PORT[,HOST:PORT...] [-c 64] [-d 20]
 *               [-w 2] [-s 16] [-k PID -K SECONDS]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_ADDRS = 16, BUF = 8192, MAX_CONNS = 4096 };

typedef enum proto { P_KV, P_ETCD } proto_t;

typedef struct conn {
    int fd;
    int addr;           /* index into addrs */
    bool connecting;
    bool served_after_kill;
    uint32_t events;    /* what epoll watches the socket for */
    uint64_t seq;
    double sent_at;     /* seconds, monotonic; 0 when idle */
    double retry_at;    /* when to reconnect after a failure; 0 = not waiting */
    char out[BUF];
    size_t out_len, out_off;
    char in[BUF];
    size_t in_len;
} conn_t;

static proto_t proto;
static struct sockaddr_in addrs[MAX_ADDRS];
static char addr_text[MAX_ADDRS][64];
static int n_addrs;
static int value_size = 16;
static int epfd;
static double t_start, t_measure, t_end, t_kill;
static pid_t kill_pid;
static double kill_after = -1;
static bool killed;
static double first_ok_after_kill = -1, all_ok_after_kill = -1;
static int conns_served_after_kill, n_conns;
static uint64_t n_ok, n_err, n_reconnects, n_errlines;
static char last_err[160];
static uint32_t *lat_us;
static size_t lat_n, lat_cap;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int parse_addr(const char *text, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof host)
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = 0;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host[0] ? host : "127.0.0.1", &sa->sin_addr) == 1 ? 0 : -1;
}

static void record_latency(double secs)
{
    if (lat_n == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 1 << 20;
        lat_us = realloc(lat_us, lat_cap * sizeof *lat_us);
        if (!lat_us)
            die("realloc");
    }
    double us = secs * 1e6;
    lat_us[lat_n++] = us > 4e9 ? 4000000000u : (uint32_t)us;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t base64(const char *src, size_t n, char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(uint8_t)src[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(uint8_t)src[i + 1] << 8;
        if (i + 2 < n)
            v |= (uint8_t)src[i + 2];
        dst[o++] = b64chars[(v >> 18) & 63];
        dst[o++] = b64chars[(v >> 12) & 63];
        dst[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
        dst[o++] = i + 2 < n ? b64chars[v & 63] : '=';
    }
    dst[o] = 0;
    return o;
}

/* Key: one of 1000 per connection, so the store stays small; value:
 * value_size bytes that change with every write. */
static void build_request(conn_t *c, int id)
{
    char key[64], val[512];
    c->seq++;
    snprintf(key, sizeof key, "bench-%d-%llu", id, (unsigned long long)(c->seq % 1000));
    int vn = snprintf(val, sizeof val, "%llu-", (unsigned long long)c->seq);
    while (vn < value_size && vn < (int)sizeof val - 1)
        val[vn++] = 'x';
    val[vn] = 0;
    if (proto == P_KV) {
        c->out_len = (size_t)snprintf(c->out, BUF, "kv set %s %s\n", key, val);
    } else {
        char k64[128], v64[700], body[900];
        base64(key, strlen(key), k64);
        base64(val, (size_t)vn, v64);
        int bn = snprintf(body, sizeof body, "{\"key\":\"%s\",\"value\":\"%s\"}", k64, v64);
        c->out_len = (size_t)snprintf(c->out, BUF,
                                      "POST /v3/kv/put HTTP/1.1\r\nHost: %s\r\n"
                                      "Content-Type: application/json\r\n"
                                      "Content-Length: %d\r\n\r\n%s",
                                      addr_text[c->addr], bn, body);
    }
    c->out_off = 0;
}

static void conn_close(conn_t *c, double retry_delay)
{
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->sent_at = 0;
    c->in_len = 0;
    c->addr = (c->addr + 1) % n_addrs;
    c->retry_at = now_s() + retry_delay;
    n_reconnects++;
}

/* One epoll_ctl only when the interest changes: a write that the socket
 * takes at once (nearly all of them) costs no extra system call. */
static void watch(conn_t *c, int id, uint32_t events)
{
    if (c->events == events)
        return;
    struct epoll_event ev = { .events = events, .data.u32 = (uint32_t)id };
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

static void flush_out(conn_t *c, int id)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            watch(c, id, EPOLLIN | EPOLLOUT);
            return;
        }
        if (n <= 0) {
            conn_close(c, 0.005);
            return;
        }
        c->out_off += (size_t)n;
    }
    watch(c, id, EPOLLIN);
}

static void send_next(conn_t *c, int id)
{
    build_request(c, id);
    c->sent_at = now_s();
    flush_out(c, id);
}

static void conn_open(conn_t *c, int id)
{
    c->retry_at = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)id };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl");
    c->events = EPOLLOUT;
    int rc = connect(c->fd, (struct sockaddr *)&addrs[c->addr], sizeof addrs[c->addr]);
    if (rc == 0) {
        c->connecting = false;
        send_next(c, id);
    } else if (errno == EINPROGRESS) {
        c->connecting = true;
    } else {
        conn_close(c, 0.005);
    }
}

static void on_success(conn_t *c, double t)
{
    double lat = t - c->sent_at;
    if (c->sent_at >= t_measure && t <= t_end) {
        n_ok++;
        record_latency(lat);
    }
    if (killed && c->sent_at >= t_kill) {
        if (first_ok_after_kill < 0)
            first_ok_after_kill = t - t_kill;
        if (!c->served_after_kill) {
            c->served_after_kill = true;
            if (++conns_served_after_kill == n_conns)
                all_ok_after_kill = t - t_kill;
        }
    }
}

static void on_failure(conn_t *c, const char *why, size_t len)
{
    if (c->sent_at >= t_measure)
        n_err++;
    n_errlines++;
    if (len >= sizeof last_err)
        len = sizeof last_err - 1;
    memcpy(last_err, why, len);
    last_err[len] = 0;
}

/* Returns the length of one complete reply at the start of c->in, 0 if
 * more bytes are needed, and sets *ok. */
static size_t parse_reply(conn_t *c, bool *ok)
{
    if (proto == P_KV) {
        char *nl = memchr(c->in, '\n', c->in_len);
        if (!nl)
            return 0;
        size_t len = (size_t)(nl - c->in) + 1;
        *ok = len >= 8 && memcmp(c->in, "SUCCESS", 7) == 0;
        return len;
    }
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end - c->in) + 4;
    long body = 0;
    char *cl = memmem(c->in, head, "Content-Length:", 15);
    if (!cl)
        cl = memmem(c->in, head, "content-length:", 15);
    if (cl)
        body = strtol(cl + 15, NULL, 10);
    if (head + (size_t)body > c->in_len)
        return 0;
    *ok = c->in_len >= 12 && memcmp(c->in + 9, "200", 3) == 0 &&
          !memmem(c->in + head, (size_t)body, "\"error\"", 7);
    return head + (size_t)body;
}

static void on_readable(conn_t *c, int id)
{
    for (;;) {
        if (c->in_len == BUF) {
            conn_close(c, 0.005);
            return;
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, BUF - c->in_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            if (c->sent_at)
                on_failure(c, "connection closed", 17);
            conn_close(c, 0.005);
            return;
        }
        c->in_len += (size_t)n;
        bool ok = false;
        size_t used = parse_reply(c, &ok);
        if (!used)
            continue;
        double t = now_s();
        if (ok)
            on_success(c, t);
        else
            on_failure(c, c->in, used > 120 ? 120 : used - 1);
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        if (t >= t_end)
            return;
        send_next(c, id);
        return;
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(double p)
{
    if (!lat_n)
        return -1;
    size_t i = (size_t)(p * (double)(lat_n - 1) + 0.5);
    return lat_us[i] / 1000.0;
}

static void usage(void)
{
    fprintf(stderr, "usage: kvload -p kv|etcd -a HOST:PORT[,...] [-c conns] [-d secs] [-w warmup] "
                    "[-s value_bytes] [-k pid -K secs]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int conns = 64;
    double duration = 20, warmup = 2;
    char *alist = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "p:a:c:d:w:s:k:K:")) != -1) {
        switch (opt) {
        case 'p': proto = strcmp(optarg, "etcd") == 0 ? P_ETCD : P_KV; break;
        case 'a': alist = optarg; break;
        case 'c': conns = atoi(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 's': value_size = atoi(optarg); break;
        case 'k': kill_pid = (pid_t)atoi(optarg); break;
        case 'K': kill_after = atof(optarg); break;
        default: usage();
        }
    }
    if (!alist || conns < 1 || conns > MAX_CONNS || value_size < 1 || value_size > 400)
        usage();
    for (char *tok = strtok(alist, ","); tok && n_addrs < MAX_ADDRS; tok = strtok(NULL, ",")) {
        if (parse_addr(tok, &addrs[n_addrs]) != 0)
            usage();
        snprintf(addr_text[n_addrs], sizeof addr_text[n_addrs], "%s", tok);
        n_addrs++;
    }
    if (!n_addrs)
        usage();
    struct rlimit rl = { MAX_CONNS + 64, MAX_CONNS + 64 };
    setrlimit(RLIMIT_NOFILE, &rl);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    conn_t *cs = calloc((size_t)conns, sizeof *cs);
    if (epfd < 0 || !cs)
        die("setup");
    n_conns = conns;
    t_start = now_s();
    t_measure = t_start + warmup;
    t_end = t_measure + duration;
    for (int i = 0; i < conns; i++) {
        cs[i].fd = -1;
        cs[i].addr = i % n_addrs;
        conn_open(&cs[i], i);
    }
    struct epoll_event evs[256];
    for (;;) {
        double t = now_s();
        if (t >= t_end)
            break;
        if (kill_pid > 0 && kill_after >= 0 && !killed && t >= t_start + kill_after) {
            t_kill = now_s();
            kill(kill_pid, SIGKILL);
            killed = true;
        }
        int n = epoll_wait(epfd, evs, 256, 2);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            int id = (int)evs[i].data.u32;
            conn_t *c = &cs[id];
            if (c->fd < 0)
                continue;
            if (c->connecting) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err) {
                    conn_close(c, 0.005);
                    continue;
                }
                c->connecting = false;
                send_next(c, id);
                continue;
            }
            if (evs[i].events & EPOLLOUT)
                flush_out(c, id);
            if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                on_readable(c, id);
        }
        t = now_s();
        for (int i = 0; i < conns; i++)
            if (cs[i].fd < 0 && cs[i].retry_at && t >= cs[i].retry_at)
                conn_open(&cs[i], i);
    }
    qsort(lat_us, lat_n, sizeof *lat_us, cmp_u32);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                 ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    printf("writes=%llu errors=%llu secs=%.2f wps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
           "reconnects=%llu client_cpu_s=%.2f",
           (unsigned long long)n_ok, (unsigned long long)n_err, duration,
           (double)n_ok / duration, pct_ms(0.50), pct_ms(0.99), lat_n ? lat_us[lat_n - 1] / 1000.0 : -1,
           (unsigned long long)n_reconnects, cpu);
    if (killed)
        printf(" failover_ms=%.0f all_clients_ms=%.0f", first_ok_after_kill < 0 ? -1 : first_ok_after_kill * 1000,
               all_ok_after_kill < 0 ? -1 : all_ok_after_kill * 1000);
    printf("\n");
    if (n_errlines)
        fprintf(stderr, "kvload: %llu failed replies, last: %s\n", (unsigned long long)n_errlines, last_err);
    return 0;
}
