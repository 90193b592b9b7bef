/* Where a tenant lives, as the registry says: the answer a worker gives when asked about a
 * tenant that is not its own (Redis Cluster's MOVED), so the gateway can retry there and
 * remember. The redirect is a MISROUTED reply with headers WK_PLACEMENT_SHARD (the owner) and
 * WK_PLACEMENT_EPOCH (the registry's placement epoch, which orders such news); the gateway never
 * passes them to clients. */
#ifndef WORKER_WK_PLACEMENT_H
#define WORKER_WK_PLACEMENT_H

#include "worker/wk_handle.h"

#define WK_PLACEMENT_SHARD "Quiz-Shard"
#define WK_PLACEMENT_EPOCH "Quiz-Epoch"

/* Turns rep (MISROUTED) into the redirect to the tenant's shard, into 404 when no tenant has
 * that id or it is deleted, 403 (TENANT_SUSPENDED) when it is suspended, or into the failure
 * of the lookup. */
void wk_placement_redirect(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
/* For operations whose transaction does not run as the tenant's role (provisioning), where
 * PostgreSQL cannot refuse a tenant of another shard: 0 when the registry places the tenant on
 * this shard (in any status: the lifecycle's handlers check that), else -1 with rep set
 * (redirect, 404 or failure). */
int wk_placement_check(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

#endif
