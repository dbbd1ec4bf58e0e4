/* tests/unit/test_zone_db.c — the zone database (zone/db.c): node lookup,
 * empty non-terminals, flags, RRset grouping, versions sharing indexes,
 * most-specific zone lookup, and RCU publication under concurrent readers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zone/db.h"
#include "zone/zone.h"

static const char EXAMPLE[] =
    "$ORIGIN example.com.\n"
    "$TTL 3600\n"
    "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
    "@ NS ns1\n"
    "ns1 A 192.0.2.53\n"
    "WWW 60 A 192.0.2.2\n"
    "www 120 A 192.0.2.1\n"
    "www TXT \"t\"\n"
    "a.b.c.ent A 192.0.2.7\n"
    "*.wild A 192.0.2.99\n"
    "deleg NS ns.deleg\n"
    "ns.deleg A 192.0.2.100\n";

static zone_t *parse(const char *text, const char *origin)
{
    uint8_t o[NAME_MAX_WIRE];
    const char *e;
    assert_true(name_from_text(origin, strlen(origin), NULL, o, &e) > 0);
    char err[ZONE_ERR_MAX] = "";
    zone_t *z = zone_parse_text(text, strlen(text), "test", o, err);
    if (!z)
        fail_msg("%s", err);
    return z;
}

static zonedb_index_t *build(const char *text, const char *origin)
{
    zone_t *z = parse(text, origin);
    char err[ZONE_ERR_MAX] = "";
    zonedb_index_t *zi = zonedb_index_build(z, err);
    if (!zi)
        fail_msg("%s", err);
    zone_free(z); /* the index copied what it needs */
    return zi;
}

static const uint8_t *wire(const char *text, uint8_t buf[NAME_MAX_WIRE])
{
    const char *e;
    assert_true(name_from_text(text, strlen(text), NULL, buf, &e) > 0);
    return buf;
}

static const zonedb_node_t *find(const zonedb_index_t *zi, const char *text)
{
    uint8_t buf[NAME_MAX_WIRE];
    return zonedb_index_find(zi, wire(text, buf));
}

static void test_nodes_are_found_ignoring_case(void **state)
{
    (void)state;
    zonedb_index_t *zi = build(EXAMPLE, "example.com.");
    assert_non_null(find(zi, "example.com."));
    assert_non_null(find(zi, "WwW.ExAmPlE.cOm."));
    assert_null(find(zi, "nope.example.com."));
    assert_null(find(zi, "com."));
    const zonedb_node_t *apex = zonedb_index_apex(zi);
    assert_ptr_equal(apex, find(zi, "EXAMPLE.COM."));
    assert_true(zonedb_node_flags(apex) & ZONEDB_NODE_APEX);
    assert_memory_equal(zonedb_node_name(find(zi, "WWW.example.com.")), "\3www\7example\3com", 17);
    assert_int_equal(zonedb_index_serial(zi), 1);
    zonedb_index_unref(zi);
}

static void test_empty_non_terminals_are_nodes(void **state)
{
    (void)state;
    zonedb_index_t *zi = build(EXAMPLE, "example.com.");
    const char *ents[] = { "b.c.ent.example.com.", "c.ent.example.com.", "ent.example.com.", "wild.example.com." };
    for (size_t i = 0; i < 4; i++) {
        const zonedb_node_t *n = find(zi, ents[i]);
        assert_non_null(n);
        assert_int_equal(zonedb_node_rrset_count(n), 0);
        assert_null(zonedb_node_rrset_at(n, 0));
    }
    assert_int_equal(zonedb_node_rrset_count(find(zi, "a.b.c.ent.example.com.")), 1);
    /* 7 owners (apex, ns1, www, a.b.c.ent, *.wild, deleg, ns.deleg) + 4 ENTs */
    assert_int_equal(zonedb_index_node_count(zi), 11);
    zonedb_index_unref(zi);
}

