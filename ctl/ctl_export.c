/* Export of one tenant (see ctl_export.h). */
#include "ctl/ctl_export.h"

#include <getopt.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ident.h"
#include "common/mem.h"
#include "ctl/ctl_archive.h"
#include "worker/wk_db.h"

/* The tenant's registry row: its name, status, created_at and cluster. */
static json_t *s_registry_row(ctl_dbs_t *d, const char *id, int *cluster, char *err, size_t len)
{
    json_t *row = NULL;
    const char *v[1] = {id};
    PGresult *res = ctl_query(ctl_db(d, 0), "registry (cluster 0)",
                              "SELECT json_build_object('id', id, 'name', name, 'status', status,"
                              " 'created_at', created_at), cluster"
                              " FROM quiz.tenants JOIN quiz.shards USING (shard) WHERE id = $1",
                              1, v, err, len);
    if (res && PQntuples(res) == 0)
        snprintf(err, len, "no tenant %s", id);
    else if (res) {
        row = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
        *cluster = atoi(PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return row;
}

/* The schema's tables in load order (a table after those its foreign keys reference), each with
 * its columns and row count, and its sequences' values: the manifest's "tables" and
 * "sequences". schema_migrations is rebuilt by the import's migrations, not copied; nor is
 * row_counts, which the import's loads count as they go (sql/tenant/008_row_counts.sql). */
static const char *const s_tables_sql =
    "WITH RECURSIVE t AS (SELECT oid, relname FROM pg_class WHERE relkind = 'r'"
    "   AND relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
    "   AND relname NOT IN ('schema_migrations', 'row_counts')),"
    " fk AS (SELECT conrelid AS child, confrelid AS parent FROM pg_constraint"
    "   WHERE contype = 'f' AND conrelid <> confrelid AND conrelid IN (SELECT oid FROM t)),"
    " depth (oid, d) AS (SELECT oid, 0 FROM t UNION ALL"
    "   SELECT fk.child, depth.d + 1 FROM depth JOIN fk ON fk.parent = depth.oid"
    "   WHERE depth.d < 64)"
    " SELECT t.relname, (SELECT json_agg(attname ORDER BY attnum) FROM pg_attribute"
    "   WHERE attrelid = t.oid AND attnum > 0 AND NOT attisdropped AND attgenerated = '')"
    " FROM t JOIN depth USING (oid) GROUP BY t.oid, t.relname ORDER BY max(d), t.relname";

char *ctl_table_name(PGconn *conn, const char *schema, const char *table)
{
    char *qs = PQescapeIdentifier(conn, schema, strlen(schema));
    char *qt = PQescapeIdentifier(conn, table, strlen(table));
    char *name = qs && qt ? mem_printf("%s.%s", qs, qt) : NULL;
    PQfreemem(qs);
    PQfreemem(qt);
    return name;
}

char *ctl_copy_sql(PGconn *conn, const char *schema, const json_t *table, const char *dir)
{
    size_t cap = 256, used = 0;
    char *cols = mem_alloc(cap);
    cols[0] = '\0';
    size_t i;
    const json_t *c;
    json_array_foreach (json_object_get(table, "columns"), i, c) {
        const char *name = json_string_value(c);
        char *q = PQescapeIdentifier(conn, name, strlen(name));
        if (!q) {
            free(cols);
            return NULL;
        }
        size_t need = used + strlen(q) + 3;
        if (need > cap) {
            cap = need * 2;
            cols = mem_realloc(cols, cap);
        }
        used += (size_t)sprintf(cols + used, "%s%s", i ? ", " : "", q);
        PQfreemem(q);
    }
    char *name = ctl_table_name(conn, schema, json_string_value(json_object_get(table, "name")));
    char *sql = name ? mem_printf("COPY %s (%s) %s", name, cols, dir) : NULL;
    free(name);
    free(cols);
    return sql;
}

/* The rows of `table` into the archive, then its end marker; -1 with err on failure. */
static int s_copy_out(PGconn *conn, ctl_archive_t *a, const char *schema, const json_t *table,
                      char *err, size_t len)
{
    char *sql = ctl_copy_sql(conn, schema, table, "TO STDOUT");
    PGresult *res = sql ? PQexec(conn, sql) : NULL;
    free(sql);
    int rc = PQresultStatus(res) == PGRES_COPY_OUT ? 0 : -1;
    if (rc < 0)
        snprintf(err, len, "copy out: %s", PQerrorMessage(conn));
    PQclear(res);
    char *buf;
    int n;
    while (rc == 0 && (n = PQgetCopyData(conn, &buf, 0)) > 0) {
        if (ctl_archive_write(a, buf, (size_t)n) < 0) {
            snprintf(err, len, "cannot write the archive");
            rc = -1; /* the rest of the COPY is read and dropped below */
        }
        PQfreemem(buf);
    }
    while ((res = PQgetResult(conn))) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0) {
            snprintf(err, len, "copy out: %s", PQresultErrorMessage(res));
            rc = -1;
        }
        PQclear(res);
    }
    return rc < 0 ? -1 : ctl_archive_write(a, "\\.\n", 3);
}

