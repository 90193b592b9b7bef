/* The database clusters quizctl talks to, as the daemons find them: $QUIZ_DATABASE_URL (or
 * $DATABASE_URL, $NEON_DATABASE_URL) is cluster 0, then each URL of $QUIZ_CLUSTER_URLS
 * (comma-separated) in order. */
#ifndef CTL_CTL_CLUSTERS_H
#define CTL_CTL_CLUSTERS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

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
