/* A worker's own metrics, served in the Prometheus text format on its own HTTP port
 * (--metrics-listen ADDR:PORT, off by default), one scrape target per process as Prometheus
 * users expect; every series carries shard="K". Requests by operation and status; the lanes'
 * queue depth and busy threads; database transaction time, connections and reconnects; the
 * password lane's wait; spare schemas ready; the registry's placement epoch (read at each
 * scrape); per-tenant requests and database time for the top K tenants (--metrics-top, 20)
 * plus one tenant="other" series (common/topk.h); process metrics. Counting is relaxed atomics
 * and one short mutex for the tenant sketch. */
#ifndef WORKER_WK_METRICS_H
#define WORKER_WK_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

typedef struct wk_metrics_server wk_metrics_server_t;

/* Before anything is counted: this worker's shard and how many tenants to list. */
void wk_metrics_init(int shard, int top_k);
/* Frees the tenant sketch (after every thread has stopped). */
void wk_metrics_fini(void);

/* One request handled, with the database time it took (wk_metrics_thread_db_us deltas). */
void wk_metrics_request(proto_op_t op, proto_status_t status, const uint8_t *tenant,
                        uint64_t db_us);
/* One database transaction (begin to end) of the calling thread took usec. */
void wk_metrics_db_transaction(uint64_t usec);
/* Database time the calling thread's transactions have taken so far. */
uint64_t wk_metrics_thread_db_us(void);
/* A database connection opened (again: `reconnect`) or closed. */
void wk_metrics_db_opened(bool reconnect);
void wk_metrics_db_closed(void);
/* A request started ahead of older ones whose tenant held its share of the threads. */
void wk_metrics_share_deferred(void);
/* The pool canary looked at a session, which had a setting left on it (leak) or not. */
void wk_metrics_canary(bool leak);
/* A validation round of the quiz cache: whether it worked, the reads it answered and how many
 * from the cache, and what the cache holds after it. */
void wk_metrics_cache_round(bool ok, int reads, int hits, size_t entries, size_t bytes);
/* A password request waited usec for its lane. */
void wk_metrics_password_wait(uint64_t usec);
/* The lanes now (under the server's mutex): requests queued and threads busy, of each. */
void wk_metrics_lanes(int fast_queued, int fast_busy, int slow_queued, int slow_busy);
/* Threads of each lane (once). */
void wk_metrics_threads(int fast, int slow);
/* The serving loop turned, with a database thread stalled or not: /healthz is 200 while the
 * last turn is recent and found none. */
void wk_metrics_heartbeat(bool stalled);
/* Spare schemas ready for this shard, as last counted. */
void wk_metrics_spares(long ready);

/* The exposition text; registry_epoch < 0 when it could not be read. Caller frees. */
char *wk_metrics_render(long long registry_epoch);

/* Serves GET /metrics on `listen` ("ADDR:PORT"; port 0 picks one), reading the epoch on a
 * connection of its own (dsn, user) opened at the first scrape. NULL if it cannot listen. */
wk_metrics_server_t *wk_metrics_serve(const char *listen, const char *dsn, const char *user);
int wk_metrics_port(const wk_metrics_server_t *m);
void wk_metrics_stop(wk_metrics_server_t **m);

#endif
