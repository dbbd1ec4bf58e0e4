/* tests/sim/sim_trace.c — recording events in a ring, filtering them
 * (--hide, --node) and printing them (with --columns). */
#include "tests/sim/sim_trace.h"

#include <stdarg.h>
#include <string.h>

static const char *const class_names[SIM_CLASS_COUNT] = {
    [SIM_CLASS_HEARTBEAT] = "heartbeat",
    [SIM_CLASS_APPEND] = "append",
    [SIM_CLASS_APPEND_OK] = "append-ok",
    [SIM_CLASS_APPEND_REJECT] = "append-reject",
    [SIM_CLASS_VOTE] = "vote",
    [SIM_CLASS_PREVOTE] = "prevote",
    [SIM_CLASS_SNAPSHOT] = "snapshot",
    [SIM_CLASS_READ] = "read",
    [SIM_CLASS_TRANSFER] = "transfer",
    [SIM_CLASS_ROLE] = "role",
    [SIM_CLASS_COMMIT] = "commit",
    [SIM_CLASS_WARN] = "warn",
    [SIM_CLASS_NOTE] = "note",
};

void sim_trace_init(struct sim_trace *t, bool echo, FILE *out)
{
    t->count = 0;
    t->echo = echo;
    t->out = out;
    t->sink = NULL;
    t->sink_ctx = NULL;
    t->hide = 0;
    t->node = -1;
    t->columns = NULL;
    t->columns_ctx = NULL;
}

bool sim_trace_parse_hide(const char *list, uint32_t *mask)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    *mask = 0;
    for (char *save = NULL, *name = strtok_r(buf, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        int c = 0;
        while (c < SIM_CLASS_COUNT && strcmp(class_names[c], name) != 0)
            c++;
        if (c == SIM_CLASS_COUNT) {
            fprintf(stderr, "raft-sim: --hide: unknown kind '%s'\n", name);
            return false;
        }
        *mask |= 1u << c;
    }
    return true;
}

void sim_trace_print_classes(FILE *out)
{
    for (int c = 0; c < SIM_CLASS_COUNT; c++)
        fprintf(out, "%s%s", c ? " " : "", class_names[c]);
    fputc('\n', out);
}

static enum sim_trace_class message_class(const struct sim_msg_view *m)
{
    switch (m->shape) {
    case SIM_SHAPE_APPEND: return SIM_CLASS_APPEND;
    case SIM_SHAPE_APPEND_RESP: return m->reject ? SIM_CLASS_APPEND_REJECT : SIM_CLASS_APPEND_OK;
    case SIM_SHAPE_HEARTBEAT:
    case SIM_SHAPE_HEARTBEAT_RESP: return SIM_CLASS_HEARTBEAT;
    case SIM_SHAPE_VOTE:
    case SIM_SHAPE_VOTE_RESP:
        return strncmp(m->type, "Pre", 3) == 0 ? SIM_CLASS_PREVOTE : SIM_CLASS_VOTE;
    case SIM_SHAPE_SNAPSHOT:
    case SIM_SHAPE_SNAPSHOT_RESP: return SIM_CLASS_SNAPSHOT;
    case SIM_SHAPE_READ_INDEX:
    case SIM_SHAPE_READ_INDEX_RESP: return SIM_CLASS_READ;
    case SIM_SHAPE_PLAIN: return SIM_CLASS_TRANSFER;
    }
    return SIM_CLASS_NOTE;
}

static enum sim_trace_class core_class(const raft_trace_event_t *e)
{
    switch (e->kind) {
    case RAFT_TRACE_ROLE: return SIM_CLASS_ROLE;
    case RAFT_TRACE_VOTE: return e->prevote ? SIM_CLASS_PREVOTE : SIM_CLASS_VOTE;
    case RAFT_TRACE_APPEND_REJECT: return SIM_CLASS_APPEND_REJECT;
    case RAFT_TRACE_COMMIT: return SIM_CLASS_COMMIT;
    case RAFT_TRACE_SNAPSHOT: return SIM_CLASS_SNAPSHOT;
    case RAFT_TRACE_TRANSFER: return SIM_CLASS_TRANSFER;
    case RAFT_TRACE_WARN:
    case RAFT_TRACE_ERROR: return SIM_CLASS_WARN;
    }
    return SIM_CLASS_NOTE;
}

