/* kv/adminserver.c — the admin thread: one event loop over every admin
 * connection (see adminserver.h for the threading, ordering and closing
 * policy).
 *
 * A connection moves bytes through three buffers, each with one owner:
 *   stash    bytes read from the socket, not yet given to the line reader
 *            (read() fills it only when it is empty: at most one read's
 *            worth waits, and while it waits the socket is not polled for
 *            input, so a client that pipelines faster than we answer is
 *            held back by TCP instead of by our memory);
 *   lr       the line reader (kv/linereader.h), at most one line long;
 *   out      reply bytes the socket did not take yet (EPOLLOUT drains it).
 * and one call (the line being answered; its reply text is the call's
 * until admin_call_end hands it back).
 *
 * pump() is the one place that moves a connection forward: it starts the
 * next buffered line when no call is in flight, refills the line reader
 * from the stash, handles the end of the client's stream, and sets what the
 * socket is polled for and when an idle connection closes. Everything else
 * (a read, an ended call, a drained send buffer, a tick) changes a buffer
 * or a flag and calls pump().
 *
 * Authentication and bounds (see the header): gate_line() stands between
 * a line and exec when the server has a token; a denied connection is
 * "hung up": its reply is sent, its sending side shut, and what the client
 * still sends is read and dropped for ADMIN_DRAIN_MS before the close, so
 * the client reads the ERROR instead of a reset. set_deadline() holds the
 * timing rules: one deadline per connection, none while a call is out.
 *
 * Memory ownership: the server owns its connections (list `conns`). A
 * closed connection goes to the graveyard, freed at the end of the loop
 * iteration (so code that closed it may still look at its flags), or, if
 * a call is still out, once that call comes back. Each connection owns its
 * buffers and its call; another thread holds the call on loan until it
 * ends it. */
#include "kv/adminserver.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/log.h"
#include "kv/admin.h"
#include "kv/adminauth.h"
#include "kv/linereader.h"
#include "common/handoff.h"
#include "common/loop.h"

enum {
    TICK_MS = 10,          /* resolution of the closing timers */
    STASH_SIZE = 16384,    /* one read() */
};

typedef struct conn conn_t;

struct admin_server_call {
    handoff_link_t link;   /* on s->answers once ended by another thread */
    conn_t *conn;
    char *text;            /* the reply so far */
    size_t len, cap;
    bool oom;              /* a write did not fit in memory: close */
    bool ended;            /* ended inside exec, on the admin thread */
};

struct conn {
    handoff_link_t link;   /* on s->arrivals until the admin thread has it */
    admin_server_t *s;
    conn_t *prev, *next;   /* s->conns */
    int fd;
    uint8_t *stash;
    size_t stash_len, stash_off, stash_cap;
    linereader_t lr;
    char *out;
    size_t out_len, out_off, out_cap;
    admin_server_call_t call;
    admin_server_client_t client;
    uint32_t events;       /* what the loop polls the socket for */
    uint64_t close_at_ms;  /* idle deadline; 0: none */
    bool busy;             /* a call is in flight */
    bool in_exec;          /* inside s->exec (admin thread) */
    bool answered;         /* a line was handled: linger, not first, timeout */
    bool authed;           /* `auth` succeeded (only looked at with a token) */
    bool hangup;           /* denied: close once the reply is sent */
    bool draining;         /* hung up and shut: dropping input until close */
    uint64_t line_since_ms; /* first byte of the unfinished line; 0: none */
    uint64_t sent_ms;      /* last progress sending `out` */
    bool eof;              /* the client closed its side */
    bool eof_done;         /* its last unterminated line was handled */
    bool dead;             /* socket closed; freed when the call returns */
    conn_t *grave_next;    /* s->graveyard */
};

struct admin_server {
    admin_server_exec_fn exec;
    void *ctx;
    loop_t *loop;
    pthread_t thread;
    bool thread_started;
    handoff_t arrivals;      /* connections from admin_server_take */
    handoff_t answers;       /* calls ended by other threads */
    atomic_int n_conns;      /* taken and not yet closed (the limit) */
    atomic_bool closing;
    adminauth_token_t *token;    /* NULL: no authentication (the seed's protocol) */
    int listen_fd;           /* -admin.addr, or -1 */
    uint64_t listen_paused_until; /* accept failed (EMFILE): retry then */
    uint64_t denied_logged_ms;
    unsigned denied_unlogged; /* refusals since the last log line */
    conn_t *conns;           /* admin thread only */
    conn_t *graveyard;       /* closed, to free after this loop iteration */
    pthread_mutex_t mu;      /* worker threads */
    pthread_cond_t idle;
    int workers;
};

