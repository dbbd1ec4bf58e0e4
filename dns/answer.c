/* dns/answer.c — the authoritative answer algorithm (API in dns/answer.h,
 * rules and choices in docs/dns-answers.md).
 *
 * One call answers one query in four steps, each its own function:
 *
 *   1. screen: parse the packet, then the checks that end in an error
 *      response, in Knot DNS's order: FORMERR, NOTIMP (opcode), BADVERS
 *      (EDNS version), REFUSED (class), NOTIMP (transfers, type 0),
 *      REFUSED (no served zone).
 *   2. resolve: RFC 1034 §4.3.2 step 3 inside the chosen zone: walk down
 *      from the apex to find a zone cut, the node, or the closest
 *      encloser; then exact match, CNAME (followed inside the same zone),
 *      wildcard (RFC 4592), NODATA or NXDOMAIN (RFC 2308, RFC 6604).
 *      Answer RRs are written as they are found; the authority RRs and the
 *      names that deserve additional records are noted.
 *   3. authority, then additional (sections must be written in order).
 *   4. the OPT RR, whose room was reserved from the start.
 *
 * Size: every RRset goes in whole or not at all. An answer or authority
 * RRset that does not fit sets TC and ends the message; so does a
 * referral's glue below the cut (RFC 9471); other additional RRsets that
 * do not fit are left out silently (RFC 2181 §9).
 *
 * Nothing here allocates: all state is on the stack, and every pointer
 * into the zone database stays valid for the call (the caller holds the
 * RCU read lock). */
#include "dns/answer.h"

#include <string.h>

#include "dns/wire.h"
#include "zone/rrtype.h"

/* CNAME records one answer may hold. Knot DNS stops at 5: a 6th CNAME is
 * left out (NOERROR, the chain ends there), but the name the 5th points to
 * is still looked up and answered. */
#define CNAME_CHAIN_MAX 5
#define EXTRA_MAX 32       /* names whose A/AAAA we try to add */
#define OPT_RR_LEN 11      /* root owner + fixed fields, no options */
#define UDP_PLAIN_MAX 512  /* RFC 1035 §4.2.1 */

typedef enum lookup_kind {
    LOOKUP_FOUND,     /* the node of the name itself */
    LOOKUP_WILDCARD,  /* a wildcard node matching the name (RFC 4592) */
    LOOKUP_CUT,       /* the name is at or below a zone cut */
    LOOKUP_NXDOMAIN,  /* neither the name nor a matching wildcard exists */
} lookup_kind_t;

typedef struct lookup {
    lookup_kind_t kind;
    const zonedb_node_t *node;   /* FOUND/WILDCARD: the node; CUT: the cut */
    const uint8_t *cut_name; /* CUT: the cut as a suffix of the looked-up name */
} lookup_t;

typedef struct answer {
    const dns_query_t *q;
    const zonedb_index_t *zone;
    dns_builder_t b;
    uint16_t flags;           /* QR, opcode, RD, AA, TC */
    uint8_t rcode;            /* the 12-bit rcode, low and high parts */
    bool truncated;
    bool opt_reserved;        /* room for our OPT RR is kept back */
    unsigned cnames;          /* CNAME RRsets put in the answer so far */
    /* What step 2 decided for the authority section. */
    bool want_soa;
    const zonedb_node_t *referral;   /* cut node whose NS go in authority */
    const uint8_t *referral_name;
    /* Names (inside zone rdata) whose in-zone A/AAAA go in additional. */
    const uint8_t *extra[EXTRA_MAX];
    bool extra_required[EXTRA_MAX]; /* glue below a referral's cut */
    size_t extra_count;
} answer_t;

/* ---- helpers ---------------------------------------------------------- */

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Fills offs[] with the start of every label of `name`, the root label
 * last; returns the number of labels (root excluded). */
static int label_offsets(const uint8_t *name, size_t offs[NAME_MAX_WIRE / 2 + 1])
{
    int n = 0;
    size_t i = 0;
    while (name[i] != 0) {
        offs[n++] = i;
        i += (size_t)name[i] + 1;
    }
    offs[n] = i;
    return n;
}

/* Writes every RR of `set` under `owner` with `ttl`. The whole set or
 * nothing: on failure the builder is rolled back and -1 returned. */
