/* Tenants on several PostgreSQL clusters: the registry lives on the control cluster, each
 * shard's tenant schemas on the shard's own cluster (shard k on cluster k mod 2 here). Creation,
 * use, stats, spare schemas and deletion work on the second cluster, and a creation whose
 * registration fails leaves nothing on either. Each test gets databases of its own on both
 * clusters, so its registry is its own. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ident.h"
#include "tests/helpers/api.h"
#include "tests/helpers/cmd.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/ops.h"
#include "tests/helpers/stack.h"

static qstack_t S;
static char s_base[2][512]; /* the clusters' maintenance URLs */
static char s_own[2][512];  /* this test's databases on them */
static char s_name[64];
static const char *const s_worker_args[] = {"--spare-schemas", "1", "--delete-grace", "2", NULL};

static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    srandom((unsigned)randombytes_random());
    const char *second = getenv("QUIZ_TEST_SECOND_CLUSTER_URL");
    cr_assert(second && *second, "tests/run.sh starts a second cluster");
    snprintf(s_base[0], sizeof s_base[0], "%s", getenv("QUIZ_TEST_DATABASE_URL"));
    snprintf(s_base[1], sizeof s_base[1], "%s", second);
    snprintf(s_name, sizeof s_name, "quizc_%d", (int)getpid());
    for (int c = 0; c < 2; c++)
        db_create_database(s_base[c], s_name, s_own[c], sizeof s_own[c]);
    setenv("QUIZ_TEST_DATABASE_URL", s_own[0], 1);
    setenv("QUIZ_TEST_CLUSTER_URLS", s_own[1], 1);
    cr_assert_eq(stack_migrate(2, NULL), 0);
    cr_assert_eq(stack_start_opts(&S, 2, NULL, s_worker_args), 0, "stack did not start");
}

static void teardown(void)
{
    stack_suite_fini(&S);
    /* Both databases' tenant roles first: the clusters share them across databases. */
    char *roles[2];
    for (int c = 0; c < 2; c++)
        roles[c] = db_tenant_roles(s_own[c]);
    for (int c = 0; c < 2; c++)
        db_drop_database(s_base[c], s_name, roles[c]);
}

TestSuite(clusters, .init = setup, .fini = teardown, .timeout = 180);

/* Whether the schema of tenant id exists on cluster c. */
static bool s_has_schema(int c, const char *id)
{
    char hex[33], sql[256];
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(id, strlen(id), u), 0);
    ident_hex(u, 16, hex);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_%s'", hex);
    char *n = db_at(s_own[c], sql);
    bool has = n && strcmp(n, "1") == 0;
    free(n);
    return has;
}

/* A tenant on shard `shard`, made usable. */
static void s_tenant_on(int shard, api_tenant_t *t)
{
    for (int i = 0; i < 40; i++) {
        api_tenant(&S, t);
        if (t->shard == shard)
            return;
    }
    cr_assert_fail("no tenant landed on shard %d", shard);
}

Test(clusters, a_tenant_of_the_second_cluster_lives_there_and_is_served)
{
    char *where = db_at(s_own[0], "SELECT string_agg(shard || ':' || cluster, ',' ORDER BY shard)"
                                  " FROM quiz.shards");
    cr_assert_str_eq(where, "0:0,1:1");
    free(where);
    api_tenant_t a, b;
    s_tenant_on(0, &a);
    s_tenant_on(1, &b);
    cr_expect(s_has_schema(0, a.id) && !s_has_schema(1, a.id));
    cr_expect(s_has_schema(1, b.id) && !s_has_schema(0, b.id),
              "shard 1's tenant is not on cluster 1");
    /* The registry is the control cluster's alone. */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM quiz.tenants WHERE id = '%s'", b.id);
    char *n0 = db_at(s_own[0], sql), *n1 = db_at(s_own[1], sql);
    cr_expect_str_eq(n0, "1");
    cr_expect_str_eq(n1, "0");
    free(n0);
    free(n1);
    http_resp_t r;
    cr_expect_eq(
        api_call(&S, &r, "POST", "/api/quizzes", b.id, b.token, "{\"title\":\"Far\"}", NULL), 201,
        "%s", r.body);
    http_resp_clear(&r);
    cr_expect_eq(api_call(&S, &r, "GET", "/api/quizzes", b.id, b.token, NULL, NULL), 200);
    cr_expect(strstr(r.body, "\"Far\"") != NULL, "%s", r.body);
    http_resp_clear(&r);
    cr_expect_eq(api_tenant_stat(&S, b.id, "quizzes_count"), 1);
    char url[256];
    const char *headers[] = {S.auth, NULL};
    http_url(url, sizeof url, S.url, "/api/tenants/%s", b.id);
    cr_expect_eq(http_do(&r, "GET", url, NULL, headers), 200, "%s", r.body);
    json_t *j = http_json(&r);
    cr_expect_eq(json_integer_value(json_object_get(j, "cluster")), 1);
    json_decref(j);
    http_resp_clear(&r);
    /* The users of one cluster's tenant are not the other's. */
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", a.id, b.token, NULL), 403);
}

