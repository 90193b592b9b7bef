/* Counters and histograms behind the gateway's /metrics (see gw_metrics.h). */
#include "gateway/gw_metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/metrics.h"
#include "common/shard.h"

#define ROUTES_MAX 64
#define LOCAL_MAX  8
/* Requests that matched no route keep their method, from this list ("other" past it). */
static const char *const s_methods[] = {"GET",  "POST",   "PUT",     "PATCH",
                                        "HEAD", "DELETE", "OPTIONS", "other"};
#define METHODS   (int)(sizeof s_methods / sizeof s_methods[0])
#define SLOTS_MAX (ROUTES_MAX + LOCAL_MAX + METHODS)
#define CLASSES   5 /* 1xx..5xx */

static const char *s_route[SLOTS_MAX], *s_method[SLOTS_MAX];
static int s_nroutes, s_nslots;
static metrics_hist_t s_requests[SLOTS_MAX][CLASSES];
static long long (*s_in_flight)(void *arg); /* counted by the HTTP server (gw_http.c) */
static void *s_in_flight_arg;
static atomic_ullong s_calls[SHARD_MAX][3];
static metrics_hist_t s_call_time[SHARD_MAX];
static atomic_ullong s_redirects;

void gw_metrics_init(const char *const *local, int nlocal)
{
    int n = 0;
    for (const gw_route_t *r = gw_route_table; r->method && n < ROUTES_MAX; r++, n++) {
        s_route[n] = proto_op_str(r->op);
        s_method[n] = r->method;
    }
    s_nroutes = n;
    for (int i = 0; i < nlocal && i < LOCAL_MAX; i++, n++) {
        s_route[n] = local[i];
        s_method[n] = "GET";
    }
    for (int m = 0; m < METHODS; m++, n++) {
        s_route[n] = "unmatched";
        s_method[n] = s_methods[m];
    }
    s_nslots = n;
}

int gw_metrics_route_slot(const gw_route_t *route)
{
    return (int)(route - gw_route_table);
}

int gw_metrics_local_slot(int i)
{
    return s_nroutes + i;
}

const char *gw_metrics_route_name(int slot)
{
    return slot >= 0 && slot < s_nslots ? s_route[slot] : "unmatched";
}

void gw_metrics_in_flight_from(long long (*count)(void *arg), void *arg)
{
    s_in_flight = count;
    s_in_flight_arg = arg;
}

static long long s_in_flight_now(void)
{
    return s_in_flight ? s_in_flight(s_in_flight_arg) : 0;
}

void gw_metrics_request(int slot, const char *method, int http_status, uint64_t usec)
{
    if (slot < 0 || slot >= s_nslots - METHODS) {
        int m = 0;
        while (m < METHODS - 1 && strcmp(s_methods[m], method) != 0)
            m++;
        slot = s_nslots - METHODS + m;
    }
    int cls = http_status / 100 - 1;
    if (slot >= 0 && cls >= 0 && cls < CLASSES)
        metrics_hist_observe(&s_requests[slot][cls], usec);
}

void gw_metrics_call(int shard, gw_call_t outcome, uint64_t usec)
{
    if (shard < 0 || shard >= SHARD_MAX)
        return;
    atomic_fetch_add_explicit(&s_calls[shard][outcome], 1, memory_order_relaxed);
    metrics_hist_observe(&s_call_time[shard], usec);
}

void gw_metrics_redirect(void)
{
    atomic_fetch_add_explicit(&s_redirects, 1, memory_order_relaxed);
}

void gw_metrics_totals(uint64_t *requests, uint64_t *errors, long long *in_flight)
{
    *requests = *errors = 0;
    for (int s = 0; s < s_nslots; s++)
        for (int c = 0; c < CLASSES; c++) {
            uint64_t n = metrics_hist_count(&s_requests[s][c]);
            *requests += n;
            if (c == 4)
                *errors += n;
        }
    *in_flight = s_in_flight_now();
}

void gw_metrics_shard_totals(int shard, uint64_t calls[3], uint64_t *buckets)
{
    for (int o = 0; o < 3; o++)
        calls[o] =
            shard < SHARD_MAX ? atomic_load_explicit(&s_calls[shard][o], memory_order_relaxed) : 0;
    for (int b = 0; b <= METRICS_BUCKETS; b++)
        buckets[b] = shard < SHARD_MAX
                         ? atomic_load_explicit(&s_call_time[shard].bucket[b], memory_order_relaxed)
                         : 0;
}

/* Each label set that has seen a request: its count, or (hist) its histogram. */
static void s_requests_render(metrics_text_t *t, bool hist)
{
    for (int s = 0; s < s_nslots; s++)
        for (int c = 0; c < CLASSES; c++) {
            uint64_t n = metrics_hist_count(&s_requests[s][c]);
            if (!n)
                continue;
            char labels[160];
            snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\",code_class=\"%dxx\"",
                     s_route[s], s_method[s], c + 1);
            if (hist)
                metrics_hist_render(t, "quiz_http_request_duration_seconds", labels,
                                    &s_requests[s][c]);
            else
                metrics_printf(t, "quiz_http_requests_total{%s} %llu\n", labels,
                               (unsigned long long)n);
        }
}

char *gw_metrics_render(int nshards)
{
    static const char *const outcome[] = {"ok", "unavailable", "timeout"};
    metrics_text_t t = {0};
    metrics_family(&t, "quiz_http_requests_total", "counter",
                   "HTTP requests answered, by route, method and status class.");
    s_requests_render(&t, false);
    metrics_family(&t, "quiz_http_request_duration_seconds", "histogram",
                   "Time from a request's arrival to its answer, by route, method and status"
                   " class.");
    s_requests_render(&t, true);
    metrics_family(&t, "quiz_http_requests_in_flight", "gauge", "HTTP requests being answered.");
    metrics_printf(&t, "quiz_http_requests_in_flight %lld\n", s_in_flight_now());
    if (nshards > SHARD_MAX)
        nshards = SHARD_MAX;
    metrics_family(&t, "quiz_shard_calls_total", "counter",
                   "Calls to worker shards, by outcome (unavailable: no worker connected;"
                   " timeout: the deadline passed).");
    for (int s = 0; s < nshards; s++)
        for (int o = 0; o < 3; o++)
            metrics_printf(&t, "quiz_shard_calls_total{shard=\"%d\",outcome=\"%s\"} %llu\n", s,
                           outcome[o], atomic_load_explicit(&s_calls[s][o], memory_order_relaxed));
    metrics_family(&t, "quiz_shard_call_duration_seconds", "histogram",
                   "Time from sending a call to a shard to its answer (or giving up).");
    for (int s = 0; s < nshards; s++) {
        char labels[24];
        snprintf(labels, sizeof labels, "shard=\"%d\"", s);
        metrics_hist_render(&t, "quiz_shard_call_duration_seconds", labels, &s_call_time[s]);
    }
    metrics_family(&t, "quiz_shard_redirects_total", "counter",
                   "Requests sent on to the tenant's owner after a worker named it.");
    metrics_printf(&t, "quiz_shard_redirects_total %llu\n",
                   atomic_load_explicit(&s_redirects, memory_order_relaxed));
    metrics_process(&t);
    metrics_printf(&t, "%s", ""); /* a buffer even if nothing was written */
    return t.buf;
}
