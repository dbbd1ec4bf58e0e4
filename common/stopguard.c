/* common/stopguard.c — the stop deadline (see stopguard.h): one thread that
 * waits for the stop in 100 ms slices of sigtimedwait, so that it also
 * catches a second SIGTERM/SIGINT, and ends the process when the deadline
 * passes. Disarming sends that thread a SIGHUP of its own (pthread_kill: no
 * other thread sees it), so a stop is never 100 ms longer for the guard. */
#include "common/stopguard.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define SLICE_MS 100

static _Atomic(const char *) note = "starting to stop";
static atomic_bool disarmed;
static pthread_t guard;
static bool guard_running;
static sigset_t guard_signals;
static uint64_t guard_deadline_ms;
static unsigned guard_timeout_ms;

void stopguard_note(const char *what)
{
    atomic_store(&note, what);
}

static void give_up(const char *why)
{
    log_error("main", "%s while %s: exiting now with status %d (everything acknowledged is on "
              "disk)", why, atomic_load(&note), STOPGUARD_EXIT);
    _exit(STOPGUARD_EXIT);
}

static void *guard_thread(void *arg)
{
    (void)arg;
    const struct timespec slice = { 0, SLICE_MS * 1000000L };
    while (!atomic_load(&disarmed)) {
        int sig = sigtimedwait(&guard_signals, NULL, &slice);
        if (atomic_load(&disarmed))
            break;
        if (sig == SIGTERM || sig == SIGINT)
            give_up(sig == SIGTERM ? "second SIGTERM" : "second SIGINT");
        /* SIGHUP (a reload) means nothing while stopping: dropped. */
        if (clock_now_ms() >= guard_deadline_ms) {
            char why[64];
            snprintf(why, sizeof why, "stop not done after %u ms", guard_timeout_ms);
            give_up(why);
        }
    }
    return NULL;
}

int stopguard_arm(const sigset_t *signals, unsigned timeout_ms)
{
    guard_signals = *signals;
    guard_timeout_ms = timeout_ms ? timeout_ms : STOPGUARD_DEFAULT_MS;
    guard_deadline_ms = clock_now_ms() + guard_timeout_ms;
    atomic_store(&disarmed, false);
    if (pthread_create(&guard, NULL, guard_thread, NULL) != 0) {
        log_warn("main", "cannot start the stop guard thread: the stop has no deadline");
        return -1;
    }
    guard_running = true;
    return 0;
}

void stopguard_disarm(void)
{
    atomic_store(&disarmed, true);
    if (guard_running) {
        pthread_kill(guard, SIGHUP); /* wakes its sigtimedwait now */
        pthread_join(guard, NULL);
    }
    guard_running = false;
}