/* A lifecycle step of tenant id through the platform API: the status. */
static long s_step(const char *method, const char *id, const char *verb)
{
    char url[256];
    http_resp_t r;
    const char *headers[] = {S.auth, NULL};
    http_url(url, sizeof url, S.url, "/api/tenants/%s%s%s", id, *verb ? "/" : "", verb);
    long st = http_do(&r, method, url, *verb ? "{}" : NULL, headers);
    http_resp_clear(&r);
    return st;
}

/* The registry is on cluster 0, the schema and its role's grant on cluster 1: each step changes
   both, the purge too. */
Test(clusters, lifecycle_of_a_tenant_of_the_second_cluster_to_its_purge_there)
{
    api_tenant_t b;
    s_tenant_on(1, &b);
    cr_assert_eq(s_step("POST", b.id, "suspend"), 200);
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", b.id, b.token, NULL), 403);
    cr_assert_eq(s_step("POST", b.id, "resume"), 200);
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", b.id, b.token, NULL), 200);
    cr_assert_eq(s_step("DELETE", b.id, ""), 204);
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", b.id, b.token, NULL), 404);
    cr_expect(s_has_schema(1, b.id), "the schema went before its grace period");
    cr_assert_eq(s_step("POST", b.id, "restore"), 200);
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", b.id, b.token, NULL), 200);

    cr_assert_eq(s_step("DELETE", b.id, ""), 204);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM quiz.tenants WHERE id = '%s'", b.id);
    char *rows = NULL;
    for (int i = 0; i < 100; i++, usleep(200 * 1000)) {
        free(rows);
        rows = db_at(s_own[0], sql);
        if (rows && strcmp(rows, "0") == 0)
            break;
    }
    cr_expect_str_eq(rows, "0", "not purged 20 s after a grace period of 2 s");
    free(rows);
    /* The registry row goes first, the schema on cluster 1 in a transaction after it. */
    bool gone = false;
    for (int i = 0; i < 50 && !(gone = !s_has_schema(1, b.id)); i++)
        usleep(100 * 1000);
    cr_expect(gone, "the schema is still on cluster 1 5 s after the purge");
    cr_expect_eq(s_step("POST", b.id, "restore"), 404);
}

Test(clusters, spare_schemas_of_the_second_cluster_are_kept_and_taken_there)
{
    /* Each worker keeps one spare on its own cluster. */
    char *n = NULL;
    for (int i = 0; i < 100; i++) {
        free(n);
        n = db_at(s_own[1], "SELECT count(*) FROM quiz.spare_schemas WHERE shard = 1");
        if (n && strcmp(n, "1") == 0)
            break;
        usleep(100 * 1000);
    }
    cr_assert_str_eq(n, "1", "no spare was built on cluster 1");
    free(n);
    char *spare = db_at(s_own[1], "SELECT id::text FROM quiz.spare_schemas WHERE shard = 1");
    api_tenant_t b;
    s_tenant_on(1, &b);
    cr_expect_str_eq(b.id, spare, "creation on shard 1 did not take its cluster's spare");
    free(spare);
}

