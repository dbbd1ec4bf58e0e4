/* tests/sim/sim_trace.h — the run's trace: one readable line per event.
 *
 * Recording must be cheap because a run records millions of events and
 * prints none of them unless it fails, so an event is stored as a small
 * fixed record in a ring of the last SIM_TRACE_KEEP events and turned into
 * text only when printed. With `echo` set (replay, --verbose) every event is
 * also printed as it happens. Lines look like
 *   [tick 1203] n2 -> n3 AppendEntries term=4 prev=(57,3) n=12 commit=55 : dropped
 */
#ifndef SIM_TRACE_H
#define SIM_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_TRACE_KEEP 200
#define SIM_TRACE_NOTE 120

/* How a message's numbers are laid out on its line. */
enum sim_msg_shape {
    SIM_SHAPE_APPEND,        /* prev=(index,log_term) n= commit= */
    SIM_SHAPE_APPEND_RESP,   /* ok match=index | reject at=index hint=(commit,log_term) */
    SIM_SHAPE_HEARTBEAT,     /* commit= read= */
    SIM_SHAPE_HEARTBEAT_RESP,/* read= */
    SIM_SHAPE_VOTE,          /* last=(index,log_term) [transfer] */
    SIM_SHAPE_VOTE_RESP,     /* granted | rejected */
    SIM_SHAPE_SNAPSHOT,      /* at=(index,log_term) offset=commit n=bytes [last] */
    SIM_SHAPE_SNAPSHOT_RESP, /* at=index next=commit [done match=extra] */
    SIM_SHAPE_READ_INDEX,    /* ctx=extra */
    SIM_SHAPE_READ_INDEX_RESP, /* ctx=extra index= ok|failed */
    SIM_SHAPE_PLAIN,         /* term only (TimeoutNow) */
};

struct sim_msg_view {
    const char *type;       /* static string, e.g. "AppendEntries" */
    enum sim_msg_shape shape;
    uint64_t term;
    uint64_t index, log_term, commit, extra;
    uint32_t n;
    bool reject;
};

enum sim_trace_kind {
    SIM_EV_SEND,            /* from -> to, msg, outcome text */
    SIM_EV_DELIVER,         /* from -> to, msg, outcome text */
    SIM_EV_NOTE,            /* free text about one node or the run */
};

struct sim_trace_event {
    uint64_t tick;
    enum sim_trace_kind kind;
    int from, to;           /* node slots; -1 when not about a node */
    const char *outcome;    /* static string for message events */
    uint32_t delay;         /* for SIM_EV_SEND: ticks in flight */
    struct sim_msg_view msg;
    char note[SIM_TRACE_NOTE];
};

/* Called with every event as it is recorded, instead of echoing it
 * (raft-sim --script filters and prints events itself). */
typedef void (*sim_trace_sink_fn)(void *ctx, const struct sim_trace_event *e);

struct sim_trace {
    struct sim_trace_event ring[SIM_TRACE_KEEP];
    uint64_t count;         /* events ever recorded */
    bool echo;              /* print every event as it is recorded */
    FILE *out;
    sim_trace_sink_fn sink; /* NULL: none */
    void *sink_ctx;
};

void sim_trace_init(struct sim_trace *t, bool echo, FILE *out);
void sim_trace_message(struct sim_trace *t, uint64_t tick, enum sim_trace_kind kind,
                       int from, int to, const struct sim_msg_view *msg,
                       const char *outcome, uint32_t delay);
void sim_trace_note(struct sim_trace *t, uint64_t tick, int node, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prints one event as one line: the only place a trace line is formatted. */
void sim_trace_print(const struct sim_trace_event *e, FILE *out);
/* Prints the last `max` recorded events, oldest first. */
void sim_trace_dump(const struct sim_trace *t, FILE *out, unsigned max);

#endif
