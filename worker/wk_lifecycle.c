/* Tenant lifecycle handlers and the purge (see wk_lifecycle.h). */
#include "worker/wk_lifecycle.h"

#include <stdio.h>
#include <string.h>

#include "common/ident.h"
#include "common/log.h"
#include "worker/wk_audit.h"
#include "worker/wk_reply.h"
#include "worker/wk_tenant.h"

/* One step of the lifecycle. */
typedef struct {
    const char *action; /* in the platform audit */
    const char *to;     /* the status after it */
    const char *from;   /* the statuses it applies to (a text[] literal); the same as `to` is a
                           repeated request, answered as the first was */
    bool granted;       /* whether the shard's login may act as the tenant after it */
    proto_status_t ok;
} step_t;

static const step_t s_suspend = {"tenant.suspend", "suspended", "{active,suspended}", false,
                                 PROTO_STATUS_OK};
static const step_t s_resume = {"tenant.resume", "active", "{active,suspended}", true,
                                PROTO_STATUS_OK};
static const step_t s_delete = {"tenant.delete", "deleted", "{active,suspended}", false,
                                PROTO_STATUS_NO_CONTENT};
static const step_t s_restore = {"tenant.restore", "active", "{deleted}", true, PROTO_STATUS_OK};

/* Why the step's UPDATE changed no row: 404, or 409 naming the conflict. */
static void s_refused(wk_tx_t *tx, const step_t *step, const char *id, proto_reply_t *rep)
{
    const char *v[1] = {id};
    PGresult *res = wk_tx_exec(tx,
                               "SELECT status, purge_after <= now(), EXISTS (SELECT 1 FROM"
                               " quiz.operations o WHERE o.tenant_id = t.id AND o.state NOT IN"
                               " ('done', 'failed')) FROM quiz.tenants t WHERE id = $1",
                               1, v);
    if (!res) {
        wk_reply_tx_error(rep, tx);
        return;
    }
    const char *status = PQntuples(res) ? PQgetvalue(res, 0, 0) : "";
    bool deleted = strcmp(status, "deleted") == 0;
    if (!*status || (deleted && step != &s_restore))
        wk_reply_error(rep, PROTO_STATUS_NOT_FOUND, "tenant not found");
    else if (deleted && strcmp(PQgetvalue(res, 0, 1), "t") == 0)
        wk_reply_error(rep, PROTO_STATUS_NOT_FOUND, "tenant not found: its grace period is over");
    else if (strcmp(PQgetvalue(res, 0, 2), "t") == 0)
        wk_reply_error(rep, PROTO_STATUS_CONFLICT, "a move of this tenant is running; retry after");
    else
        wk_reply_error(rep, PROTO_STATUS_CONFLICT, "the tenant is %s, not deleted", status);
    PQclear(res);
}

/* The tenant's role granted to (or revoked from) this shard's login, in tx on the tenant's
 * cluster. GRANT and REVOKE are idempotent, so a repeated step succeeds. */
static int s_grant(wk_ctx_t *ctx, wk_tx_t *tx, const step_t *step, const uint8_t id[16])
{
    return wk_tx_move_grant(tx, id, step->granted ? -1 : ctx->shard,
                            step->granted ? ctx->shard : -1);
}

