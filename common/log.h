/* common/log.h — leveled logging to stderr, shared by every layer.
 *
 * One line per call, written with a single write(2) so lines from different
 * threads never interleave. The level and the format are process-wide
 * (-log.level, -log.format), set once at start:
 *
 *   text: 2026-11-26T00:56:06.958Z warn  raft: peer at :8301 unreachable: ...
 *   json: {"time":"2026-11-26T00:56:06.958Z","level":"warn","module":"raft",
 *          "node":"id0","msg":"peer at :8301 unreachable: ..."}
 *
 * JSON lines are valid UTF-8 whatever the message holds (a hostile peer
 * name, a file name): control characters are escaped and bytes that are
 * not UTF-8 become U+FFFD. */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* LOG_TRACE: every Raft decision, one line each (docs/operations.md). */
enum log_level { LOG_TRACE = 0, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "trace", "debug", "info", "warn", "error", "off"; returns -1 if unknown. */
int log_level_parse(const char *name);
/* Parses "text" or "json"; returns -1 if unknown. */
int log_format_parse(const char *name);
/* Call before other threads start. */
void log_set_format(enum log_format format);
/* The node id every JSON line carries as "node" (truncated to 64 bytes);
 * call before other threads start. */
void log_set_node(const char *node);
void log_msg(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The JSON line for one message into out (at most cap bytes, always a
 * whole object ending in "\n"); returns its length. Exposed for tests. */
size_t log_format_json(char *out, size_t cap, const char *time, const char *level,
                       const char *module, const char *node, const char *msg);

#define log_debug(mod, ...) do { if (log_get_level() <= LOG_DEBUG) log_msg(LOG_DEBUG, mod, __VA_ARGS__); } while (0)
#define log_info(mod, ...)  log_msg(LOG_INFO, mod, __VA_ARGS__)
#define log_warn(mod, ...)  log_msg(LOG_WARN, mod, __VA_ARGS__)
#define log_error(mod, ...) log_msg(LOG_ERROR, mod, __VA_ARGS__)

#endif
