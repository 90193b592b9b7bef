/* The database clusters a deployment spans. Cluster 0 is the control cluster, named by
 * $QUIZ_DATABASE_URL: it holds the registry (tenants, shard map, operations, platform audit).
 * Clusters 1, 2, ... are named in order by $QUIZ_CLUSTER_URLS (comma-separated libpq URIs) and
 * hold the tenant schemas of the shards the registry puts there; the control cluster may hold
 * some too. Every cluster has the same logins (quiz_shard_<k>, quiz_provisioner). */
#ifndef WORKER_WK_CLUSTER_H
#define WORKER_WK_CLUSTER_H

#define WK_CLUSTERS_MAX 16

typedef struct {
    int count;
    char *dsn[WK_CLUSTERS_MAX]; /* owned */
} wk_clusters_t;

/* Fills c from the control DSN and the list of the others (NULL or "": none). 0, or -1 with a
 * reason logged (an empty entry, too many). */
int wk_clusters_load(wk_clusters_t *c, const char *control, const char *others);
void wk_clusters_clear(wk_clusters_t *c);
/* The cluster the registry places shard `shard` on: asks the control cluster, logging in as
 * `user` (NULL: the DSN's). -1 after logging when it cannot be read or names a cluster that is
 * not configured. */
int wk_clusters_of_shard(const wk_clusters_t *c, int shard, const char *user);

#endif