static void pump(conn_t *c);

/* The server whose loop runs on this thread (set on the admin thread only):
 * tells admin_call_end whether it runs inside exec. */
static _Thread_local admin_server_t *running_here;

/* ---- the call ------------------------------------------------------------------------ */

/* Appends len bytes to the growable buffer *buf (length *len, capacity
 * *cap; the first allocation is `first` bytes, then doubling). Returns
 * false, leaving the buffer as it was, when memory runs out. */
static bool buffer_append(char **buf, size_t *len, size_t *cap, size_t first,
                          const char *text, size_t n)
{
    if (*len + n > *cap) {
        size_t want = *cap ? *cap : first;
        while (want < *len + n)
            want *= 2;
        char *b = realloc(*buf, want);
        if (!b)
            return false;
        *buf = b;
        *cap = want;
    }
    memcpy(*buf + *len, text, n);
    *len += n;
    return true;
}

void admin_call_write(admin_server_call_t *call, const char *text, size_t len)
{
    if (call->oom || len == 0)
        return;
    if (!buffer_append(&call->text, &call->len, &call->cap, 256, text, len))
        call->oom = true;
}

void admin_call_end(admin_server_call_t *call)
{
    conn_t *c = call->conn;
    admin_server_t *s = c->s;
    /* Ended inside exec (a ping, an error, a local read): the admin thread
     * finishes it when exec returns; no hand-off, no wake-up. Only the
     * admin thread reads in_exec (the first test fails everywhere else). */
    if (running_here == s && c->in_exec) {
        call->ended = true;
        return;
    }
    if (handoff_push(&s->answers, &call->link))
        loop_wake(s->loop);
}

typedef struct spawned {
    admin_server_t *s;
    admin_server_call_t *call;
    void (*fn)(void *arg, admin_server_call_t *call);
    void *arg;
} spawned_t;

static void *worker_main(void *p)
{
    spawned_t w = *(spawned_t *)p;
    free(p);
    w.fn(w.arg, w.call);
    pthread_mutex_lock(&w.s->mu);
    w.s->workers--;
    pthread_cond_broadcast(&w.s->idle);
    pthread_mutex_unlock(&w.s->mu);
    return NULL;
}

int admin_call_spawn(admin_server_call_t *call, void (*fn)(void *arg, admin_server_call_t *call), void *arg)
{
    admin_server_t *s = call->conn->s;
    spawned_t *w = malloc(sizeof *w);
    if (!w)
        return -1;
    *w = (spawned_t){ s, call, fn, arg };
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&s->mu);
    if (s->workers >= ADMIN_MAX_WORKERS) {
        pthread_mutex_unlock(&s->mu);
        pthread_attr_destroy(&attr);
        free(w);
        return -1;
    }
    s->workers++;
    pthread_t th;
    int rc = pthread_create(&th, &attr, worker_main, w);
    if (rc != 0)
        s->workers--;
    pthread_mutex_unlock(&s->mu);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(w);
        return -1;
    }
    return 0;
}

/* ---- connections ----------------------------------------------------------------------- */

static void conn_free(conn_t *c)
{
    lr_free(&c->lr);
    free(c->stash);
    free(c->out);
    free(c->call.text);
    free(c);
}

static void bury(conn_t *c)
{
    c->grave_next = c->s->graveyard;
    c->s->graveyard = c;
}

static void free_graveyard(void *ctx)
{
    admin_server_t *s = ctx;
    while (s->graveyard) {
        conn_t *c = s->graveyard;
        s->graveyard = c->grave_next;
        conn_free(c);
    }
}

/* Closes the socket now; the memory goes at the end of this iteration, or
 * once the call that is out comes back (call_returned). */
static void conn_close(conn_t *c)
{
    if (c->dead)
        return;
    admin_server_t *s = c->s;
    loop_remove(s->loop, c->fd);
    close(c->fd);
    c->dead = true;
    atomic_fetch_sub(&s->n_conns, 1);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (!c->busy)
        bury(c);
}

