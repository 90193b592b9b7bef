/* Fleet migrations (see wk_fleet.h). */
#include "worker/wk_fleet.h"

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ident.h"
#include "common/log.h"
#include "common/mem.h"
#include "worker/wk_sql.h"

#define TRIES           5
#define LOCK_TIMEOUT_MS 100 /* the first try's; doubled each time */
#define PASSES          3   /* the last ones catch tenants created meanwhile */
#define MIGRATIONS_MAX  1000
#define FILE_MAX        (1024 * 1024)
#define JOBS_MAX        64

typedef struct {
    char *version, *sql;
    bool contract;
} mig_t;

typedef struct {
    const wk_clusters_t *clusters;
    const wk_fleet_opts_t *o;
    mig_t *migs;
    int nmigs;
    const char *target;
    /* the pass's tenants */
    char (*ids)[IDENT_UUID_STR_LEN + 1];
    int *cluster_of;
    int n;
    atomic_int next, done, failed, changed;
    pthread_mutex_t lock;
    json_t *failures; /* [{tenant_id, error}] of the whole run */
} run_t;

/* ---- the expand/contract check ---- */

/* The statement text upper-cased with comments dropped and white space as single blanks. */
static char *s_normalize(const char *sql)
{
    char *out = mem_alloc(strlen(sql) + 2), *p = out;
    bool blank = true;
    for (const char *s = sql; *s;) {
        if (s[0] == '-' && s[1] == '-') {
            s += strcspn(s, "\n");
            continue;
        }
        if (s[0] == '/' && s[1] == '*') {
            const char *end = strstr(s + 2, "*/");
            s = end ? end + 2 : s + strlen(s);
            continue;
        }
        if (isspace((unsigned char)*s)) {
            if (!blank)
                *p++ = ' ';
            blank = true;
        } else {
            *p++ = (char)toupper((unsigned char)*s);
            blank = false;
        }
        s++;
    }
    *p = '\0';
    return out;
}

const char *wk_fleet_lint(const char *sql)
{
    if (strncmp(sql, "-- contract", 11) == 0)
        return NULL;
    static const char *const breaking[] = {
        "DROP TABLE", "DROP COLUMN",  "DROP VIEW", "DROP FUNCTION",   "DROP TYPE",    "DROP SCHEMA",
        "RENAME ",    "SET NOT NULL", "TRUNCATE",  "DROP CONSTRAINT", "DROP TRIGGER", "DROP INDEX",
    };
    char *text = s_normalize(sql);
    const char *found = NULL;
    for (size_t i = 0; !found && i < sizeof breaking / sizeof breaking[0]; i++)
        if (strstr(text, breaking[i]))
            found = breaking[i];
    /* Per statement: a retyped column, and a NOT NULL column without a default (the serving
       version's inserts do not name it). */
    for (char *save = NULL, *st = found ? NULL : strtok_r(text, ";", &save); st && !found;
         st = strtok_r(NULL, ";", &save)) {
        char *col = strstr(st, "ALTER COLUMN ");
        if (col && strstr(col, " TYPE "))
            found = "ALTER COLUMN ... TYPE";
        else if (strstr(st, "ADD COLUMN ") && strstr(st, "NOT NULL") && !strstr(st, "DEFAULT"))
            found = "ADD COLUMN ... NOT NULL without DEFAULT";
    }
    free(text);
    return found;
}

/* ---- the migrations ---- */

static PGresult *s_query(PGconn *c, const char *sql, int n, const char *const *v, char *err,
                         size_t len)
{
    PGresult *res = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK)
        return res;
    snprintf(err, len, "%s", PQresultErrorMessage(res));
    err[strcspn(err, "\n")] = '\0';
    PQclear(res);
    return NULL;
}

static void s_migs_free(mig_t *m, int n)
{
    for (int i = 0; i < n; i++) {
        free(m[i].version);
        free(m[i].sql);
    }
    free(m);
}

