/* The configured clusters (see ctl_clusters.h). */
#include "ctl/ctl_clusters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

int ctl_clusters_load(ctl_clusters_t *c, const char *prog)
{
    memset(c, 0, sizeof *c);
    const char *names[] = {"QUIZ_DATABASE_URL", "DATABASE_URL", "NEON_DATABASE_URL"};
    for (size_t i = 0; i < 3 && !c->count; i++)
        if (getenv(names[i]) && *getenv(names[i]))
            c->url[c->count++] = getenv(names[i]);
    if (!c->count) {
        fprintf(stderr,
                "%s: no database: set QUIZ_DATABASE_URL, DATABASE_URL or NEON_DATABASE_URL\n",
                prog);
        return -1;
    }
    const char *more = getenv("QUIZ_CLUSTER_URLS");
    c->buf = mem_strdup(more ? more : "");
    char *save = NULL;
    for (char *u = strtok_r(c->buf, ",", &save); u && c->count < CTL_CLUSTERS_MAX;
         u = strtok_r(NULL, ",", &save))
        c->url[c->count++] = u;
    return 0;
}

void ctl_clusters_clear(ctl_clusters_t *c)
{
    free(c->buf);
    memset(c, 0, sizeof *c);
}

PGconn *ctl_cluster_connect(const char *url)
{
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {url, "5", NULL};
    return PQconnectdbParams(keys, vals, 1);
}

wk_db_t *ctl_db(ctl_dbs_t *d, int c)
{
    if (c < 0 || c >= d->cl->count || c >= CTL_CLUSTERS_MAX)
        return NULL;
    if (!d->db[c])
        d->db[c] = wk_db_new(d->cl->url[c], NULL, false, false);
    return d->db[c];
}

void ctl_dbs_close(ctl_dbs_t *d)
{
    for (int c = 0; c < CTL_CLUSTERS_MAX; c++)
        wk_db_destroy(&d->db[c]);
}

PGresult *ctl_query(wk_db_t *db, const char *what, const char *sql, int n, const char *const *v,
                    char *err, size_t len)
{
    wk_tx_t tx;
    PGresult *res = NULL;
    if (wk_tx_begin(&tx, db, NULL, 0) == 0)
        res = wk_tx_exec(&tx, sql, n, v);
    if (!res)
        snprintf(err, len, "%s: %s", what, wk_tx_why(&tx));
    wk_tx_end(&tx);
    return res;
}

int ctl_shard_map(wk_db_t *registry, ctl_shard_map_t *map, char *err, size_t len)
{
    memset(map, 0, sizeof *map);
    PGresult *res = ctl_query(registry, "shard map",
                              "SELECT shard, cluster, dedicated FROM quiz.shards ORDER BY shard", 0,
                              NULL, err, len);
    if (!res)
        return -1;
    int rc = 0;
    for (int k = 0; k < PQntuples(res) && rc == 0; k++) {
        if (k >= SHARD_MAX || atoi(PQgetvalue(res, k, 0)) != k) {
            snprintf(err, len, "the shard map is not numbered 0..%d", PQntuples(res) - 1);
            rc = -1;
            break;
        }
        map->cluster_of[k] = atoi(PQgetvalue(res, k, 1));
        map->dedicated[k] = strcmp(PQgetvalue(res, k, 2), "t") == 0;
        map->shards = k + 1;
    }
    PQclear(res);
    return rc;
}

void ctl_json_line(FILE *out, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    fprintf(out, "%s\n", text ? text : "null");
    free(text);
}

int ctl_clusters_each(const char *prog, bool json, const ctl_cluster_job_t *job)
{
    ctl_clusters_t cls;
    if (ctl_clusters_load(&cls, prog) < 0)
        return 2;
    json_t *clusters = json_array();
    bool ok = true;
    for (int i = 0; i < cls.count; i++) {
        json_t *report = job->report(i, cls.url[i], cls.count, job->arg);
        ok = ok && job->fine(report);
        if (!json)
            job->print(report);
        json_array_append_new(clusters, report);
    }
    ctl_clusters_clear(&cls);
    if (json) {
        json_t *doc = json_pack("{s:b, s:o}", "ok", ok, "clusters", clusters);
        ctl_json_line(stdout, doc);
        json_decref(doc);
    } else {
        json_decref(clusters);
    }
    return ok ? 0 : 1;
}
