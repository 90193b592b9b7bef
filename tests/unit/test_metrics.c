/* Prometheus exposition pieces: histogram buckets are cumulative and end in +Inf = _count; the
 * top-K sketch names the heaviest tenants and bounds its list; the gateway labels a request by
 * its route's operation name and counts it once. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "common/topk.h"
#include "gateway/gw_metrics.h"

Test(metrics, histogram_buckets_are_cumulative_and_count_every_observation)
{
    static metrics_hist_t h;
    metrics_hist_observe(&h, 700);      /* 0.7 ms: in le=0.001 */
    metrics_hist_observe(&h, 20000);    /* 20 ms: le=0.025 */
    metrics_hist_observe(&h, 60000000); /* a minute: only +Inf */
    cr_expect_eq(metrics_hist_count(&h), 3);
    metrics_text_t t = {0};
    metrics_hist_render(&t, "x_seconds", "a=\"b\"", &h);
    cr_expect(strstr(t.buf, "x_seconds_bucket{a=\"b\",le=\"0.0005\"} 0\n"), "%s", t.buf);
    cr_expect(strstr(t.buf, "x_seconds_bucket{a=\"b\",le=\"0.001\"} 1\n"), "%s", t.buf);
    cr_expect(strstr(t.buf, "x_seconds_bucket{a=\"b\",le=\"0.025\"} 2\n"), "%s", t.buf);
    cr_expect(strstr(t.buf, "x_seconds_bucket{a=\"b\",le=\"10\"} 2\n"), "%s", t.buf);
    cr_expect(strstr(t.buf, "x_seconds_bucket{a=\"b\",le=\"+Inf\"} 3\n"), "%s", t.buf);
    cr_expect(strstr(t.buf, "x_seconds_sum{a=\"b\"} 60.020700\n"), "%s", t.buf);
    cr_expect(strstr(t.buf, "x_seconds_count{a=\"b\"} 3\n"), "%s", t.buf);
    free(t.buf);
}

Test(metrics, the_sketch_names_the_heaviest_tenants_and_no_more_than_k)
{
    topk_t *k = topk_new(2);
    uint8_t heavy[16] = {1}, second[16] = {2}, other[16] = {3};
    for (int i = 0; i < 100; i++) {
        topk_add(k, heavy, 10);
        if (i % 2 == 0)
            topk_add(k, second, 1);
        /* 100 distinct light tenants, far more than the 8 entries kept */
        other[1] = (uint8_t)i;
        topk_add(k, other, 0);
    }
    topk_entry_t top[TOPK_MAX];
    uint64_t total, usec;
    int n = topk_top(k, top, &total, &usec);
    cr_assert_eq(n, 2);
    cr_expect_eq(memcmp(top[0].tenant, heavy, 16), 0);
    cr_expect_eq(top[0].requests, 100);
    cr_expect_eq(top[0].usec, 1000);
    cr_expect_eq(memcmp(top[1].tenant, second, 16), 0);
    cr_expect_geq(top[1].requests, 50);
    cr_expect_eq(total, 250);
    cr_expect_eq(usec, 1050);
    topk_destroy(&k);
    cr_expect_null(k);
}

Test(metrics, the_gateway_counts_a_request_under_its_route_name_once)
{
    const char *local[] = {"healthz"};
    gw_metrics_init(local, 1);
    const gw_route_t *get = NULL;
    for (const gw_route_t *r = gw_route_table; r->method; r++)
        if (r->op == PROTO_OP_QUIZ_GET)
            get = r;
    cr_assert(get);
    gw_metrics_request(gw_metrics_route_slot(get), "GET", 200, 1500);
    gw_metrics_request(GW_METRICS_UNMATCHED, "BREW", 404, 100);
    gw_metrics_request(gw_metrics_local_slot(0), "GET", 200, 100);
    char *text = gw_metrics_render(2);
    cr_expect(strstr(text, "quiz_http_requests_total{route=\"quiz_get\",method=\"GET\","
                           "code_class=\"2xx\"} 1\n"),
              "%s", text);
    cr_expect(strstr(text, "quiz_http_request_duration_seconds_bucket{route=\"quiz_get\","
                           "method=\"GET\",code_class=\"2xx\",le=\"0.001\"} 0\n"),
              "%s", text);
    cr_expect(strstr(text, "quiz_http_request_duration_seconds_bucket{route=\"quiz_get\","
                           "method=\"GET\",code_class=\"2xx\",le=\"0.0025\"} 1\n"),
              "%s", text);
    cr_expect(strstr(text, "quiz_http_requests_total{route=\"unmatched\",method=\"other\","
                           "code_class=\"4xx\"} 1\n"),
              "%s", text);
    cr_expect(strstr(text, "quiz_http_requests_total{route=\"healthz\",method=\"GET\","
                           "code_class=\"2xx\"} 1\n"),
              "%s", text);
    cr_expect(strstr(text, "quiz_http_requests_in_flight 0\n"), "%s", text);
    cr_expect(strstr(text, "process_open_fds "), "%s", text);
    free(text);
}
