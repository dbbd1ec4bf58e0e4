/* common/config_notify.c — the YAML `notify:` list (see config.h): a
 * sequence of mappings with the keys zones and targets (each a string or
 * a list of strings) and key (a string). Checks here: the required keys;
 * the shape, unknown or repeated keys and empty strings are checked by
 * config_yaml_rules.c. Zone names, target addresses and key names are
 * checked when main.c builds the dns/notify.h configuration, also at
 * start-up. */
#include "common/config_notify.h"

#include <stdlib.h>
#include <string.h>

#include "common/config_yaml_rules.h"

static const char *const notify_keys[] = { "zones", "targets", "key" };

static void free_rule(config_notify_rule_t *rule)
{
    rules_free_strings(rule->zones, rule->zone_count);
    rules_free_strings(rule->targets, rule->target_count);
    free(rule->key);
    memset(rule, 0, sizeof *rule);
}

/* The value of notify_keys[key]. */
static int read_value(rules_reader_t *r, unsigned key, void *arg)
{
    config_notify_rule_t *rule = arg;
    switch (key) {
    case 0: return rules_read_string_list(r, &rule->zones, &rule->zone_count, "zones");
    case 1: return rules_read_string_list(r, &rule->targets, &rule->target_count, "targets");
    default: return rules_read_string(r, &rule->key, "key");
    }
}

static int check_rule(rules_reader_t *r, const config_notify_rule_t *rule)
{
    if (rule->zone_count == 0)
        return rules_error(r, rule->line, "a rule needs zones (a list of zone names)");
    if (rule->target_count == 0)
        return rules_error(r, rule->line, "a rule needs targets (a list of \"ADDRESS:PORT\")");
    return 0;
}

static int append_rule(rules_reader_t *r, config_t *cfg, const config_notify_rule_t *rule)
{
    config_notify_rule_t *grown = rules_grow(r, cfg->notify_rules, cfg->notify_rule_count,
                                             sizeof *grown, CONFIG_MAX_NOTIFY_RULES, rule->line);
    if (grown == NULL)
        return -1;
    cfg->notify_rules = grown;
    grown[cfg->notify_rule_count++] = *rule;
    return 0;
}

/* One rule, after its mapping-start event at line. */
static int read_rule(rules_reader_t *r, size_t line, void *ctx)
{
    config_notify_rule_t rule = { .line = line };
    if (rules_read_mapping(r, read_value, &rule) != 0 || check_rule(r, &rule) != 0 ||
        append_rule(r, ctx, &rule) != 0) {
        free_rule(&rule);
        return -1;
    }
    return 0;
}

int config_notify_read_yaml(config_t *cfg, yaml_parser_t *p, const char *path,
                            char err[CONFIG_ERR_MAX])
{
    rules_reader_t r = { .p = p, .path = path, .err = err, .section = "notify",
                         .keys = notify_keys,
                         .key_count = sizeof notify_keys / sizeof notify_keys[0] };
    return rules_read_sequence(&r, "- zones: [...] targets: [...]", read_rule, cfg);
}

void config_notify_free(config_t *cfg)
{
    for (size_t i = 0; i < cfg->notify_rule_count; i++)
        free_rule(&cfg->notify_rules[i]);
    free(cfg->notify_rules);
    cfg->notify_rules = NULL;
    cfg->notify_rule_count = 0;
}
