/* kv/text.h — the rules for what text may be a KV key, a KV value or a node
 * id. Shared by the admin protocol (which parses what a person typed) and the
 * command decoder (which must reject the same things when they arrive in a
 * log entry from a buggy or hostile peer), so both enforce one definition.
 *
 *   key:     1..KV_KEY_MAX bytes of strictly valid UTF-8 (RFC 3629: no
 *            overlong forms, no surrogates, nothing above U+10FFFF) with no
 *            control character (C0, DEL, C1) and no space — a key is one
 *            word of an admin line.
 *   value:   1..KV_VALUE_MAX arbitrary bytes except CR and LF, because a
 *            value is sent back as one reply line. Empty values are refused
 *            so that `kv get` never answers with a blank line.
 *   node id: 1..KV_NODE_ID_MAX bytes of ASCII letters, digits, '-', '_', '.'
 *            (the rule of the daemon's -id flag, docs/operations.md). */
#ifndef KV_TEXT_H
#define KV_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_KEY_MAX 1024
#define KV_VALUE_MAX 65536
#define KV_NODE_ID_MAX 64

/* NULL when the key is acceptable, otherwise a static reason such as
 * "key is not valid UTF-8". */
const char *kv_text_check_key(const uint8_t *key, size_t len);
/* NULL when the value is acceptable, otherwise a static reason. */
const char *kv_text_check_value(const uint8_t *value, size_t len);
/* NULL when the node id is acceptable, otherwise a static reason. */
const char *kv_text_check_node_id(const uint8_t *id, size_t len);

#endif
