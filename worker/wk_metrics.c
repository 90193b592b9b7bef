/* The worker's counters and its /metrics endpoint (see wk_metrics.h). */
#include "worker/wk_metrics.h"

#include <civetweb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/ident.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/metrics.h"
#include "common/topk.h"
#include "worker/wk_db.h"

static int s_shard;
static atomic_ullong s_requests[PROTO_OP__COUNT][PROTO_STATUS__COUNT];
static metrics_hist_t s_db_time, s_password_wait;
static atomic_llong s_connections;
static atomic_ullong s_reconnects;
static atomic_ullong s_share_deferred;
static atomic_ullong s_canary_checks, s_canary_leaks;
static atomic_ullong s_cache_rounds, s_cache_failed, s_cache_reads, s_cache_hits;
static atomic_ullong s_cache_entries, s_cache_bytes;
static atomic_int s_queued[2], s_busy[2], s_threads[2];
static atomic_long s_spares = -1;
static topk_t *s_top;
static _Thread_local uint64_t s_thread_db_us;
static atomic_ullong s_heartbeat_ms;
static atomic_bool s_stalled;
#define HEARTBEAT_MAX_MS 5000 /* the loop turns at least every second while healthy */

void wk_metrics_init(int shard, int top_k)
{
    s_shard = shard;
    s_top = topk_new(top_k);
}

void wk_metrics_fini(void)
{
    topk_destroy(&s_top);
}

void wk_metrics_request(proto_op_t op, proto_status_t status, const uint8_t *tenant, uint64_t db_us)
{
    if ((unsigned)op < PROTO_OP__COUNT && (unsigned)status < PROTO_STATUS__COUNT)
        atomic_fetch_add_explicit(&s_requests[op][status], 1, memory_order_relaxed);
    if (tenant && s_top)
        topk_add(s_top, tenant, db_us);
}

void wk_metrics_db_transaction(uint64_t usec)
{
    s_thread_db_us += usec;
    metrics_hist_observe(&s_db_time, usec);
}

uint64_t wk_metrics_thread_db_us(void)
{
    return s_thread_db_us;
}

void wk_metrics_db_opened(bool reconnect)
{
    atomic_fetch_add_explicit(&s_connections, 1, memory_order_relaxed);
    if (reconnect)
        atomic_fetch_add_explicit(&s_reconnects, 1, memory_order_relaxed);
}

void wk_metrics_db_closed(void)
{
    atomic_fetch_sub_explicit(&s_connections, 1, memory_order_relaxed);
}

void wk_metrics_share_deferred(void)
{
    atomic_fetch_add_explicit(&s_share_deferred, 1, memory_order_relaxed);
}

void wk_metrics_cache_round(bool ok, int reads, int hits, size_t entries, size_t bytes)
{
    atomic_fetch_add_explicit(&s_cache_rounds, 1, memory_order_relaxed);
    if (!ok)
        atomic_fetch_add_explicit(&s_cache_failed, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s_cache_reads, (unsigned long long)reads, memory_order_relaxed);
    atomic_fetch_add_explicit(&s_cache_hits, (unsigned long long)hits, memory_order_relaxed);
    atomic_store_explicit(&s_cache_entries, entries, memory_order_relaxed);
    atomic_store_explicit(&s_cache_bytes, bytes, memory_order_relaxed);
}

void wk_metrics_canary(bool leak)
{
    atomic_fetch_add_explicit(&s_canary_checks, 1, memory_order_relaxed);
    if (leak)
        atomic_fetch_add_explicit(&s_canary_leaks, 1, memory_order_relaxed);
}

void wk_metrics_password_wait(uint64_t usec)
{
    metrics_hist_observe(&s_password_wait, usec);
}

void wk_metrics_lanes(int fast_queued, int fast_busy, int slow_queued, int slow_busy)
{
    atomic_store_explicit(&s_queued[0], fast_queued, memory_order_relaxed);
    atomic_store_explicit(&s_busy[0], fast_busy, memory_order_relaxed);
    atomic_store_explicit(&s_queued[1], slow_queued, memory_order_relaxed);
    atomic_store_explicit(&s_busy[1], slow_busy, memory_order_relaxed);
}

