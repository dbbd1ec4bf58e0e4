/* dns/notify_conf.c — the NOTIFY targets of each zone (dns/notify.h),
 * built from the YAML `notify:` rules at start: zone names, target
 * addresses and key names are checked here, so a mistake stops the daemon
 * (exit 2) instead of silently notifying nobody. */
#include "dns/notify.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "port" after the address: 1..65535, digits only. */
static int parse_port(const char *p, uint16_t *port)
{
    if (*p == '\0' || strlen(p) > 5)
        return -1;
    unsigned long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

static int fill_v4(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return -1;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    *len = sizeof *a;
    return 0;
}

static int fill_v6(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
        return -1;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    *len = sizeof *a;
    return 0;
}

int notify_parse_target(const char *text, struct sockaddr_storage *ss, socklen_t *len,
                        char err[NOTIFY_ERR_MAX])
{
    char host[64];
    uint16_t port = 53;
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof host + 8)
        goto bad;
    if (text[0] == '[') { /* [IPv6]:PORT or [IPv6] */
        const char *close = strchr(text, ']');
        if (close == NULL || (size_t)(close - text - 1) >= sizeof host)
            goto bad;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        if ((close[1] != '\0' && (close[1] != ':' || parse_port(close + 2, &port) != 0)) ||
            fill_v6(host, port, ss, len) != 0)
            goto bad;
        return 0;
    }
    if (fill_v6(text, port, ss, len) == 0 || fill_v4(text, port, ss, len) == 0)
        return 0; /* a bare address: port 53 */
    const char *colon = strrchr(text, ':');
    if (colon == NULL || (size_t)(colon - text) >= sizeof host)
        goto bad;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    if (parse_port(colon + 1, &port) == 0 && fill_v4(host, port, ss, len) == 0)
        return 0;
bad:
    snprintf(err, NOTIFY_ERR_MAX,
             "target \"%.100s\": expected A.B.C.D:PORT or [IPv6]:PORT (an address, not a name)",
             text);
    return -1;
}

static notify_zone_t *zone_of(notify_conf_t *c, const uint8_t *name, const char *text,
                              char err[NOTIFY_ERR_MAX])
{
    for (size_t i = 0; i < c->n_zones; i++)
        if (name_equal(c->zones[i].name, name))
            return &c->zones[i];
    notify_zone_t *grown = realloc(c->zones, (c->n_zones + 1) * sizeof *grown);
    if (grown == NULL) {
        snprintf(err, NOTIFY_ERR_MAX, "out of memory");
        return NULL;
    }
    c->zones = grown;
    notify_zone_t *z = &grown[c->n_zones++];
    memset(z, 0, sizeof *z);
    name_to_lower(name, z->name);
    snprintf(z->text, sizeof z->text, "%s", text);
    return z;
}

static int add_target(notify_zone_t *z, const char *text, const tsig_key_t *key,
                      char err[NOTIFY_ERR_MAX])
{
    notify_target_t t = { .key = key };
    if (notify_parse_target(text, &t.addr, &t.addr_len, err) != 0)
        return -1;
    snprintf(t.text, sizeof t.text, "%s", text);
    for (size_t i = 0; i < z->n_targets; i++)
        if (z->targets[i].addr_len == t.addr_len &&
            memcmp(&z->targets[i].addr, &t.addr, t.addr_len) == 0) {
            snprintf(err, NOTIFY_ERR_MAX, "target %.80s given twice for zone %.300s", text, z->text);
            return -1;
        }
    if (z->n_targets >= NOTIFY_MAX_TARGETS) {
        snprintf(err, NOTIFY_ERR_MAX, "zone %.300s: more than %d targets", z->text,
                 NOTIFY_MAX_TARGETS);
        return -1;
    }
    notify_target_t *grown = realloc(z->targets, (z->n_targets + 1) * sizeof *grown);
    if (grown == NULL) {
        snprintf(err, NOTIFY_ERR_MAX, "out of memory");
        return -1;
    }
    z->targets = grown;
    grown[z->n_targets++] = t;
    return 0;
}

static const tsig_key_t *find_key(const char *key, const tsig_keystore_t *keys,
                                  char err[NOTIFY_ERR_MAX])
{
    uint8_t wire[NAME_MAX_WIRE];
    const char *why = NULL;
    if (name_from_text(key, strlen(key), (const uint8_t *)"", wire, &why) < 0) {
        snprintf(err, NOTIFY_ERR_MAX, "key \"%.100s\": %s", key, why);
        return NULL;
    }
    const tsig_key_t *k = keys ? tsig_keystore_find(keys, wire) : NULL;
    if (k == NULL)
        snprintf(err, NOTIFY_ERR_MAX, "key \"%.100s\" is not in any tsig.keyfile", key);
    return k;
}

int notify_conf_add_rule(notify_conf_t *c, const char *const *zones, size_t n_zones,
                         const char *const *targets, size_t n_targets, const char *key,
                         const tsig_keystore_t *keys, char err[NOTIFY_ERR_MAX])
{
    const tsig_key_t *k = NULL;
    if (key != NULL && (k = find_key(key, keys, err)) == NULL)
        return -1;
    if (n_zones == 0 || n_targets == 0) {
        snprintf(err, NOTIFY_ERR_MAX, "a rule needs zones and targets");
        return -1;
    }
    for (size_t i = 0; i < n_zones; i++) {
        uint8_t wire[NAME_MAX_WIRE];
        const char *why = NULL;
        if (strcmp(zones[i], "*") == 0) {
            snprintf(err, NOTIFY_ERR_MAX, "zones: \"*\" is not supported here: name each zone");
            return -1;
        }
        if (name_from_text(zones[i], strlen(zones[i]), (const uint8_t *)"", wire, &why) < 0) {
            snprintf(err, NOTIFY_ERR_MAX, "zone \"%.100s\": %s", zones[i], why);
            return -1;
        }
        notify_zone_t *z = zone_of(c, wire, zones[i], err);
        if (z == NULL)
            return -1;
        for (size_t t = 0; t < n_targets; t++)
            if (add_target(z, targets[t], k, err) != 0)
                return -1;
    }
    return 0;
}

size_t notify_conf_target_count(const notify_conf_t *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_zones; i++)
        n += c->zones[i].n_targets;
    return n;
}

void notify_conf_free(notify_conf_t *c)
{
    for (size_t i = 0; i < c->n_zones; i++)
        free(c->zones[i].targets);
    free(c->zones);
    c->zones = NULL;
    c->n_zones = 0;
}
