/* kv/linereader.h — splits a byte stream (an admin connection) into lines,
 * with a hard limit on line length that keeps the connection usable.
 *
 * A line ends with LF; one CR right before the LF is dropped (CRLF
 * tolerated). A line longer than LR_LINE_MAX bytes (not counting CR LF) is
 * reported once as LR_TOO_LONG, and its remaining bytes, up to and including
 * the next LF, are discarded as they arrive; the line after it is read
 * normally. Memory is fixed: one buffer of LR_LINE_MAX + 2 bytes.
 *
 * Use:
 *     while (n > 0) {
 *         size_t used = lr_feed(&lr, data, n);
 *         data += used; n -= used;
 *         while ((ev = lr_next(&lr, &line, &len)) != LR_NEED_MORE)
 *             handle(ev, line, len);   // line valid until the next lr_ call
 *     }
 *     at EOF: lr_finish(&lr, &line, &len) gives a last line without LF.
 *
 * Ownership: the reader owns its buffer (lr_init allocates, lr_free frees). */
#ifndef KV_LINEREADER_H
#define KV_LINEREADER_H

#include <stdbool.h>
#include <stddef.h>

#define LR_LINE_MAX 65536

enum lr_event {
    LR_NEED_MORE, /* no complete line buffered: feed more */
    LR_LINE,      /* *line / *len hold one line, without CR LF */
    LR_TOO_LONG,  /* a line exceeded LR_LINE_MAX; its rest is being discarded */
};

typedef struct linereader {
    char *buf;
    size_t cap;       /* LR_LINE_MAX + 2 */
    size_t len;       /* bytes buffered */
    size_t start;     /* where the unconsumed bytes begin */
    size_t scanned;   /* bytes after start already known to hold no LF */
    bool discarding;  /* inside an over-long line: drop up to the next LF */
} linereader_t;

/* Returns 0, or -1 on allocation failure. */
int lr_init(linereader_t *lr);
void lr_free(linereader_t *lr);
/* Takes as many of the n bytes as it can hold; returns how many. Always
 * takes at least one byte when n > 0 and lr_next has returned LR_NEED_MORE. */
size_t lr_feed(linereader_t *lr, const void *data, size_t n);
enum lr_event lr_next(linereader_t *lr, const char **line, size_t *len);
/* True while part of a line is buffered or an over-long line is being
 * discarded: the client has started a line it has not finished (the admin
 * server's per-line deadline runs). */
bool lr_pending(const linereader_t *lr);
/* At end of stream: LR_LINE with the unterminated last line if there is one,
 * LR_TOO_LONG if that line is over LR_LINE_MAX and was not reported yet
 * (exactly LR_LINE_MAX + 1 bytes: longer ones fill the buffer and lr_next
 * reports them), else LR_NEED_MORE. Clears the reader. */
enum lr_event lr_finish(linereader_t *lr, const char **line, size_t *len);

#endif
