/* common/config_notify.h — reading the YAML `notify:` list into config_t
 * (see config.h). Private to common/config.c. */
#ifndef COMMON_CONFIG_NOTIFY_H
#define COMMON_CONFIG_NOTIFY_H

#include <yaml.h>

#include "common/config.h"

/* Reads the value of `notify:` (the next events of p) and appends its
 * rules to cfg->notify_rules; the shape and the errors are
 * config_yaml_rules.h's. Returns 0, or -1 with the error in err. */
int config_notify_read_yaml(config_t *cfg, yaml_parser_t *p, const char *path,
                            char err[CONFIG_ERR_MAX]);
void config_notify_free(config_t *cfg);

#endif
