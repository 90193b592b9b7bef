/* Migration runner, used by `quiz-worker --migrate` (make run, deploy ExecStartPre) and by
 * tenant creation. A migration runs in one transaction together with its bookkeeping row, so a
 * failure leaves the schema at the previous version. */
#include "worker/wk_migrate.h"

#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "common/log.h"
#include "worker/wk_sql.h"

/* Arbitrary constant shared by every migrating process. */
#define MIGRATE_LOCK "7218401"

static const char *const s_bookkeeping =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())";

/* Applies the files of `list` missing from the bound schema's schema_migrations. */
static int s_apply(wk_tx_t *tx, const wk_sql_file_t *list, int *applied)
{
    if (wk_tx_script(tx, s_bookkeeping) < 0)
        return -1;
    for (const wk_sql_file_t *f = list; f->version; f++) {
        const char *v[1] = {f->version};
        PGresult *res = wk_tx_exec(tx, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, v);
        if (!res)
            return -1;
        int done = PQntuples(res) > 0;
        PQclear(res);
        if (done)
            continue;
        if (wk_tx_script(tx, f->sql) < 0)
            return -1;
        res = wk_tx_exec(tx, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, v);
        if (!res)
            return -1;
        PQclear(res);
        (*applied)++;
    }
    return 0;
}

int wk_migrate_tenant(wk_tx_t *tx)
{
    int applied = 0;
    return s_apply(tx, wk_sql_tenant, &applied);
}

static int s_migrate_shared(wk_db_t *db)
{
    wk_tx_t tx;
    int applied = 0;
    if (wk_tx_begin(&tx, db, NULL, 0) < 0)
        return -1;
    PGresult *res = wk_tx_exec(&tx, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", 0, NULL);
    PQclear(res);
    int rc = res && wk_tx_script(&tx, "CREATE SCHEMA IF NOT EXISTS quiz") == 0 &&
                     s_apply(&tx, wk_sql_shared, &applied) == 0 && wk_tx_commit(&tx) == 0
                 ? 0
                 : -1;
    if (rc < 0)
        log_error("could not migrate shared schema: %s", tx.detail);
    else
        log_info("shared schema up to date (%d migrations applied)", applied);
    wk_tx_end(&tx);
    return rc;
}

static int s_migrate_tenant_id(wk_db_t *db, const char *id_text, int *applied)
{
    uint8_t id[16];
    if (ident_uuid_parse(id_text, strlen(id_text), id) < 0)
        return -1;
    wk_tx_t tx;
    if (wk_tx_begin(&tx, db, id, 0) < 0)
        return -1;
    PGresult *res = wk_tx_exec(&tx, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", 0, NULL);
    PQclear(res);
    int rc = res && s_apply(&tx, wk_sql_tenant, applied) == 0 && wk_tx_commit(&tx) == 0 ? 0 : -1;
    if (rc < 0)
        log_error("could not migrate tenant \"%s\": %s", id_text, tx.detail);
    wk_tx_end(&tx);
    return rc;
}

int wk_migrate_all(const char *dsn)
{
    wk_db_t *db = wk_db_new(dsn);
    int rc = -1, applied = 0, tenants = 0;
    if (s_migrate_shared(db) < 0)
        goto out;
    wk_tx_t tx;
    if (wk_tx_begin(&tx, db, NULL, 0) < 0)
        goto out;
    PGresult *ids = wk_tx_exec(&tx, "SELECT id::text FROM quiz.tenants WHERE status = 'active'"
                                    " ORDER BY id", 0, NULL);
    wk_tx_end(&tx);
    if (!ids) {
        log_error("could not list tenants: %s", tx.detail);
        goto out;
    }
    rc = 0;
    for (int i = 0; i < PQntuples(ids); i++, tenants++)
        if (s_migrate_tenant_id(db, PQgetvalue(ids, i, 0), &applied) < 0)
            rc = -1;
    PQclear(ids);
    log_info("%d tenant schemas checked, %d migrations applied", tenants, applied);
out:
    wk_db_destroy(&db);
    return rc;
}
