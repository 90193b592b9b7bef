/* Behind a transaction-mode pooler, as on Neon (tests/pooler/pgbouncer.sh: PgBouncer 1.18,
 * TLS required): the workers' connections go through its `quiz_canary` database, whose pool has
 * ONE server connection per login, so every transaction of the shard's two tenants runs on the
 * same PostgreSQL session, interleaved. Each tenant must still see only its own rows and read
 * back every write; the worker's pool canary (wk_canary.h) must find every session clean, and
 * must catch a setting a stray client leaves on that session, while the tenants' views stay
 * right (each request's settings are SET LOCAL). Runs in tests/run.sh's pooler pass, which sets
 * QUIZ_TEST_POOLER_CANARY_URL and QUIZ_TEST_POOLER_ADMIN_URL. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

static qstack_t S;
static const char *const s_worker_args[] = {"--canary-ms", "100", "--metrics-listen", "127.0.0.1:0",
                                            NULL};

static void setup(void)
{
    const char *canary = getenv("QUIZ_TEST_POOLER_CANARY_URL");
    cr_assert(canary && *canary && getenv("QUIZ_TEST_POOLER_ADMIN_URL"),
              "run by tests/run.sh's pooler pass (QUIZ_TEST_POOLER_CANARY_URL not set)");
    setenv("QUIZ_TEST_POOLER_URL", canary, 1);
    cr_assert_eq(stack_start_opts(&S, 1, NULL, s_worker_args), 0, "stack did not start");
}
static void teardown(void)
{
    stack_suite_fini(&S);
}

TestSuite(pooler, .init = setup, .fini = teardown, .timeout = 120);

typedef struct {
    api_tenant_t t;
    char prefix[8];
    int stale, foreign, written;
} writer_t;

/* Creates quizzes titled PREFIX-i and, after each, lists them all: every one is its own and
 * every one written so far is there. */
static void *s_writer(void *arg)
{
    writer_t *w = arg;
    for (int i = 0; i < 25; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"title\":\"%s-%d\"}", w->prefix, i);
        if (api_status(&S, "POST", "/api/quizzes", w->t.id, w->t.token, body) != 201)
            continue;
        w->written++;
        http_resp_t r;
        if (api_call(&S, &r, "GET", "/api/quizzes?limit=100", w->t.id, w->t.token, NULL, NULL) ==
            200) {
            json_t *doc = http_json(&r), *items = json_object_get(doc, "items"), *q;
            size_t k;
            json_array_foreach (items, k, q) {
                const char *title = json_string_value(json_object_get(q, "title"));
                if (!title || strncmp(title, w->prefix, strlen(w->prefix)) != 0)
                    w->foreign++;
            }
            if ((int)json_array_size(items) != w->written)
                w->stale++;
            json_decref(doc);
        } else {
            w->stale++;
        }
        http_resp_clear(&r);
    }
    return NULL;
}

/* The server connections PgBouncer holds for (user, database), from its admin console. */
static int s_servers(const char *user, const char *database)
{
    PGconn *c = PQconnectdb(getenv("QUIZ_TEST_POOLER_ADMIN_URL"));
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *res = PQexec(c, "SHOW SERVERS");
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    int ucol = PQfnumber(res, "user"), dcol = PQfnumber(res, "database"), n = 0;
    for (int i = 0; i < PQntuples(res); i++)
        n += strcmp(PQgetvalue(res, i, ucol), user) == 0 &&
             strcmp(PQgetvalue(res, i, dcol), database) == 0;
    PQclear(res);
    PQfinish(c);
    return n;
}

static double s_canary(const char *what)
{
    char series[96];
    snprintf(series, sizeof series, "quiz_worker_pool_canary_%s_total{shard=\"0\"}", what);
    return http_metric(S.metrics_port[0], series);
}

/* Waits (up to 10 s) until the canary has made `more` checks beyond `from`. */
static void s_canary_wait(double from, int more)
{
    for (int i = 0; i < 200 && s_canary("checks") < from + more; i++)
        usleep(50000);
    cr_assert_geq(s_canary("checks"), from + more, "the canary does not run");
}

Test(pooler, two_tenants_on_one_server_connection_see_only_their_own_rows)
{
    writer_t w[2] = {{.prefix = "A"}, {.prefix = "B"}};
    api_tenant(&S, &w[0].t);
    api_tenant(&S, &w[1].t);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, s_writer, &w[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(w[i].written, 25, "tenant %s wrote %d", w[i].prefix, w[i].written);
        cr_expect_eq(w[i].foreign, 0, "tenant %s saw the other's quizzes", w[i].prefix);
        cr_expect_eq(w[i].stale, 0, "tenant %s missed its own writes", w[i].prefix);
    }
    /* It was one session: the pool of the shard's login holds one server connection. */
    cr_expect_eq(s_servers("quiz_shard_0", "quiz_canary"), 1);
    s_canary_wait(0, 3);
    cr_expect_eq(s_canary("leaks"), 0, "the canary found a session with a setting left on it");

    /* A stray client of the same login leaves session settings behind: in transaction mode
       its SET outlives its transaction on the one server connection. */
    char url[512];
    const char *canary_url = getenv("QUIZ_TEST_POOLER_CANARY_URL");
    const char *at = strchr(strstr(canary_url, "://") + 3, '@');
    cr_assert(at, "%s", canary_url);
    snprintf(url, sizeof url, "postgresql://quiz_shard_0%s", at);
    PGconn *stray = PQconnectdb(url);
    cr_assert_eq(PQstatus(stray), CONNECTION_OK, "%s", PQerrorMessage(stray));
    char schema[64] = "tenant_";
    size_t n = strlen(schema);
    for (const char *p = w[1].t.id; *p && n + 1 < sizeof schema; p++)
        if (*p != '-')
            schema[n++] = *p;
    schema[n] = '\0';
    char set[160];
    snprintf(set, sizeof set, "SET search_path = %s; SET statement_timeout = '1234'", schema);
    PGresult *res = PQexec(stray, set);
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQerrorMessage(stray));
    PQclear(res);
    double leaks = 0;
    for (int i = 0; i < 200 && (leaks = s_canary("leaks")) < 1; i++)
        usleep(50000);
    cr_expect_geq(leaks, 1, "the canary did not see the leaked settings");
    /* Tenant A's requests on that session still see A's quizzes only. */
    http_resp_t r;
    cr_assert_eq(
        api_call(&S, &r, "GET", "/api/quizzes?limit=100", w[0].t.id, w[0].t.token, NULL, NULL), 200,
        "%s", r.body);
    cr_expect(strstr(r.body, "\"A-0\"") && !strstr(r.body, "\"B-"), "%s", r.body);
    http_resp_clear(&r);
    /* Once the stray client resets them, the canary finds the session clean again. */
    res = PQexec(stray, "RESET ALL");
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQerrorMessage(stray));
    PQclear(res);
    PQfinish(stray);
    usleep(200000); /* a check already under way may still see them */
    leaks = s_canary("leaks");
    s_canary_wait(s_canary("checks"), 3);
    cr_expect_eq(s_canary("leaks"), leaks, "the session stayed dirty after RESET ALL");
}
