/* The worker's serving loop: a ROUTER socket that gateways connect to, and a pool of threads,
 * each with its own PostgreSQL connection, that take requests from it and send their replies
 * on it themselves, under one mutex; a request goes to an idle thread (a stack: the most
 * recently idle first) so a slow query occupies one thread while the others keep serving.
 * READY=1 is sent once every thread has tried its connection and said it is idle: the database
 * may still be down then (requests get 503 until it answers). */
#ifndef WORKER_WK_SERVER_H
#define WORKER_WK_SERVER_H

#include <stdbool.h>

#include "common/curve.h"
#include "common/jwt.h"
#include "common/platform.h"
#include "worker/wk_cluster.h"

typedef struct {
    const char *endpoint;          /* ZeroMQ endpoint to bind, e.g. tcp://127.0.0.1:7100 */
    const wk_clusters_t *clusters; /* every cluster; 0 holds the registry */
    int cluster;                   /* the cluster of this shard's tenants */
    const char *dsn;               /* libpq connection string for serving (this shard's cluster) */
    const char *dsn_user;          /* login role for serving (NULL: the DSN's) */
    const char *provision_dsn;     /* connection string for provisioning */
    const char *provision_user;    /* login role for provisioning (NULL: the DSN's) */
    bool set_role;                 /* run tenant transactions under the tenant's role */
    const jwt_keyring_t *ring;     /* signs access tokens, and verifies those forwarded */
    const platform_token_t *platform; /* verifies the forwarded platform token */
    const curve_keypair_t *curve;     /* the frontend's CURVE server key (NULL: plaintext) */
    const char *allowed_dir;          /* *.pub keys of the gateways admitted (with curve) */
    int shard;                        /* this worker's shard */
    int shards;                       /* total shards, dedicated ones included */
    const bool *dedicated; /* [shards]: shards that take no hashed tenants (NULL: none) */
    int threads;           /* database threads (= connections) for ordinary requests */
    int tenant_share;   /* % of a lane's threads one tenant may hold while another tenant waits */
    int canary_ms;      /* how often the pool canary looks at a session (0: never) */
    int queue_max;      /* requests a lane holds waiting for a thread; beyond, "unavailable" */
    int rates_ms;       /* how often the per-tenant rates are read from the registry (0: never) */
    int slow_threads;   /* threads for requests that hash passwords (low CPU priority) */
    int password_share; /* their share of one core (%) while other requests run */
    int drain_ms;       /* how long in-flight requests may take after SIGTERM */
    int spare_schemas;  /* tenant schemas kept built ahead for this shard (0: none) */
    int tenant_budget;  /* tenants a serving connection enters before it is renewed */
    int cache_mb;       /* the quiz cache's budget in MiB (0: no cache) */
    int cache_round_us; /* the least time between the starts of two validation rounds */
    int cache_retain_s; /* how long the change log keeps a row (the same on every worker) */
    const char *metrics_listen; /* ADDR:PORT of the /metrics endpoint (NULL: none) */
    int metrics_top;            /* tenants listed by name there */
    int stall_ms;       /* a thread this long on one request stops the watchdog and /healthz */
    int delete_grace_s; /* a deleted tenant's data is kept this long for a restore */
    /* SIGHUP: re-reads what may change while serving (the access-token keys) and sets
     *password_share to the configured share; NULL: nothing reloads. */
    void (*reload)(void *arg, int *password_share);
    void *reload_arg;
} wk_server_config_t;

/* Serves until SIGTERM/SIGINT, then drains. 0 on a clean stop, -1 if it could not start. */
int wk_server_run(const wk_server_config_t *cfg);

#endif
