/* The last 15 minutes of this gateway's traffic for the operator dashboard's charts: every 10 s
 * the main loop takes a sample from the metrics (requests, 5xx, in flight; per shard calls,
 * failed calls and the p99 of the call time, estimated from the histogram's buckets) into a
 * ring of 90, and the heaviest tenants by requests are kept in a top-K sketch. Served as JSON at
 * GET /api/gateway/samples (platform token). */
#ifndef GATEWAY_GW_SAMPLES_H
#define GATEWAY_GW_SAMPLES_H

#include <stdint.h>

#define GW_SAMPLES_KEPT 90

/* Before the first request: how many shards to sample, and how often (ms; 10000 covers 15
 * minutes). */
void gw_samples_init(int nshards, int every_ms);
void gw_samples_fini(void);
/* Takes a sample if the interval has passed since the last (the main loop calls it often). */
void gw_samples_tick(void);
/* Counts a request about a tenant. */
void gw_samples_tenant(const uint8_t tenant[16]);
/* {"interval_s", "samples": [oldest first], "top_tenants"}; the caller frees it. */
char *gw_samples_json(void);

#endif
