/* A per-key event limiter (login attempts per client address) with fixed one-minute windows.
 * Lock-free: a fixed table of atomic words, each packing (minute, count), updated by CAS, so
 * civetweb threads never wait on each other. Keys hash (keyed SipHash) into 4096 slots; a rare
 * collision makes two addresses share a budget, which errs on the safe side. Per process: each
 * gateway instance limits on its own. */
#ifndef GATEWAY_GW_LIMIT_H
#define GATEWAY_GW_LIMIT_H

#include <stdint.h>

typedef struct gw_limit gw_limit_t;

/* A limiter allowing per_minute events per key; 0 disables it. Caller owns. */
gw_limit_t *gw_limit_new(unsigned per_minute);
void gw_limit_destroy(gw_limit_t **limit_p);
/* A new budget (reload), from the next event on. */
void gw_limit_set_rate(gw_limit_t *limit, unsigned per_minute);
/* Counts one event for key at time now (seconds). 0 if allowed, else the seconds until the
 * window ends (for Retry-After). */
int gw_limit_hit(gw_limit_t *limit, const char *key, int64_t now);

#endif
