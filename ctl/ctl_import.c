/* Import of one tenant (see ctl_import.h). */
#include "ctl/ctl_import.h"

#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "common/mem.h"
#include "common/shard.h"
#include "ctl/ctl_archive.h"
#include "ctl/ctl_export.h"
#include "worker/wk_db.h"
#include "worker/wk_migrate.h"

/* Where the tenant goes: refuses an id the registry has; the shard (placed like a new tenant
 * when *shard < 0) and its cluster. 0 or -1 with err. */
static int s_place(wk_db_t *reg, const char *id, const uint8_t uuid[16], int *shard, int *cluster,
                   char *err, size_t len)
{
    const char *v[1] = {id};
    PGresult *have = ctl_query(reg, "registry (cluster 0)",
                               "SELECT status FROM quiz.tenants WHERE id = $1", 1, v, err, len);
    if (!have)
        return -1;
    if (PQntuples(have)) {
        snprintf(err, len,
                 "tenant %s exists (%s): import it --as a new id, or delete it and let it be"
                 " purged first",
                 id, PQgetvalue(have, 0, 0));
        PQclear(have);
        return -1;
    }
    PQclear(have);
    ctl_shard_map_t map;
    if (ctl_shard_map(reg, &map, err, len) < 0)
        return -1;
    if (*shard < 0)
        *shard = shard_place(uuid, map.dedicated, map.shards);
    if (*shard < 0 || *shard >= map.shards) {
        snprintf(err, len, "no shard %d to place it on (the shard map has %d)", *shard, map.shards);
        return -1;
    }
    *cluster = map.cluster_of[*shard];
    return 0;
}

/* Refuses an archive whose schema version this cluster does not have registered. */
static int s_check_version(wk_tx_t *tx, const char *version, int cluster, char *err, size_t len)
{
    const char *v[1] = {version};
    PGresult *res = wk_tx_exec(
        tx,
        "SELECT max(version), coalesce(bool_or(version = $1), false) FROM quiz.tenant_migrations",
        1, v);
    if (!res) {
        snprintf(err, len, "cluster %d: %s", cluster, wk_tx_why(tx));
        return -1;
    }
    int rc = 0;
    const char *newest = PQgetvalue(res, 0, 0);
    if (strcmp(version, newest) > 0) {
        snprintf(err, len,
                 "the archive is at schema version %s, newer than cluster %d's newest (%s):"
                 " upgrade the fleet first (quiz-worker --migrate)",
                 version, cluster, newest);
        rc = -1;
    } else if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
        snprintf(err, len, "the archive's schema version %s is not registered on cluster %d",
                 version, cluster);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

/* One table's rows from the archive into the schema; the rows loaded, or -1 with err. */
static long long s_copy_in(PGconn *conn, ctl_archive_t *a, const char *schema, const json_t *table,
                           char *err, size_t len)
{
    const char *name = json_string_value(json_object_get(table, "name"));
    char *sql = ctl_copy_sql(conn, schema, table, "FROM STDIN");
    PGresult *res = sql ? PQexec(conn, sql) : NULL;
    free(sql);
    bool copying = PQresultStatus(res) == PGRES_COPY_IN;
    if (!copying)
        snprintf(err, len, "table %s: %s", name, PQerrorMessage(conn));
    PQclear(res);
    if (!copying)
        return -1;
    size_t n;
    const char *line;
    bool sent = true;
    while (sent && (line = ctl_archive_line(a, &n, err, len)) && !ctl_archive_is_end(line, n))
        sent = PQputCopyData(conn, line, (int)n) == 1;
    bool complete = sent && line; /* verified before: only a vanished file gets here without */
    PQputCopyEnd(conn, complete ? NULL : "the archive could not be read");
    long long rows = -1;
    while ((res = PQgetResult(conn))) {
        if (PQresultStatus(res) == PGRES_COMMAND_OK && complete)
            rows = atoll(PQcmdTuples(res));
        else if (complete && rows < 0)
            snprintf(err, len, "table %s: %s", name, PQresultErrorMessage(res));
        PQclear(res);
    }
    return rows;
}

/* Sets each sequence to its exported value. */
static int s_sequences(wk_tx_t *tx, const char *schema, const json_t *seqs, char *err, size_t len)
{
    const char *name;
    const json_t *value;
    json_object_foreach ((json_t *)seqs, name, value) {
        if (!json_is_integer(value))
            continue; /* never used: stays at its start */
        char num[24];
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(value));
        const char *v[3] = {schema, name, num};
        PGresult *res = wk_tx_exec(
            tx, "SELECT setval(format('%I.%I', $1::text, $2::text)::regclass, $3::bigint)", 3, v);
        if (!res) {
            snprintf(err, len, "sequence %s: %s", name, wk_tx_why(tx));
            return -1;
        }
        PQclear(res);
    }
    return 0;
}

/* Every table of the archive into the schema the transaction is in, each checked against the
 * manifest's count (as COPY reports it and as a count afterwards finds it). The total rows, or
 * -1 with err. */
