/* Audit appends and the admin's audit listing. */
#include "worker/wk_audit.h"

#include "common/ident.h"
#include "worker/wk_page.h"
#include "worker/wk_read.h"
#include "worker/wk_reply.h"

int wk_audit_tenant(wk_tx_t *tx, const proto_request_t *req, const char *action, const char *target,
                    const char *detail_json)
{
    char actor[IDENT_UUID_STR_LEN + 1], rid[33];
    if (req->has_user)
        ident_uuid_format(req->user_id, actor);
    ident_hex(req->request_id, 16, rid);
    const char *v[6] = {req->has_user ? actor : NULL,    action, target, req->client, rid,
                        detail_json ? detail_json : "{}"};
    PGresult *res =
        wk_tx_exec(tx,
                   "INSERT INTO audit_log (actor_id, action, target, client, request_id,"
                   " detail) VALUES ($1, $2, $3, $4, $5, $6)",
                   6, v);
    PQclear(res);
    return res ? 0 : -1;
}

int wk_audit_platform(wk_tx_t *tx, const proto_request_t *req, const char *action)
{
    char tenant[IDENT_UUID_STR_LEN + 1], rid[33];
    ident_uuid_format(req->tenant, tenant);
    ident_hex(req->request_id, 16, rid);
    const char *v[4] = {action, tenant, rid, req->client};
    PGresult *res =
        wk_tx_exec(tx,
                   "INSERT INTO quiz.platform_audit (action, tenant_id, request_id, client)"
                   " VALUES ($1, $2, $3, $4)",
                   4, v);
    PQclear(res);
    return res ? 0 : -1;
}

void wk_audit_list(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    wk_page_t page;
    if (wk_page_parse(req, &page, rep) < 0)
        return;
    const char *v[3];
    wk_page_params(&page, v);
    /* clang-format off */
    wk_read_page(ctx, req, rep, req->tenant,
                 "SELECT json_build_object('id', id, 'at', at, 'actor_id', actor_id,"
                 " 'action', action, 'target', target, 'client', client,"
                 " 'request_id', request_id, 'detail', detail),"
                 WK_PAGE_KEYS("at", "id")
                 " FROM audit_log WHERE" WK_PAGE_AFTER("at", "id", "bigint")
                 WK_PAGE_ORDER("at", "id"),
                 3, v, &page);
    /* clang-format on */
}
