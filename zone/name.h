/* zone/name.h — domain names in uncompressed wire form.
 *
 * A name is a sequence of length-prefixed labels ending with the root label
 * (a zero byte), at most NAME_MAX_WIRE octets, each label at most
 * LABEL_MAX octets (RFC 1035 §2.3.4, §3.1). Names keep the letter case they
 * were written with; comparisons are ASCII case-insensitive (RFC 4343).
 * Functions taking a `const uint8_t *name` assume a valid name (one that came
 * out of name_from_text or the wire parser). */
#ifndef ZONE_NAME_H
#define ZONE_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAME_MAX_WIRE 255
#define LABEL_MAX 63
#define NAME_MAX_TEXT 1024 /* worst case: every octet written as \DDD */

/* Octets in the wire form, root label included (the root name is 1). */
size_t name_wire_len(const uint8_t *name);
/* Number of labels, not counting the root label (the root name has 0). */
int name_label_count(const uint8_t *name);
/* Parses presentation form (RFC 1035 §5.1: \X and \DDD escapes, "@" is the
 * origin, a name without a trailing dot is relative to `origin`; origin may
 * be NULL only for absolute names). Returns the wire length, or -1 with *err
 * set to a static message ("label longer than 63 octets", ...). */
int name_from_text(const char *text, size_t len, const uint8_t *origin,
                   uint8_t out[NAME_MAX_WIRE], const char **err);
/* Writes the absolute presentation form with a trailing dot, escaping
 * special characters as \X and non-printables as \DDD. Returns its length. */
size_t name_to_text(const uint8_t *name, char *out, size_t cap);
/* ASCII case-insensitive equality. */
bool name_equal(const uint8_t *a, const uint8_t *b);
/* RFC 4034 §6.1 canonical order (case-insensitive): <0, 0, >0. */
int name_compare_canonical(const uint8_t *a, const uint8_t *b);
/* True when `name` is `ancestor` or below it. */
bool name_is_subdomain(const uint8_t *name, const uint8_t *ancestor);
/* The name with its first label removed; NULL for the root name. */
const uint8_t *name_parent(const uint8_t *name);
/* Copies `name` lowercased into out; returns the wire length. */
size_t name_to_lower(const uint8_t *name, uint8_t out[NAME_MAX_WIRE]);
/* A case-insensitive hash of the name (the same for names that are equal). */
uint64_t name_hash(const uint8_t *name);

#endif
