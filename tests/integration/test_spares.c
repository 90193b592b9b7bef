/* Spare tenant schemas (worker/wk_spare.c): workers build them ahead, a tenant creation takes
 * one instead of running the DDL, a failed creation gives it back, and stale ones are dropped.
 * One test walks the whole life cycle in order: its steps count spares, which two tests running
 * side by side (Criterion's --jobs) would take from each other. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

#define SPARES "2"

static qstack_t S;

static void setup(void)
{
    static const char *const worker_args[] = {"--spare-schemas", SPARES, NULL};
    cr_assert_geq(sodium_init(), 0);
    srandom((unsigned)randombytes_random());
    cr_assert_eq(stack_start_opts(&S, 2, NULL, worker_args), 0, "stack did not start");
}

static void teardown(void)
{
    stack_suite_fini(&S);
}

TestSuite(spares, .init = setup, .fini = teardown, .timeout = 120);

/* Polls (the keeper works in the background) until sql with p1 yields want; fails after 60 s. */
static void s_wait_for(const char *sql, const char *p1, const char *want)
{
    time_t until = time(NULL) + 60;
    for (;;) {
        char *v = db_value(sql, p1, NULL);
        cr_assert_not_null(v);
        int done = strcmp(v, want) == 0;
        free(v);
        if (done)
            return;
        cr_assert_lt(time(NULL), until, "timed out waiting for %s = %s (%s)", sql, want,
                     p1 ? p1 : "");
        usleep(50 * 1000);
    }
}

/* Spares left by an earlier run on the same database count too: hence "at least". */
static const char *const s_shard_is_full =
    "SELECT count(*) >= " SPARES " FROM quiz.spare_schemas WHERE shard = $1 AND shards = 2";
static const char *const s_all_ids =
    "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM quiz.spare_schemas";

/* POST /api/tenants/ as the platform; returns the status, and the body in *j when 201. */
static long s_create(const char *name, json_t **j)
{
    char url[256], body[256];
    http_url(url, sizeof url, S.url, "/api/tenants/");
    snprintf(body, sizeof body, "{\"tenant_name\":\"%s\",\"owner_email\":\"owner@spare.example\"}",
             name);
    const char *h[] = {S.auth, NULL};
    http_resp_t r;
    long st = http_do(&r, "POST", url, body, h);
    *j = st == 201 ? http_json(&r) : NULL;
    http_resp_clear(&r);
    return st;
}