/* The registered migrations of the cluster at c, in order. */
static mig_t *s_migs_load(PGconn *c, int *n, char *err, size_t len)
{
    PGresult *res =
        s_query(c, "SELECT version, sql, contract FROM quiz.tenant_migrations ORDER BY version", 0,
                NULL, err, len);
    if (!res)
        return NULL;
    *n = PQntuples(res);
    mig_t *m = mem_zalloc(sizeof *m * (size_t)(*n ? *n : 1));
    for (int i = 0; i < *n; i++)
        m[i] = (mig_t){mem_strdup(PQgetvalue(res, i, 0)), mem_strdup(PQgetvalue(res, i, 1)),
                       PQgetvalue(res, i, 2)[0] == 't'};
    PQclear(res);
    return m;
}

int wk_fleet_register_compiled(wk_tx_t *tx, char *err, size_t len)
{
    PGresult *res =
        wk_tx_exec(tx, "SELECT coalesce(max(version), '') FROM quiz.tenant_migrations", 0, NULL);
    if (!res)
        return -1;
    char newest[128];
    snprintf(newest, sizeof newest, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    for (const wk_sql_file_t *f = wk_sql_tenant; f->version; f++) {
        const char *v[2] = {f->version, f->sql};
        res = wk_tx_exec(tx,
                         "INSERT INTO quiz.tenant_migrations (version, sql) VALUES ($1, $2)"
                         " ON CONFLICT (version) DO NOTHING RETURNING version",
                         2, v);
        if (!res)
            return -1;
        bool added = PQntuples(res) == 1;
        PQclear(res);
        /* Appended only: a tenant past the newest would never get an older one. */
        if (added && *newest && strcmp(f->version, newest) < 0) {
            snprintf(err, len,
                     "tenant migration %s is older than %s, registered already: migrations are"
                     " only appended",
                     f->version, newest);
            return -1;
        }
    }
    return 0;
}

/* Whether name is NNN_name.sql; its version (without .sql) in out. */
static bool s_file_version(const char *name, char *out, size_t len)
{
    size_t n = strlen(name), digits = strspn(name, "0123456789");
    if (n < 9 || n - 4 >= len || strcmp(name + n - 4, ".sql") != 0 || digits < 3 ||
        name[digits] != '_' ||
        strspn(name + digits + 1, "abcdefghijklmnopqrstuvwxyz0123456789_") != n - 4 - digits - 1)
        return false;
    snprintf(out, len, "%.*s", (int)(n - 4), name);
    return true;
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The new migrations of directory dir, checked against the registered ones (*m, *n; appended
 * to them): a changed file, an older new one, a broken rule refuse all. 0 or -1 (err). */
static int s_dir_load(const char *dir, mig_t **m, int *n, int *added, char *err, size_t len)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, len, "--dir %s: cannot be read", dir);
        return -1;
    }
    char **names = NULL;
    int count = 0, rc = 0;
    for (struct dirent *e; (e = readdir(d)) && count < MIGRATIONS_MAX;) {
        char version[128];
        if (!s_file_version(e->d_name, version, sizeof version))
            continue;
        names = mem_realloc(names, sizeof *names * (size_t)(count + 1));
        names[count++] = mem_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)count, sizeof *names, s_cmp_str);
    *added = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        char version[128], path[4096];
        s_file_version(names[i], version, sizeof version);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        char *sql = mem_alloc(FILE_MAX + 1);
        size_t got = f ? fread(sql, 1, FILE_MAX + 1, f) : 0;
        if (f)
            fclose(f);
        sql[got > FILE_MAX ? FILE_MAX : got] = '\0';
        const mig_t *known = NULL;
        for (int k = 0; k < *n; k++)
            if (strcmp((*m)[k].version, version) == 0)
                known = &(*m)[k];
        const char *broken = wk_fleet_lint(sql);
        if (!f || got > FILE_MAX || memchr(sql, '\0', got)) {
            snprintf(err, len, "%.300s: unreadable, over 1 MiB or not text", path);
            rc = -1;
        } else if (known && strcmp(known->sql, sql) != 0) {
            snprintf(err, len,
                     "%.300s differs from migration %s as registered: a migration is never"
                     " changed once registered; add a new one",
                     path, version);
            rc = -1;
        } else if (!known && *n && strcmp(version, (*m)[*n - 1].version) < 0) {
            snprintf(err, len,
                     "%.300s is older than %s, registered already: migrations are only"
                     " appended",
                     path, (*m)[*n - 1].version);
            rc = -1;
        } else if (!known && broken) {
            snprintf(err, len,
                     "%.300s: %s breaks the version that is serving (expand/contract:"
                     " README \"Fleet migrations\"); split it, or mark a later, separate one"
                     " with a first line \"-- contract\"",
                     path, broken);
            rc = -1;
        } else if (!known) {
            *m = mem_realloc(*m, sizeof **m * (size_t)(*n + 1));
            (*m)[(*n)++] =
                (mig_t){mem_strdup(version), mem_strdup(sql), strncmp(sql, "-- contract", 11) == 0};
            (*added)++;
        }
        free(sql);
    }
    for (int i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Whether every migration, the new ones m[from..n) last, builds a new schema: tried in a
 * scratch schema on conn and rolled back, so a file that does not apply is refused before it is
 * registered (where every tenant creation would fail on it). 0 or -1 (err). */
static int s_trial(PGconn *conn, const mig_t *m, int from, int n, char *err, size_t len)
{
    PGresult *res = PQexec(conn, "BEGIN; CREATE SCHEMA quiz_fleet_trial;"
                                 " SET LOCAL search_path TO quiz_fleet_trial");
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, len, "could not make a scratch schema: %s", PQresultErrorMessage(res));
    PQclear(res);
    for (int i = 0; ok && i < n; i++) {
        res = PQexec(conn, m[i].sql);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
        if (!ok) {
            const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            snprintf(err, len, "%s %s does not apply to a new schema: %s",
                     i < from ? "registered migration" : "new migration", m[i].version,
                     msg ? msg : "?");
        }
        PQclear(res);
    }
    PQclear(PQexec(conn, "ROLLBACK"));
    return ok ? 0 : -1;
}

