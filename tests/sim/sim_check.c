/* tests/sim/sim_check.c — history kept across nodes and the checks on it.
 *
 * Log Matching is checked with chained hashes: chain(i) = H(chain(i-1),
 * term(i), data(i)). Two logs agree on every entry up to i exactly when
 * their chains at i are equal, so "same (index, term) => same prefix" becomes
 * "one chain per (index, term)", a hash-table lookup per persisted entry. */
#include "tests/sim/sim_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/sim_sm.h"

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need < *cap)
        return p;
    size_t n = *cap ? *cap : 1024;
    while (n <= need)
        n *= 2;
    uint8_t *q = realloc(p, n * elem);
    if (!q) {
        fprintf(stderr, "raft-sim: out of memory in the checker\n");
        abort();
    }
    memset(q + *cap * elem, 0, (n - *cap) * elem);
    *cap = n;
    return q;
}

void sim_check_init(struct sim_check *c)
{
    memset(c, 0, sizeof *c);
}

void sim_check_free(struct sim_check *c)
{
    free(c->leader_of_term);
    free(c->log_table);
    free(c->committed);
    memset(c, 0, sizeof *c);
}

void sim_check_fail(struct sim_check *c, const char *property, const char *fmt, ...)
{
    if (c->failed)
        return; /* the first violation is the interesting one */
    c->failed = true;
    snprintf(c->property, sizeof c->property, "%s", property);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof c->detail, fmt, ap);
    va_end(ap);
}

uint64_t sim_entry_hash(const raft_entry_t *e)
{
    return sim_hash_bytes(e->data, e->len, (uint64_t)e->type);
}

uint64_t sim_chain(uint64_t prev_chain, uint64_t term, uint64_t data_hash)
{
    return sim_hash_mix(sim_hash_mix(prev_chain, term), data_hash);
}

void sim_check_leader(struct sim_check *c, int slot, uint64_t term)
{
    c->leader_of_term = grow(c->leader_of_term, &c->terms_cap, term, 1);
    int8_t *who = &c->leader_of_term[term];
    if (*who == 0)
        *who = (int8_t)(slot + 1);
    else if (*who != slot + 1)
        sim_check_fail(c, "Election Safety", "n%d and n%d both leader in term %llu", *who,
                       slot + 1, (unsigned long long)term);
}

static size_t log_slot(uint64_t index, uint64_t term, size_t cap)
{
    return (size_t)(sim_hash_mix(index, term) & (cap - 1));
}

static void log_table_grow(struct sim_check *c)
{
    size_t old_cap = c->log_cap;
    struct sim_log_key *old = c->log_table;
    c->log_cap = old_cap ? old_cap * 2 : 4096;
    c->log_table = calloc(c->log_cap, sizeof *c->log_table);
    if (!c->log_table) {
        fprintf(stderr, "raft-sim: out of memory in the checker\n");
        abort();
    }
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].index == 0)
            continue;
        size_t s = log_slot(old[i].index, old[i].term, c->log_cap);
        while (c->log_table[s].index != 0)
            s = (s + 1) & (c->log_cap - 1);
        c->log_table[s] = old[i];
    }
    free(old);
}

void sim_check_log_entry(struct sim_check *c, int slot, uint64_t index, uint64_t term,
                         uint64_t chain)
{
    if (2 * (c->log_len + 1) > c->log_cap)
        log_table_grow(c);
    size_t s = log_slot(index, term, c->log_cap);
    for (;; s = (s + 1) & (c->log_cap - 1)) {
        struct sim_log_key *k = &c->log_table[s];
        if (k->index == 0) {
            *k = (struct sim_log_key){ index, term, chain };
            c->log_len++;
            return;
        }
        if (k->index == index && k->term == term) {
            if (k->chain != chain)
                sim_check_fail(c, "Log Matching",
                               "n%d holds (index %llu, term %llu) with a log prefix "
                               "different from another node's",
                               slot + 1, (unsigned long long)index, (unsigned long long)term);
            return;
        }
    }
}

