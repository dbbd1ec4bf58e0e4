/* common/config_acl.c — the YAML `acl:` list (see config.h): a sequence
 * of mappings with the keys zones, actions (each a string or a list of
 * strings), key and address (strings). Checks here: the shape, unknown or
 * repeated keys, unknown actions, the required keys, empty strings.
 * Names, prefixes and TSIG key names are checked when main.c builds the
 * dns/acl.h list, also at start-up. */
#include "common/config_acl.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct acl_reader {
    yaml_parser_t *p;
    const char *path;
    char *err;
} acl_reader_t;

static int acl_error(acl_reader_t *r, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int acl_error(acl_reader_t *r, size_t line, const char *fmt, ...)
{
    int n = snprintf(r->err, CONFIG_ERR_MAX, "%s:%zu: acl: ", r->path, line);
    if (n < 0 || n >= CONFIG_ERR_MAX)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + n, CONFIG_ERR_MAX - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static size_t line_of(const yaml_event_t *ev) { return ev->start_mark.line + 1; }

static int next(acl_reader_t *r, yaml_event_t *ev)
{
    if (yaml_parser_parse(r->p, ev))
        return 0;
    snprintf(r->err, CONFIG_ERR_MAX, "%s:%zu: %s", r->path, r->p->problem_mark.line + 1,
             r->p->problem ? r->p->problem : "invalid YAML");
    return -1;
}

/* A scalar's text, refusing NULs and empty strings. */
static const char *scalar_text(acl_reader_t *r, const yaml_event_t *ev, const char *what)
{
    const char *v = (const char *)ev->data.scalar.value;
    if (ev->data.scalar.length != strlen(v) || v[0] == '\0') {
        acl_error(r, line_of(ev), "%s: empty value or NUL byte", what);
        return NULL;
    }
    return v;
}

static void free_rule(config_acl_rule_t *rule)
{
    for (size_t i = 0; i < rule->zone_count; i++)
        free(rule->zones[i]);
    free(rule->zones);
    free(rule->key);
    free(rule->address);
    memset(rule, 0, sizeof *rule);
}

static int add_zone(acl_reader_t *r, config_acl_rule_t *rule, const char *v, size_t line)
{
    if (rule->zone_count >= 4096)
        return acl_error(r, line, "zones: more than 4096");
    char **grown = realloc(rule->zones, (rule->zone_count + 1) * sizeof *grown);
    if (grown == NULL)
        return acl_error(r, line, "out of memory");
    rule->zones = grown;
    if ((grown[rule->zone_count] = strdup(v)) == NULL)
        return acl_error(r, line, "out of memory");
    rule->zone_count++;
    return 0;
}

static int add_action(acl_reader_t *r, config_acl_rule_t *rule, const char *v, size_t line)
{
    unsigned bit = strcmp(v, "update") == 0     ? CONFIG_ACL_UPDATE
                   : strcmp(v, "transfer") == 0 ? CONFIG_ACL_TRANSFER
                   : strcmp(v, "notify") == 0   ? CONFIG_ACL_NOTIFY
                                                : 0;
    if (bit == 0)
        return acl_error(r, line, "unknown action \"%s\" (update, transfer or notify)", v);
    rule->actions |= bit;
    return 0;
}

typedef int (*item_fn)(acl_reader_t *r, config_acl_rule_t *rule, const char *v, size_t line);

/* A string or a list of strings; each goes to fn. */
static int read_list(acl_reader_t *r, config_acl_rule_t *rule, const char *what, item_fn fn)
{
    yaml_event_t ev;
    if (next(r, &ev) != 0)
        return -1;
    int rc = 0;
    if (ev.type == YAML_SCALAR_EVENT) {
        const char *v = scalar_text(r, &ev, what);
        rc = v ? fn(r, rule, v, line_of(&ev)) : -1;
        yaml_event_delete(&ev);
        return rc;
    }
    if (ev.type != YAML_SEQUENCE_START_EVENT) {
        rc = acl_error(r, line_of(&ev), "%s: expected a string or a list of strings", what);
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
            acl_error(r, line_of(&ev), "%s: list items must be strings", what);
        rc = v ? fn(r, rule, v, line_of(&ev)) : -1;
        yaml_event_delete(&ev);
        if (rc != 0)
            return -1;
    }
}

static int read_string(acl_reader_t *r, char **field, const char *what)
{
    yaml_event_t ev;
    if (next(r, &ev) != 0)
        return -1;
    int rc = 0;
    const char *v = ev.type == YAML_SCALAR_EVENT ? scalar_text(r, &ev, what) : NULL;
    if (ev.type != YAML_SCALAR_EVENT)
        rc = acl_error(r, line_of(&ev), "%s: expected a string", what);
    else if (v == NULL)
        rc = -1;
    else if ((*field = strdup(v)) == NULL)
        rc = acl_error(r, line_of(&ev), "out of memory");
    yaml_event_delete(&ev);
    return rc;
}

/* One key of a rule mapping and its value. */
static int read_rule_key(acl_reader_t *r, config_acl_rule_t *rule, const char *key, size_t line,
                         unsigned *seen)
{
    static const char *const keys[] = { "zones", "actions", "key", "address" };
    for (unsigned i = 0; i < 4; i++) {
        if (strcmp(key, keys[i]) != 0)
            continue;
        if (*seen & (1u << i))
            return acl_error(r, line, "key \"%s\" given twice in one rule", key);
        *seen |= 1u << i;
        switch (i) {
        case 0: return read_list(r, rule, "zones", add_zone);
        case 1: return read_list(r, rule, "actions", add_action);
        case 2: return read_string(r, &rule->key, "key");
        default: return read_string(r, &rule->address, "address");
        }
    }
    return acl_error(r, line, "unknown key \"%s\" (zones, actions, key, address)", key);
}

/* The rest of one rule, after its mapping-start event. */
static int read_rule(acl_reader_t *r, config_acl_rule_t *rule, size_t line)
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
            rc = acl_error(r, line_of(&ev), "expected a key");
        else
            rc = read_rule_key(r, rule, (const char *)ev.data.scalar.value, line_of(&ev), &seen);
        yaml_event_delete(&ev);
        if (rc != 0)
            return -1;
    }
    if (rule->zone_count == 0)
        return acl_error(r, line, "a rule needs zones (a list of zone names, or [\"*\"])");
    if (rule->actions == 0)
        return acl_error(r, line, "a rule needs actions (update, transfer, notify)");
    return 0;
}

