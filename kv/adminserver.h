/* kv/adminserver.h — serves people on the Raft port: the admin text
 * protocol (kv/admin.h) over connections that the Raft transport found not
 * to be peers (raft/transport.h hands them over with their first bytes).
 *
 * Threads: one admin thread runs every connection with an event loop
 * (common/loop.h: epoll, a tick for the closing timers, an eventfd for
 * answers); at most ADMIN_MAX_CONNS connections at once. No thread waits
 * for Raft: each request line becomes a call (admin_server_call_t) handed to the
 * embedder's exec function on the admin thread, which must not block. The
 * embedder answers the call at once, or later from another thread: the
 * Raft thread's completion callback for a write (raft/node.h,
 * node_propose_async), or a worker thread (admin_call_spawn) for a command
 * that blocks. Calls ended by other threads reach the admin thread through
 * a lock-free hand-off (common/handoff.h) with one eventfd write per burst,
 * so the replies of one Raft batch cost one wake-up.
 *
 * Order: one call at a time per connection. The next line waits in the
 * connection's buffer until the reply to the previous one is queued, so
 * replies come back in order and a `kv get` pipelined after a `kv set` on
 * the same connection sees it, as with a blocking server. Lines are read
 * as many per read() as the client sent. A reply is kept whole in memory
 * until the socket takes it (a `zone show` of a large zone too: tens of
 * MB for a million records), so a client that stops reading holds only
 * its own connection's memory.
 *
 * Closing policy, so that `echo "kv ping" | nc localhost 8300` prints PONG
 * and returns at once with Debian's netcat-openbsd (which never half-closes
 * its side): after a reply, when the client has sent nothing more, the
 * server waits ADMIN_LINGER_MS for the next command and then closes. A
 * program may send many commands over one connection, pipelined or one
 * after another, as long as each follows the previous reply within that
 * time. Before the first command a client has ADMIN_FIRST_MS. A client that
 * closes its sending side gets the replies to everything it sent (also an
 * unterminated last line), then the server closes.
 *
 * Bounds (issue #12; every connection, whichever port it came from):
 *   ADMIN_MAX_CONNS      connections at once; one more is answered
 *                        "ERROR too many connections" and closed;
 *   ADMIN_FIRST_MS       from accept (or hand-over) to the first line;
 *   ADMIN_LINE_MS        from a line's first byte to its LF: a client that
 *                        trickles a byte at a time is closed;
 *   ADMIN_SEND_STALL_MS  a reply the client does not read at all for this
 *                        long closes the connection;
 *   ADMIN_OUT_HIGH       unsent reply bytes above which no further line is
 *                        started or read (TCP then holds the client back);
 *   ADMIN_MAX_WORKERS    blocking commands running at once (server-wide).
 * Input held per connection is at most one read (16 KiB) plus one line
 * (kv/linereader.h, 64 KiB); so across all connections at most
 * ADMIN_MAX_CONNS x (80 KiB + ADMIN_OUT_HIGH + one reply). No timer runs
 * while a call is in flight: a `raft join` waiting for its commit is never
 * cut short by the line deadline.
 *
 * Authentication (admin_server_set_token): the first command must then be
 * `auth TOKEN` (kv/adminauth.h); `kv ping` is answered before it. A wrong
 * token, or any other command before a good one, is answered
 * "ERROR unauthorized" and the connection is closed (after its reply is
 * sent; the server then reads and drops what the client still sends for
 * ADMIN_DRAIN_MS, so the reply is not lost to a TCP reset). */
#ifndef KV_ADMINSERVER_H
#define KV_ADMINSERVER_H

#include <stddef.h>
#include <stdint.h>

#include "kv/adminauth.h"

#define ADMIN_MAX_CONNS 128
#define ADMIN_LINGER_MS 300
#define ADMIN_FIRST_MS 10000
#define ADMIN_LINE_MS 5000
#define ADMIN_SEND_STALL_MS 15000
#define ADMIN_DRAIN_MS 1000
#define ADMIN_OUT_HIGH 65536
#define ADMIN_MAX_WORKERS 32

/* Each connection is one client in the sense of thesis §6.3: a random id
 * and sequence numbers in order, for exactly-once writes. */
typedef struct admin_server_client {
    uint64_t id;
    uint64_t seq; /* last used */
} admin_server_client_t;

/* One request line being answered. Whoever holds it (the admin thread
 * during exec, then at most one other thread at a time) appends the reply
 * with admin_call_write and hands it back with admin_call_end; after that
 * the call must not be touched. */
typedef struct admin_server_call admin_server_call_t;

/* Appends reply text (whole lines, each ending in LF). */
void admin_call_write(admin_server_call_t *call, const char *text, size_t len);
/* The reply is complete: it is sent, and the connection goes on with its
 * next line. Any thread; exactly once per call. */
void admin_call_end(admin_server_call_t *call);
/* Runs fn(arg, call) on a thread of its own, for commands that block
 * (membership changes, status, zone dumps); fn must end the call.
 * admin_server_free waits for these threads. 0, or -1 when no thread
 * could be started, or ADMIN_MAX_WORKERS are running (the caller still
 * holds the call). */
int admin_call_spawn(admin_server_call_t *call, void (*fn)(void *arg, admin_server_call_t *call), void *arg);

/* Handles one request line (without its LF) on the admin thread; must not
 * block. line is valid only during the call: copy what outlives it. */
typedef void (*admin_server_exec_fn)(void *ctx, admin_server_client_t *client, const char *line, size_t len,
                              admin_server_call_t *call);

typedef struct admin_server admin_server_t;

admin_server_t *admin_server_new(admin_server_exec_fn exec, void *ctx);
/* Requires `auth TOKEN` on every connection from now on; the server owns
 * the token (freed with it). Call before admin_server_open. */
void admin_server_set_token(admin_server_t *s, adminauth_token_t *token);
/* Also serves the admin protocol on its own listener at spec (HOST:PORT,
 * common/addr.h). Call before admin_server_open, at most once. Returns the
 * port it listens on, or -1 with err. */
int admin_server_listen(admin_server_t *s, const char *spec, char *err, size_t err_len);
/* Starts the admin thread. Connections taken before wait (their bytes
 * kept) until it is called: the transport hands connections over as soon
 * as the Raft port listens, before the embedder has everything its
 * commands use (kv/cluster.c calls this once node_start has returned). */
void admin_server_open(admin_server_t *s);
/* Takes over a connection: fd plus the bytes already read from it. Safe to
 * call from any thread; never blocks. */
void admin_server_take(admin_server_t *s, int fd, const uint8_t *first, size_t len);
/* Stops the admin thread, waits for the worker threads and closes every
 * connection. Call it once nothing else will end a call (kv/cluster.c
 * calls node_shutdown first, which answers every Raft request). */
void admin_server_free(admin_server_t *s);

#endif
