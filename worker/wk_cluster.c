/* The database clusters (see wk_cluster.h). */
#include "worker/wk_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "worker/wk_db.h"

int wk_clusters_load(wk_clusters_t *c, const char *control, const char *others)
{
    memset(c, 0, sizeof *c);
    c->dsn[c->count++] = mem_strdup(control);
    if (!others || !*others)
        return 0;
    char *list = mem_strdup(others), *save = NULL;
    int rc = 0;
    for (char *p = list; rc == 0; p = NULL) {
        char *dsn = strtok_r(p, ",", &save);
        if (!dsn)
            break;
        if (c->count == WK_CLUSTERS_MAX) {
            log_error("QUIZ_CLUSTER_URLS names more than %d clusters", WK_CLUSTERS_MAX - 1);
            rc = -1;
        } else {
            c->dsn[c->count++] = mem_strdup(dsn);
        }
    }
    free(list);
    if (rc < 0)
        wk_clusters_clear(c);
    return rc;
}

void wk_clusters_clear(wk_clusters_t *c)
{
    for (int i = 0; i < c->count; i++)
        free(c->dsn[i]);
    memset(c, 0, sizeof *c);
}

int wk_clusters_of_shard(const wk_clusters_t *c, int shard, const char *user)
{
    wk_db_t *db = wk_db_new(c->dsn[0], user, false, false);
    char text[12];
    snprintf(text, sizeof text, "%d", shard);
    const char *v[1] = {text};
    wk_tx_t tx;
    PGresult *res = NULL;
    if (wk_tx_begin(&tx, db, NULL, 0) == 0)
        res = wk_tx_exec(&tx, "SELECT cluster FROM quiz.shards WHERE shard = $1", 1, v);
    int cluster = res && PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : -1;
    if (!res)
        log_error("could not read the shard map on the control cluster: %s", tx.detail);
    else if (cluster < 0)
        log_error("shard %d is not in the shard map: run quiz-worker --migrate first", shard);
    else if (cluster >= c->count)
        log_error("the registry puts shard %d on cluster %d, but only %d are configured"
                  " (QUIZ_CLUSTER_URLS)",
                  shard, cluster, c->count);
    PQclear(res);
    wk_tx_end(&tx);
    wk_db_destroy(&db);
    return cluster < c->count ? cluster : -1;
}