/* Sends what `out` holds; false if the connection broke (and is closed). */
static bool flush_out(conn_t *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true; /* the rest when the socket drains (EPOLLOUT) */
        if (n <= 0) {
            conn_close(c);
            return false;
        }
        c->out_off += (size_t)n;
        c->sent_ms = loop_now_ms();
    }
    c->out_off = c->out_len = 0;
    return true;
}

/* Queues reply bytes and sends what the socket takes; false if closed. */
static bool send_reply(conn_t *c, const char *text, size_t len)
{
    if (len == 0)
        return true;
    if (c->out_off == c->out_len)
        c->sent_ms = loop_now_ms(); /* the stall clock starts with the reply */
    if (!buffer_append(&c->out, &c->out_len, &c->out_cap, 1024, text, len)) {
        conn_close(c);
        return false;
    }
    return flush_out(c);
}

static void reply_error(conn_t *c, const char *reason)
{
    char line[ADMIN_REASON_MAX + 16];
    int n = admin_format_error(line, sizeof line, reason);
    if (n > 0)
        send_reply(c, line, (size_t)n);
}

/* The call came back (ended): send its reply and go on. */
static void call_returned(conn_t *c)
{
    admin_server_call_t *call = &c->call;
    c->busy = false;
    if (c->dead) {
        bury(c);
        return;
    }
    bool oom = call->oom;
    if (!send_reply(c, call->text, call->len))
        return;
    call->len = 0;
    call->oom = false;
    if (oom) {
        log_warn("kv", "admin reply did not fit in memory: closing the connection");
        conn_close(c);
    }
}

/* Logs refused authentications, at most one line a second. */
static void note_denied(admin_server_t *s, const char *what)
{
    uint64_t now = loop_now_ms();
    s->denied_unlogged++;
    if (now - s->denied_logged_ms < 1000 && s->denied_logged_ms != 0)
        return;
    log_warn("kv", "admin connection refused: %s (%u refusal(s) since the last such line)", what,
             s->denied_unlogged);
    s->denied_logged_ms = now;
    s->denied_unlogged = 0;
}

/* "ERROR unauthorized", then the connection closes (see the file comment). */
static void deny(conn_t *c, const char *what)
{
    note_denied(c->s, what);
    reply_error(c, "unauthorized");
    c->hangup = true;
}

static bool is_ping(const char *line, size_t len)
{
    admin_cmd_t cmd;
    char reason[ADMIN_REASON_MAX];
    return admin_parse(line, len, &cmd, reason) == 0 && cmd.op == ADMIN_KV_PING;
}

/* With a token: answers `auth` here, lets `kv ping` and an authenticated
 * connection's lines through (true), denies the rest. */
static bool gate_line(conn_t *c, const char *line, size_t len)
{
    admin_server_t *s = c->s;
    const char *token;
    size_t token_len;
    if (!s->token)
        return true;
    if (admin_parse_auth(line, len, &token, &token_len)) {
        if (token_len > 0 && admin_token_matches(s->token, token, token_len)) {
            c->authed = true;
            send_reply(c, "SUCCESS\n", 8);
        } else {
            deny(c, "wrong token");
        }
        return false;
    }
    if (c->authed || is_ping(line, len))
        return true;
    deny(c, "a command before auth");
    return false;
}

/* Hands one line to exec (after the gate). */
static void start_call(conn_t *c, const char *line, size_t len)
{
    admin_server_t *s = c->s;
    c->answered = true;
    if (!gate_line(c, line, len))
        return;
    c->busy = true;
    c->call.ended = false;
    c->in_exec = true;
    s->exec(s->ctx, &c->client, line, len, &c->call);
    c->in_exec = false;
    if (c->call.ended)
        call_returned(c);
}

static size_t out_pending(const conn_t *c)
{
    return c->out_len - c->out_off;
}

static void refuse_long_line(conn_t *c)
{
    c->answered = true;
    if (c->s->token && !c->authed)
        deny(c, "an over-long line before auth");
    else
        reply_error(c, "line too long");
}

/* The client closed its side and every complete line is answered: an
 * unterminated last line is still a command (`printf 'kv ping' | nc`). */
static void answer_last_line(conn_t *c)
{
    c->eof_done = true;
    const char *line;
    size_t len;
    enum lr_event last = lr_finish(&c->lr, &line, &len);
    if (last == LR_LINE)
        start_call(c, line, len);
    else if (last == LR_TOO_LONG)
        refuse_long_line(c);
}

