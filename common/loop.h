/* common/loop.h — the Raft thread's event loop: epoll over file descriptors,
 * a periodic tick (timerfd) and a wake-up (eventfd) other threads use to
 * hand it work.
 *
 * Single-threaded: every callback runs on the thread inside loop_run. Only
 * loop_wake and loop_stop may be called from other threads. */
#ifndef RAFT_LOOP_H
#define RAFT_LOOP_H

#include <stdint.h>

typedef struct loop loop_t;
/* Called with the epoll events (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP...). */
typedef void (*loop_fd_cb)(void *ctx, int fd, uint32_t events);
typedef void (*loop_cb)(void *ctx);

/* tick_ms: period of on_tick; on_wake runs after loop_wake (coalesced). */
loop_t *loop_new(unsigned tick_ms, loop_cb on_tick, loop_cb on_wake, void *ctx);
void loop_free(loop_t *l);
/* cb (with the loop's ctx) runs after every batch of events, so work that
 * many events contribute to (one fsync for many proposals) is done once. */
void loop_set_after_batch(loop_t *l, loop_cb cb);
int loop_add(loop_t *l, int fd, uint32_t events, loop_fd_cb cb, void *ctx);
int loop_modify(loop_t *l, int fd, uint32_t events);
/* Forgets fd (does not close it). Safe inside a callback, also for fds
 * whose events are still pending in the current batch. */
void loop_remove(loop_t *l, int fd);
/* Runs until loop_stop (which it then forgets, so it can run again);
 * returns 0, or -errno if epoll fails. */
int loop_run(loop_t *l);
void loop_wake(loop_t *l);
void loop_stop(loop_t *l);
/* Milliseconds on a monotonic clock (for last-contact times and back-off). */
uint64_t loop_now_ms(void);

#endif