static enum sim_trace_class event_class(const struct sim_trace_event *e)
{
    switch (e->kind) {
    case SIM_EV_SEND:
    case SIM_EV_DELIVER: return message_class(&e->msg);
    case SIM_EV_CORE: return core_class(&e->core);
    case SIM_EV_NOTE: break;
    }
    return SIM_CLASS_NOTE;
}

/* --node shows a node's own lines, the messages it sends or gets, and the
 * lines about the whole run (partitions, heals). */
bool sim_trace_shown(const struct sim_trace *t, const struct sim_trace_event *e)
{
    if (t->hide & (1u << event_class(e)))
        return false;
    if (t->node < 0 || e->from < 0)
        return true;
    bool message = e->kind == SIM_EV_SEND || e->kind == SIM_EV_DELIVER;
    return e->from == t->node || (message && e->to == t->node);
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

/* Everything after "[tick T] ". */
static void print_body(const struct sim_trace_event *e, FILE *out)
{
    char body[400];
    switch (e->kind) {
    case SIM_EV_SEND:
    case SIM_EV_DELIVER:
        format_msg(&e->msg, body, sizeof body);
        if (e->kind == SIM_EV_SEND && e->delay)
            fprintf(out, "n%d -> n%d %s : %s +%u\n", e->from + 1, e->to + 1, body,
                    e->outcome, e->delay);
        else
            fprintf(out, "n%d -> n%d %s : %s\n", e->from + 1, e->to + 1, body, e->outcome);
        break;
    case SIM_EV_CORE:
        if (e->core.kind == RAFT_TRACE_WARN || e->core.kind == RAFT_TRACE_ERROR) {
            raft_trace_event_t c = e->core;
            c.text = e->note;
            raft_trace_format(&c, NULL, NULL, body, sizeof body);
        } else {
            raft_trace_format(&e->core, NULL, NULL, body, sizeof body);
        }
        fprintf(out, "n%d %s\n", e->from + 1, body);
        break;
    case SIM_EV_NOTE:
        if (e->from >= 0)
            fprintf(out, "n%d %s\n", e->from + 1, e->note);
        else
            fprintf(out, "%s\n", e->note);
        break;
    }
}

void sim_trace_print(const struct sim_trace_event *e, FILE *out)
{
    fprintf(out, "[tick %llu] ", (unsigned long long)e->tick);
    print_body(e, out);
}

static struct sim_trace_event *next_slot(struct sim_trace *t)
{
    return &t->ring[t->count++ % SIM_TRACE_KEEP];
}

/* Hands a recorded event to the sink or echoes it, if the filters let it
 * through; echoed lines get the state columns in front when asked. */
static void show(struct sim_trace *t, const struct sim_trace_event *e)
{
    if (!(t->sink || t->echo) || !sim_trace_shown(t, e))
        return;
    if (t->sink) {
        t->sink(t->sink_ctx, e);
        return;
    }
    if (!t->columns) {
        sim_trace_print(e, t->out);
        return;
    }
    char cols[256];
    t->columns(t->columns_ctx, cols, sizeof cols);
    fprintf(t->out, "[tick %llu] %s", (unsigned long long)e->tick, cols);
    print_body(e, t->out);
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
    show(t, e);
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
    show(t, e);
}

void sim_trace_core(struct sim_trace *t, uint64_t tick, const raft_trace_event_t *c)
{
    struct sim_trace_event *e = next_slot(t);
    e->tick = tick;
    e->kind = SIM_EV_CORE;
    e->from = (int)c->node - 1;
    e->to = -1;
    e->core = *c;
    e->core.text = NULL;
    e->note[0] = '\0';
    if (c->text)
        snprintf(e->note, sizeof e->note, "%s", c->text);
    show(t, e);
}

void sim_trace_dump(const struct sim_trace *t, FILE *out, unsigned max)
{
    uint64_t keep = t->count < SIM_TRACE_KEEP ? t->count : SIM_TRACE_KEEP;
    if (keep > max)
        keep = max;
    for (uint64_t i = t->count - keep; i < t->count; i++)
        sim_trace_print(&t->ring[i % SIM_TRACE_KEEP], out);
}