/* The manifest of the tenant's schema, in the open snapshot. */
static json_t *s_manifest(wk_tx_t *tx, json_t *tenant, char *err, size_t len)
{
    PGresult *res = wk_tx_exec(tx,
                               "SELECT (SELECT max(version) FROM schema_migrations), now(),"
                               " current_schema(), (SELECT coalesce(json_object_agg(sequencename,"
                               " last_value), '{}') FROM pg_sequences"
                               " WHERE schemaname = current_schema())",
                               0, NULL);
    PGresult *tabs = res ? wk_tx_exec(tx, s_tables_sql, 0, NULL) : NULL;
    if (!tabs) {
        snprintf(err, len, "read the schema: %s", wk_tx_why(tx));
        PQclear(res);
        return NULL;
    }
    json_t *tables = json_array();
    for (int i = 0; i < PQntuples(tabs); i++) {
        json_t *t = json_pack("{s:s, s:o}", "name", PQgetvalue(tabs, i, 0), "columns",
                              json_loads(PQgetvalue(tabs, i, 1), 0, NULL));
        char *name = ctl_table_name(tx->conn, PQgetvalue(res, 0, 2), PQgetvalue(tabs, i, 0));
        char *sql = name ? mem_printf("SELECT count(*) FROM %s", name) : NULL;
        PGresult *c = sql && t ? wk_tx_exec(tx, sql, 0, NULL) : NULL;
        free(sql);
        free(name);
        if (!c) {
            snprintf(err, len, "count table %s: %s", PQgetvalue(tabs, i, 0), wk_tx_why(tx));
            json_decref(t);
            json_decref(tables);
            PQclear(tabs);
            PQclear(res);
            return NULL;
        }
        json_object_set_new(t, "rows", json_integer(atoll(PQgetvalue(c, 0, 0))));
        PQclear(c);
        json_array_append_new(tables, t);
    }
    json_t *m = json_pack(
        "{s:s, s:i, s:s, s:s, s:s, s:O, s:o, s:o}", "format", "quiz-tenant-export",
        "format_version", CTL_ARCHIVE_FORMAT_VERSION, "schema_version", PQgetvalue(res, 0, 0),
        "exported_at", PQgetvalue(res, 0, 1), "schema", PQgetvalue(res, 0, 2), "tenant", tenant,
        "tables", tables, "sequences", json_loads(PQgetvalue(res, 0, 3), 0, NULL));
    PQclear(tabs);
    PQclear(res);
    return m;
}

