/* common/log.c — leveled logging to stderr, as text or JSON lines (see log.h). */
#include "common/log.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048
#define LOG_NODE_MAX 64
/* Every byte of a message may become a 6-byte escape: the worst JSON line
 * fits, so no line is ever cut. */
#define LOG_JSON_MAX (6 * (LOG_LINE_MAX + LOG_NODE_MAX) + 256)

static _Atomic int current_level = LOG_INFO;
static int current_format = LOG_FORMAT_TEXT; /* set before threads start */
static char node_name[LOG_NODE_MAX + 1];
static const char *const level_names[] = { "trace", "debug", "info", "warn", "error", "off" };

void log_set_level(enum log_level level) { atomic_store(&current_level, (int)level); }
enum log_level log_get_level(void) { return (enum log_level)atomic_load(&current_level); }
void log_set_format(enum log_format format) { current_format = (int)format; }
void log_set_node(const char *node) { snprintf(node_name, sizeof node_name, "%s", node ? node : ""); }

int log_level_parse(const char *name)
{
    for (int i = 0; i <= LOG_OFF; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

int log_format_parse(const char *name)
{
    if (strcmp(name, "text") == 0)
        return LOG_FORMAT_TEXT;
    if (strcmp(name, "json") == 0)
        return LOG_FORMAT_JSON;
    return -1;
}

/* ---- JSON ---- */

typedef struct jbuf {
    char *p;
    size_t len, cap; /* cap keeps room for the closing "}\n" */
    bool full;
} jbuf_t;

static void put(jbuf_t *b, const char *s, size_t n)
{
    if (b->full || b->len + n > b->cap) {
        b->full = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629 §4: no overlongs, no
 * surrogates, nothing past U+10FFFF), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (c < 0xC2 || c > 0xF4 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return n;
}

/* A JSON string (RFC 8259 §7); b->full when it did not fit. */
static void put_string(jbuf_t *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t left = strlen(s);
    put(b, "\"", 1);
    while (left > 0 && !b->full) {
        size_t n = 1;
        char esc[8];
        if (*u == '"' || *u == '\\') {
            esc[0] = '\\', esc[1] = (char)*u;
            put(b, esc, 2);
        } else if (*u < 0x20 || *u == 0x7F) {
            snprintf(esc, sizeof esc, "\\u%04x", *u);
            put(b, esc, 6);
        } else if (*u < 0x80) {
            put(b, (const char *)u, 1);
        } else if ((n = utf8_len(u, left)) > 0) {
            put(b, (const char *)u, n);
        } else {
            n = 1;
            put(b, "\\ufffd", 6);
        }
        u += n;
        left -= n;
    }
    put(b, "\"", 1);
}

static void put_field(jbuf_t *b, const char *key, const char *value, bool first)
{
    if (!first)
        put(b, ",", 1);
    put_string(b, key);
    put(b, ":", 1);
    put_string(b, value);
}

size_t log_format_json(char *out, size_t cap, const char *time, const char *level,
                       const char *module, const char *node, const char *msg)
{
    if (cap < 4)
        return 0;
    jbuf_t b = { .p = out, .cap = cap - 2 };
    put(&b, "{", 1);
    put_field(&b, "time", time, true);
    put_field(&b, "level", level, false);
    put_field(&b, "module", module, false);
    if (node && node[0])
        put_field(&b, "node", node, false);
    put_field(&b, "msg", msg, false);
    if (b.full) { /* only with a cap below LOG_JSON_MAX: say so, validly */
        b = (jbuf_t){ .p = out, .cap = cap - 2 };
        static const char too_long[] = "{\"msg\":\"(log line too long)\"";
        put(&b, too_long, sizeof too_long - 1);
        if (b.full)
            return 0;
    }
    memcpy(out + b.len, "}\n", 2);
    return b.len + 2;
}

/* ---- output ---- */

/* RFC 3339 UTC time with milliseconds: 2026-11-26T00:56:06.958Z. */
static void format_time(char out[64])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 64 - n, ".%03ldZ", (ts.tv_nsec / 1000000) % 1000);
}

static size_t format_text(char *line, size_t cap, const char *time, const char *level,
                          const char *module, const char *msg)
{
    int n = snprintf(line, cap - 1, "%s %-5s %s: %s", time, level, module, msg);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len > cap - 2)
        len = cap - 2;
    line[len++] = '\n';
    return len;
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
    if ((int)level < atomic_load(&current_level) || level >= LOG_OFF)
        return;
    char time[64], msg[LOG_LINE_MAX], line[LOG_JSON_MAX];
    format_time(time);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = current_format == LOG_FORMAT_JSON
                     ? log_format_json(line, sizeof line, time, level_names[level], module,
                                       node_name, msg)
                     : format_text(line, sizeof line, time, level_names[level], module, msg);
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}
