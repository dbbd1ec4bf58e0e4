/* common/config_notify.c — the YAML `notify:` list (see config.h): a
 * sequence of mappings with the keys zones and targets (each a string or
 * a list of strings) and key (a string). Checks here: the shape, unknown
 * or repeated keys, the required keys, empty strings. Zone names, target
 * addresses and key names are checked when main.c builds the dns/notify.h
 * configuration, also at start-up. */
#include "common/config_notify.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 4096 /* zones or targets in one rule */

typedef struct notify_reader {
    yaml_parser_t *p;
    const char *path;
    char *err;
} notify_reader_t;

static int rule_error(notify_reader_t *r, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rule_error(notify_reader_t *r, size_t line, const char *fmt, ...)
{
    int n = snprintf(r->err, CONFIG_ERR_MAX, "%s:%zu: notify: ", r->path, line);
    if (n < 0 || n >= CONFIG_ERR_MAX)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + n, CONFIG_ERR_MAX - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static size_t line_of(const yaml_event_t *ev) { return ev->start_mark.line + 1; }

static int next(notify_reader_t *r, yaml_event_t *ev)
{
    if (yaml_parser_parse(r->p, ev))
        return 0;
    snprintf(r->err, CONFIG_ERR_MAX, "%s:%zu: %s", r->path, r->p->problem_mark.line + 1,
             r->p->problem ? r->p->problem : "invalid YAML");
    return -1;
}

/* A scalar's text, refusing NULs and empty strings. */
static const char *scalar_text(notify_reader_t *r, const yaml_event_t *ev, const char *what)
{
    const char *v = (const char *)ev->data.scalar.value;
    if (ev->data.scalar.length != strlen(v) || v[0] == '\0') {
        rule_error(r, line_of(ev), "%s: empty value or NUL byte", what);
        return NULL;
    }
    return v;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void free_rule(config_notify_rule_t *rule)
{
    free_strings(rule->zones, rule->zone_count);
    free_strings(rule->targets, rule->target_count);
    free(rule->key);
    memset(rule, 0, sizeof *rule);
}

static int push(notify_reader_t *r, char ***list, size_t *n, const char *v, const char *what,
                size_t line)
{
    if (*n >= MAX_ITEMS)
        return rule_error(r, line, "%s: more than %d", what, MAX_ITEMS);
    char **grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (grown == NULL)
        return rule_error(r, line, "out of memory");
    *list = grown;
    if ((grown[*n] = strdup(v)) == NULL)
        return rule_error(r, line, "out of memory");
    (*n)++;
    return 0;
}

/* A string or a list of strings, appended to *list. */
static int read_list(notify_reader_t *r, char ***list, size_t *n, const char *what)
{
    yaml_event_t ev;
    if (next(r, &ev) != 0)
        return -1;
    int rc;
    if (ev.type == YAML_SCALAR_EVENT) {
        const char *v = scalar_text(r, &ev, what);
        rc = v ? push(r, list, n, v, what, line_of(&ev)) : -1;
        yaml_event_delete(&ev);
        return rc;
    }
    if (ev.type != YAML_SEQUENCE_START_EVENT) {
        rc = rule_error(r, line_of(&ev), "%s: expected a string or a list of strings", what);
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
            rule_error(r, line_of(&ev), "%s: list items must be strings", what);
        rc = v ? push(r, list, n, v, what, line_of(&ev)) : -1;
        yaml_event_delete(&ev);
        if (rc != 0)
            return -1;
    }
}

static int read_string(notify_reader_t *r, char **field, const char *what)
{
    yaml_event_t ev;
    if (next(r, &ev) != 0)
        return -1;
    int rc = 0;
    const char *v = ev.type == YAML_SCALAR_EVENT ? scalar_text(r, &ev, what) : NULL;
    if (ev.type != YAML_SCALAR_EVENT)
        rc = rule_error(r, line_of(&ev), "%s: expected a string", what);
    else if (v == NULL)
        rc = -1;
    else if ((*field = strdup(v)) == NULL)
        rc = rule_error(r, line_of(&ev), "out of memory");
    yaml_event_delete(&ev);
    return rc;
}

/* One key of a rule mapping and its value. */
static int read_rule_key(notify_reader_t *r, config_notify_rule_t *rule, const char *key,
                         size_t line, unsigned *seen)
{
    static const char *const keys[] = { "zones", "targets", "key" };
    for (unsigned i = 0; i < 3; i++) {
        if (strcmp(key, keys[i]) != 0)
            continue;
        if (*seen & (1u << i))
            return rule_error(r, line, "key \"%s\" given twice in one rule", key);
        *seen |= 1u << i;
        switch (i) {
        case 0: return read_list(r, &rule->zones, &rule->zone_count, "zones");
        case 1: return read_list(r, &rule->targets, &rule->target_count, "targets");
        default: return read_string(r, &rule->key, "key");
        }
    }
    return rule_error(r, line, "unknown key \"%s\" (zones, targets, key)", key);
}

/* The rest of one rule, after its mapping-start event. */
static int read_rule(notify_reader_t *r, config_notify_rule_t *rule, size_t line)
{
    unsigned seen = 0;
    rule->line = line;
    for (;;) {
        yaml_event_t ev;
        if (next(r, &ev) != 0)
            return -1;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        int rc;
        if (ev.type != YAML_SCALAR_EVENT)
            rc = rule_error(r, line_of(&ev), "expected a key");
        else
            rc = read_rule_key(r, rule, (const char *)ev.data.scalar.value, line_of(&ev), &seen);
        yaml_event_delete(&ev);
        if (rc != 0)
            return -1;
    }
    if (rule->zone_count == 0)
        return rule_error(r, line, "a rule needs zones (a list of zone names)");
    if (rule->target_count == 0)
        return rule_error(r, line, "a rule needs targets (a list of \"ADDRESS:PORT\")");
    return 0;
}

static int append_rule(notify_reader_t *r, config_t *cfg, config_notify_rule_t *rule, size_t line)
{
    if (cfg->notify_rule_count >= CONFIG_MAX_NOTIFY_RULES)
        return rule_error(r, line, "more than %d rules", CONFIG_MAX_NOTIFY_RULES);
    config_notify_rule_t *grown =
        realloc(cfg->notify_rules, (cfg->notify_rule_count + 1) * sizeof *grown);
    if (grown == NULL)
        return rule_error(r, line, "out of memory");
    cfg->notify_rules = grown;
    grown[cfg->notify_rule_count++] = *rule;
    return 0;
}

int config_notify_read_yaml(config_t *cfg, yaml_parser_t *p, const char *path,
                            char err[CONFIG_ERR_MAX])
{
    notify_reader_t r = { .p = p, .path = path, .err = err };
    yaml_event_t ev;
    if (next(&r, &ev) != 0)
        return -1;
    bool is_seq = ev.type == YAML_SEQUENCE_START_EVENT;
    size_t line = line_of(&ev);
    yaml_event_delete(&ev);
    if (!is_seq)
        return rule_error(&r, line, "expected a list of rules (- zones: [...] targets: [...])");
    for (;;) {
        if (next(&r, &ev) != 0)
            return -1;
        yaml_event_type_t type = ev.type;
        line = line_of(&ev);
        yaml_event_delete(&ev);
        if (type == YAML_SEQUENCE_END_EVENT)
            return 0;
        if (type != YAML_MAPPING_START_EVENT)
            return rule_error(&r, line, "each rule is a mapping (zones, targets, key)");
        config_notify_rule_t rule = { 0 };
        if (read_rule(&r, &rule, line) != 0 || append_rule(&r, cfg, &rule, line) != 0) {
            free_rule(&rule);
            return -1;
        }
    }
}

void config_notify_free(config_t *cfg)
{
    for (size_t i = 0; i < cfg->notify_rule_count; i++)
        free_rule(&cfg->notify_rules[i]);
    free(cfg->notify_rules);
    cfg->notify_rules = NULL;
    cfg->notify_rule_count = 0;
}
