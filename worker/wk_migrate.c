/* Migration runner, used by `quiz-worker --migrate` (make run, deploy ExecStartPre) and by
 * tenant creation. A migration runs in one transaction together with its bookkeeping row, so a
 * failure leaves the schema at the previous version. */
#include "worker/wk_migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "common/log.h"
#include "common/mem.h"
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

const char *wk_migrate_tenant_version(void)
{
    const wk_sql_file_t *f = wk_sql_tenant;
    while (f[1].version)
        f++;
    return f->version;
}

int wk_migrate_tenant(wk_tx_t *tx)
{
    /* A brand-new schema needs every migration: send them, and their bookkeeping, as one
       script in one round trip. Versions are file names compiled in, never input. */
    size_t len = strlen(s_bookkeeping) + 64;
    for (const wk_sql_file_t *f = wk_sql_tenant; f->version; f++)
        len += strlen(f->sql) + strlen(f->version) + 80;
    char *script = mem_alloc(len), *p = script;
    p += sprintf(p, "%s;\n", s_bookkeeping);
    for (const wk_sql_file_t *f = wk_sql_tenant; f->version; f++)
        p += sprintf(p, "%s\n;INSERT INTO schema_migrations (version) VALUES ('%s');\n", f->sql,
                     f->version);
    int rc = wk_tx_script(tx, script);
    free(script);
    return rc;
}

/* Roles and grants of the shared schema. Names are constants and shard numbers: no data. */
static const char *const s_roles =
    "DO $$ BEGIN"
    " IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'quiz_provisioner') THEN"
    "  CREATE ROLE quiz_provisioner LOGIN CREATEROLE; END IF;"
    " IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'quiz_tenant') THEN"
    "  CREATE ROLE quiz_tenant NOLOGIN; END IF;"
    " EXECUTE format('GRANT CREATE ON DATABASE %I TO quiz_provisioner', current_database());"
    " END $$;"
    " GRANT quiz_tenant TO quiz_provisioner WITH ADMIN OPTION;"
    " GRANT USAGE ON SCHEMA quiz TO quiz_provisioner, quiz_tenant;"
    " GRANT SELECT, INSERT, UPDATE ON quiz.tenants TO quiz_provisioner;"
    " GRANT SELECT ON quiz.shards, quiz.placement TO quiz_provisioner;"
    " GRANT SELECT, INSERT, UPDATE ON quiz.operations TO quiz_provisioner;"
    " /* UPDATE: taking a spare locks its row (FOR UPDATE) */"
    " GRANT SELECT, INSERT, UPDATE, DELETE ON quiz.spare_schemas TO quiz_provisioner;"
    " GRANT INSERT ON quiz.platform_audit TO quiz_provisioner, quiz_tenant;"
    " GRANT USAGE ON SEQUENCE quiz.platform_audit_id_seq TO quiz_provisioner, quiz_tenant";

/* The shard map's rows and each shard's login. A shard's row is added when missing and its
 * dedicated flag follows the options; shards are never removed here (tenants may live there). */
static int s_shard_roles(wk_tx_t *tx, int shards, const bool *dedicated, int clusters)
{
    if (wk_tx_script(tx, s_roles) < 0)
        return -1;
    for (int k = 0; k < shards; k++) {
        char sql[1024];
        bool d = dedicated && dedicated[k];
        int n = snprintf(
            sql, sizeof sql,
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'quiz_shard_%d')"
            " THEN CREATE ROLE quiz_shard_%d LOGIN; END IF; END $$;"
            " GRANT USAGE ON SCHEMA quiz TO quiz_shard_%d;"
            " GRANT SELECT ON quiz.tenants, quiz.shards, quiz.placement, quiz.operations"
            " TO quiz_shard_%d;",
            k, k, k, k);
        /* The shard map is the control cluster's alone; a new shard goes on cluster k mod C
           (an existing one stays where it is: changing that is a move). */
        if (clusters > 0)
            snprintf(sql + n, sizeof sql - (size_t)n,
                     " INSERT INTO quiz.shards (shard, cluster, dedicated) VALUES (%d, %d, %s)"
                     " ON CONFLICT (shard) DO UPDATE SET dedicated = EXCLUDED.dedicated"
                     " WHERE quiz.shards.dedicated IS DISTINCT FROM EXCLUDED.dedicated",
                     k, k % clusters, d ? "true" : "false");
        if (wk_tx_script(tx, sql) < 0)
            return -1;
    }
    return 0;
}

static int s_migrate_shared(wk_db_t *db, int shards, const bool *dedicated, int clusters)
{
    wk_tx_t tx;
    int applied = 0;
    if (wk_tx_begin(&tx, db, NULL, 0) < 0)
        return -1;
    PGresult *res = wk_tx_exec(&tx, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", 0, NULL);
    PQclear(res);
    int rc = res && wk_tx_script(&tx, "CREATE SCHEMA IF NOT EXISTS quiz") == 0 &&
                     s_apply(&tx, wk_sql_shared, &applied) == 0 &&
                     s_shard_roles(&tx, shards, dedicated, clusters) == 0 && wk_tx_commit(&tx) == 0
                 ? 0
                 : -1;
    if (rc < 0)
        log_error("could not migrate shared schema: %s", tx.detail);
    else
        log_info("shared schema and roles for %d shards up to date (%d migrations applied)", shards,
                 applied);
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

int wk_migrate_all(const wk_clusters_t *clusters, int shards, const bool *dedicated)
{
    /* Every cluster gets the shared schema and the logins (only the control cluster's registry
       tables are used; a data cluster's quiz.spare_schemas keeps its own spares). */
    wk_db_t *db[WK_CLUSTERS_MAX] = {0};
    int rc = -1, applied = 0, tenants = 0;
    for (int c = 0; c < clusters->count; c++) {
        db[c] = wk_db_new(clusters->dsn[c], NULL, true, false);
        if (s_migrate_shared(db[c], shards, dedicated, c == 0 ? clusters->count : 0) < 0) {
            log_error("cluster %d: shared schema not migrated", c);
            goto out;
        }
    }
    wk_tx_t tx;
    if (wk_tx_begin(&tx, db[0], NULL, 0) < 0)
        goto out;
    PGresult *ids = wk_tx_exec(&tx,
                               "SELECT t.id::text, s.cluster FROM quiz.tenants t"
                               " JOIN quiz.shards s USING (shard) WHERE t.status = 'active'"
                               " ORDER BY t.id",
                               0, NULL);
    wk_tx_end(&tx);
    if (!ids) {
        log_error("could not list tenants: %s", tx.detail);
        goto out;
    }
    rc = 0;
    for (int i = 0; i < PQntuples(ids); i++, tenants++) {
        int c = atoi(PQgetvalue(ids, i, 1));
        if (c < 0 || c >= clusters->count) {
            log_error("tenant %s is on cluster %d, which is not configured", PQgetvalue(ids, i, 0),
                      c);
            rc = -1;
        } else if (s_migrate_tenant_id(db[c], PQgetvalue(ids, i, 0), &applied) < 0) {
            rc = -1;
        }
    }
    PQclear(ids);
    log_info("%d tenant schemas checked, %d migrations applied", tenants, applied);
out:
    for (int c = 0; c < clusters->count; c++)
        wk_db_destroy(&db[c]);
    return rc;
}
