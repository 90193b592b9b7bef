/* Request dispatch: one table indexed by operation names the handler, the role it requires
 * and whether it works on a tenant. Checks common to all operations (the caller's credential
 * and role, tenant present, a new tenant placed on this shard) happen here once; the deadline
 * is checked when the transaction begins (wk_tx_begin), ownership of an existing tenant when
 * it enters the tenant's role (a redirect, wk_placement). Every line logged meanwhile carries
 * the request's id, tenant and shard. */
#ifndef WORKER_WK_HANDLE_H
#define WORKER_WK_HANDLE_H

#include <stdbool.h>

#include "common/jwt.h"
#include "common/platform.h"
#include "proto/proto.h"
#include "worker/wk_cache.h"
#include "worker/wk_db.h"
#include "worker/wk_mover.h"
#include "worker/wk_spare.h"

/* What a handler may use: the calling thread's connections, keys and the worker's placement. */
typedef struct {
    wk_db_t *db;    /* serving connection (quiz_shard_<k>) */
    wk_db_t *admin; /* provisioning connection (quiz_provisioner) */
    /* The registry's connections on the control cluster: db and admin themselves when this
       shard's cluster is the control cluster, so tenant creation stays one transaction. */
    wk_db_t *registry;                /* as quiz_shard_<k>: reads */
    wk_db_t *registry_admin;          /* as quiz_provisioner: writes */
    wk_spares_t *spares;              /* ready tenant schemas of this shard (NULL: none kept) */
    wk_mover_t *mover;                /* runs queued placement operations */
    const jwt_keyring_t *ring;        /* signs access tokens, verifies the forwarded ones */
    const platform_token_t *platform; /* verifies the forwarded platform token */
    int shard;
    int shards;            /* total, dedicated ones included */
    const bool *dedicated; /* [shards]: takes no hashed tenants (NULL: none does) */
    int delete_grace_s;    /* how long a deleted tenant can be restored */
    /* The quiz cache (NULL: none). The server's cache thread handles quiz reads with
       cache_only, and no database: the round's answer about the request's tenant in checked;
       a read the cache does not hold sets missed, and goes to a database thread. */
    wk_cache_t *cache;
    bool cache_only;
    bool missed;
    const struct wk_coherence_tenant *checked;
} wk_ctx_t;

typedef void (*wk_handler_fn)(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

/* Runs the request and fills rep (zeroed by the caller; its request id is set here). */
void wk_handle_request(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

#endif