Test(clusters, a_creation_whose_registration_fails_leaves_nothing_behind)
{
    free(
        db_at(s_own[0], "ALTER TABLE quiz.tenants ADD CONSTRAINT doomed CHECK (name <> 'Doomed')"));
    /* Ids are drawn at random: eight tries reach shard 1 (cluster 1, where the schema commits
       before the registry refuses) with a chance of 255 in 256, and shard 0 as well. */
    for (int i = 0; i < 8; i++) {
        char url[256];
        http_resp_t r;
        const char *headers[] = {S.auth, NULL};
        http_url(url, sizeof url, S.url, "/api/tenants/");
        long st = http_do(&r, "POST", url,
                          "{\"tenant_name\":\"Doomed\",\"owner_email\":\"d@x.example\"}", headers);
        cr_expect(st == 400 || st == 500, "%ld %s", st,
                  r.body); /* the check, as the registry said */
        http_resp_clear(&r);
    }
    for (int c = 0; c < 2; c++) {
        /* Schemas that are neither a spare nor an active tenant's: none. */
        char *orphans =
            db_at(s_own[c], "SELECT count(*) FROM pg_namespace n WHERE nspname LIKE 'tenant\\_%'"
                            " AND NOT EXISTS (SELECT 1 FROM quiz.spare_schemas s WHERE n.nspname"
                            " = 'tenant_' || replace(s.id::text, '-', ''))");
        cr_expect_str_eq(orphans, "0", "a failed creation left a schema on cluster %d", c);
        free(orphans);
    }
    char *registered = db_at(s_own[0], "SELECT count(*) FROM quiz.tenants WHERE name = 'Doomed'");
    cr_expect_str_eq(registered, "0");
    free(registered);
}

/* `quizctl ARGS` on this test's databases; output (both streams) in out; the exit status. */
static int s_quizctl(const char *args, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "QUIZ_DATABASE_URL='%s' QUIZ_CLUSTER_URLS='%s' %s/quizctl 2>&1 %s",
             s_own[0], s_own[1], getenv("QUIZ_BIN_DIR"), args);
    return cmd_run(cmd, out, len, NULL);
}

/* A tenant of cluster 1 exported and imported there under new ids: its schema on cluster 1, its
 * registry row on cluster 0; when the registration on cluster 0 fails, the schema already
 * committed on cluster 1 is dropped again. */
Test(clusters, export_and_import_of_a_tenant_of_the_second_cluster)
{
    api_tenant_t t;
    s_tenant_on(1, &t);
    http_resp_t r;
    cr_assert_eq(
        api_call(&S, &r, "POST", "/api/quizzes", t.id, t.token, "{\"title\":\"Far out\"}", NULL),
        201, "%s", r.body);
    http_resp_clear(&r);
    char file[256], args[512], out[4096];
    snprintf(file, sizeof file, "%s/far.tenant.gz", S.dir);
    snprintf(args, sizeof args, "tenant export %s > '%s'", t.id, file);
    cr_assert_eq(s_quizctl(args, out, sizeof out), 0, "%s", out);

    const char *copy = "5a0d9e7c-3b1f-4e62-9c84-7f2e6d1a0b35";
    snprintf(args, sizeof args, "tenant import --as %s --shard 1 '%s'", copy, file);
    cr_assert_eq(s_quizctl(args, out, sizeof out), 0, "%s", out);
    cr_expect(s_has_schema(1, copy) && !s_has_schema(0, copy), "the copy is not on cluster 1");
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT shard FROM quiz.tenants WHERE id = '%s'", copy);
    char *shard = db_at(s_own[0], sql);
    cr_expect_str_eq(shard, "1");
    free(shard);
    char token[1024];
    cr_assert_eq(api_login(&S, copy, t.email, t.password, token, NULL, NULL), 200);
    cr_expect_eq(api_call(&S, &r, "GET", "/api/quizzes", copy, token, NULL, NULL), 200);
    cr_expect(strstr(r.body, "\"Far out\"") != NULL, "%s", r.body);
    http_resp_clear(&r);

    const char *doomed = "5a0d9e7c-3b1f-4e62-9c84-7f2e6d1a0b36";
    snprintf(sql, sizeof sql,
             "ALTER TABLE quiz.tenants ADD CONSTRAINT doomed_import CHECK (id <> '%s')", doomed);
    free(db_at(s_own[0], sql));
    snprintf(args, sizeof args, "tenant import --as %s --shard 1 '%s'", doomed, file);
    cr_expect_eq(s_quizctl(args, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "registry (cluster 0)"), "%s", out);
    cr_expect(!s_has_schema(1, doomed), "a failed registration left the schema on cluster 1");
    free(db_at(s_own[0], "ALTER TABLE quiz.tenants DROP CONSTRAINT doomed_import"));
}

