/* Per-tenant rates in the registry (PUT /api/tenants/{id}/rate, worker/wk_rate.h): a tenant
 * given 5/s is held to it by the gateway within moments (its worker rereads the overrides
 * every 100 ms here), its neighbour keeps the default, clearing it gives the default back, and
 * bad values, unknown tenants and tenants' own admins are refused without a change. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "tests/helpers/api.h"
#include "tests/helpers/cmd.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

static qstack_t R;
static const char *const s_rates_gateway[] = {"--tenant-rate", "1000", NULL};
static const char *const s_rates_worker[] = {"--rates-ms", "100", NULL};
static void rates_setup(void)
{
    cr_assert_eq(stack_start_opts(&R, 1, s_rates_gateway, s_rates_worker), 0,
                 "stack did not start");
}
static void rates_teardown(void)
{
    stack_suite_fini(&R);
}
TestSuite(rates, .init = rates_setup, .fini = rates_teardown, .timeout = 60);

static long s_put_rate(const char *tenant, const char *body, http_resp_t *r)
{
    char url[256];
    http_url(url, sizeof url, R.url, "/api/tenants/%s/rate", tenant);
    const char *h[] = {R.auth, "Content-Type: application/json", NULL};
    return http_do(r, "PUT", url, body, h);
}

/* Of n requests in a row, those answered 200 (the rest must be 429). */
static int s_served(const api_tenant_t *t, int n)
{
    int ok = 0;
    for (int i = 0; i < n; i++) {
        long st = api_status(&R, "GET", "/api/users/me", t->id, t->token, NULL);
        cr_expect(st == 200 || st == 429, "%ld", st);
        ok += st == 200;
    }
    return ok;
}

Test(rates, a_tenant_given_its_own_rate_is_held_to_it)
{
    api_tenant_t a, b;
    api_tenant(&R, &a);
    api_tenant(&R, &b);
    http_resp_t r;
    cr_assert_eq(s_put_rate(a.id, "{\"requests_per_second\":5}", &r), 200, "%s", r.body);
    json_t *doc = http_json(&r);
    cr_expect_str_eq(json_string_value(json_object_get(doc, "tenant_id")), a.id);
    cr_expect_eq(json_integer_value(json_object_get(doc, "requests_per_second")), 5, "%s", r.body);
    json_decref(doc);
    http_resp_clear(&r);
    char *v = db_value("SELECT rate_limit FROM quiz.tenants WHERE id = $1", a.id, NULL);
    cr_expect_str_eq(v, "5");
    free(v);
    v = db_value("SELECT count(*) FROM quiz.platform_audit WHERE action = 'tenant.rate'"
                 " AND tenant_id = $1 AND detail->>'requests_per_second' = '5'",
                 a.id, NULL);
    cr_expect_str_eq(v, "1");
    free(v);
    usleep(300000); /* the worker rereads the overrides; the next answer names A's */
    cr_expect_eq(api_status(&R, "GET", "/api/users/me", a.id, a.token, NULL), 200);
    usleep(1100000); /* a full bucket: the burst at 5/s is 5 */
    uint64_t t0 = clock_mono_us();
    int ok = s_served(&a, 30);
    double secs = (double)(clock_mono_us() - t0) / 1e6;
    fprintf(stderr, "rates: at 5/s, %d of 30 requests in a row served in %.1f s\n", ok, secs);
    cr_expect_geq(ok, 5, "A got less than its burst");
    cr_expect_leq(ok, 6 + (int)(5 * secs), "A was not held to its own rate (%d of 30 served)", ok);
    cr_expect_eq(s_served(&b, 30), 30, "the neighbour was held to A's rate");
    /* Cleared: the default again. */
    cr_assert_eq(s_put_rate(a.id, "{\"requests_per_second\":null}", &r), 200, "%s", r.body);
    doc = http_json(&r);
    cr_expect(json_is_null(json_object_get(doc, "requests_per_second")), "%s", r.body);
    json_decref(doc);
    http_resp_clear(&r);
    usleep(300000);
    /* The first answer let through (at 5/s, within 200 ms) names no rate any more. */
    for (int i = 0; i < 20 && api_status(&R, "GET", "/api/users/me", a.id, a.token, NULL) != 200;
         i++)
        ;
    ok = s_served(&a, 30);
    cr_expect_eq(ok, 30, "the default did not come back (%d of 30 served)", ok);
    /* Refused: out of range, not an integer, unknown members, an unknown tenant, a tenant's own
       admin. */
    const char *bad[] = {"{\"requests_per_second\":-1}",
                         "{\"requests_per_second\":1000001}",
                         "{\"requests_per_second\":\"5\"}",
                         "{\"requests_per_second\":1.5}",
                         "{}",
                         "{\"requests_per_second\":5,\"x\":1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(s_put_rate(a.id, bad[i], &r), 400, "%s: %s", bad[i], r.body);
        http_resp_clear(&r);
    }
    cr_expect_eq(
        s_put_rate("00000000-0000-4000-8000-000000000001", "{\"requests_per_second\":5}", &r), 404,
        "%s", r.body);
    http_resp_clear(&r);
    char url[256], auth[1100];
    http_url(url, sizeof url, R.url, "/api/tenants/%s/rate", a.id);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", a.token);
    const char *h[] = {auth, "Content-Type: application/json", NULL};
    long st = http_do(&r, "PUT", url, "{\"requests_per_second\":0}", h);
    cr_expect(st == 401 || st == 403, "a tenant admin set its own rate: %ld", st);
    http_resp_clear(&r);
    v = db_value("SELECT coalesce(rate_limit::text, 'null') FROM quiz.tenants WHERE id = $1", a.id,
                 NULL);
    cr_expect_str_eq(v, "null", "a refused request changed the rate");
    free(v);
}

/* The operator's tool sets and clears it through the same API. */
Test(rates, quizctl_sets_and_clears_a_tenants_rate)
{
    api_tenant_t a;
    api_tenant(&R, &a);
    char cmd[1024], out[2048];
    snprintf(cmd, sizeof cmd,
             "QUIZ_URL='%s' QUIZ_PLATFORM_TOKEN='%s' %s/quizctl tenants rate %s 7 2>&1", R.url,
             R.token, getenv("QUIZ_BIN_DIR"), a.id);
    cr_expect_eq(cmd_run(cmd, out, sizeof out, NULL), 0, "%s", out);
    char *v = db_value("SELECT coalesce(rate_limit::text, 'null') FROM quiz.tenants WHERE id = $1",
                       a.id, NULL);
    cr_expect_str_eq(v, "7");
    free(v);
    snprintf(cmd, sizeof cmd,
             "QUIZ_URL='%s' QUIZ_PLATFORM_TOKEN='%s' %s/quizctl tenants rate %s default 2>&1",
             R.url, R.token, getenv("QUIZ_BIN_DIR"), a.id);
    cr_expect_eq(cmd_run(cmd, out, sizeof out, NULL), 0, "%s", out);
    v = db_value("SELECT coalesce(rate_limit::text, 'null') FROM quiz.tenants WHERE id = $1", a.id,
                 NULL);
    cr_expect_str_eq(v, "null");
    free(v);
    snprintf(cmd, sizeof cmd,
             "QUIZ_URL='%s' QUIZ_PLATFORM_TOKEN='%s' %s/quizctl tenants rate %s lots 2>&1", R.url,
             R.token, getenv("QUIZ_BIN_DIR"), a.id);
    cr_expect_eq(cmd_run(cmd, out, sizeof out, NULL), 2, "%s", out);
}
