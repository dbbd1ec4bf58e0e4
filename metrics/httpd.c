/* metrics/httpd.c — /metrics, /health and /ready over libmicrohttpd (see
 * httpd.h). We bind the socket ourselves (common/addr.h: the same address
 * syntax as every other flag) and hand it to libmicrohttpd, which does all
 * of HTTP: parsing, limits, timeouts, keep-alive. */
#include "metrics/httpd.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/log.h"
#include "common/promtext.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_server {
    metrics_opts_t o;
    struct MHD_Daemon *daemon;
    int fd;
    uint16_t port;
};

/* ---- the bodies ---------------------------------------------------------- */

static bool is_ready(const metrics_opts_t *o, char *reason, size_t cap)
{
    reason[0] = '\0';
    if (o->ready == NULL)
        return true;
    if (o->ready(o->ready_arg, reason, cap))
        return true;
    reason[strcspn(reason, "\r\n")] = '\0'; /* one line */
    if (reason[0] == '\0')
        snprintf(reason, cap, "not ready");
    return false;
}

void metrics_render(const metrics_opts_t *o, bytebuf_t *b)
{
    for (size_t i = 0; i < o->n_sources; i++)
        if (o->sources[i].write(o->sources[i].arg, b) < 0)
            log_debug("metrics", "source %zu answered only in part", i);
    char reason[256];
    promtext_family(b, "dnsraft_ready", "1 when /ready answers 200, else 0.", PROM_GAUGE);
    promtext_sample_u64(b, "dnsraft_ready", NULL, is_ready(o, reason, sizeof reason));
    if (o->stale_seconds) {
        double stale = o->stale_seconds(o->stale_arg);
        if (stale >= 0) {
            promtext_family(b, "dnsraft_stale_seconds",
                            "Seconds since this node last heard the leader (0 while it does).",
                            PROM_GAUGE);
            promtext_sample_f64(b, "dnsraft_stale_seconds", NULL, stale);
        }
    }
    metrics_write_process(b);
}

static void ready_body(const metrics_opts_t *o, bytebuf_t *b, unsigned *status)
{
    char reason[256], line[400];
    bool ready = is_ready(o, reason, sizeof reason);
    *status = ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
    int n = ready ? snprintf(line, sizeof line, "ready") :
                    snprintf(line, sizeof line, "not ready: %s", reason);
    double stale = o->stale_seconds ? o->stale_seconds(o->stale_arg) : -1;
    if (stale >= 0 && n >= 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, " stale_seconds=%.3f", stale);
    bytebuf_put(b, line, strnlen(line, sizeof line));
    bytebuf_put_u8(b, '\n');
}

/* ---- HTTP ---------------------------------------------------------------- */

static enum MHD_Result send_body(struct MHD_Connection *conn, unsigned status, const char *type,
                                 const void *body, size_t len, bool allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return send_body(conn, status, "text/plain; charset=utf-8", text, strlen(text),
                     status == MHD_HTTP_METHOD_NOT_ALLOWED);
}

static enum MHD_Result serve_buffer(struct MHD_Connection *conn, unsigned status,
                                    const char *type, bytebuf_t *b)
{
    enum MHD_Result rc;
    if (b->failed)
        rc = send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    else
        rc = send_body(conn, status, type, bytebuf_head(b), b->len, false);
    bytebuf_free(b);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    (void)upload_data;
    metrics_server_t *m = cls;
    bool known = strcmp(url, "/metrics") == 0 || strcmp(url, "/health") == 0 ||
                 strcmp(url, "/ready") == 0;
    if (!known)
        return send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (*req_cls == NULL && *upload_data_size != 0)
        return send_text(conn, MHD_HTTP_BAD_REQUEST, "a GET has no body\n");
    *req_cls = m;
    bytebuf_t b = { 0 };
    if (strcmp(url, "/health") == 0)
        return send_text(conn, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/ready") == 0) {
        unsigned status;
        ready_body(&m->o, &b, &status);
        return serve_buffer(conn, status, "text/plain; charset=utf-8", &b);
    }
    metrics_render(&m->o, &b);
    return serve_buffer(conn, MHD_HTTP_OK, PROM_CONTENT_TYPE, &b);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_debug("metrics", "libmicrohttpd: %s", line);
}

/* ---- life cycle ---------------------------------------------------------- */

static bool bound_to_loopback(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return false;
    if (ss.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

static int bind_listener(const char *addr, char err[METRICS_ERR_MAX])
{
    addr_spec_t spec;
    char aerr[ADDR_ERR_MAX];
    if (addr_spec_parse(addr, &spec, aerr) != 0) {
        snprintf(err, METRICS_ERR_MAX, "%s", aerr);
        return -1;
    }
    int fd = addr_bind_socket(&spec, SOCK_STREAM, false, 0, aerr);
    if (fd < 0) {
        snprintf(err, METRICS_ERR_MAX, "%s", aerr);
        return -1;
    }
    if (listen(fd, METRICS_MAX_CONNS) != 0) {
        snprintf(err, METRICS_ERR_MAX, "listen: %m");
        close(fd);
        return -1;
    }
    return fd;
}

metrics_server_t *metrics_start(const metrics_opts_t *o, char err[METRICS_ERR_MAX])
{
    metrics_server_t *m = calloc(1, sizeof *m);
    if (m == NULL) {
        snprintf(err, METRICS_ERR_MAX, "out of memory");
        return NULL;
    }
    m->o = *o;
    if ((m->fd = bind_listener(o->addr, err)) < 0) {
        free(m);
        return NULL;
    }
    m->port = addr_local_port(m->fd);
    m->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
            MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, m, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)m->fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_MAX_CONNS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)METRICS_MAX_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_CONN_MEMORY,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (m->daemon == NULL) {
        snprintf(err, METRICS_ERR_MAX, "libmicrohttpd would not start");
        close(m->fd);
        free(m);
        return NULL;
    }
    log_info("metrics", "metrics and health on http://%s/ (port %u): /metrics /health /ready",
             o->addr, (unsigned)m->port);
    if (!bound_to_loopback(m->fd))
        log_warn("metrics", "the metrics address %s is reachable beyond loopback: anyone who can "
                 "reach it sees the zones' names and the cluster's state", o->addr);
    return m;
}

uint16_t metrics_port(const metrics_server_t *m) { return m->port; }

void metrics_stop(metrics_server_t *m)
{
    if (m == NULL)
        return;
    /* Quiesced first, the listening socket is handed back to us to close;
     * otherwise MHD_stop_daemon closes it itself. */
    MHD_socket fd = MHD_quiesce_daemon(m->daemon);
    MHD_stop_daemon(m->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    free(m);
}
