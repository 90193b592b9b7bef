/* A tenant's lifecycle through the real path (DESIGN.md): suspend and resume, delete and restore
 * within the grace period, and the purge after it, each observed by the tenant's users over
 * HTTP and checked in the database (status, the role's grant, schema, audit). The workers run
 * with a grace period of 3 seconds. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ident.h"
#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

#define GRACE_S "3"

static qstack_t S;
static const char *const s_worker_args[] = {"--delete-grace", GRACE_S, NULL};

static void setup(void)
{
    cr_assert_eq(stack_start_opts(&S, 2, NULL, s_worker_args), 0, "stack did not start");
}
static void teardown(void)
{
    stack_suite_fini(&S);
}

TestSuite(lifecycle, .init = setup, .fini = teardown, .timeout = 120);

/* A platform call; the status, with the body in *r (caller clears). */
static long s_platform(const char *method, const char *path, http_resp_t *r)
{
    char url[256];
    http_url(url, sizeof url, S.url, "%s", path);
    const char *h[] = {S.auth, NULL};
    return http_do(r, method, url, method[0] == 'P' ? "{}" : NULL, h);
}

/* POST /api/tenants/{id}/{verb}: the status; the tenant's status in the answer into out. */
static long s_step(const api_tenant_t *t, const char *verb, char *status, size_t len)
{
    char path[160];
    snprintf(path, sizeof path, "/api/tenants/%s/%s", t->id, verb);
    http_resp_t r;
    long st = s_platform("POST", path, &r);
    if (status)
        api_field(&r, "status", status, len);
    http_resp_clear(&r);
    return st;
}

/* The admin creates a quiz; its id into out (37 bytes). */
static void s_quiz(const api_tenant_t *t, char *out)
{
    http_resp_t r;
    cr_assert_eq(api_call(&S, &r, "POST", "/api/quizzes", t->id, t->token,
                          "{\"title\":\"Kept whole\"}", NULL),
                 201, "%s", r.body);
    api_field(&r, "id", out, 37);
    http_resp_clear(&r);
}

/* The quiz as the admin reads it: the status, and the problem type in *type when it fails. */
static long s_read_quiz(const api_tenant_t *t, const char *quiz, char *type, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "/api/quizzes/%s", quiz);
    http_resp_t r;
    long st = api_call(&S, &r, "GET", path, t->id, t->token, NULL, NULL);
    if (type)
        api_field(&r, st == 200 ? "title" : "type", type, len);
    http_resp_clear(&r);
    return st;
}

/* Whether this shard's login may act as the tenant's role (the database's own refusal). */
static bool s_granted(const api_tenant_t *t)
{
    uint8_t u[16];
    char schema[IDENT_SCHEMA_LEN + 1], login[32];
    cr_assert_eq(ident_uuid_parse(t->id, strlen(t->id), u), 0);
    ident_schema_name(u, schema);
    snprintf(login, sizeof login, "quiz_shard_%d", t->shard);
    char *v = db_value("SELECT pg_has_role($1, $2, 'MEMBER')", login, schema);
    bool granted = strcmp(v, "t") == 0;
    free(v);
    return granted;
}

static int s_count(const char *sql, const char *p1, const char *p2)
{
    char *v = db_value(sql, p1, p2);
    int n = atoi(v);
    free(v);
    return n;
}

/* Whether GET /api/tenants/?status=S (all pages of 100 are not needed: the test's tenant is
 * among the newest) lists the tenant. */
static bool s_listed(const api_tenant_t *t, const char *status)
{
    char path[128];
    snprintf(path, sizeof path, "/api/tenants/?limit=100%s%s", status ? "&status=" : "",
             status ? status : "");
    http_resp_t r;
    cr_assert_eq(s_platform("GET", path, &r), 200, "%s", r.body);
    bool found = strstr(r.body, t->id) != NULL;
    http_resp_clear(&r);
    return found;
}

