/* kv/adminserver.c — connection threads for the admin text protocol (see
 * adminserver.h for the threading and closing policy). */
#include "kv/adminserver.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "kv/admin.h"
#include "kv/linereader.h"

typedef struct conn {
    admin_server_t *s;
    int fd;
    uint8_t *first;      /* bytes the transport read before handing over;
                            owned here, freed once fed */
    size_t first_len;
    bool write_failed;
    admin_client_t client;
} conn_t;

struct admin_server {
    admin_exec_fn exec;
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int live;               /* connection threads running */
    int fds[ADMIN_MAX_CONNS];
    bool open;              /* admin_server_open was called */
    pthread_cond_t opened;  /* signalled when open or closing turns true */
    bool closing;
};

static void write_all(conn_t *c, const char *text, size_t len)
{
    while (len > 0 && !c->write_failed) {
        ssize_t n = send(c->fd, text, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            c->write_failed = true;
            return;
        }
        text += n;
        len -= (size_t)n;
    }
}

static void reply(void *conn, const char *text, size_t len) { write_all(conn, text, len); }

static void reply_error(conn_t *c, const char *reason)
{
    char line[ADMIN_REASON_MAX + 16];
    int n = admin_format_error(line, sizeof line, reason);
    if (n > 0)
        write_all(c, line, (size_t)n);
}

/* Handles every complete line buffered; returns how many it handled. */
static int handle_lines(conn_t *c, linereader_t *lr)
{
    const char *line;
    size_t len;
    enum lr_event ev;
    int handled = 0;
    while ((ev = lr_next(lr, &line, &len)) != LR_NEED_MORE && !c->write_failed) {
        if (ev == LR_TOO_LONG)
            reply_error(c, "line too long");
        else
            c->s->exec(c->s->ctx, &c->client, line, len, reply, c);
        handled++;
    }
    return handled;
}

/* Feeds bytes and handles the lines they complete. */
static int feed(conn_t *c, linereader_t *lr, const uint8_t *data, size_t n)
{
    int handled = 0;
    while (n > 0 && !c->write_failed) {
        size_t used = lr_feed(lr, data, n);
        data += used;
        n -= used;
        handled += handle_lines(c, lr);
    }
    return handled;
}

static void serve(conn_t *c)
{
    linereader_t lr;
    if (lr_init(&lr) != 0)
        return;
    int flags = fcntl(c->fd, F_GETFL);
    fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK);
    int answered = feed(c, &lr, c->first, c->first_len);
    free(c->first);
    c->first = NULL;
    uint8_t buf[16384];
    while (!c->write_failed) {
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        int r = poll(&p, 1, answered ? ADMIN_LINGER_MS : ADMIN_FIRST_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* quiet after the last reply: done (see the header) */
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            const char *line;
            size_t len;
            enum lr_event last = n == 0 ? lr_finish(&lr, &line, &len) : LR_NEED_MORE;
            if (last == LR_LINE)
                c->s->exec(c->s->ctx, &c->client, line, len, reply, c);
            else if (last == LR_TOO_LONG)
                reply_error(c, "line too long");
            break;
        }
        answered += feed(c, &lr, buf, (size_t)n);
    }
    lr_free(&lr);
}

/* Waits until the embedder opened the server; false if it closes first. */
static bool wait_open(admin_server_t *s)
{
    pthread_mutex_lock(&s->mu);
    while (!s->open && !s->closing)
        pthread_cond_wait(&s->opened, &s->mu);
    bool go = s->open && !s->closing;
    pthread_mutex_unlock(&s->mu);
    return go;
}

static void *conn_thread(void *arg)
{
    conn_t *c = arg;
    admin_server_t *s = c->s;
    if (wait_open(s))
        serve(c);
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < ADMIN_MAX_CONNS; i++)
        if (s->fds[i] == c->fd)
            s->fds[i] = -1;
    close(c->fd);
    s->live--;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    free(c->first);
    free(c);
    return NULL;
}

admin_server_t *admin_server_new(admin_exec_fn exec, void *ctx)
{
    admin_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->exec = exec;
    s->ctx = ctx;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    pthread_cond_init(&s->opened, NULL);
    for (int i = 0; i < ADMIN_MAX_CONNS; i++)
        s->fds[i] = -1;
    return s;
}

static void refuse(int fd, const char *why)
{
    char line[128];
    int n = admin_format_error(line, sizeof line, why);
    if (n > 0) {
        ssize_t ignored = send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)ignored;
    }
    close(fd);
}

void admin_server_take(admin_server_t *s, int fd, const uint8_t *first, size_t len)
{
    conn_t *c = calloc(1, sizeof *c);
    /* All of them: a client may pipeline more commands than fit a small
     * buffer in its first segment, and every one must be answered. */
    uint8_t *copy = len ? malloc(len) : NULL;
    if (c && len && !copy) {
        free(c);
        c = NULL;
    }
    pthread_mutex_lock(&s->mu);
    int slot = -1;
    for (int i = 0; i < ADMIN_MAX_CONNS && slot < 0; i++)
        if (s->fds[i] < 0)
            slot = i;
    if (!c || slot < 0 || s->closing) {
        bool closing = s->closing;
        pthread_mutex_unlock(&s->mu);
        free(c);
        free(copy);
        refuse(fd, !c ? "out of memory" : closing ? "shutting down" : "too many admin connections");
        return;
    }
    c->s = s;
    c->fd = fd;
    if (getrandom(&c->client.id, sizeof c->client.id, 0) != (ssize_t)sizeof c->client.id)
        c->client.id = (uint64_t)fd * 0x9E3779B97F4A7C15ull ^ (uint64_t)time(NULL);
    if (len)
        memcpy(copy, first, len);
    c->first = copy;
    c->first_len = len;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    s->fds[slot] = fd;
    s->live++;
    if (pthread_create(&th, &attr, conn_thread, c) != 0) {
        s->fds[slot] = -1;
        s->live--;
        pthread_mutex_unlock(&s->mu);
        free(c->first);
        free(c);
        refuse(fd, "cannot start a connection thread");
    } else {
        pthread_mutex_unlock(&s->mu);
    }
    pthread_attr_destroy(&attr);
}

void admin_server_open(admin_server_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->open = true;
    pthread_cond_broadcast(&s->opened);
    pthread_mutex_unlock(&s->mu);
}

void admin_server_free(admin_server_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->closing = true;
    pthread_cond_broadcast(&s->opened); /* threads still waiting to serve */
    for (int i = 0; i < ADMIN_MAX_CONNS; i++)
        if (s->fds[i] >= 0)
            shutdown(s->fds[i], SHUT_RDWR); /* wakes its thread; it closes the fd */
    while (s->live > 0)
        pthread_cond_wait(&s->idle, &s->mu);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle);
    pthread_cond_destroy(&s->opened);
    free(s);
}