static int put_rrset(answer_t *a, enum dns_section section, const uint8_t *owner,
                     const zonedb_rrset_t *set, uint32_t ttl)
{
    dns_builder_mark_t m = dns_builder_mark(&a->b);
    size_t pos = 0;
    const uint8_t *rd;
    uint16_t rdlen;
    while (zonedb_rrset_next(set, &pos, &rd, &rdlen)) {
        if (dns_builder_rr(&a->b, section, owner, set->type, DNS_CLASS_IN, ttl, rd, rdlen) != 0) {
            dns_builder_rollback(&a->b, &m);
            return -1;
        }
    }
    return 0;
}

/* An answer or authority RRset: if it does not fit, the message is
 * truncated and nothing more is added. */
static bool put_required(answer_t *a, enum dns_section section, const uint8_t *owner,
                         const zonedb_rrset_t *set, uint32_t ttl)
{
    if (a->truncated)
        return false;
    if (put_rrset(a, section, owner, set, ttl) != 0) {
        a->truncated = true;
        a->flags |= DNS_FLAG_TC;
        return false;
    }
    return true;
}

/* Notes the target names of MX, NS and SRV records for the additional
 * section (RFC 1035 §3.3.9, §3.3.11, RFC 2782). `cut` is the delegation
 * point when `set` is a referral's NS RRset, else NULL: targets at or below
 * it are glue the referral cannot work without (RFC 9471), so not fitting
 * them truncates the message, as in Knot DNS. */
static void note_extra_names(answer_t *a, const zonedb_rrset_t *set, const uint8_t *cut)
{
    if (set->type != DNS_TYPE_MX && set->type != DNS_TYPE_NS && set->type != DNS_TYPE_SRV)
        return;
    size_t pos = 0;
    const uint8_t *rd;
    uint16_t rdlen;
    while (zonedb_rrset_next(set, &pos, &rd, &rdlen) && a->extra_count < EXTRA_MAX) {
        size_t offs[2];
        if (rrtype_rdata_names(set->type, rd, rdlen, offs) != 1)
            continue;
        const uint8_t *target = rd + offs[0];
        a->extra_required[a->extra_count] = cut && name_is_subdomain(target, cut);
        a->extra[a->extra_count++] = target;
    }
}

/* ---- step 2: finding names -------------------------------------------- */

/* The wildcard node "*.<closest encloser>", or NULL (RFC 4592 §2.1.1). */
static const zonedb_node_t *wildcard_at(const zonedb_index_t *zone, const uint8_t *encloser)
{
    uint8_t wild[NAME_MAX_WIRE];
    size_t len = name_wire_len(encloser);
    if (len + 2 > NAME_MAX_WIRE)
        return NULL;
    wild[0] = 1;
    wild[1] = '*';
    memcpy(wild + 2, encloser, len);
    return zonedb_index_find(zone, wild);
}

/* Looks `name` up in the zone (it must be at or below the origin). Walks
 * down from the apex one label at a time: the first delegation on the way
 * is a cut (except the name itself for a DS query: DS lives at the parent
 * side, RFC 4035 §3.1.4.1); the first missing name makes the previous one
 * the closest encloser (every ancestor of an owner is a node, so no deeper
 * name can exist). */
static void lookup_name(const zonedb_index_t *zone, const uint8_t *name, uint16_t qtype, lookup_t *out)
{
    size_t offs[NAME_MAX_WIRE / 2 + 1];
    int labels = label_offsets(name, offs);
    int apex_labels = name_label_count(zonedb_index_origin(zone));
    const zonedb_node_t *encloser = zonedb_index_apex(zone);
    for (int k = labels - apex_labels - 1; k >= 0; k--) {
        const uint8_t *suffix = name + offs[k];
        const zonedb_node_t *node = zonedb_index_find(zone, suffix);
        if (!node) {
            const zonedb_node_t *w = wildcard_at(zone, name + offs[k + 1]);
            *out = (lookup_t){ .kind = w ? LOOKUP_WILDCARD : LOOKUP_NXDOMAIN, .node = w ? w : encloser };
            return;
        }
        if ((zonedb_node_flags(node) & ZONEDB_NODE_DELEGATION) && !(k == 0 && qtype == DNS_TYPE_DS)) {
            *out = (lookup_t){ .kind = LOOKUP_CUT, .node = node, .cut_name = suffix };
            return;
        }
        encloser = node;
    }
    *out = (lookup_t){ .kind = LOOKUP_FOUND, .node = encloser };
}

/* The name a CNAME points to (inside the zone's rdata). */
static const uint8_t *cname_target(const zonedb_rrset_t *cname)
{
    size_t pos = 0;
    const uint8_t *rd;
    uint16_t rdlen;
    if (!zonedb_rrset_next(cname, &pos, &rd, &rdlen) || rdlen == 0)
        return NULL;
    return rd;
}