static int append_rule(acl_reader_t *r, config_t *cfg, config_acl_rule_t *rule, size_t line)
{
    if (cfg->acl_rule_count >= CONFIG_MAX_ACL_RULES)
        return acl_error(r, line, "more than %d rules", CONFIG_MAX_ACL_RULES);
    config_acl_rule_t *grown = realloc(cfg->acl_rules, (cfg->acl_rule_count + 1) * sizeof *grown);
    if (grown == NULL)
        return acl_error(r, line, "out of memory");
    cfg->acl_rules = grown;
    grown[cfg->acl_rule_count++] = *rule;
    return 0;
}

int config_acl_read_yaml(config_t *cfg, yaml_parser_t *p, const char *path,
                         char err[CONFIG_ERR_MAX])
{
    acl_reader_t r = { .p = p, .path = path, .err = err };
    yaml_event_t ev;
    if (next(&r, &ev) != 0)
        return -1;
    bool is_seq = ev.type == YAML_SEQUENCE_START_EVENT;
    size_t line = line_of(&ev);
    yaml_event_delete(&ev);
    if (!is_seq)
        return acl_error(&r, line, "expected a list of rules (- zones: [...] ...)");
    for (;;) {
        if (next(&r, &ev) != 0)
            return -1;
        yaml_event_type_t type = ev.type;
        line = line_of(&ev);
        yaml_event_delete(&ev);
        if (type == YAML_SEQUENCE_END_EVENT)
            return 0;
        if (type != YAML_MAPPING_START_EVENT)
            return acl_error(&r, line, "each rule is a mapping (zones, actions, key, address)");
        config_acl_rule_t rule = { 0 };
        if (read_rule(&r, &rule, line) != 0 || append_rule(&r, cfg, &rule, line) != 0) {
            free_rule(&rule);
            return -1;
        }
    }
}

void config_acl_free(config_t *cfg)
{
    for (size_t i = 0; i < cfg->acl_rule_count; i++)
        free_rule(&cfg->acl_rules[i]);
    free(cfg->acl_rules);
    cfg->acl_rules = NULL;
    cfg->acl_rule_count = 0;
}