/* Registers m[from..n) on every cluster, each in one transaction. 0 or -1 (err). */
static int s_register(PGconn **conn, int clusters, const mig_t *m, int from, int n, char *err,
                      size_t len)
{
    for (int c = 0; c < clusters; c++) {
        PGresult *res = s_query(conn[c], "BEGIN", 0, NULL, err, len);
        PQclear(res);
        for (int i = from; res && i < n; i++) {
            const char *v[3] = {m[i].version, m[i].sql, m[i].contract ? "t" : "f"};
            res = s_query(conn[c],
                          "INSERT INTO quiz.tenant_migrations (version, sql, contract)"
                          " VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING",
                          3, v, err, len);
            PQclear(res);
        }
        if (res)
            res = s_query(conn[c], "COMMIT", 0, NULL, err, len);
        PQclear(res);
        if (!res) {
            PQclear(PQexec(conn[c], "ROLLBACK"));
            return -1;
        }
    }
    return 0;
}

/* ---- one tenant ---- */

/* Applies the missing migrations to the tenant's schema: how many, or -1 with why in err. */
static int s_migrate_one(run_t *r, wk_db_t *db, const char *id_text, char *err, size_t len)
{
    uint8_t id[16];
    if (ident_uuid_parse(id_text, strlen(id_text), id) < 0) {
        snprintf(err, len, "bad tenant id");
        return -1;
    }
    for (int t = 0; t < TRIES; t++) {
        wk_tx_t tx;
        int applied = 0;
        char timeout[64];
        snprintf(timeout, sizeof timeout, "SET LOCAL lock_timeout = '%dms'", LOCK_TIMEOUT_MS << t);
        PGresult *have = NULL;
        const char *failed_at = "enter the tenant's schema";
        if (wk_tx_begin(&tx, db, id, 0) == 0 && wk_tx_script(&tx, timeout) == 0)
            have = wk_tx_exec(&tx, "SELECT version FROM schema_migrations", 0, NULL);
        for (int i = 0; have && i < r->nmigs; i++) {
            bool done = false;
            for (int k = 0; k < PQntuples(have) && !done; k++)
                done = strcmp(PQgetvalue(have, k, 0), r->migs[i].version) == 0;
            if (done)
                continue;
            const char *v[1] = {r->migs[i].version};
            failed_at = r->migs[i].version;
            PGresult *mark = NULL;
            if (wk_tx_script(&tx, r->migs[i].sql) == 0)
                mark = wk_tx_exec(&tx, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, v);
            if (!mark)
                break;
            PQclear(mark);
            applied++;
        }
        bool ok = have && tx.status == PROTO_STATUS_OK && wk_tx_commit(&tx) == 0;
        PQclear(have);
        bool locked = strcmp(tx.sqlstate, "55P03") == 0;
        if (!ok)
            snprintf(err, len, "%s: %s", failed_at, wk_tx_why(&tx));
        wk_tx_end(&tx);
        if (ok)
            return applied;
        if (!locked)
            return -1;
        usleep((useconds_t)(20000 << t)); /* let the holder finish */
    }
    snprintf(err, len,
             "lock_timeout on each of %d tries (%d to %d ms): a long transaction holds"
             " the tenant's tables; re-run",
             TRIES, LOCK_TIMEOUT_MS, LOCK_TIMEOUT_MS << (TRIES - 1));
    return -1;
}

