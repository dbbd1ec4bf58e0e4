/* dns/acl.c — access control lists (see acl.h): rule building (names and
 * prefixes parsed and checked once) and matching. */
#include "dns/acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct acl_prefix {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* 4 octets used for AF_INET */
    unsigned bits;
} acl_prefix_t;

typedef struct acl_rule {
    unsigned actions;
    bool any_zone;
    size_t zone_count;
    uint8_t (*zones)[NAME_MAX_WIRE]; /* lowercased */
    bool has_key;
    uint8_t key[NAME_MAX_WIRE];      /* lowercased */
    bool has_prefix;
    acl_prefix_t prefix;
} acl_rule_t;

struct acl {
    acl_rule_t *rules;
    size_t count;
};

static const uint8_t V4_MAPPED[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

acl_t *acl_new(void) { return calloc(1, sizeof(acl_t)); }

void acl_free(acl_t *acl)
{
    if (acl == NULL)
        return;
    for (size_t i = 0; i < acl->count; i++)
        free(acl->rules[i].zones);
    free(acl->rules);
    free(acl);
}

size_t acl_rule_count(const acl_t *acl) { return acl ? acl->count : 0; }

unsigned acl_action_from_name(const char *name)
{
    if (strcmp(name, "update") == 0)
        return ACL_UPDATE;
    if (strcmp(name, "transfer") == 0)
        return ACL_TRANSFER;
    if (strcmp(name, "notify") == 0)
        return ACL_NOTIFY;
    return 0;
}

static int fail(char err[ACL_ERR_MAX], const char *fmt, const char *what, const char *why)
{
    snprintf(err, ACL_ERR_MAX, fmt, what, why);
    return -1;
}

/* A presentation name, always absolute, lowercased into out. */
static int parse_name(const char *text, uint8_t out[NAME_MAX_WIRE], const char **why)
{
    uint8_t wire[NAME_MAX_WIRE];
    size_t len = strlen(text);
    if (len == 0) {
        *why = "empty name";
        return -1;
    }
    if (name_from_text(text, len, (const uint8_t *)"", wire, why) < 0)
        return -1;
    name_to_lower(wire, out);
    return 0;
}

/* An IPv4-mapped IPv6 prefix of at least 96 bits is that IPv4 prefix. */
static void unmap_prefix(acl_prefix_t *p)
{
    if (p->family == AF_INET6 && p->bits >= 96 && memcmp(p->addr, V4_MAPPED, 12) == 0) {
        memmove(p->addr, p->addr + 12, 4);
        memset(p->addr + 4, 0, 12);
        p->family = AF_INET;
        p->bits -= 96;
    }
}

static bool host_bits_zero(const acl_prefix_t *p, size_t octets)
{
    for (size_t i = 0; i < octets; i++) {
        unsigned keep = p->bits >= 8 * (i + 1) ? 8 : p->bits > 8 * i ? p->bits - 8 * i : 0;
        uint8_t mask = keep == 0 ? 0 : (uint8_t)(0xffu << (8 - keep));
        if (p->addr[i] & (uint8_t)~mask)
            return false;
    }
    return true;
}

/* "A.B.C.D", "A.B.C.D/N", "IPv6", "IPv6/N". Host bits must be zero, so a
 * typo like 10.0.0.1/8 is an error rather than a silently wider rule. */
static int parse_prefix(const char *text, acl_prefix_t *p, const char **why)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (strlen(text) >= sizeof buf) {
        *why = "too long";
        return -1;
    }
    strcpy(buf, text);
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash != NULL) {
        *slash = '\0';
        char *end = NULL;
        const char *digits = slash + 1;
        if (digits[0] < '0' || digits[0] > '9' || strlen(digits) > 3) {
            *why = "bad prefix length";
            return -1;
        }
        bits = strtol(digits, &end, 10);
        if (*end != '\0') {
            *why = "bad prefix length";
            return -1;
        }
    }
    memset(p, 0, sizeof *p);
    if (inet_pton(AF_INET, buf, p->addr) == 1)
        p->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, p->addr) == 1)
        p->family = AF_INET6;
    else {
        *why = "not an IPv4 or IPv6 address";
        return -1;
    }
    long max = p->family == AF_INET ? 32 : 128;
    if (bits > max) {
        *why = "prefix length too long for the address";
        return -1;
    }
    p->bits = (unsigned)(bits < 0 ? max : bits);
    if (!host_bits_zero(p, p->family == AF_INET ? 4 : 16)) {
        *why = "address has bits set beyond the prefix length";
        return -1;
    }
    unmap_prefix(p);
    return 0;
}

