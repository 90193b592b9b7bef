/* A tenant's move between database clusters, with PostgreSQL's logical replication: its schema
 * built empty on the target, a publication of its tables on the source and a subscription on
 * the target (COPY, then streaming), then a short freeze of that tenant alone: the source
 * shard's grant revoked (its worker answers 503 "moving, retry"), in-flight transactions let
 * finish, every table compared by row count and checksum until the target has caught up,
 * sequences set, replication dropped, the target shard granted and the registry flipped. Only
 * then is the source copy dropped. Until the flip the source is authoritative: any failure
 * rolls back to it, and a mover that dies is followed by one that cleans up and starts over.
 *
 * Publication, subscription and slot are named quizmove_<32 hex of the operation id>. Both ends
 * run as the clusters' owner URLs, which must be superusers on PostgreSQL 15 (publishing
 * another role's tables, creating a subscription, a replication login for the copy); the
 * target server reaches the source with the source cluster's URL as configured. */
#ifndef WORKER_WK_TRANSFER_H
#define WORKER_WK_TRANSFER_H

#include <stdbool.h>
#include <stdint.h>

#include "worker/wk_db.h"

typedef struct {
    wk_db_t *registry;      /* provisioning on the control cluster: the operation and the flip */
    wk_db_t *source;        /* the source cluster's owner */
    wk_db_t *target;        /* the target cluster's owner */
    const char *source_dsn; /* how the target reaches the source */
    const char *op_id;      /* the operation (UUID text) */
    const char *tenant;     /* UUID text */
    int from, to;           /* shards */
    /* Renews the operation's lease; false when the mover is told to stop. */
    bool (*keep_going)(void *arg);
    void *arg;
} wk_transfer_t;

/* Runs (or, resumed, restarts) the move. NULL when done, else why it failed, after rolling back
 * to the source. */
const char *wk_transfer_run(const wk_transfer_t *t);

#endif
