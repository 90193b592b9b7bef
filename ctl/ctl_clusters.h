/* The database clusters quizctl talks to, as the daemons find them: $QUIZ_DATABASE_URL (or
 * $DATABASE_URL, $NEON_DATABASE_URL) is cluster 0, then each URL of $QUIZ_CLUSTER_URLS
 * (comma-separated) in order. */
#ifndef CTL_CTL_CLUSTERS_H
#define CTL_CTL_CLUSTERS_H

#define CTL_CLUSTERS_MAX 16

typedef struct {
    const char *url[CTL_CLUSTERS_MAX];
    int count;
    char *buf; /* the list's copy the URLs point into */
} ctl_clusters_t;

/* 0, or -1 (named on stderr for `prog`) when no URL is set. */
int ctl_clusters_load(ctl_clusters_t *c, const char *prog);
void ctl_clusters_clear(ctl_clusters_t *c);

#endif
