/* kv/adminserver.h — serves people on the Raft port: the admin text
 * protocol (kv/admin.h) over connections that the Raft transport found not
 * to be peers (raft/transport.h hands them over with their first bytes).
 *
 * One thread per connection (admin traffic is light, and a command such as
 * `kv set` blocks until Raft commits it), at most ADMIN_MAX_CONNS at once.
 *
 * Closing policy, so that `echo "kv ping" | nc localhost 8300` prints PONG
 * and returns at once with Debian's netcat-openbsd (which never half-closes
 * its side): after a reply, when the client has sent nothing more, the
 * server waits ADMIN_LINGER_MS for the next command and then closes. A
 * program may send many commands over one connection, pipelined or one
 * after another, as long as each follows the previous reply within that
 * time. Before the first command a client has ADMIN_FIRST_MS. */
#ifndef KV_ADMINSERVER_H
#define KV_ADMINSERVER_H

#include <stddef.h>
#include <stdint.h>

#define ADMIN_MAX_CONNS 128
#define ADMIN_LINGER_MS 300
#define ADMIN_FIRST_MS 10000

/* Each connection is one client in the sense of thesis §6.3: a random id
 * and sequence numbers in order, for exactly-once writes. */
typedef struct admin_client {
    uint64_t id;
    uint64_t seq; /* last used */
} admin_client_t;

/* Runs one request line and writes the whole reply (one or more lines, each
 * ending in LF) with the given writer. */
typedef void (*admin_reply_fn)(void *conn, const char *text, size_t len);
typedef void (*admin_exec_fn)(void *ctx, admin_client_t *client, const char *line, size_t len,
                              admin_reply_fn reply, void *conn);

typedef struct admin_server admin_server_t;

admin_server_t *admin_server_new(admin_exec_fn exec, void *ctx);
/* Starts serving. Connections taken before this wait (their bytes kept)
 * until it is called: the transport hands connections over as soon as the
 * Raft port listens, before the embedder has everything its commands use
 * (kv/cluster.c calls this once node_start has returned). */
void admin_server_open(admin_server_t *s);
/* Takes over a connection: fd plus the bytes already read from it. Safe to
 * call from any thread; never blocks. */
void admin_server_take(admin_server_t *s, int fd, const uint8_t *first, size_t len);
/* Closes every connection and waits for their threads. */
void admin_server_free(admin_server_t *s);

#endif