static bool seen_before(const uint8_t *const *names, size_t count, const uint8_t *name)
{
    for (size_t i = 0; i < count; i++) {
        if (name_equal(names[i], name))
            return true;
    }
    return false;
}

/* Answers from a node that matched `owner` (exactly or by wildcard).
 * Returns the CNAME target to follow next, or NULL when done. */
static const uint8_t *answer_at_node(answer_t *a, const zonedb_node_t *node, const uint8_t *owner)
{
    uint16_t qtype = a->q->qtype;
    if (zonedb_node_rrset_count(node) == 0) { /* empty non-terminal: NODATA */
        a->want_soa = true;
        return NULL;
    }
    if (qtype == DNS_TYPE_ANY) {
        /* RFC 8482 §4.1: one RRset. Like Knot DNS, the node's first, which
         * is the lowest type since RRsets are kept in type order. */
        const zonedb_rrset_t *first = zonedb_node_rrset_at(node, 0);
        if (put_required(a, DNS_SECTION_ANSWER, owner, first, first->ttl))
            note_extra_names(a, first, NULL);
        return NULL;
    }
    const zonedb_rrset_t *set = zonedb_node_rrset(node, qtype);
    if (set) {
        if (put_required(a, DNS_SECTION_ANSWER, owner, set, set->ttl))
            note_extra_names(a, set, NULL);
        return NULL;
    }
    const zonedb_rrset_t *cname = zonedb_node_rrset(node, DNS_TYPE_CNAME);
    if (cname) {
        if (a->cnames == CNAME_CHAIN_MAX)
            return NULL; /* chain too long: end it here, NOERROR */
        if (!put_required(a, DNS_SECTION_ANSWER, owner, cname, cname->ttl))
            return NULL;
        a->cnames++;
        return cname_target(cname);
    }
    a->want_soa = true; /* NODATA (RFC 2308 §2.2) */
    return NULL;
}

/* RFC 1034 §4.3.2 step 3 for the qname and, through CNAMEs, each name it
 * leads to inside the zone. The rcode is that of the last name looked up
 * (RFC 6604 §2). */
static void resolve(answer_t *a)
{
    const uint8_t *visited[CNAME_CHAIN_MAX + 1];
    size_t nvisited = 0;
    const uint8_t *name = a->q->qname;
    while (name && !a->truncated) {
        visited[nvisited++] = name;
        lookup_t lk;
        lookup_name(a->zone, name, a->q->qtype, &lk);
        const uint8_t *next = NULL;
        switch (lk.kind) {
        case LOOKUP_CUT:
            /* A referral (RFC 1034 §4.3.2 3b). Only a referral for the
             * qname itself is non-authoritative; after a CNAME, the answer
             * section holds our authoritative data. */
            if (a->b.count[DNS_SECTION_ANSWER] == 0)
                a->flags &= (uint16_t)~DNS_FLAG_AA;
            a->referral = lk.node;
            a->referral_name = lk.cut_name;
            break;
        case LOOKUP_NXDOMAIN:
            a->rcode = DNS_RCODE_NXDOMAIN;
            a->want_soa = true;
            break;
        case LOOKUP_FOUND:
        case LOOKUP_WILDCARD:
            next = answer_at_node(a, lk.node, name);
            break;
        }
        /* Follow only inside this zone, like Knot DNS, and stop on a loop.
         * At most CNAME_CHAIN_MAX CNAMEs are put, so at most that many + 1
         * names are visited. */
        if (next && (!name_is_subdomain(next, zonedb_index_origin(a->zone)) ||
                     seen_before(visited, nvisited, next)))
            next = NULL;
        name = next;
    }
}

/* ---- step 3: authority and additional --------------------------------- */

static void add_authority(answer_t *a)
{
    if (a->referral) {
        const zonedb_rrset_t *ns = zonedb_node_rrset(a->referral, DNS_TYPE_NS);
        if (put_required(a, DNS_SECTION_AUTHORITY, a->referral_name, ns, ns->ttl))
            note_extra_names(a, ns, a->referral_name);
        return;
    }
    if (!a->want_soa)
        return;
    const zonedb_node_t *apex = zonedb_index_apex(a->zone);
    const zonedb_rrset_t *soa = zonedb_node_rrset(apex, DNS_TYPE_SOA);
    if (!soa)
        return; /* the zone parser guarantees one; never trust it blindly */
    /* RFC 2308 §3: the TTL of the SOA in a negative answer is the smaller
     * of its own TTL and its MINIMUM field. */
    uint32_t ttl = soa->ttl;
    size_t pos = 0;
    const uint8_t *rd;
    uint16_t rdlen;
    if (zonedb_rrset_next(soa, &pos, &rd, &rdlen) && rdlen >= 20) {
        uint32_t minimum = get32(rd + rdlen - 4);
        if (minimum < ttl)
            ttl = minimum;
    }
    put_required(a, DNS_SECTION_AUTHORITY, zonedb_index_origin(a->zone), soa, ttl);
}

