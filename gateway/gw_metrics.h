/* Process-wide counters for GET /metrics (Prometheus text format). Relaxed atomics: counters
 * need no ordering, and no request ever waits on another. */
#ifndef GATEWAY_GW_METRICS_H
#define GATEWAY_GW_METRICS_H

#include <stddef.h>

#include "gateway/gw_shard.h"

/* Counts one answered request by HTTP status and its latency in microseconds. */
void gw_metrics_request(int http_status, unsigned long long usec);
/* Counts one shard call outcome. */
void gw_metrics_call(int shard, gw_call_t outcome);
/* Counts one redirect to a tenant's owner followed. */
void gw_metrics_redirect(void);
/* The exposition text; the caller frees it. */
char *gw_metrics_render(int nshards);

#endif
