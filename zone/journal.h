/* zone/journal.h — turning a zone's journal (its changesets, oldest first)
 * into the one difference an IXFR serves (RFC 1995 §4, the condensed
 * form): from a client's serial to the newest serial, each RR removed or
 * added at most once, with the old SOA first among the removed RRs and the
 * new SOA first among the added ones. Pure: no I/O, no locks; kv/ calls it
 * under the state machine's read lock, dns/ streams the result. */
#ifndef ZONE_JOURNAL_H
#define ZONE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "zone/update.h"

enum zone_journal_result {
    ZJ_NONE = 0, /* the serial is not in the journal's last contiguous run,
                  * or memory ran out: the caller falls back to AXFR */
    ZJ_UPTODATE, /* the serial is the newest one */
    ZJ_DIFF,     /* *out holds the condensed difference (caller frees) */
};

/* Condenses v[0..n) from `serial` to the newest serial_to. Only the last
 * run of changesets that chain (each serial_from equal to the previous
 * serial_to, each serial_to newer by RFC 1982) is used: a serial before a
 * break (a whole-zone replace that moved the serial back or kept it) is
 * not served incrementally. The serial is matched exactly (RFC 1995 §4
 * leaves other serials to AXFR). */
enum zone_journal_result zone_journal_condense(const zone_changeset_t *v, size_t n,
                                               uint32_t serial, zone_changeset_t *out);

#endif
