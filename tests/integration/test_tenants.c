/* Tenant management through the whole real path: HTTP -> gateway -> ZeroMQ -> worker ->
 * PostgreSQL, checked against what the database actually holds. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ident.h"
#include "common/shard.h"
#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"
#include "worker/wk_sample.h"

static qstack_t S;

static void setup(void)
{
    stack_suite_init(&S);
}
static void teardown(void)
{
    stack_suite_fini(&S);
}

TestSuite(tenants, .init = setup, .fini = teardown, .timeout = 120);

/* POST /api/tenants/ and return the parsed 201 body (caller decrefs). */
static json_t *s_create(const char *name, const char *email)
{
    char url[256], body[512];
    http_url(url, sizeof url, S.url, "/api/tenants/");
    snprintf(body, sizeof body, "{\"tenant_name\":\"%s\",\"owner_email\":\"%s\"}", name, email);
    const char *h[] = {S.auth, NULL};
    http_resp_t r;
    http_do(&r, "POST", url, body, h);
    cr_assert_eq(r.status, 201, "create: %ld %s", r.status, r.body);
    json_t *j = http_json(&r);
    http_resp_clear(&r);
    cr_assert_not_null(j);
    return j;
}

static long s_call(const char *method, const char *path, const char *body, http_resp_t *r)
{
    char url[256];
    http_url(url, sizeof url, S.url, "%s", path);
    const char *h[] = {S.auth, NULL};
    return http_do(r, method, url, body, h);
}

static long s_status(const char *method, const char *path, const char *body)
{
    http_resp_t r;
    long st = s_call(method, path, body, &r);
    http_resp_clear(&r);
    return st;
}

static void s_schema_of(const char *id, char *schema)
{
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(id, strlen(id), u), 0);
    ident_schema_name(u, schema);
}

/* A new tenant's id and schema name. */
static void s_create_tenant(const char *name, const char *email, char id[37], char schema[64])
{
    json_t *t = s_create(name, email);
    snprintf(id, 37, "%s", json_string_value(json_object_get(t, "tenant_id")));
    json_decref(t);
    s_schema_of(id, schema);
}

