/* kv/linereader.c — bounded line splitting for admin connections
 * (kv/linereader.h). Consumed bytes are compacted away lazily, at the next
 * feed, so a returned line stays valid until the caller's next call. */
#include "kv/linereader.h"

#include <stdlib.h>
#include <string.h>

int lr_init(linereader_t *lr)
{
    memset(lr, 0, sizeof *lr);
    lr->cap = LR_LINE_MAX + 2;
    lr->buf = malloc(lr->cap);
    return lr->buf ? 0 : -1;
}

void lr_free(linereader_t *lr)
{
    free(lr->buf);
    memset(lr, 0, sizeof *lr);
}

/* Moves the unconsumed bytes to the front of the buffer. */
static void compact(linereader_t *lr)
{
    if (lr->start == 0)
        return;
    memmove(lr->buf, lr->buf + lr->start, lr->len - lr->start);
    lr->len -= lr->start;
    lr->start = 0;
}

/* While discarding, eats input up to and including the LF that ends the
 * over-long line. Returns bytes eaten. */
static size_t discard(linereader_t *lr, const char *data, size_t n)
{
    const char *nl = memchr(data, '\n', n);
    if (!nl)
        return n;
    lr->discarding = false;
    return (size_t)(nl - data) + 1;
}

size_t lr_feed(linereader_t *lr, const void *data, size_t n)
{
    const char *p = data;
    size_t used = 0;
    if (lr->discarding) {
        used = discard(lr, p, n);
        if (lr->discarding || used == n)
            return used;
    }
    compact(lr);
    size_t room = lr->cap - lr->len;
    size_t take = n - used < room ? n - used : room;
    memcpy(lr->buf + lr->len, p + used, take);
    lr->len += take;
    return used + take;
}

enum lr_event lr_next(linereader_t *lr, const char **line, size_t *len)
{
    char *from = lr->buf + lr->start;
    size_t avail = lr->len - lr->start;
    char *nl = memchr(from + lr->scanned, '\n', avail - lr->scanned);
    if (!nl) {
        lr->scanned = avail;
        if (lr->start == 0 && lr->len == lr->cap) {
            /* Full buffer, no LF: the line is over the limit. */
            lr->len = lr->start = lr->scanned = 0;
            lr->discarding = true;
            return LR_TOO_LONG;
        }
        return LR_NEED_MORE;
    }
    size_t n = (size_t)(nl - from);
    lr->start += n + 1;
    lr->scanned = 0;
    if (n > 0 && from[n - 1] == '\r')
        n--;
    if (n > LR_LINE_MAX)
        return LR_TOO_LONG;
    *line = from;
    *len = n;
    return LR_LINE;
}

bool lr_pending(const linereader_t *lr)
{
    return lr->discarding || lr->len > lr->start;
}

enum lr_event lr_finish(linereader_t *lr, const char **line, size_t *len)
{
    size_t avail = lr->len - lr->start;
    bool had = avail > 0 && !lr->discarding;
    char *from = lr->buf + lr->start;
    lr->len = lr->start = lr->scanned = 0;
    lr->discarding = false;
    if (!had)
        return LR_NEED_MORE;
    if (from[avail - 1] == '\r')
        avail--;
    /* LR_LINE_MAX + 1 bytes (no CR) fit in the buffer without filling it,
     * so lr_next never reported them: the limit holds for the last line too. */
    if (avail > LR_LINE_MAX)
        return LR_TOO_LONG;
    /* The buffer is not reused before the caller's next call, so handing out
     * a pointer into it is safe even though it now counts as empty. */
    *line = from;
    *len = avail;
    return LR_LINE;
}