static void test_flags(void **state)
{
    (void)state;
    zonedb_index_t *zi = build(EXAMPLE, "example.com.");
    assert_int_equal(zonedb_node_flags(find(zi, "deleg.example.com.")), ZONEDB_NODE_DELEGATION);
    assert_int_equal(zonedb_node_flags(find(zi, "ns.deleg.example.com.")), 0);
    assert_int_equal(zonedb_node_flags(find(zi, "*.wild.example.com.")), ZONEDB_NODE_WILDCARD);
    assert_int_equal(zonedb_node_flags(find(zi, "www.example.com.")), 0);
    /* NS at the apex is not a delegation */
    assert_int_equal(zonedb_node_flags(zonedb_index_apex(zi)), ZONEDB_NODE_APEX);
    zonedb_index_unref(zi);
}

static void test_rrsets_grouped_in_type_order(void **state)
{
    (void)state;
    zonedb_index_t *zi = build(EXAMPLE, "example.com.");
    const zonedb_node_t *www = find(zi, "www.example.com.");
    assert_int_equal(zonedb_node_rrset_count(www), 2);
    assert_int_equal(zonedb_node_rrset_at(www, 0)->type, 1);
    assert_int_equal(zonedb_node_rrset_at(www, 1)->type, 16);
    const zonedb_rrset_t *a = zonedb_node_rrset(www, 1);
    assert_non_null(a);
    assert_null(zonedb_node_rrset(www, 28));
    assert_int_equal(a->count, 2);
    /* canonical order: 192.0.2.1 before 192.0.2.2 */
    size_t pos = 0;
    const uint8_t *rd;
    uint16_t len;
    assert_true(zonedb_rrset_next(a, &pos, &rd, &len));
    assert_int_equal(len, 4);
    assert_memory_equal(rd, "\xc0\x00\x02\x01", 4);
    assert_true(zonedb_rrset_next(a, &pos, &rd, &len));
    assert_memory_equal(rd, "\xc0\x00\x02\x02", 4);
    assert_false(zonedb_rrset_next(a, &pos, &rd, &len));
    zonedb_index_unref(zi);
}

/* A zone_t put together by hand, as kv/ could hand us one. */
static zone_rr_t hand_rr(const uint8_t *owner, uint16_t type, const void *rdata, uint16_t rdlen)
{
    return (zone_rr_t){ .owner = owner, .type = type, .rclass = 1, .ttl = 10, .rdlen = rdlen, .rdata = rdata };
}

static void test_duplicates_and_out_of_zone(void **state)
{
    (void)state;
    static const uint8_t apex[] = "\7example\3com";
    static const uint8_t host[] = "\1h\7example\3com";
    static const uint8_t other[] = "\1h\3org";
    zone_rr_t rrs[3] = {
        hand_rr(host, 1, "\1\2\3\4", 4),
        hand_rr(host, 1, "\1\2\3\4", 4),
        hand_rr(apex, 16, "", 0),
    };
    zone_t z = { .rrs = rrs, .count = 3, .serial = 7 };
    memcpy(z.origin, apex, sizeof apex);
    char err[ZONE_ERR_MAX] = "";
    zonedb_index_t *zi = zonedb_index_build(&z, err);
    assert_non_null(zi);
    assert_int_equal(zonedb_index_rr_count(zi), 2);
    assert_int_equal(zonedb_node_rrset(find(zi, "h.example.com."), 1)->count, 1);
    assert_int_equal(zonedb_node_rrset(zonedb_index_apex(zi), 16)->rdata_len, 2);
    assert_true(zonedb_index_memory(zi) > 0);
    zonedb_index_unref(zi);

    rrs[1].owner = other;
    assert_null(zonedb_index_build(&z, err));
    assert_non_null(strstr(err, "h.org."));

    z.count = 0; /* an empty zone still has its apex node */
    zi = zonedb_index_build(&z, err);
    assert_non_null(zi);
    assert_non_null(zonedb_index_apex(zi));
    zonedb_index_unref(zi);
}

