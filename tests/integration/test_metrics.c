/* /metrics of the gateway and of each worker after real traffic: accepted by `promtool check
 * metrics` (Debian package prometheus), labelled by route name (never the raw path), a request
 * counted once in its route's histogram and in its worker's counters, and the per-tenant series
 * bounded by --metrics-top however many tenants there are. A worker's /healthz there answers 503
 * while a database thread is stalled (what also stops its systemd watchdog pings). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

static qstack_t S;
#define TOP 3
static const char *const s_worker_args[] = {
    "--metrics-listen", "127.0.0.1:0", "--metrics-top", "3", "--stall-ms", "1000", NULL};

static const char *const s_gateway_args[] = {"--samples-ms", "200", NULL};

static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    cr_assert_eq(stack_start_opts(&S, 2, s_gateway_args, s_worker_args), 0, "stack did not start");
}
static void teardown(void)
{
    stack_suite_fini(&S);
}

TestSuite(metrics, .init = setup, .fini = teardown, .timeout = 120);

/* GET base/metrics; the body is the caller's to free. */
static char *s_scrape(const char *base, bool gateway)
{
    char url[128];
    http_resp_t r;
    http_url(url, sizeof url, base, "/metrics");
    cr_assert_eq(gateway ? http_do(&r, "GET", url, NULL, NULL) : http_get_unrecorded(&r, url), 200,
                 "%s", url);
    char type[80] = "";
    http_header(&r, "Content-Type", type, sizeof type);
    cr_expect(strncmp(type, "text/plain; version=0.0.4", 25) == 0, "%s", type);
    char *body = strdup(r.body);
    http_resp_clear(&r);
    return body;
}

static char *s_scrape_worker(int shard)
{
    cr_assert_gt(S.metrics_port[shard], 0, "worker %d named no metrics port", shard);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", S.metrics_port[shard]);
    return s_scrape(base, false);
}

/* promtool's verdict on the text; its complaints go to the test's log. */
static int s_promtool(const char *text)
{
    char path[200], cmd[300];
    snprintf(path, sizeof path, "%s/scrape.txt", S.dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    return system(cmd);
}

/* The value of the series written exactly as `series` ("name{labels}"), or -1 if absent. */
static double s_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)); p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return atof(p + n + 1);
    return -1;
}

/* Lines that start with `prefix`. */
static int s_count_lines(const char *text, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        n += strncmp(p, prefix, len) == 0;
    return n;
}

/* A quiz of t's; its id into id (37 bytes). */
static void s_quiz(const api_tenant_t *t, char *id)
{
    http_resp_t r;
    cr_assert_eq(
        api_call(&S, &r, "POST", "/api/quizzes", t->id, t->token, "{\"title\":\"M\"}", NULL), 201,
        "%s", r.body);
    api_field(&r, "id", id, 37);
    http_resp_clear(&r);
}

/* A new tenant *t that creates a quiz (its id into quiz) and reads it once. */
static void s_read_a_quiz(api_tenant_t *t, char quiz[37])
{
    api_tenant(&S, t);
    s_quiz(t, quiz);
    char path[80];
    snprintf(path, sizeof path, "/api/quizzes/%s", quiz);
    cr_assert_eq(api_status(&S, "GET", path, t->id, t->token, NULL), 200);
}

