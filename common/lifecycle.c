/* Signals and sd_notify, the one file that talks to systemd. */
#include "common/lifecycle.h"

#include <signal.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

static volatile sig_atomic_t s_stop, s_reload;

static void s_on_stop(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_on_reload(int sig)
{
    (void)sig;
    s_reload = 1;
}

void lifecycle_init(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = s_on_stop;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking poll must return EINTR so the loop sees the flag. */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = s_on_reload;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool lifecycle_take_reload(void)
{
    if (!s_reload)
        return false;
    s_reload = 0;
    return true;
}

void lifecycle_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sd_notifyf(0, "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu",
               (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
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
