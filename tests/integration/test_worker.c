/* The worker under stress of the real kind: a query blocked on a lock must not stall its shard,
 * SIGTERM drains requests in flight, a passed deadline is a 504, and dropped database
 * connections are replaced without a restart. Locks are taken from the test's own connection. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/ident.h"
#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

static qstack_t S;

static void setup(void)
{
    stack_suite_init(&S);
}
static void teardown(void)
{
    stack_suite_fini(&S);
}

TestSuite(worker, .init = setup, .fini = teardown, .timeout = 120);

/* Creates tenants until two land on shard 0; writes their ids. */
static void s_two_on_shard0(char a[37], char b[37])
{
    int found = 0;
    char url[128];
    http_url(url, sizeof url, S.url, "/api/tenants/");
    const char *h[] = {S.auth, NULL};
    for (int i = 0; i < 40 && found < 2; i++) {
        http_resp_t r;
        cr_assert_eq(
            http_do(&r, "POST", url, "{\"tenant_name\":\"w\",\"owner_email\":\"w@w.example\"}", h),
            201);
        json_t *j = http_json(&r);
        if (json_integer_value(json_object_get(j, "shard")) == 0)
            snprintf(found++ ? b : a, 37, "%s", json_string_value(json_object_get(j, "tenant_id")));
        json_decref(j);
        http_resp_clear(&r);
    }
    cr_assert_eq(found, 2);
}

typedef struct {
    char path[128];
    long status;
    double seconds;
    char retry_after[16]; /* the answer's Retry-After, or "" */
} call_t;

static void *s_call_thread(void *arg)
{
    call_t *call = arg;
    char url[256];
    http_url(url, sizeof url, S.url, "%s", call->path);
    const char *h[] = {S.auth, NULL};
    http_resp_t r;
    call->status = http_do(&r, "GET", url, NULL, h);
    call->seconds = r.seconds;
    http_header(&r, "Retry-After", call->retry_after, sizeof call->retry_after);
    http_resp_clear(&r);
    return NULL;
}

static long s_stats(const char *tenant)
{
    call_t c = {.status = 0};
    snprintf(c.path, sizeof c.path, "/api/tenants/%s/stats", tenant);
    s_call_thread(&c);
    return c.status;
}

Test(worker, a_blocked_query_does_not_stall_its_shard)
{
    char a[37], b[37];
    s_two_on_shard0(a, b);
    PGconn *lock = db_lock_counts(a);
    call_t slow = {.status = 0};
    snprintf(slow.path, sizeof slow.path, "/api/tenants/%s/stats", a);
    pthread_t t;
    pthread_create(&t, NULL, s_call_thread, &slow);
    db_wait_blocked(S.app);
    /* Same shard, other tenant: answered while the first request waits. */
    for (int i = 0; i < 5; i++)
        cr_expect_eq(s_stats(b), 200);
    db_unlock(lock);
    pthread_join(t, NULL);
    cr_expect_eq(slow.status, 200, "the blocked request failed once unblocked");
}

Test(worker, sigterm_drains_requests_in_flight)
{
    char a[37], b[37];
    s_two_on_shard0(a, b);
    PGconn *lock = db_lock_counts(a);
    call_t slow = {.status = 0};
    snprintf(slow.path, sizeof slow.path, "/api/tenants/%s/stats", a);
    pthread_t t;
    pthread_create(&t, NULL, s_call_thread, &slow);
    db_wait_blocked(S.app);
    stack_term_worker(&S, 0);
    /* While draining, new work for the shard is refused rather than lost. */
    long st = 0;
    for (int i = 0; i < 50 && st != 503; i++)
        st = s_stats(b);
    cr_expect_eq(st, 503);
    db_unlock(lock);
    pthread_join(t, NULL);
    cr_expect_eq(slow.status, 200, "request in flight was dropped by SIGTERM");
    cr_expect_eq(stack_wait_worker(&S, 0), 0, "worker did not exit cleanly after draining");
    cr_assert_eq(stack_start_worker(&S, 0), 0);
}

Test(worker, passed_deadline_is_504_and_the_next_request_gets_its_own_answer)
{
    char a[37], b[37];
    s_two_on_shard0(a, b);
    PGconn *lock = db_lock_counts(a);
    call_t slow = {.status = 0};
    snprintf(slow.path, sizeof slow.path, "/api/tenants/%s/stats", a);
    s_call_thread(&slow);
    cr_expect_eq(slow.status, 504);
    cr_expect_str_eq(slow.retry_after, "1", "a 504 says when to try again");
    cr_expect_lt(slow.seconds, S.deadline_ms / 1000.0 + 1.0, "took %.2f s", slow.seconds);
    db_unlock(lock);
    call_t next = {.status = 0};
    snprintf(next.path, sizeof next.path, "/api/tenants/%s", b);
    for (int i = 0; i < 20; i++) {
        char url[256], *needle = b;
        http_url(url, sizeof url, S.url, "%s", next.path);
        const char *h[] = {S.auth, NULL};
        http_resp_t r;
        cr_expect_eq(http_do(&r, "GET", url, NULL, h), 200);
        cr_expect(strstr(r.body, needle) != NULL, "got another request's answer: %s", r.body);
        http_resp_clear(&r);
    }
}

