/* common/loop.c — epoll event loop with a timerfd tick and an eventfd wake-up
 * (see loop.h).
 *
 * Registered fds live in a small table indexed by fd number. Removing an fd
 * inside a callback clears its slot; events already returned by epoll_wait
 * for it are then skipped because each event carries the slot's generation,
 * so a closed-and-reused fd number never receives a stale event. */
#include "common/loop.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct slot {
    loop_fd_cb cb;
    void *ctx;
    uint32_t gen; /* 0 = free */
} slot_t;

struct loop {
    int epfd, timerfd, wakefd;
    loop_cb on_tick, on_wake, after_batch;
    void *ctx;
    slot_t *slots;
    size_t n_slots;
    uint32_t next_gen;
    atomic_bool stopping;
};

enum { EVENTS_PER_WAIT = 64 };

uint64_t loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t pack(int fd, uint32_t gen) { return (uint64_t)gen << 32 | (uint32_t)fd; }

static bool grow_slots(loop_t *l, size_t fd)
{
    if (fd < l->n_slots)
        return true;
    size_t n = l->n_slots ? l->n_slots : 64;
    while (n <= fd)
        n *= 2;
    slot_t *s = realloc(l->slots, n * sizeof *s);
    if (!s)
        return false;
    memset(s + l->n_slots, 0, (n - l->n_slots) * sizeof *s);
    l->slots = s;
    l->n_slots = n;
    return true;
}

static int add_internal(loop_t *l, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = pack(fd, 0) };
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

loop_t *loop_new(unsigned tick_ms, loop_cb on_tick, loop_cb on_wake, void *ctx)
{
    loop_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->on_tick = on_tick;
    l->on_wake = on_wake;
    l->ctx = ctx;
    l->next_gen = 1;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct itimerspec its = {
        .it_interval = { tick_ms / 1000, (long)(tick_ms % 1000) * 1000000L },
        .it_value = { tick_ms / 1000, (long)(tick_ms % 1000) * 1000000L },
    };
    if (l->epfd < 0 || l->timerfd < 0 || l->wakefd < 0 || tick_ms == 0 ||
        timerfd_settime(l->timerfd, 0, &its, NULL) != 0 || add_internal(l, l->timerfd) != 0 ||
        add_internal(l, l->wakefd) != 0) {
        loop_free(l);
        return NULL;
    }
    return l;
}

void loop_free(loop_t *l)
{
    if (!l)
        return;
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->timerfd >= 0)
        close(l->timerfd);
    if (l->wakefd >= 0)
        close(l->wakefd);
    free(l->slots);
    free(l);
}

void loop_set_after_batch(loop_t *l, loop_cb cb) { l->after_batch = cb; }

int loop_add(loop_t *l, int fd, uint32_t events, loop_fd_cb cb, void *ctx)
{
    if (fd < 0 || !grow_slots(l, (size_t)fd))
        return -ENOMEM;
    uint32_t gen = l->next_gen++;
    if (l->next_gen == 0)
        l->next_gen = 1;
    struct epoll_event ev = { .events = events, .data.u64 = pack(fd, gen) };
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return -errno;
    l->slots[fd] = (slot_t){ cb, ctx, gen };
    return 0;
}

int loop_modify(loop_t *l, int fd, uint32_t events)
{
    if (fd < 0 || (size_t)fd >= l->n_slots || l->slots[fd].gen == 0)
        return -ENOENT;
    struct epoll_event ev = { .events = events, .data.u64 = pack(fd, l->slots[fd].gen) };
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
}

void loop_remove(loop_t *l, int fd)
{
    if (fd < 0 || (size_t)fd >= l->n_slots || l->slots[fd].gen == 0)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    l->slots[fd].gen = 0;
}

/* One read empties an eventfd (not in semaphore mode) or a timerfd. */
static void drain(int fd)
{
    uint64_t v;
    ssize_t ignored = read(fd, &v, sizeof v);
    (void)ignored;
}

static void dispatch(loop_t *l, const struct epoll_event *ev)
{
    int fd = (int)(uint32_t)ev->data.u64;
    uint32_t gen = (uint32_t)(ev->data.u64 >> 32);
    if (gen == 0) {
        drain(fd);
        if (fd == l->timerfd && l->on_tick)
            l->on_tick(l->ctx);
        else if (fd == l->wakefd && l->on_wake)
            l->on_wake(l->ctx);
        return;
    }
    if ((size_t)fd < l->n_slots && l->slots[fd].gen == gen)
        l->slots[fd].cb(l->slots[fd].ctx, fd, ev->events);
}

int loop_run(loop_t *l)
{
    struct epoll_event evs[EVENTS_PER_WAIT];
    while (!atomic_load(&l->stopping)) {
        int n = epoll_wait(l->epfd, evs, EVENTS_PER_WAIT, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (int i = 0; i < n && !atomic_load(&l->stopping); i++)
            dispatch(l, &evs[i]);
        if (l->after_batch && !atomic_load(&l->stopping))
            l->after_batch(l->ctx);
    }
    atomic_store(&l->stopping, false); /* the loop may be run again */
    return 0;
}

void loop_wake(loop_t *l)
{
    uint64_t one = 1;
    ssize_t ignored = write(l->wakefd, &one, sizeof one);
    (void)ignored;
}

void loop_stop(loop_t *l)
{
    atomic_store(&l->stopping, true);
    loop_wake(l);
}
