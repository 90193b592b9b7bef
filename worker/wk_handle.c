/* The dispatch table. Adding an operation: a PROTO_OP_* value, a row in the gateway's route
 * table, a row here and its handler. */
#include "worker/wk_handle.h"

#include <string.h>

#include "common/log.h"
#include "common/shard.h"
#include "worker/wk_attempt.h"
#include "worker/wk_audit.h"
#include "worker/wk_auth.h"
#include "worker/wk_question.h"
#include "worker/wk_quiz.h"
#include "worker/wk_reply.h"
#include "worker/wk_tenant.h"
#include "worker/wk_user.h"

/* Who may call: the gateway decides too, the worker checks again (defense in depth). */
typedef enum { NEEDS_NOTHING, NEEDS_PLATFORM, NEEDS_USER, NEEDS_ADMIN } wk_needs_t;

typedef struct {
    wk_handler_fn fn;
    wk_needs_t needs; /* who may call it */
    bool tenant;      /* the request names a tenant, which must be on this shard */
} wk_route_t;

static const wk_route_t s_routes[PROTO_OP__COUNT] = {
    /* PROTO_OP_PING never reaches a thread: the broker answers it (wk_server.c). */
    [PROTO_OP_TENANT_CREATE] = {wk_tenant_create, NEEDS_PLATFORM, true},
    [PROTO_OP_TENANT_LIST] = {wk_tenant_list, NEEDS_PLATFORM, false},
    [PROTO_OP_TENANT_GET] = {wk_tenant_get, NEEDS_PLATFORM, true},
    [PROTO_OP_TENANT_DELETE] = {wk_tenant_delete, NEEDS_PLATFORM, true},
    [PROTO_OP_TENANT_STATS] = {wk_tenant_stats, NEEDS_PLATFORM, true},
    [PROTO_OP_TENANT_USER_CREATE] = {wk_user_create, NEEDS_PLATFORM, true},
    [PROTO_OP_AUTH_LOGIN] = {wk_auth_login, NEEDS_NOTHING, true},
    [PROTO_OP_AUTH_REFRESH] = {wk_auth_refresh, NEEDS_NOTHING, true},
    [PROTO_OP_AUTH_LOGOUT] = {wk_auth_logout, NEEDS_USER, true},
    [PROTO_OP_USER_ME] = {wk_user_me, NEEDS_USER, true},
    [PROTO_OP_USER_PASSWORD] = {wk_user_password, NEEDS_USER, true},
    [PROTO_OP_USER_LIST] = {wk_user_list, NEEDS_USER, true},
    [PROTO_OP_USER_GET] = {wk_user_get, NEEDS_USER, true},
    [PROTO_OP_USER_CREATE] = {wk_user_create, NEEDS_ADMIN, true},
    [PROTO_OP_USER_UPDATE] = {wk_user_update, NEEDS_ADMIN, true},
    [PROTO_OP_USER_DELETE] = {wk_user_delete, NEEDS_ADMIN, true},
    [PROTO_OP_AUDIT_LIST] = {wk_audit_list, NEEDS_ADMIN, true},
    [PROTO_OP_QUIZ_CREATE] = {wk_quiz_create, NEEDS_USER, true},
    [PROTO_OP_QUIZ_LIST] = {wk_quiz_list, NEEDS_USER, true},
    [PROTO_OP_QUIZ_GET] = {wk_quiz_get, NEEDS_USER, true},
    [PROTO_OP_QUIZ_UPDATE] = {wk_quiz_update, NEEDS_USER, true},
    [PROTO_OP_QUIZ_DELETE] = {wk_quiz_delete, NEEDS_USER, true},
    [PROTO_OP_QUIZ_STATS] = {wk_quiz_stats, NEEDS_USER, true},
    [PROTO_OP_QUESTION_CREATE] = {wk_question_create, NEEDS_USER, true},
    [PROTO_OP_QUESTION_UPDATE] = {wk_question_update, NEEDS_USER, true},
    [PROTO_OP_QUESTION_DELETE] = {wk_question_delete, NEEDS_USER, true},
    [PROTO_OP_QUESTION_REORDER] = {wk_question_reorder, NEEDS_USER, true},
    [PROTO_OP_ATTEMPT_CREATE] = {wk_attempt_create, NEEDS_USER, true},
    [PROTO_OP_ATTEMPT_LIST] = {wk_attempt_list, NEEDS_USER, true},
    [PROTO_OP_ATTEMPT_GET] = {wk_attempt_get, NEEDS_USER, true},
};

static bool s_allowed(wk_needs_t needs, const proto_request_t *req)
{
    switch (needs) {
    case NEEDS_NOTHING: return true;
    case NEEDS_PLATFORM: return req->role == PROTO_ROLE_PLATFORM;
    case NEEDS_USER:
        return req->has_user && (req->role == PROTO_ROLE_MEMBER || req->role == PROTO_ROLE_ADMIN);
    case NEEDS_ADMIN: return req->has_user && req->role == PROTO_ROLE_ADMIN;
    }
    return false;
}

void wk_handle_request(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    memcpy(rep->request_id, req->request_id, 16);
    log_req_t lr = {req->request_id, req->has_tenant ? req->tenant : NULL, ctx->shard};
    const wk_route_t *route = &s_routes[req->op];
    if (!route->fn) {
        wk_reply_error(rep, PROTO_STATUS_INTERNAL, "operation not implemented");
        return;
    }
    if (!s_allowed(route->needs, req)) {
        wk_reply_error(rep, PROTO_STATUS_FORBIDDEN, "caller may not perform %s",
                       proto_op_str(req->op));
        return;
    }
    if (route->tenant) {
        if (!req->has_tenant) {
            wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "request names no tenant");
            return;
        }
        int owner = shard_of(req->tenant, ctx->shards);
        if (owner != ctx->shard) {
            log_req_warning(&lr, "refused %s: tenant belongs to shard %d", proto_op_str(req->op),
                            owner);
            wk_reply_error(rep, PROTO_STATUS_MISROUTED, "tenant is not served by this shard");
            return;
        }
    }
    route->fn(ctx, req, rep);
    log_req_debug(&lr, "%s -> %s", proto_op_str(req->op), proto_status_str(rep->status));
}
