/* The worker's serving loop: a ROUTER socket that gateways connect to, and a pool of threads,
 * each with its own PostgreSQL connection, fed by a least-recently-used broker so a slow query
 * occupies one thread while the others keep serving. */
#ifndef WORKER_WK_SERVER_H
#define WORKER_WK_SERVER_H

typedef struct {
    const char *endpoint; /* ZeroMQ endpoint to bind, e.g. tcp://127.0.0.1:7100 */
    const char *dsn;      /* libpq connection string */
    int shard;            /* this worker's shard */
    int shards;           /* total shards */
    int threads;          /* database threads (= connections) */
    int drain_ms;         /* how long in-flight requests may take after SIGTERM */
} wk_server_config_t;

/* Serves until SIGTERM/SIGINT, then drains. 0 on a clean stop, -1 if it could not start. */
int wk_server_run(const wk_server_config_t *cfg);

#endif
