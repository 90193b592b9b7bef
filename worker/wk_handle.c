/* The dispatch table. Adding an operation: a PROTO_OP_* value, a row in the gateway's route
 * table, a row here and its handler. */
#include "worker/wk_handle.h"

#include "worker/wk_lifecycle.h"
#include "worker/wk_rate.h"
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/shard.h"
#include "worker/wk_attempt.h"
#include "worker/wk_audit.h"
#include "worker/wk_auth.h"
#include "worker/wk_operation.h"
#include "worker/wk_placement.h"
#include "worker/wk_question.h"
#include "worker/wk_quiz.h"
#include "worker/wk_reply.h"
#include "worker/wk_tenant.h"
#include "worker/wk_user.h"
#include "worker/wk_metrics.h"

/* Who may call: the gateway decides, the worker checks again from the credential (defense in
 * depth). */
typedef enum { NEEDS_NOTHING, NEEDS_PLATFORM, NEEDS_USER, NEEDS_ADMIN } wk_needs_t;

/* Whose tenant the request may be about, and who checks that it is this shard's. */
typedef enum {
    TENANT_NONE,     /* no tenant (platform-wide) */
    TENANT_NEW,      /* a tenant being created: its id must hash here */
    TENANT_OWNED,    /* runs as the tenant's role, which PostgreSQL refuses to another shard */
    TENANT_REGISTRY, /* provisioning: the registry is asked before it runs */
    TENANT_ANY,      /* a registry read any shard may answer */
} wk_tenant_t;

typedef struct {
    wk_handler_fn fn;
    wk_needs_t needs;   /* who may call it */
    wk_tenant_t tenant; /* which tenant it concerns, and how ownership is checked */
    bool pcr_ok;        /* allowed while the user must still change a temporary password */
} wk_route_t;

static const wk_route_t s_routes[PROTO_OP__COUNT] = {
    /* PROTO_OP_PING never reaches a handler: whoever reads it answers it (wk_server.c). */
    [PROTO_OP_TENANT_CREATE] = {wk_tenant_create, NEEDS_PLATFORM, TENANT_NEW},
    [PROTO_OP_TENANT_LIST] = {wk_tenant_list, NEEDS_PLATFORM, TENANT_NONE},
    [PROTO_OP_TENANT_GET] = {wk_tenant_get, NEEDS_PLATFORM, TENANT_ANY},
    [PROTO_OP_TENANT_DELETE] = {wk_tenant_delete, NEEDS_PLATFORM, TENANT_REGISTRY},
    [PROTO_OP_TENANT_SUSPEND] = {wk_tenant_suspend, NEEDS_PLATFORM, TENANT_REGISTRY},
    [PROTO_OP_TENANT_RATE_SET] = {wk_tenant_rate_set, NEEDS_PLATFORM, TENANT_ANY},
    [PROTO_OP_TENANT_RESUME] = {wk_tenant_resume, NEEDS_PLATFORM, TENANT_REGISTRY},
    [PROTO_OP_TENANT_RESTORE] = {wk_tenant_restore, NEEDS_PLATFORM, TENANT_REGISTRY},
    [PROTO_OP_TENANT_STATS] = {wk_tenant_stats, NEEDS_PLATFORM, TENANT_OWNED},
    [PROTO_OP_TENANT_USER_CREATE] = {wk_user_create, NEEDS_PLATFORM, TENANT_OWNED},
    [PROTO_OP_AUTH_LOGIN] = {wk_auth_login, NEEDS_NOTHING, TENANT_OWNED},
    [PROTO_OP_AUTH_REFRESH] = {wk_auth_refresh, NEEDS_NOTHING, TENANT_OWNED},
    [PROTO_OP_AUTH_LOGOUT] = {wk_auth_logout, NEEDS_USER, TENANT_OWNED, true},
    [PROTO_OP_USER_ME] = {wk_user_me, NEEDS_USER, TENANT_OWNED, true},
    [PROTO_OP_USER_PASSWORD] = {wk_user_password, NEEDS_USER, TENANT_OWNED, true},
    [PROTO_OP_USER_LIST] = {wk_user_list, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_USER_GET] = {wk_user_get, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_USER_CREATE] = {wk_user_create, NEEDS_ADMIN, TENANT_OWNED},
    [PROTO_OP_USER_UPDATE] = {wk_user_update, NEEDS_ADMIN, TENANT_OWNED},
    [PROTO_OP_USER_DELETE] = {wk_user_delete, NEEDS_ADMIN, TENANT_OWNED},
    [PROTO_OP_AUDIT_LIST] = {wk_audit_list, NEEDS_ADMIN, TENANT_OWNED},
    [PROTO_OP_QUIZ_CREATE] = {wk_quiz_create, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_QUIZ_LIST] = {wk_quiz_list, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_QUIZ_GET] = {wk_quiz_get, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_QUIZ_UPDATE] = {wk_quiz_update, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_QUIZ_DELETE] = {wk_quiz_delete, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_QUIZ_STATS] = {wk_quiz_stats, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_QUESTION_CREATE] = {wk_question_create, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_QUESTION_UPDATE] = {wk_question_update, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_QUESTION_DELETE] = {wk_question_delete, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_QUESTION_REORDER] = {wk_question_reorder, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_ATTEMPT_CREATE] = {wk_attempt_create, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_ATTEMPT_LIST] = {wk_attempt_list, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_ATTEMPT_GET] = {wk_attempt_get, NEEDS_USER, TENANT_OWNED},
    [PROTO_OP_TENANT_MOVE] = {wk_operation_move, NEEDS_PLATFORM, TENANT_ANY},
    [PROTO_OP_OPERATION_GET] = {wk_operation_get, NEEDS_PLATFORM, TENANT_NONE},
    [PROTO_OP_OPERATION_LIST] = {wk_operation_list, NEEDS_PLATFORM, TENANT_NONE},
    [PROTO_OP_SHARD_LIST] = {wk_operation_shards, NEEDS_PLATFORM, TENANT_NONE},
    [PROTO_OP_SHARD_REBALANCE] = {wk_operation_rebalance, NEEDS_PLATFORM, TENANT_NONE},
};

