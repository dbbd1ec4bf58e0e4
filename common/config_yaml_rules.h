/* common/config_yaml_rules.h — what the YAML rule lists (`acl:` in
 * config_acl.c, `notify:` in config_notify.c) share: the value is a
 * sequence of mappings, one per rule; each key of a rule appears at most
 * once and holds a string or a list of strings. The reader walks the
 * events and checks the shape; each list keeps its own rule type, keys and
 * required-key checks. Errors read "path:line: section: reason" (YAML
 * syntax errors "path:line: reason"). Private to common/. */
#ifndef COMMON_CONFIG_YAML_RULES_H
#define COMMON_CONFIG_YAML_RULES_H

#include <stddef.h>
#include <yaml.h>

#include "common/config.h"

typedef struct rules_reader {
    yaml_parser_t *p;
    const char *path;
    char *err;               /* CONFIG_ERR_MAX octets */
    const char *section;     /* "acl": the prefix of every error */
    const char *const *keys; /* the keys a rule may have (at most 32) */
    unsigned key_count;
} rules_reader_t;

/* Writes "path:line: section: " and the message to r->err; returns -1. */
int rules_error(rules_reader_t *r, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The whole value: "expected a list of rules (example)" unless it is a
 * sequence; each item must be a mapping, and read_rule reads the rest of
 * it (after its mapping-start event at line). Returns 0 or -1. */
typedef int (*rules_rule_fn)(rules_reader_t *r, size_t line, void *ctx);
int rules_read_sequence(rules_reader_t *r, const char *example, rules_rule_fn read_rule,
                        void *ctx);

/* The keys of one rule, after its mapping-start event, up to its end:
 * unknown or repeated keys are errors; read_value reads the value of
 * r->keys[key]. Returns 0 or -1. */
typedef int (*rules_value_fn)(rules_reader_t *r, unsigned key, void *rule);
int rules_read_mapping(rules_reader_t *r, rules_value_fn read_value, void *rule);

/* A string or a list of strings (none empty or with a NUL); each goes to
 * fn with its line. `what` names the key in errors. Returns 0 or -1. */
typedef int (*rules_item_fn)(rules_reader_t *r, const char *v, size_t line, void *ctx);
int rules_read_strings(rules_reader_t *r, const char *what, rules_item_fn fn, void *ctx);

/* The same, each string copied to the end of *list (*n items; at most
 * 4096, owned by the caller: rules_free_strings). */
int rules_read_string_list(rules_reader_t *r, char ***list, size_t *n, const char *what);

/* One string, copied to *field (owned by the caller). */
int rules_read_string(rules_reader_t *r, char **field, const char *what);

void rules_free_strings(char **v, size_t n);

/* Room for one more rule after the count (of size octets each) in array,
 * at most max: the grown array, which the caller stores (array stays
 * valid if NULL, with the error written). */
void *rules_grow(rules_reader_t *r, void *array, size_t count, size_t size, size_t max,
                 size_t line);

#endif
