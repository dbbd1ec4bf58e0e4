/* kv/cluster_join.c — the join client: a node started with -join and an
 * empty data dir dials a member over the authenticated peer protocol
 * (raft/authjoin.h) and asks it to add this node, retrying with backoff
 * until it is in or the daemon stops. */
#include "kv/cluster_int.h"


#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/log.h"
#include "common/stopguard.h"
#include "kv/admin.h"
#include "kv/adminauth.h"
#include "kv/adminserver.h"
#include "kv/command.h"
#include "kv/sm_zonedb.h"
#include "kv/statemachine.h"
#include "raft/authjoin.h"
#include "raft/node.h"
#include "common/clock.h"

/* ---- joining -------------------------------------------------------------------------- */

/* Waits up to timeout_ms for events on fd, in short slices so that a stop
 * is noticed within STOP_POLL_MS: > 0 ready, 0 timed out or stopping, < 0
 * error. The joiner never blocks where cluster_stop cannot reach it. */
static int wait_fd(cluster_t *c, int fd, short events, unsigned timeout_ms)
{
    uint64_t deadline = clock_now_ms() + timeout_ms;
    for (;;) {
        uint64_t now = clock_now_ms();
        if (now >= deadline || cluster_stopping(c))
            return 0;
        unsigned left = (unsigned)(deadline - now);
        struct pollfd p = { .fd = fd, .events = events };
        int rc = poll(&p, 1, left < STOP_POLL_MS ? (int)left : STOP_POLL_MS);
        if (rc != 0 && !(rc < 0 && errno == EINTR))
            return rc;
    }
}

/* Connects to a member's Raft port without blocking, so that a member that
 * never answers the SYN cannot hold a stop; returns the fd (non-blocking:
 * the one short line sent on it fits an empty socket buffer, and every read
 * follows a wait_fd) or -1. */
static int dial(cluster_t *c, const char *spec)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (addr_resolve_dial(spec, &ss, &len) != 0)
        return -1;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int err = 0;
    socklen_t elen = sizeof err;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0 &&
        (errno != EINPROGRESS || wait_fd(c, fd, POLLOUT, MEMBERSHIP_TIMEOUT_MS) <= 0 ||
         getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The address to announce: -raft.addr when it names a host, otherwise the
 * local address this connection to the cluster uses, with our port. */
static void advertised_addr(cluster_t *c, int fd, char *out, size_t cap)
{
    addr_spec_t a;
    char err[ADDR_ERR_MAX];
    if (addr_spec_parse(c->o.raft_addr, &a, err) == 0 && !a.any) {
        snprintf(out, cap, "%s", c->o.raft_addr);
        return;
    }
    const char *mine = node_address(c->node);
    const char *port = strrchr(mine, ':');
    addr_local_endpoint(fd, port ? (uint16_t)atoi(port + 1) : 0, out, cap);
}

/* One "raft join" exchange; true when the member answered SUCCESS. */
static bool try_join(cluster_t *c, char *answer, size_t cap)
{
    snprintf(answer, cap, "cannot connect");
    int fd = dial(c, c->o.join);
    if (fd < 0)
        return false;
    char addr[160], line[ADMIN_TOKEN_MAX + 512];
    advertised_addr(c, fd, addr, sizeof addr);
    if (c->o.cluster_key) {
        raft_hello_t self = { .id = node_id_from_name(c->name) };
        snprintf(self.name, sizeof self.name, "%s", c->name);
        snprintf(self.addr, sizeof self.addr, "%.*s", (int)sizeof self.addr - 1, addr);
        bool joined = authjoin_exchange(fd, c->o.cluster_key, &self, MEMBERSHIP_TIMEOUT_MS + 2000,
                                        answer, cap);
        close(fd);
        return joined;
    }
    /* With an admin token, the member must have the same one: authenticate
     * first (its SUCCESS is the first reply line, skipped below). */
    int n = snprintf(line, sizeof line, "%s%s%sraft join %s %s\n", c->join_token ? "auth " : "",
                     c->join_token ? c->join_token : "", c->join_token ? "\n" : "", c->name, addr);
    int skip = c->join_token ? 1 : 0;
    bool ok = false;
    if (send(fd, line, (size_t)n, MSG_NOSIGNAL) == n) {
        size_t got = 0;
        while (got < cap - 1 && wait_fd(c, fd, POLLIN, MEMBERSHIP_TIMEOUT_MS + 2000) > 0) {
            ssize_t k = read(fd, answer + got, cap - 1 - got);
            if (k <= 0)
                break;
            got += (size_t)k;
            char *nl = memchr(answer, '\n', got);
            if (nl && skip > 0 && strncmp(answer, "SUCCESS\n", 8) == 0) {
                skip--;
                got -= (size_t)(nl + 1 - answer);
                memmove(answer, nl + 1, got);
                nl = memchr(answer, '\n', got);
            }
            if (nl)
                break;
        }
        answer[got] = '\0';
        answer[strcspn(answer, "\r\n")] = '\0';
        if (got == 0)
            snprintf(answer, cap, "no answer%s", cluster_stopping(c) ? " (cluster_stopping)" : "");
        ok = strcmp(answer, "SUCCESS") == 0;
    }
    close(fd);
    return ok;
}

void *cluster_joiner_thread(void *arg)
{
    cluster_t *c = arg;
    unsigned backoff = 200;
    char answer[256];
    while (!cluster_stopping(c)) {
        if (try_join(c, answer, sizeof answer)) {
            log_info("raft", "joined the cluster through %s", c->o.join);
            return NULL;
        }
        log_warn("raft", "join through %s: %s; retrying in %u ms", c->o.join, answer, backoff);
        cluster_pause_ms(c, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

