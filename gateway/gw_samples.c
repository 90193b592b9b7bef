/* Samples of the gateway's traffic for the dashboard (see gw_samples.h). */
#include "gateway/gw_samples.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/mem.h"
#include "common/ident.h"
#include "common/metrics.h"
#include "common/shard.h"
#include "common/topk.h"
#include "gateway/gw_metrics.h"

#define TOP_TENANTS 10

typedef struct {
    uint64_t calls, failed;
    double p99_ms; /* < 0: no call in the interval */
} shard_sample_t;

typedef struct {
    int64_t t; /* Unix seconds at the end of the interval */
    uint64_t requests, errors;
    long long in_flight;
} sample_t;

/* The running totals a sample is the difference of. */
typedef struct {
    uint64_t requests, errors;
    uint64_t calls[SHARD_MAX][3];
    uint64_t buckets[SHARD_MAX][METRICS_BUCKETS + 1];
} totals_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static sample_t s_ring[GW_SAMPLES_KEPT];
/* Row i holds the s_nshards shard samples of s_ring[i]. (Rows of SHARD_MAX, in s_ring, made it
   2 MiB, touched page by page over its first 15 minutes: the gateway seemed to grow.) */
static shard_sample_t *s_ring_shards;
static int s_head, s_count, s_nshards;
static totals_t s_last;
static uint64_t s_last_ms, s_every_ms = 10000;
static topk_t *s_top;

/* The shard samples of s_ring[slot]. */
static shard_sample_t *s_shards_of(int slot)
{
    return &s_ring_shards[(size_t)slot * (size_t)s_nshards];
}

static void s_read_totals(totals_t *t, long long *in_flight)
{
    gw_metrics_totals(&t->requests, &t->errors, in_flight);
    for (int k = 0; k < s_nshards; k++)
        gw_metrics_shard_totals(k, t->calls[k], t->buckets[k]);
}

void gw_samples_init(int nshards, int every_ms)
{
    s_every_ms = (uint64_t)every_ms;
    s_nshards = nshards < SHARD_MAX ? nshards : SHARD_MAX;
    s_top = topk_new(TOP_TENANTS);
    s_ring_shards = mem_zalloc(sizeof *s_ring_shards * GW_SAMPLES_KEPT * (size_t)s_nshards);
    long long in_flight;
    s_read_totals(&s_last, &in_flight);
    s_last_ms = clock_mono_us() / 1000;
}

void gw_samples_fini(void)
{
    topk_destroy(&s_top);
    free(s_ring_shards);
    s_ring_shards = NULL;
}

void gw_samples_tenant(const uint8_t tenant[16])
{
    if (s_top)
        topk_add(s_top, tenant, 0);
}

/* The 99th percentile (ms) of the observations counted in delta[], interpolated within its
 * bucket; -1 with none. */
static double s_p99(const uint64_t *delta)
{
    uint64_t total = 0, seen = 0;
    for (int b = 0; b <= METRICS_BUCKETS; b++)
        total += delta[b];
    if (!total)
        return -1;
    double rank = 0.99 * (double)total;
    for (int b = 0; b <= METRICS_BUCKETS; b++) {
        if (delta[b] && (double)(seen + delta[b]) >= rank) {
            double lo = b ? metrics_bucket_le[b - 1] : 0;
            double hi = b < METRICS_BUCKETS ? metrics_bucket_le[b] : lo;
            return 1000 * (lo + (hi - lo) * (rank - (double)seen) / (double)delta[b]);
        }
        seen += delta[b];
    }
    return 1000 * metrics_bucket_le[METRICS_BUCKETS - 1];
}

void gw_samples_tick(void)
{
    uint64_t now = clock_mono_us() / 1000;
    if (now - s_last_ms < s_every_ms)
        return;
    s_last_ms = now;
    totals_t cur;
    sample_t smp = {.t = (int64_t)time(NULL)};
    s_read_totals(&cur, &smp.in_flight);
    smp.requests = cur.requests - s_last.requests;
    smp.errors = cur.errors - s_last.errors;
    pthread_mutex_lock(&s_lock);
    int slot = (s_head + s_count) % GW_SAMPLES_KEPT;
    s_ring[slot] = smp;
    shard_sample_t *shards = s_shards_of(slot);
    for (int k = 0; k < s_nshards; k++) {
        uint64_t delta[METRICS_BUCKETS + 1];
        for (int b = 0; b <= METRICS_BUCKETS; b++)
            delta[b] = cur.buckets[k][b] - s_last.buckets[k][b];
        uint64_t ok = cur.calls[k][0] - s_last.calls[k][0];
        shards[k].failed =
            cur.calls[k][1] - s_last.calls[k][1] + cur.calls[k][2] - s_last.calls[k][2];
        shards[k].calls = ok + shards[k].failed;
        shards[k].p99_ms = s_p99(delta);
    }
    s_last = cur;
    if (s_count < GW_SAMPLES_KEPT)
        s_count++;
    else
        s_head = (s_head + 1) % GW_SAMPLES_KEPT;
    pthread_mutex_unlock(&s_lock);
}

char *gw_samples_json(void)
{
    json_t *samples = json_array();
    pthread_mutex_lock(&s_lock);
    for (int i = 0; i < s_count; i++) {
        int slot = (s_head + i) % GW_SAMPLES_KEPT;
        const sample_t *smp = &s_ring[slot];
        const shard_sample_t *row = s_shards_of(slot);
        json_t *shards = json_array();
        for (int k = 0; k < s_nshards; k++) {
            const shard_sample_t *sh = &row[k];
            json_array_append_new(
                shards, json_pack("{s:i, s:I, s:I, s:o}", "shard", k, "calls",
                                  (json_int_t)sh->calls, "failed", (json_int_t)sh->failed, "p99_ms",
                                  sh->p99_ms < 0 ? json_null() : json_real(sh->p99_ms)));
        }
        json_array_append_new(
            samples, json_pack("{s:I, s:I, s:I, s:I, s:o}", "t", (json_int_t)smp->t, "requests",
                               (json_int_t)smp->requests, "errors", (json_int_t)smp->errors,
                               "in_flight", (json_int_t)smp->in_flight, "shards", shards));
    }
    pthread_mutex_unlock(&s_lock);
    json_t *top = json_array();
    if (s_top) {
        topk_entry_t e[TOPK_MAX];
        uint64_t total, usec;
        int n = topk_top(s_top, e, &total, &usec);
        for (int i = 0; i < n; i++) {
            char id[IDENT_UUID_STR_LEN + 1];
            ident_uuid_format(e[i].tenant, id);
            json_array_append_new(top, json_pack("{s:s, s:I}", "tenant_id", id, "requests",
                                                 (json_int_t)e[i].requests));
        }
    }
    json_t *doc = json_pack("{s:f, s:o, s:o}", "interval_s", (double)s_every_ms / 1000, "samples",
                            samples, "top_tenants", top);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}
