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
#include "worker/wk_fleet.h"
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

int wk_migrate_target(wk_tx_t *tx, char version[WK_MIGRATE_VERSION_LEN])
{
    PGresult *res = wk_tx_exec(tx, "SELECT max(version) FROM quiz.tenant_migrations", 0, NULL);
    if (!res)
        return -1;
    int rc = PQgetisnull(res, 0, 0) ? -1 : 0;
    snprintf(version, WK_MIGRATE_VERSION_LEN, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (rc < 0)
        snprintf(tx->detail, sizeof tx->detail, "no tenant migration registered");
    return rc;
}

int wk_migrate_tenant(wk_tx_t *tx, const char *after, const char *upto,
                      char version[WK_MIGRATE_VERSION_LEN])
{
    /* The registered migrations in range (wk_fleet.h), whichever binary registered them, and
       their bookkeeping, as one script in one round trip. Versions match ^[0-9]{3,}_[a-z0-9_]+$
       (the table's CHECK), so they quote as literals as they are. */
    const char *bounds[2] = {after, upto};
    PGresult *res = wk_tx_exec(tx,
                               "SELECT version, sql FROM quiz.tenant_migrations"
                               " WHERE ($1::text IS NULL OR version > $1)"
                               " AND ($2::text IS NULL OR version <= $2) ORDER BY version",
                               2, bounds);
    if (!res)
        return -1;
    int n = PQntuples(res);
    size_t len = strlen(s_bookkeeping) + 64;
    for (int i = 0; i < n; i++)
        len += strlen(PQgetvalue(res, i, 1)) + strlen(PQgetvalue(res, i, 0)) + 80;
    char *script = mem_alloc(len), *p = script;
    p += sprintf(p, "%s;\n", s_bookkeeping);
    bool safe = n > 0 || after; /* nothing newer than `after`: nothing to do */
    for (int i = 0; i < n; i++) {
        const char *v = PQgetvalue(res, i, 0);
        safe = safe && strspn(v, "0123456789abcdefghijklmnopqrstuvwxyz_") == strlen(v);
        p += sprintf(p, "%s\n;INSERT INTO schema_migrations (version) VALUES ('%s');\n",
                     PQgetvalue(res, i, 1), v);
    }
    if (n)
        snprintf(version, WK_MIGRATE_VERSION_LEN, "%s", PQgetvalue(res, n - 1, 0));
    PQclear(res);
    int rc = -1;
    if (safe)
        rc = wk_tx_script(tx, script);
    else
        snprintf(tx->detail, sizeof tx->detail, "no usable tenant migrations registered");
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
    " GRANT SELECT, INSERT, UPDATE, DELETE ON quiz.tenants TO quiz_provisioner;"
    " GRANT SELECT ON quiz.shards, quiz.placement TO quiz_provisioner;"
    " GRANT SELECT, INSERT, UPDATE ON quiz.operations TO quiz_provisioner;"
    " /* UPDATE: taking a spare locks its row (FOR UPDATE) */"
    " GRANT SELECT, INSERT, UPDATE, DELETE ON quiz.spare_schemas TO quiz_provisioner;"
    " GRANT INSERT ON quiz.platform_audit TO quiz_provisioner, quiz_tenant;"
    /* a new schema, built as its own role, reads the migrations that build it */
    " GRANT SELECT ON quiz.tenant_migrations TO quiz_provisioner, quiz_tenant;"
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
            " TO quiz_shard_%d;"
            /* its quiz cache follows the change log, and prunes it (wk_coherence.c) */
            " GRANT SELECT, DELETE ON quiz.quiz_changes TO quiz_shard_%d;",
            k, k, k, k, k);
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
    char why[300] = "";
    int rc = res && wk_tx_script(&tx, "CREATE SCHEMA IF NOT EXISTS quiz") == 0 &&
                     s_apply(&tx, wk_sql_shared, &applied) == 0 &&
                     wk_fleet_register_compiled(&tx, why, sizeof why) == 0 &&
                     s_shard_roles(&tx, shards, dedicated, clusters) == 0 && wk_tx_commit(&tx) == 0
                 ? 0
                 : -1;
    if (rc < 0)
        log_error("could not migrate shared schema: %s", *why ? why : tx.detail);
    else
        log_info("shared schema and roles for %d shards up to date (%d migrations applied)", shards,
                 applied);
    wk_tx_end(&tx);
    return rc;
}

int wk_migrate_all(const wk_clusters_t *clusters, int shards, const bool *dedicated)
{
    /* Every cluster gets the shared schema and the logins (only the control cluster's registry
       tables are used; a data cluster's quiz.spare_schemas keeps its own spares). */
    wk_db_t *db[WK_CLUSTERS_MAX] = {0};
    int rc = -1;
    for (int c = 0; c < clusters->count; c++) {
        db[c] = wk_db_new(clusters->dsn[c], NULL, true, false);
        if (s_migrate_shared(db[c], shards, dedicated, c == 0 ? clusters->count : 0) < 0) {
            log_error("cluster %d: shared schema not migrated", c);
            goto out;
        }
    }
    /* Then every tenant (a deleted one in its grace period too: a restore brings back a current
       one), as quizctl migrate does; this binary's own migrations may contract. */
    rc = wk_fleet_run(
             clusters,
             &(wk_fleet_opts_t){.jobs = 4, .allow_contract = true, .progress = WK_FLEET_LINES}) == 0
             ? 0
             : -1;
out:
    for (int c = 0; c < clusters->count; c++)
        wk_db_destroy(&db[c]);
    return rc;
}
