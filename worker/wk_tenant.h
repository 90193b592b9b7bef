/* Platform operations on tenants: create (registry row, role, schema, tables, admin, audit in
 * one transaction), list, get, stats, delete. */
#ifndef WORKER_WK_TENANT_H
#define WORKER_WK_TENANT_H

#include "worker/wk_handle.h"

void wk_tenant_create(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_tenant_list(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_tenant_get(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_tenant_delete(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_tenant_stats(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

#endif
