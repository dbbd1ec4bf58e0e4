/* common/service.c — sd_notify messages to systemd (see service.h). */
#include "common/service.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"

static atomic_bool ready_sent;

/* sd_notify's first argument 0 keeps $NOTIFY_SOCKET for later calls. */
/* >0 sent, 0 no manager, <0 failed (logged). */
static int notify(const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0)
        log_warn("main", "sd_notify to $NOTIFY_SOCKET failed (error %d): %.40s", -rc, state);
    return rc;
}

void service_notify_ready(void)
{
    if (atomic_exchange(&ready_sent, true))
        return;
    if (notify("READY=1\nSTATUS=serving") > 0)
        log_info("main", "ready: told the service manager (READY=1)");
}

void service_notify_stopping(void)
{
    (void)notify("STOPPING=1\nSTATUS=stopping");
}

void service_notify_status(const char *fmt, ...)
{
    char state[512];
    int n = snprintf(state, sizeof state, "STATUS=");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(state + n, sizeof state - (size_t)n, fmt, ap);
    va_end(ap);
    (void)notify(state);
}