/* A writer during a move: POSTs quizzes, retrying each with its Idempotency-Key through the
 * freeze's 503s until it is acknowledged. */
typedef struct {
    const api_tenant_t *t;
    volatile bool *stop;
    int acked, index, errors;
} writer_t;

static void *s_writer(void *arg)
{
    writer_t *w = arg;
    for (int i = 0; !*w->stop && i < 3000; i++) {
        char body[64], key[80];
        snprintf(body, sizeof body, "{\"title\":\"w%d-%d\"}", w->index, i);
        snprintf(key, sizeof key, "Idempotency-Key: w%d-%d", w->index, i);
        long st = 0;
        for (int tries = 0; tries < 200 && st != 201; tries++) {
            http_resp_t r;
            st = api_call(&S, &r, "POST", "/api/quizzes", w->t->id, w->t->token, body, key);
            http_resp_clear(&r);
            if (st != 201 && st != 503)
                w->errors++;
            if (st != 201)
                usleep(20 * 1000);
        }
        w->acked += st == 201;
    }
    return NULL;
}

/* Names of replication objects of moves left on cluster c. */
static char *s_leftovers(int c, const char *op)
{
    /* This operation's only (quizmove_<hex of its id>): the suite's other tests run at the same
       time and may be moving a tenant of their own. */
    uint8_t u[16];
    char hex[33], sql[600];
    cr_assert_eq(ident_uuid_parse(op, 36, u), 0);
    ident_hex(u, 16, hex);
    snprintf(sql, sizeof sql,
             "SELECT concat_ws(',', (SELECT string_agg(subname, ',') FROM pg_subscription"
             " WHERE subname = 'quizmove_%s'), (SELECT string_agg(pubname, ',') FROM"
             " pg_publication WHERE pubname = 'quizmove_%s'), (SELECT string_agg(slot_name, ',')"
             " FROM pg_replication_slots WHERE slot_name = 'quizmove_%s'))",
             hex, hex, hex);
    return db_at(s_own[c], sql);
}

/* A reader during a move: retitles one quiz and reads it back, and lists quizzes, counting
 * answers other than 200 and, above all, a read that shows the title from before a change that
 * was acknowledged (stale: the stored document did not travel with its rows). */
typedef struct {
    const api_tenant_t *t;
    volatile bool *stop;
    int ok, unavailable, errors, stale;
    char quiz[37];
} reader_t;

static void s_count(reader_t *rd, long st)
{
    rd->ok += st == 200;
    rd->unavailable += st == 503;
    rd->errors += st != 200 && st != 503;
}

static void *s_reader(void *arg)
{
    reader_t *rd = arg;
    char path[128];
    snprintf(path, sizeof path, "/api/quizzes/%s", rd->quiz);
    for (int i = 0; !*rd->stop; i++) {
        char body[64], title[32];
        snprintf(title, sizeof title, "read %d", i);
        snprintf(body, sizeof body, "{\"title\":\"%s\"}", title);
        long st = api_status(&S, "PATCH", path, rd->t->id, rd->t->token, body);
        s_count(rd, st);
        http_resp_t r;
        long got = api_call(&S, &r, "GET", path, rd->t->id, rd->t->token, NULL, NULL);
        s_count(rd, got);
        if (st == 200 && got == 200) {
            char now[32];
            api_field(&r, "title", now, sizeof now);
            rd->stale += strcmp(now, title) != 0;
        }
        http_resp_clear(&r);
        s_count(rd, api_status(&S, "GET", "/api/quizzes?limit=5", rd->t->id, rd->t->token, NULL));
    }
    return NULL;
}