static void test_mixed_ttls_take_the_last(void **state)
{
    (void)state;
    /* The parser already gives a set one TTL; a zone from elsewhere (kv/)
     * may not: the index keeps the TTL written last, as Knot DNS does. */
    static const uint8_t apex[] = "\7example\3com";
    zone_rr_t rrs[3] = {
        hand_rr(apex, 1, "\1\2\3\4", 4),
        hand_rr(apex, 1, "\1\2\3\3", 4),
        hand_rr(apex, 1, "\1\2\3\5", 4),
    };
    rrs[0].ttl = 100;
    rrs[1].ttl = 300;
    rrs[2].ttl = 200;
    zone_t z = { .rrs = rrs, .count = 3 };
    memcpy(z.origin, apex, sizeof apex);
    zonedb_index_t *zi = zonedb_index_build(&z, NULL);
    assert_non_null(zi);
    const zonedb_rrset_t *a = zonedb_node_rrset(zonedb_index_apex(zi), 1);
    assert_int_equal(a->count, 3);
    assert_int_equal(a->ttl, 200);
    zonedb_index_unref(zi);
}

static void test_versions_share_and_find_most_specific(void **state)
{
    (void)state;
    zonedb_index_t *parent = build(EXAMPLE, "example.com.");
    zonedb_index_t *child = build("@ 60 SOA ns h 2 1 1 1 1\n@ 60 NS ns\nns 60 A 192.0.2.1\n", "sub.example.com.");
    zonedb_t *v0 = zonedb_new();
    zonedb_t *v1 = zonedb_with_zone(v0, parent);
    zonedb_t *v2 = zonedb_with_zone(v1, child);
    assert_int_equal(zonedb_zone_count(v0), 0);
    assert_int_equal(zonedb_zone_count(v1), 1);
    assert_int_equal(zonedb_zone_count(v2), 2);
    uint8_t b[NAME_MAX_WIRE];
    assert_null(zonedb_find_zone(v0, wire("www.example.com.", b)));
    assert_ptr_equal(zonedb_find_zone(v2, wire("www.example.com.", b)), parent);
    assert_ptr_equal(zonedb_find_zone(v2, wire("A.Sub.Example.Com.", b)), child);
    assert_ptr_equal(zonedb_find_zone(v2, wire("sub.example.com.", b)), child);
    assert_ptr_equal(zonedb_find_zone(v1, wire("a.sub.example.com.", b)), parent);
    assert_null(zonedb_find_zone(v2, wire("example.org.", b)));
    assert_null(zonedb_find_zone(v2, wire("com.", b)));
    assert_ptr_equal(zonedb_get_zone(v2, wire("SUB.example.com.", b)), child);
    assert_null(zonedb_get_zone(v2, wire("a.sub.example.com.", b)));

    /* Replacing a zone of the same origin; the old versions keep theirs. */
    zonedb_index_t *parent2 = build(EXAMPLE, "example.com.");
    zonedb_t *v3 = zonedb_with_zone(v2, parent2);
    assert_int_equal(zonedb_zone_count(v3), 2);
    assert_ptr_equal(zonedb_get_zone(v3, wire("example.com.", b)), parent2);
    assert_ptr_equal(zonedb_get_zone(v2, wire("example.com.", b)), parent);
    zonedb_t *v4 = zonedb_without_zone(v3, wire("sub.example.com.", b));
    assert_int_equal(zonedb_zone_count(v4), 1);
    assert_ptr_equal(zonedb_find_zone(v4, wire("a.sub.example.com.", b)), parent2);
    zonedb_t *v5 = zonedb_without_zone(v4, wire("nothere.", b));
    assert_int_equal(zonedb_zone_count(v5), 1);
    assert_ptr_equal(zonedb_zone_at(v5, 0), parent2);
    assert_null(zonedb_zone_at(v5, 1));
    /* Freed in any order: indexes live while a version refers to them
     * (ASan reports a use after free or a leak otherwise). */
    zonedb_free(v2);
    assert_ptr_equal(zonedb_find_zone(v1, wire("www.example.com.", b)), parent);
    zonedb_free(v0);
    zonedb_free(v1);
    zonedb_free(v3);
    zonedb_free(v4);
    assert_non_null(find(parent2, "www.example.com."));
    zonedb_free(v5);
}

