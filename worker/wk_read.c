/* One-statement reads (see wk_read.h). */
#include "worker/wk_read.h"

#include <stdlib.h>

#include "worker/wk_coherence.h"
#include "worker/wk_reply.h"

bool wk_read_must_look(const wk_ctx_t *ctx, const proto_request_t *req, unsigned tables)
{
    return ctx->cache && !wk_cache_tenant_logs(ctx->cache, req->tenant, tables);
}

uint32_t wk_read_keepable(const wk_ctx_t *ctx, const proto_request_t *req, const PGresult *res,
                          int col, unsigned tables)
{
    if (!ctx->cache || PQntuples(res) < 1 || PQgetisnull(res, 0, col) ||
        PQgetvalue(res, 0, col + 1)[0] != 't')
        return 0;
    wk_cache_note_logs(ctx->cache, req->tenant, tables);
    return (uint32_t)strtoul(PQgetvalue(res, 0, col), NULL, 10);
}

void wk_read_cached(wk_ctx_t *ctx, proto_reply_t *rep, wk_cache_kind_t kind, const uint8_t *tenant,
                    const uint8_t id[16])
{
    uint32_t oid = wk_coherence_oid(ctx->checked);
    char *doc = oid ? wk_cache_get_doc(ctx->cache, kind, tenant, id, oid) : NULL;
    if (doc)
        wk_reply_body(rep, PROTO_STATUS_OK, doc);
    else
        ctx->missed = true;
}

void wk_read_keep(wk_ctx_t *ctx, const proto_request_t *req, const PGresult *res, int col,
                  unsigned tables, uint64_t epoch, wk_cache_kind_t kind, const uint8_t id[16],
                  const proto_reply_t *rep)
{
    uint32_t oid = wk_read_keepable(ctx, req, res, col, tables);
    if (oid && rep->body)
        wk_cache_put_doc(ctx->cache, epoch, kind, req->tenant, id, oid, rep->body, rep->body_len);
}

PGresult *wk_read_run(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep,
                      const uint8_t *tenant, const char *sql, int n, const char *const *values,
                      wk_tx_t *tx)
{
    PGresult *res = NULL;
    /* Shared-schema reads are registry reads: the control cluster's. */
    if (wk_tx_begin(tx, tenant ? ctx->db : ctx->registry, tenant, req->deadline_ms) == 0)
        res = wk_tx_exec_last(tx, sql, n, values);
    if (!res)
        wk_reply_tx_error(rep, tx);
    return res;
}

void wk_read_row(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep,
                 const uint8_t *tenant, const char *sql, int n, const char *const *values,
                 const char *not_found)
{
    wk_tx_t tx;
    PGresult *res = wk_read_run(ctx, req, rep, tenant, sql, n, values, &tx);
    if (res)
        wk_reply_row(rep, PROTO_STATUS_OK, res, not_found);
    PQclear(res);
    wk_tx_end(&tx);
}

void wk_read_page(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep,
                  const uint8_t *tenant, const char *sql, int n, const char *const *values,
                  const wk_page_t *page)
{
    wk_tx_t tx;
    PGresult *res = wk_read_run(ctx, req, rep, tenant, sql, n, values, &tx);
    if (res)
        wk_reply_body(rep, PROTO_STATUS_OK, wk_page_json(res, page));
    PQclear(res);
    wk_tx_end(&tx);
}
