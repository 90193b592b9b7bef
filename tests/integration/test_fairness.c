/* Per-tenant fairness at the gateway (--tenant-rate, gateway/gw_http.c): past its requests per
 * second a tenant is answered 429 with Retry-After until the second is over, while another
 * tenant on the same gateway and the platform's own calls go on being served. The gateway runs
 * with a rate of 10. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/helpers/api.h"
#include "tests/helpers/cmd.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

static qstack_t S;
static const char *const s_gateway_args[] = {"--tenant-rate", "10", NULL};

static void setup(void)
{
    cr_assert_eq(stack_start_with(&S, 2, s_gateway_args), 0, "stack did not start");
}
static void teardown(void)
{
    stack_suite_fini(&S);
}

TestSuite(fairness, .init = setup, .fini = teardown, .timeout = 60);

Test(fairness, a_tenant_past_its_rate_gets_429_and_its_neighbour_is_served)
{
    api_tenant_t a, b;
    api_tenant(&S, &a);
    api_tenant(&S, &b);
    usleep(1100000); /* the set-up's requests counted in a second of their own */
    int ok = 0, limited = 0;
    long first_429 = -1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 40; i++) {
        http_resp_t r;
        long st = api_call(&S, &r, "GET", "/api/users/me", a.id, a.token, NULL, NULL);
        if (st == 200) {
            ok++;
        } else {
            cr_expect_eq(st, 429, "%s", r.body);
            char retry[16] = "";
            cr_expect_eq(http_header(&r, "Retry-After", retry, sizeof retry), 0);
            cr_expect_str_eq(retry, "1");
            cr_expect(strstr(r.body, "/problems/rate_limited"), "%s", r.body);
            if (first_429 < 0)
                first_429 = i;
            limited++;
        }
        http_resp_clear(&r);
    }
    /* A burst of 10 (at least, a tenth of the rate), then one each 100 ms; each 429 is held
       250 ms. */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_expect_geq(secs, 1.0, "the 429s did not wait (%.2f s)", secs);
    cr_expect_geq(ok, 10, "%d served in %.2f s", ok, secs);
    cr_expect_leq(ok, 11 + (int)(10 * secs), "%d served in %.2f s past a rate of 10", ok, secs);
    cr_expect_eq(ok + limited, 40);
    cr_expect_geq(first_429, 10, "refused before its burst was spent");
    /* Its neighbour and the operator are not held to A's budget. */
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", b.id, b.token, NULL), 200);
    char url[256];
    http_url(url, sizeof url, S.url, "/api/tenants/%s", a.id);
    const char *h[] = {S.auth, NULL};
    http_resp_t r;
    cr_expect_eq(http_do(&r, "GET", url, NULL, h), 200, "%s", r.body);
    http_resp_clear(&r);
    /* A second later, A's budget is back. */
    usleep(1100000);
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", a.id, a.token, NULL), 200);
}

/* A noisy neighbour on one shard (worker/wk_server.c, --tenant-share): tenant A floods with 64
 * connections while B reads at its usual pace (one connection). Without the share B's requests
 * queue behind all of A's in the worker (measured: a few percent of B's solo throughput); with
 * it a thread that frees goes to B's request first while A holds its half. Recorded: B's
 * throughput and p99, solo and beside the flood. wrk drives both (the gateway's own per-tenant
 * rate is off here, and it has threads for every connection). */
static qstack_t N;
static const char *const s_neighbour_gateway[] = {"--tenant-rate", "0", "--threads", "128", NULL};
static const char *const s_neighbour_worker[] = {"--metrics-listen", "127.0.0.1:0", NULL};

static void neighbour_setup(void)
{
    cr_assert_eq(stack_start_opts(&N, 1, s_neighbour_gateway, s_neighbour_worker), 0,
                 "stack did not start");
}
static void neighbour_teardown(void)
{
    stack_suite_fini(&N);
}

typedef struct {
    double rps, p99_ms;
    long requests, bad; /* bad: non-2xx answers and socket errors */
} wrk_t;

/* wrk's figure after `label` in its output (ms for latencies), or -1. */
static double s_wrk_figure(const char *out, const char *label)
{
    const char *p = strstr(out, label);
    if (!p)
        return -1;
    char unit[8] = "";
    double v;
    if (sscanf(p + strlen(label), " %lf%7s", &v, unit) < 1)
        return -1;
    return strcmp(unit, "us") == 0 ? v / 1000 : strcmp(unit, "s") == 0 ? v * 1000 : v;
}

/* Runs wrk against the tenant's quiz for `seconds` with `conns` connections, each pausing
 * pause_ms between requests (0: none). */
static void s_wrk(const qstack_t *s, const api_tenant_t *t, const char *quiz, int conns,
                  int seconds, int pause_ms, wrk_t *w)
{
    char cmd[2048], out[8192], script[200] = "";
    if (pause_ms > 0) {
        snprintf(script, sizeof script, "%s/pause.lua", s->dir);
        FILE *f = fopen(script, "w");
        cr_assert(f);
        fprintf(f, "function delay() return %d end\n", pause_ms);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd,
             "wrk -t%d -c%d -d%ds --timeout 10s --latency %s%s -H 'X-Tenant-ID: %s'"
             " -H 'Authorization: Bearer %s' %s/api/quizzes/%s 2>&1",
             conns > 1 ? 2 : 1, conns, seconds, *script ? "-s " : "", script, t->id, t->token,
             s->url, quiz);
    cr_assert_eq(cmd_run(cmd, out, sizeof out, NULL), 0, "%s", out);
    const char *req = strstr(out, " requests in ");
    cr_assert(req, "%s", out);
    while (req > out && req[-1] != '\n' && req[-1] != ' ')
        req--;
    w->requests = atol(req);
    w->rps = s_wrk_figure(out, "Requests/sec:");
    /* The distribution's line, "     99%   13.15ms": with its space, never a "+/- Stdev" column
       such as "94.99%" (printed with two decimals), which "99%" alone matched. */
    w->p99_ms = s_wrk_figure(out, " 99%");
    double non2xx = s_wrk_figure(out, "Non-2xx or 3xx responses:");
    w->bad = non2xx > 0 ? (long)non2xx : 0;
    if (strstr(out, "Socket errors"))
        w->bad++;
    cr_assert(w->rps > 0 && w->p99_ms > 0, "%s", out);
}