/* ---- RCU: writers swap versions while readers query ------------------- */

#define READERS 3
#define SWAPS 200

typedef struct rcu_test {
    zonedb_handle_t *h;
    atomic_bool stop;
    atomic_long reads;
    atomic_int errors;
} rcu_test_t;

/* Each published version holds one zone whose serial is also the value of
 * the TXT record length at the apex: a reader seeing a version must see
 * both agree, and must never see freed memory (ASan). */
static zonedb_index_t *versioned_zone(uint32_t serial)
{
    char text[256];
    snprintf(text, sizeof text,
             "@ 60 SOA ns h %u 1 1 1 1\n@ 60 NS ns\nns 60 A 192.0.2.1\n@ 60 TXT \"%.*s\"\n",
             serial, (int)(serial % 50 + 1), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    return build(text, "rcu.test.");
}

static void *reader(void *arg)
{
    rcu_test_t *t = arg;
    uint8_t name[NAME_MAX_WIRE];
    wire("ns.rcu.test.", name);
    zonedb_reader_register();
    while (!atomic_load(&t->stop)) {
        zonedb_read_lock();
        const zonedb_t *db = zonedb_current(t->h);
        const zonedb_index_t *zi = zonedb_find_zone(db, name);
        if (zi) {
            const zonedb_rrset_t *txt = zonedb_node_rrset(zonedb_index_apex(zi), 16);
            if (!txt || txt->rdata[2] != zonedb_index_serial(zi) % 50 + 1 || !zonedb_index_find(zi, name))
                atomic_fetch_add(&t->errors, 1);
        }
        zonedb_read_unlock();
        atomic_fetch_add(&t->reads, 1);
    }
    zonedb_reader_unregister();
    return NULL;
}

static void test_publish_while_readers_query(void **state)
{
    (void)state;
    rcu_test_t t = { .h = zonedb_handle_new() };
    assert_non_null(t.h);
    pthread_t th[READERS];
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &t), 0);
    uint8_t origin[NAME_MAX_WIRE];
    wire("rcu.test.", origin);
    assert_int_equal(zonedb_handle_put_zone(t.h, versioned_zone(1)), 0);
    /* Let the readers get going so the swaps really overlap their reads. */
    while (atomic_load(&t.reads) < 100)
        sched_yield();
    for (uint32_t s = 1; s <= SWAPS; s++) {
        if (s % 10 == 0)
            assert_int_equal(zonedb_handle_remove_zone(t.h, origin), 1);
        else
            assert_int_equal(zonedb_handle_put_zone(t.h, versioned_zone(s)), 0);
    }
    assert_int_equal(zonedb_handle_remove_zone(t.h, origin), 0); /* s = 200 removed it */
    /* A whole version built by hand and published; this thread is the only
     * writer, so the version it read stays valid until it publishes. */
    zonedb_reader_register();
    zonedb_read_lock();
    zonedb_t *next = zonedb_with_zone(zonedb_current(t.h), versioned_zone(7));
    zonedb_read_unlock();
    zonedb_reader_unregister();
    zonedb_handle_publish(t.h, next);
    atomic_store(&t.stop, true);
    for (int i = 0; i < READERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&t.errors), 0);
    assert_true(atomic_load(&t.reads) > 0);
    zonedb_handle_free(t.h);
}

/* ---- a large zone ----------------------------------------------------- */