static void *s_job(void *arg)
{
    run_t *r = arg;
    wk_db_t *db[WK_CLUSTERS_MAX] = {0};
    wk_db_t *reg = wk_db_new(r->clusters->dsn[0], NULL, false, false);
    for (;;) {
        int i = atomic_fetch_add(&r->next, 1);
        if (i >= r->n)
            break;
        int c = r->cluster_of[i];
        if (!db[c])
            db[c] = wk_db_new(r->clusters->dsn[c], NULL, true, false);
        char err[512] = "";
        int applied = s_migrate_one(r, db[c], r->ids[i], err, sizeof err);
        /* The registry learns the version, or the error (kept until a run succeeds). */
        const char *v[3] = {r->ids[i], applied < 0 ? err : NULL, r->target};
        wk_tx_t tx;
        PGresult *res = NULL;
        if (wk_tx_begin(&tx, reg, NULL, 0) == 0)
            res = wk_tx_exec(&tx,
                             "UPDATE quiz.tenants SET migration_error = $2, schema_version ="
                             " CASE WHEN $2::text IS NULL THEN $3 ELSE schema_version END"
                             " WHERE id = $1",
                             3, v);
        if (!res || wk_tx_commit(&tx) < 0)
            log_warning("migrate: tenant %s: could not record the outcome: %s", r->ids[i],
                        tx.detail);
        PQclear(res);
        wk_tx_end(&tx);
        if (applied < 0) {
            atomic_fetch_add(&r->failed, 1);
            pthread_mutex_lock(&r->lock);
            json_array_append_new(r->failures,
                                  json_pack("{s:s, s:s}", "tenant_id", r->ids[i], "error", err));
            pthread_mutex_unlock(&r->lock);
        } else if (applied > 0) {
            atomic_fetch_add(&r->changed, 1);
        }
        atomic_fetch_add(&r->done, 1);
    }
    for (int c = 0; c < WK_CLUSTERS_MAX; c++)
        wk_db_destroy(&db[c]);
    wk_db_destroy(&reg);
    return NULL;
}

/* ---- the run ---- */

/* Whether the run already failed this tenant (a later pass leaves it alone). */
static bool s_failed_before(const run_t *r, const char *id)
{
    size_t i;
    json_t *f;
    json_array_foreach (r->failures, i, f)
        if (strcmp(json_string_value(json_object_get(f, "tenant_id")), id) == 0)
            return true;
    return false;
}

/* The tenants not at the target (any status: a deleted one may be restored), minus those
 * failed in this run. */