Test(tenants, create_list_stats_delete)
{
    json_t *t = s_create("Acme Learning", "Owner@Acme.example");
    const char *id = json_string_value(json_object_get(t, "tenant_id"));
    const char *temp = json_string_value(json_object_get(t, "temp_password"));
    cr_assert_not_null(id);
    cr_expect_str_eq(json_string_value(json_object_get(t, "tenant_name")), "Acme Learning");
    cr_expect(json_is_true(json_object_get(t, "schema_created")));
    cr_expect(json_is_true(json_object_get(t, "admin_user_created")));
    cr_expect_str_eq(json_string_value(json_object_get(t, "admin_email")), "Owner@Acme.example");
    cr_expect_geq(strlen(temp), 16);
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(id, strlen(id), u), 0);
    cr_expect_eq(json_integer_value(json_object_get(t, "shard")), shard_of(u, 2));

    /* The database holds what the API claims, and the temp password only as an Argon2id hash. */
    char schema[IDENT_SCHEMA_LEN + 1], sql[256];
    s_schema_of(id, schema);
    char *v = db_value("SELECT shard || ':' || status FROM quiz.tenants WHERE id = $1", id, NULL);
    char expect[16];
    snprintf(expect, sizeof expect, "%d:active", shard_of(u, 2));
    cr_expect_str_eq(v, expect);
    free(v);
    snprintf(sql, sizeof sql,
             "SELECT role || ':' || must_change_password || ':' || left(password_hash, 10)"
             " FROM %s.users",
             schema);
    v = db_value(sql, NULL, NULL);
    cr_expect_str_eq(v, "admin:true:$argon2id$");
    free(v);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s.users WHERE password_hash LIKE '%%' || $1 || '%%'", schema);
    v = db_value(sql, temp, NULL);
    cr_expect_str_eq(v, "0", "temp password stored in clear");
    free(v);
    v = db_value("SELECT count(*) FROM quiz.platform_audit WHERE tenant_id = $1 AND action = "
                 "'tenant.create'",
                 id, NULL);
    cr_expect_str_eq(v, "1");
    free(v);

    /* Get and list. */
    char path[128];
    snprintf(path, sizeof path, "/api/tenants/%s", id);
    http_resp_t r;
    cr_expect_eq(s_call("GET", path, NULL, &r), 200);
    cr_expect(strstr(r.body, id) != NULL);
    cr_expect(strstr(r.body, "temp_password") == NULL, "temp password shown twice");
    http_resp_clear(&r);
    cr_expect_eq(s_call("GET", "/api/tenants/?limit=100", NULL, &r), 200);
    cr_expect(strstr(r.body, id) != NULL);
    http_resp_clear(&r);

    /* Stats count the admin and report the schema's storage. */
    cr_expect_eq(api_tenant_stat(&S, id, "users_count"), 1);
    cr_expect_eq(api_tenant_stat(&S, id, "quizzes_count"), 0);
    cr_expect_eq(api_tenant_stat(&S, id, "attempts_count"), 0);
    cr_expect_gt(api_tenant_stat(&S, id, "storage_bytes"), 0);

    /* Delete: absent at once for everything in the tenant's scope; the registry shows it deleted
       and the schema is kept for the grace period (test_lifecycle.c follows it to the purge). */
    cr_expect_eq(s_status("DELETE", path, NULL), 204);
    cr_expect_eq(s_call("GET", path, NULL, &r), 200);
    json_t *gone = http_json(&r);
    cr_expect_str_eq(json_string_value(json_object_get(gone, "status")), "deleted");
    json_decref(gone);
    http_resp_clear(&r);
    snprintf(path, sizeof path, "/api/tenants/%s/stats", id);
    cr_expect_eq(s_status("GET", path, NULL), 404);
    snprintf(path, sizeof path, "/api/tenants/%s/users", id);
    cr_expect_eq(
        s_status("POST", path,
                 "{\"email\":\"a@b.example\",\"username\":\"a\",\"password\":\"long enough\"}"),
        404);
    snprintf(path, sizeof path, "/api/tenants/%s", id);
    cr_expect_eq(s_status("DELETE", path, NULL), 404);
    v = db_value("SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema, NULL);
    cr_expect_str_eq(v, "1", "schema dropped before the grace period");
    free(v);
    v = db_value("SELECT status FROM quiz.tenants WHERE id = $1", id, NULL);
    cr_expect_str_eq(v, "deleted");
    free(v);
    json_decref(t);
}

Test(tenants, stats_count_exactly_and_sample_the_storage)
{
    char id[37], schema[64], sql[256];
    s_create_tenant("Sampled", "s@sampled.example", id, schema);
    json_int_t before = api_tenant_stat(&S, id, "storage_bytes");
    cr_assert_gt(before, 0);
    /* Rows written behind the API's back, enough to take new pages. */
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.attempts (quiz_id, score, max_score, results)"
             " SELECT gen_random_uuid(), 1, 1, '[]' FROM generate_series(1, 3000)",
             schema);
    cr_assert_eq(db_exec(sql), 0);
    /* The counts at once; the storage is the figure of a few seconds ago. */
    cr_expect_eq(api_tenant_stat(&S, id, "attempts_count"), 3000);
    cr_expect_eq(api_tenant_stat(&S, id, "storage_bytes"), before,
                 "the storage was measured again at once");
    usleep((WK_SAMPLE_MAX_AGE_MS + 300) * 1000);
    cr_expect_gt(api_tenant_stat(&S, id, "storage_bytes"), before,
                 "the storage was never measured again");
}

/* Runs sql in a transaction left open on a connection of its own whose row_counts slot
 * (pg_backend_pid() % 16) is not in *used yet: a counted write waits for an open transaction that
 * wrote the same slot, as it should, and the test holding both open would wait forever. */
static PGconn *s_begin_on_own_slot(unsigned *used, const char *sql)
{
    for (;;) {
        PGconn *c = db_begin("SELECT 1");
        PGresult *r = PQexec(c, "SELECT pg_backend_pid() % 16");
        unsigned slot = 1u << atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (!(*used & slot)) {
            *used |= slot;
            r = PQexec(c, sql);
            cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
            PQclear(r);
            return c;
        }
        db_unlock(c);
    }
}