static long long s_load(wk_tx_t *tx, const char *path, const char *schema, char *err, size_t len)
{
    const json_t *m;
    ctl_archive_t *a = ctl_archive_open(path, &m, err, len);
    if (!a)
        return -1;
    long long total = 0;
    size_t i;
    const json_t *t;
    json_array_foreach (json_object_get(m, "tables"), i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        long long want = json_integer_value(json_object_get(t, "rows"));
        long long got = s_copy_in(tx->conn, a, schema, t, err, len);
        if (got < 0)
            goto fail;
        char *q = ctl_table_name(tx->conn, schema, name);
        char *sql = q ? mem_printf("SELECT count(*) FROM %s", q) : NULL;
        PGresult *res = sql ? wk_tx_exec(tx, sql, 0, NULL) : NULL;
        long long counted = res ? atoll(PQgetvalue(res, 0, 0)) : -1;
        PQclear(res);
        free(sql);
        free(q);
        if (got != want || counted != want) {
            snprintf(err, len, "table %s: %lld rows loaded, %lld counted, the archive has %lld",
                     name, got, counted, want);
            goto fail;
        }
        total += want;
    }
    /* The quizzes' rendered documents (quiz.render_quiz_documents) render from the questions,
       which load after them: render them again now that all are in. */
    PGresult *res = wk_tx_exec(tx,
                               "SELECT 1 FROM pg_tables WHERE schemaname = current_schema()"
                               " AND tablename = 'quizzes'",
                               0, NULL);
    bool quizzes = res && PQntuples(res) > 0;
    PQclear(res);
    if (!res ||
        (quizzes && !(res = wk_tx_exec(tx, "UPDATE quizzes SET version = version", 0, NULL)))) {
        snprintf(err, len, "render the quizzes: %s", wk_tx_why(tx));
        goto fail;
    }
    if (quizzes)
        PQclear(res);
    if (s_sequences(tx, schema, json_object_get(m, "sequences"), err, len) < 0)
        goto fail;
    ctl_archive_close(a);
    return total;
fail:
    ctl_archive_close(a);
    return -1;
}

/* The registry row and the platform audit of the import, in tx on the control cluster. */
static int s_register(wk_tx_t *tx, const char *id, const json_t *m, int shard, const char *version,
                      long long rows)
{
    const json_t *tenant = json_object_get(m, "tenant");
    char shard_text[12], rows_text[24];
    snprintf(shard_text, sizeof shard_text, "%d", shard);
    snprintf(rows_text, sizeof rows_text, "%lld", rows);
    const char *row[5] = {id, json_string_value(json_object_get(tenant, "name")), shard_text,
                          version, json_string_value(json_object_get(tenant, "created_at"))};
    const char *audit[4] = {id, json_string_value(json_object_get(tenant, "id")),
                            json_string_value(json_object_get(m, "schema_version")), rows_text};
    PGresult *res = wk_tx_exec(tx,
                               "INSERT INTO quiz.tenants (id, name, shard, schema_version,"
                               " created_at) VALUES ($1, $2, $3, $4, coalesce($5::timestamptz,"
                               " now()))",
                               5, row);
    PQclear(res);
    if (res)
        res = wk_tx_exec(tx,
                         "INSERT INTO quiz.platform_audit (action, tenant_id, client, detail)"
                         " VALUES ('tenant.import', $1, 'quizctl', json_build_object("
                         "'from_tenant', $2::text, 'archive_schema_version', $3::text,"
                         " 'rows', $4::bigint))",
                         4, audit);
    PQclear(res);
    return res ? 0 : -1;
}

