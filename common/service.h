/* common/service.h — telling the service manager (systemd) how the daemon
 * is doing, through sd_notify(3): READY=1 once the node serves, STOPPING=1
 * when a stop begins, and STATUS= lines that `systemctl status` shows.
 *
 * Without a manager (no $NOTIFY_SOCKET) every call does nothing, so the
 * daemon runs the same under a terminal, a test or another supervisor.
 * Safe from any thread. */
#ifndef COMMON_SERVICE_H
#define COMMON_SERVICE_H

/* READY=1 (with STATUS=serving), the first time only; later calls do
 * nothing. A Type=notify unit counts as started from here. */
void service_notify_ready(void);
/* STOPPING=1: systemd then waits for the exit (TimeoutStopSec). */
void service_notify_stopping(void);
/* STATUS=<text>, a free-form line for `systemctl status`. */
void service_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