static void test_large_zone(void **state)
{
    (void)state;
    enum { N = 100000 };
    uint8_t *names = malloc((size_t)N * 32);
    zone_rr_t *rrs = malloc((size_t)N * sizeof *rrs);
    assert_non_null(names);
    assert_non_null(rrs);
    static const uint8_t apex[] = "\5large";
    for (size_t i = 0; i < N; i++) {
        uint8_t *n = names + i * 32;
        char label[16];
        int l = snprintf(label, sizeof label, "h%zu", i);
        /* h<i>.g<i%100>.large: 100 empty non-terminals */
        n[0] = (uint8_t)l;
        memcpy(n + 1, label, (size_t)l);
        int g = snprintf((char *)n + l + 2, 8, "g%zu", i % 100);
        n[l + 1] = (uint8_t)g;
        memcpy(n + l + 2 + g, apex, sizeof apex);
        rrs[i] = hand_rr(n, 1, n, 4);
    }
    zone_t z = { .rrs = rrs, .count = N };
    memcpy(z.origin, apex, sizeof apex);
    char err[ZONE_ERR_MAX];
    zonedb_index_t *zi = zonedb_index_build(&z, err);
    assert_non_null(zi);
    assert_int_equal(zonedb_index_node_count(zi), N + 100 + 1);
    assert_int_equal(zonedb_index_rr_count(zi), N);
    for (size_t i = 0; i < N; i += 997)
        assert_non_null(zonedb_index_find(zi, names + i * 32));
    assert_int_equal(zonedb_node_rrset_count(find(zi, "g42.large.")), 0);
    zonedb_index_unref(zi);
    free(names);
    free(rrs);
}

static void test_deep_names_grow_the_table(void **state)
{
    (void)state;
    /* 20 owners 61 labels deep: about 1200 empty non-terminals, far more
     * nodes than the table was sized for (2 x records), so it must grow. */
    enum { OWNERS = 20, DEPTH = 60 };
    static uint8_t names[OWNERS][NAME_MAX_WIRE];
    zone_rr_t rrs[OWNERS];
    static const uint8_t apex[] = "\4deep";
    for (size_t i = 0; i < OWNERS; i++) {
        size_t n = 0;
        for (size_t d = 0; d < DEPTH; d++) {
            names[i][n++] = 1;
            names[i][n++] = (uint8_t)('a' + d % 26);
        }
        names[i][n++] = 2;
        names[i][n++] = 'x';
        names[i][n++] = (uint8_t)('a' + i);
        memcpy(names[i] + n, apex, sizeof apex);
        rrs[i] = hand_rr(names[i], 1, "\1\2\3\4", 4);
    }
    zone_t z = { .rrs = rrs, .count = OWNERS };
    memcpy(z.origin, apex, sizeof apex);
    zonedb_index_t *zi = zonedb_index_build(&z, NULL);
    assert_non_null(zi);
    assert_int_equal(zonedb_index_node_count(zi), 1 + OWNERS * (DEPTH + 1));
    for (size_t i = 0; i < OWNERS; i++) {
        const uint8_t *p = names[i];
        for (size_t d = 0; d <= DEPTH; d++, p = name_parent(p))
            assert_non_null(zonedb_index_find(zi, p));
        assert_int_equal(zonedb_node_rrset_count(zonedb_index_find(zi, names[i])), 1);
    }
    zonedb_index_unref(zi);
}

/* The zone an overlay's walk yields, as sorted text lines "name type rdlen
 * rdata-hex", with the node count. */
static char *walk_text(const zonedb_index_t *zi, size_t *nodes)
{
    size_t cap = 1 << 16, len = 0, i = 0;
    char *out = calloc(1, cap);
    assert_non_null(out);
    *nodes = 0;
    const zonedb_node_t *n;
    while ((n = zonedb_index_walk(zi, &i)) != NULL) {
        (*nodes)++;
        for (size_t r = 0; r < zonedb_node_rrset_count(n); r++) {
            const zonedb_rrset_t *set = zonedb_node_rrset_at(n, r);
            size_t pos = 0;
            const uint8_t *rd;
            uint16_t rdlen;
            while (zonedb_rrset_next(set, &pos, &rd, &rdlen)) {
                char name[1024];
                name_to_text(zonedb_node_name(n), name, sizeof name);
                len += (size_t)snprintf(out + len, cap - len, "%s %u %u %u", name, set->type,
                                        set->ttl, rdlen);
                for (uint16_t b = 0; b < rdlen; b++)
                    len += (size_t)snprintf(out + len, cap - len, "%02x", rd[b]);
                len += (size_t)snprintf(out + len, cap - len, "\n");
                assert_true(len < cap - 1);
            }
        }
        i++;
    }
    /* sort the lines */
    size_t count = 0;
    char *lines[512];
    for (char *p = strtok(out, "\n"); p; p = strtok(NULL, "\n"))
        lines[count++] = p;
    for (size_t a = 1; a < count; a++)
        for (size_t b = a; b > 0 && strcmp(lines[b - 1], lines[b]) > 0; b--) {
            char *t = lines[b];
            lines[b] = lines[b - 1];
            lines[b - 1] = t;
        }
    char *sorted = calloc(1, cap);
    assert_non_null(sorted);
    for (size_t a = 0, l = 0; a < count; a++)
        l += (size_t)snprintf(sorted + l, cap - l, "%s\n", lines[a]);
    free(out);
    return sorted;
}

