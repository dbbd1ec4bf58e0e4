/* common/stopguard.h — a bound on how long the daemon takes to stop.
 *
 * A stop waits for threads (the zone loader, the joiner, the Raft thread,
 * admin workers), and a thread can be stuck where no flag reaches it: a
 * read from a hung network file system, a zone that takes minutes to
 * parse, an fsync on a dying disk. So after the first SIGTERM/SIGINT the
 * main thread arms the guard: a thread that waits for the stop to end; if
 * it has not ended after timeout_ms, or when a second SIGTERM/SIGINT
 * arrives, it logs what the stop is still waiting for and ends the process
 * with _exit(STOPGUARD_EXIT). That is as safe as a crash, which the node is
 * built for: everything it acknowledged is already on disk
 * (docs/storage.md).
 *
 * The stop says where it is with stopguard_note (any thread; the text must
 * stay valid until the process exits, e.g. a string literal). */
#ifndef COMMON_STOPGUARD_H
#define COMMON_STOPGUARD_H

#include <signal.h>

#define STOPGUARD_EXIT 3
#define STOPGUARD_DEFAULT_MS 10000

/* Starts the guard thread; `signals` are the ones main waits for (they must
 * be blocked in every thread). 0, or -1 if the thread could not start (the
 * stop is then unbounded, and says so in the log). */
int stopguard_arm(const sigset_t *signals, unsigned timeout_ms);
/* The stop ended: stops the guard thread (within ~100 ms). */
void stopguard_disarm(void);
/* What the stop is doing now, for the guard's log line. */
void stopguard_note(const char *what);

#endif