int ctl_export_tenant(ctl_dbs_t *d, const char *id, int fd, json_t **summary, char *err, size_t len)
{
    uint8_t uuid[16];
    if (ident_uuid_parse(id, strlen(id), uuid) < 0) {
        snprintf(err, len, "\"%s\" is not a tenant id (a UUID)", id);
        return -1;
    }
    int cluster = 0;
    json_t *tenant = s_registry_row(d, id, &cluster, err, len);
    if (!tenant)
        return -1;
    wk_db_t *db = ctl_db(d, cluster);
    if (!db) {
        snprintf(err, len, "tenant %s is on cluster %d: set QUIZ_CLUSTER_URLS", id, cluster);
        json_decref(tenant);
        return -1;
    }
    /* One snapshot for every table; the tenant's role for the reads (entered as the provisioning
       transactions do, undone by the rollback at the end). */
    wk_tx_t tx;
    json_t *m = NULL;
    ctl_archive_t *a = NULL;
    int rc = -1;
    if (wk_tx_begin(&tx, db, NULL, 0) < 0 ||
        wk_tx_script(
            &tx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; " CTL_ARCHIVE_SETTINGS) < 0 ||
        wk_tx_schema(&tx, uuid, WK_SCHEMA_ENTER, -1) < 0) {
        snprintf(err, len, "tenant %s on cluster %d: %s", id, cluster, wk_tx_why(&tx));
        goto out;
    }
    if (!(m = s_manifest(&tx, tenant, err, len)))
        goto out;
    if (!(a = ctl_archive_create(fd)) || ctl_archive_write_manifest(a, m) < 0) {
        snprintf(err, len, "cannot write the archive");
        goto out;
    }
    long long rows = 0, bytes = 0;
    size_t i;
    const json_t *t;
    json_array_foreach (json_object_get(m, "tables"), i, t) {
        if (s_copy_out(tx.conn, a, json_string_value(json_object_get(m, "schema")), t, err, len) <
            0)
            goto out;
        rows += json_integer_value(json_object_get(t, "rows"));
    }
    ctl_archive_t *done = a;
    a = NULL;
    if (ctl_archive_finish(done, &bytes) < 0) {
        snprintf(err, len, "cannot write the archive");
        goto out;
    }
    *summary =
        json_pack("{s:s, s:O, s:I, s:I, s:i}", "tenant_id", id, "schema_version",
                  json_object_get(m, "schema_version"), "rows", (json_int_t)rows, "bytes",
                  (json_int_t)bytes, "tables", (int)json_array_size(json_object_get(m, "tables")));
    rc = 0;
out:
    ctl_archive_abandon(a);
    json_decref(m);
    json_decref(tenant);
    wk_tx_end(&tx);
    return rc;
}

static int s_usage(FILE *out, int rc)
{
    fputs("usage: quizctl tenant export [--json] ID > FILE\n"
          "Writes tenant ID's archive to stdout (gzip; `zcat FILE | head -c 4096` shows its\n"
          "manifest): every table of its schema as of one moment, with its schema version,\n"
          "row counts and a checksum. It holds the users' password hashes: keep it private.\n"
          "--json: the summary (rows, bytes) on stderr as JSON. Exit 1 naming what failed\n"
          "(no such tenant, a cluster not reached); stdout is then not an archive.\n",
          out);
    return rc;
}

int ctl_export(int argc, char **argv)
{
    bool json = false;
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h': return s_usage(stdout, 0);
        default: return s_usage(stderr, 2);
        }
    }
    if (optind != argc - 1)
        return s_usage(stderr, 2);
    if (isatty(1)) {
        fputs("quizctl tenant export: stdout is a terminal: redirect it to a file\n", stderr);
        return 2;
    }
    ctl_clusters_t cl;
    if (ctl_clusters_load(&cl, "quizctl tenant export") < 0)
        return 2;
    json_t *summary = NULL;
    char err[1024];
    ctl_dbs_t dbs = {.cl = &cl};
    int rc = ctl_export_tenant(&dbs, argv[optind], 1, &summary, err, sizeof err);
    ctl_dbs_close(&dbs);
    ctl_clusters_clear(&cl);
    if (rc < 0) {
        fprintf(stderr, "quizctl tenant export: %s\n", err);
        return 1;
    }
    if (json) {
        ctl_json_line(stderr, summary);
    } else {
        fprintf(stderr, "exported tenant %s: %lld rows at schema version %s, %lld bytes\n",
                argv[optind], (long long)json_integer_value(json_object_get(summary, "rows")),
                json_string_value(json_object_get(summary, "schema_version")),
                (long long)json_integer_value(json_object_get(summary, "bytes")));
    }
    json_decref(summary);
    return 0;
}