Test(tenants, stats_counts_follow_every_write_however_made_and_read_no_table_they_count)
{
    char id[37], schema[64], sql[512];
    s_create_tenant("Counted", "c@counted.example", id, schema);
    cr_expect_eq(api_tenant_stat(&S, id, "users_count"), 1, "the owner");
    cr_expect_eq(api_tenant_stat(&S, id, "attempts_count"), 0);
    /* With every counted table locked, the stats still answer: they count none of them. (The
       storage, which would wait, was measured by the calls just made: the sample is fresh.) */
    snprintf(sql, sizeof sql,
             "LOCK TABLE %s.users, %s.quizzes, %s.questions, %s.attempts IN ACCESS EXCLUSIVE"
             " MODE",
             schema, schema, schema, schema);
    PGconn *lock = db_begin(sql);
    cr_expect_eq(api_tenant_stat(&S, id, "users_count"), 1);
    cr_expect_eq(api_tenant_stat(&S, id, "attempts_count"), 0);
    db_unlock(lock);
    /* Behind the API's back: a quiz, its questions, attempts from two transactions at once (on
       two slots) and one rolled back. */
    const char *quiz = "7e57c0de-0000-4000-8000-000000000001";
    snprintf(sql, sizeof sql, "INSERT INTO %s.quizzes (id, title) VALUES ('%s', 'Counted')", schema,
             quiz);
    cr_assert_eq(db_exec(sql), 0);
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.questions (quiz_id, kind, prompt, correct, position)"
             " SELECT '%s', 'true_false', 'p', 'true', g FROM generate_series(1, 3) g",
             schema, quiz);
    cr_assert_eq(db_exec(sql), 0);
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.attempts (quiz_id, score, max_score, results)"
             " SELECT '%s', 1, 1, '[]' FROM generate_series(1, 1000)",
             schema, quiz);
    unsigned used = 0;
    PGconn *a = s_begin_on_own_slot(&used, sql), *b = s_begin_on_own_slot(&used, sql);
    PGconn *rolled_back = s_begin_on_own_slot(&used, sql);
    PQclear(PQexec(rolled_back, "ROLLBACK"));
    PQfinish(rolled_back);
    db_unlock(a);
    db_unlock(b);
    cr_expect_eq(api_tenant_stat(&S, id, "quizzes_count"), 1);
    cr_expect_eq(api_tenant_stat(&S, id, "questions_count"), 3);
    cr_expect_eq(api_tenant_stat(&S, id, "attempts_count"), 2000, "the rolled back 1000 counted");
    /* A quiz deleted takes its questions with it (a cascade): both counted. */
    snprintf(sql, sizeof sql, "DELETE FROM %s.quizzes WHERE id = '%s'", schema, quiz);
    cr_assert_eq(db_exec(sql), 0);
    cr_expect_eq(api_tenant_stat(&S, id, "quizzes_count"), 0);
    cr_expect_eq(api_tenant_stat(&S, id, "questions_count"), 0);
    snprintf(sql, sizeof sql, "TRUNCATE %s.attempts", schema);
    cr_assert_eq(db_exec(sql), 0);
    cr_expect_eq(api_tenant_stat(&S, id, "attempts_count"), 0);
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.attempts (quiz_id, score, max_score, results)"
             " SELECT gen_random_uuid(), 1, 1, '[]' FROM generate_series(1, 2)",
             schema);
    cr_assert_eq(db_exec(sql), 0);
    cr_expect_eq(api_tenant_stat(&S, id, "attempts_count"), 2, "counting again after the truncate");
    /* A schema the fleet migration has not brought row_counts to yet is counted. */
    snprintf(sql, sizeof sql,
             "DROP TABLE %s.row_counts; DROP TRIGGER attempts_counted_insert ON %s.attempts;"
             " INSERT INTO %s.attempts (quiz_id, score, max_score, results)"
             " SELECT gen_random_uuid(), 1, 1, '[]' FROM generate_series(1, 5)",
             schema, schema, schema);
    cr_assert_eq(db_exec(sql), 0);
    cr_expect_eq(api_tenant_stat(&S, id, "attempts_count"), 7);
    cr_expect_eq(api_tenant_stat(&S, id, "users_count"), 1);
}

