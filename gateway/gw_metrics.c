/* Counters behind /metrics. Fixed arrays indexed by status code and shard: no allocation and no
 * lock on the request path. */
#include "gateway/gw_metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/mem.h"
#include "common/shard.h"

static atomic_ullong s_requests[600];
static atomic_ullong s_latency_usec;
static atomic_ullong s_calls[SHARD_MAX][3];
static atomic_ullong s_redirects;

void gw_metrics_redirect(void)
{
    atomic_fetch_add_explicit(&s_redirects, 1, memory_order_relaxed);
}

void gw_metrics_request(int http_status, unsigned long long usec)
{
    if (http_status >= 100 && http_status < 600)
        atomic_fetch_add_explicit(&s_requests[http_status], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s_latency_usec, usec, memory_order_relaxed);
}

void gw_metrics_call(int shard, gw_call_t outcome)
{
    if (shard >= 0 && shard < SHARD_MAX)
        atomic_fetch_add_explicit(&s_calls[shard][outcome], 1, memory_order_relaxed);
}

char *gw_metrics_render(int nshards)
{
    static const char *const outcome[] = {"ok", "unavailable", "timeout"};
    size_t cap = 4096 + (size_t)nshards * 300, n = 0;
    char *out = mem_alloc(cap);
    n += (size_t)snprintf(out + n, cap - n,
                          "# HELP quiz_http_requests_total HTTP requests answered, by status.\n"
                          "# TYPE quiz_http_requests_total counter\n");
    for (int code = 100; code < 600 && n < cap - 200; code++) {
        unsigned long long v = atomic_load_explicit(&s_requests[code], memory_order_relaxed);
        if (v)
            n += (size_t)snprintf(out + n, cap - n, "quiz_http_requests_total{code=\"%d\"} %llu\n",
                                  code, v);
    }
    n +=
        (size_t)snprintf(out + n, cap - n,
                         "# HELP quiz_http_request_seconds_sum Time spent answering requests.\n"
                         "# TYPE quiz_http_request_seconds_sum counter\n"
                         "quiz_http_request_seconds_sum %.6f\n"
                         "# HELP quiz_shard_calls_total Calls to worker shards, by outcome.\n"
                         "# TYPE quiz_shard_calls_total counter\n",
                         (double)atomic_load_explicit(&s_latency_usec, memory_order_relaxed) / 1e6);
    for (int s = 0; s < nshards && s < SHARD_MAX && n < cap - 300; s++)
        for (int o = 0; o < 3; o++)
            n += (size_t)snprintf(
                out + n, cap - n, "quiz_shard_calls_total{shard=\"%d\",outcome=\"%s\"} %llu\n", s,
                outcome[o], atomic_load_explicit(&s_calls[s][o], memory_order_relaxed));
    if (n < cap - 200)
        n += (size_t)snprintf(out + n, cap - n,
                              "# HELP quiz_shard_redirects_total Requests sent on to the tenant's"
                              " owner after a worker named it.\n"
                              "# TYPE quiz_shard_redirects_total counter\n"
                              "quiz_shard_redirects_total %llu\n",
                              atomic_load_explicit(&s_redirects, memory_order_relaxed));
    return out;
}