Test(metrics, the_gateway_counts_a_request_once_by_route_name_and_promtool_accepts_it)
{
    api_tenant_t t;
    char quiz[37];
    s_read_a_quiz(&t, quiz);
    cr_assert_eq(api_status(&S, "GET", "/api/no/such/thing", t.id, t.token, NULL), 404);
    char *text = s_scrape(S.url, true);
    const char *get = "route=\"quiz_get\",method=\"GET\",code_class=\"2xx\"";
    char series[200];
    snprintf(series, sizeof series, "quiz_http_requests_total{%s}", get);
    cr_expect_eq(s_value(text, series), 1, "%s", text);
    snprintf(series, sizeof series, "quiz_http_request_duration_seconds_count{%s}", get);
    cr_expect_eq(s_value(text, series), 1);
    snprintf(series, sizeof series, "quiz_http_request_duration_seconds_bucket{%s,le=\"+Inf\"}",
             get);
    cr_expect_eq(s_value(text, series), 1);
    cr_expect_eq(s_value(text, "quiz_http_requests_total{route=\"unmatched\",method=\"GET\","
                               "code_class=\"4xx\"}"),
                 1, "%s", text);
    cr_expect_eq(s_value(text, "quiz_http_requests_total{route=\"auth_login\",method=\"POST\","
                               "code_class=\"2xx\"}"),
                 2); /* api_tenant: the temporary password, then the new one */
    snprintf(series, sizeof series, "quiz_shard_calls_total{shard=\"%d\",outcome=\"ok\"}", t.shard);
    cr_expect_geq(s_value(text, series), 5);
    cr_expect_eq(s_value(text, "quiz_http_requests_in_flight"), 1, "the scrape itself");
    cr_expect_gt(s_value(text, "process_resident_memory_bytes"), 1e6);
    cr_expect_gt(s_value(text, "process_open_fds"), 3);
    cr_expect(strstr(text, quiz) == NULL, "no raw path or id in a label");
    cr_expect_eq(s_promtool(text), 0, "promtool check metrics rejected:\n%s", text);
    free(text);
}

Test(metrics, each_worker_serves_its_own_metrics_with_its_shard_and_promtool_accepts_them)
{
    api_tenant_t t;
    char quiz[37];
    s_read_a_quiz(&t, quiz);
    for (int k = 0; k < 2; k++) {
        char *text = s_scrape_worker(k);
        char series[200];
        snprintf(series, sizeof series,
                 "quiz_worker_requests_total{shard=\"%d\",op=\"quiz_get\",status=\"ok\"}", k);
        cr_expect_eq(s_value(text, series), k == t.shard ? 1 : -1, "shard %d:\n%s", k, text);
        snprintf(series, sizeof series, "quiz_worker_registry_up{shard=\"%d\"}", k);
        cr_expect_eq(s_value(text, series), 1);
        snprintf(series, sizeof series, "quiz_worker_placement_epoch{shard=\"%d\"}", k);
        cr_expect_geq(s_value(text, series), 0);
        snprintf(series, sizeof series, "quiz_worker_db_connections{shard=\"%d\"}", k);
        cr_expect_geq(s_value(text, series), 3, "every serving thread is connected");
        snprintf(series, sizeof series, "quiz_worker_threads{shard=\"%d\",lane=\"requests\"}", k);
        cr_expect_eq(s_value(text, series), 3);
        snprintf(series, sizeof series,
                 "quiz_worker_db_transaction_duration_seconds_count{shard=\"%d\"}", k);
        cr_expect_gt(s_value(text, series), 0);
        if (k == t.shard) {
            snprintf(series, sizeof series,
                     "quiz_worker_tenant_requests_total{shard=\"%d\",tenant=\"%s\"}", k, t.id);
            cr_expect_geq(s_value(text, series), 5, "%s", text);
        }
        cr_expect_eq(s_promtool(text), 0, "promtool check metrics rejected shard %d:\n%s", k, text);
        free(text);
    }
}

Test(metrics, per_tenant_series_stay_bounded_and_the_heaviest_tenant_is_named)
{
    enum { TENANTS = 10 };
    api_tenant_t t[TENANTS];
    for (int i = 0; i < TENANTS; i++)
        api_tenant(&S, &t[i]);
    for (int i = 0; i < 40; i++) /* t[0] is by far the heaviest */
        cr_assert_eq(api_status(&S, "GET", "/api/users/me", t[0].id, t[0].token, NULL), 200);
    for (int k = 0; k < 2; k++) {
        char *text = s_scrape_worker(k);
        char prefix[80], series[200];
        snprintf(prefix, sizeof prefix, "quiz_worker_tenant_requests_total{shard=\"%d\",", k);
        int named = s_count_lines(text, prefix) - 1;
        cr_expect_leq(named, TOP, "shard %d names %d tenants:\n%s", k, named, text);
        snprintf(series, sizeof series,
                 "quiz_worker_tenant_requests_total{shard=\"%d\",tenant=\"other\"}", k);
        cr_expect_geq(s_value(text, series), 0, "one other series");
        snprintf(prefix, sizeof prefix, "quiz_worker_tenant_db_seconds_total{shard=\"%d\",", k);
        cr_expect_eq(s_count_lines(text, prefix), named + 1);
        if (k == t[0].shard) {
            snprintf(series, sizeof series,
                     "quiz_worker_tenant_requests_total{shard=\"%d\",tenant=\"%s\"}", k, t[0].id);
            cr_expect_geq(s_value(text, series), 40, "%s", text);
        }
        free(text);
    }
}