Test(clusters, a_move_between_clusters_keeps_every_acknowledged_write)
{
    api_tenant_t t, other;
    s_tenant_on(0, &t);
    s_tenant_on(0, &other);
    volatile bool stop = false;
    /* Three writers to the moving tenant, one to another tenant of its shard, one reader. */
    writer_t w[4];
    pthread_t tid[4], rtid;
    for (int i = 0; i < 4; i++) {
        w[i] = (writer_t){i < 3 ? &t : &other, &stop, 0, i, 0};
        pthread_create(&tid[i], NULL, s_writer, &w[i]);
    }
    reader_t rd = {&t, &stop, 0, 0, 0, 0, ""};
    http_resp_t q;
    cr_assert_eq(api_call(&S, &q, "POST", "/api/quizzes", t.id, t.token, "{\"title\":\"r\"}", NULL),
                 201);
    api_field(&q, "id", rd.quiz, sizeof rd.quiz);
    http_resp_clear(&q);
    pthread_create(&rtid, NULL, s_reader, &rd);
    usleep(500 * 1000);
    char path[128], op[37];
    snprintf(path, sizeof path, "/api/tenants/%s/move", t.id);
    cr_assert_eq(ops_start(&S, path, "{\"shard\":1}", op), 202);
    json_t *done = ops_wait_json(&S, op);
    cr_expect_str_eq(json_string_value(json_object_get(done, "state")), "done", "error: %s",
                     json_string_value(json_object_get(done, "error")) ?: "");
    json_int_t freeze = json_integer_value(json_object_get(done, "freeze_ms"));
    cr_expect(freeze >= 0 && freeze < 5000, "freeze %lld ms", (long long)freeze);
    fprintf(stderr, "move between clusters: writes frozen %lld ms\n", (long long)freeze);
    json_decref(done);
    usleep(500 * 1000);
    stop = true;
    int acked = 0, errors = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        acked += i < 3 ? w[i].acked : 0;
        errors += w[i].errors;
    }
    pthread_join(rtid, NULL);
    cr_expect_eq(errors, 0, "answers other than 201 and the freeze's 503");
    cr_expect_gt(acked, 10);
    cr_expect_gt(w[3].acked, 10, "the other tenant's writer stalled");
    cr_expect_eq(rd.errors, 0, "reads failed other than with 503");
    cr_expect_eq(rd.stale, 0, "a read after an acknowledged change showed the old title");
    cr_expect_gt(rd.ok, 10);
    fprintf(stderr, "reads during the move: %d answered, %d refused (503)\n", rd.ok,
            rd.unavailable);
    /* Where the tenant is now, with every acknowledged write exactly once. */
    cr_expect(s_has_schema(1, t.id), "no copy on cluster 1");
    cr_expect(!s_has_schema(0, t.id), "the source copy on cluster 0 was not dropped");
    char hex[33], sql[256];
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(t.id, 36, u), 0);
    ident_hex(u, 16, hex);
    snprintf(sql, sizeof sql,
             "SELECT count(*) || '/' || count(DISTINCT title) FROM tenant_%s.quizzes", hex);
    char *n = db_at(s_own[1], sql), expect[32];
    snprintf(expect, sizeof expect, "%d/%d", acked + 1, acked + 1); /* and the reader's quiz */
    cr_expect_str_eq(n, expect);
    free(n);
    snprintf(sql, sizeof sql, "SELECT shard FROM quiz.tenants WHERE id = '%s'", t.id);
    n = db_at(s_own[0], sql);
    cr_expect_str_eq(n, "1");
    free(n);
    for (int c = 0; c < 2; c++) {
        char *left = s_leftovers(c, op);
        cr_expect_str_eq(left, "", "cluster %d keeps %s", c, left);
        free(left);
    }
    /* The stats count at the new home what was carried there (its row counts came along). */
    cr_expect_eq(api_tenant_stat(&S, t.id, "quizzes_count"), acked + 1);
    /* It serves from its new home, the admin's login included (users and sequences came). */
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", t.id, t.token, NULL), 200);
    char token[1024];
    cr_expect_eq(api_login(&S, t.id, t.email, t.password, token, NULL, NULL), 200);
    cr_expect_eq(api_status(&S, "GET", "/api/audit", t.id, t.token, NULL), 200);
}