static int add_zones(acl_rule_t *r, const char *const *zones, size_t n, char err[ACL_ERR_MAX])
{
    if (n == 0)
        return fail(err, "%s%s", "zones: ", "empty list");
    if (n > ACL_MAX_ZONES)
        return fail(err, "%s%s", "zones: ", "too many");
    r->zones = calloc(n, sizeof *r->zones);
    if (r->zones == NULL)
        return fail(err, "%s%s", "", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;
        if (strcmp(zones[i], "*") == 0) {
            r->any_zone = true;
            continue;
        }
        if (parse_name(zones[i], r->zones[r->zone_count], &why) != 0)
            return fail(err, "zone \"%s\": %s", zones[i], why);
        r->zone_count++;
    }
    return 0;
}

static int add_key(acl_rule_t *r, const char *key, const tsig_keystore_t *keys,
                   char err[ACL_ERR_MAX])
{
    const char *why = NULL;
    if (parse_name(key, r->key, &why) != 0)
        return fail(err, "key \"%s\": %s", key, why);
    if (keys == NULL || tsig_keystore_find(keys, r->key) == NULL)
        return fail(err, "key \"%s\": %s", key, "no such TSIG key (see -tsig.keyfile)");
    r->has_key = true;
    return 0;
}

int acl_add_rule(acl_t *acl, const char *const *zones, size_t zone_count, unsigned actions,
                 const char *key, const char *address, const tsig_keystore_t *keys,
                 char err[ACL_ERR_MAX])
{
    if (acl->count >= ACL_MAX_RULES)
        return fail(err, "%s%s", "", "too many rules");
    if (actions == 0 || (actions & ~(unsigned)(ACL_UPDATE | ACL_TRANSFER | ACL_NOTIFY)))
        return fail(err, "%s%s", "actions: ", "give update, transfer and/or notify");
    acl_rule_t r = { .actions = actions };
    const char *why = NULL;
    if (add_zones(&r, zones, zone_count, err) != 0 ||
        (key != NULL && add_key(&r, key, keys, err) != 0))
        goto fail;
    if (address != NULL) {
        if (parse_prefix(address, &r.prefix, &why) != 0) {
            fail(err, "address \"%s\": %s", address, why);
            goto fail;
        }
        r.has_prefix = true;
    }
    acl_rule_t *grown = realloc(acl->rules, (acl->count + 1) * sizeof *grown);
    if (grown == NULL) {
        fail(err, "%s%s", "", "out of memory");
        goto fail;
    }
    acl->rules = grown;
    acl->rules[acl->count++] = r;
    return 0;
fail:
    free(r.zones);
    return -1;
}

/* The peer as a prefix of full length, IPv4-mapped IPv6 as IPv4. */
static bool peer_address(const struct sockaddr *peer, acl_prefix_t *out)
{
    memset(out, 0, sizeof *out);
    if (peer == NULL)
        return false;
    if (peer->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)peer;
        memcpy(out->addr, &in->sin_addr, 4);
        out->family = AF_INET;
        out->bits = 32;
        return true;
    }
    if (peer->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;
        memcpy(out->addr, &in6->sin6_addr, 16);
        out->family = AF_INET6;
        out->bits = 128;
        unmap_prefix(out);
        return true;
    }
    return false;
}

static bool prefix_contains(const acl_prefix_t *p, const acl_prefix_t *a)
{
    if (p->family != a->family)
        return false;
    unsigned full = p->bits / 8, rest = p->bits % 8;
    if (memcmp(p->addr, a->addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (p->addr[full] & mask) == (a->addr[full] & mask);
}

static bool zone_listed(const acl_rule_t *r, const uint8_t *zone)
{
    if (r->any_zone)
        return true;
    for (size_t i = 0; i < r->zone_count; i++)
        if (name_equal(r->zones[i], zone))
            return true;
    return false;
}

bool acl_allows(const acl_t *acl, unsigned action, const uint8_t *zone,
                const uint8_t *key_name, const struct sockaddr *peer)
{
    if (acl == NULL || zone == NULL)
        return false;
    acl_prefix_t from;
    bool have_peer = peer_address(peer, &from);
    for (size_t i = 0; i < acl->count; i++) {
        const acl_rule_t *r = &acl->rules[i];
        if (!(r->actions & action) || !zone_listed(r, zone))
            continue;
        if (r->has_key && (key_name == NULL || !name_equal(r->key, key_name)))
            continue;
        if (r->has_prefix && (!have_peer || !prefix_contains(&r->prefix, &from)))
            continue;
        return true;
    }
    return false;
}