static int s_pending(PGconn *c, run_t *r, char *err, size_t len)
{
    const char *v[1] = {r->target};
    PGresult *res = s_query(c,
                            "SELECT t.id::text, s.cluster FROM quiz.tenants t JOIN quiz.shards s"
                            " USING (shard) WHERE t.schema_version IS DISTINCT FROM $1"
                            " ORDER BY t.id",
                            1, v, err, len);
    if (!res)
        return -1;
    int rows = PQntuples(res);
    r->ids = mem_realloc(r->ids, sizeof *r->ids * (size_t)(rows ? rows : 1));
    r->cluster_of = mem_realloc(r->cluster_of, sizeof *r->cluster_of * (size_t)(rows ? rows : 1));
    r->n = 0;
    int rc = 0;
    for (int i = 0; i < rows; i++) {
        int cl = atoi(PQgetvalue(res, i, 1));
        if (cl < 0 || cl >= r->clusters->count) {
            snprintf(err, len, "tenant %s is on cluster %d, which is not configured",
                     PQgetvalue(res, i, 0), cl);
            rc = -1;
            break;
        }
        if (s_failed_before(r, PQgetvalue(res, i, 0)))
            continue;
        snprintf(r->ids[r->n], sizeof r->ids[0], "%s", PQgetvalue(res, i, 0));
        r->cluster_of[r->n++] = cl;
    }
    PQclear(res);
    return rc;
}

/* Progress on stderr: a bar redrawn on a terminal, a line every 5 s otherwise. */
static void s_progress(const run_t *r, int base, int total, uint64_t start_us, bool final)
{
    static uint64_t last_line_us;
    int done = base + atomic_load(&r->done);
    double s = (double)(clock_mono_us() - start_us) / 1e6, rate = s > 0 ? done / s : 0;
    double eta = rate > 0 ? (total - done) / rate : 0;
    if (!total) {
        return;
    } else if (r->o->progress == WK_FLEET_BAR) {
        int width = 30, fill = total ? (int)((long)done * width / total) : width;
        fprintf(stderr, "\r[%.*s%*s] %d/%d tenants %3d%%  %.0f/s  ETA %.0f s  failed %d ", fill,
                "##############################", width - fill, "", done, total,
                total ? (int)((long)done * 100 / total) : 100, rate, eta, atomic_load(&r->failed));
        if (final)
            fputc('\n', stderr);
    } else if (r->o->progress == WK_FLEET_LINES &&
               (final || clock_mono_us() - last_line_us >= 5000000)) {
        last_line_us = clock_mono_us();
        fprintf(stderr, "migrate: %d/%d tenants (%d%%), %.0f/s, ETA %.0f s, %d failed\n", done,
                total, total ? (int)((long)done * 100 / total) : 100, rate, eta,
                atomic_load(&r->failed));
    }
}

/* Runs one pass over r's tenants with `jobs` threads. */
static void s_pass(run_t *r, int jobs, int base, int total, uint64_t start_us)
{
    atomic_store(&r->next, 0);
    atomic_store(&r->done, 0);
    pthread_t tid[JOBS_MAX];
    for (int j = 0; j < jobs; j++)
        pthread_create(&tid[j], NULL, s_job, r);
    while (atomic_load(&r->done) < r->n) {
        usleep(200 * 1000);
        s_progress(r, base, total, start_us, false);
    }
    for (int j = 0; j < jobs; j++)
        pthread_join(tid[j], NULL);
}

/* Each cluster's free connections halved (a job holds one there and one on the registry):
 * the most jobs it takes. */
static int s_budget(PGconn **conn, int clusters, int jobs, char *err, size_t len)
{
    for (int c = 0; c < clusters; c++) {
        PGresult *res = s_query(conn[c],
                                "SELECT current_setting('max_connections')::int -"
                                " current_setting('superuser_reserved_connections')::int -"
                                " (SELECT count(*) FROM pg_stat_activity)::int",
                                0, NULL, err, len);
        if (!res)
            return -1;
        int fit = atoi(PQgetvalue(res, 0, 0)) / 2;
        PQclear(res);
        if (fit < jobs) {
            fprintf(stderr, "migrate: %d jobs instead of %d: cluster %d has %d free connections\n",
                    fit < 1 ? 1 : fit, jobs, c, fit * 2);
            jobs = fit < 1 ? 1 : fit;
        }
    }
    return jobs;
}