void sim_check_apply(struct sim_check *c, int slot, uint64_t index, uint64_t term,
                     uint64_t data_hash, uint64_t sm_hash, uint64_t node_term)
{
    c->committed = grow(c->committed, &c->committed_cap, index, sizeof *c->committed);
    struct sim_committed *e = &c->committed[index];
    if (index > c->max_committed) {
        uint64_t prev = index > 1 ? c->committed[index - 1].chain : 0;
        if (index != c->max_committed + 1) {
            sim_check_fail(c, "State Machine Safety",
                           "n%d applied index %llu but nothing applied %llu before",
                           slot + 1, (unsigned long long)index,
                           (unsigned long long)c->max_committed + 1);
            return;
        }
        *e = (struct sim_committed){ term, data_hash, sim_chain(prev, term, data_hash), sm_hash,
                                     node_term };
        c->max_committed = index;
        return;
    }
    if (e->term != term || e->data_hash != data_hash)
        sim_check_fail(c, "State Machine Safety",
                       "n%d applied (index %llu, term %llu) but another node applied "
                       "(index %llu, term %llu) with %s data",
                       slot + 1, (unsigned long long)index, (unsigned long long)term,
                       (unsigned long long)index, (unsigned long long)e->term,
                       e->data_hash == data_hash ? "the same" : "different");
    else if (e->sm_hash != sm_hash)
        sim_check_fail(c, "State Machine Safety",
                       "n%d's state machine after index %llu differs from another node's "
                       "(at-most-once sessions or snapshot restore diverged)",
                       slot + 1, (unsigned long long)index);
}

void sim_check_restored(struct sim_check *c, int slot, uint64_t index, uint64_t sm_hash)
{
    if (index > c->max_committed)
        sim_check_fail(c, "State Machine Safety",
                       "n%d restored a snapshot at %llu beyond anything applied (%llu)",
                       slot + 1, (unsigned long long)index,
                       (unsigned long long)c->max_committed);
    else if (index > 0 && c->committed[index].sm_hash != sm_hash)
        sim_check_fail(c, "State Machine Safety",
                       "n%d restored a snapshot at %llu whose state differs from what "
                       "replicas had at that index",
                       slot + 1, (unsigned long long)index);
}

bool sim_check_committed_chain(const struct sim_check *c, uint64_t index, uint64_t *chain)
{
    if (index == 0) {
        *chain = 0;
        return true;
    }
    if (index > c->max_committed)
        return false;
    *chain = c->committed[index].chain;
    return true;
}

void sim_check_leader_log(struct sim_check *c, int slot, const raft_t *r, uint64_t from_index)
{
    uint64_t term = raft_term(r);
    uint64_t first = raft_first_index(r);
    uint64_t start = from_index > first - 1 ? from_index : first - 1;
    if (start == 0)
        start = 1;
    for (uint64_t i = start; i <= c->max_committed; i++) {
        const struct sim_committed *e = &c->committed[i];
        if (e->commit_term >= term)
            continue; /* committed in this term or later: not required */
        uint64_t have = raft_log_term(r, i);
        if (have != e->term) {
            sim_check_fail(c, "Leader Completeness",
                           "n%d leads term %llu but its log has term %llu at index %llu, "
                           "where an entry of term %llu was committed",
                           slot + 1, (unsigned long long)term, (unsigned long long)have,
                           (unsigned long long)i, (unsigned long long)e->term);
            return;
        }
    }
}

void sim_check_acked(struct sim_check *c, uint64_t index)
{
    if (index > c->acked_max_index)
        c->acked_max_index = index;
}

void sim_check_read(struct sim_check *c, int slot, uint64_t ctx, uint64_t floor,
                    uint64_t applied, uint64_t read_index)
{
    if (applied < floor)
        sim_check_fail(c, "Linearizable Read",
                       "read ctx=%llu served by n%d at applied index %llu (read index %llu), "
                       "but a write at index %llu was acknowledged before the read began",
                       (unsigned long long)ctx, slot + 1, (unsigned long long)applied,
                       (unsigned long long)read_index, (unsigned long long)floor);
}