Test(lifecycle, suspend_refuses_users_in_worker_and_database_and_resume_brings_them_back)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char quiz[37], status[32], type[128];
    s_quiz(&t, quiz);
    cr_assert(s_granted(&t));
    /* Read twice: the worker holds it in memory, which must not outlive the suspension. */
    cr_assert_eq(s_read_quiz(&t, quiz, NULL, 0), 200);
    cr_assert_eq(s_read_quiz(&t, quiz, NULL, 0), 200);

    cr_assert_eq(s_step(&t, "suspend", status, sizeof status), 200);
    cr_expect_str_eq(status, "suspended");
    cr_expect_not(s_granted(&t), "the shard's login still acts as a suspended tenant");
    /* A valid access token, a login, a platform stats call: all refused as suspended. */
    cr_expect_eq(s_read_quiz(&t, quiz, type, sizeof type), 403);
    cr_expect_str_eq(type, "/problems/tenant-suspended");
    cr_expect_eq(api_login(&S, t.id, t.email, t.password, NULL, NULL, NULL), 403);
    char path[160];
    snprintf(path, sizeof path, "/api/tenants/%s/stats", t.id);
    http_resp_t r;
    cr_expect_eq(s_platform("GET", path, &r), 403);
    http_resp_clear(&r);
    /* The platform still sees it, listed as suspended. */
    snprintf(path, sizeof path, "/api/tenants/%s", t.id);
    cr_expect_eq(s_platform("GET", path, &r), 200);
    api_field(&r, "status", status, sizeof status);
    http_resp_clear(&r);
    cr_expect_str_eq(status, "suspended");
    cr_expect(s_listed(&t, NULL));
    cr_expect(s_listed(&t, "suspended"));
    cr_expect_not(s_listed(&t, "active"));
    /* Repeating it changes nothing. */
    cr_expect_eq(s_step(&t, "suspend", status, sizeof status), 200);

    cr_assert_eq(s_step(&t, "resume", status, sizeof status), 200);
    cr_expect_str_eq(status, "active");
    cr_expect(s_granted(&t));
    cr_expect_eq(s_read_quiz(&t, quiz, type, sizeof type), 200, "the same token works again");
    cr_expect_str_eq(type, "Kept whole");
    cr_expect_eq(api_login(&S, t.id, t.email, t.password, NULL, NULL, NULL), 200);

    /* Each step is in the platform audit with who asked: the request id and the client. */
    cr_expect_eq(s_count("SELECT count(*) FROM quiz.platform_audit WHERE tenant_id = $1 AND"
                         " action = $2 AND request_id ~ '^[0-9a-f]{32}$' AND client <> ''",
                         t.id, "tenant.suspend"),
                 2);
    cr_expect_eq(s_count("SELECT count(*) FROM quiz.platform_audit WHERE tenant_id = $1 AND"
                         " action = $2 AND request_id IS NOT NULL",
                         t.id, "tenant.resume"),
                 1);
}

Test(lifecycle, delete_is_404_to_users_at_once_and_restore_brings_the_tenant_back_whole)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char quiz[37], status[32], type[128], path[160];
    s_quiz(&t, quiz);
    snprintf(path, sizeof path, "/api/tenants/%s", t.id);
    http_resp_t r;
    cr_assert_eq(s_platform("DELETE", path, &r), 204);
    http_resp_clear(&r);

    cr_expect_eq(s_read_quiz(&t, quiz, NULL, 0), 404);
    cr_expect_eq(api_login(&S, t.id, t.email, t.password, NULL, NULL, NULL), 404);
    cr_expect_not(s_granted(&t));
    cr_expect_eq(s_platform("DELETE", path, &r), 404, "deleted twice");
    http_resp_clear(&r);
    /* The platform sees it deleted, with the end of its grace period; listed only when asked. */
    cr_expect_eq(s_platform("GET", path, &r), 200);
    api_field(&r, "status", status, sizeof status);
    char purge[64];
    api_field(&r, "purge_after", purge, sizeof purge);
    http_resp_clear(&r);
    cr_expect_str_eq(status, "deleted");
    cr_expect_neq(purge[0], '\0');
    cr_expect_not(s_listed(&t, NULL));
    cr_expect(s_listed(&t, "deleted"));
    cr_expect_eq(s_step(&t, "suspend", NULL, 0), 404);
    cr_expect_eq(s_step(&t, "resume", NULL, 0), 404);

    cr_assert_eq(s_step(&t, "restore", status, sizeof status), 200);
    cr_expect_str_eq(status, "active");
    cr_expect_eq(s_read_quiz(&t, quiz, type, sizeof type), 200);
    cr_expect_str_eq(type, "Kept whole");
    cr_expect_eq(api_login(&S, t.id, t.email, t.password, NULL, NULL, NULL), 200);
    cr_expect_eq(s_step(&t, "restore", NULL, 0), 409, "restored an active tenant");
    char *v = db_value("SELECT status || ':' || (deleted_at IS NULL) || ':' || (purge_after IS"
                       " NULL) FROM quiz.tenants WHERE id = $1",
                       t.id, NULL);
    cr_expect_str_eq(v, "active:true:true");
    free(v);
    cr_expect_eq(s_count("SELECT count(*) FROM quiz.platform_audit WHERE tenant_id = $1 AND"
                         " action IN ('tenant.delete', 'tenant.restore')",
                         t.id, NULL),
                 2);

    /* Kept through the grace period: the tenant is not purged once restored. */
    sleep(atoi(GRACE_S) + 3);
    cr_expect_eq(s_read_quiz(&t, quiz, NULL, 0), 200, "a restored tenant was purged");
}

