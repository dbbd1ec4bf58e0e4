/* metrics/httpd.h — the HTTP endpoint for monitoring (-metrics.addr):
 *
 *   GET /metrics  every layer's counters in the Prometheus text format
 *                 (version 0.0.4), plus process_* and dnsraft_ready;
 *   GET /health   200 "ok" while the process serves;
 *   GET /ready    200 "ready" or 503 "not ready: <reason>", one line, from
 *                 the ready callback (with stale_seconds=N when known).
 *
 * HEAD works as GET without the body. Any other method is 405 (Allow: GET,
 * HEAD), any other path 404. Served by libmicrohttpd (a thread per
 * connection under a small connection limit, a per-address limit, a
 * connection timeout and a small per-connection memory pool that bounds
 * request headers), never by a parser of our own. A thread per connection
 * keeps /health answering while a scrape waits on a busy Raft thread.
 *
 * Threads: the callbacks run on libmicrohttpd's connection threads, maybe
 * several at once; they must be thread-safe (the writers here read
 * per-thread counters with relaxed loads, the Raft status through
 * node_status, the zones under the RCU read lock).
 *
 * Ownership: the server owns its socket and thread; the callbacks' args
 * must outlive it. */
#ifndef METRICS_HTTPD_H
#define METRICS_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytebuf.h"

#define METRICS_ERR_MAX 512
#define METRICS_MAX_SOURCES 8
#define METRICS_MAX_CONNS 16      /* connections at once */
#define METRICS_MAX_PER_IP 8      /* from one address */
#define METRICS_TIMEOUT_S 10      /* an idle connection is closed after this */
#define METRICS_CONN_MEMORY 16384 /* per-connection pool: bounds the headers */

/* Appends families in the text format. A negative return is logged at debug
 * level and the scrape goes on (a source may be partly written). */
typedef int (*metrics_write_fn)(void *arg, bytebuf_t *b);
/* 1: ready. 0: not ready, with a one-line reason written into reason
 * (cap bytes, NUL-terminated). */
typedef int (*metrics_ready_fn)(void *arg, char *reason, size_t cap);
/* Seconds since this node last knew the cluster's latest state (0 while it
 * hears a leader); negative: not known. */
typedef double (*metrics_stale_fn)(void *arg);

typedef struct metrics_opts {
    const char *addr; /* "HOST:PORT" (common/addr.h) */
    struct {
        metrics_write_fn write;
        void *arg;
    } sources[METRICS_MAX_SOURCES];
    size_t n_sources;
    metrics_ready_fn ready; /* NULL: always ready */
    void *ready_arg;
    metrics_stale_fn stale_seconds; /* NULL: not reported */
    void *stale_arg;
} metrics_opts_t;

typedef struct metrics_server metrics_server_t;

/* Binds addr and starts serving. NULL with err when it cannot. Logs a
 * warning when the address is reachable beyond loopback. */
metrics_server_t *metrics_start(const metrics_opts_t *o, char err[METRICS_ERR_MAX]);
uint16_t metrics_port(const metrics_server_t *m);
void metrics_stop(metrics_server_t *m);

/* The body of GET /metrics (exposed for the tests): every source, the
 * process_* families and dnsraft_ready / dnsraft_stale_seconds. */
void metrics_render(const metrics_opts_t *o, bytebuf_t *b);

/* process_* as the Prometheus client libraries write them (from /proc). */
void metrics_write_process(bytebuf_t *b);

#endif
