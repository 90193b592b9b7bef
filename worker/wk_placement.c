/* Registry look-ups for redirects (see wk_placement.h). */
#include "worker/wk_placement.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/ident.h"
#include "worker/wk_reply.h"

/* The tenant's shard, status (its first letter: a, s or d) and the epoch: 0, 1 when the
 * registry has no such tenant, -1 (rep set). */
static int s_lookup(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep, int *shard,
                    char *status, char epoch[24])
{
    char id[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->tenant, id);
    const char *v[1] = {id};
    wk_tx_t tx;
    PGresult *res = NULL;
    if (wk_tx_begin(&tx, ctx->registry, NULL, req->deadline_ms) == 0)
        res = wk_tx_exec_last(&tx,
                              "SELECT t.shard, p.epoch, t.status FROM quiz.tenants t,"
                              " quiz.placement p WHERE t.id = $1",
                              1, v);
    int rc = -1;
    if (!res) {
        wk_reply_tx_error(rep, &tx);
    } else if (PQntuples(res) == 0) {
        rc = 1;
    } else {
        *shard = atoi(PQgetvalue(res, 0, 0));
        snprintf(epoch, 24, "%s", PQgetvalue(res, 0, 1));
        *status = PQgetvalue(res, 0, 2)[0];
        rc = 0;
    }
    PQclear(res);
    wk_tx_end(&tx);
    return rc;
}

/* Fills rep with the redirect to shard. */
static void s_redirect(proto_reply_t *rep, int shard, const char *epoch)
{
    char text[12];
    snprintf(text, sizeof text, "%d", shard);
    wk_reply_error(rep, PROTO_STATUS_MISROUTED, "tenant lives on shard %d", shard);
    proto_reply_header(rep, WK_PLACEMENT_SHARD, text);
    proto_reply_header(rep, WK_PLACEMENT_EPOCH, epoch);
}

void wk_placement_redirect(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    int shard = -1;
    char epoch[24], status = 0;
    proto_reply_clear(rep); /* keeps the request id */
    int rc = s_lookup(ctx, req, rep, &shard, &status, epoch);
    /* A suspended or deleted tenant's role is granted to no shard: that is what refused it. */
    if (rc == 1 || (rc == 0 && status == 'd'))
        wk_reply_error(rep, PROTO_STATUS_NOT_FOUND, "tenant not found");
    else if (rc == 0 && status == 's')
        wk_reply_error(rep, PROTO_STATUS_TENANT_SUSPENDED, "the tenant is suspended");
    else if (rc == 0 && shard == ctx->shard) { /* frozen for a move between clusters */
        wk_reply_error(rep, PROTO_STATUS_UNAVAILABLE, "tenant is moving; retry");
        proto_reply_header(rep, "Retry-After", "1");
    } else if (rc == 0)
        s_redirect(rep, shard, epoch);
}

int wk_placement_check(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    int shard = -1;
    char epoch[24], status = 0;
    int rc = s_lookup(ctx, req, rep, &shard, &status, epoch);
    if (rc == 0 && shard == ctx->shard)
        return 0;
    if (rc == 1)
        wk_reply_error(rep, PROTO_STATUS_NOT_FOUND, "tenant not found");
    else if (rc == 0)
        s_redirect(rep, shard, epoch);
    return -1;
}
