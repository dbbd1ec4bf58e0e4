/* common/clock.h — the monotonic millisecond clock and a millisecond sleep,
 * for deadlines and retry pauses (never the wall clock: it can jump). */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC (from an arbitrary origin). */
uint64_t clock_now_ms(void);
/* Nanoseconds on CLOCK_MONOTONIC, for measuring durations. */
uint64_t clock_now_ns(void);
/* Sleeps about ms milliseconds (a signal may end it early). */
void clock_sleep_ms(unsigned ms);

#endif
