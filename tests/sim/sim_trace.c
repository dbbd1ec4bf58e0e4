/* tests/sim/sim_trace.c — recording events in a ring and printing them. */
#include "tests/sim/sim_trace.h"

#include <stdarg.h>
#include <string.h>

void sim_trace_init(struct sim_trace *t, bool echo, FILE *out)
{
    t->count = 0;
    t->echo = echo;
    t->out = out;
    t->sink = NULL;
    t->sink_ctx = NULL;
}

static void format_msg(const struct sim_msg_view *m, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s term=%llu", m->type, (unsigned long long)m->term);
    if (n < 0 || (size_t)n >= len)
        return;
    buf += n;
    len -= (size_t)n;
    unsigned long long i = m->index, lt = m->log_term, c = m->commit, x = m->extra;
    switch (m->shape) {
    case SIM_SHAPE_APPEND:
        snprintf(buf, len, " prev=(%llu,%llu) n=%u commit=%llu", i, lt, m->n, c);
        break;
    case SIM_SHAPE_APPEND_RESP:
        if (m->reject)
            snprintf(buf, len, " reject at=%llu hint=(%llu,%llu)", i, c, lt);
        else
            snprintf(buf, len, " ok match=%llu", i);
        break;
    case SIM_SHAPE_HEARTBEAT:
        snprintf(buf, len, " commit=%llu read=%llu", c, x);
        break;
    case SIM_SHAPE_HEARTBEAT_RESP:
        snprintf(buf, len, " read=%llu", x);
        break;
    case SIM_SHAPE_VOTE:
        snprintf(buf, len, " last=(%llu,%llu)%s", i, lt, x ? " transfer" : "");
        break;
    case SIM_SHAPE_VOTE_RESP:
        snprintf(buf, len, " %s", m->reject ? "rejected" : "granted");
        break;
    case SIM_SHAPE_SNAPSHOT:
        snprintf(buf, len, " at=(%llu,%llu) offset=%llu n=%u%s", i, lt, c, m->n,
                 x ? " last" : "");
        break;
    case SIM_SHAPE_SNAPSHOT_RESP:
        if (m->reject)
            snprintf(buf, len, " at=%llu next=%llu", i, c);
        else
            snprintf(buf, len, " at=%llu done match=%llu", i, x);
        break;
    case SIM_SHAPE_READ_INDEX:
        snprintf(buf, len, " ctx=%llu", x);
        break;
    case SIM_SHAPE_READ_INDEX_RESP:
        snprintf(buf, len, " ctx=%llu index=%llu %s", x, i, m->reject ? "failed" : "ok");
        break;
    case SIM_SHAPE_PLAIN:
        break;
    }
}

void sim_trace_print(const struct sim_trace_event *e, FILE *out)
{
    char body[200];
    switch (e->kind) {
    case SIM_EV_SEND:
    case SIM_EV_DELIVER:
        format_msg(&e->msg, body, sizeof body);
        if (e->kind == SIM_EV_SEND && e->delay)
            fprintf(out, "[tick %llu] n%d -> n%d %s : %s +%u\n", (unsigned long long)e->tick,
                    e->from + 1, e->to + 1, body, e->outcome, e->delay);
        else
            fprintf(out, "[tick %llu] n%d -> n%d %s : %s\n", (unsigned long long)e->tick,
                    e->from + 1, e->to + 1, body, e->outcome);
        break;
    case SIM_EV_NOTE:
        if (e->from >= 0)
            fprintf(out, "[tick %llu] n%d %s\n", (unsigned long long)e->tick, e->from + 1, e->note);
        else
            fprintf(out, "[tick %llu] %s\n", (unsigned long long)e->tick, e->note);
        break;
    }
}

static struct sim_trace_event *next_slot(struct sim_trace *t)
{
    return &t->ring[t->count++ % SIM_TRACE_KEEP];
}

void sim_trace_message(struct sim_trace *t, uint64_t tick, enum sim_trace_kind kind,
                       int from, int to, const struct sim_msg_view *msg,
                       const char *outcome, uint32_t delay)
{
    struct sim_trace_event *e = next_slot(t);
    e->tick = tick;
    e->kind = kind;
    e->from = from;
    e->to = to;
    e->outcome = outcome;
    e->delay = delay;
    e->msg = *msg;
    if (t->sink)
        t->sink(t->sink_ctx, e);
    else if (t->echo)
        sim_trace_print(e, t->out);
}

void sim_trace_note(struct sim_trace *t, uint64_t tick, int node, const char *fmt, ...)
{
    struct sim_trace_event *e = next_slot(t);
    e->tick = tick;
    e->kind = SIM_EV_NOTE;
    e->from = node;
    e->to = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->note, sizeof e->note, fmt, ap);
    va_end(ap);
    if (t->sink)
        t->sink(t->sink_ctx, e);
    else if (t->echo)
        sim_trace_print(e, t->out);
}

void sim_trace_dump(const struct sim_trace *t, FILE *out, unsigned max)
{
    uint64_t keep = t->count < SIM_TRACE_KEEP ? t->count : SIM_TRACE_KEEP;
    if (keep > max)
        keep = max;
    for (uint64_t i = t->count - keep; i < t->count; i++)
        sim_trace_print(&t->ring[i % SIM_TRACE_KEEP], out);
}
