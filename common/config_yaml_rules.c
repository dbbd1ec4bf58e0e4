/* common/config_yaml_rules.c — the shape of a YAML rule list (see
 * config_yaml_rules.h): the sequence, the rule mappings and their keys,
 * strings and lists of strings, with an error naming the file and line for
 * anything else. Every event is deleted on every path. */
#include "common/config_yaml_rules.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 4096 /* strings in one list (zones, targets) */

int rules_error(rules_reader_t *r, size_t line, const char *fmt, ...)
{
    int n = snprintf(r->err, CONFIG_ERR_MAX, "%s:%zu: %s: ", r->path, line, r->section);
    if (n < 0 || n >= CONFIG_ERR_MAX)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + n, CONFIG_ERR_MAX - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static size_t line_of(const yaml_event_t *ev) { return ev->start_mark.line + 1; }

static int next(rules_reader_t *r, yaml_event_t *ev)
{
    if (yaml_parser_parse(r->p, ev))
        return 0;
    snprintf(r->err, CONFIG_ERR_MAX, "%s:%zu: %s", r->path, r->p->problem_mark.line + 1,
             r->p->problem ? r->p->problem : "invalid YAML");
    return -1;
}

/* "zones, actions, key, address": the keys, for the errors that list them. */
static const char *key_names(const rules_reader_t *r, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < r->key_count && used < cap; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", r->keys[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

/* A scalar's text, refusing NULs and empty strings. */
static const char *scalar_text(rules_reader_t *r, const yaml_event_t *ev, const char *what)
{
    const char *v = (const char *)ev->data.scalar.value;
    if (ev->data.scalar.length != strlen(v) || v[0] == '\0') {
        rules_error(r, line_of(ev), "%s: empty value or NUL byte", what);
        return NULL;
    }
    return v;
}

int rules_read_strings(rules_reader_t *r, const char *what, rules_item_fn fn, void *ctx)
{
    yaml_event_t ev;
    if (next(r, &ev) != 0)
        return -1;
    int rc;
    if (ev.type == YAML_SCALAR_EVENT) {
        const char *v = scalar_text(r, &ev, what);
        rc = v ? fn(r, v, line_of(&ev), ctx) : -1;
        yaml_event_delete(&ev);
        return rc;
    }
    if (ev.type != YAML_SEQUENCE_START_EVENT) {
        rc = rules_error(r, line_of(&ev), "%s: expected a string or a list of strings", what);
        yaml_event_delete(&ev);
        return rc;
    }
    yaml_event_delete(&ev);
    for (;;) {
        if (next(r, &ev) != 0)
            return -1;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        const char *v = ev.type == YAML_SCALAR_EVENT ? scalar_text(r, &ev, what) : NULL;
        if (ev.type != YAML_SCALAR_EVENT)
            rules_error(r, line_of(&ev), "%s: list items must be strings", what);
        rc = v ? fn(r, v, line_of(&ev), ctx) : -1;
        yaml_event_delete(&ev);
        if (rc != 0)
            return -1;
    }
}

typedef struct string_list {
    char ***list;
    size_t *n;
    const char *what;
} string_list_t;

static int push(rules_reader_t *r, const char *v, size_t line, void *ctx)
{
    string_list_t *s = ctx;
    if (*s->n >= MAX_ITEMS)
        return rules_error(r, line, "%s: more than %d", s->what, MAX_ITEMS);
    char **grown = realloc(*s->list, (*s->n + 1) * sizeof *grown);
    if (grown == NULL)
        return rules_error(r, line, "out of memory");
    *s->list = grown;
    if ((grown[*s->n] = strdup(v)) == NULL)
        return rules_error(r, line, "out of memory");
    (*s->n)++;
    return 0;
}

int rules_read_string_list(rules_reader_t *r, char ***list, size_t *n, const char *what)
{
    string_list_t s = { list, n, what };
    return rules_read_strings(r, what, push, &s);
}

int rules_read_string(rules_reader_t *r, char **field, const char *what)
{
    yaml_event_t ev;
    if (next(r, &ev) != 0)
        return -1;
    int rc = 0;
    const char *v = ev.type == YAML_SCALAR_EVENT ? scalar_text(r, &ev, what) : NULL;
    if (ev.type != YAML_SCALAR_EVENT)
        rc = rules_error(r, line_of(&ev), "%s: expected a string", what);
    else if (v == NULL)
        rc = -1;
    else if ((*field = strdup(v)) == NULL)
        rc = rules_error(r, line_of(&ev), "out of memory");
    yaml_event_delete(&ev);
    return rc;
}

void rules_free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* One key of a rule mapping and its value. */
static int read_key(rules_reader_t *r, const char *key, size_t line, uint32_t *seen,
                    rules_value_fn read_value, void *rule)
{
    for (unsigned i = 0; i < r->key_count; i++) {
        if (strcmp(key, r->keys[i]) != 0)
            continue;
        if (*seen & (1u << i))
            return rules_error(r, line, "key \"%s\" given twice in one rule", key);
        *seen |= 1u << i;
        return read_value(r, i, rule);
    }
    char names[128];
    return rules_error(r, line, "unknown key \"%s\" (%s)", key,
                       key_names(r, names, sizeof names));
}

int rules_read_mapping(rules_reader_t *r, rules_value_fn read_value, void *rule)
{
    uint32_t seen = 0;
    for (;;) {
        yaml_event_t ev;
        if (next(r, &ev) != 0)
            return -1;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        int rc;
        if (ev.type != YAML_SCALAR_EVENT)
            rc = rules_error(r, line_of(&ev), "expected a key");
        else
            rc = read_key(r, (const char *)ev.data.scalar.value, line_of(&ev), &seen,
                          read_value, rule);
        yaml_event_delete(&ev);
        if (rc != 0)
            return -1;
    }
}

void *rules_grow(rules_reader_t *r, void *array, size_t count, size_t size, size_t max,
                 size_t line)
{
    if (count >= max) {
        rules_error(r, line, "more than %zu rules", max);
        return NULL;
    }
    void *grown = realloc(array, (count + 1) * size);
    if (grown == NULL)
        rules_error(r, line, "out of memory");
    return grown;
}

int rules_read_sequence(rules_reader_t *r, const char *example, rules_rule_fn read_rule,
                        void *ctx)
{
    yaml_event_t ev;
    if (next(r, &ev) != 0)
        return -1;
    bool is_seq = ev.type == YAML_SEQUENCE_START_EVENT;
    size_t line = line_of(&ev);
    yaml_event_delete(&ev);
    if (!is_seq)
        return rules_error(r, line, "expected a list of rules (%s)", example);
    for (;;) {
        if (next(r, &ev) != 0)
            return -1;
        yaml_event_type_t type = ev.type;
        line = line_of(&ev);
        yaml_event_delete(&ev);
        if (type == YAML_SEQUENCE_END_EVENT)
            return 0;
        char names[128];
        if (type != YAML_MAPPING_START_EVENT)
            return rules_error(r, line, "each rule is a mapping (%s)",
                               key_names(r, names, sizeof names));
        if (read_rule(r, line, ctx) != 0)
            return -1;
    }
}
