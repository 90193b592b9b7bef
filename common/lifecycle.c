/* Signals and sd_notify, the one file that talks to systemd. */
#include "common/lifecycle.h"

#include <signal.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

static volatile sig_atomic_t s_stop;

static void s_on_stop(int sig)
{
    (void)sig;
    s_stop = 1;
}

void lifecycle_init(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = s_on_stop;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking poll must return EINTR so the loop sees the flag. */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool lifecycle_is_stopping(void)
{
    return s_stop != 0;
}

void lifecycle_ready(const char *status)
{
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void lifecycle_stopping(void)
{
    sd_notify(0, "STOPPING=1\nSTATUS=draining");
}

void lifecycle_watchdog(void)
{
    sd_notify(0, "WATCHDOG=1");
}

uint64_t lifecycle_watchdog_usec(void)
{
    uint64_t usec = 0;
    return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}