Test(spares, are_built_ahead_taken_by_creation_given_back_on_failure_and_pruned)
{
    s_wait_for(s_shard_is_full, "0", "t");
    s_wait_for(s_shard_is_full, "1", "t");

    /* Until taken, a spare is nobody's: no shard login may use its role, no API call sees it. */
    char *v = db_value("SELECT count(*) FROM quiz.spare_schemas s JOIN pg_roles r ON"
                       " r.rolname = 'tenant_' || replace(s.id::text, '-', '')"
                       " JOIN pg_auth_members m ON m.roleid = r.oid"
                       " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname LIKE 'quiz\\_shard%'",
                       NULL, NULL);
    cr_expect_str_eq(v, "0", "a spare's role is granted to a shard login");
    free(v);
    /* The provisioner keeps no tenant role either: a login in thousands of roles makes every
       membership change cost PostgreSQL a recomputation proportional to them. */
    static const char *const s_provisioner_in =
        "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
        " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = 'quiz_provisioner'"
        " AND r.rolname IN (SELECT 'tenant_' || replace(id::text, '-', '') FROM"
        " quiz.spare_schemas UNION ALL SELECT 'tenant_' || replace($1, '-', ''))";
    v = db_value(s_provisioner_in, "", NULL);
    cr_expect_str_eq(v, "0", "the provisioner is a member of spare roles");
    free(v);
    char *spares = db_value(s_all_ids, NULL, NULL), path[128];
    snprintf(path, sizeof path, "/api/tenants/%.36s", spares);
    char url[256];
    http_url(url, sizeof url, S.url, "%s", path);
    const char *h[] = {S.auth, NULL};
    http_resp_t r;
    cr_expect_eq(http_do(&r, "GET", url, NULL, h), 404, "an untaken spare is not a tenant");
    http_resp_clear(&r);

    /* A creation takes a spare: the tenant's id is the spare's, and it works as any tenant. */
    json_t *j;
    cr_assert_eq(s_create("Spare One", &j), 201);
    const char *id = json_string_value(json_object_get(j, "tenant_id"));
    const char *temp = json_string_value(json_object_get(j, "temp_password"));
    int shard = (int)json_integer_value(json_object_get(j, "shard"));
    cr_assert_not_null(id);
    cr_expect_not_null(strstr(spares, id), "tenant %s is not one of the spares %s", id, spares);
    free(spares);
    v = db_value("SELECT count(*) FROM quiz.spare_schemas WHERE id = $1", id, NULL);
    cr_expect_str_eq(v, "0", "the spare stays listed after it became a tenant");
    free(v);
    v = db_value("SELECT shard FROM quiz.tenants WHERE id = $1 AND status = 'active'", id, NULL);
    char shard_text[12];
    snprintf(shard_text, sizeof shard_text, "%d", shard);
    cr_expect_str_eq(v, shard_text, "registry row");
    free(v);
    int pcr = 0;
    cr_expect_eq(api_login(&S, id, "owner@spare.example", temp, NULL, NULL, &pcr), 200);
    cr_expect(pcr, "the admin's temporary password must be changed");
    v = db_value(s_provisioner_in, id, NULL);
    cr_expect_str_eq(v, "0", "the provisioner stayed a member of the new tenant's role");
    free(v);
    json_decref(j);
    /* ... and the keeper builds its replacement. */
    s_wait_for(s_shard_is_full, shard_text, "t");

    /* A creation that fails at its last step leaves no tenant and gives its spare back. */
    char name[64];
    snprintf(name, sizeof name, "spare-failure-%u", randombytes_random());
    cr_assert_eq(db_forced_failure_begin(name), 0);
    char *before = db_value(s_all_ids, NULL, NULL);
    long st = s_create(name, &j);
    cr_assert_eq(db_forced_failure_end(), 0);
    cr_expect_eq(st, 500);
    char *after = db_value(s_all_ids, NULL, NULL);
    cr_expect_str_eq(after, before, "the failed creation kept its spare");
    free(before);
    free(after);
    v = db_value("SELECT count(*) FROM quiz.tenants WHERE name = $1", name, NULL);
    cr_expect_str_eq(v, "0", "registry row left behind");
    free(v);
    v = db_value(db_orphans_sql, NULL, NULL);
    cr_expect_str_eq(v, "0", "a schema without its registry row or spare (or the reverse)");
    free(v);

    /* A spare built for another shard count is dropped (schema, role and row) by its shard's
       worker, which rounds at start: restart it. */
    char *stale = db_value("UPDATE quiz.spare_schemas SET shards = 7 WHERE id = (SELECT id FROM"
                           " quiz.spare_schemas WHERE shard = 0 AND shards = 2 LIMIT 1)"
                           " RETURNING 'tenant_' || replace(id::text, '-', '')",
                           NULL, NULL);
    cr_assert_not_null(stale);
    cr_assert_neq(stale[0], '\0');
    stack_term_worker(&S, 0);
    cr_assert_eq(stack_wait_worker(&S, 0), 0, "worker 0 did not stop cleanly");
    cr_assert_eq(stack_start_worker(&S, 0), 0);
    s_wait_for("SELECT count(*) FROM pg_namespace WHERE nspname = $1", stale, "0");
    s_wait_for("SELECT count(*) FROM pg_roles WHERE rolname = $1", stale, "0");
    free(stale);
    v = db_value("SELECT count(*) FROM quiz.spare_schemas WHERE shards <> 2", NULL, NULL);
    cr_expect_str_eq(v, "0");
    free(v);
    s_wait_for(s_shard_is_full, "0", "t");
    v = db_value(db_orphans_sql, NULL, NULL);
    cr_expect_str_eq(v, "0");
    free(v);
}