Test(tenants, failed_creation_leaves_nothing_behind)
{
    /* Make the very last step of creation (the platform audit row) fail for one tenant name. */
    char name[64];
    snprintf(name, sizeof name, "force-failure-%u", randombytes_random());
    cr_assert_eq(db_forced_failure_begin(name), 0);

    char body[256];
    snprintf(body, sizeof body, "{\"tenant_name\":\"%s\",\"owner_email\":\"x@y.example\"}", name);
    http_resp_t r;
    long st = s_call("POST", "/api/tenants/", body, &r);
    cr_assert_eq(db_forced_failure_end(), 0);
    cr_expect_eq(st, 500, "%s", r.body);
    char type[128];
    cr_expect_eq(http_header(&r, "Content-Type", type, sizeof type), 0);
    cr_expect_str_eq(type, "application/problem+json");
    http_resp_clear(&r);

    char *v = db_value("SELECT count(*) FROM quiz.tenants WHERE name = $1", name, NULL);
    cr_expect_str_eq(v, "0", "registry row left behind");
    free(v);
    v = db_value(db_orphans_sql, NULL, NULL);
    cr_expect_str_eq(v, "0", "a schema without its registry row (or the reverse)");
    free(v);
}

Test(tenants, tenants_on_two_shards_never_mix)
{
    json_t *t[2] = {NULL, NULL};
    for (int tries = 0; tries < 40 && (!t[0] || !t[1]); tries++) {
        json_t *x = s_create("Shard Probe", "admin@probe.example");
        int shard = (int)json_integer_value(json_object_get(x, "shard"));
        if (!t[shard])
            t[shard] = x;
        else
            json_decref(x);
    }
    cr_assert(t[0] && t[1], "could not place a tenant on each shard");
    const char *a = json_string_value(json_object_get(t[0], "tenant_id"));
    const char *b = json_string_value(json_object_get(t[1], "tenant_id"));

    char path[128];
    snprintf(path, sizeof path, "/api/tenants/%s/users", a);
    const char *user =
        "{\"email\":\"Kim@Probe.example\",\"username\":\"kim\",\"password\":\"correct horse\"}";
    http_resp_t r;
    cr_assert_eq(s_call("POST", path, user, &r), 201, "%s", r.body);
    json_t *u = http_json(&r);
    cr_expect_str_eq(json_string_value(json_object_get(u, "role")), "member");
    cr_expect_str_eq(json_string_value(json_object_get(u, "email")), "Kim@Probe.example");
    cr_expect_null(json_object_get(u, "password_hash"));
    json_decref(u);
    http_resp_clear(&r);
    /* The same email in another case is the same user: 409. */
    cr_expect_eq(s_status("POST", path,
                          "{\"email\":\"kim@probe.EXAMPLE\",\"username\":\"kim2\",\"password\":"
                          "\"correct horse\"}"),
                 409);

    cr_expect_eq(api_tenant_stat(&S, a, "users_count"), 2);
    cr_expect_eq(api_tenant_stat(&S, b, "users_count"), 1);
    char schema_a[IDENT_SCHEMA_LEN + 1], schema_b[IDENT_SCHEMA_LEN + 1], sql[200];
    s_schema_of(a, schema_a);
    s_schema_of(b, schema_b);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s.users WHERE lower(email) = 'kim@probe.example'", schema_a);
    char *v = db_value(sql, NULL, NULL);
    cr_expect_str_eq(v, "1");
    free(v);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM %s.users WHERE lower(email) = 'kim@probe.example'", schema_b);
    v = db_value(sql, NULL, NULL);
    cr_expect_str_eq(v, "0", "user leaked into the other tenant");
    free(v);
    json_decref(t[0]);
    json_decref(t[1]);
}