static void set_interest(conn_t *c)
{
    /* Read only into an empty stash and before the end of the stream;
     * EPOLLRDHUP only together with EPOLLIN (level-triggered, it would
     * otherwise fire until we read). */
    uint32_t ev = 0;
    bool room = out_pending(c) < ADMIN_OUT_HIGH && !c->hangup;
    if ((c->stash_off == c->stash_len && !c->eof && room) || c->draining)
        ev |= EPOLLIN | EPOLLRDHUP;
    if (out_pending(c) > 0)
        ev |= EPOLLOUT;
    if (ev != c->events && loop_modify(c->s->loop, c->fd, ev) == 0)
        c->events = ev;
}

/* Hung up and the reply sent: shut our side, drop what still comes. */
static void start_draining(conn_t *c)
{
    shutdown(c->fd, SHUT_WR);
    c->draining = true;
    c->stash_off = c->stash_len = 0;
    c->close_at_ms = loop_now_ms() + ADMIN_DRAIN_MS;
}

static void drain_input(conn_t *c)
{
    char sink[4096];
    for (;;) {
        ssize_t n = read(c->fd, sink, sizeof sink);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        conn_close(c); /* EOF or error: the client has our reply */
        return;
    }
}

/* The one deadline of a connection (0: none), by what it waits for. */
static void set_deadline(conn_t *c)
{
    uint64_t now = loop_now_ms();
    if (c->draining)
        return; /* set once, in start_draining */
    if (c->busy) {
        c->close_at_ms = 0; /* a call in flight is never cut short */
        c->line_since_ms = 0;
        return;
    }
    uint64_t at = 0;
    if (out_pending(c) > 0)
        at = c->sent_ms + ADMIN_SEND_STALL_MS;
    if (!c->eof && lr_pending(&c->lr)) {
        if (c->line_since_ms == 0)
            c->line_since_ms = now;
        uint64_t line_at = c->line_since_ms + ADMIN_LINE_MS;
        at = at && at < line_at ? at : line_at;
    } else {
        c->line_since_ms = 0;
        if (out_pending(c) == 0 && !c->eof)
            at = now + (c->answered ? ADMIN_LINGER_MS : ADMIN_FIRST_MS);
    }
    c->close_at_ms = at;
}

static void pump(conn_t *c)
{
    while (!c->busy && !c->dead) {
        if (c->hangup) {
            if (out_pending(c) == 0 && !c->draining)
                start_draining(c);
            break;
        }
        if (out_pending(c) >= ADMIN_OUT_HIGH)
            break; /* the client reads our replies first */
        const char *line;
        size_t len;
        enum lr_event ev = lr_next(&c->lr, &line, &len);
        if (ev == LR_LINE) {
            start_call(c, line, len);
        } else if (ev == LR_TOO_LONG) {
            refuse_long_line(c);
        } else if (c->stash_off < c->stash_len) {
            c->stash_off += lr_feed(&c->lr, c->stash + c->stash_off, c->stash_len - c->stash_off);
            if (c->stash_off == c->stash_len)
                c->stash_off = c->stash_len = 0;
        } else if (c->eof && !c->eof_done) {
            answer_last_line(c);
        } else if (c->eof) {
            if (out_pending(c) == 0)
                conn_close(c); /* every reply sent */
            break;
        } else {
            break;
        }
    }
    if (c->dead)
        return;
    set_interest(c);
    set_deadline(c);
}

/* One read into the (empty) stash. */
static void read_some(conn_t *c)
{
    ssize_t n = read(c->fd, c->stash, c->stash_cap);
    if (n > 0) {
        c->stash_off = 0;
        c->stash_len = (size_t)n;
    } else if (n == 0) {
        c->eof = true;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        conn_close(c); /* reset: nobody to answer */
        return;
    }
    pump(c);
}

static void on_conn_event(void *ctx, int fd, uint32_t events)
{
    conn_t *c = ctx;
    (void)fd;
    if (c->draining) {
        drain_input(c);
        return;
    }
    if ((events & EPOLLOUT) && c->out_len > 0) {
        if (!flush_out(c))
            return;
        pump(c); /* may go on: below the high mark, the last reply, timers */
        if (c->dead || c->draining)
            return;
    }
    bool reading = (c->events & EPOLLIN) && c->stash_len == 0 && !c->eof;
    if (reading && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        read_some(c);
    } else if (events & (EPOLLHUP | EPOLLERR)) {
        /* Reported although we are not reading (a call is out, or input
         * waits in the stash): the client is gone both ways. */
        conn_close(c);
    }
}

