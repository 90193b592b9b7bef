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