void wk_metrics_threads(int fast, int slow)
{
    atomic_store_explicit(&s_threads[0], fast, memory_order_relaxed);
    atomic_store_explicit(&s_threads[1], slow, memory_order_relaxed);
}

void wk_metrics_heartbeat(bool stalled)
{
    atomic_store_explicit(&s_stalled, stalled, memory_order_relaxed);
    atomic_store_explicit(&s_heartbeat_ms, clock_mono_us() / 1000, memory_order_relaxed);
}

void wk_metrics_spares(long ready)
{
    atomic_store_explicit(&s_spares, ready, memory_order_relaxed);
}

/* The lanes' gauges: one family, a series per lane. */
static void s_lane_gauge(metrics_text_t *t, const char *name, const char *help,
                         atomic_int values[2])
{
    static const char *const lane[] = {"requests", "password"};
    metrics_family(t, name, "gauge", help);
    for (int l = 0; l < 2; l++)
        metrics_printf(t, "%s{shard=\"%d\",lane=\"%s\"} %d\n", name, s_shard, lane[l],
                       atomic_load_explicit(&values[l], memory_order_relaxed));
}

static void s_render_tenants(metrics_text_t *t)
{
    if (!s_top)
        return;
    topk_entry_t top[TOPK_MAX];
    uint64_t total, total_us;
    int n = topk_top(s_top, top, &total, &total_us);
    metrics_text_t usec = {0};
    metrics_family(t, "quiz_worker_tenant_requests_total", "counter",
                   "Requests of the heaviest tenants (the top K by requests, estimated), and of"
                   " all others as tenant=\"other\".");
    metrics_family(&usec, "quiz_worker_tenant_db_seconds_total", "counter",
                   "Database time of the same tenants' requests since each entered the top K.");
    uint64_t listed = 0, listed_us = 0;
    for (int i = 0; i < n; i++) {
        char id[IDENT_UUID_STR_LEN + 1];
        ident_uuid_format(top[i].tenant, id);
        metrics_printf(t, "quiz_worker_tenant_requests_total{shard=\"%d\",tenant=\"%s\"} %llu\n",
                       s_shard, id, (unsigned long long)top[i].requests);
        metrics_printf(&usec,
                       "quiz_worker_tenant_db_seconds_total{shard=\"%d\",tenant=\"%s\"} %.6f\n",
                       s_shard, id, (double)top[i].usec / 1e6);
        listed += top[i].requests;
        listed_us += top[i].usec;
    }
    metrics_printf(t, "quiz_worker_tenant_requests_total{shard=\"%d\",tenant=\"other\"} %llu\n",
                   s_shard, (unsigned long long)(total > listed ? total - listed : 0));
    metrics_printf(&usec,
                   "quiz_worker_tenant_db_seconds_total{shard=\"%d\",tenant=\"other\"} %.6f\n",
                   s_shard, (double)(total_us > listed_us ? total_us - listed_us : 0) / 1e6);
    metrics_printf(t, "%.*s", (int)usec.len, usec.buf);
    free(usec.buf);
}