static void s_step(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep,
                   const step_t *step)
{
    char id[IDENT_UUID_STR_LEN + 1], grace[16];
    ident_uuid_format(req->tenant, id);
    snprintf(grace, sizeof grace, "%d", ctx->delete_grace_s);
    const char *v[4] = {id, step->to, step->from, grace};
    bool split = ctx->registry_admin != ctx->admin;
    wk_tx_t tx;
    if (wk_tx_begin(&tx, ctx->registry_admin, NULL, req->deadline_ms) < 0) {
        wk_reply_tx_error(rep, &tx);
        return;
    }
    /* A move running at the same time would grant the role where it goes: refused (409). */
    PGresult *res =
        wk_tx_exec(&tx,
                   "WITH t AS (UPDATE quiz.tenants t SET status = $2,"
                   "  deleted_at = CASE WHEN $2 = 'deleted' THEN coalesce(deleted_at, now()) END,"
                   "  purge_after = CASE WHEN $2 = 'deleted' THEN coalesce(purge_after,"
                   "   now() + make_interval(secs => $4::int)) END"
                   " WHERE id = $1 AND status = ANY ($3::text[])"
                   "  AND (status <> 'deleted' OR purge_after > now())"
                   "  AND NOT EXISTS (SELECT 1 FROM quiz.operations o WHERE o.tenant_id = t.id"
                   "   AND o.state NOT IN ('done', 'failed'))"
                   " RETURNING t.*)"
                   " SELECT " TENANT_JSON " FROM t JOIN quiz.shards USING (shard)",
                   4, v);
    if (res && PQntuples(res) == 0) {
        s_refused(&tx, step, id, rep);
        PQclear(res);
        wk_tx_end(&tx);
        return;
    }
    int ok = res && wk_audit_platform(&tx, req, step->action) == 0;
    if (ok && !split) {
        ok = s_grant(ctx, &tx, step, req->tenant) == 0;
    } else if (ok) {
        /* The schema's cluster first, the registry's commit after (its row is locked): if that
           commit fails, a retry of the same step repairs the pair. */
        wk_tx_t data;
        ok = wk_tx_begin(&data, ctx->admin, NULL, req->deadline_ms) == 0 &&
             s_grant(ctx, &data, step, req->tenant) == 0 && wk_tx_commit(&data) == 0;
        if (!ok)
            wk_reply_tx_error(rep, &data);
        wk_tx_end(&data);
    }
    if (ok && wk_tx_commit(&tx) == 0) {
        if (step->ok == PROTO_STATUS_NO_CONTENT)
            wk_reply_body(rep, step->ok, NULL);
        else
            wk_reply_row(rep, step->ok, res, "tenant not found");
        log_req_t lr = {req->request_id, req->tenant, ctx->shard};
        log_req_info(&lr, "%s", step->action);
    } else if (rep->status == PROTO_STATUS_OK) {
        wk_reply_tx_error(rep, &tx);
    }
    PQclear(res);
    wk_tx_end(&tx);
}

void wk_tenant_suspend(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    s_step(ctx, req, rep, &s_suspend);
}

void wk_tenant_resume(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    s_step(ctx, req, rep, &s_resume);
}

void wk_tenant_delete(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    s_step(ctx, req, rep, &s_delete);
}

void wk_tenant_restore(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    s_step(ctx, req, rep, &s_restore);
}

/* Purges one tenant past its grace period: 1, 0 when there is none, -1 (logged). */
static int s_purge_one(wk_db_t *registry, wk_db_t *data, const char *shard)
{
    const char *v[1] = {shard};
    wk_tx_t tx;
    if (wk_tx_begin(&tx, registry, NULL, 0) < 0) {
        log_warning("purge: %s", tx.detail);
        wk_tx_end(&tx);
        return -1;
    }
    /* SKIP LOCKED: another worker of the shard purges the tenants this one does not. */
    PGresult *res = wk_tx_exec(&tx,
                               "DELETE FROM quiz.tenants WHERE id = (SELECT id FROM quiz.tenants"
                               " WHERE shard = $1 AND status = 'deleted' AND purge_after <= now()"
                               " ORDER BY purge_after LIMIT 1 FOR UPDATE SKIP LOCKED)"
                               " RETURNING id::text",
                               1, v);
    int rc = res ? PQntuples(res) : -1;
    uint8_t id[16] = {0};
    char text[IDENT_UUID_STR_LEN + 1] = "";
    if (rc == 1) {
        snprintf(text, sizeof text, "%s", PQgetvalue(res, 0, 0));
        const char *a[1] = {text};
        PGresult *audit = wk_tx_exec(&tx,
                                     "INSERT INTO quiz.platform_audit (action, tenant_id, client)"
                                     " VALUES ('tenant.purge', $1, 'purger')",
                                     1, a);
        if (!audit || ident_uuid_parse(text, strlen(text), id) < 0 ||
            (data == registry && wk_tx_schema(&tx, id, WK_SCHEMA_DROP, -1) < 0) ||
            wk_tx_commit(&tx) < 0)
            rc = -1;
        PQclear(audit);
    }
    PQclear(res);
    if (rc < 0)
        log_warning("purge of tenant %s: %s", *text ? text : "(none)", tx.detail);
    wk_tx_end(&tx);
    if (rc == 1 && data != registry) {
        /* The registry forgot it first: an orphan schema is logged, never a tenant without one. */
        char why[256];
        if (wk_db_drop_schema(data, id, why, sizeof why) < 0)
            log_error("purged tenant %s from the registry, but its schema could not be dropped:"
                      " %s",
                      text, why);
    }
    if (rc == 1)
        log_info("purged tenant %s (its grace period was over)", text);
    return rc;
}

int wk_lifecycle_purge(wk_db_t *registry, wk_db_t *data, int shard, int max)
{
    char text[12];
    snprintf(text, sizeof text, "%d", shard);
    int n = 0, rc = 0;
    while (n < max && (rc = s_purge_one(registry, data, text)) == 1)
        n++;
    return rc < 0 ? -1 : n;
}