/* An overlay (dynamic updates) walks as the whole zone: its own nodes and
 * the base's it does not replace, each once (AXFR reads the zone so), and
 * counts the whole zone's nodes and RRs. */
static void test_overlay_walks_the_whole_zone(void **state)
{
    (void)state;
    static const char AFTER[] =
        "$ORIGIN example.com.\n"
        "$TTL 3600\n"
        "@ SOA ns1 hostmaster 2 7200 3600 1209600 300\n"
        "@ NS ns1\n"
        "ns1 A 192.0.2.53\n"
        "www 120 A 192.0.2.2\n"
        "www 120 A 192.0.2.1\n"
        "www 120 A 192.0.2.3\n"
        "www TXT \"t\"\n"
        "a.b.c.ent A 192.0.2.7\n"
        "*.wild A 192.0.2.99\n"
        "deleg NS ns.deleg\n"
        "ns.deleg A 192.0.2.100\n"
        "new.x A 192.0.2.8\n";
    /* the changed names (www, new.x and its empty parent x) and the apex */
    static const char PART[] =
        "$ORIGIN example.com.\n"
        "$TTL 3600\n"
        "@ SOA ns1 hostmaster 2 7200 3600 1209600 300\n"
        "@ NS ns1\n"
        "www 120 A 192.0.2.1\n"
        "www 120 A 192.0.2.2\n"
        "www 120 A 192.0.2.3\n"
        "www TXT \"t\"\n"
        "new.x A 192.0.2.8\n";
    zonedb_index_t *base = build(EXAMPLE, "example.com.");
    zonedb_index_t *full = build(AFTER, "example.com.");
    zone_t *part = parse(PART, "example.com.");
    char err[ZONE_ERR_MAX] = "";
    zonedb_index_t *over = zonedb_index_build_over(base, part, err);
    if (!over)
        fail_msg("%s", err);
    zone_free(part);
    size_t full_nodes, over_nodes;
    char *want = walk_text(full, &full_nodes), *got = walk_text(over, &over_nodes);
    assert_string_equal(got, want);
    assert_int_equal(over_nodes, full_nodes);
    assert_int_equal(zonedb_index_node_count(over), zonedb_index_node_count(full));
    assert_int_equal(zonedb_index_rr_count(over), zonedb_index_rr_count(full));
    free(want);
    free(got);
    zonedb_index_unref(over);
    zonedb_index_unref(full);
    zonedb_index_unref(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nodes_are_found_ignoring_case),
        cmocka_unit_test(test_empty_non_terminals_are_nodes),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_rrsets_grouped_in_type_order),
        cmocka_unit_test(test_duplicates_and_out_of_zone),
        cmocka_unit_test(test_mixed_ttls_take_the_last),
        cmocka_unit_test(test_versions_share_and_find_most_specific),
        cmocka_unit_test(test_publish_while_readers_query),
        cmocka_unit_test(test_large_zone),
        cmocka_unit_test(test_deep_names_grow_the_table),
        cmocka_unit_test(test_overlay_walks_the_whole_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