Test(tenants, platform_token_is_required)
{
    char url[256];
    http_url(url, sizeof url, S.url, "/api/tenants/");
    http_resp_t r;
    cr_expect_eq(http_do(&r, "GET", url, NULL, NULL), 401);
    char www[64];
    cr_expect_eq(http_header(&r, "WWW-Authenticate", www, sizeof www), 0);
    cr_expect_str_eq(www, "Bearer");
    http_resp_clear(&r);
    const char *wrong[] = {"Authorization: Bearer not-the-platform-token", NULL};
    cr_expect_eq(
        http_do(&r, "POST", url, "{\"tenant_name\":\"x\",\"owner_email\":\"a@b.example\"}", wrong),
        401);
    http_resp_clear(&r);
    const char *basic[] = {"Authorization: Basic Zm9vOmJhcg==", NULL};
    cr_expect_eq(http_do(&r, "GET", url, NULL, basic), 401);
    http_resp_clear(&r);
}

Test(tenants, bad_input_gets_a_clear_400_413_or_404)
{
    struct {
        const char *method, *path, *body;
        long status;
    } cases[] = {
        {"POST", "/api/tenants/", "not json", 400},
        {"POST", "/api/tenants/", "[1,2]", 400},
        {"POST", "/api/tenants/", "", 400},
        {"POST", "/api/tenants/", "{\"tenant_name\":\"x\"}", 400},
        {"POST", "/api/tenants/", "{\"tenant_name\":\"\",\"owner_email\":\"a@b.example\"}", 400},
        {"POST", "/api/tenants/", "{\"tenant_name\":\"x\",\"owner_email\":\"not-an-email\"}", 400},
        {"POST", "/api/tenants/", "{\"tenant_name\":7,\"owner_email\":\"a@b.example\"}", 400},
        {"POST", "/api/tenants/",
         "{\"tenant_name\":\"x\",\"owner_email\":\"a@b.example\",\"plan\":\"gold\"}", 400},
        {"GET", "/api/tenants/?limit=0", NULL, 400},
        {"GET", "/api/tenants/?limit=101", NULL, 400},
        {"GET", "/api/tenants/?limit=abc", NULL, 400},
        {"GET", "/api/tenants/?cursor=garbage!", NULL, 400},
        {"GET", "/api/tenants/not-a-uuid", NULL, 400},
        {"GET", "/api/tenants/00000000-0000-4000-8000-000000000000", NULL, 404},
        {"GET", "/api/tenants/00000000-0000-4000-8000-000000000000/stats", NULL, 404},
        {"DELETE", "/api/tenants/00000000-0000-4000-8000-000000000000", NULL, 404},
        {"GET", "/api/nowhere", NULL, 404},
        {"PUT", "/api/tenants/", "{}", 405},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_resp_t r;
        long st = s_call(cases[i].method, cases[i].path, cases[i].body, &r);
        cr_expect_eq(st, cases[i].status, "%s %s %s -> %ld %s", cases[i].method, cases[i].path,
                     cases[i].body ? cases[i].body : "", st, r.body);
        json_t *j = http_json(&r);
        cr_expect_eq(json_integer_value(json_object_get(j, "status")), cases[i].status,
                     "problem body: %s", r.body);
        cr_expect(json_is_string(json_object_get(j, "detail")));
        json_decref(j);
        http_resp_clear(&r);
    }
    /* A body over the gateway's limit (16 KiB in tests) is refused before it is read. */
    char *big = malloc(20001);
    memset(big, 'a', 20000);
    big[20000] = '\0';
    cr_expect_eq(s_status("POST", "/api/tenants/", big), 413);
    free(big);
}

Test(tenants, pagination_walks_every_tenant_once)
{
    char mine[3][37];
    for (int i = 0; i < 3; i++) {
        json_t *t = s_create("Paged", "p@paged.example");
        snprintf(mine[i], sizeof mine[i], "%s", json_string_value(json_object_get(t, "tenant_id")));
        json_decref(t);
    }
    json_t *seen = json_object();
    char path[512] = "/api/tenants/?limit=2";
    int pages = 0;
    for (;;) {
        http_resp_t r;
        cr_assert_eq(s_call("GET", path, NULL, &r), 200, "%s", r.body);
        json_t *j = http_json(&r);
        json_t *items = json_object_get(j, "items");
        cr_assert(json_array_size(items) <= 2);
        size_t i;
        json_t *it;
        json_array_foreach (items, i, it) {
            const char *id = json_string_value(json_object_get(it, "tenant_id"));
            cr_expect_null(json_object_get(seen, id), "tenant %s listed twice", id);
            json_object_set_new(seen, id, json_true());
        }
        json_t *next = json_object_get(j, "next_cursor");
        pages++;
        if (json_is_null(next)) {
            json_decref(j);
            http_resp_clear(&r);
            break;
        }
        snprintf(path, sizeof path, "/api/tenants/?limit=2&cursor=%s", json_string_value(next));
        json_decref(j);
        http_resp_clear(&r);
        cr_assert_lt(pages, 10000);
    }
    for (int i = 0; i < 3; i++)
        cr_expect_not_null(json_object_get(seen, mine[i]), "tenant %s missing from pages", mine[i]);
    cr_expect_geq(pages, 2);
    json_decref(seen);
}

