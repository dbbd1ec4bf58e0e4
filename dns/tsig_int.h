/* dns/tsig_int.h — private to dns/tsig.c and dns/tsig_keys.c: the table
 * of TSIG algorithms (RFC 8945 §6) both the key-file parser and the MAC
 * code read. Not for other modules: use dns/tsig.h. */
#ifndef DNS_TSIG_INT_H
#define DNS_TSIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "dns/tsig.h"

typedef struct alg_info {
    enum tsig_alg alg;
    const char *name;   /* key-file and presentation name */
    const char *digest; /* OpenSSL digest name */
    uint8_t wire[16];   /* the algorithm name in wire form (RFC 8945 §6) */
    uint16_t mac_len;
} alg_info_t;

extern const alg_info_t TSIG_ALGS[];
extern const size_t TSIG_ALG_COUNT;

#endif