Test(clusters, a_mover_killed_mid_copy_leaves_the_tenant_serving_and_nothing_behind)
{
    api_tenant_t t;
    s_tenant_on(0, &t);
    for (int i = 0; i < 30; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"title\":\"before-%d\"}", i);
        cr_assert_eq(api_status(&S, "POST", "/api/quizzes", t.id, t.token, body), 201);
    }
    char path[128], op[37];
    snprintf(path, sizeof path, "/api/tenants/%s/move", t.id);
    cr_assert_eq(ops_start(&S, path, "{\"shard\":1}", op), 202);
    /* Kill the worker whose mover runs it once the copy has begun. */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT claimed_by FROM quiz.operations WHERE id = '%s' AND state = 'copying'", op);
    pid_t victim = 0;
    for (int i = 0; i < 2000 && !victim; i++) {
        char *sub = db_at(s_own[1], "SELECT count(*) FROM pg_subscription WHERE subname LIKE"
                                    " 'quizmove\\_%'");
        char *by = db_at(s_own[0], sql);
        const char *colon = by ? strrchr(by, ':') : NULL;
        if (sub && strcmp(sub, "1") == 0 && colon)
            victim = (pid_t)atoi(colon + 1);
        free(sub);
        free(by);
        if (!victim)
            usleep(2 * 1000);
    }
    cr_assert_gt(victim, 0, "never saw the copy under way");
    int k = S.workers[0] == victim ? 0 : 1;
    cr_assert_eq(S.workers[k], victim, "the mover is not one of this stack's workers");
    stack_kill_worker(&S, k);
    cr_assert_eq(stack_start_worker(&S, k), 0);
    /* The source still serves the tenant, reads and writes. */
    long st = 0;
    for (int i = 0; i < 50 && st != 200; i++) {
        st = api_status(&S, "GET", "/api/users/me", t.id, t.token, NULL);
        if (st != 200)
            usleep(100 * 1000);
    }
    cr_expect_eq(st, 200);
    cr_expect_eq(api_status(&S, "POST", "/api/quizzes", t.id, t.token, "{\"title\":\"during\"}"),
                 201);
    snprintf(sql, sizeof sql, "SELECT shard FROM quiz.tenants WHERE id = '%s'", t.id);
    char *shard = db_at(s_own[0], sql);
    cr_expect_str_eq(shard, "0", "the registry moved a tenant whose copy was cut short");
    free(shard);
    /* Its lease would run out in 30 s; run it out now. Another mover starts over cleanly. */
    snprintf(sql, sizeof sql, "UPDATE quiz.operations SET lease_until = now() WHERE id = '%s'", op);
    free(db_at(s_own[0], sql));
    json_t *done = ops_wait_json(&S, op);
    cr_expect_str_eq(json_string_value(json_object_get(done, "state")), "done", "error: %s",
                     json_string_value(json_object_get(done, "error")) ?: "");
    json_decref(done);
    for (int c = 0; c < 2; c++) {
        char *left = s_leftovers(c, op);
        cr_expect_str_eq(left, "", "cluster %d keeps %s", c, left);
        free(left);
    }
    cr_expect(s_has_schema(1, t.id) && !s_has_schema(0, t.id));
    char hex[33];
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(t.id, 36, u), 0);
    ident_hex(u, 16, hex);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM tenant_%s.quizzes", hex);
    char *n = db_at(s_own[1], sql);
    cr_expect_str_eq(n, "31", "quizzes lost or doubled by the restart");
    free(n);
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", t.id, t.token, NULL), 200);
}
