/* Platform operations on tenants: create (registry row, role, schema, tables, admin, audit in
 * one transaction), list, get, stats; the lifecycle is wk_lifecycle.h. */
#ifndef WORKER_WK_TENANT_H
#define WORKER_WK_TENANT_H

#include "worker/wk_handle.h"

/* A tenant with its placement; over quiz.tenants JOIN quiz.shards USING (shard). */
#define TENANT_JSON                                                             \
    "json_build_object('tenant_id', id, 'tenant_name', name, 'status', status," \
    " 'shard', shard, 'cluster', cluster, 'created_at', created_at,"            \
    " 'storage_bytes', storage_bytes, 'deleted_at', deleted_at,"                \
    " 'purge_after', purge_after)"
#define TENANT_FROM " FROM quiz.tenants JOIN quiz.shards USING (shard)"

void wk_tenant_create(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_tenant_list(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_tenant_get(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_tenant_stats(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

#endif
