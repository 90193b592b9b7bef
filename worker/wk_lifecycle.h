/* A tenant's lifecycle (DESIGN.md): suspend and resume, delete (soft: restorable for the
 * deleting worker's --delete-grace) and restore, and the purge after the grace period. Each step
 * changes the registry row, the tenant role's grant to its shard's login and the platform audit
 * (with the request id and client of who asked) in one transaction when the registry is on the
 * tenant's cluster. A suspended or deleted tenant's role is granted to no shard, so PostgreSQL
 * refuses its requests whatever a worker does; the worker answers that refusal 403
 * tenant-suspended or 404 from the registry's status (wk_placement.h). */
#ifndef WORKER_WK_LIFECYCLE_H
#define WORKER_WK_LIFECYCLE_H

#include "worker/wk_handle.h"

void wk_tenant_suspend(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_tenant_resume(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_tenant_delete(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_tenant_restore(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

/* Purges up to `max` tenants of shard `shard` whose grace period is over: registry row gone
 * (audited as tenant.purge by "purger"), then schema and role dropped on `data` (the shard's
 * cluster; the same transaction when it is `registry`). Provisioning connections. The number
 * purged, or -1 on a failure (logged). Several workers of a shard may run it at once. */
int wk_lifecycle_purge(wk_db_t *registry, wk_db_t *data, int shard, int max);

#endif
