/* quizctl backup (see ctl_backup.h). */
#include "ctl/ctl_backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"
#include "ctl/ctl_clusters.h"
#include "ctl/ctl_export.h"
#include "worker/wk_db.h"

#define SUFFIX ".tenant.gz"

typedef struct {
    const ctl_clusters_t *cl;
    const char *dir;
    PGresult *ids;
    int n;
    atomic_int next, exported, kept, done;
    atomic_llong bytes;
    pthread_mutex_t lock;
    json_t *failures;
} backup_t;

/* One tenant to dir/<id>.tenant.gz by way of dir/.<id>.partial, over the job's connections. 0,
 * 1 if it was there, -1. */
static int s_one(backup_t *b, ctl_dbs_t *dbs, const char *id, long long *bytes, char *err,
                 size_t len)
{
    char *final = mem_printf("%s/%s" SUFFIX, b->dir, id);
    char *partial = mem_printf("%s/.%s.partial", b->dir, id);
    int rc = -1;
    if (access(final, F_OK) == 0) {
        rc = 1;
        goto out;
    }
    int fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, len, "cannot create %s: %s", partial, strerror(errno));
        goto out;
    }
    json_t *summary = NULL;
    if (ctl_export_tenant(dbs, id, fd, &summary, err, len) == 0) {
        *bytes = json_integer_value(json_object_get(summary, "bytes"));
        json_decref(summary);
        if (fsync(fd) == 0 && close(fd) == 0 && rename(partial, final) == 0)
            rc = 0;
        else
            snprintf(err, len, "cannot write %s: %s", final, strerror(errno));
        fd = -1;
    }
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(partial);
out:
    free(final);
    free(partial);
    return rc;
}

static void *s_job(void *arg)
{
    backup_t *b = arg;
    ctl_dbs_t dbs = {.cl = b->cl}; /* this job's: one connection per cluster for all it does */
    for (int i; (i = atomic_fetch_add(&b->next, 1)) < b->n;) {
        const char *id = PQgetvalue(b->ids, i, 0);
        char err[1024];
        long long bytes = 0;
        int rc = s_one(b, &dbs, id, &bytes, err, sizeof err);
        if (rc == 0) {
            atomic_fetch_add(&b->exported, 1);
            atomic_fetch_add(&b->bytes, bytes);
        } else if (rc == 1) {
            atomic_fetch_add(&b->kept, 1);
        } else {
            pthread_mutex_lock(&b->lock);
            json_array_append_new(b->failures,
                                  json_pack("{s:s, s:s}", "tenant_id", id, "error", err));
            pthread_mutex_unlock(&b->lock);
            fprintf(stderr, "backup: tenant %s: %s\n", id, err);
        }
        int done = atomic_fetch_add(&b->done, 1) + 1;
        if (done % 100 == 0 || done == b->n)
            fprintf(stderr, "backup: %d/%d tenants\n", done, b->n);
    }
    ctl_dbs_close(&dbs);
    return NULL;
}

/* Removes the temporary files an interrupted run left (a purged tenant's would stay). */
static void s_sweep(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' && n > 8 && strcmp(e->d_name + n - 8, ".partial") == 0) {
            char *p = mem_printf("%s/%s", dir, e->d_name);
            unlink(p);
            free(p);
        }
    }
    closedir(d);
}

static int s_usage(FILE *out, int rc)
{
    fputs("usage: quizctl backup --all --dir DIR [--jobs N] [--json]\n"
          "Exports every tenant (quizctl tenant export; deleted ones not yet purged too) to\n"
          "DIR/<id>.tenant.gz, N at once (4). A file appears only once complete, so after an\n"
          "interruption the same command exports only what is missing; take a fresh backup\n"
          "into a fresh DIR. DIR (created 0700) holds password hashes: keep it private.\n"
          "DIR/backup.json and --json: what the run did. Exit 1 if a tenant failed (named).\n",
          out);
    return rc;
}

int ctl_backup(int argc, char **argv)
{
    bool all = false, json = false;
    const char *dir = NULL;
    int jobs = 4;
    char *end;
    static const struct option opts[] = {
        {"all", no_argument, 0, 'a'},        {"dir", required_argument, 0, 'd'},
        {"jobs", required_argument, 0, 'j'}, {"json", no_argument, 0, 'J'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a': all = true; break;
        case 'd': dir = optarg; break;
        case 'j':
            jobs = (int)strtol(optarg, &end, 10);
            if (*end || jobs < 1 || jobs > 32)
                return s_usage(stderr, 2);
            break;
        case 'J': json = true; break;
        case 'h': return s_usage(stdout, 0);
        default: return s_usage(stderr, 2);
        }
    }
    if (!all || !dir || optind != argc)
        return s_usage(stderr, 2);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "quizctl backup: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    ctl_clusters_t cl;
    if (ctl_clusters_load(&cl, "quizctl backup") < 0)
        return 2;
    char err[1024];
    backup_t b = {.cl = &cl, .dir = dir, .failures = json_array()};
    pthread_mutex_init(&b.lock, NULL);
    int rc = 1;
    ctl_dbs_t dbs = {.cl = &cl};
    b.ids = ctl_query(ctl_db(&dbs, 0), "registry (cluster 0)",
                      "SELECT id::text FROM quiz.tenants ORDER BY id", 0, NULL, err, sizeof err);
    ctl_dbs_close(&dbs);
    if (!b.ids) {
        fprintf(stderr, "quizctl backup: %s\n", err);
        goto out;
    }
    b.n = PQntuples(b.ids);
    s_sweep(dir);
    pthread_t th[32];
    int started = 0;
    for (; started < jobs && started < (b.n ? b.n : 1); started++)
        if (pthread_create(&th[started], NULL, s_job, &b) != 0)
            break;
    if (!started)
        s_job(&b);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    json_t *report = json_pack("{s:s, s:i, s:i, s:i, s:I, s:O}", "dir", dir, "tenants", b.n,
                               "exported", atomic_load(&b.exported), "kept", atomic_load(&b.kept),
                               "bytes", (json_int_t)atomic_load(&b.bytes), "failed", b.failures);
    char *path = mem_printf("%s/backup.json", dir);
    if (json_dump_file(report, path, JSON_INDENT(2)) < 0)
        fprintf(stderr, "quizctl backup: cannot write %s\n", path);
    free(path);
    if (json) {
        ctl_json_line(stdout, report);
    } else {
        printf("backup %s: %d tenants: %d exported (%lld bytes), %d already there, %zu failed\n",
               dir, b.n, atomic_load(&b.exported), (long long)atomic_load(&b.bytes),
               atomic_load(&b.kept), json_array_size(b.failures));
    }
    json_decref(report);
    rc = json_array_size(b.failures) ? 1 : 0;
out:
    PQclear(b.ids);
    json_decref(b.failures);
    pthread_mutex_destroy(&b.lock);
    ctl_clusters_clear(&cl);
    return rc;
}
