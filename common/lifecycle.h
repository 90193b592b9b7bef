/* Process lifecycle shared by both daemons: SIGTERM/SIGINT set a stop flag, SIGHUP a reload
 * flag (no work in the handlers), and the systemd notifications READY/STOPPING/WATCHDOG/STATUS.
 * Without NOTIFY_SOCKET the notifications are no-ops, so the same binary runs under systemd, `make
 * run` and tests. */
#ifndef COMMON_LIFECYCLE_H
#define COMMON_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

/* Installs the signal handlers (SIGTERM, SIGINT stop; SIGHUP reload; SIGPIPE ignored). */
void lifecycle_init(void);
/* Whether SIGHUP arrived since the last call (the main loop then reloads). */
bool lifecycle_take_reload(void);
/* RELOADING=1 (with MONOTONIC_USEC): a reload begins; lifecycle_ready() ends it. */
void lifecycle_reloading(void);
/* True once a stop signal arrived. Async-signal safe to read from any thread. */
bool lifecycle_is_stopping(void);
/* READY=1 plus a STATUS line (the endpoint served, for humans and tests). */
void lifecycle_ready(const char *status);
/* STOPPING=1: we begin draining. */
void lifecycle_stopping(void);
/* WATCHDOG=1; call at least every lifecycle_watchdog_usec()/2. */
void lifecycle_watchdog(void);
/* The unit's WatchdogSec in microseconds, or 0 when the watchdog is off. */
uint64_t lifecycle_watchdog_usec(void);

#endif