Test(worker, reconnects_after_its_connections_are_killed)
{
    char a[37], b[37];
    s_two_on_shard0(a, b);
    char *v = db_value("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                       " WHERE application_name = $1",
                       S.app, NULL);
    cr_assert_not_null(v);
    cr_expect_gt(atoi(v), 0, "no backends of this stack found");
    free(v);
    for (int i = 0; i < 10; i++)
        cr_expect_eq(s_stats(i % 2 ? a : b), 200);
}

/* While ordinary requests are in flight, password requests rest in proportion to their work
 * (worker/wk_pace.h): at a 1% share, a login after a login waits ~99 times the first one's run
 * (capped at 2 s), and is answered, not lost. The busy request is a read blocked on a lock. */
Test(worker, a_busy_worker_paces_logins_and_answers_them)
{
    static const char *const share[] = {"--password-share", "1", NULL};
    stack_term_worker(&S, 0);
    cr_assert_eq(stack_wait_worker(&S, 0), 0);
    S.worker_args = share;
    cr_assert_eq(stack_start_worker(&S, 0), 0);
    api_tenant_t t[2];
    int found = 0;
    for (int i = 0; found < 2 && i < 40; i++) {
        api_tenant(&S, &t[found]);
        found += t[found].shard == 0;
    }
    cr_assert_eq(found, 2, "no two tenants on shard 0");
    PGconn *lock = db_lock_counts(t[0].id);
    call_t busy = {.status = 0};
    snprintf(busy.path, sizeof busy.path, "/api/tenants/%s/stats", t[0].id);
    pthread_t th;
    pthread_create(&th, NULL, s_call_thread, &busy);
    db_wait_blocked(S.app);
    double took[2];
    for (int i = 0; i < 2; i++) {
        uint64_t start = clock_mono_us();
        cr_expect_eq(api_login(&S, t[1].id, t[1].email, t[1].password, NULL, NULL, NULL), 200);
        took[i] = (double)(clock_mono_us() - start) / 1e6;
    }
    db_unlock(lock);
    pthread_join(th, NULL);
    cr_expect_eq(busy.status, 200);
    cr_expect_gt(took[1], 0.5, "the second login did not rest (%.3f s, first %.3f s)", took[1],
                 took[0]);
    /* Idle again: no rest is owed, and the login still works. */
    cr_expect_eq(api_login(&S, t[1].id, t[1].email, t[1].password, NULL, NULL, NULL), 200);
}

/* How many lines of the log of process `name` contain every one of the needles. */
static int s_log_lines(const char *name, const char *const *needles, int n)
{
    char path[256], line[4096];
    snprintf(path, sizeof path, "%s/%s.log", S.dir, name);
    FILE *f = fopen(path, "r");
    cr_assert(f, "no log %s", path);
    int count = 0;
    while (fgets(line, sizeof line, f)) {
        int found = 0;
        for (int i = 0; i < n; i++)
            found += strstr(line, needles[i]) != NULL;
        count += found == n;
    }
    fclose(f);
    return count;
}

Test(worker, a_failed_statement_is_logged_with_its_request_tenant_shard_and_sqlstate)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char hex[33], sql[512];
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(t.id, 36, u), 0);
    ident_hex(u, 16, hex);
    cr_assert_eq(db_exec("CREATE OR REPLACE FUNCTION public.quiz_test_fail() RETURNS trigger"
                         " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'"
                         " USING ERRCODE = 'XX001'; END $$"),
                 0);
    snprintf(sql, sizeof sql,
             "CREATE TRIGGER quiz_test_fail BEFORE INSERT ON tenant_%s.quizzes FOR EACH"
             " STATEMENT EXECUTE FUNCTION public.quiz_test_fail()",
             hex);
    cr_assert_eq(db_exec(sql), 0);
    http_resp_t r;
    long st = api_call(&S, &r, "POST", "/api/quizzes/", t.id, t.token, "{\"title\":\"x\"}", NULL);
    char rid[64] = "";
    http_header(&r, "X-Request-ID", rid, sizeof rid);
    cr_expect(strstr(r.body ? r.body : "", "injected") == NULL, "the server's message leaked");
    http_resp_clear(&r);
    snprintf(sql, sizeof sql, "DROP TRIGGER quiz_test_fail ON tenant_%s.quizzes", hex);
    cr_assert_eq(db_exec(sql), 0);
    cr_expect_eq(st, 500);
    cr_assert(*rid, "no X-Request-ID");

    char want_rid[80], want_tenant[64], want_shard[16], name[16];
    snprintf(want_rid, sizeof want_rid, "request=%s ", rid);
    snprintf(want_tenant, sizeof want_tenant, "tenant=%s ", t.id);
    snprintf(want_shard, sizeof want_shard, "shard=%d ", t.shard);
    snprintf(name, sizeof name, "worker%d", t.shard);
    const char *needles[] = {want_rid, want_tenant, want_shard, "sqlstate=XX001 ",
                             "injected failure"};
    cr_expect_eq(s_log_lines(name, needles, 5), 1,
                 "no single worker line names request, tenant, shard and SQLSTATE");
}
