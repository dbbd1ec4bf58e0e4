/* dns/upd_msg.h — parsing of an RFC 2136 UPDATE message (§2) into the
 * sections zone/update.h works on: the zone section (exactly one SOA-typed
 * entry, §3.1.1), the prerequisite section and the update section, with
 * every name decompressed (owners, and the names inside the rdata of the
 * RFC 1035 types that may be compressed: NS, CNAME, SOA, PTR, MX). The
 * additional section is skipped (the TSIG RR was removed before; an OPT RR
 * means nothing here).
 *
 * Hostile input: every read is bounds-checked (dns_read_name), counts must
 * match the records present, and a failure returns FORMERR with nothing
 * allocated. The message is the one carried in a Raft command, so this runs
 * on every replica: the result depends only on the bytes. */
#ifndef DNS_UPD_MSG_H
#define DNS_UPD_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "zone/update.h"

#define DNS_OPCODE_UPDATE 5

/* Parses msg[0..len). Returns ZU_NOERROR and fills *u (free with
 * zone_update_free), or ZU_FORMERR (u then empty; *why, if not NULL, gets a
 * static reason). NOTIMP when the opcode is not UPDATE. */
int dns_update_parse(const uint8_t *msg, size_t len, zone_update_t *u, const char **why);

#endif
