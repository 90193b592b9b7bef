/* quizctl monitor: what schema-per-tenant does to each cluster's catalog. Per cluster: the
 * tenant schemas and their tables, with drift from the expected set (the set most schemas have:
 * a schema missing a table or holding an extra one is named), size per tenant and per table
 * (summed over tenants), the largest tenants, the relation count and the catalog's size; a
 * warning past each threshold. Read-only, catalog queries only. */
#include "ctl/ctl_monitor.h"

#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_clusters.h"

static int s_usage(FILE *out, int rc)
{
    fputs("usage: quizctl monitor [--json] [--top N] [--warn-relations N] [--warn-tenant-mb N]\n"
          "                       [--warn-catalog-mb N]\n"
          "For every cluster (as quizctl check finds them): tenant schemas, their tables and\n"
          "the drift from the set most schemas have, size per tenant and per table, the --top\n"
          "(10) largest tenants, relations and catalog size, with a warning past\n"
          "--warn-relations (1000000), --warn-tenant-mb (1024) or --warn-catalog-mb (4096).\n"
          "Exits 1 if a cluster cannot be read, 0 otherwise (warnings included), 2 on bad usage.\n",
          out);
    return rc;
}

typedef struct {
    long top, warn_relations, warn_tenant_mb, warn_catalog_mb;
} limits_t;

static PGresult *s_query(PGconn *c, const char *sql, int n, const char *const *values)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, values, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return NULL;
    }
    return r;
}

static void s_warn(json_t *warnings, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_warn(json_t *warnings, const char *fmt, ...)
{
    char text[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_array_append_new(warnings, json_string(text));
}

/* Each tenant schema's tables (comma-separated, sorted) and size, largest first. */
static const char s_tenants_sql[] =
    "SELECT n.nspname, coalesce(string_agg(c.relname, ',' ORDER BY c.relname)"
    "   FILTER (WHERE c.relkind IN ('r', 'p')), ''),"
    " coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relkind IN ('r', 'p')), 0)"
    "   ::bigint"
    " FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid"
    " WHERE n.nspname LIKE 'tenant\\_%' GROUP BY n.nspname ORDER BY 3 DESC, 1";

/* The table set most schemas have ("" with none). */
static const char *s_expected_set(PGresult *r)
{
    const char *best = "";
    int best_n = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int n = 0;
        for (int j = 0; j < PQntuples(r); j++)
            n += strcmp(PQgetvalue(r, i, 1), PQgetvalue(r, j, 1)) == 0;
        if (n > best_n) {
            best_n = n;
            best = PQgetvalue(r, i, 1);
        }
    }
    return best;
}

/* Names of the comma-separated list a that b lacks, comma-separated, into out. */
static void s_missing(const char *a, const char *b, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    char *copy = strdup(a), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        bool found = false;
        size_t tl = strlen(t);
        for (const char *p = b; *p && !found;) {
            size_t l = strcspn(p, ",");
            found = l == tl && strncmp(p, t, l) == 0;
            p += l + (p[l] == ',');
        }
        if (!found && n < len)
            n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "," : "", t);
    }
    free(copy);
}

static json_t *s_monitor_cluster(int index, const char *url, int count, void *arg)
{
    const limits_t *lim = arg;
    PGconn *c = ctl_cluster_connect(url);
    json_t *out = json_pack("{s:i}", "cluster", index), *warnings = json_array();
    json_object_set_new(out, "warnings", warnings);
    if (PQstatus(c) != CONNECTION_OK) {
        json_object_set_new(out, "error",
                            json_stringn(PQerrorMessage(c), strcspn(PQerrorMessage(c), "\n")));
        PQfinish(c);
        return out;
    }
    PGresult *r = s_query(c, s_tenants_sql, 0, NULL);
    PGresult *tables =
        s_query(c,
                "SELECT c.relname, sum(pg_total_relation_size(c.oid))::bigint, count(*)"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname LIKE 'tenant\\_%' AND c.relkind IN ('r', 'p')"
                " GROUP BY 1 ORDER BY 2 DESC, 1",
                0, NULL);
    PGresult *cat = s_query(c,
                            "SELECT (SELECT count(*) FROM pg_class),"
                            " (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                            "  JOIN pg_namespace n ON n.oid = c.relnamespace"
                            "  WHERE n.nspname = 'pg_catalog')::bigint",
                            0, NULL);
    if (!r || !tables || !cat) {
        json_object_set_new(out, "error",
                            json_stringn(PQerrorMessage(c), strcspn(PQerrorMessage(c), "\n")));
    } else {
        const char *expected = s_expected_set(r);
        json_object_set_new(out, "tenant_schemas", json_integer(PQntuples(r)));
        json_object_set_new(out, "expected_tables", json_string(expected));
        json_t *drift = json_array(), *largest = json_array();
        long long warn_bytes = (long long)lim->warn_tenant_mb * 1024 * 1024;
        for (int i = 0; i < PQntuples(r); i++) {
            const char *schema = PQgetvalue(r, i, 0), *set = PQgetvalue(r, i, 1);
            long long bytes = atoll(PQgetvalue(r, i, 2));
            if (i < lim->top)
                json_array_append_new(
                    largest, json_pack("{s:s, s:I}", "schema", schema, "bytes", (json_int_t)bytes));
            if (bytes > warn_bytes)
                s_warn(warnings, "%s holds %lld MB, over --warn-tenant-mb %ld", schema,
                       bytes / (1024 * 1024), lim->warn_tenant_mb);
            if (strcmp(set, expected) != 0) {
                char missing[1024], extra[1024];
                s_missing(expected, set, missing, sizeof missing);
                s_missing(set, expected, extra, sizeof extra);
                json_array_append_new(drift, json_pack("{s:s, s:s, s:s}", "schema", schema,
                                                       "missing", missing, "extra", extra));
            }
        }
        if (json_array_size(drift))
            s_warn(warnings, "%zu tenant schemas differ from the expected tables",
                   json_array_size(drift));
        json_object_set_new(out, "drift", drift);
        json_object_set_new(out, "largest_tenants", largest);
        json_t *per_table = json_array();
        for (int i = 0; i < PQntuples(tables); i++)
            json_array_append_new(
                per_table, json_pack("{s:s, s:I, s:I}", "table", PQgetvalue(tables, i, 0), "bytes",
                                     (json_int_t)atoll(PQgetvalue(tables, i, 1)), "schemas",
                                     (json_int_t)atoll(PQgetvalue(tables, i, 2))));
        json_object_set_new(out, "tables", per_table);
        long long relations = atoll(PQgetvalue(cat, 0, 0)), catalog = atoll(PQgetvalue(cat, 0, 1));
        json_object_set_new(out, "relations", json_integer(relations));
        json_object_set_new(out, "catalog_bytes", json_integer(catalog));
        if (relations > lim->warn_relations)
            s_warn(warnings, "%lld relations, over --warn-relations %ld", relations,
                   lim->warn_relations);
        if (catalog / (1024 * 1024) > lim->warn_catalog_mb)
            s_warn(warnings, "the catalog holds %lld MB, over --warn-catalog-mb %ld",
                   catalog / (1024 * 1024), lim->warn_catalog_mb);
    }
    PQclear(r);
    PQclear(tables);
    PQclear(cat);
    PQfinish(c);
    return out;
}