/* GET /healthz on a worker's metrics port: the status. */
static long s_worker_health(int shard)
{
    char url[80];
    http_resp_t r;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", S.metrics_port[shard]);
    long st = http_get_unrecorded(&r, url);
    http_resp_clear(&r);
    return st;
}

/* Polls the worker's /healthz until it answers `want` (up to 4 s): the milliseconds waited, or
 * -1. */
static long s_wait_health(int shard, long want)
{
    for (int ms = 0; ms < 4000; ms += 50) {
        if (s_worker_health(shard) == want)
            return ms;
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    return -1;
}

typedef struct {
    const char *tenant;
    long status;
} stats_call_t;

static void *s_stats_call(void *arg)
{
    stats_call_t *c = arg;
    char url[128];
    http_resp_t r;
    http_url(url, sizeof url, S.url, "/api/tenants/%s/stats", c->tenant);
    const char *h[] = {S.auth, NULL};
    c->status = http_do(&r, "GET", url, NULL, h);
    http_resp_clear(&r);
    return NULL;
}

Test(metrics, a_stalled_database_thread_makes_the_workers_healthz_503_until_it_is_free)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    cr_assert_eq(s_worker_health(t.shard), 200);
    PGconn *lock = db_lock_counts(t.id);
    stats_call_t call = {t.id, 0};
    pthread_t th;
    pthread_create(&th, NULL, s_stats_call, &call);
    db_wait_blocked(S.app);
    /* --stall-ms 1000: within about a second of the request, the worker is not healthy. */
    long waited = s_wait_health(t.shard, 503);
    cr_expect_geq(waited, 0, "the stalled worker still said it was healthy");
    cr_expect_eq(s_worker_health(1 - t.shard), 200, "the other shard is not stalled");
    db_unlock(lock);
    pthread_join(th, NULL);
    cr_expect_eq(call.status, 200);
    cr_expect_geq(s_wait_health(t.shard, 200), 0, "healthy again once the thread is free");
}

Test(metrics, the_dashboards_samples_count_requests_and_name_the_busiest_tenant)
{
    char url[128];
    http_resp_t r;
    http_url(url, sizeof url, S.url, "/api/gateway/samples");
    cr_expect_eq(http_do(&r, "GET", url, NULL, NULL), 401, "the platform's only");
    http_resp_clear(&r);
    api_tenant_t t;
    api_tenant(&S, &t);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(api_status(&S, "GET", "/api/users/me", t.id, t.token, NULL), 200);
    nanosleep(&(struct timespec){1, 0}, NULL); /* a few samples of 200 ms */
    const char *h[] = {S.auth, NULL};
    cr_assert_eq(http_do(&r, "GET", url, NULL, h), 200, "%s", r.body);
    json_t *j = http_json(&r);
    json_t *samples = json_object_get(j, "samples");
    cr_assert_geq(json_array_size(samples), 2, "%s", r.body);
    json_int_t requests = 0, calls = 0;
    size_t i;
    json_t *smp;
    json_array_foreach (samples, i, smp) {
        requests += json_integer_value(json_object_get(smp, "requests"));
        json_t *sh = json_array_get(json_object_get(smp, "shards"), (size_t)t.shard);
        calls += json_integer_value(json_object_get(sh, "calls"));
    }
    cr_expect_geq(requests, 9, "api_tenant's 4 and the 5 reads: %s", r.body);
    cr_expect_geq(calls, 8, "all but the creation went to its shard");
    json_t *top = json_array_get(json_object_get(j, "top_tenants"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(top, "tenant_id")), t.id);
    cr_expect_geq(json_integer_value(json_object_get(top, "requests")), 8);
    json_decref(j);
    http_resp_clear(&r);
}