int ctl_import_tenant(ctl_dbs_t *d, const char *path, const char *as_id, int shard,
                      json_t **summary, char *err, size_t len)
{
    json_t *m = NULL;
    if (ctl_archive_verify(path, &m, err, len) < 0)
        return -1;
    const char *id =
        as_id ? as_id : json_string_value(json_object_get(json_object_get(m, "tenant"), "id"));
    const char *version = json_string_value(json_object_get(m, "schema_version"));
    uint8_t uuid[16];
    int cluster = 0, rc = -1;
    wk_db_t *reg = ctl_db(d, 0), *data = NULL;
    wk_tx_t tx = {0}, rtx = {0};
    if (ident_uuid_parse(id, strlen(id), uuid) < 0) {
        snprintf(err, len, "\"%s\" is not a tenant id (a UUID)", id);
        goto out;
    }
    if (s_place(reg, id, uuid, &shard, &cluster, err, len) < 0)
        goto out;
    if (!(data = ctl_db(d, cluster))) {
        snprintf(err, len, "shard %d is on cluster %d: set QUIZ_CLUSTER_URLS", shard, cluster);
        goto out;
    }
    /* With the registry on the tenant's cluster, all of it is one transaction; otherwise the
       schema commits first and the registry row second, as tenant creation does. */
    bool split = data != reg;
    char schema[IDENT_SCHEMA_LEN + 1], built[WK_MIGRATE_VERSION_LEN] = "",
                                       final[WK_MIGRATE_VERSION_LEN];
    ident_schema_name(uuid, schema);
    long long rows = -1;
    if (wk_tx_begin(&tx, data, NULL, 0) < 0 || wk_tx_script(&tx, CTL_ARCHIVE_SETTINGS) < 0) {
        snprintf(err, len, "cluster %d: %s", cluster, wk_tx_why(&tx));
        goto out;
    }
    if (s_check_version(&tx, version, cluster, err, len) < 0)
        goto out;
    if (wk_tx_schema(&tx, uuid, WK_SCHEMA_CREATE, -1) < 0 ||
        wk_migrate_tenant(&tx, NULL, version, built) < 0) {
        snprintf(err, len, "build the schema at %s: %s", version, wk_tx_why(&tx));
        goto out;
    }
    if ((rows = s_load(&tx, path, schema, err, len)) < 0)
        goto out;
    snprintf(final, sizeof final, "%s", built);
    if (wk_migrate_tenant(&tx, version, NULL, final) < 0) {
        snprintf(err, len, "migrate from %s: %s", version, wk_tx_why(&tx));
        goto out;
    }
    if (wk_tx_schema(&tx, uuid, WK_SCHEMA_LEAVE, shard) < 0 ||
        (!split && s_register(&tx, id, m, shard, final, rows) < 0) || wk_tx_commit(&tx) < 0) {
        snprintf(err, len, "%s", wk_tx_why(&tx));
        goto out;
    }
    if (split && (wk_tx_begin(&rtx, reg, NULL, 0) < 0 ||
                  s_register(&rtx, id, m, shard, final, rows) < 0 || wk_tx_commit(&rtx) < 0)) {
        snprintf(err, len, "registry (cluster 0): %s", wk_tx_why(&rtx));
        /* No registry row names the schema: drop it, so nothing is left half done. */
        char why[256];
        if (wk_db_drop_schema(data, uuid, why, sizeof why) < 0) {
            size_t used = strlen(err);
            snprintf(err + used, len - used,
                     "; and schema %s on cluster %d could not be dropped: %s", schema, cluster,
                     why);
        }
        goto out;
    }
    *summary = json_pack("{s:s, s:O, s:s, s:s, s:i, s:i, s:I}", "tenant_id", id, "from_tenant",
                         json_object_get(json_object_get(m, "tenant"), "id"),
                         "archive_schema_version", version, "schema_version", final, "shard", shard,
                         "cluster", cluster, "rows", (json_int_t)rows);
    rc = 0;
out:
    wk_tx_end(&rtx);
    wk_tx_end(&tx);
    json_decref(m);
    return rc;
}

static int s_usage(FILE *out, int rc)
{
    fputs("usage: quizctl tenant import [--as NEW_ID] [--shard K] [--json] FILE\n"
          "Recreates the tenant of an archive (quizctl tenant export), verified whole first:\n"
          "a corrupt or truncated file, an archive of a newer schema version than the fleet's\n"
          "and a tenant id the registry has (in any status) are refused, changing nothing.\n"
          "It is rebuilt in one transaction, row counts checked, migrated to the fleet's\n"
          "version, active, placed like a new tenant (or on shard K); users log in with\n"
          "their passwords as before. --as: under another id (a copy beside the original).\n"
          "Exit 1 naming what failed, 2 on bad usage.\n",
          out);
    return rc;
}

int ctl_import(int argc, char **argv)
{
    bool json = false;
    const char *as_id = NULL;
    int shard = -1;
    char *end;
    static const struct option opts[] = {{"as", required_argument, 0, 'a'},
                                         {"shard", required_argument, 0, 's'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a': as_id = optarg; break;
        case 's':
            shard = (int)strtol(optarg, &end, 10);
            if (*end || shard < 0 || shard >= SHARD_MAX)
                return s_usage(stderr, 2);
            break;
        case 'j': json = true; break;
        case 'h': return s_usage(stdout, 0);
        default: return s_usage(stderr, 2);
        }
    }
    if (optind != argc - 1)
        return s_usage(stderr, 2);
    ctl_clusters_t cl;
    if (ctl_clusters_load(&cl, "quizctl tenant import") < 0)
        return 2;
    json_t *summary = NULL;
    char err[1024];
    ctl_dbs_t dbs = {.cl = &cl};
    int rc = ctl_import_tenant(&dbs, argv[optind], as_id, shard, &summary, err, sizeof err);
    ctl_dbs_close(&dbs);
    ctl_clusters_clear(&cl);
    if (rc < 0) {
        fprintf(stderr, "quizctl tenant import: %s: %s\n", argv[optind], err);
        return 1;
    }
    if (json) {
        ctl_json_line(stdout, summary);
    } else {
        printf("imported tenant %s: %lld rows, schema version %s, shard %d\n",
               json_string_value(json_object_get(summary, "tenant_id")),
               (long long)json_integer_value(json_object_get(summary, "rows")),
               json_string_value(json_object_get(summary, "schema_version")),
               (int)json_integer_value(json_object_get(summary, "shard")));
    }
    json_decref(summary);
    return 0;
}