/* The node that answers for `name` in the zone when it is an additional
 * section target: the name's own node, or else the wildcard at its closest
 * encloser (Knot DNS synthesises additional records from wildcards too). */
static const zonedb_node_t *additional_node(const zonedb_index_t *zone, const uint8_t *name)
{
    const zonedb_node_t *node = zonedb_index_find(zone, name);
    if (node)
        return node;
    const uint8_t *ce = name_parent(name);
    while (ce && !zonedb_index_find(zone, ce))
        ce = name_parent(ce); /* ends at the apex at the latest */
    return ce ? wildcard_at(zone, ce) : NULL;
}

/* A and AAAA of each noted name that this zone answers for (exactly or by
 * wildcard), once each. RRsets that do not fit are left out without TC
 * (RFC 2181 §9), except a referral's glue below its cut, which sets TC and
 * ends the message (RFC 9471 §3). */
static void add_additional(answer_t *a)
{
    if (a->truncated)
        return;
    static const uint16_t types[] = { DNS_TYPE_A, DNS_TYPE_AAAA };
    const uint8_t *done[EXTRA_MAX]; /* names, since a wildcard serves many */
    size_t ndone = 0;
    for (size_t i = 0; i < a->extra_count; i++) {
        const uint8_t *target = a->extra[i];
        if (!name_is_subdomain(target, zonedb_index_origin(a->zone)))
            continue;
        const zonedb_node_t *node = additional_node(a->zone, target);
        if (!node)
            continue;
        bool dup = false;
        for (size_t k = 0; k < ndone; k++)
            dup = dup || name_equal(done[k], target);
        if (dup)
            continue;
        done[ndone++] = target;
        for (size_t t = 0; t < 2; t++) {
            const zonedb_rrset_t *set = zonedb_node_rrset(node, types[t]);
            if (!set)
                continue;
            if (a->extra_required[i]) {
                if (!put_required(a, DNS_SECTION_ADDITIONAL, target, set, set->ttl))
                    return;
            } else {
                (void)put_rrset(a, DNS_SECTION_ADDITIONAL, target, set, set->ttl);
            }
        }
    }
}

/* ---- step 1 and 4: screening and finishing ---------------------------- */

/* The UDP payload we may fill (RFC 6891 §6.2.5): the requestor's size, at
 * least 512, at most what we advertise. */
static size_t size_limit(const dns_query_t *q, bool tcp, size_t cap)
{
    size_t limit;
    if (tcp)
        limit = DNS_TCP_MAX;
    else if (!q->has_edns)
        limit = UDP_PLAIN_MAX;
    else {
        limit = q->edns_payload < UDP_PLAIN_MAX ? UDP_PLAIN_MAX : q->edns_payload;
        if (limit > DNS_EDNS_PAYLOAD)
            limit = DNS_EDNS_PAYLOAD;
    }
    return limit < cap ? limit : cap;
}

/* Writes the header flags, the OPT RR if the query had one, the counts. */
static size_t finish(answer_t *a)
{
    dns_builder_set_flags(&a->b, (uint16_t)(a->flags | (a->rcode & 0xf)));
    if (a->opt_reserved) {
        dns_builder_set_limit(&a->b, a->b.limit + OPT_RR_LEN);
        if (dns_builder_opt(&a->b, DNS_EDNS_PAYLOAD, (uint8_t)(a->rcode >> 4), a->q->edns_do) != 0)
            return 0; /* cannot happen: the room was reserved */
    }
    return dns_builder_finish(&a->b);
}

/* An error response: the question (when there is one) and nothing else. */
static size_t error_response(answer_t *a, uint8_t rcode)
{
    a->rcode = rcode;
    if (a->q->qname_len > 0)
        (void)dns_builder_question(&a->b, a->q->qname, a->q->qtype, a->q->qclass);
    return finish(a);
}

/* The zone to answer from. A DS query for the apex of a served zone is
 * answered by the parent side when we serve the parent too (RFC 4035
 * §3.1.4.1), as Knot DNS does. */
