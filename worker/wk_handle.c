/* The dispatch table. Adding an operation: a PROTO_OP_* value, a row in the gateway's route
 * table, a row here and its handler. */
#include "worker/wk_handle.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/shard.h"
#include "worker/wk_reply.h"
#include "worker/wk_tenant.h"

typedef enum { NEEDS_NOTHING, NEEDS_PLATFORM } wk_needs_t;

typedef struct {
    wk_handler_fn fn;
    wk_needs_t needs;  /* who may call it */
    bool tenant;       /* the request names a tenant, which must be on this shard */
} wk_route_t;

static void s_ping(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    char body[64];
    snprintf(body, sizeof body, "{\"pong\":true,\"shard\":%d}", ctx->shard);
    wk_reply_body(rep, PROTO_STATUS_OK, mem_strdup(body));
}

static const wk_route_t s_routes[PROTO_OP__COUNT] = {
    [PROTO_OP_PING] = {s_ping, NEEDS_NOTHING, false},
    [PROTO_OP_TENANT_CREATE] = {wk_tenant_create, NEEDS_PLATFORM, true},
    [PROTO_OP_TENANT_LIST] = {wk_tenant_list, NEEDS_PLATFORM, false},
    [PROTO_OP_TENANT_GET] = {wk_tenant_get, NEEDS_PLATFORM, true},
    [PROTO_OP_TENANT_DELETE] = {wk_tenant_delete, NEEDS_PLATFORM, true},
    [PROTO_OP_TENANT_STATS] = {wk_tenant_stats, NEEDS_PLATFORM, true},
    [PROTO_OP_TENANT_USER_CREATE] = {wk_tenant_user_create, NEEDS_PLATFORM, true},
};

void wk_handle_request(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    memcpy(rep->request_id, req->request_id, 16);
    log_req_t lr = {req->request_id, req->has_tenant ? req->tenant : NULL, ctx->shard};
    const wk_route_t *route = &s_routes[req->op];
    if (!route->fn) {
        wk_reply_error(rep, PROTO_STATUS_INTERNAL, "operation not implemented");
        return;
    }
    if (route->needs == NEEDS_PLATFORM && req->role != PROTO_ROLE_PLATFORM) {
        wk_reply_error(rep, PROTO_STATUS_FORBIDDEN, "platform token required");
        return;
    }
    if (route->tenant) {
        if (!req->has_tenant) {
            wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "request names no tenant");
            return;
        }
        int owner = shard_of(req->tenant, ctx->shards);
        if (owner != ctx->shard) {
            log_req_warning(&lr, "refused %s: tenant belongs to shard %d",
                            proto_op_str(req->op), owner);
            wk_reply_error(rep, PROTO_STATUS_MISROUTED, "tenant is not served by this shard");
            return;
        }
    }
    route->fn(ctx, req, rep);
    log_req_debug(&lr, "%s -> %s", proto_op_str(req->op), proto_status_str(rep->status));
}