/* Starts serving a connection the transport handed over. */
static void adopt(admin_server_t *s, conn_t *c)
{
    if (atomic_load(&s->closing) ||
        loop_add(s->loop, c->fd, EPOLLIN | EPOLLRDHUP, on_conn_event, c) != 0) {
        close(c->fd);
        atomic_fetch_sub(&s->n_conns, 1);
        conn_free(c);
        return;
    }
    c->events = EPOLLIN | EPOLLRDHUP;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    pump(c); /* the first bytes may hold whole commands */
}

/* ---- the admin thread's loop ------------------------------------------------------------- */

static void on_wake(void *ctx)
{
    admin_server_t *s = ctx;
    for (handoff_link_t *l = handoff_take_all(&s->arrivals); l;) {
        handoff_link_t *next = l->next;
        adopt(s, (conn_t *)((char *)l - offsetof(conn_t, link)));
        l = next;
    }
    for (handoff_link_t *l = handoff_take_all(&s->answers); l;) {
        handoff_link_t *next = l->next;
        conn_t *c = ((admin_server_call_t *)((char *)l - offsetof(admin_server_call_t, link)))->conn;
        call_returned(c);
        if (!c->dead)
            pump(c);
        l = next;
    }
}

static void resume_listening(admin_server_t *s, uint64_t now)
{
    if (s->listen_paused_until && now >= s->listen_paused_until &&
        loop_modify(s->loop, s->listen_fd, EPOLLIN) == 0)
        s->listen_paused_until = 0;
}

static void on_tick(void *ctx)
{
    admin_server_t *s = ctx;
    uint64_t now = loop_now_ms();
    resume_listening(s, now);
    for (conn_t *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (c->close_at_ms && now >= c->close_at_ms)
            conn_close(c); /* quiet after the last reply: done (see the header) */
    }
}

static void *admin_thread(void *arg)
{
    admin_server_t *s = arg;
    running_here = s;
    int rc = loop_run(s->loop);
    if (rc != 0)
        log_error("kv", "admin event loop failed: %s", strerror(-rc));
    return NULL;
}

/* ---- life cycle -------------------------------------------------------------------------- */

admin_server_t *admin_server_new(admin_server_exec_fn exec, void *ctx)
{
    admin_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->exec = exec;
    s->ctx = ctx;
    s->listen_fd = -1;
    s->loop = loop_new(TICK_MS, on_tick, on_wake, s);
    if (!s->loop) {
        free(s);
        return NULL;
    }
    loop_set_after_batch(s->loop, free_graveyard);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    return s;
}

/* Answers a connection we do not serve, then closes it. What the client
 * already sent is read first (a close with unread input is a reset, which
 * can destroy our reply before the client reads it). */
static void refuse(int fd, const char *why)
{
    char line[128];
    int n = admin_format_error(line, sizeof line, why);
    if (n > 0) {
        ssize_t ignored = send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)ignored;
    }
    shutdown(fd, SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
        ;
    close(fd);
}

static conn_t *conn_new(int fd, const uint8_t *first, size_t len)
{
    conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    /* All of the first bytes: a client may pipeline more commands than fit
     * a small buffer in its first segment, and every one must be answered. */
    c->stash_cap = len > STASH_SIZE ? len : STASH_SIZE;
    c->stash = malloc(c->stash_cap);
    if (!c->stash || lr_init(&c->lr) != 0) {
        free(c->stash);
        free(c);
        return NULL;
    }
    c->fd = fd;
    c->call.conn = c;
    if (len)
        memcpy(c->stash, first, len);
    c->stash_len = len;
    if (getrandom(&c->client.id, sizeof c->client.id, 0) != (ssize_t)sizeof c->client.id)
        c->client.id = (uint64_t)fd * 0x9E3779B97F4A7C15ull ^ (uint64_t)time(NULL);
    return c;
}