char *wk_metrics_render(long long registry_epoch)
{
    metrics_text_t t = {0};
    char shard[24];
    snprintf(shard, sizeof shard, "shard=\"%d\"", s_shard);
    metrics_family(&t, "quiz_worker_requests_total", "counter",
                   "Requests handled, by operation and status.");
    for (int op = 0; op < PROTO_OP__COUNT; op++)
        for (int st = 0; st < PROTO_STATUS__COUNT; st++) {
            unsigned long long n = atomic_load_explicit(&s_requests[op][st], memory_order_relaxed);
            if (n)
                metrics_printf(&t, "quiz_worker_requests_total{%s,op=\"%s\",status=\"%s\"} %llu\n",
                               shard, proto_op_str((proto_op_t)op),
                               proto_status_str((proto_status_t)st), n);
        }
    s_lane_gauge(&t, "quiz_worker_queue_depth",
                 "Requests waiting for a database thread of their lane.", s_queued);
    s_lane_gauge(&t, "quiz_worker_busy_threads", "Database threads running a request.", s_busy);
    s_lane_gauge(&t, "quiz_worker_threads", "Database threads of each lane.", s_threads);
    metrics_family(&t, "quiz_worker_db_transaction_duration_seconds", "histogram",
                   "Database transactions, from taking the connection to giving it back.");
    metrics_hist_render(&t, "quiz_worker_db_transaction_duration_seconds", shard, &s_db_time);
    metrics_family(&t, "quiz_worker_db_connections", "gauge", "Open database connections.");
    metrics_printf(&t, "quiz_worker_db_connections{%s} %lld\n", shard,
                   (long long)atomic_load_explicit(&s_connections, memory_order_relaxed));
    metrics_family(&t, "quiz_worker_db_reconnects_total", "counter",
                   "Database connections opened again after a loss or a renewal.");
    metrics_printf(&t, "quiz_worker_db_reconnects_total{%s} %llu\n", shard,
                   atomic_load_explicit(&s_reconnects, memory_order_relaxed));
    metrics_family(&t, "quiz_worker_tenant_share_deferred_total", "counter",
                   "Times a waiting request started ahead of older ones of a tenant at its "
                   "share of the threads (--tenant-share).");
    metrics_printf(&t, "quiz_worker_tenant_share_deferred_total{%s} %llu\n", shard,
                   atomic_load_explicit(&s_share_deferred, memory_order_relaxed));
    metrics_family(&t, "quiz_worker_pool_canary_checks_total", "counter",
                   "Sessions the pool canary looked at (wk_canary.h).");
    metrics_printf(&t, "quiz_worker_pool_canary_checks_total{%s} %llu\n", shard,
                   atomic_load_explicit(&s_canary_checks, memory_order_relaxed));
    metrics_family(&t, "quiz_worker_pool_canary_leaks_total", "counter",
                   "Sessions that came with a setting left by another client: must stay 0.");
    metrics_printf(&t, "quiz_worker_pool_canary_leaks_total{%s} %llu\n", shard,
                   atomic_load_explicit(&s_canary_leaks, memory_order_relaxed));
    static const struct {
        const char *name, *type, *help;
        atomic_ullong *value;
    } cache[] = {
        {"quiz_worker_cache_rounds_total", "counter",
         "Validation rounds of the quiz cache (wk_coherence.h).", &s_cache_rounds},
        {"quiz_worker_cache_rounds_failed_total", "counter",
         "Rounds that failed: their reads went to the database.", &s_cache_failed},
        {"quiz_worker_cache_reads_total", "counter", "Quiz reads that waited for a round.",
         &s_cache_reads},
        {"quiz_worker_cache_hits_total", "counter", "Of those, answered from the cache.",
         &s_cache_hits},
        {"quiz_worker_cache_entries", "gauge", "Quizzes held, after the last round.",
         &s_cache_entries},
        {"quiz_worker_cache_bytes", "gauge", "Bytes held (--cache-mb), after the last round.",
         &s_cache_bytes},
    };
    for (size_t i = 0; i < sizeof cache / sizeof cache[0]; i++) {
        metrics_family(&t, cache[i].name, cache[i].type, cache[i].help);
        metrics_printf(&t, "%s{%s} %llu\n", cache[i].name, shard,
                       atomic_load_explicit(cache[i].value, memory_order_relaxed));
    }
    metrics_family(&t, "quiz_worker_password_wait_seconds", "histogram",
                   "Time password-hashing requests waited for their paced lane.");
    metrics_hist_render(&t, "quiz_worker_password_wait_seconds", shard, &s_password_wait);
    long spares = atomic_load_explicit(&s_spares, memory_order_relaxed);
    if (spares >= 0) {
        metrics_family(&t, "quiz_worker_spare_schemas", "gauge",
                       "Tenant schemas built ahead for this shard, as last counted.");
        metrics_printf(&t, "quiz_worker_spare_schemas{%s} %ld\n", shard, spares);
    }
    metrics_family(&t, "quiz_worker_registry_up", "gauge",
                   "Whether the registry answered this scrape.");
    metrics_printf(&t, "quiz_worker_registry_up{%s} %d\n", shard, registry_epoch >= 0);
    if (registry_epoch >= 0) {
        metrics_family(&t, "quiz_worker_placement_epoch", "gauge",
                       "The registry's placement epoch (goes up with every move or shard change).");
        metrics_printf(&t, "quiz_worker_placement_epoch{%s} %lld\n", shard, registry_epoch);
    }
    s_render_tenants(&t);
    metrics_process(&t);
    metrics_printf(&t, "%s", "");
    return t.buf;
}