static const zonedb_index_t *choose_zone(const zonedb_t *db, const dns_query_t *q)
{
    if (!db)
        return NULL;
    const zonedb_index_t *zone = zonedb_find_zone(db, q->qname);
    if (zone && q->qtype == DNS_TYPE_DS && name_equal(zonedb_index_origin(zone), q->qname)) {
        const uint8_t *parent = name_parent(q->qname);
        const zonedb_index_t *above = parent ? zonedb_find_zone(db, parent) : NULL;
        if (above)
            zone = above;
    }
    return zone;
}

static bool is_unsupported_qtype(uint16_t qtype)
{
    /* Transfers come later (issue 2 allows NOTIMP); type 0 is reserved.
     * Other meta types (MAILA, MAILB, 128-250) get the ordinary lookup,
     * which yields NODATA, as in Knot DNS. */
    return qtype == DNS_TYPE_AXFR || qtype == DNS_TYPE_IXFR || qtype == 0;
}

/* dns_answer, or with unavailable every well-formed query gets SERVFAIL
 * (dns_answer_unavailable). */
static size_t answer_query(const zonedb_t *db, const uint8_t *query, size_t qlen,
                           uint8_t *resp, size_t cap, bool tcp, bool unavailable, int *qtype)
{
    dns_query_t q;
    *qtype = -1;
    if (cap < DNS_HEADER_LEN)
        return 0;
    dns_parse_status_t st = dns_parse_query(query, qlen, &q);
    if (st == DNS_PARSE_DROP)
        return 0;
    if (st == DNS_PARSE_OK)
        *qtype = q.qtype;
    answer_t a = { .q = &q };
    /* Copy RD and the opcode; clear everything else (Knot does not echo
     * CD or AD when it does not do DNSSEC). */
    a.flags = (uint16_t)(DNS_FLAG_QR | (q.flags & DNS_FLAG_RD) | (q.flags & 0x7800u));
    size_t limit = size_limit(&q, tcp, cap);
    if (limit < DNS_HEADER_LEN)
        return 0;
    /* A buffer too small for the question and the OPT together (callers
     * give 512 and more) gets a response without the OPT rather than an
     * overflow: the question, which says what the answer is about, wins. */
    size_t question_len = q.qname_len ? q.qname_len + 4 : 0;
    a.opt_reserved = q.has_edns && limit >= DNS_HEADER_LEN + question_len + OPT_RR_LEN;
    if (a.opt_reserved)
        limit -= OPT_RR_LEN;
    dns_builder_init(&a.b, resp, limit, q.id, a.flags);

    if (st == DNS_PARSE_FORMERR)
        return error_response(&a, DNS_RCODE_FORMERR);
    if (unavailable)
        return error_response(&a, DNS_RCODE_SERVFAIL); /* RFC 1035 §4.1.1: server failure */
    if (DNS_OPCODE(q.flags) != DNS_OPCODE_QUERY)
        return error_response(&a, DNS_RCODE_NOTIMP);
    if (q.has_edns && q.edns_version > 0)
        return error_response(&a, DNS_RCODE_BADVERS);
    if (q.qclass != DNS_CLASS_IN)
        return error_response(&a, DNS_RCODE_REFUSED);
    if (is_unsupported_qtype(q.qtype))
        return error_response(&a, DNS_RCODE_NOTIMP);
    a.zone = choose_zone(db, &q);
    if (!a.zone)
        return error_response(&a, DNS_RCODE_REFUSED);

    if (dns_builder_question(&a.b, q.qname, q.qtype, q.qclass) != 0)
        return error_response(&a, DNS_RCODE_SERVFAIL); /* cap below 512: caller bug */
    a.flags |= DNS_FLAG_AA;
    resolve(&a);
    add_authority(&a);
    add_additional(&a);
    return finish(&a);
}

size_t dns_answer(const zonedb_t *db, const uint8_t *query, size_t qlen,
                  uint8_t *resp, size_t cap, bool tcp)
{
    int qtype;
    return answer_query(db, query, qlen, resp, cap, tcp, false, &qtype);
}

size_t dns_answer_qtype(const zonedb_t *db, const uint8_t *query, size_t qlen,
                        uint8_t *resp, size_t cap, bool tcp, int *qtype)
{
    return answer_query(db, query, qlen, resp, cap, tcp, false, qtype);
}

size_t dns_answer_unavailable(const uint8_t *query, size_t qlen, uint8_t *resp, size_t cap,
                              bool tcp)
{
    int qtype;
    return answer_query(NULL, query, qlen, resp, cap, tcp, true, &qtype);
}
