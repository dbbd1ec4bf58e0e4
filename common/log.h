/* common/log.h — leveled logging to stderr, shared by every layer.
 *
 * One line per call, written with a single write(2) so lines from different
 * threads never interleave. The level is process-wide (-log.level). */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdarg.h>

/* LOG_TRACE: every Raft decision, one line each (docs/operations.md). */
enum log_level { LOG_TRACE = 0, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "trace", "debug", "info", "warn", "error", "off"; returns -1 if unknown. */
int log_level_parse(const char *name);
void log_msg(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(mod, ...) do { if (log_get_level() <= LOG_DEBUG) log_msg(LOG_DEBUG, mod, __VA_ARGS__); } while (0)
#define log_info(mod, ...)  log_msg(LOG_INFO, mod, __VA_ARGS__)
#define log_warn(mod, ...)  log_msg(LOG_WARN, mod, __VA_ARGS__)
#define log_error(mod, ...) log_msg(LOG_ERROR, mod, __VA_ARGS__)

#endif
