/* Pacing of the password lane. An Argon2id hash is ~30 ms of one core on purpose, and on a machine
 * that also serves reads (and often the database) every core it takes is one the reads wait for:
 * CPU priority alone does not stop that (a niced thread still runs whenever the database is
 * waiting on its clients, and group scheduling gives its process a full share). So while
 * ordinary requests are in flight, password requests may use only `share` percent of one core:
 * after each, the lane rests in proportion to how long it ran. An idle worker hashes freely. */
#ifndef WORKER_WK_PACE_H
#define WORKER_WK_PACE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int share;        /* percent of one core, 1..100; 100 never rests */
    uint64_t next_us; /* monotonic time before which a busy worker starts no password request */
} wk_pace_t;

void wk_pace_init(wk_pace_t *p, int share);
/* A password request ended at now_us after running ran_us; busy as for wk_pace_wait_us. Rests of
 * requests that end while busy add up (several password threads); an idle worker owes only the
 * last one's, so a burst of logins on an idle worker does not hold back the first ones after. */
void wk_pace_ran(wk_pace_t *p, uint64_t now_us, uint64_t ran_us, bool busy);
/* Microseconds to wait before starting the next password request; 0: start it now. busy: ordinary
 * requests are running or queued. */
uint64_t wk_pace_wait_us(const wk_pace_t *p, uint64_t now_us, bool busy);

#endif
