/* The database clusters quizctl talks to, as the daemons find them: $QUIZ_DATABASE_URL (or
 * $DATABASE_URL, $NEON_DATABASE_URL) is cluster 0, then each URL of $QUIZ_CLUSTER_URLS
 * (comma-separated) in order. */
#ifndef CTL_CTL_CLUSTERS_H
#define CTL_CTL_CLUSTERS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/shard.h"
#include "worker/wk_db.h"

#define CTL_CLUSTERS_MAX 16

typedef struct {
    const char *url[CTL_CLUSTERS_MAX];
    int count;
    char *buf; /* the list's copy the URLs point into */
} ctl_clusters_t;

/* 0, or -1 (named on stderr for `prog`) when no URL is set. */
int ctl_clusters_load(ctl_clusters_t *c, const char *prog);
void ctl_clusters_clear(ctl_clusters_t *c);

/* A connection to url that gives up after 5 s; PQfinish it. */
PGconn *ctl_cluster_connect(const char *url);

/* Connections to the configured clusters as their URLs' logins, each opened on first use and
 * kept, so a command (or one thread of it) connects once per cluster, however many tenants it
 * handles. */
typedef struct {
    const ctl_clusters_t *cl;
    wk_db_t *db[CTL_CLUSTERS_MAX];
} ctl_dbs_t;
/* Cluster c's connection; NULL when c is not configured. */
wk_db_t *ctl_db(ctl_dbs_t *d, int c);
void ctl_dbs_close(ctl_dbs_t *d);
/* One statement in a transaction of its own on db, rolled back (reads). Its result, or NULL
 * with "<what>: <why>" in err. */
PGresult *ctl_query(wk_db_t *db, const char *what, const char *sql, int n, const char *const *v,
                    char *err, size_t len);
/* The shard map (quiz.shards of the control cluster), checked to be numbered 0..shards-1. */
typedef struct {
    int shards;
    bool dedicated[SHARD_MAX];
    int cluster_of[SHARD_MAX];
} ctl_shard_map_t;
/* Reads it over registry (cluster 0's connection). 0, or -1 with why in err. */
int ctl_shard_map(wk_db_t *registry, ctl_shard_map_t *map, char *err, size_t len);
/* doc as one compact JSON line on out, for scripts. */
void ctl_json_line(FILE *out, const json_t *doc);

/* What a subcommand does per cluster: its report (a JSON object; index of count), whether it
 * is fine, and its text form. */
typedef struct {
    json_t *(*report)(int index, const char *url, int count, void *arg);
    bool (*fine)(const json_t *report);
    void (*print)(const json_t *report);
    void *arg;
} ctl_cluster_job_t;

/* Reports on every configured cluster, printed one by one, or with json as one
 * {"ok": ..., "clusters": [...]} line. The exit status: 0, 1 if a report is not fine, 2 if no
 * cluster is configured. */
int ctl_clusters_each(const char *prog, bool json, const ctl_cluster_job_t *job);

#endif
