/* Per-tenant request rates set in the registry (quiz.tenants.rate_limit). The platform sets or
 * clears one (PUT /api/tenants/{id}/rate). Each worker keeps every override in memory, read
 * again from the registry every --rates-ms by a thread of its own, and names the tenant's in
 * each reply to it (header Quiz-Tenant-Rate, which the gateway keeps for itself: its limiter
 * then holds the tenant to it, gateway/gw_limit.h). So a gateway learns a tenant's rate only
 * from answers to that tenant's authenticated requests, and a change reaches it within
 * --rates-ms plus one request. */
#ifndef WORKER_WK_RATE_H
#define WORKER_WK_RATE_H

#include <stdint.h>

#include "worker/wk_handle.h"

void wk_tenant_rate_set(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

/* Starts the refresh thread (registry at dsn as user; interval_ms 0: none). */
void wk_rates_start(const char *dsn, const char *user, int interval_ms);
void wk_rates_stop(void);
/* The tenant's override (0: unlimited), or -1 when it has none. */
long wk_rates_get(const uint8_t tenant[16]);

#endif
