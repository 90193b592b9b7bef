/* Placement operations over the API (platform scope): a tenant move and a rebalance are
 * validated here and queued for the movers (wk_mover.h), answered 202 with the operation to
 * watch; operations and the shard map are read here. */
#ifndef WORKER_WK_OPERATION_H
#define WORKER_WK_OPERATION_H

#include "worker/wk_handle.h"

void wk_operation_move(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_operation_rebalance(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_operation_get(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_operation_list(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_operation_shards(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

#endif
