/* The gateway's HTTP side: civetweb set-up, the request driver (route, authenticate, build the
 * envelope, call the shard, answer), health and metrics endpoints. */
#ifndef GATEWAY_GW_HTTP_H
#define GATEWAY_GW_HTTP_H

#include <stddef.h>

#include "gateway/gw_auth.h"
#include "gateway/gw_limit.h"
#include "gateway/gw_placement.h"
#include "gateway/gw_proxy.h"
#include "gateway/gw_shard.h"

typedef struct {
    const char *listen;      /* civetweb listening_ports, e.g. "127.0.0.1:8000" */
    int threads;             /* civetweb worker threads = concurrent connections served */
    int deadline_ms;         /* per-request deadline */
    int keep_alive_ms;       /* idle keep-alive connections are closed after this */
    int password_inflight;   /* requests hashing a password in flight; beyond, 503 (0: threads/4) */
    size_t max_body;         /* request bodies above this get 413 */
    gw_shards_t *shards;     /* borrowed */
    gw_auth_t *auth;         /* borrowed */
    gw_limit_t *login_limit; /* borrowed: login attempts per client address */
    gw_limit_t *tenant_limit;  /* borrowed: requests per tenant and second */
    gw_proxy_t *proxies;       /* borrowed: load balancers whose X-Forwarded-For we believe */
    gw_placement_t *placement; /* borrowed: where tenants live, as workers said */
} gw_http_config_t;

typedef struct gw_http gw_http_t;

/* Starts serving. NULL (after logging) if the port cannot be bound. */
gw_http_t *gw_http_start(const gw_http_config_t *cfg);
/* New limits (reload): password-hashing requests in flight (0: a quarter of the threads) and
 * the largest body, from the next request on. */
void gw_http_set_limits(gw_http_t *http, int password_inflight, size_t max_body);
/* How long the oldest request in progress has been (ms; 0 with none). */
uint64_t gw_http_oldest_ms(gw_http_t *http);
/* The bound TCP port (useful with port 0). */
int gw_http_port(const gw_http_t *http);
/* Stops accepting, lets requests in progress finish, and frees. */
void gw_http_stop(gw_http_t **http_p);

#endif
