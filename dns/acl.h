/* dns/acl.h — access control lists for UPDATE (and, later, zone transfers
 * and NOTIFY): which zones, actions, TSIG keys and source addresses are
 * allowed. Pure: no I/O, no locks; built once at start-up, then read-only
 * and safe to share between threads.
 *
 * A rule (YAML `acl:` list items, parsed by common/config.c):
 *
 *     - zones: [foo.com.]        # or ["*"]: every zone
 *       actions: [update]        # update | transfer | notify
 *       key: update-key          # optional: the request is TSIG-signed with it
 *       address: 127.0.0.0/8     # optional: the source is inside the prefix
 *
 * A request is allowed when at least one rule lists its zone (exact name,
 * case-insensitive) and its action, and every condition the rule gives
 * (key, address; both when both are given) holds. No rule: nothing is
 * allowed (REFUSED, RFC 2136 §3.3 leaves the policy to the server).
 * IPv4-mapped IPv6 sources (::ffff:a.b.c.d) match IPv4 prefixes, and an
 * IPv4-mapped IPv6 prefix (::ffff:0:0/96 and longer) is the IPv4 prefix. */
#ifndef DNS_ACL_H
#define DNS_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/tsig.h"
#include "zone/name.h"

#define ACL_ERR_MAX 256
#define ACL_MAX_RULES 4096
#define ACL_MAX_ZONES 4096 /* per rule */

enum acl_action {
    ACL_UPDATE = 1u << 0,
    ACL_TRANSFER = 1u << 1,
    ACL_NOTIFY = 1u << 2,
};

typedef struct acl acl_t;

acl_t *acl_new(void);
void acl_free(acl_t *acl); /* NULL is fine */

/* The action named `name` ("update", "transfer", "notify"), or 0. */
unsigned acl_action_from_name(const char *name);

/* Adds one rule. zones: presentation names ("foo.com." or "foo.com"; a
 * name without a dot at the end is taken as absolute) or "*"; actions: a
 * mask of enum acl_action (not 0); key: a TSIG key name or NULL, which
 * must be in `keys` when given (keys may be NULL only when key is);
 * address: "A.B.C.D[/N]" or "IPv6[/N]" or NULL. Returns 0, or -1 with the
 * reason in err (the rule is then not added). */
int acl_add_rule(acl_t *acl, const char *const *zones, size_t zone_count, unsigned actions,
                 const char *key, const char *address, const tsig_keystore_t *keys,
                 char err[ACL_ERR_MAX]);
size_t acl_rule_count(const acl_t *acl);

/* Whether `action` on `zone` (wire name) is allowed for a request signed
 * with the key named key_name (wire name; NULL: unsigned or not verified)
 * from `peer` (AF_INET or AF_INET6; NULL: unknown, matches no prefix). */
bool acl_allows(const acl_t *acl, unsigned action, const uint8_t *zone,
                const uint8_t *key_name, const struct sockaddr *peer);

#endif
