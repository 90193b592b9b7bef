/* Spare tenant schemas: built ahead of time by a background thread, so creating a tenant takes a
 * ready schema instead of waiting ~40 ms for the DDL of its tables and indexes.
 *
 * A spare's id becomes the tenant's id, so nothing is renamed: the id is drawn to hash to the
 * shard that builds it, and the spare's role and schema are already named tenant_<hex>. Until it
 * is taken, its role is granted to no shard login, so no request can reach it. A spare built
 * for another shard count or an older tenant migration is never taken; the keepers drop such
 * spares. Several workers of one shard share the work through an advisory lock. */
#ifndef WORKER_WK_SPARE_H
#define WORKER_WK_SPARE_H

#include <stdbool.h>
#include <stdint.h>

#include "worker/wk_db.h"

typedef struct wk_spares wk_spares_t;

/* Starts the keeper thread of shard `shard` of `shards` (dedicated as for shard_place), which
 * keeps `target` spares ready on a provisioning connection (dsn, user as for wk_db_new). NULL
 * when target is 0. */
wk_spares_t *wk_spares_start(const char *dsn, const char *user, int shard, int shards,
                             const bool *dedicated, int target);
/* A spare was taken: build its replacement now rather than at the next periodic check. */
void wk_spares_nudge(wk_spares_t *spares);
/* Stops the keeper (waits for a build in progress) and frees it. */
void wk_spares_stop(wk_spares_t **spares_p);

/* Inside a provisioning transaction: takes the oldest spare of this shard built at `version`
 * (the target, wk_migrate_target), which is gone once the transaction commits and back if it
 * rolls back. 1 with id set, 0 if none is ready, -1 on error (tx->status set). */
int wk_spares_take(wk_tx_t *tx, int shard, int shards, const char *version, uint8_t id[16])
    __attribute__((warn_unused_result));

#endif
