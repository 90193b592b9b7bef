/* One-statement reads (see wk_read.h). */
#include "worker/wk_read.h"

#include "worker/wk_reply.h"

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
