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
        char *text = json_dumps(doc, JSON_COMPACT);
        puts(text);
        free(text);
        json_decref(doc);
    } else {
        json_decref(clusters);
    }
    return ok ? 0 : 1;
}