/* Prints doc (a new reference, which is released) as one JSON line on stdout. */
static void s_print_json(json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    puts(text ? text : "{}");
    free(text);
    json_decref(doc);
}

static int s_status(PGconn *c, const char *target, bool json)
{
    char err[512];
    PGresult *res = s_query(c,
                            "SELECT coalesce(schema_version, 'unrecorded'), count(*),"
                            " count(migration_error) FROM quiz.tenants GROUP BY 1 ORDER BY 1",
                            0, NULL, err, sizeof err);
    if (!res) {
        fprintf(stderr, "migrate --status: %s\n", err);
        return 1;
    }
    json_t *versions = json_array();
    if (!json)
        printf("target %s\n%-32s %10s %8s\n", target, "VERSION", "TENANTS", "FAILED");
    for (int i = 0; i < PQntuples(res); i++) {
        if (json)
            json_array_append_new(versions,
                                  json_pack("{s:s, s:I, s:I}", "version", PQgetvalue(res, i, 0),
                                            "tenants", (json_int_t)atoll(PQgetvalue(res, i, 1)),
                                            "failed", (json_int_t)atoll(PQgetvalue(res, i, 2))));
        else
            printf("%-32s %10s %8s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                   PQgetvalue(res, i, 2));
    }
    PQclear(res);
    if (json) {
        s_print_json(json_pack("{s:s, s:o}", "target", target, "versions", versions));
    } else {
        json_decref(versions);
    }
    return 0;
}

/* The contract migrations some pending tenant has yet to get: named in err, or none. */
static bool s_pending_contract(const run_t *r, PGconn *c, char *err, size_t len)
{
    char e[256];
    const char *v[1] = {r->target};
    PGresult *res = s_query(c,
                            "SELECT coalesce(min(coalesce(schema_version, '')), $1) FROM"
                            " quiz.tenants WHERE schema_version IS DISTINCT FROM $1",
                            1, v, e, sizeof e);
    const char *lowest = res ? PQgetvalue(res, 0, 0) : "";
    bool found = false;
    for (int i = 0; i < r->nmigs && !found; i++)
        if (r->migs[i].contract && strcmp(r->migs[i].version, lowest) > 0) {
            snprintf(err, len,
                     "%s is a contract migration: run it only once no serving version uses what"
                     " it removes (--allow-contract)",
                     r->migs[i].version);
            found = true;
        }
    PQclear(res);
    return found;
}

int wk_fleet_run(const wk_clusters_t *clusters, const wk_fleet_opts_t *o)
{
    char err[1024] = "";
    PGconn *conn[WK_CLUSTERS_MAX] = {0};
    run_t r = {.clusters = clusters, .o = o, .failures = json_array()};
    pthread_mutex_init(&r.lock, NULL);
    int rc = 1, added = 0, registered = 0, total = 0, passes = 0;
    uint64_t start = clock_mono_us();
    for (int c = 0; c < clusters->count; c++) {
        conn[c] = PQconnectdb(clusters->dsn[c]);
        if (PQstatus(conn[c]) != CONNECTION_OK) {
            snprintf(err, sizeof err, "cluster %d: %s", c, PQerrorMessage(conn[c]));
            err[strcspn(err, "\n")] = '\0';
            goto out;
        }
    }
    r.migs = s_migs_load(conn[0], &r.nmigs, err, sizeof err);
    if (!r.migs)
        goto out;
    registered = r.nmigs;
    if (o->dir && s_dir_load(o->dir, &r.migs, &r.nmigs, &added, err, sizeof err) < 0)
        goto out;
    if (!r.nmigs) {
        snprintf(err, sizeof err, "no tenant migration is registered: run quiz-worker --migrate");
        goto out;
    }
    r.target = r.migs[r.nmigs - 1].version;
    if (o->status) {
        rc = s_status(conn[0], r.target, o->json);
        goto out;
    }
    /* Every cluster must hold the same list, or schemas built there would differ. */
    for (int c = 1; c < clusters->count; c++) {
        int n = 0;
        mig_t *m = s_migs_load(conn[c], &n, err, sizeof err);
        bool same = m && n == registered &&
                    (!n || strcmp(m[n - 1].version, r.migs[registered - 1].version) == 0);
        s_migs_free(m, n);
        if (!same) {
            snprintf(err, sizeof err,
                     "cluster %d's tenant migrations differ from cluster 0's:"
                     " run quiz-worker --migrate",
                     c);
            goto out;
        }
    }
    if (!o->allow_contract && s_pending_contract(&r, conn[0], err, sizeof err))
        goto out;
    if (o->dry_run) {
        if ((added && s_trial(conn[0], r.migs, registered, r.nmigs, err, sizeof err) < 0) ||
            s_pending(conn[0], &r, err, sizeof err) < 0)
            goto out;
        if (o->json) {
            json_t *news = json_array();
            for (int i = registered; i < r.nmigs; i++)
                json_array_append_new(news, json_string(r.migs[i].version));
            s_print_json(json_pack("{s:b, s:s, s:i, s:o}", "dry_run", 1, "target", r.target,
                                   "tenants", r.n, "register", news));
        } else {
            for (int i = registered; i < r.nmigs; i++)
                printf("would register %s%s\n", r.migs[i].version,
                       r.migs[i].contract ? " (contract)" : "");
            printf("would bring %d tenants to %s; nothing changed\n", r.n, r.target);
        }
        rc = 0;
        goto out;
    }
    if (added &&
        (s_trial(conn[0], r.migs, registered, r.nmigs, err, sizeof err) < 0 ||
         s_register(conn, clusters->count, r.migs, registered, r.nmigs, err, sizeof err) < 0))
        goto out;
    int jobs = s_budget(conn, clusters->count,
                        o->jobs < 1          ? 1
                        : o->jobs > JOBS_MAX ? JOBS_MAX
                                             : o->jobs,
                        err, sizeof err);
    if (jobs < 0)
        goto out;
    int changed = 0;
    for (; passes < PASSES; passes++) {
        if (s_pending(conn[0], &r, err, sizeof err) < 0)
            goto out;
        if (!r.n)
            break;
        atomic_store(&r.changed, 0);
        s_pass(&r, r.n < jobs ? r.n : jobs, total, total + r.n, start);
        total += r.n;
        changed += atomic_load(&r.changed);
    }
    s_progress(&r, 0, total, start, true);
    double seconds = (double)(clock_mono_us() - start) / 1e6;
    int failed = (int)json_array_size(r.failures);
    if (o->json) {
        s_print_json(json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:O, s:f}", "target", r.target,
                               "registered", added, "tenants", total, "migrated", changed,
                               "recorded", total - changed - failed, "passes", passes, "failed",
                               r.failures, "seconds", seconds));
    } else {
        size_t i;
        json_t *f;
        json_array_foreach (r.failures, i, f)
            fprintf(stderr, "migrate: tenant %s failed: %s\n",
                    json_string_value(json_object_get(f, "tenant_id")),
                    json_string_value(json_object_get(f, "error")));
        printf("target %s: %d tenants in %.1f s: %d migrated, %d already there, %d failed%s\n",
               r.target, total, seconds, changed, total - changed - failed, failed,
               failed ? " (re-run to retry them)" : "");
    }
    rc = failed ? 1 : 0;
out:
    if (*err)
        fprintf(stderr, "migrate: %s\n", err);
    for (int c = 0; c < clusters->count; c++)
        PQfinish(conn[c]);
    s_migs_free(r.migs, r.nmigs);
    free(r.ids);
    free(r.cluster_of);
    json_decref(r.failures);
    pthread_mutex_destroy(&r.lock);
    return rc;
}