Test(lifecycle, purge_after_the_grace_period_drops_schema_role_and_row)
{
    api_tenant_t t, other;
    api_tenant(&S, &t);
    api_tenant(&S, &other);
    char path[160], schema[IDENT_SCHEMA_LEN + 1];
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(t.id, strlen(t.id), u), 0);
    ident_schema_name(u, schema);
    snprintf(path, sizeof path, "/api/tenants/%s", t.id);
    http_resp_t r;
    cr_assert_eq(s_platform("DELETE", path, &r), 204);
    http_resp_clear(&r);
    /* The data outlives the 404 until the grace period ends. */
    cr_expect_eq(s_count("SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema, NULL), 1);

    uint64_t until = clock_mono_us() + 20 * 1000000ULL;
    while (clock_mono_us() < until &&
           s_count("SELECT count(*) FROM quiz.tenants WHERE id = $1", t.id, NULL) > 0)
        usleep(200 * 1000);
    cr_assert_eq(s_count("SELECT count(*) FROM quiz.tenants WHERE id = $1", t.id, NULL), 0,
                 "not purged 20 s after a grace period of " GRACE_S " s");
    cr_expect_eq(s_count("SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema, NULL), 0);
    cr_expect_eq(s_count("SELECT count(*) FROM pg_roles WHERE rolname = $1", schema, NULL), 0);
    cr_expect_eq(s_count("SELECT count(*) FROM quiz.platform_audit WHERE tenant_id = $1 AND"
                         " action = 'tenant.purge' AND client = 'purger'",
                         t.id, NULL),
                 1);
    cr_expect_eq(s_platform("GET", path, &r), 404);
    http_resp_clear(&r);
    cr_expect_eq(s_step(&t, "restore", NULL, 0), 404, "restored after the purge");
    /* Nobody else was touched. */
    cr_expect_eq(api_login(&S, other.id, other.email, other.password, NULL, NULL, NULL), 200);
}

Test(lifecycle, unknown_tenants_and_bad_status_are_refused)
{
    const char *id = "00000000-0000-4000-8000-000000000001";
    char path[160];
    http_resp_t r;
    for (const char *const *verb = (const char *const[]){"suspend", "resume", "restore", NULL};
         *verb; verb++) {
        snprintf(path, sizeof path, "/api/tenants/%s/%s", id, *verb);
        cr_expect_eq(s_platform("POST", path, &r), 404, "%s", *verb);
        http_resp_clear(&r);
    }
    cr_expect_eq(s_platform("GET", "/api/tenants/?status=gone", &r), 400);
    http_resp_clear(&r);
    /* Without the platform token: 401. */
    char url[256];
    snprintf(path, sizeof path, "/api/tenants/%s/suspend", id);
    http_url(url, sizeof url, S.url, "%s", path);
    cr_expect_eq(http_do(&r, "POST", url, "{}", NULL), 401);
    http_resp_clear(&r);
}
