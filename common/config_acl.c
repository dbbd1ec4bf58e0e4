/* common/config_acl.c — the YAML `acl:` list (see config.h): a sequence
 * of mappings with the keys zones, actions (each a string or a list of
 * strings), key and address (strings). Checks here: unknown actions, the
 * required keys; the shape, unknown or repeated keys and empty strings
 * are checked by config_yaml_rules.c. Names, prefixes and TSIG key names
 * are checked when main.c builds the dns/acl.h list, also at start-up. */
#include "common/config_acl.h"

#include <stdlib.h>
#include <string.h>

#include "common/config_yaml_rules.h"

static const char *const acl_keys[] = { "zones", "actions", "key", "address" };

static void free_rule(config_acl_rule_t *rule)
{
    rules_free_strings(rule->zones, rule->zone_count);
    free(rule->key);
    free(rule->address);
    memset(rule, 0, sizeof *rule);
}

static int add_action(rules_reader_t *r, const char *v, size_t line, void *ctx)
{
    config_acl_rule_t *rule = ctx;
    unsigned bit = strcmp(v, "update") == 0     ? CONFIG_ACL_UPDATE
                   : strcmp(v, "transfer") == 0 ? CONFIG_ACL_TRANSFER
                   : strcmp(v, "notify") == 0   ? CONFIG_ACL_NOTIFY
                                                : 0;
    if (bit == 0)
        return rules_error(r, line, "unknown action \"%s\" (update, transfer or notify)", v);
    rule->actions |= bit;
    return 0;
}

/* The value of acl_keys[key]. */
static int read_value(rules_reader_t *r, unsigned key, void *arg)
{
    config_acl_rule_t *rule = arg;
    switch (key) {
    case 0: return rules_read_string_list(r, &rule->zones, &rule->zone_count, "zones");
    case 1: return rules_read_strings(r, "actions", add_action, rule);
    case 2: return rules_read_string(r, &rule->key, "key");
    default: return rules_read_string(r, &rule->address, "address");
    }
}

static int check_rule(rules_reader_t *r, const config_acl_rule_t *rule)
{
    if (rule->zone_count == 0)
        return rules_error(r, rule->line, "a rule needs zones (a list of zone names, or [\"*\"])");
    if (rule->actions == 0)
        return rules_error(r, rule->line, "a rule needs actions (update, transfer, notify)");
    return 0;
}

static int append_rule(rules_reader_t *r, config_t *cfg, const config_acl_rule_t *rule)
{
    config_acl_rule_t *grown = rules_grow(r, cfg->acl_rules, cfg->acl_rule_count, sizeof *grown,
                                          CONFIG_MAX_ACL_RULES, rule->line);
    if (grown == NULL)
        return -1;
    cfg->acl_rules = grown;
    grown[cfg->acl_rule_count++] = *rule;
    return 0;
}

/* One rule, after its mapping-start event at line. */
static int read_rule(rules_reader_t *r, size_t line, void *ctx)
{
    config_acl_rule_t rule = { .line = line };
    if (rules_read_mapping(r, read_value, &rule) != 0 || check_rule(r, &rule) != 0 ||
        append_rule(r, ctx, &rule) != 0) {
        free_rule(&rule);
        return -1;
    }
    return 0;
}

int config_acl_read_yaml(config_t *cfg, yaml_parser_t *p, const char *path,
                         char err[CONFIG_ERR_MAX])
{
    rules_reader_t r = { .p = p, .path = path, .err = err, .section = "acl",
                         .keys = acl_keys,
                         .key_count = sizeof acl_keys / sizeof acl_keys[0] };
    return rules_read_sequence(&r, "- zones: [...] ...", read_rule, cfg);
}

void config_acl_free(config_t *cfg)
{
    for (size_t i = 0; i < cfg->acl_rule_count; i++)
        free_rule(&cfg->acl_rules[i]);
    free(cfg->acl_rules);
    cfg->acl_rules = NULL;
    cfg->acl_rule_count = 0;
}