/* Whether the caller in the envelope is one a gateway could have vouched for: the role comes
 * with the credential that proves it, checked here again. A peer that got onto the worker link
 * (a leaked gateway key, a gateway bug mislabelling a role) can then do no more than an HTTP
 * client holding the same credentials. NULL when it is, else why not; *status is the answer. */
static const char *s_check_caller(const wk_ctx_t *ctx, const wk_route_t *route,
                                  const proto_request_t *req, proto_status_t *status)
{
    *status = PROTO_STATUS_UNAUTHORIZED;
    switch (route->needs) {
    case NEEDS_NOTHING:
        /* login and refresh prove themselves with the body; no gateway names a caller here */
        return req->role == PROTO_ROLE_NONE && !req->has_user ? NULL : "caller without credential";
    case NEEDS_PLATFORM:
        return req->role == PROTO_ROLE_PLATFORM && !req->has_user &&
                       platform_token_matches(ctx->platform, req->credential)
                   ? NULL
                   : "platform role without the platform token";
    case NEEDS_USER:
    case NEEDS_ADMIN: break;
    }
    jwt_claims_t claims;
    if (!req->has_user || !req->has_tenant || !req->credential ||
        jwt_verify(ctx->ring, req->credential, (int64_t)time(NULL), &claims) != JWT_OK)
        return "user role without a valid access token";
    if (memcmp(claims.tenant, req->tenant, 16) != 0 || memcmp(claims.user, req->user_id, 16) != 0 ||
        req->role != (claims.admin ? PROTO_ROLE_ADMIN : PROTO_ROLE_MEMBER))
        return "caller differs from its access token";
    *status = PROTO_STATUS_FORBIDDEN;
    if (route->needs == NEEDS_ADMIN && !claims.admin)
        return "operation needs the admin role";
    if (claims.pwd_change && !route->pcr_ok)
        return "the temporary password must be changed first";
    return NULL;
}

/* The request, with its ids in every line logged meanwhile (wk_handle_request). */
static void s_handle(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    const wk_route_t *route = &s_routes[req->op];
    if (!route->fn) {
        wk_reply_error(rep, PROTO_STATUS_INTERNAL, "operation not implemented");
        return;
    }
    proto_status_t refused;
    const char *why = s_check_caller(ctx, route, req, &refused);
    if (why) {
        log_warning("refused %s: %s", proto_op_str(req->op), why);
        wk_reply_error(rep, refused, "caller may not perform %s", proto_op_str(req->op));
        return;
    }
    if (route->tenant != TENANT_NONE && !req->has_tenant) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "request names no tenant");
        return;
    }
    if (route->tenant == TENANT_NEW &&
        shard_place(req->tenant, ctx->dedicated, ctx->shards) != ctx->shard) {
        log_warning("refused %s: a new tenant with this id is not placed here",
                    proto_op_str(req->op));
        wk_reply_error(rep, PROTO_STATUS_MISROUTED, "tenant is not placed on this shard");
        return;
    }
    if (route->tenant == TENANT_REGISTRY && wk_placement_check(ctx, req, rep) < 0)
        return;
    route->fn(ctx, req, rep);
    if (rep->status == PROTO_STATUS_MISROUTED && route->tenant == TENANT_OWNED) {
        wk_placement_redirect(ctx, req, rep);
        log_debug("%s redirected: %s", proto_op_str(req->op), rep->detail);
        return;
    }
    /* The tenant's own rate, for the gateway's limiter (wk_rate.h): only in answers to the
       tenant's own callers, whom the gateway has checked. */
    long rate = route->tenant == TENANT_OWNED && req->role != PROTO_ROLE_PLATFORM
                    ? wk_rates_get(req->tenant)
                    : -1;
    if (rate >= 0) {
        char text[24];
        snprintf(text, sizeof text, "%ld", rate);
        proto_reply_header(rep, PROTO_TENANT_RATE_HEADER, text);
    }
    log_debug("%s -> %s", proto_op_str(req->op), proto_status_str(rep->status));
}

void wk_handle_request(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    memcpy(rep->request_id, req->request_id, 16);
    log_req_t lr = {req->request_id, req->has_tenant ? req->tenant : NULL, ctx->shard};
    log_req_begin(&lr);
    uint64_t start = clock_mono_us(), db_before = wk_metrics_thread_db_us();
    s_handle(ctx, req, rep);
    if (ctx->missed) { /* a database thread handles it, and counts it */
        log_req_end();
        return;
    }
    uint64_t db_us = wk_metrics_thread_db_us() - db_before;
    wk_metrics_request(req->op, rep->status, req->has_tenant ? req->tenant : NULL, db_us);
    log_req_end();
    log_access(&lr, &(log_access_t){proto_op_str(req->op), NULL, proto_status_str(rep->status),
                                    clock_mono_us() - start, (long long)db_us,
                                    req->has_user ? req->user_id : NULL});
}
