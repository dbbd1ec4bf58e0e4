/* common/addr.c — parses "HOST:PORT" listen specs and binds sockets to them
 * (see addr.h for the accepted forms and why IPv4 is preferred for names). */
#include "common/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fail(char err[ADDR_ERR_MAX], const char *fmt, const char *arg)
{
    snprintf(err, ADDR_ERR_MAX, fmt, arg);
    return -1;
}

static int parse_port(const char *text, uint16_t *port)
{
    if (*text == '\0' || strlen(text) > 5)
        return -1;
    unsigned value = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        value = value * 10 + (unsigned)(*p - '0');
    }
    if (value > 65535)
        return -1;
    *port = (uint16_t)value;
    return 0;
}

int addr_spec_parse(const char *spec, addr_spec_t *out, char err[ADDR_ERR_MAX])
{
    memset(out, 0, sizeof *out);
    if (spec == NULL || *spec == '\0')
        return fail(err, "empty address%s", "");
    const char *host = spec, *host_end, *port_text;
    if (*spec == '[') {
        host = spec + 1;
        host_end = strchr(host, ']');
        if (host_end == NULL)
            return fail(err, "address \"%s\": missing ']'", spec);
        if (host_end[1] != ':')
            return fail(err, "address \"%s\": missing port", spec);
        port_text = host_end + 2;
    } else {
        host_end = strrchr(spec, ':');
        if (host_end == NULL)
            return fail(err, "address \"%s\": missing port (write HOST:PORT or :PORT)", spec);
        if (memchr(spec, ':', (size_t)(host_end - spec)) != NULL)
            return fail(err, "address \"%s\": an IPv6 address needs brackets, e.g. [::1]:8600", spec);
        port_text = host_end + 1;
    }
    size_t host_len = (size_t)(host_end - host);
    if (host_len >= ADDR_HOST_MAX)
        return fail(err, "address \"%s\": host name too long", spec);
    if (parse_port(port_text, &out->port) != 0)
        return fail(err, "address \"%s\": port must be a number from 0 to 65535", spec);
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    out->any = host_len == 0;
    if (*spec == '[' && host_len == 0)
        return fail(err, "address \"%s\": empty IPv6 address", spec);
    return 0;
}

/* Picks the first IPv4 result if any, else the first result. */
static int resolve_host(const addr_spec_t *spec, int socktype, struct sockaddr_storage *ss,
                        socklen_t *len, char err[ADDR_ERR_MAX])
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = socktype,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(spec->host, "0", &hints, &res);
    if (rc != 0) {
        snprintf(err, ADDR_ERR_MAX, "cannot resolve \"%.255s\": %s", spec->host, gai_strerror(rc));
        return -1;
    }
    const struct addrinfo *pick = res;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    memcpy(ss, pick->ai_addr, pick->ai_addrlen);
    *len = pick->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static int open_socket(int family, int socktype, bool reuseport)
{
    int fd = socket(family, socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1, zero = 0;
    /* SO_REUSEADDR lets a restarted server listen despite old TCP
     * connections in TIME_WAIT; on UDP it would let two processes share a
     * port silently, so only TCP gets it. */
    if ((socktype == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
        (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0)) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int addr_bind_socket(const addr_spec_t *spec, int socktype, bool reuseport,
                     uint16_t port_override, char err[ADDR_ERR_MAX])
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (spec->any) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_any;
        len = sizeof *sin6;
    } else if (resolve_host(spec, socktype, &ss, &len, err) != 0) {
        return -1;
    }
    set_port(&ss, port_override ? port_override : spec->port);

    int fd = open_socket(ss.ss_family, socktype, reuseport);
    if (fd < 0 && spec->any && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)) {
        /* No IPv6 on this host: every IPv4 address instead. */
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        memset(&ss, 0, sizeof ss);
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        len = sizeof *sin;
        set_port(&ss, port_override ? port_override : spec->port);
        fd = open_socket(AF_INET, socktype, reuseport);
    }
    if (fd < 0) {
        snprintf(err, ADDR_ERR_MAX, "socket: %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        int saved = errno;
        close(fd);
        snprintf(err, ADDR_ERR_MAX, "bind %.255s:%u: %s", spec->any ? "*" : spec->host,
                 (unsigned)(port_override ? port_override : spec->port), strerror(saved));
        return -1;
    }
    return fd;
}

uint16_t addr_local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int addr_resolve_dial(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
    addr_spec_t a;
    char err[ADDR_ERR_MAX];
    if (addr_spec_parse(spec, &a, err) != 0)
        return -1;
    char port[8];
    snprintf(port, sizeof port, "%u", a.port);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
    struct addrinfo *res = NULL;
    if (getaddrinfo(a.any ? "127.0.0.1" : a.host, port, &hints, &res) != 0 || !res)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

void addr_local_endpoint(int fd, uint16_t port, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "127.0.0.1";
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
    }
    snprintf(out, cap, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
}