static bool s_fine(const json_t *cl)
{
    return !json_object_get(cl, "error");
}

static void s_print_text(const json_t *cl)
{
    printf("cluster %lld\n", (long long)json_integer_value(json_object_get(cl, "cluster")));
    const char *err = json_string_value(json_object_get(cl, "error"));
    if (err) {
        printf("  ERROR: %s\n", err);
        return;
    }
    printf("  %lld tenant schemas with tables %s; %lld relations, catalog %.1f MB\n",
           (long long)json_integer_value(json_object_get(cl, "tenant_schemas")),
           json_string_value(json_object_get(cl, "expected_tables")),
           (long long)json_integer_value(json_object_get(cl, "relations")),
           (double)json_integer_value(json_object_get(cl, "catalog_bytes")) / (1024 * 1024));
    size_t i;
    json_t *x;
    printf("  per table, over all tenants:\n");
    json_array_foreach (json_object_get(cl, "tables"), i, x)
        printf("    %-24s %10.1f MB in %lld schemas\n",
               json_string_value(json_object_get(x, "table")),
               (double)json_integer_value(json_object_get(x, "bytes")) / (1024 * 1024),
               (long long)json_integer_value(json_object_get(x, "schemas")));
    printf("  largest tenants:\n");
    json_array_foreach (json_object_get(cl, "largest_tenants"), i, x)
        printf("    %s %10.1f MB\n", json_string_value(json_object_get(x, "schema")),
               (double)json_integer_value(json_object_get(x, "bytes")) / (1024 * 1024));
    json_array_foreach (json_object_get(cl, "drift"), i, x)
        printf("  DRIFT %s: missing [%s] extra [%s]\n",
               json_string_value(json_object_get(x, "schema")),
               json_string_value(json_object_get(x, "missing")),
               json_string_value(json_object_get(x, "extra")));
    json_array_foreach (json_object_get(cl, "warnings"), i, x)
        printf("  WARNING: %s\n", json_string_value(x));
}

int ctl_monitor(int argc, char **argv)
{
    bool json = false;
    limits_t lim = {
        .top = 10, .warn_relations = 1000000, .warn_tenant_mb = 1024, .warn_catalog_mb = 4096};
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"top", required_argument, 0, 't'},
                                         {"warn-relations", required_argument, 0, 'r'},
                                         {"warn-tenant-mb", required_argument, 0, 'm'},
                                         {"warn-catalog-mb", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        long *target = c == 't'   ? &lim.top
                       : c == 'r' ? &lim.warn_relations
                       : c == 'm' ? &lim.warn_tenant_mb
                       : c == 'c' ? &lim.warn_catalog_mb
                                  : NULL;
        if (target) {
            *target = strtol(optarg, &end, 10);
            if (*end || *target < 0)
                return s_usage(stderr, 2);
            continue;
        }
        switch (c) {
        case 'j': json = true; break;
        case 'h': return s_usage(stdout, 0);
        default: return s_usage(stderr, 2);
        }
    }
    if (optind != argc)
        return s_usage(stderr, 2);
    ctl_cluster_job_t job = {s_monitor_cluster, s_fine, s_print_text, &lim};
    return ctl_clusters_each("quizctl monitor", json, &job);
}