/* The names of a tenant list's items, comma-separated, into out. */
static void s_names(const char *path, char *out, size_t len)
{
    http_resp_t r;
    cr_assert_eq(s_call("GET", path, NULL, &r), 200, "%s: %s", path, r.body);
    json_t *j = http_json(&r);
    size_t i, n = 0;
    json_t *item;
    out[0] = '\0';
    json_array_foreach (json_object_get(j, "items"), i, item)
        n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "," : "",
                              json_string_value(json_object_get(item, "tenant_name")));
    json_decref(j);
    http_resp_clear(&r);
}

Test(tenants, search_by_name_or_id_and_the_largest_by_storage)
{
    /* A tag of this run's own: the database holds other tests' tenants too. */
    char tag[9], name_a[64], name_b[64], names[512], path[200];
    snprintf(tag, sizeof tag, "%08x", randombytes_random());
    snprintf(name_a, sizeof name_a, "Acme %s", tag);
    snprintf(name_b, sizeof name_b, "Beta 100%% _%s_", tag);
    json_t *a = s_create(name_a, "a@acme.example"), *b = s_create(name_b, "b@beta.example");
    const char *id_b = json_string_value(json_object_get(b, "tenant_id"));
    snprintf(path, sizeof path, "/api/tenants/?q=ACME%%20%s", tag);
    s_names(path, names, sizeof names);
    cr_expect_str_eq(names, name_a, "any case, a substring");
    snprintf(path, sizeof path, "/api/tenants/?q=100%%25%%20_%s", tag);
    s_names(path, names, sizeof names);
    cr_expect_str_eq(names, name_b, "%% and _ are plain characters");
    snprintf(path, sizeof path, "/api/tenants/?q=%%25%%20_%s", tag);
    s_names(path, names, sizeof names);
    cr_expect_str_eq(names, name_b);
    snprintf(path, sizeof path, "/api/tenants/?q=%.13s", id_b + 4);
    s_names(path, names, sizeof names);
    cr_expect_str_eq(names, name_b, "part of the id");
    s_names("/api/tenants/?q=nobody-has-this", names, sizeof names);
    cr_expect_str_eq(names, "");
    char lng[140] = "/api/tenants/?q=";
    memset(lng + strlen(lng), 'x', 101);
    cr_expect_eq(s_status("GET", lng, NULL), 400, "q longer than 100");
    /* The largest first: b's sampled size beats any real one. */
    char *set = db_value("UPDATE quiz.tenants SET storage_bytes = 1000000000000 WHERE id = $1"
                         " RETURNING 1",
                         id_b, NULL);
    cr_assert(set && strcmp(set, "1") == 0);
    free(set);
    snprintf(path, sizeof path, "/api/tenants/?order=storage&limit=2&q=%s", tag);
    s_names(path, names, sizeof names);
    char both[140];
    snprintf(both, sizeof both, "%s,%s", name_b, name_a);
    cr_expect_str_eq(names, both);
    s_names("/api/tenants/?order=storage&limit=1", names, sizeof names);
    cr_expect_str_eq(names, name_b, "the largest of all, and limit holds");
    cr_expect_eq(s_status("GET", "/api/tenants/?order=storage&cursor=abc", NULL), 400);
    cr_expect_eq(s_status("GET", "/api/tenants/?order=size", NULL), 400);
    json_decref(a);
    json_decref(b);
}
