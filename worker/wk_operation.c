/* Placement operations over the API (see wk_operation.h). */
#include "worker/wk_operation.h"

#include <stdio.h>
#include <string.h>

#include "common/ident.h"
#include "worker/wk_json.h"
#include "worker/wk_mover.h"
#include "worker/wk_page.h"
#include "worker/wk_read.h"
#include "worker/wk_reply.h"

#define OPERATION_JSON                                                                      \
    "json_build_object('id', id, 'kind', kind, 'tenant_id', tenant_id, 'from_shard',"       \
    " from_shard, 'to_shard', to_shard, 'by', by, 'parent_id', parent_id, 'state', state,"  \
    " 'progress', progress, 'started_at', started_at, 'finished_at', finished_at, 'error'," \
    " error, 'freeze_ms', freeze_ms, 'claimed_by', claimed_by)"

/* Inserts the operation (values: id, then the statement's own) and answers 202 with it;
 * a unique violation (one running already) is a 409 (its message from wk_db's table). */
static void s_queue(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep, const char *sql,
                    int n, const char *const *v)
{
    wk_tx_t tx;
    PGresult *res = NULL;
    if (wk_tx_begin(&tx, ctx->registry_admin, NULL, req->deadline_ms) == 0)
        res = wk_tx_exec(&tx, sql, n, v);
    if (res && wk_tx_commit(&tx) == 0) {
        char location[64];
        snprintf(location, sizeof location, "/api/operations/%s", v[0]);
        json_t *out = json_pack("{s:s}", "operation_id", v[0]);
        wk_reply_json(rep, PROTO_STATUS_ACCEPTED, out);
        proto_reply_header(rep, "Location", location);
        wk_mover_nudge(ctx->mover);
    } else {
        wk_reply_tx_error(rep, &tx);
    }
    PQclear(res);
    wk_tx_end(&tx);
}

/* The tenant's shard and the target's facts: 0 with the reply untouched when the move may be
 * queued, else -1 with a 400/404/409 set. */
static int s_check_move(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep,
                        const char *tenant, const char *to)
{
    const char *v[2] = {tenant, to};
    wk_tx_t tx;
    PGresult *res = NULL;
    if (wk_tx_begin(&tx, ctx->registry, NULL, req->deadline_ms) == 0)
        res = wk_tx_exec_last(&tx,
                              "SELECT (SELECT shard FROM quiz.tenants WHERE id = $1 AND"
                              " status = 'active'), s.shard, s.dedicated AND EXISTS (SELECT 1 FROM"
                              " quiz.tenants o WHERE o.shard = s.shard AND o.status <> 'deleted'"
                              " AND o.id <> $1) FROM (SELECT 1) one LEFT JOIN quiz.shards s"
                              " ON s.shard = $2::int",
                              2, v);
    int rc = -1;
    if (!res)
        wk_reply_tx_error(rep, &tx);
    else if (PQgetisnull(res, 0, 0))
        wk_reply_error(rep, PROTO_STATUS_NOT_FOUND, "tenant not found");
    else if (PQgetisnull(res, 0, 1))
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "shard %s does not exist", to);
    else if (strcmp(PQgetvalue(res, 0, 0), to) == 0)
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "the tenant is on shard %s already", to);
    else if (strcmp(PQgetvalue(res, 0, 2), "t") == 0)
        wk_reply_error(rep, PROTO_STATUS_CONFLICT,
                       "dedicated shard %s already holds another tenant", to);
    else
        rc = 0;
    PQclear(res);
    wk_tx_end(&tx);
    return rc;
}

void wk_operation_move(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    static const char *const allowed[] = {"shard", NULL};
    json_t *body = wk_json_object(req, allowed, rep);
    if (!body)
        return;
    json_t *shard = json_object_get(body, "shard");
    if (!json_is_integer(shard) || json_integer_value(shard) < 0 ||
        json_integer_value(shard) > 1000000) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "shard must be a shard number");
        json_decref(body);
        return;
    }
    char tenant[IDENT_UUID_STR_LEN + 1], to[12], id[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->tenant, tenant);
    snprintf(to, sizeof to, "%lld", (long long)json_integer_value(shard));
    json_decref(body);
    if (s_check_move(ctx, req, rep, tenant, to) < 0)
        return;
    uint8_t u[16];
    ident_uuid_random(u);
    ident_uuid_format(u, id);
    const char *v[3] = {id, tenant, to};
    s_queue(ctx, req, rep,
            "INSERT INTO quiz.operations (id, kind, tenant_id, to_shard, from_shard)"
            " SELECT $1, 'move', $2, $3, shard FROM quiz.tenants WHERE id = $2",
            3, v);
}

void wk_operation_rebalance(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    static const char *const allowed[] = {"by", NULL};
    json_t *body = req->body_len ? wk_json_object(req, allowed, rep) : json_object();
    if (!body)
        return;
    const char *by = "tenants";
    json_t *b = json_object_get(body, "by");
    if (b && (!json_is_string(b) || (strcmp(json_string_value(b), "tenants") != 0 &&
                                     strcmp(json_string_value(b), "storage") != 0))) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "by must be \"tenants\" or \"storage\"");
        json_decref(body);
        return;
    }
    if (b)
        by = strcmp(json_string_value(b), "storage") == 0 ? "storage" : "tenants";
    json_decref(body);
    char id[IDENT_UUID_STR_LEN + 1];
    uint8_t u[16];
    ident_uuid_random(u);
    ident_uuid_format(u, id);
    const char *v[2] = {id, by};
    s_queue(ctx, req, rep,
            "INSERT INTO quiz.operations (id, kind, by) VALUES ($1, 'rebalance', $2)", 2, v);
}

void wk_operation_get(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    if (req->nparams != 1) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "operation id missing");
        return;
    }
    char id[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->params[0], id);
    const char *v[1] = {id};
    wk_read_row(ctx, req, rep, NULL, "SELECT " OPERATION_JSON " FROM quiz.operations WHERE id = $1",
                1, v, "operation not found");
}

void wk_operation_list(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    wk_page_t page;
    if (wk_page_parse(req, &page, rep) < 0)
        return;
    const char *v[3];
    wk_page_params(&page, v);
    /* clang-format off */
    wk_read_page(ctx, req, rep, NULL,
                 "SELECT " OPERATION_JSON "," WK_PAGE_KEYS("started_at", "id")
                 " FROM quiz.operations WHERE"
                 WK_PAGE_AFTER("started_at", "id", "uuid") WK_PAGE_ORDER("started_at", "id"),
                 3, v, &page);
    /* clang-format on */
}

void wk_operation_shards(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    /* Storage as sampled by each shard's workers about once a minute (wk_mover.h); "up" is the
       gateway's to add: it knows who answers. */
    wk_read_row(ctx, req, rep, NULL,
                "WITH per AS (SELECT s.shard, s.cluster, s.dedicated, count(t.id) tenants,"
                "  coalesce(sum(t.storage_bytes), 0)::bigint storage_bytes FROM quiz.shards s"
                "  LEFT JOIN quiz.tenants t ON t.shard = s.shard AND t.status <> 'deleted'"
                "  GROUP BY s.shard, s.cluster, s.dedicated)"
                " SELECT json_build_object('items', coalesce(json_agg(json_build_object("
                " 'shard', shard, 'cluster', cluster, 'dedicated', dedicated, 'tenants', tenants,"
                " 'storage_bytes', storage_bytes) ORDER BY shard), '[]')) FROM per",
                0, NULL, "no shards");
}
