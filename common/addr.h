/* common/addr.h — listen-address specs as the seed writes them, and bound
 * sockets made from them.
 *
 * A spec is "HOST:PORT" in Go's net style:
 *   ":8600"            every address (an IPv6 dual-stack socket, or 0.0.0.0
 *                      when the host has no IPv6)
 *   "127.0.0.1:8600"   one IPv4 address
 *   "[::1]:8600"       one IPv6 address (brackets required)
 *   "localhost:8600"   a host name, resolved at bind time; when it has both
 *                      IPv4 and IPv6 addresses the IPv4 one is used, as Go
 *                      does, so `dig @127.0.0.1` reaches it.
 * Port 0 asks the kernel for a free port (tests use it).
 *
 * Used by the DNS server now and by the Raft listener later. */
#ifndef COMMON_ADDR_H
#define COMMON_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_HOST_MAX 256
#define ADDR_ERR_MAX 512

typedef struct addr_spec {
    char host[ADDR_HOST_MAX]; /* without brackets; empty when `any` */
    uint16_t port;
    bool any;                 /* ":PORT": every local address */
} addr_spec_t;

/* Syntax only (no name resolution). Returns 0, or -1 with a message in err. */
int addr_spec_parse(const char *spec, addr_spec_t *out, char err[ADDR_ERR_MAX]);

/* Creates a socket of `socktype` (SOCK_DGRAM or SOCK_STREAM) bound to the
 * spec, with SO_REUSEADDR for TCP, and SO_REUSEPORT when `reuseport` is set, close-
 * on-exec and non-blocking. For a wildcard spec the socket is IPv6 with
 * IPV6_V6ONLY=0, or IPv4 when IPv6 is unavailable. `port_override`, when not
 * zero, replaces the spec's port (so sockets after the first can join the
 * port the kernel chose for ":0"). Returns the fd, or -1 with err set. */
int addr_bind_socket(const addr_spec_t *spec, int socktype, bool reuseport,
                     uint16_t port_override, char err[ADDR_ERR_MAX]);

/* The local port a bound socket got, or 0 on error. */
uint16_t addr_local_port(int fd);

/* Resolves a spec to dial (TCP): ":PORT" means this host (127.0.0.1).
 * Returns 0 and fills *ss / *len, or -1. May block on name resolution. */
int addr_resolve_dial(const char *spec, struct sockaddr_storage *ss, socklen_t *len);
/* "HOST:PORT" ("[HOST]:PORT" for IPv6) with HOST the local address of the
 * connected socket fd (127.0.0.1 if unknown): how the other end reaches us
 * on `port`. */
void addr_local_endpoint(int fd, uint16_t port, char *out, size_t cap);

#endif