/* A new connection counted against the limit, or NULL (refused, closed). */
static conn_t *admit(admin_server_t *s, int fd, const uint8_t *first, size_t len)
{
    if (atomic_load(&s->closing)) {
        refuse(fd, "shutting down");
        return NULL;
    }
    if (atomic_fetch_add(&s->n_conns, 1) >= ADMIN_MAX_CONNS) {
        atomic_fetch_sub(&s->n_conns, 1);
        refuse(fd, "too many connections");
        return NULL;
    }
    conn_t *c = conn_new(fd, first, len);
    if (!c) {
        atomic_fetch_sub(&s->n_conns, 1);
        refuse(fd, "out of memory");
        return NULL;
    }
    c->s = s;
    return c;
}

void admin_server_take(admin_server_t *s, int fd, const uint8_t *first, size_t len)
{
    conn_t *c = admit(s, fd, first, len);
    if (c && handoff_push(&s->arrivals, &c->link))
        loop_wake(s->loop); /* before admin_server_open: seen once it runs */
}

/* -admin.addr: accepts on the admin thread and serves at once. */
static void on_listen_event(void *ctx, int fd, uint32_t events)
{
    admin_server_t *s = ctx;
    (void)events;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Level-triggered: pause instead of spinning on it. */
                log_warn("kv", "admin accept: %s; pausing the admin listener", strerror(errno));
                if (loop_modify(s->loop, fd, 0) == 0)
                    s->listen_paused_until = loop_now_ms() + 100;
            }
            return;
        }
        conn_t *c = admit(s, cfd, NULL, 0);
        if (c)
            adopt(s, c);
    }
}

void admin_server_set_token(admin_server_t *s, adminauth_token_t *token)
{
    admin_token_free(s->token);
    s->token = token;
}

int admin_server_listen(admin_server_t *s, const char *spec, char *err, size_t err_len)
{
    addr_spec_t a;
    char aerr[ADDR_ERR_MAX];
    if (s->listen_fd >= 0) {
        snprintf(err, err_len, "admin.addr: already listening");
        return -1;
    }
    if (addr_spec_parse(spec, &a, aerr) != 0) {
        snprintf(err, err_len, "admin.addr: %s", aerr);
        return -1;
    }
    int fd = addr_bind_socket(&a, SOCK_STREAM, false, 0, aerr);
    if (fd < 0) {
        snprintf(err, err_len, "admin.addr %s: %s", spec, aerr);
        return -1;
    }
    if (listen(fd, 128) != 0 || loop_add(s->loop, fd, EPOLLIN, on_listen_event, s) != 0) {
        snprintf(err, err_len, "admin.addr %s: listen: %s", spec, strerror(errno));
        close(fd);
        return -1;
    }
    s->listen_fd = fd;
    return addr_local_port(fd);
}

void admin_server_open(admin_server_t *s)
{
    if (s->thread_started)
        return;
    s->thread_started = pthread_create(&s->thread, NULL, admin_thread, s) == 0;
    if (!s->thread_started)
        log_error("kv", "cannot start the admin thread: admin commands are not served");
}

/* Frees connections still in a hand-off list (never adopted / answered). */
static void drop_arrivals(admin_server_t *s)
{
    for (handoff_link_t *l = handoff_take_all(&s->arrivals); l;) {
        handoff_link_t *next = l->next;
        conn_t *c = (conn_t *)((char *)l - offsetof(conn_t, link));
        close(c->fd);
        conn_free(c);
        l = next;
    }
}

void admin_server_free(admin_server_t *s)
{
    if (!s)
        return;
    atomic_store(&s->closing, true);
    if (s->thread_started) {
        loop_stop(s->loop);
        pthread_join(s->thread, NULL);
    }
    pthread_mutex_lock(&s->mu);
    while (s->workers > 0)
        pthread_cond_wait(&s->idle, &s->mu);
    pthread_mutex_unlock(&s->mu);
    /* Every call has ended by now (see the header): take the answers back,
     * so each connection is idle, then close them all. */
    for (handoff_link_t *l = handoff_take_all(&s->answers); l;) {
        handoff_link_t *next = l->next;
        conn_t *c = ((admin_server_call_t *)((char *)l - offsetof(admin_server_call_t, link)))->conn;
        c->busy = false;
        if (c->dead)
            bury(c);
        l = next;
    }
    while (s->conns) {
        s->conns->busy = false;
        conn_close(s->conns);
    }
    free_graveyard(s);
    drop_arrivals(s);
    if (s->listen_fd >= 0) {
        loop_remove(s->loop, s->listen_fd);
        close(s->listen_fd);
    }
    admin_token_free(s->token);
    loop_free(s->loop);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle);
    free(s);
}