static void s_quiz(const qstack_t *s, const api_tenant_t *t, char *id)
{
    http_resp_t r;
    cr_assert_eq(
        api_call(s, &r, "POST", "/api/quizzes", t->id, t->token, "{\"title\":\"Q\"}", NULL), 201,
        "%s", r.body);
    api_field(&r, "id", id, 37);
    http_resp_clear(&r);
}

/* quiz_worker_tenant_share_deferred_total from the worker's /metrics. */
static long s_deferred(void)
{
    double v =
        http_metric(N.metrics_port[0], "quiz_worker_tenant_share_deferred_total{shard=\"0\"}");
    cr_assert_geq(v, 0, "no share series");
    return (long)v;
}

/* B's reads solo, then beside A's flood of 64 connections (a second longer on each side);
 * A's throughput (of every answer) in *flood_rps. */
static void s_neighbour(const qstack_t *s, int b_conns, int b_pause_ms, wrk_t *solo, wrk_t *beside,
                        double *flood_rps)
{
    api_tenant_t a, b;
    api_tenant(s, &a);
    api_tenant(s, &b);
    char qa[37], qb[37];
    s_quiz(s, &a, qa);
    s_quiz(s, &b, qb);
    s_wrk(s, &b, qb, b_conns, 3, b_pause_ms, solo);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "wrk -t2 -c64 -d5s --timeout 10s -H 'X-Tenant-ID: %s' -H 'Authorization: Bearer "
                 "%s' %s/api/quizzes/%s > %s/flood.out 2>&1",
                 a.id, a.token, s->url, qa, s->dir);
        _exit(system(cmd) == 0 ? 0 : 1);
    }
    sleep(1);
    s_wrk(s, &b, qb, b_conns, 3, b_pause_ms, beside);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "A's wrk failed");
    char path[200], out[8192] = "";
    snprintf(path, sizeof path, "%s/flood.out", s->dir);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    *flood_rps = s_wrk_figure(out, "Requests/sec:");
    cr_expect_gt(*flood_rps, 0, "%s", out);
    fprintf(stderr,
            "neighbour: B (%d conns, %d ms pauses) solo %.0f req/s p99 %.2f ms; beside A's flood "
            "(%.0f answers/s) %.0f req/s p99 %.2f ms: %.0f%% of solo, p99 %.1fx\n",
            b_conns, b_pause_ms, solo->rps, solo->p99_ms, *flood_rps, beside->rps, beside->p99_ms,
            100 * beside->rps / solo->rps, beside->p99_ms / solo->p99_ms);
    cr_expect_eq(solo->bad + beside->bad, 0, "B got errors or refusals");
}

TestSuite(neighbour, .init = neighbour_setup, .fini = neighbour_teardown, .timeout = 150);

/* One test, so that the two measurements never run beside each other (Criterion runs tests in
 * parallel). First the worker's share alone: the gateway's rate off, so A's flood reaches the
 * worker. Then the defaults: a rate of 1000/s per tenant at the gateway, whose 429s are held
 * 250 ms, and the worker's share; B reads at its own pace under its rate. */
Test(neighbour, a_flooding_tenant_leaves_its_neighbour_its_share)
{
    wrk_t solo, beside;
    double flood;
    long before = s_deferred();
    s_neighbour(&N, 1, 0, &solo, &beside, &flood);
    long after = s_deferred();
    fprintf(stderr, "neighbour: %ld of A's requests passed over for B's\n", after - before);
    cr_expect_gt(after - before, 0, "A's requests were never passed over");
    /* In the worker's arrival order B got 5% here (measured with --tenant-share 100). */
    double ratio = beside.rps / solo.rps;
    cr_expect_geq(ratio, 0.10, "B kept %.0f%% of its solo throughput", 100 * ratio);

    stack_suite_fini(&N);
    static const char *const defaults[] = {"--threads", "128", "--tenant-rate", "1000", NULL};
    cr_assert_eq(stack_start_with(&N, 1, defaults), 0, "stack did not start");
    s_neighbour(&N, 2, 4, &solo, &beside, &flood);
    /* A is answered 429, slowly, past its rate: its 64 connections get at most 1,000 + 64 × 4
       answers a second. */
    cr_expect_lt(flood, 2000, "A got %.0f answers a second", flood);
    ratio = beside.rps / solo.rps;
    double p99x = beside.p99_ms / solo.p99_ms;
    cr_expect_geq(ratio, 0.7, "B kept %.0f%% of its solo throughput", 100 * ratio);
    /* The goal is 2x; sanitizer builds on two shared cores measured 2.8-5.6x
       (make bench-neighbour measures the release build). */
    cr_expect_leq(p99x, 8, "B's p99 grew %.1fx", p99x);
}
