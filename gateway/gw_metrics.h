/* The gateway's /metrics (Prometheus text format): requests by route (the route table's
 * operation name, never the raw path), method and status class, with a latency histogram;
 * calls to each shard by outcome, with theirs; requests in flight; redirects followed; process
 * metrics. Relaxed atomics in fixed arrays: no allocation and no lock on the request path. */
#ifndef GATEWAY_GW_METRICS_H
#define GATEWAY_GW_METRICS_H

#include <stdint.h>

#include "gateway/gw_route.h"
#include "gateway/gw_shard.h"

#define GW_METRICS_UNMATCHED (-1) /* a request whose path or method matched no route */

/* Names the labels: the route table's rows are slots 0..n-1, then the gateway's own endpoints
 * (`local`, nlocal names such as "healthz") from gw_metrics_local_slot(0). Call once first. */
void gw_metrics_init(const char *const *local, int nlocal);
int gw_metrics_route_slot(const gw_route_t *route);
int gw_metrics_local_slot(int i);
/* A slot's route label ("unmatched" for GW_METRICS_UNMATCHED), for the request log. */
const char *gw_metrics_route_name(int slot);

/* Where the requests in flight are counted (the HTTP server knows its busy threads). */
void gw_metrics_in_flight_from(long long (*count)(void *arg), void *arg);
/* A request was answered with http_status after usec microseconds. */
void gw_metrics_request(int slot, const char *method, int http_status, uint64_t usec);
/* One call to a shard and its outcome. */
void gw_metrics_call(int shard, gw_call_t outcome, uint64_t usec);
/* One redirect to a tenant's owner followed. */
void gw_metrics_redirect(void);
/* Totals so far, for gw_samples: requests answered, those answered 5xx, in flight; a shard's
 * calls by outcome (ok, unavailable, timeout) and its call-time histogram buckets (per bucket,
 * METRICS_BUCKETS + 1 of them). */
void gw_metrics_totals(uint64_t *requests, uint64_t *errors, long long *in_flight);
void gw_metrics_shard_totals(int shard, uint64_t calls[3], uint64_t *buckets);
/* The exposition text for nshards shards; the caller frees it. */
char *gw_metrics_render(int nshards);

#endif
