/* A per-key event limiter, a token bucket per key: login attempts per client address per
 * minute, requests per tenant per second. A key may spend its burst at once; then it gets one
 * event per window / budget, evenly. Lock-free: a fixed table of atomic words (a
 * timestamp each), updated by CAS, so civetweb threads never wait on each other. Keys hash
 * (keyed SipHash, a random key) into the table's slots; a rare collision makes two keys share a
 * budget, so the table is sized well above the keys active at once. Per process: each gateway
 * instance limits on its own. */
#ifndef GATEWAY_GW_LIMIT_H
#define GATEWAY_GW_LIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct gw_limit gw_limit_t;

/* A limiter allowing per_window events per key in each window of window_s seconds (0 events:
 * disabled), of which burst_pct % (at least 10, or all if fewer) may come at once, over `slots`
 * slots of 8 bytes. Caller owns. */
gw_limit_t *gw_limit_new(unsigned per_window, unsigned window_s, unsigned burst_pct, size_t slots);
void gw_limit_destroy(gw_limit_t **limit_p);
/* The slot a key counts in (hash once, then use the _slot calls below). */
size_t gw_limit_slot(const gw_limit_t *limit, const char *key);
/* A slot's own budget per window (0: unlimited), or -1: the limiter's again; a change starts the
 * slot afresh. Keys that share a slot share it, as they share their events. */
void gw_limit_set_slot_rate(gw_limit_t *limit, size_t slot, long per_window);
/* A new budget (reload), from the next event on. */
void gw_limit_set_rate(gw_limit_t *limit, unsigned per_window);
/* Counts one event for key at time now (µs). 0 if allowed, else the microseconds until one
 * would be (a refused event is not counted). */
int64_t gw_limit_hit(gw_limit_t *limit, const char *key, int64_t now_us);
int64_t gw_limit_hit_slot(gw_limit_t *limit, size_t slot, int64_t now_us);
/* Such a wait in whole seconds, rounded up, for Retry-After. */
int gw_limit_retry_after(int64_t wait_us);

#endif
