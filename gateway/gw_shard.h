/* Calls to worker shards over ZeroMQ. gw_shards_t holds one DEALER socket per shard, shared by
 * all civetweb threads (see gw_shard.c for how replies find their callers); each thread owns a
 * gw_shard_link_t, its handle for waiting on its replies. */
#ifndef GATEWAY_GW_SHARD_H
#define GATEWAY_GW_SHARD_H

#include "common/curve.h"
#include "proto/proto.h"

typedef struct gw_shards gw_shards_t;
typedef struct gw_shard_link gw_shard_link_t;

typedef enum {
    GW_CALL_OK,          /* *rep holds the worker's reply */
    GW_CALL_UNAVAILABLE, /* no worker of that shard is connected */
    GW_CALL_TIMEOUT,     /* the deadline passed without an answer */
} gw_call_t;

/* endpoints[i] is a comma-separated list of worker endpoints for shard i. With self, every
 * socket is a CURVE client with that keypair, of workers whose public key is server_key; with
 * NULL, plaintext (unsafe). Caller owns the result; NULL if nshards is out of range or the keys
 * cannot be set. */
gw_shards_t *gw_shards_new(int nshards, const char *const *endpoints, const curve_keypair_t *self,
                           const char *server_key);
void gw_shards_destroy(gw_shards_t **shards_p);
int gw_shards_count(const gw_shards_t *shards);
/* A shard's new endpoint list (reload): connects to the new ones, disconnects from the ones no
 * longer listed; calls in flight to those are answered at their deadline. */
void gw_shards_set_endpoints(gw_shards_t *shards, int shard, const char *endpoints);

/* A thread's handle for its calls. Create and use it on one thread only. */
gw_shard_link_t *gw_shard_link_new(gw_shards_t *shards);
void gw_shard_link_destroy(gw_shard_link_t **link_p);

/* Sends req to `shard` and waits for the reply carrying the same request id until
 * req->deadline_ms. Replies to earlier, abandoned requests are discarded. On GW_CALL_OK the
 * caller clears *rep. */
gw_call_t gw_shard_call(gw_shard_link_t *link, int shard, const proto_request_t *req,
                        proto_reply_t *rep);

#endif