/* ---- the HTTP endpoint ---- */

struct wk_metrics_server {
    struct mg_context *ctx;
    pthread_mutex_t lock; /* the registry connection, one scrape at a time */
    wk_db_t *db;
};

static long long s_epoch(wk_metrics_server_t *m)
{
    wk_tx_t tx;
    long long epoch = -1;
    pthread_mutex_lock(&m->lock);
    if (wk_tx_begin(&tx, m->db, NULL, clock_now_ms() + 1000) == 0) {
        PGresult *res = wk_tx_exec(&tx, "SELECT epoch FROM quiz.placement", 0, NULL);
        if (res && PQntuples(res) == 1)
            epoch = atoll(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    wk_tx_end(&tx);
    pthread_mutex_unlock(&m->lock);
    return epoch;
}

static int s_on_metrics(struct mg_connection *conn, void *cbdata)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (strcmp(ri->request_method, "GET") != 0) {
        mg_send_http_error(conn, 405, "only GET");
        return 405;
    }
    char *text = wk_metrics_render(s_epoch(cbdata));
    size_t len = strlen(text);
    mg_printf(conn,
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
              "Content-Length: %zu\r\nCache-Control: no-store\r\n\r\n",
              len);
    mg_write(conn, text, len);
    free(text);
    return 200;
}

/* Liveness: 200 while the serving loop turns and no database thread is stalled. */
static int s_on_healthz(struct mg_connection *conn, void *cbdata)
{
    uint64_t beat = atomic_load_explicit(&s_heartbeat_ms, memory_order_relaxed);
    bool ok = beat && clock_mono_us() / 1000 - beat < HEARTBEAT_MAX_MS &&
              !atomic_load_explicit(&s_stalled, memory_order_relaxed);
    const char *body = ok ? "{\"status\":\"ok\"}" : "{\"status\":\"stalled\"}";
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\n\r\n%s",
              ok ? 200 : 503, ok ? "OK" : "Service Unavailable", strlen(body), body);
    return ok ? 200 : 503;
}

static int s_log_message(const struct mg_connection *conn, const char *message)
{
    log_warning("metrics endpoint: %s", message);
    return 1;
}

wk_metrics_server_t *wk_metrics_serve(const char *listen, const char *dsn, const char *user)
{
    wk_metrics_server_t *m = mem_zalloc(sizeof *m);
    const char *options[] = {"listening_ports", listen, "num_threads", "2", NULL};
    struct mg_callbacks cb = {0};
    cb.log_message = s_log_message;
    m->ctx = mg_start(&cb, m, options);
    if (!m->ctx) {
        log_error("could not serve metrics on \"%s\"", listen);
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->db = wk_db_new(dsn, user, false, false);
    mg_set_request_handler(m->ctx, "/metrics$", s_on_metrics, m);
    mg_set_request_handler(m->ctx, "/healthz$", s_on_healthz, m);
    return m;
}

int wk_metrics_port(const wk_metrics_server_t *m)
{
    struct mg_server_port ports[2];
    return mg_get_server_ports(m->ctx, 2, ports) > 0 ? ports[0].port : -1;
}

void wk_metrics_stop(wk_metrics_server_t **mp)
{
    if (!mp || !*mp)
        return;
    wk_metrics_server_t *m = *mp;
    mg_stop(m->ctx);
    wk_db_destroy(&m->db);
    pthread_mutex_destroy(&m->lock);
    free(m);
    *mp = NULL;
}
